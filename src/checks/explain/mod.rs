//! `certdx explain`: finds every ACME or cert-manager error in a text and classifies each.
//!
//! The text can be one condition message or a whole paste: a `kubectl describe` section, a
//! controller log excerpt, another ACME client's output, an HTML error page. Reading it is a
//! pipeline, one module a step, each importing only the steps below it:
//!
//! 1. [`normalise`]: decode leniently, drop terminal colour codes and control characters,
//!    strip the tags of an HTML page;
//! 2. [`unwrap`]: take each line's message out of its log format (klog, logr pairs, JSON,
//!    logfmt, certbot, acme.sh, syslog, `kubectl describe` fields and Events);
//! 3. [`split`]: group the lines into messages (wrapped messages joined, distinct ones apart);
//! 4. per message: undo escapes, collapse whitespace, rewrite client wrappers ([`clients`]);
//! 5. classify, from the most specific cause to the least:
//!    - a Let's Encrypt rate limit (nothing else matters until it lifts);
//!    - the Kubernetes API refusing cert-manager's own objects (its webhook unreachable, a
//!      solver Ingress rejected, a Secret missing);
//!    - cert-manager's own reasons (backoff, solvers, self-checks), because they describe where
//!      cert-manager is stuck even when they quote an ACME error; but where cert-manager only
//!      wraps the CA's answer (an account it could not register), the CA's reason comes first;
//!    - the CA unreachable (its directory, TLS, DNS), then the ACME problems the CA returned,
//!      one finding per distinct problem and identifier.
//!
//! The same finding from several messages (a log repeats itself) is reported once, with how
//! many times it was seen.

mod clients;
pub mod normalise;
pub mod split;
pub mod unwrap;

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::model::{Code, Evidence, Finding};

use super::text::short_raw;
use super::{acme_problem, ca_reach, cm_reason, k8s_reason, ratelimit};

/// Evidence keeps the message, but not a whole pasted log.
const MAX_EVIDENCE_BYTES: usize = 4 * 1024;

/// Words at least one of which every error message contains: a message without any is skipped
/// unread. In a controller log most lines are like that ("found one existing HTTP01 solver
/// pod"), and skipping them is what keeps a 10 MB paste under a second. The list is broad on
/// purpose (any negation, any failure word): a message it wrongly skipped would be lost, and
/// the corpus test is what catches that.
const ANCHORS: &[&str] = &[
    "error",
    "err=",
    "fail",
    "invalid",
    "unable",
    "cannot",
    "can't",
    "could",
    "not ",
    "n't",
    "no ",
    "denied",
    "forbidden",
    "refused",
    "reset",
    "timeout",
    "timed out",
    "deadline",
    "too many",
    "urn:",
    "problem",
    "429",
    " 50",
    "exceed",
    "expired",
    "retry",
    "wrong",
    "unknown",
    "missing",
    "must",
    "rate",
    "busy",
    "unavail",
    "reject",
    "backing off",
    "re-issuing",
    "propagat",
    "x509",
    "tls",
    "servfail",
    "nxdomain",
    "caa",
    "txt",
    "webhook",
    "paused",
    "prevent",
    "incorrect",
    "mismatch",
    "malformed",
    "unauthorized",
    "badcsr",
    "badnonce",
    "nonce",
    "eab",
    "blocked",
    "blacklist",
    "blocklist",
    "policy",
    "limit",
    "disallow",
    "redirect",
    "cancel",
    "require",
    "overload",
    "already",
];

static ANCHOR_MATCHER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(ANCHORS)
        .expect("valid anchors")
});

/// Classifies every error message in `text` (one message, or a whole paste) into findings, in
/// the order the messages appear. Unrecognised text yields no finding; no input makes it
/// panic, and the time it takes grows linearly with the input.
pub fn explain(text: &str) -> Vec<Finding> {
    let cleaned = normalise::clean(text);
    let page = normalise::strip_html(&cleaned);
    let mut memo = Memo::default();
    let messages = split::split(page.lines().map(unwrap::unwrap_line), |t| {
        !memo.classify(t).is_empty()
    });
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: HashMap<(Code, String), (usize, usize)> = HashMap::new();
    // One message: the evidence is the input as given (an HTML page keeps its tags).
    let whole = (messages.len() == 1).then(|| short_raw(text, MAX_EVIDENCE_BYTES));
    for m in messages {
        let found = memo.classify(&m.text);
        if found.is_empty() {
            continue;
        }
        let hint = m
            .identifier
            .clone()
            .or_else(|| clients::identifier(&prepare(&m.text)));
        let evidence = Evidence::Text {
            source: "message".into(),
            text: whole
                .clone()
                .unwrap_or_else(|| short_raw(m.raw.trim_end(), MAX_EVIDENCE_BYTES)),
            at: None,
        };
        for mut f in found {
            if let Some((_, count)) = seen.get_mut(&(f.code, f.summary.clone())) {
                *count += 1;
                continue;
            }
            if f.identifier().is_none() {
                f.target = hint.clone();
            }
            f.evidence.push(evidence.clone());
            seen.insert((f.code, f.summary.clone()), (out.len(), 1));
            out.push(f);
        }
    }
    for (index, count) in seen.into_values() {
        if count > 1 {
            out[index]
                .detail
                .push_str(&format!(" (seen {count} times in the input)"));
        }
    }
    out
}

/// Classifications by message text: logs repeat the same message many times, and the splitter
/// asks about each line before the message is classified again.
#[derive(Default)]
struct Memo {
    by_text: HashMap<String, Vec<Finding>>,
}

impl Memo {
    fn classify(&mut self, text: &str) -> Vec<Finding> {
        if !ANCHOR_MATCHER.is_match(text) {
            return Vec::new();
        }
        let prepared = prepare(text);
        if let Some(found) = self.by_text.get(&prepared) {
            return found.clone();
        }
        let found = classify(&prepared);
        self.by_text.insert(prepared, found.clone());
        found
    }
}

/// One message made ready for the classifiers: escapes undone, whitespace collapsed, client
/// wrappers rewritten, cut to the longest message there can be.
fn prepare(text: &str) -> String {
    let text = super::text::prefix(text, split::MAX_MESSAGE_BYTES);
    let text = normalise::collapse_whitespace(&normalise::unescape(text));
    clients::canonical(&text).into_owned()
}

/// Classifies one prepared message.
fn classify(text: &str) -> Vec<Finding> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    if let Some(f) = ratelimit::classify(text) {
        return vec![f];
    }
    if let Some(f) = k8s_reason::classify(text) {
        return vec![f];
    }
    let ca = || match ca_reach::classify(text) {
        Some(f) => vec![f],
        None => acme_problem::classify(text),
    };
    if let Some(wrapper) = cm_reason::account_wrapper(text) {
        let mut found = ca();
        found.push(wrapper);
        return found;
    }
    match cm_reason::classify(text) {
        Some(own) => vec![own],
        None => ca(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Code;

    #[test]
    fn escaped_log_line_is_unescaped() {
        let line = r#"E0828 sync.go:190] "propagation check failed" err="NS ns-1536.awsdns-00.co.uk.:53 returned REFUSED for _acme-challenge.my-app.example.com." dnsName="my-app.example.com""#;
        let f = explain(line);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::SelfcheckDns01NsError);
    }
}
