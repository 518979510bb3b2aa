//! `certdx report` on the fixtures: the right root cause for every failure class, exit codes,
//! and the three formats.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const NOW: &str = "2026-01-15T12:00:00Z";

/// Runs certdx; `report` runs offline (these fixtures' names are not on loopback, and tests
/// contact nothing else).
fn certdx(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.args(args);
    if args.first() == Some(&"report") {
        cmd.arg("--offline");
    }
    cmd.output().expect("certdx runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn report_json(name: &str) -> (Value, i32) {
    let out = certdx(&[
        "report",
        "--snapshot",
        &fixture(name),
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{name}: not one JSON document ({e}): {stdout}"));
    (v, out.status.code().expect("exit code"))
}

/// The root cause code of the diagnosis of `kind ns/name`.
fn root_cause(report: &Value, kind: &str, ns: &str, name: &str) -> Option<String> {
    let d = report["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["subject"]["kind"] == kind
                && d["subject"]["namespace"] == ns
                && d["subject"]["name"] == name
        })
        .unwrap_or_else(|| panic!("no diagnosis for {kind} {ns}/{name} in {report:#}"));
    d["root_cause"]["code"].as_str().map(str::to_owned)
}

#[test]
fn every_failure_class_names_its_root_cause() {
    let cases = [
        (
            "selfcheck-http01-wrong-status.yaml",
            "shop",
            "shop",
            "selfcheck-http01-wrong-status",
        ),
        (
            "selfcheck-http01-wrong-body.yaml",
            "news",
            "news",
            "selfcheck-http01-wrong-body",
        ),
        (
            "selfcheck-http01-request-failed.yaml",
            "intra",
            "intra",
            "selfcheck-http01-request-failed",
        ),
        (
            "selfcheck-dns01-not-propagated.yaml",
            "data",
            "data",
            "selfcheck-dns01-not-propagated",
        ),
        (
            "selfcheck-dns01-ns-error.yaml",
            "edge",
            "edge",
            "selfcheck-dns01-ns-error",
        ),
        (
            "selfcheck-dns01-zone-not-found.yaml",
            "lab",
            "lab",
            "selfcheck-dns01-zone-not-found",
        ),
        (
            "solver-present-failed.yaml",
            "pay",
            "pay",
            "solver-present-failed",
        ),
        ("solver-no-match.yaml", "docs", "docs", "solver-no-match"),
        (
            "issuer-not-ready.yaml",
            "billing",
            "billing",
            "issuer-not-ready",
        ),
        (
            "order-failed-no-reason.yaml",
            "ops",
            "ops",
            "order-failed-no-reason",
        ),
        (
            "challenge-not-scheduled.yaml",
            "late",
            "late",
            "challenge-not-scheduled",
        ),
        (
            "challenge-blocked-duplicate.yaml",
            "dup2",
            "app-b",
            "challenge-blocked-duplicate",
        ),
        (
            "challenge-blocked-duplicate.yaml",
            "dup",
            "app-a",
            "selfcheck-http01-wrong-status",
        ),
        (
            "challenge-stuck.yaml",
            "legacy",
            "legacy",
            "challenge-stuck",
        ),
        (
            "rate-limited.yaml",
            "rl-dup",
            "rl-dup",
            "ratelimit-duplicate-certificate",
        ),
        (
            "rate-limited.yaml",
            "rl-auth",
            "rl-auth",
            "ratelimit-failed-authorizations",
        ),
        (
            "rate-limited.yaml",
            "rl-orders",
            "rl-orders",
            "ratelimit-new-orders",
        ),
        (
            "rate-limited.yaml",
            "rl-domain",
            "rl-domain",
            "ratelimit-certificates-per-domain",
        ),
        // Revision 1's old rate limit is history: today's cause is revision 3's 401.
        (
            "revisions.yaml",
            "mail",
            "mail",
            "selfcheck-http01-wrong-status",
        ),
        ("issuance-backoff.yaml", "crm", "crm", "acme-server-error"),
    ];
    for (file, ns, name, code) in cases {
        let (report, exit) = report_json(file);
        assert_eq!(exit, 1, "{file}: problems found must exit 1");
        assert_eq!(
            root_cause(&report, "Certificate", ns, name).as_deref(),
            Some(code),
            "{file}: {ns}/{name}"
        );
    }
}

#[test]
fn healthy_estate_reports_nothing_and_exits_zero() {
    let (report, exit) = report_json("healthy.yaml");
    assert_eq!(exit, 0);
    assert_eq!(report["summary"]["certificates"], 1);
    assert_eq!(report["summary"]["ready"], 1);
    assert_eq!(report["diagnoses"].as_array().unwrap().len(), 0);
}

#[test]
fn json_document_is_versioned_and_carries_finding_fields() {
    let (report, _) = report_json("rate-limited.yaml");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["generated_at"], NOW);
    let d = report["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subject"]["name"] == "rl-auth")
        .unwrap();
    let f = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "ratelimit-failed-authorizations")
        .unwrap();
    for field in [
        "code", "severity", "summary", "detail", "advice", "evidence",
    ] {
        assert!(f.get(field).is_some(), "finding lacks {field}: {f:#}");
    }
    assert_eq!(f["severity"], "fatal");
    assert_eq!(f["identifier"], "auth.example.com");
    assert_eq!(f["retry_after"], "2026-01-15T12:41:09Z");
    assert_eq!(d["root_cause"]["retry_after"], "2026-01-15T12:41:09Z");
    // The same error copied up the chain is one finding with the Order as its subject.
    let copies = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "ratelimit-failed-authorizations")
        .count();
    assert_eq!(copies, 1);
    // One shape for every subject (schema 2): an object, as the diagnosis's own.
    assert_eq!(f["subject"]["kind"], "Order", "{f:#}");
    assert_eq!(f["subject"]["namespace"], "rl-auth", "{f:#}");
    assert_eq!(
        d["subject"]
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>()),
        f["subject"]
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
    );
    assert!(
        f["evidence"].as_array().unwrap().len() >= 3,
        "Order reason, request condition and certificate condition"
    );
    // cert-manager's own backoff is reported with its retry time: 1 failure at 11:50:02 -> 1h.
    let backoff = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "issuance-backoff")
        .unwrap();
    assert_eq!(backoff["retry_after"], "2026-01-15T12:50:02Z");
}

#[test]
fn chain_orders_revisions_newest_first_and_folds_history() {
    let (report, _) = report_json("revisions.yaml");
    let d = &report["diagnoses"][0];
    let reqs = d["chain"]["children"].as_array().unwrap();
    let names: Vec<_> = reqs
        .iter()
        .map(|r| r["object"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mail-3", "mail-2", "mail-1"]);
    assert_eq!(reqs[0]["revision"], 3);
    assert!(reqs[0].get("history").is_none());
    assert_eq!(reqs[1]["history"], true);
    // Current revision: request -> order -> challenge.
    assert_eq!(reqs[0]["children"][0]["object"]["kind"], "Order");
    assert_eq!(
        reqs[0]["children"][0]["children"][0]["object"]["kind"],
        "Challenge"
    );
    // The history's failed order is in the chain but its rate limit is not a finding.
    assert_eq!(reqs[2]["children"][0]["status"]["state"], "failed");
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["code"].as_str().unwrap().starts_with("ratelimit-"))
    );
}

#[test]
fn orphans_are_kept_and_diagnosed() {
    let (report, exit) = report_json("orphans.yaml");
    assert_eq!(exit, 1);
    assert_eq!(report["summary"]["orphans"], 3);
    assert_eq!(
        root_cause(&report, "Challenge", "orphans", "stray-1-123-456").as_deref(),
        Some("selfcheck-http01-wrong-status")
    );
    assert_eq!(
        root_cause(&report, "CertificateRequest", "orphans", "gone-cert-3").as_deref(),
        Some("order-failed-no-reason")
    );
    assert_eq!(root_cause(&report, "Order", "orphans", "lost-1-123"), None);
}

#[test]
fn namespace_flag_limits_the_report() {
    let out = certdx(&[
        "report",
        "--snapshot",
        &fixture("rate-limited.yaml"),
        "--now",
        NOW,
        "--format",
        "json",
        "-n",
        "rl-dup",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["certificates"], 1);
    assert_eq!(v["diagnoses"][0]["subject"]["namespace"], "rl-dup");
}

#[test]
fn markdown_and_html_carry_the_root_cause() {
    let md = certdx(&[
        "report",
        "--snapshot",
        &fixture("rate-limited.yaml"),
        "--now",
        NOW,
    ]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("# certdx report"));
    assert!(
        md.contains("**Root cause** (`ratelimit-duplicate-certificate`, fatal)"),
        "{md}"
    );
    assert!(md.contains("**Retry after:** 2026-01-17T09:14:02Z"));

    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.html");
    let out = certdx(&[
        "report",
        "--snapshot",
        &fixture("selfcheck-http01-wrong-body.yaml"),
        "--now",
        NOW,
        "--format",
        "html",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "with -o nothing goes to stdout");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));
    let html = std::fs::read_to_string(&out_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("selfcheck-http01-wrong-body"));
    // Self-contained: no scripts, no external resources; cluster text is escaped.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("href=\"http"));
    assert!(
        html.contains("&lt;!DOCTYPE html&gt;&lt;html&gt;"),
        "the site's HTML from the message must be escaped"
    );
}

#[test]
fn reports_never_contain_private_keys_or_secret_data() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.yaml");
    let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKsecretsecretsecretsecretsecretsecret\n-----END EC PRIVATE KEY-----";
    let text = format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: leak-tls, namespace: leak}}
type: kubernetes.io/tls
data: {{tls.key: c2VjcmV0LWtleS1ieXRlcw==, tls.crt: Y2VydA==}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: leak, namespace: leak}}
spec: {{secretName: leak-tls, dnsNames: [leak.example.com], issuerRef: {{name: x, kind: ClusterIssuer}}}}
status:
  conditions:
  - type: Ready
    status: "False"
    reason: Failed
    message: {message}
"#,
        message = serde_json::to_string(&format!(
            "failed to decode private key: {key} eab hmac_key: c2VjcmV0aG1hY2tleQ"
        ))
        .unwrap()
    );
    std::fs::write(&dump, text).unwrap();
    for format in ["markdown", "json", "html"] {
        let out = certdx(&[
            "report",
            "--snapshot",
            dump.to_str().unwrap(),
            "--now",
            NOW,
            "--format",
            format,
        ]);
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains("leak"), "{format}: the certificate is reported");
        for secret in [
            "secretsecret",
            "c2VjcmV0LWtleS1ieXRlcw",
            "c2VjcmV0aG1hY2tleQ",
            "BEGIN EC PRIVATE KEY",
        ] {
            assert!(!s.contains(secret), "{format} leaks {secret}:\n{s}");
        }
    }
}

#[test]
fn demo_offline_names_cert_managers_own_reasons() {
    let out = certdx(&["demo", "--offline"]);
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8(out.stdout).unwrap();
    for code in [
        "ratelimit-duplicate-certificate",
        "acme-caa",
        "selfcheck-http01-wrong-status",
        "selfcheck-http01-request-failed",
        "challenge-stuck",
    ] {
        assert!(
            md.contains(&format!("**Root cause** (`{code}`")),
            "demo lacks {code}:\n{md}"
        );
    }
    assert!(
        !md.contains("www-blog"),
        "the healthy certificate is not reported"
    );
}

#[test]
fn demo_runs_every_check_for_real_and_finds_every_planted_failure() {
    // The demo starts its own DNS and HTTP servers on loopback high ports.
    let out = certdx(&["demo", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let planted = [
        (
            "internal",
            "legacy-portal",
            "ratelimit-duplicate-certificate",
        ),
        ("marketing", "promo", "caa-forbids-issuance"),
        ("api", "api-gateway", "dns01-txt-missing"),
        ("blog", "blog-tls", "http01-bad-redirect"),
        ("shop", "www-shop", "http01-wrong-status"),
    ];
    for (ns, name, code) in planted {
        assert_eq!(
            root_cause(&v, "Certificate", ns, name).as_deref(),
            Some(code),
            "{ns}/{name}"
        );
    }
    let api = v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subject"]["name"] == "api-gateway")
        .unwrap();
    assert!(
        api["root_cause"]["summary"]
            .as_str()
            .unwrap()
            .contains("ns2.example.net"),
        "{api:#}"
    );
}

/// A rate limit whose window has passed still explains the failure: the root cause keeps
/// its code, says when it expired and when cert-manager retries by itself (its backoff from
/// the Certificate's last failure), and advises the renew that retries now.
#[test]
fn an_expired_rate_limit_still_explains_the_failure() {
    let run = |now: &str| {
        let out = certdx(&[
            "report",
            "--snapshot",
            &fixture("rate-limited.yaml"),
            "--now",
            now,
            "--format",
            "json",
        ]);
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        let d = v["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["subject"]["name"] == "rl-auth")
            .expect("rl-auth")
            .clone();
        d["root_cause"].clone()
    };
    // Window 1h to 12:41:09; cert-manager's backoff after the failure at 11:50:02 ends at 12:50:02.
    let rc = run("2026-01-15T12:45:00Z");
    assert_eq!(rc["code"], "ratelimit-failed-authorizations", "{rc:#}");
    assert_eq!(
        rc["severity"], "error",
        "no longer fatal, still the cause: {rc:#}"
    );
    let summary = rc["summary"].as_str().unwrap();
    assert!(
        summary.contains("expired at 2026-01-15T12:41:09Z"),
        "{summary}"
    );
    assert!(
        summary.contains("cert-manager retries at 2026-01-15T12:50:02Z"),
        "{summary}"
    );
    let advice = rc["advice"].as_str().unwrap();
    assert!(
        advice.contains("certdx renew rl-auth -n rl-auth"),
        "{advice}"
    );

    let rc = run("2026-01-15T14:00:00Z");
    assert_eq!(rc["code"], "ratelimit-failed-authorizations", "{rc:#}");
    let summary = rc["summary"].as_str().unwrap();
    assert!(summary.contains("backoff has ended"), "{summary}");

    // Before the window ends nothing changes: the limit blocks, with its own time.
    let rc = run("2026-01-15T12:00:00Z");
    assert!(
        !rc["summary"].as_str().unwrap().contains("expired"),
        "{rc:#}"
    );
    assert_eq!(rc["retry_after"], "2026-01-15T12:41:09Z");
}

/// A namespace that holds nothing in the dump is an error naming the ones that do (and the
/// closest one), not an all-clear with exit 0.
#[test]
fn an_unknown_namespace_is_an_error_naming_the_real_ones() {
    for format in ["markdown", "json"] {
        let out = certdx(&[
            "report",
            "--snapshot",
            &fixture("rate-limited.yaml"),
            "-n",
            "rl-dpu",
            "--format",
            format,
        ]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("namespace \"rl-dpu\" holds no cert-manager objects"),
            "{err}"
        );
        assert!(
            err.contains("rl-auth, rl-domain, rl-dup, rl-orders"),
            "{err}"
        );
        assert!(err.contains("did you mean \"rl-dup\""), "{err}");
    }
    // A namespace that exists still works.
    let out = certdx(&[
        "report",
        "--snapshot",
        &fixture("rate-limited.yaml"),
        "-n",
        "rl-dup",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// An old dump is read at its own time by default (its newest timestamp), said in the
/// header; `--now current` reads it at the clock; plain dates and times are accepted.
#[test]
fn an_old_snapshot_is_read_at_its_own_time() {
    let json = |extra: &[&str]| {
        let mut args = vec!["report", "--snapshot", "", "--format", "json"];
        let path = fixture("rate-limited.yaml");
        args[2] = &path;
        args.extend_from_slice(extra);
        let out = certdx(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let v = json(&[]);
    // The newest instant the fixture records: the Certificates' lastFailureTime.
    assert_eq!(v["generated_at"], "2026-01-15T11:50:02Z");
    assert!(
        v["clock"].as_str().unwrap().contains("newest timestamp"),
        "{v:#}"
    );
    // Read at its own time, the rate limits still block: none is "expired".
    let summaries = v["diagnoses"].to_string();
    assert!(!summaries.contains("expired at"), "{summaries}");

    let v = json(&["--now", "current"]);
    assert!(v["clock"].is_null());
    assert!(v["generated_at"].as_str().unwrap() > "2026-06-01");

    let v = json(&["--now", "2026-01-16"]);
    assert_eq!(v["generated_at"], "2026-01-16T00:00:00Z");
    assert_eq!(v["clock"], "--now");
    let v = json(&["--now", "2026-01-15 12:30"]);
    assert_eq!(v["generated_at"], "2026-01-15T12:30:00Z");

    let out = certdx(&[
        "report",
        "--snapshot",
        &fixture("rate-limited.yaml"),
        "--now",
        "tomorrow",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a time"));

    let md = certdx(&["report", "--snapshot", &fixture("rate-limited.yaml")]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("read at 2026-01-15T11:50:02Z (the snapshot's newest timestamp"),
        "{md}"
    );
}

/// kubectl habits: `-o json|yaml|html|markdown` is a format, `-o FILE` a file, and
/// `--output-file` a file whatever its name.
#[test]
fn dash_o_takes_a_format_or_a_file() {
    let snap = fixture("rate-limited.yaml");
    let out = certdx(&["report", "--snapshot", &snap, "-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("-o json is JSON");
    assert_eq!(v["schema_version"], 2);
    let out = certdx(&["report", "--snapshot", &snap, "-o", "yaml"]);
    let y: Value = serde_norway::from_slice(&out.stdout).expect("-o yaml is YAML");
    assert_eq!(y["diagnoses"], v["diagnoses"]);
    let out = certdx(&["report", "--snapshot", &snap, "-o", "html"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<!DOCTYPE html>"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.md");
    let out = certdx(&["report", "--snapshot", &snap, "-o", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("# certdx report")
    );
    let named_json = dir.path().join("json");
    let out = certdx(&[
        "report",
        "--snapshot",
        &snap,
        "--format",
        "json",
        "--output-file",
        named_json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&named_json).unwrap()).unwrap();
    assert_eq!(v["schema_version"], 2);

    let out = certdx(&[
        "report",
        "--snapshot",
        &snap,
        "--format",
        "html",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("disagree"));

    let out = certdx(&[
        "explain",
        "-o",
        "json",
        "urn:ietf:params:acme:error:badNonce",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("explain -o json");
    assert_eq!(v["findings"][0]["code"], "acme-bad-nonce");
}

/// Shared flags a command would ignore are refused by name, and a command asked for JSON
/// that fails prints a JSON error document on stdout as well as the message on stderr.
#[test]
fn meaningless_flags_are_refused_and_json_errors_are_json() {
    for args in [
        &["explain", "--snapshot", "x.yaml", "hello"][..],
        &["demo", "--kubeconfig", "/nonexistent", "--print"],
        &["check", "--now", "current", "www.example.com"],
        &[
            "issue",
            "--now",
            "current",
            "--directory",
            "https://127.0.0.1:9/d",
            "--domain",
            "a.test",
            "--http01-listen",
            "127.0.0.1:1",
        ],
    ] {
        let out = certdx(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("means nothing to `certdx"), "{args:?}: {err}");
    }
    let out = certdx(&[
        "report",
        "--snapshot",
        "/nonexistent/dump.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON error document");
    assert_eq!(v["error"]["exit_code"], 2);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/dump.yaml"),
        "{v:#}"
    );
    let out = certdx(&["explain", "--format", "json", ""]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON error document");
    assert!(v["error"]["message"].is_string(), "{v:#}");
}

/// Reports start with the answer: a table of every diagnosis with its root cause and the next
/// command, names filled in, before any detail; pasted names keep their underscores and `#`.
#[test]
fn reports_open_with_the_answer_and_the_next_command() {
    let md = certdx(&[
        "report",
        "--snapshot",
        &fixture("rate-limited.yaml"),
        "--now",
        "2026-01-15T12:00:00Z",
    ]);
    let md = String::from_utf8_lossy(&md.stdout).into_owned();
    let table = md
        .find("| Object | State | Root cause | Retry after | Next |")
        .expect("answer table");
    let first_detail = md.find("\n## ").expect("details");
    assert!(table < first_detail, "the table comes first");
    let row = md
        .lines()
        .find(|l| l.starts_with("| Certificate rl-auth/rl-auth |"))
        .expect("a row per Certificate");
    assert!(row.contains("`ratelimit-failed-authorizations`"), "{row}");
    assert!(row.contains("2026-01-15T12:41:09Z"), "{row}");
    assert!(
        row.contains("`after 2026-01-15T12:41:09Z: certdx renew rl-auth -n rl-auth`"),
        "{row}"
    );
    assert!(
        !md.contains("\\_") && !md.contains("\\#"),
        "escaping artefacts"
    );
    assert!(
        md.contains("**Next:** `after 2026-01-15T12:41:09Z: certdx renew rl-auth -n rl-auth`"),
        "the root cause's next command"
    );
    let (v, _) = report_json("selfcheck-http01-wrong-status.yaml");
    let next = v["diagnoses"][0]["root_cause"]["next"].as_str().unwrap();
    assert!(next.starts_with("certdx check shop/"), "{next}");

    let html = certdx(&[
        "report",
        "--snapshot",
        &fixture("selfcheck-http01-wrong-status.yaml"),
        "--now",
        "2026-01-15T12:00:00Z",
        "-o",
        "html",
    ]);
    let html = String::from_utf8_lossy(&html.stdout).into_owned();
    let table = html.find("<th>Next</th>").expect("answer table");
    let details = html.find("<details><summary>Chain").expect("folded chain");
    assert!(table < details);
    assert!(
        html.contains("<code>certdx check shop/"),
        "next command names the Challenge"
    );
}

/// `check` on a pasted object name that matches nothing, or several things, says what exists
/// and exits 2 before any network check.
#[test]
fn check_names_what_a_pasted_object_name_could_mean() {
    let snap = fixture("rate-limited.yaml");
    let out = certdx(&["check", "--snapshot", &snap, "rl-dupp"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Challenge or Certificate named \"rl-dupp\""),
        "{err}"
    );
    assert!(err.contains("did you mean \"rl-dup\""), "{err}");
    let out = certdx(&[
        "check",
        "--snapshot",
        &snap,
        "certificate/rl-dup",
        "-n",
        "elsewhere",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Certificate named \"rl-dup\" in namespace elsewhere"),
        "{err}"
    );
}

/// JSON that is pleasant with jq: documented arrays are always there (empty, not missing), and
/// every subject has the same kind/namespace/name shape.
#[test]
fn json_arrays_are_always_present() {
    let (v, _) = report_json("orphans.yaml");
    assert!(v["load_problems"].is_array(), "{v:#}");
    fn walk(node: &Value) {
        assert!(
            node["facts"].is_array() && node["children"].is_array(),
            "{node:#}"
        );
        assert!(node["object"]["kind"].is_string() && node["object"]["name"].is_string());
        node["children"].as_array().unwrap().iter().for_each(walk);
    }
    for d in v["diagnoses"].as_array().unwrap() {
        assert!(
            d["dns_names"].is_array() && d["findings"].is_array(),
            "{d:#}"
        );
        assert!(d["subject"]["kind"].is_string() && d["subject"]["name"].is_string());
        walk(&d["chain"]);
    }
}

/// The error cert-manager copies up the chain is quoted once per chain: the other copies are
/// named ("also quoted by"), and a chain line that quotes a line below says so.
#[test]
fn a_message_copied_up_the_chain_is_quoted_once() {
    let out = certdx(&["report", "--snapshot", &fixture("rate-limited.yaml")]);
    let md = String::from_utf8_lossy(&out.stdout);
    let copies = md
        .matches("too many failed authorizations (5) for \"auth.example.com\" in the last")
        .count();
    // Once in the chain (the Order's line), once as evidence, once in the finding's detail.
    assert!(copies <= 3, "quoted {copies} times:\n{md}");
    assert!(md.contains("- Also quoted by Order rl-auth/rl-auth-1-9945470834 status.reason"));
    assert!(md.contains("… (quoting Order rl-auth/rl-auth-1-9945470834, below)"));
}

/// A Ready Certificate nobody renews, one running out, one expired, one cert-manager never
/// touched and one whose edit it never acted on: each has a root cause with its severity; the
/// healthy one has none.
#[test]
fn silent_failures_are_named_on_ready_certificates() {
    let (v, code) = report_json("silent-failures.yaml");
    assert_eq!(code, 1);
    let root = |name: &str| -> (String, String, String) {
        let d = v["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["subject"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the report: {v:#}"));
        let rc = &d["root_cause"];
        (
            rc["code"].as_str().unwrap_or("-").to_owned(),
            rc["severity"].as_str().unwrap_or("-").to_owned(),
            rc["summary"].as_str().unwrap_or("-").to_owned(),
        )
    };
    let (code, sev, summary) = root("overdue");
    assert_eq!(
        (code.as_str(), sev.as_str()),
        ("renewal-overdue", "warning"),
        "{summary}"
    );
    assert!(
        summary.contains("2026-01-13T00:00:00Z") && summary.contains("expires at 2026-02-13"),
        "{summary}"
    );
    let (code, sev, _) = root("last-days");
    assert_eq!((code.as_str(), sev.as_str()), ("renewal-overdue", "error"));
    let (code, sev, summary) = root("expired");
    assert_eq!(
        (code.as_str(), sev.as_str()),
        ("certificate-expiring", "fatal"),
        "{summary}"
    );
    assert!(
        summary.contains("expired at 2026-01-14T00:00:00Z"),
        "{summary}"
    );
    assert_eq!(root("untouched").0, "not-reconciled");
    let (code, _, summary) = root("edited");
    assert_eq!(code, "not-reconciled");
    assert!(
        summary.contains("generation 2") && summary.contains("at 3"),
        "{summary}"
    );
    assert!(
        v["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["subject"]["name"] != "fine"),
        "the healthy Certificate needs no attention"
    );
}

/// `--fail-on` narrows exit 1 to one class, for a cron job: a dump with only rate limits does
/// not fail `--fail-on expiring`; the silent failures do.
#[test]
fn fail_on_narrows_the_exit_code() {
    let run = |fixture_name: &str, class: &str| {
        certdx(&[
            "report",
            "--snapshot",
            &fixture(fixture_name),
            "--now",
            NOW,
            "--fail-on",
            class,
        ])
        .status
        .code()
    };
    assert_eq!(run("rate-limited.yaml", "any"), Some(1));
    assert_eq!(run("rate-limited.yaml", "expiring"), Some(0));
    assert_eq!(run("rate-limited.yaml", "overdue"), Some(0));
    assert_eq!(run("silent-failures.yaml", "expiring"), Some(1));
    assert_eq!(run("silent-failures.yaml", "overdue"), Some(1));
    assert_eq!(run("healthy.yaml", "any"), Some(0));
}

/// A dump whose file is much newer than anything in it says so next to the instant it is read
/// at: a cluster where nothing moved for days would otherwise look fresh.
#[test]
fn a_dump_newer_than_its_timestamps_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.yaml");
    std::fs::copy(fixture("rate-limited.yaml"), &path).unwrap();
    let clock = |written: &str| {
        let at: jiff::Timestamp = written.parse().unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::from(at)).unwrap();
        drop(file);
        let out = certdx(&["report", "--snapshot", path.to_str().unwrap(), "-o", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["clock"].as_str().unwrap().to_owned()
    };
    let fresh = clock("2026-01-15T13:00:00Z");
    assert!(!fresh.contains("newer"), "{fresh}");
    let stale = clock("2026-03-01T00:00:00Z");
    assert!(stale.contains("the file is 44d12h newer"), "{stale}");
    assert!(stale.contains("--now current"), "{stale}");
}
