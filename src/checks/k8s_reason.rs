//! The Kubernetes API refusing cert-manager's work: its own webhook unreachable, a solver's
//! Ingress or Pod rejected by someone else's admission control, a Secret it needs missing.
//!
//! These reach Challenges, Events and logs as API errors (`Internal error occurred: failed
//! calling webhook ...`, `admission webhook "..." denied the request: ...`, `secret "x" not
//! found`), often wrapped in cert-manager's context. They are the cause whatever the wrapper
//! says, so they are tried before cert-manager's own reasons.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Code, Finding};

use super::text::{go_error_gist, regex as re, short};

/// cert-manager's own webhook, named `webhook.cert-manager.io` since v0.14 and
/// `webhook.certmanager.k8s.io` before.
static CM_WEBHOOK_CALL_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)failed calling (?:admission )?webhook \\?"?([a-z0-9.-]*cert-?manager[a-z0-9.-]*)\\?"?:?\s*(.*)"#,
    )
});
/// Another admission controller refusing an object.
static DENIED_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)admission webhook \\?"?([a-z0-9.-]+)\\?"? denied the request:?\s*(.*)|is forbidden: violates PodSecurity "?([^":]+)"?:?\s*(.*)|was blocked due to the following policies\s*(.*)|\[denied by ([^\]]+)\]\s*(.*)"#,
    )
});
/// What makes a refused object the HTTP-01 solver's.
static SOLVER_CONTEXT_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)acme-http-solver|http-?01|\bingress|httproute|solver|challenge"));
static SECRET_NOT_FOUND_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\bsecrets? \\?"([^"\\]+)\\?" not found"#));
static SECRET_KEY_MISSING_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\bkey \\?"?([^"\\]+?)\\?"? (?:not found|does not exist|is missing|missing) in secret \\?"?([^"\\\s]+)\\?"?|no key \\?"?([\w.-]+)\\?"? in secret \\?"?([^"\\\s]+)|secret \\?"?([^"\\\s]+?)\\?"? (?:does not contain|has no) (?:the )?key \\?"?([\w.-]+)"#,
    )
});

/// Classifies an API error about cert-manager's objects; `None` for anything else.
pub fn classify(text: &str) -> Option<Finding> {
    webhook_unavailable(text)
        .or_else(|| solver_rejected(text))
        .or_else(|| credentials_missing(text))
}

/// The API server could not call cert-manager's webhook, so nothing of cert-manager's can be
/// created or changed.
fn webhook_unavailable(text: &str) -> Option<Finding> {
    let c = CM_WEBHOOK_CALL_RE.captures(text)?;
    let why = c.get(2).map_or("", |m| m.as_str());
    let gist = if why.contains("no endpoints available") {
        "no endpoints available: the webhook Pod is not running or not ready".to_owned()
    } else {
        go_error_gist(why)
    };
    let summary = format!(
        "The API server cannot reach cert-manager's webhook {}: {gist}",
        &c[1]
    );
    Some(
        Finding::new(Code::CertManagerWebhookUnavailable, summary)
            .with_detail(short(&text[c.get(0).map_or(0, |m| m.start())..], 600)),
    )
}

/// An admission controller refused an object of the HTTP-01 solver. A refusal by
/// cert-manager's own webhook is a validation error of the user's object instead.
fn solver_rejected(text: &str) -> Option<Finding> {
    let c = DENIED_RE.captures(text)?;
    let by = c
        .get(1)
        .or(c.get(3))
        .or(c.get(6))
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "a policy engine".to_owned());
    if by.contains("cert-manager") || !SOLVER_CONTEXT_RE.is_match(text) {
        return None;
    }
    let why = c
        .get(2)
        .or(c.get(4))
        .or(c.get(5))
        .or(c.get(7))
        .map_or("", |m| m.as_str());
    let what = if c.get(3).is_some() {
        format!("Pod Security ({by})")
    } else {
        by
    };
    let summary = format!(
        "The HTTP-01 solver's object was refused by {what}: {}",
        short(why, 120)
    );
    Some(
        Finding::new(Code::Http01SolverRejected, summary)
            .with_detail(short(&text[c.get(0).map_or(0, |m| m.start())..], 600)),
    )
}

/// A Secret, or a key in it, that an issuer or solver references is missing.
fn credentials_missing(text: &str) -> Option<Finding> {
    let (summary, start) = if let Some(c) = SECRET_KEY_MISSING_RE.captures(text) {
        let (key, secret) = match (c.get(1), c.get(3), c.get(5)) {
            (Some(k), _, _) => (k.as_str(), c.get(2).map_or("", |m| m.as_str())),
            (_, Some(k), _) => (k.as_str(), c.get(4).map_or("", |m| m.as_str())),
            _ => (
                c.get(6).map_or("", |m| m.as_str()),
                c.get(5).map_or("", |m| m.as_str()),
            ),
        };
        (
            format!("Secret {secret} has no key {key}, which the issuer or solver references"),
            c.get(0).map_or(0, |m| m.start()),
        )
    } else {
        let c = SECRET_NOT_FOUND_RE.captures(text)?;
        (
            format!(
                "Secret {} does not exist, and the issuer or solver needs it",
                &c[1]
            ),
            c.get(0).map_or(0, |m| m.start()),
        )
    };
    Some(
        Finding::new(Code::SolverCredentialsMissing, summary)
            .with_detail(short(&text[start..], 600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_call_failures() {
        let f = classify(r#"Internal error occurred: failed calling webhook "webhook.cert-manager.io": Post "https://cert-manager-webhook.cert-manager.svc:443/mutate?timeout=10s": context deadline exceeded"#).unwrap();
        assert_eq!(f.code, Code::CertManagerWebhookUnavailable);
        assert!(f.summary.contains("timed out"), "{}", f.summary);
    }

    #[test]
    fn solver_ingress_denied_but_not_a_certificate() {
        let f = classify(r#"error creating ingress: admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: ingress contains invalid paths: path /.well-known/acme-challenge/x cannot be used with pathType Exact"#).unwrap();
        assert_eq!(f.code, Code::Http01SolverRejected);
        assert!(
            classify(r#"admission webhook "webhook.cert-manager.io" denied the request: spec.dnsNames: Required value"#)
                .is_none()
        );
    }

    #[test]
    fn secrets_and_keys() {
        let f =
            classify(r#"error getting cloudflare secret: secret "cloudflare-api-token" not found"#)
                .unwrap();
        assert_eq!(f.code, Code::SolverCredentialsMissing);
        assert!(f.summary.contains("cloudflare-api-token"));
        let f = classify(r#"error getting route53 secret access key: key "secret-access-key" not found in secret "route53""#).unwrap();
        assert!(f.summary.contains("secret-access-key") && f.summary.contains("route53"));
    }
}
