//! Markdown: reads well pasted into a ticket or a chat.

use std::fmt::Write;

use super::Report;
use crate::diagnose::{ChainNode, Diagnosis};
use crate::model::{Evidence, Finding, State};

/// Renders the report as Markdown.
pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# certdx report\n");
    let _ = writeln!(
        s,
        "Source: `{}` · read at {}{} · by {}\n",
        code_span(&r.source),
        r.generated_at,
        r.clock
            .as_deref()
            .map(|c| format!(" ({})", inline(c)))
            .unwrap_or_default(),
        r.generator
    );
    if let Some(from) = &r.checked_from {
        let _ = writeln!(s, "Live checks: {}.\n", inline(from));
    }
    let m = &r.summary;
    let attention = r
        .diagnoses
        .iter()
        .filter(|d| d.subject.kind == crate::model::Kind::Certificate)
        .count();
    let _ = writeln!(
        s,
        "**{attention} of {} Certificates need attention**: {} failed, {} in progress, {} unknown, {} ready; {} orphan objects; {} errors, {} warnings.\n",
        m.certificates,
        m.failed,
        m.in_progress,
        m.unknown,
        m.ready,
        m.orphans,
        m.errors,
        m.warnings
    );
    if let Some(h) = &r.cert_manager {
        cert_manager(&mut s, h);
    }
    if !r.load_problems.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>{} documents could not be loaded</summary>\n",
            r.load_problems.len()
        );
        for p in &r.load_problems {
            let _ = writeln!(s, "- {}", inline(p));
        }
        let _ = writeln!(s, "\n</details>\n");
    }
    if let Some(groups) = &r.readiness {
        readiness(&mut s, groups);
        return s;
    }
    if r.diagnoses.is_empty() {
        let _ = writeln!(s, "Nothing needs attention.");
    } else {
        answer_table(&mut s, r);
    }
    for d in &r.diagnoses {
        diagnosis(&mut s, d);
    }
    s
}

/// `report --readiness`: one section per change to make, each finding a line naming its
/// object and when the change takes effect.
fn readiness(s: &mut String, groups: &[super::ReadinessGroup]) {
    let _ = writeln!(
        s,
        "## Readiness for the 2025-2028 CA changes
"
    );
    if groups.is_empty() {
        let _ = writeln!(
            s,
            "No Certificate is affected by the CA changes certdx knows."
        );
        return;
    }
    for g in groups {
        let _ = writeln!(
            s,
            "### `{}` ({} finding{})

{}
",
            g.code,
            g.findings.len(),
            if g.findings.len() == 1 { "" } else { "s" },
            advice(&g.change)
        );
        for f in &g.findings {
            let _ = writeln!(s, "- **{}** {}", f.severity, inline(&f.summary));
            for e in &f.evidence {
                if let Evidence::Fact { subject, detail } = e {
                    let what = if subject.ends_with(" profile") {
                        "profile"
                    } else {
                        subject.as_str()
                    };
                    let _ = writeln!(s, "  - {}: {}", inline(what), inline(detail));
                }
            }
        }
        let _ = writeln!(s);
    }
}

/// cert-manager's own health, said once: the verdict, its other problems, what was not read.
fn cert_manager(s: &mut String, h: &crate::diagnose::cm_health::CertManagerHealth) {
    let strong = if h.headline().is_some() { "**" } else { "" };
    let _ = writeln!(s, "{strong}{}{strong}\n", inline(&h.verdict()));
    for f in h.findings.iter().skip(1) {
        let _ = writeln!(s, "- `{}` ({}) {}", f.code, f.severity, inline(&f.summary));
    }
    if h.findings.len() > 1 {
        let _ = writeln!(s);
    }
    if !h.notes.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>cert-manager: {} things not checked</summary>\n",
            h.notes.len()
        );
        for n in &h.notes {
            let _ = writeln!(s, "- {}", inline(n));
        }
        let _ = writeln!(s, "\n</details>\n");
    }
}

/// The answer first: one row per diagnosis with its root cause and the command to run next;
/// the details follow.
fn answer_table(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "| Object | State | Root cause | Retry after | Next |\n|---|---|---|---|---|"
    );
    for row in super::next::answer_rows(r) {
        let cause = row
            .cause
            .map(|(code, summary)| format!("`{code}` {}", cell(&short(summary, 120))))
            .unwrap_or_default();
        let next = row
            .next
            .map(|c| format!("`{}`", code_span(c)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {cause} | {} | {next} |",
            cell(&row.subject),
            row.state,
            row.retry
        );
    }
    let _ = writeln!(s);
}

/// The first `max` characters of `t`, with an ellipsis when cut.
fn short(t: &str, max: usize) -> String {
    if t.chars().count() <= max {
        return t.to_owned();
    }
    let cut: String = t.chars().take(max).collect();
    format!("{cut}…")
}

fn diagnosis(s: &mut String, d: &Diagnosis) {
    let _ = writeln!(
        s,
        "## {} {} ({})\n",
        icon(d.status.state),
        inline(&d.subject.to_string()),
        d.status.state
    );
    if let Some(rc) = &d.root_cause {
        let _ = writeln!(
            s,
            "**Root cause** (`{}`, {}): {}\n",
            rc.code,
            rc.severity,
            inline(&rc.summary)
        );
        let _ = writeln!(s, "**Advice:** {}\n", advice(&rc.advice));
        if let Some(next) = &rc.next {
            let _ = writeln!(s, "**Next:** `{}`\n", code_span(next));
        }
        if let Some(t) = rc.retry_after {
            let _ = writeln!(s, "**Retry after:** {t}\n");
        }
    }
    let mut facts = Vec::new();
    if !d.dns_names.is_empty() {
        facts.push(format!(
            "Names: {}",
            d.dns_names
                .iter()
                .map(|n| format!("`{}`", code_span(n)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(i) = &d.issuer {
        facts.push(format!("Issuer: {}", inline(i)));
    }
    if let Some(a) = &d.acme_server {
        facts.push(format!("ACME server: <{}>", inline(a)));
    }
    if !facts.is_empty() {
        let _ = writeln!(s, "{}\n", facts.join(" · "));
    }
    let _ = writeln!(s, "### Chain\n");
    chain(s, &d.chain, 0);
    let _ = writeln!(s);
    if !d.findings.is_empty() {
        let _ = writeln!(s, "### Findings\n");
        let _ = writeln!(s, "| Severity | Code | Summary |\n|---|---|---|");
        for f in &d.findings {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} |",
                f.severity,
                f.code,
                cell(&f.summary)
            );
        }
        let _ = writeln!(s);
        for f in &d.findings {
            finding(s, f);
        }
    }
}

fn chain(s: &mut String, node: &ChainNode, depth: usize) {
    let pad = "  ".repeat(depth);
    let rev = node
        .revision
        .map(|r| format!(" (revision {r})"))
        .unwrap_or_default();
    let hist = if node.history { " *(history)*" } else { "" };
    let facts: String = node
        .facts
        .iter()
        .filter(|(k, _)| k != "url")
        .map(|(k, v)| format!(" {k}=`{}`", code_span(v)))
        .collect();
    let _ = writeln!(
        s,
        "{pad}- {} **{}**{rev}{hist}{facts}: {}: {}",
        icon(node.status.state),
        inline(&node.object.to_string()),
        node.status.state,
        inline(&super::quotes::chain_reason(node))
    );
    for c in &node.children {
        chain(s, c, depth + 1);
    }
}

fn finding(s: &mut String, f: &Finding) {
    let _ = writeln!(s, "#### `{}`: {}\n", f.code, inline(&f.summary));
    if let Some(sub) = &f.subject {
        let _ = writeln!(s, "- Where: {}", inline(&sub.to_string()));
    }
    if !f.detail.is_empty() {
        let _ = writeln!(s, "- Detail: {}", inline(&f.detail));
    }
    if let Some(rl) = &f.rate_limit {
        if let Some(l) = &rl.limit {
            let _ = writeln!(s, "- Limit: {}", inline(l));
        }
        if let Some(i) = &rl.identifier {
            let _ = writeln!(s, "- Identifier: `{}`", code_span(i));
        }
        if let Some(t) = rl.retry_after {
            let _ = writeln!(s, "- Retry after: {t}");
        }
    }
    let _ = writeln!(s, "- Advice: {}", advice(&f.advice));
    let repeats = super::quotes::repeats(&f.evidence);
    for (e, repeat) in f.evidence.iter().zip(repeats) {
        match e {
            Evidence::Text { source, at, .. } if repeat.is_some() => {
                let when = at.map(|t| format!(" ({t})")).unwrap_or_default();
                let _ = writeln!(s, "- Also quoted by {}{when}", inline(source));
            }
            Evidence::Text { source, text, at } => {
                let when = at.map(|t| format!(" ({t})")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "- Evidence, {}{when}:\n\n  ```text\n  {}\n  ```",
                    inline(source),
                    fence_safe(text)
                );
            }
            Evidence::Fact { subject, detail } => {
                let _ = writeln!(s, "- Evidence, {}: {}", inline(subject), inline(detail));
            }
            Evidence::Http(h) => {
                let _ = writeln!(s, "- Evidence: `{}`", code_span(&h.describe()));
            }
            Evidence::Dns(d) => {
                let _ = writeln!(s, "- Evidence: `{}`", code_span(&d.describe()));
            }
        }
    }
    let _ = writeln!(s);
}

fn icon(state: State) -> &'static str {
    match state {
        State::Failed => "❌",
        State::InProgress => "⏳",
        State::Unknown => "❔",
        State::Ready => "✅",
    }
}

/// Escapes text for inline Markdown: no stray emphasis, links or HTML from cluster data.
fn inline(t: &str) -> String {
    escape(&crate::model::state::one_line(t))
}

/// Escapes what Markdown would read as markup in text that is already on one line.
fn escape(t: &str) -> String {
    // Escape only what would turn into markup inside a line: a backslash sequence, a code span,
    // a table cell's end, raw HTML; emphasis only when the text has a pair of the delimiter, a
    // link only when it has `](`. Escaping more leaves `\#` and `\_` in every pasted name.
    let pairs = |c: char| t.matches(c).count() >= 2;
    let (stars, unders) = (pairs('*'), pairs('_'));
    let link = t.contains("](");
    let mut out = String::with_capacity(t.len());
    for ch in t.chars() {
        let markup = match ch {
            '\\' | '`' | '|' | '<' => true,
            '*' => stars,
            '_' => unders,
            '[' | ']' => link,
            _ => false,
        };
        if markup {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Advice is certdx's own text: its `code spans` (commands to copy) stay code spans, the rest
/// is escaped like any other text.
fn advice(t: &str) -> String {
    crate::model::state::one_line(t)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("`{}`", code_span(part))
            } else {
                escape(part)
            }
        })
        .collect()
}

fn cell(t: &str) -> String {
    inline(t)
}

/// Text inside a code span cannot contain a backtick.
fn code_span(t: &str) -> String {
    t.replace('`', "'")
}

/// Text inside a fenced block cannot close the fence.
fn fence_safe(t: &str) -> String {
    t.replace("```", "'''")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn only_what_would_become_markup_is_escaped() {
        assert_eq!(
            escape("_acme-challenge.www.example.com"),
            "_acme-challenge.www.example.com"
        );
        assert_eq!(
            escape("issue #42 at *.example.com"),
            "issue #42 at *.example.com"
        );
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("<script>"), "\\<script>");
        assert_eq!(escape("*x* and _y_"), "\\*x\\* and \\_y\\_");
        assert_eq!(escape("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(escape("`code`"), "\\`code\\`");
    }
}
