//! The ACME client's errors: the server's problem document and `Retry-After` kept, each failure
//! mapped to a finding code through certdx's own classifier (`checks::explain`).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::checks::explain::explain;
use crate::model::{Code, Evidence, Finding, HttpEvidence};

use super::http::{Exchange, TransportError};
use super::types::{AuthzStatus, OrderStatus};

/// The prefix of RFC 8555 problem types.
const ACME_URN: &str = "urn:ietf:params:acme:error:";

/// What the client was doing when a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Operation {
    /// Registering a new account.
    NewAccount,
    /// Restoring an account from stored credentials (fetches the directory).
    LoadAccount,
    /// Creating an order.
    NewOrder,
    /// Fetching an order.
    FetchOrder,
    /// Fetching an order's authorizations.
    FetchAuthorizations,
    /// Telling the CA a challenge is ready.
    ChallengeReady,
    /// Deactivating an authorization.
    DeactivateAuthorization,
    /// Sending the CSR.
    Finalize,
    /// Downloading the certificate chain.
    DownloadCertificate,
    /// Asking for a certificate's suggested renewal window (ARI, RFC 9773).
    RenewalInfo,
}

impl Operation {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::NewAccount => "new-account",
            Operation::LoadAccount => "load-account",
            Operation::NewOrder => "new-order",
            Operation::FetchOrder => "fetch-order",
            Operation::FetchAuthorizations => "fetch-authorizations",
            Operation::ChallengeReady => "challenge-ready",
            Operation::DeactivateAuthorization => "deactivate-authorization",
            Operation::Finalize => "finalize",
            Operation::DownloadCertificate => "download-certificate",
            Operation::RenewalInfo => "renewal-info",
        }
    }

    /// Whether repeating the request cannot change anything on the server (POST-as-GET), so
    /// it may be retried after any failure, not only after one the server did not act on.
    pub(crate) fn is_read(self) -> bool {
        matches!(
            self,
            Operation::LoadAccount
                | Operation::FetchOrder
                | Operation::FetchAuthorizations
                | Operation::DownloadCertificate
                | Operation::RenewalInfo
        )
    }

    fn is_account(self) -> bool {
        matches!(self, Operation::NewAccount | Operation::LoadAccount)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 8555 problem document (RFC 7807), as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AcmeProblem {
    /// The problem type, e.g. `urn:ietf:params:acme:error:rateLimited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The HTTP status the document states (or the response had).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Per-identifier problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<AcmeSubproblem>,
}

/// A subproblem: the problem with one identifier (RFC 8555 section 6.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AcmeSubproblem {
    /// The identifier's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The problem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AcmeProblem {
    /// The type without the RFC 8555 prefix, e.g. `rateLimited`.
    pub fn short_kind(&self) -> Option<&str> {
        let kind = self.kind.as_deref()?;
        Some(kind.strip_prefix(ACME_URN).unwrap_or(kind))
    }

    /// Whether the type is `urn:ietf:params:acme:error:<short>` (case-insensitive).
    pub fn is(&self, short: &str) -> bool {
        self.short_kind()
            .is_some_and(|k| k.eq_ignore_ascii_case(short))
    }

    /// The problem printed as cert-manager prints it (`<status> <type>: <detail>`, then
    /// `; subproblems:` and one `\n\t<type>: [dns: name] <detail>` each): the form certdx's
    /// classifier reads in Order and Challenge reasons.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(status) = self.status {
            out.push_str(&format!("{status} "));
        }
        out.push_str(
            self.kind
                .as_deref()
                .unwrap_or("urn:ietf:params:acme:error:unknown"),
        );
        out.push_str(": ");
        out.push_str(self.detail.as_deref().unwrap_or(""));
        if !self.subproblems.is_empty() {
            out.push_str("; subproblems:");
            for s in &self.subproblems {
                out.push_str("\n\t");
                out.push_str(s.kind.as_deref().unwrap_or(""));
                out.push_str(": ");
                if let Some(id) = &s.identifier {
                    out.push_str(&format!("[dns: {id}] "));
                }
                out.push_str(s.detail.as_deref().unwrap_or(""));
            }
        }
        out
    }

    /// Converts instant-acme's problem, filling the status from the response when the
    /// document omits it.
    pub(crate) fn from_instant(p: &instant_acme::Problem, status: Option<u16>) -> AcmeProblem {
        AcmeProblem {
            kind: p.r#type.clone(),
            detail: p.detail.clone(),
            status: p.status.or(status),
            subproblems: p
                .subproblems
                .iter()
                .map(|s| AcmeSubproblem {
                    identifier: s
                        .identifier
                        .as_ref()
                        .map(|i| i.authorized(false).to_string()),
                    kind: s.r#type.clone(),
                    detail: s.detail.clone(),
                })
                .collect(),
        }
    }
}

impl fmt::Display for AcmeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Why an ACME operation failed. Every variant maps to a finding ([`AcmeError::finding`]);
/// none quotes a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// The server answered with a problem document.
    #[error("{operation}: {problem}")]
    Problem {
        /// What the client was doing.
        operation: Operation,
        /// The URL of the request that failed.
        url: String,
        /// The response's HTTP status (for a challenge's own error, the 200 that carried it).
        status: Option<u16>,
        /// The problem document (boxed: it is the large part of the error).
        problem: Box<AcmeProblem>,
        /// The response's `Retry-After`, as an instant.
        retry_after: Option<Timestamp>,
    },
    /// The server answered with an error status and no problem document.
    #[error("{operation}: HTTP {status} from {url}")]
    Http {
        /// What the client was doing.
        operation: Operation,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The response's `Retry-After`, as an instant.
        retry_after: Option<Timestamp>,
        /// The start of the body.
        body: String,
    },
    /// No response: connection refused, TLS failure, timeout.
    #[error("{operation}: {url}: {reason}")]
    Transport {
        /// What the client was doing.
        operation: Operation,
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
        /// Whether the request may have reached the server (false: no connection was made).
        maybe_sent: bool,
    },
    /// The caller's deadline came before the operation could finish (or before the instant
    /// the server asked the client to wait for).
    #[error("{operation}: deadline reached while {waiting_for}")]
    Deadline {
        /// What the client was doing.
        operation: Operation,
        /// What it was waiting for, e.g. `order https://... to leave processing`.
        waiting_for: String,
        /// When the server asked to be asked again, if it did.
        retry_after: Option<Timestamp>,
    },
    /// The order ended invalid or deactivated.
    #[error("order {url} is {status}{}", problem.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    OrderFailed {
        /// The order URL.
        url: String,
        /// Its final status.
        status: OrderStatus,
        /// The order's error, if the server gave one.
        problem: Option<Box<AcmeProblem>>,
    },
    /// An authorization ended in a status other than valid.
    #[error("authorization of {identifier} is {status}{}", problem.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    AuthorizationFailed {
        /// The authorization URL.
        url: String,
        /// The identifier.
        identifier: String,
        /// Its final status.
        status: AuthzStatus,
        /// The validation error of its challenge, if any.
        problem: Option<Box<AcmeProblem>>,
    },
    /// The server's answer could not be understood (bad JSON, missing URL, wrong state).
    #[error("{operation}: unexpected answer from {url}: {detail}")]
    Protocol {
        /// What the client was doing.
        operation: Operation,
        /// The URL, if known.
        url: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The CA's directory lacks what the request needs (e.g. `replaces` without a
    /// `renewalInfo` endpoint); nothing was sent.
    #[error("{operation}: the CA does not support {what}")]
    Unsupported {
        /// What the client was doing.
        operation: Operation,
        /// The missing feature.
        what: &'static str,
    },
    /// The client's own configuration: directory URL, CA certificate, EAB key, credentials.
    #[error("ACME client configuration: {0}")]
    Config(String),
    /// Generating the certificate key or the CSR failed.
    #[error("generating the certificate key or CSR: {0}")]
    Csr(String),
}

impl AcmeError {
    /// Turns one failed attempt (instant-acme's error plus the last exchange it made) into a
    /// typed error: the captured status and `Retry-After` win over what instant-acme kept.
    pub(crate) fn from_attempt(
        operation: Operation,
        err: instant_acme::Error,
        last: Option<&Exchange>,
    ) -> AcmeError {
        let url = last.map(|x| x.url.clone()).unwrap_or_default();
        let retry_after = last.and_then(|x| x.retry_after);
        let status = last.map(|x| x.status);
        match err {
            instant_acme::Error::Api(problem) => AcmeError::Problem {
                operation,
                url,
                status,
                problem: Box::new(AcmeProblem::from_instant(
                    &problem,
                    status.filter(|s| *s >= 400),
                )),
                retry_after,
            },
            instant_acme::Error::Unsupported(what) => AcmeError::Unsupported { operation, what },
            instant_acme::Error::Other(inner) if inner.is::<TransportError>() => {
                let t = inner
                    .downcast::<TransportError>()
                    .expect("checked by is::<TransportError>");
                AcmeError::Transport {
                    operation,
                    url: t.url,
                    reason: t.reason,
                    maybe_sent: t.maybe_sent,
                }
            }
            other => match last {
                // The nonce endpoint's 503, an HTML 502 from a load balancer: the status is
                // the story, whatever instant-acme made of the body.
                Some(x) if x.status >= 400 => AcmeError::Http {
                    operation,
                    url,
                    status: x.status,
                    retry_after,
                    body: excerpt(&x.body),
                },
                _ => AcmeError::Protocol {
                    operation,
                    url,
                    detail: other.to_string(),
                },
            },
        }
    }

    /// The operation that failed, when the error comes from a request.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            AcmeError::Problem { operation, .. }
            | AcmeError::Http { operation, .. }
            | AcmeError::Transport { operation, .. }
            | AcmeError::Deadline { operation, .. }
            | AcmeError::Protocol { operation, .. }
            | AcmeError::Unsupported { operation, .. } => Some(*operation),
            _ => None,
        }
    }

    /// When the server said to try again (its `Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Timestamp> {
        match self {
            AcmeError::Problem { retry_after, .. }
            | AcmeError::Http { retry_after, .. }
            | AcmeError::Deadline { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the CA refused a new account for want of External Account Binding
    /// (`externalAccountRequired`, RFC 8555 section 7.3.4).
    pub fn needs_external_account(&self) -> bool {
        self.problem()
            .and_then(|p| p.kind.as_deref())
            .is_some_and(|k| k.ends_with(":externalAccountRequired"))
    }

    /// The problem document, if the server sent one.
    pub fn problem(&self) -> Option<&AcmeProblem> {
        match self {
            AcmeError::Problem { problem, .. } => Some(problem),
            AcmeError::OrderFailed { problem, .. }
            | AcmeError::AuthorizationFailed { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of the failed response, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            AcmeError::Problem {
                status, problem, ..
            } => status.or(problem.status),
            AcmeError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the CA refused because of a rate limit (429 or a rateLimited problem).
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429) || self.problem().is_some_and(|p| p.is("rateLimited"))
    }

    /// Whether the CA rejected the request's nonce (badNonce).
    pub fn is_bad_nonce(&self) -> bool {
        matches!(self, AcmeError::Problem { problem, .. } if problem.is("badNonce"))
    }

    /// The finding code this error maps to.
    pub fn code(&self) -> Code {
        self.finding().code
    }

    /// The findings this error maps to: one per distinct problem (subproblems give one each).
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = match self {
            AcmeError::Problem { problem, .. } => classify(problem),
            AcmeError::OrderFailed {
                problem: Some(problem),
                ..
            }
            | AcmeError::AuthorizationFailed {
                problem: Some(problem),
                ..
            } => classify(problem),
            _ => Vec::new(),
        };
        if findings.is_empty() {
            findings.push(self.fallback_finding());
        }
        let operation = self.operation();
        for f in &mut findings {
            if operation.is_some_and(Operation::is_account) && !survives_account_context(f.code) {
                // An account that cannot be registered or loaded is the Issuer's problem
                // (URL, EAB, key), whatever words the CA used for it.
                recode(f, Code::IssuerNotReady);
            }
            if f.code.as_str().starts_with("ratelimit-")
                && let Some(at) = self.retry_after()
            {
                let limit = f.rate_limit.get_or_insert_with(Default::default);
                if limit.retry_after.is_none() {
                    // The Retry-After header gave what the problem's text did not.
                    limit.retry_after = Some(at);
                    f.advice = crate::checks::ratelimit::timed_advice(f.code.advice(), Some(at));
                }
            }
            if let Some(evidence) = self.evidence() {
                f.evidence.push(evidence);
            }
        }
        findings
    }

    /// The main finding (the first of [`AcmeError::findings`]).
    pub fn finding(&self) -> Finding {
        self.findings()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.fallback_finding())
    }

    /// The finding for errors the classifier has no text for.
    fn fallback_finding(&self) -> Finding {
        let code = match self {
            AcmeError::Http { status: 429, .. } => Code::RatelimitOther,
            AcmeError::Http { status, .. } if *status >= 500 => Code::AcmeServerError,
            AcmeError::Problem { status, .. } if status.is_some_and(|s| s >= 500) => {
                Code::AcmeServerError
            }
            // Setting up the account starts with the directory: a CA that cannot be read
            // there (refused, too slow, too large) is unreachable, not merely busy.
            AcmeError::Transport { operation, .. } if operation.is_account() => {
                Code::AcmeDirectoryUnreachable
            }
            // Unreachable or too slow: the CA, not the name, is what to wait for.
            AcmeError::Transport { .. } | AcmeError::Deadline { .. } => Code::AcmeServerError,
            AcmeError::OrderFailed {
                status: OrderStatus::Invalid,
                ..
            } => Code::OrderFailedNoReason,
            AcmeError::Config(_) => Code::IssuerNotReady,
            _ => Code::AcmeOther,
        };
        Finding::new(code, self.to_string())
    }

    /// What was asked and what came back, for the finding's evidence.
    fn evidence(&self) -> Option<Evidence> {
        let (url, status, body) = match self {
            AcmeError::Problem {
                url,
                status,
                problem,
                ..
            } => (
                url,
                *status,
                serde_json::to_string(problem.as_ref()).unwrap_or_default(),
            ),
            AcmeError::Http {
                url, status, body, ..
            } => (url, Some(*status), body.clone()),
            AcmeError::Transport { url, reason, .. } => {
                return Some(Evidence::Http(HttpEvidence {
                    url: url.clone(),
                    error: Some(reason.clone()),
                    ..HttpEvidence::default()
                }));
            }
            _ => return None,
        };
        Some(Evidence::Http(HttpEvidence {
            url: url.clone(),
            status,
            body_excerpt: (!body.is_empty()).then_some(body),
            ..HttpEvidence::default()
        }))
    }
}

/// Classifies a problem document through `certdx explain`'s classifier.
fn classify(problem: &AcmeProblem) -> Vec<Finding> {
    let mut findings = explain(&problem.to_text());
    if findings.is_empty() {
        let code = if problem.status.is_some_and(|s| s >= 500) {
            Code::AcmeServerError
        } else {
            Code::AcmeOther
        };
        findings.push(Finding::new(code, problem.to_text()));
    }
    findings
}

/// Codes that say something more precise than "the account setup is wrong".
fn survives_account_context(code: Code) -> bool {
    code.as_str().starts_with("ratelimit-")
        || matches!(
            code,
            Code::AcmeServerError
                | Code::AcmeBadNonce
                | Code::IssuerNotReady
                | Code::AcmeAccount
                | Code::AcmeDirectoryUnreachable
        )
}

fn recode(f: &mut Finding, code: Code) {
    f.code = code;
    f.severity = code.default_severity();
    f.advice = code.advice().to_owned();
}

/// The start of a body, lossy UTF-8, for messages and evidence.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let mut text = text.trim().to_owned();
    if body.len() > 512 {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(kind: &str, detail: &str, status: u16) -> Box<AcmeProblem> {
        Box::new(AcmeProblem {
            kind: Some(format!("{ACME_URN}{kind}")),
            detail: Some(detail.into()),
            status: Some(status),
            subproblems: Vec::new(),
        })
    }

    #[test]
    fn rate_limit_keeps_the_header_instant() {
        let at: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let err = AcmeError::Problem {
            operation: Operation::NewOrder,
            url: "https://ca/new-order".into(),
            status: Some(429),
            problem: problem("rateLimited", "too many new orders (300) recently", 429),
            retry_after: Some(at),
        };
        assert!(err.is_rate_limited());
        let f = err.finding();
        assert_eq!(f.code, Code::RatelimitNewOrders);
        assert_eq!(f.rate_limit.and_then(|r| r.retry_after), Some(at));
    }

    #[test]
    fn account_failures_are_the_issuers_unless_the_ca_names_the_account() {
        let account = |kind, detail| AcmeError::Problem {
            operation: Operation::NewAccount,
            url: "https://ca/new-acct".into(),
            status: Some(403),
            problem: problem(kind, detail, 403),
            retry_after: None,
        };
        let eab = account("unauthorized", "external account binding is invalid");
        assert_eq!(eab.code(), Code::AcmeAccount);
        let vague = account("malformed", "Request payload did not parse as JSON");
        assert_eq!(vague.code(), Code::IssuerNotReady);
        let busy = AcmeError::Http {
            operation: Operation::NewAccount,
            url: "u".into(),
            status: 503,
            retry_after: None,
            body: String::new(),
        };
        assert_eq!(busy.code(), Code::AcmeServerError);
    }

    #[test]
    fn validation_problems_use_the_classifier() {
        let err = AcmeError::AuthorizationFailed {
            url: "a".into(),
            identifier: "x.test".into(),
            status: AuthzStatus::Invalid,
            problem: Some(problem(
                "dns",
                "DNS problem: SERVFAIL looking up A for x.test",
                400,
            )),
        };
        assert_eq!(err.code(), Code::AcmeDns);
        let none = AcmeError::OrderFailed {
            url: "o".into(),
            status: OrderStatus::Invalid,
            problem: None,
        };
        assert_eq!(none.code(), Code::OrderFailedNoReason);
    }

    #[test]
    fn problem_text_is_what_cert_manager_prints() {
        let mut p = problem("compound", "Errors", 400);
        p.subproblems.push(AcmeSubproblem {
            identifier: Some("a.test".into()),
            kind: Some(format!("{ACME_URN}caa")),
            detail: Some("CAA record for a.test prevents issuance".into()),
        });
        assert_eq!(
            p.to_text(),
            "400 urn:ietf:params:acme:error:compound: Errors; subproblems:\n\turn:ietf:params:acme:error:caa: [dns: a.test] CAA record for a.test prevents issuance"
        );
        let err = AcmeError::Problem {
            operation: Operation::Finalize,
            url: "f".into(),
            status: Some(400),
            problem: p,
            retry_after: None,
        };
        assert_eq!(err.code(), Code::AcmeCaa);
    }
}
