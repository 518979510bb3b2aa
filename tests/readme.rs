//! The README's finding catalogue is generated from the code catalogue, so the two cannot
//! drift: this test fails when they differ. `CERTDX_UPDATE_README=1 cargo test --test readme`
//! rewrites the README's table.

use certdx::model::Code;

fn section(code: Code) -> &'static str {
    let id = code.as_str();
    if id.starts_with("http01-") {
        "HTTP-01"
    } else if id.starts_with("dns01-") {
        "DNS-01"
    } else if id.starts_with("caa-") {
        "CAA"
    } else if id.starts_with("ratelimit-") || id.starts_with("acme-") {
        "ACME errors and rate limits"
    } else if id.starts_with("dns-")
        || id.starts_with("local-")
        || id == "check-inconclusive"
        || id == "invalid-identifier"
        || id == "wildcard-needs-dns01"
    {
        "Name and address"
    } else {
        "cert-manager's own state"
    }
}

fn catalogue() -> String {
    let mut out = String::new();
    let mut current = "";
    for &code in Code::ALL {
        let s = section(code);
        if s != current {
            out.push_str(&format!(
                "\n#### {s}\n\n| code | severity | when | advice |\n|---|---|---|---|\n"
            ));
            current = s;
        }
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.as_str(),
            code.default_severity(),
            code.meaning().replace('|', "\\|"),
            code.advice().replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn readme_catalogue_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (start, end) = ("<!-- catalogue:start -->\n", "<!-- catalogue:end -->");
    let a = readme.find(start).expect("catalogue start marker") + start.len();
    let b = readme.find(end).expect("catalogue end marker");
    let wanted = catalogue();
    if readme[a..b] != wanted {
        if std::env::var_os("CERTDX_UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{wanted}{}", &readme[..a], &readme[b..])).unwrap();
            return;
        }
        panic!(
            "README catalogue is out of date: run CERTDX_UPDATE_README=1 cargo test --test readme"
        );
    }
}

#[test]
fn every_contract_code_is_in_the_catalogue() {
    // The codes the project promised (scripts match on them): none may disappear or be renamed.
    let contract = [
        "dns-nxdomain",
        "dns-lookup-failed",
        "invalid-identifier",
        "wildcard-needs-dns01",
        "http01-no-address",
        "http01-reserved-address",
        "http01-unreachable",
        "http01-wrong-status",
        "http01-wrong-body",
        "http01-bad-redirect",
        "http01-redirect",
        "http01-address-mismatch",
        "http01-not-pointing-to-ingress",
        "http01-solver-blocked",
        "dns01-zone-not-found",
        "dns01-txt-missing",
        "dns01-txt-wrong-value",
        "dns01-ns-error",
        "dns01-ns-inconsistent",
        "dns01-cname",
        "dns01-recursive-stale",
        "caa-forbids-issuance",
        "caa-accounturi-mismatch",
        "caa-validationmethods-excludes",
        "caa-critical-unknown",
        "caa-lookup-failed",
        "caa-malformed",
        "ratelimit-duplicate-certificate",
        "ratelimit-certificates-per-domain",
        "ratelimit-failed-authorizations",
        "ratelimit-new-orders",
        "ratelimit-pending-authorizations",
        "ratelimit-new-registrations",
        "ratelimit-account-paused",
        "ratelimit-other",
        "acme-unauthorized",
        "acme-dns",
        "acme-caa",
        "acme-connection",
        "acme-rejected-identifier",
        "acme-bad-nonce",
        "acme-server-error",
        "acme-other",
        "selfcheck-http01-wrong-status",
        "selfcheck-http01-wrong-body",
        "selfcheck-http01-request-failed",
        "selfcheck-dns01-not-propagated",
        "selfcheck-dns01-ns-error",
        "selfcheck-dns01-zone-not-found",
        "solver-present-failed",
        "solver-no-match",
        "issuer-not-ready",
        "issuance-backoff",
        "order-failed-no-reason",
        "challenge-not-scheduled",
        "challenge-blocked-duplicate",
        "challenge-stuck",
    ];
    for id in contract {
        assert!(
            Code::from_id(id).is_some(),
            "{id} missing from the catalogue"
        );
    }
}

/// The README's example report is what the binary prints today, up to the first advice.
#[test]
fn readme_example_is_what_the_binary_prints() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certdx"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "report",
            "--snapshot",
            "assets/demo/estate.yaml",
            "--offline",
            "--now",
            "2026-01-15T12:00:00Z",
        ])
        .output()
        .expect("certdx runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut excerpt = String::new();
    for line in text.lines() {
        excerpt.push_str(line);
        excerpt.push('\n');
        if line.starts_with("**Advice:**") {
            break;
        }
    }
    let block = format!(
        "<!-- example:report:start -->\n```text\n{excerpt}```\n<!-- example:report:end -->"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme
        .find("<!-- example:report:start -->")
        .expect("example start marker");
    let end = readme
        .find("<!-- example:report:end -->")
        .expect("example end marker")
        + "<!-- example:report:end -->".len();
    if readme[start..end] != block {
        if std::env::var_os("CERTDX_UPDATE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], block, &readme[end..]);
            std::fs::write(path, updated).expect("write README.md");
        } else {
            panic!(
                "README example is out of date: run CERTDX_UPDATE_README=1 cargo test --test readme"
            );
        }
    }
}

/// Replaces the README's block between `<!-- NAME:start -->` and `<!-- NAME:end -->` with
/// `body` under CERTDX_UPDATE_README, else fails when they differ.
fn generated_block(name: &str, body: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (open, close) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = readme
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in README"));
    let end = readme
        .find(&close)
        .unwrap_or_else(|| panic!("no {close} in README"))
        + close.len();
    let block = format!("{open}\n{body}{close}");
    if readme[start..end] == block {
        return;
    }
    if std::env::var_os("CERTDX_UPDATE_README").is_some() {
        std::fs::write(
            path,
            format!("{}{block}{}", &readme[..start], &readme[end..]),
        )
        .expect("write README.md");
    } else {
        panic!(
            "README block {name} is out of date: run CERTDX_UPDATE_README=1 cargo test --test readme"
        );
    }
}

/// The README's key table is the view's own key list.
#[test]
fn readme_keys_are_the_views_keys() {
    use certdx::tui::keys::{BINDINGS, COMPARED, MODAL_HELP};
    let mut body = String::from("| where | key | what it does |\n|---|---|---|\n");
    for b in BINDINGS {
        body.push_str(&format!(
            "| {} | `{}` | {} |\n",
            b.context.title(),
            b.label.replace('|', "\\|"),
            b.help
        ));
    }
    for (place, help) in MODAL_HELP {
        body.push_str(&format!("| {place} | | {} |\n", help.replace('|', "\\|")));
    }
    // The help's comparison with k9s and lazygit, its continuation lines joined.
    body.push_str("\nKeys compared with k9s and lazygit:\n\n");
    let mut items: Vec<(String, String)> = Vec::new();
    for (key, why) in COMPARED {
        match items.last_mut() {
            Some((_, text)) if key.is_empty() => {
                text.push(' ');
                text.push_str(why);
            }
            _ => items.push(((*key).to_owned(), (*why).to_owned())),
        }
    }
    for (key, why) in items {
        body.push_str(&format!("- `{key}` {why}\n"));
    }
    generated_block("keys", &body);
}

/// The README's screenshots are the render tests' snapshots of the demo.
#[test]
fn readme_screenshots_are_the_render_snapshots() {
    let mut body = String::new();
    for snap in ["overview_80x24", "chain_80x24"] {
        let path = format!(
            "{}/tests/snapshots/tui_render__{snap}.snap",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("snapshot");
        let screen = text.splitn(3, "---\n").nth(2).expect("insta header");
        body.push_str("```text\n");
        let mut blank = false;
        for line in screen.lines() {
            let line = line
                .trim_start_matches('"')
                .trim_end_matches('"')
                .trim_end();
            // Runs of empty rows fold into one: the README shows the content.
            if line.is_empty() && blank {
                continue;
            }
            blank = line.is_empty();
            body.push_str(line);
            body.push('\n');
        }
        body.push_str("```\n");
    }
    generated_block("screens", &body);
}
