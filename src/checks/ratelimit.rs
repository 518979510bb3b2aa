//! Let's Encrypt rate-limit refusals: which limit, for which identifier, until when.
//!
//! Boulder has worded the same refusals three ways, and all three still turn up in clusters
//! (old Orders are never rewritten, and other Boulder-based CAs lag behind):
//!
//! - the legacy `ratelimit` package in `ra/ra.go`: "too many certificates already issued for
//!   exact set of domains: a.com,b.com", "too many failed authorizations recently", "too many
//!   registrations for this IP", "too many new orders recently", "too many currently pending
//!   authorizations";
//! - the 2022-2024 `ra/ra.go` wording with an RFC 3339 instant: "too many certificates already
//!   issued for \"example.com\". Retry after 2022-09-26T01:29:08Z", "too many certificates (5)
//!   already issued for this exact set of domains in the last 168 hours: a.com, retry after ...";
//! - the `ratelimits` package (`ratelimits/limiter.go`, `Decision.Result`): "too many
//!   certificates (5) already issued for this exact set of identifiers in the last 168h0m0s,
//!   retry after 2025-12-31 04:04:56 UTC", with the documentation anchor appended by
//!   `errors/errors.go`.
//!
//! A paused account (`wfe2/wfe.go`) is reported here too: it is the fifth limit, and the one
//! that waiting does not clear.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Code, Finding, RateLimit};

use super::text::{clean_identifier, retry_after, short};

static PAUSED_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)temporarily prevented from requesting certificates for (.+?)(?: and possibly others|\.\s|\.?$)")
        .expect("valid regex")
});

static VISIT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)please visit:?\s*(https?://[^\s\x22'<>]+)").expect("valid regex")
});

static EXACT_SET_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:too many certificates(?: \((\d+)\))? )?already issued for (?:this |the )?exact set of (?:domains|identifiers|hostnames|names)",
    )
    .expect("valid regex")
});

static PER_DOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)too many certificates(?: \((\d+)\))? already issued\b").expect("valid regex")
});

static FAILED_AUTHZ_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)too many failed authori[sz]ations(?: \((\d+)\))?(?: for "([^"]+)")?"#)
        .expect("valid regex")
});

static NEW_ORDERS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)too many new orders(?: \((\d+)\))?").expect("valid regex"));

static PENDING_AUTHZ_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)too many (?:currently )?pending authori[sz]ations").expect("valid regex")
});

static REGISTRATIONS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)too many (?:new )?registrations(?: \((\d+)\))?(?: (?:for|from) this ([^,:;]+?))?(?: in the last|,|:|;|$)")
        .expect("valid regex")
});

static WINDOW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\bin the last (\d+h\d+m[\d.]+s|\d+m[\d.]+s|[\d.]+s|\d+ (?:hours?|days?|minutes?))",
    )
    .expect("valid regex")
});

static DOCS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)https?://letsencrypt\.org/(?:[a-z-]+/)?docs/([a-z0-9-]+)/?(?:#([a-z0-9-]+))?")
        .expect("valid regex")
});

/// Markers of a rateLimited problem whose wording certdx does not know.
static RATE_LIMITED_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)urn:(?:ietf:params:)?acme:error:ratelimited|there were too many requests of a given type")
        .expect("valid regex")
});

/// "Service busy; retry later." arrives as rateLimited from Boulder's overload shedding, but it is
/// a transient server condition, not a limit the subscriber has spent.
static SERVICE_BUSY_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)service busy").expect("valid regex"));

/// Which of Let's Encrypt's limits a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ExactSet,
    PerDomain,
    FailedAuthz,
    NewOrders,
    PendingAuthz,
    Registrations { ipv6: bool },
    Paused,
    Other,
}

impl Kind {
    fn code(self) -> Code {
        match self {
            Kind::ExactSet => Code::RatelimitDuplicateCertificate,
            Kind::PerDomain => Code::RatelimitCertificatesPerDomain,
            Kind::FailedAuthz => Code::RatelimitFailedAuthorizations,
            Kind::NewOrders => Code::RatelimitNewOrders,
            Kind::PendingAuthz => Code::RatelimitPendingAuthorizations,
            Kind::Registrations { .. } => Code::RatelimitNewRegistrations,
            Kind::Paused => Code::RatelimitAccountPaused,
            Kind::Other => Code::RatelimitOther,
        }
    }

    /// The anchor of the limit on letsencrypt.org/docs/rate-limits, used as the limit when the
    /// refusal gives no number (the legacy wordings never did).
    fn anchor(self) -> Option<&'static str> {
        match self {
            Kind::ExactSet => Some("new-certificates-per-exact-set-of-identifiers"),
            Kind::PerDomain => Some("new-certificates-per-registered-domain"),
            Kind::FailedAuthz => Some("authorization-failures-per-identifier-per-account"),
            Kind::NewOrders => Some("new-orders-per-account"),
            Kind::PendingAuthz => Some("pending-authorizations-per-account"),
            Kind::Registrations { ipv6: false } => Some("new-registrations-per-ip-address"),
            Kind::Registrations { ipv6: true } => Some("new-registrations-per-ipv6-range"),
            Kind::Paused => Some("consecutive-authorization-failures-per-identifier-per-account"),
            Kind::Other => None,
        }
    }
}

/// Whether the text is an ACME rateLimited problem (by type or Boulder's problem title), whatever
/// its wording.
pub fn is_rate_limited(text: &str) -> bool {
    RATE_LIMITED_RE.is_match(text) && !SERVICE_BUSY_RE.is_match(text)
}

/// Classifies a rate-limit refusal: a known Let's Encrypt wording anywhere in `text`, or else any
/// rateLimited problem (as `ratelimit-other`). Returns `None` when the text is not a rate limit.
pub fn classify(text: &str) -> Option<Finding> {
    classify_known(text)
        .or_else(|| is_rate_limited(text).then(|| build(Kind::Other, text, 0, None, None)))
        .or_else(|| {
            let m = HTTP_429_RE.find(text)?;
            CA_CONTEXT_RE
                .is_match(text)
                .then(|| build(Kind::Other, text, m.start(), None, None))
        })
}

/// A bare HTTP 429 (a CA's front end answering with an HTML page instead of a problem
/// document); only the CA's when the text is about ACME, not a DNS provider's API.
static HTTP_429_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b429 Too Many Requests\b|\bHTTP(?:/[\d.]+)? 429\b|status(?: code)?:? 429\b")
        .expect("valid regex")
});
static CA_CONTEXT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bacme\b|acme-v0|letsencrypt|/directory|new-?order|new-?acct|finalize|zerossl")
        .expect("valid regex")
});

/// Classifies only the wordings certdx knows, so a caller can tell a CA's limit from some other
/// service's "too many requests".
pub fn classify_known(text: &str) -> Option<Finding> {
    let has = |needle: &[u8]| {
        text.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if !has(b"too many") && !has(b"exact set of") && !has(b"temporarily prevente") {
        return None;
    }
    if let Some(c) = PAUSED_RE.captures(text) {
        let names: Vec<String> = c[1]
            .split(',')
            .map(clean_identifier)
            .filter(|n| !n.is_empty())
            .collect();
        let start = c.get(0).map_or(0, |m| m.start());
        return Some(build(Kind::Paused, text, start, None, Some(names)));
    }
    if let Some(c) = EXACT_SET_RE.captures(text) {
        let m = c.get(0)?;
        let names = exact_set_names(&text[m.end()..]);
        let count = c.get(1).map(|g| g.as_str().to_owned());
        return Some(build(
            Kind::ExactSet,
            text,
            m.start(),
            count,
            names.map(|n| vec![n]),
        ));
    }
    if let Some(c) = PER_DOMAIN_RE.captures(text) {
        let m = c.get(0)?;
        let count = c.get(1).map(|g| g.as_str().to_owned());
        let names = per_domain_names(&text[m.end()..]);
        return Some(build(Kind::PerDomain, text, m.start(), count, names));
    }
    if let Some(c) = FAILED_AUTHZ_RE.captures(text) {
        let start = c.get(0).map_or(0, |m| m.start());
        let count = c.get(1).map(|g| g.as_str().to_owned());
        let names = c.get(2).map(|g| vec![clean_identifier(g.as_str())]);
        return Some(build(Kind::FailedAuthz, text, start, count, names));
    }
    if let Some(c) = NEW_ORDERS_RE.captures(text) {
        let start = c.get(0).map_or(0, |m| m.start());
        let count = c.get(1).map(|g| g.as_str().to_owned());
        return Some(build(Kind::NewOrders, text, start, count, None));
    }
    if let Some(m) = PENDING_AUTHZ_RE.find(text) {
        return Some(build(Kind::PendingAuthz, text, m.start(), None, None));
    }
    if let Some(c) = REGISTRATIONS_RE.captures(text) {
        let start = c.get(0).map_or(0, |m| m.start());
        let count = c.get(1).map(|g| g.as_str().to_owned());
        let scope = c.get(2).map_or("", |g| g.as_str()).to_ascii_lowercase();
        let ipv6 = scope.contains("range") || scope.contains("/48") || scope.contains("ipv6");
        return Some(build(
            Kind::Registrations { ipv6 },
            text,
            start,
            count,
            None,
        ));
    }
    None
}

/// The identifier set after "exact set of domains", in the 2023 form ("in the last 168 hours:
/// a.com,b.com, retry after ...") and the legacy one ("exact set of domains: a.com,b.com: see").
fn exact_set_names(rest: &str) -> Option<String> {
    let rest = match WINDOW_RE.find(rest) {
        Some(w) if w.start() == 1 => &rest[w.end()..],
        _ => rest,
    };
    let list = rest.strip_prefix(": ")?;
    let lower = list.to_ascii_lowercase();
    let end = [", retry after", ": see", "; ", "\n", ". retry", "\""]
        .iter()
        .filter_map(|stop| lower.find(stop))
        .min()
        .unwrap_or(list.len());
    let names: Vec<String> = list[..end]
        .split([',', ' '])
        .map(clean_identifier)
        .filter(|n| !n.is_empty() && n.contains('.'))
        .collect();
    (!names.is_empty()).then(|| names.join(","))
}

static QUOTED_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*"([^"]+)""#).expect("valid regex"));
static MULTIPLE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*multiple names \("?([^"\s)]+)"? and (\d+) others?\)"#).expect("valid regex")
});
static COLON_NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^:\s*([A-Za-z0-9*_.-]+\.[A-Za-z0-9-]+)").expect("valid regex"));

/// The registered domain after "already issued for", in its quoted, colon and "multiple names"
/// forms; the bare subproblem form ("too many certificates already issued") names none.
fn per_domain_names(rest: &str) -> Option<Vec<String>> {
    let rest = rest.strip_prefix(" for").unwrap_or(rest);
    if let Some(c) = MULTIPLE_RE.captures(rest) {
        return Some(vec![
            clean_identifier(&c[1]),
            format!("and {} others", &c[2]),
        ]);
    }
    if let Some(c) = QUOTED_RE.captures(rest) {
        return Some(vec![clean_identifier(&c[1])]);
    }
    COLON_NAME_RE
        .captures(rest)
        .map(|c| vec![clean_identifier(&c[1])])
}

/// Turns what was read into a finding: limit, identifier, retry-after, summary and detail.
fn build(
    kind: Kind,
    text: &str,
    start: usize,
    count: Option<String>,
    names: Option<Vec<String>>,
) -> Finding {
    let from = &text[start..];
    let window = WINDOW_RE.captures(from).map(|c| c[1].to_owned());
    let retry = retry_after(from).or_else(|| retry_after(text));
    let docs = DOCS_RE.captures(from).or_else(|| DOCS_RE.captures(text));
    let limit = match (&count, &window) {
        (Some(n), Some(w)) => Some(format!("{n} per {w}")),
        (Some(n), None) => Some(n.clone()),
        _ => docs
            .as_ref()
            .and_then(docs_anchor)
            .or_else(|| kind.anchor().map(str::to_owned)),
    };
    let names = names.unwrap_or_default();
    let identifier = names.first().cloned();
    let named = match names.len() {
        0 => None,
        1 => Some(names[0].clone()),
        _ if names[1].starts_with("and ") => Some(names.join(" ")),
        _ => Some(names.join(", ")),
    };

    let scope = match kind {
        Kind::NewOrders | Kind::PendingAuthz => " for this ACME account".to_owned(),
        Kind::Registrations { ipv6: false } => " from this IP address".to_owned(),
        Kind::Registrations { ipv6: true } => " from this IPv6 /48 range".to_owned(),
        _ => named
            .as_ref()
            .map(|n| format!(" for {n}"))
            .unwrap_or_default(),
    };
    let label = match kind {
        Kind::ExactSet => "Duplicate-certificate limit hit",
        Kind::PerDomain => "Certificates-per-registered-domain limit hit",
        Kind::FailedAuthz => "Failed-authorizations limit hit",
        Kind::NewOrders => "New-orders limit hit",
        Kind::PendingAuthz => "Pending-authorizations limit hit",
        Kind::Registrations { .. } => "New-account limit hit",
        Kind::Paused => "ACME account paused",
        Kind::Other => "The CA rate-limited the request",
    };
    let mut summary = format!("{label}{scope}");
    match kind {
        Kind::Paused => summary
            .push_str(" after repeated failed validations; only the CA's unpause portal lifts it"),
        Kind::Other => {
            let what = short(rate_limited_detail(text), 120);
            let what = what
                .trim_end_matches(|c: char| c == ',' || c == ':' || c == ';' || c.is_whitespace());
            if !what.is_empty() {
                summary.push_str(": ");
                summary.push_str(what);
            }
        }
        _ => {
            if let Some(l) = count.as_ref().and(limit.as_ref()) {
                summary.push_str(&format!(" ({l})"));
            }
        }
    }
    if let Some(t) = retry {
        summary.push_str(&format!("; retry after {t}"));
    }

    let mut detail = short(from.trim(), 600);
    // A redacted token leaves no usable link (`[token redacted]` is cut at its space).
    let unpause = VISIT_RE
        .captures(text)
        .map(|c| c[1].trim_end_matches(['.', ',', ';', ')']).to_owned())
        .filter(|u| !u.contains('['));
    if kind == Kind::Paused
        && let Some(url) = &unpause
        && !detail.contains(url.as_str())
    {
        detail.push_str(&format!(" (unpause at {url})"));
    }
    let mut finding = Finding::new(kind.code(), summary).with_detail(detail);
    finding.advice = timed_advice(&finding.advice, retry);
    if kind == Kind::Paused {
        if let Some(url) = &unpause {
            finding.advice = format!(
                "Fix the validation problem first (`certdx check`), then unpause the account at {url} and renew. Retrying before that only adds failed validations: the pause stays until it is lifted there."
            );
        }
        finding.paused = Some(crate::model::Paused {
            unpause_url: unpause.clone(),
        });
    }
    finding.rate_limit = Some(RateLimit {
        limit,
        identifier,
        retry_after: retry,
    });
    finding
}

/// The catalogue's advice with the real retry-after instant, or, when the CA gave none, without
/// a promise of one.
pub(crate) fn timed_advice(advice: &str, retry: Option<jiff::Timestamp>) -> String {
    static WAIT_RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"([Ww])ait until the retry-after time(?: \(if given\))?").expect("valid regex")
    });
    let with = match retry {
        Some(at) => format!("${{1}}ait until {at}"),
        None => {
            "${1}ait for the limit's window to pass (the CA gave no retry-after time)".to_owned()
        }
    };
    WAIT_RE.replace_all(advice, with.as_str()).into_owned()
}

/// The limit a documentation link names: its anchor, or the page when it is a per-limit page
/// (`duplicate-certificate-limit`); the bare rate-limits page names no limit.
fn docs_anchor(docs: &regex::Captures<'_>) -> Option<String> {
    if let Some(anchor) = docs.get(2) {
        return Some(anchor.as_str().to_owned());
    }
    let page = docs.get(1)?.as_str();
    (!page.eq_ignore_ascii_case("rate-limits")).then(|| page.to_owned())
}

/// The problem detail after a rateLimited type, without the retry instant and documentation
/// link the summary states separately, for the one-line summary of an unknown limit.
fn rate_limited_detail(text: &str) -> &str {
    let detail = match RATE_LIMITED_RE.find(text) {
        Some(m) => {
            text[m.end()..].trim_start_matches(|c: char| c == ':' || c == '"' || c.is_whitespace())
        }
        None => text,
    };
    let lower = detail.to_ascii_lowercase();
    let end = ["retry after", ": see http", "see http"]
        .iter()
        .filter_map(|s| lower.find(s))
        .min();
    &detail[..end.unwrap_or(detail.len())]
}
