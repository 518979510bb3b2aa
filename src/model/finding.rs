//! What certdx concludes: a [`Finding`] with its code, severity, advice and evidence.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Code;

/// How bad a finding is, Let's Debug's scale. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing fails because of it.
    Info,
    /// May fail, or is fragile.
    Warning,
    /// Validation will fail.
    Error,
    /// Issuance cannot succeed until this is fixed.
    Fatal,
}

impl Severity {
    /// The lowercase name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
        }
    }

    /// Whether a finding of this severity counts as a problem (exit code 1).
    pub fn is_problem(self) -> bool {
        self >= Severity::Warning
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was asked and what came back, so a reader can verify a finding without re-running it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Evidence {
    /// A text read from a cluster object: a condition message, a status reason, an event.
    Text {
        /// Where it was read, e.g. `Order default/web-1-123 status.reason`.
        source: String,
        /// The text itself (secrets redacted, long texts cut).
        text: String,
        /// When the object said it, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Timestamp>,
    },
    /// A fact certdx derived from the objects (counts, ages, references).
    Fact {
        /// What the fact is about.
        subject: String,
        /// The fact.
        detail: String,
    },
    /// One HTTP request certdx made (one hop of an HTTP-01 check).
    Http(HttpEvidence),
    /// One DNS question certdx asked one server.
    Dns(DnsEvidence),
}

/// An HTTP request and what came back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpEvidence {
    /// The URL requested.
    pub url: String,
    /// The IP address connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::IpAddr>,
    /// The port connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The status code, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `Server` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The `Location` header of a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The start of the body (lossy UTF-8, cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_excerpt: Option<String>,
    /// The error, if the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// A DNS question to one server and its answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsEvidence {
    /// The server's name (e.g. `ns1.example.com.`), or `recursive` for the resolver.
    pub server: String,
    /// The address asked (`IP:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::SocketAddr>,
    /// The question, e.g. `_acme-challenge.example.com. TXT`.
    pub question: String,
    /// The response code (`NOERROR`, `NXDOMAIN`, `REFUSED`, ...), if an answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcode: Option<String>,
    /// The answer records as text.
    #[serde(default)]
    pub answers: Vec<String>,
    /// The smallest TTL of the answer (or of the SOA for a negative answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// The zone's SOA serial as this server reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soa_serial: Option<u32>,
    /// The error (timeout, refused connection, garbage), if no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Details a rate-limit finding carries: part of the public finding contract (README, "Finding
/// catalogue").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// The limit as the CA stated it, e.g. `5 per 168h0m0s` or the limit's documentation anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The identifier (name, registered domain, IP) the limit applies to, when the error names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// When the CA will accept the request again (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Timestamp>,
}

/// One conclusion certdx draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id from the catalogue.
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// One line saying what is wrong, specific to this case.
    pub summary: String,
    /// More context: the numbers, the names, the message that triggered it.
    pub detail: String,
    /// What to do.
    pub advice: String,
    /// The object the finding is about, if any: the same shape as a diagnosis's subject
    /// (`{kind, namespace, name}`), so one jq path reads both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<super::ObjectRef>,
    /// The identifier (DNS name or IP address) the finding is about, when one is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Rate-limit details (limit, identifier, retry_after) for `ratelimit-*` codes.
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub rate_limit: Option<RateLimit>,
    /// For `ratelimit-account-paused`: how to lift the pause. Present on every such finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Paused>,
    /// What was asked and what came back.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A paused ACME account: part of the public finding contract (README, "The JSON report").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    /// The CA's unpause page for this account, as the CA's message gave it; `null` when the
    /// message did not include it (cut, or an older wording). Always present.
    pub unpause_url: Option<String>,
}

impl Finding {
    /// A finding with the code's default severity and advice; `summary` says what happened here.
    pub fn new(code: Code, summary: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: code.default_severity(),
            summary: summary.into(),
            detail: String::new(),
            advice: code.advice().to_owned(),
            subject: None,
            target: None,
            rate_limit: None,
            // Every paused finding carries the field, its URL filled in where the message has it.
            paused: (code == Code::RatelimitAccountPaused).then(Paused::default),
            evidence: Vec::new(),
        }
    }

    /// Sets the detail text.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Finding {
        self.detail = detail.into();
        self
    }

    /// Sets the subject object.
    pub fn with_subject(mut self, subject: super::ObjectRef) -> Finding {
        self.subject = Some(subject);
        self
    }

    /// Sets the identifier the finding is about.
    pub fn with_target(mut self, target: impl Into<String>) -> Finding {
        self.target = Some(target.into());
        self
    }

    /// The identifier the finding names: its target, else the one its rate limit names.
    pub fn identifier(&self) -> Option<&str> {
        self.target.as_deref().or(self
            .rate_limit
            .as_ref()
            .and_then(|r| r.identifier.as_deref()))
    }

    /// Overrides the default severity.
    pub fn with_severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }

    /// Adds a piece of evidence.
    pub fn with_evidence(mut self, evidence: Evidence) -> Finding {
        self.evidence.push(evidence);
        self
    }

    /// The DNS questions among the evidence.
    pub fn dns_evidence(&self) -> impl Iterator<Item = &DnsEvidence> {
        self.evidence.iter().filter_map(|e| match e {
            Evidence::Dns(d) => Some(d),
            _ => None,
        })
    }

    /// The HTTP requests among the evidence.
    pub fn http_evidence(&self) -> impl Iterator<Item = &HttpEvidence> {
        self.evidence.iter().filter_map(|e| match e {
            Evidence::Http(h) => Some(h),
            _ => None,
        })
    }
}

impl HttpEvidence {
    /// One line: `GET URL via ADDR:PORT -> 404 (nginx) in 12 ms`.
    pub fn describe(&self) -> String {
        let via = match (self.address, self.port) {
            (Some(a), Some(p)) => format!(" via {}", std::net::SocketAddr::new(a, p)),
            (Some(a), None) => format!(" via {a}"),
            _ => String::new(),
        };
        let outcome = match (self.status, &self.error) {
            (Some(s), _) => {
                let server = self
                    .server
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                let loc = self
                    .location
                    .as_deref()
                    .map(|l| format!(" -> {l}"))
                    .unwrap_or_default();
                format!("{s}{server}{loc}")
            }
            (None, Some(e)) => format!("error: {e}"),
            (None, None) => "no response".to_owned(),
        };
        format!("GET {}{via}: {outcome} in {} ms", self.url, self.elapsed_ms)
    }
}

impl DnsEvidence {
    /// One line: `ns1.example.com. (192.0.2.1:53) _acme-challenge.x. TXT -> NOERROR [..] serial 7 in 3 ms`.
    pub fn describe(&self) -> String {
        let addr = self.address.map(|a| format!(" ({a})")).unwrap_or_default();
        let outcome = match (&self.rcode, &self.error) {
            (Some(r), _) => {
                let answers = if self.answers.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", self.answers.join(", "))
                };
                let serial = self
                    .soa_serial
                    .map(|s| format!(" serial {s}"))
                    .unwrap_or_default();
                format!("{r}{answers}{serial}")
            }
            (None, Some(e)) => format!("error: {e}"),
            (None, None) => "no answer".to_owned(),
        };
        format!(
            "{}{addr} {} -> {outcome} in {} ms",
            self.server, self.question, self.elapsed_ms
        )
    }
}
