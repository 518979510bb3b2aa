//! HTML: one self-contained page (inline CSS, no scripts, no external resources).

use std::fmt::Write;

use html_escape::encode_text as esc;

use super::Report;
use crate::diagnose::{ChainNode, Diagnosis};
use crate::model::{Evidence, Finding};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{border-top:1px solid #d0d7de;padding-top:1rem}
.failed{color:#b42318}.in-progress{color:#9a6700}.unknown{color:#57606a}.ready{color:#1a7f37}
.root{background:#fff4e5;border-left:4px solid #d97706;padding:.6rem 1rem;margin:.6rem 0}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{background:#f6f8fa;padding:.5rem;white-space:pre-wrap;word-break:break-all}
ul.chain{list-style:none;padding-left:1.2rem}.history{opacity:.6}.sev-fatal,.sev-error{color:#b42318;font-weight:600}.sev-warning{color:#9a6700}";

/// Renders the report as one HTML page.
pub fn to_html(r: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>certdx report</title><style>{STYLE}</style></head><body>\n<h1>certdx report</h1>\n<p>Source <code>{}</code>, read at {}{} by {}.</p>\n",
        esc(&r.source),
        r.generated_at,
        r.clock
            .as_deref()
            .map(|c| format!(" ({})", esc(c)))
            .unwrap_or_default(),
        esc(&r.generator)
    );
    if let Some(from) = &r.checked_from {
        let _ = writeln!(s, "<p>Live checks: {}.</p>", esc(from));
    }
    let m = &r.summary;
    let _ = writeln!(
        s,
        "<p><strong>{} Certificates</strong>: <span class=failed>{} failed</span>, <span class=in-progress>{} in progress</span>, <span class=unknown>{} unknown</span>, <span class=ready>{} ready</span>; {} orphan objects; {} errors, {} warnings.</p>",
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
        let class = if h.headline().is_some() {
            " class=failed"
        } else {
            ""
        };
        let _ = writeln!(s, "<p{class}><strong>{}</strong></p>", esc(&h.verdict()));
        if h.findings.len() > 1 || !h.notes.is_empty() {
            let _ = writeln!(s, "<ul>");
            for f in h.findings.iter().skip(1) {
                let _ = writeln!(
                    s,
                    "<li><code>{}</code> ({}) {}</li>",
                    f.code,
                    f.severity,
                    esc(&f.summary)
                );
            }
            for n in &h.notes {
                let _ = writeln!(s, "<li>not checked: {}</li>", esc(n));
            }
            let _ = writeln!(s, "</ul>");
        }
    }
    if !r.load_problems.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>{} documents could not be loaded</summary><ul>",
            r.load_problems.len()
        );
        for p in &r.load_problems {
            let _ = writeln!(s, "<li>{}</li>", esc(p));
        }
        let _ = writeln!(s, "</ul></details>");
    }
    if let Some(groups) = &r.readiness {
        let _ = writeln!(s, "<h2>Readiness for the 2025-2028 CA changes</h2>");
        if groups.is_empty() {
            let _ = writeln!(
                s,
                "<p>No Certificate is affected by the CA changes certdx knows.</p>"
            );
        }
        for g in groups {
            let _ = writeln!(
                s,
                "<h3><code>{}</code></h3>\n<p>{}</p>\n<ul>",
                g.code,
                esc(&g.change)
            );
            for f in &g.findings {
                let _ = writeln!(
                    s,
                    "<li><strong>{}</strong> {}</li>",
                    f.severity,
                    esc(&f.summary)
                );
            }
            let _ = writeln!(s, "</ul>");
        }
        s.push_str("</body></html>\n");
        return s;
    }
    if r.diagnoses.is_empty() {
        let _ = writeln!(s, "<p>Nothing needs attention.</p>");
    } else {
        answer_table(&mut s, r);
    }
    for (i, d) in r.diagnoses.iter().enumerate() {
        diagnosis(&mut s, i, d);
    }
    s.push_str("</body></html>\n");
    s
}

/// The answer first: one row per diagnosis with its root cause and the command to run next;
/// each row links to its details below.
fn answer_table(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<table><tr><th>Object</th><th>State</th><th>Root cause</th><th>Retry after</th><th>Next</th></tr>"
    );
    for (i, row) in super::next::answer_rows(r).enumerate() {
        let cause = row
            .cause
            .map(|(code, summary)| format!("<code>{code}</code> {}", esc(summary)))
            .unwrap_or_default();
        let next = row
            .next
            .map(|c| format!("<code>{}</code>", esc(c)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr><td><a href=\"#d{i}\">{}</a></td><td class=\"{1}\">{1}</td><td>{cause}</td><td>{retry}</td><td>{next}</td></tr>",
            esc(&row.subject),
            row.state,
            retry = row.retry,
        );
    }
    let _ = writeln!(s, "</table>");
}

fn diagnosis(s: &mut String, i: usize, d: &Diagnosis) {
    let _ = writeln!(
        s,
        "<section id=\"d{i}\"><h2 class=\"{0}\">{1} <small>({0})</small></h2>",
        d.status.state,
        esc(&d.subject.to_string())
    );
    if let Some(rc) = &d.root_cause {
        let _ = write!(
            s,
            "<div class=root><strong>Root cause</strong> <code>{}</code> ({}): {}<br><strong>Advice:</strong> {}",
            rc.code,
            rc.severity,
            esc(&rc.summary),
            esc(&rc.advice)
        );
        if let Some(t) = rc.retry_after {
            let _ = write!(s, "<br><strong>Retry after:</strong> {t}");
        }
        if let Some(next) = &rc.next {
            let _ = write!(s, "<br><strong>Next:</strong> <code>{}</code>", esc(next));
        }
        let _ = writeln!(s, "</div>");
    }
    if !d.dns_names.is_empty() || d.issuer.is_some() {
        let names: Vec<String> = d
            .dns_names
            .iter()
            .map(|n| format!("<code>{}</code>", esc(n)))
            .collect();
        let _ = writeln!(
            s,
            "<p>Names: {} · Issuer: {} {}</p>",
            names.join(", "),
            esc(d.issuer.as_deref().unwrap_or("?")),
            d.acme_server
                .as_deref()
                .map(|a| format!("(<code>{}</code>)", esc(a)))
                .unwrap_or_default()
        );
    }
    // The details fold away: the answer is above them.
    let _ = writeln!(s, "<details><summary>Chain</summary><ul class=chain>");
    chain(s, &d.chain);
    let _ = writeln!(s, "</ul></details>");
    if !d.findings.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>Findings ({})</summary><table><tr><th>Severity</th><th>Code</th><th>Summary, advice and evidence</th></tr>",
            d.findings.len()
        );
        for f in &d.findings {
            finding(s, f);
        }
        let _ = writeln!(s, "</table></details>");
    }
    let _ = writeln!(s, "</section>");
}

fn chain(s: &mut String, n: &ChainNode) {
    let rev = n
        .revision
        .map(|r| format!(" (revision {r})"))
        .unwrap_or_default();
    let facts: String = n
        .facts
        .iter()
        .filter(|(k, _)| k != "url")
        .map(|(k, v)| format!(" {}=<code>{}</code>", esc(k), esc(v)))
        .collect();
    let _ = write!(
        s,
        "<li{}><span class=\"{}\">●</span> <strong>{}</strong>{}{}: {}: {}",
        if n.history { " class=history" } else { "" },
        n.status.state,
        esc(&n.object.to_string()),
        rev,
        facts,
        n.status.state,
        esc(&super::quotes::chain_reason(n))
    );
    if !n.children.is_empty() {
        let _ = write!(s, "<ul class=chain>");
        for c in &n.children {
            chain(s, c);
        }
        let _ = write!(s, "</ul>");
    }
    let _ = writeln!(s, "</li>");
}

fn finding(s: &mut String, f: &Finding) {
    let _ = write!(
        s,
        "<tr><td class=\"sev-{0}\">{0}</td><td><code>{1}</code></td><td>{2}",
        f.severity,
        f.code,
        esc(&f.summary)
    );
    if !f.detail.is_empty() {
        let _ = write!(s, "<br><small>{}</small>", esc(&f.detail));
    }
    if let Some(t) = f.rate_limit.as_ref().and_then(|r| r.retry_after) {
        let _ = write!(s, "<br>Retry after {t}");
    }
    let _ = write!(s, "<br><em>{}</em>", esc(&f.advice));
    let repeats = super::quotes::repeats(&f.evidence);
    for (e, repeat) in f.evidence.iter().zip(repeats) {
        match e {
            Evidence::Text { source, .. } if repeat.is_some() => {
                let _ = write!(s, "<br><small>also quoted by {}</small>", esc(source));
            }
            Evidence::Text { source, text, .. } => {
                let _ = write!(
                    s,
                    "<br><small>{}</small><pre>{}</pre>",
                    esc(source),
                    esc(text)
                );
            }
            Evidence::Fact { subject, detail } => {
                let _ = write!(s, "<br><small>{}: {}</small>", esc(subject), esc(detail));
            }
            Evidence::Http(h) => {
                let _ = write!(s, "<br><code>{}</code>", esc(&h.describe()));
            }
            Evidence::Dns(d) => {
                let _ = write!(s, "<br><code>{}</code>", esc(&d.describe()));
            }
        }
    }
    let _ = writeln!(s, "</td></tr>");
}
