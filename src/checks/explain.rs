//! `certdx explain`: classifies any ACME or cert-manager error text into findings.
//!
//! The same text reaches certdx from many places (an Order's reason, a Challenge's reason, a
//! CertificateRequest condition, an event, a log line someone pasted), wrapped in however many
//! layers of cert-manager context. The classifiers therefore search the whole text instead of
//! parsing its layers, and are tried from the most specific cause to the least:
//!
//! 1. a Let's Encrypt rate limit (nothing else matters until it lifts);
//! 2. cert-manager's own reasons (backoff, Issuer account, solvers, self-checks), because they
//!    describe where cert-manager is stuck even when they quote an ACME error;
//! 3. the ACME problems the CA returned, one finding per distinct problem and identifier.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::model::{Evidence, Finding};

use super::{acme_problem, cm_reason, ratelimit};

/// Kubernetes caps condition messages at 32 KiB, so anything past this is not one message; the
/// cap keeps a pasted log from costing more than a few milliseconds.
const MAX_SCAN_BYTES: usize = 64 * 1024;

/// Evidence keeps the text, but not a whole pasted log.
const MAX_EVIDENCE_BYTES: usize = 4 * 1024;

/// Classifies one error text (an ACME problem, a cert-manager reason, an event message) into
/// findings. Unclassifiable text yields no finding; no input makes it panic.
pub fn explain(text: &str) -> Vec<Finding> {
    let scanned = normalise(prefix(text, MAX_SCAN_BYTES));
    let mut findings = classify(&scanned);
    let mut seen = HashSet::new();
    findings.retain(|f| seen.insert((f.code, f.summary.clone())));
    let evidence = Evidence::Text {
        source: "message".into(),
        text: short_raw(text, MAX_EVIDENCE_BYTES),
        at: None,
    };
    for finding in &mut findings {
        finding.evidence.push(evidence.clone());
    }
    findings
}

fn classify(text: &str) -> Vec<Finding> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    if let Some(f) = ratelimit::classify(text) {
        return vec![f];
    }
    if let Some(f) = cm_reason::classify(text) {
        return vec![f];
    }
    acme_problem::classify(text)
}

/// Undoes the escaping of structured logs (`err="NS ... for \"x\""`) and JSON, so quoted names
/// match the same patterns as in a condition message.
fn normalise(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\t", "\t")
            .replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&"),
    )
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to `max` bytes with an ellipsis, whitespace kept as it was.
fn short_raw(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", prefix(text, max))
}

/// One line of at most about `max` bytes: whitespace runs collapsed, cut with an ellipsis.
pub(crate) fn short(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    let mut last_space = true;
    for ch in text.trim().chars() {
        if out.len() >= max {
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            out.push('…');
            return out;
        }
        if ch.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(ch);
            last_space = false;
        }
    }
    out
}

/// A name as the messages print it, without quotes, brackets, trailing punctuation or the root
/// dot, so `"example.com."` and `example.com` compare equal.
pub(crate) fn clean_identifier(raw: &str) -> String {
    raw.trim()
        .trim_end_matches([':', ',', ';'])
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | '[' | ']' | '(' | ')' | '<' | '>'))
        .trim_end_matches([':', ',', ';', '.'])
        .trim()
        .to_owned()
}

/// The useful end of a Go net/http error ("Get \"...\": dial tcp 1.2.3.4:80: connect: connection
/// refused" -> "connection refused").
pub(crate) fn go_error_gist(err: &str) -> String {
    let lower = err.to_ascii_lowercase();
    let known = [
        ("no such host", "the name does not resolve"),
        ("connection refused", "connection refused"),
        ("connection reset by peer", "connection reset by peer"),
        ("i/o timeout", "timed out"),
        ("context deadline exceeded", "timed out"),
        ("client.timeout", "timed out"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network is unreachable"),
        ("stopped after 10 redirects", "too many redirects"),
        ("x509:", "TLS certificate error"),
        ("tls:", "TLS error"),
        ("eof", "the connection was closed (EOF)"),
    ];
    match known.iter().find(|(needle, _)| lower.contains(needle)) {
        Some((_, gist)) => (*gist).to_owned(),
        None => short(err.trim(), 100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Code;

    #[test]
    fn prefix_respects_char_boundaries() {
        let s = "é".repeat(10);
        assert_eq!(prefix(&s, 5), "éé");
        assert_eq!(short_raw(&s, 3), "é…");
    }

    #[test]
    fn short_collapses_whitespace_and_cuts() {
        assert_eq!(short("  a \n\t b  ", 10), "a b");
        assert_eq!(short("abcdefghij klm", 10), "abcdefghij…");
    }

    #[test]
    fn clean_identifier_strips_decoration() {
        assert_eq!(clean_identifier(" \"example.com.\" "), "example.com");
        assert_eq!(clean_identifier("[*.example.com]:"), "*.example.com");
    }

    #[test]
    fn escaped_log_line_is_unescaped() {
        let line = r#"E0828 sync.go:190] "propagation check failed" err="NS ns-1536.awsdns-00.co.uk.:53 returned REFUSED for _acme-challenge.my-app.example.com." dnsName="my-app.example.com""#;
        let f = explain(line);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::SelfcheckDns01NsError);
    }
}
