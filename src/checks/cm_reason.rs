//! cert-manager's own reasons: its HTTP-01 and DNS-01 self-checks, the solvers, the Issuer's
//! ACME account, and the issuance backoff.
//!
//! These texts never reach the CA, so they carry no ACME problem type; the wordings come from
//! cert-manager's sources (`pkg/issuer/acme/http/http.go` `testReachability`,
//! `pkg/issuer/acme/dns/util/wait.go`, `pkg/issuer/acme/dns/dns.go`, `pkg/issuer/acme/setup.go`,
//! `pkg/controller/acmeorders/sync.go`, `pkg/controller/certificates/trigger`) and the messages
//! users quote in its issue tracker.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Code, Finding, RateLimit};

use super::text::{challenge_identifier, clean_identifier, go_error_gist, regex as re, short};

static BACKOFF_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)backing off from issuance due to previously failed issuance\(s\)|not re-issuing certificate as an attempt has been made in the last hour|applying acme order back-?off|order back-?off",
    )
});
static BACKOFF_WHEN_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)issuance will (?:next be attempted at|be retried after|be retried at|next be retried at)\s+",
    )
});

static ACCOUNT_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?is)failed to (register|verify|update|create) (?:the |an )?ACME account:?\s*(.*)|error (initiali[sz]ing) issuer:?\s*(.*)",
    )
});
/// cert-manager saying it looked the issuer up and found nothing (v1: the request
/// controllers; v0.x: the API error of the lookup).
static ISSUER_NOT_FOUND_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)referenced "?((?:cluster)?issuer)"? not found(?:: [^"]*"([^"]+)" not found)?|\b(cluster)?issuers?\.cert-?manager\.(?:io|k8s\.io) "([^"]+)" not found|referenced signer resource does not exist"#,
    )
});
static REFERENCED_NOT_READY_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)referenced (?:cluster)?issuer does not have a ready status condition")
});
static ISSUER_NOT_READY_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b((?:cluster)?issuer)(?:\s+"?([a-z0-9][a-z0-9./-]*)"?)?\s+(?:is\s+)?not\s+(?:yet\s+)?ready\b"#,
    )
});
static EAB_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)externalAccountRequired|external account binding|\bEAB\b"));
static ISSUER_SETUP_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)ACME client for issuer (?:not|is not|has not|was not)|error getting keypair for CA issuer|account private key is invalid|disableAccountKeyGeneration|acme server url is set to a v1 endpoint|failed to initiali[sz]e vault client|error initiali[sz]ing issuer|\bErr(?:GetKeyPair|InitIssuer|RegisterACMEAccount|VerifyACMEAccount|UpdateACMEAccount)\b",
    )
});

static SOLVER_NO_MATCH_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)no configured challenge solvers can be used for this challenge|failed to determine a valid solver configuration|no configured and supported challenge type|error picking challenge type",
    )
});

static ZONE_RES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r#"(?i)when querying the SOA record for the domain '([^']+)' using nameservers \[([^\]]*)\], rcode was expected to be [^,]*?,? but got '(\w+)'"#,
        r#"(?i)could not find the SOA record in the DNS tree for the domain '([^']+)'"#,
        r#"(?i)could not determine the zone(?: for "?([^"\s:]+)"?)?(?:: Unexpected response code '\w+' for ([^\s"]+))?"#,
        r#"(?i)could not find the start of authority(?: for '?([^'\s:]+)'?)?"#,
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

static PRESENT_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)error presenting (?:challenge|token)|\bPresentError\b|failed to present (?:the )?challenge",
    )
});
static PRESENT_PREFIX_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:error presenting (?:challenge|token)|failed to present (?:the )?challenge):?\s*")
});
/// Which solver an error comes from, so the summary names the system to look at; the HTTP-01
/// entry comes before "webhook" because ingress controllers reject solver Ingresses through
/// admission webhooks.
static PROVIDER_RES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"(?i)route ?53", "Route 53"),
        (r"(?i)cloudflare", "Cloudflare"),
        (r"(?i)googleapi|clouddns|cloud dns", "Google Cloud DNS"),
        (r"(?i)azure", "Azure DNS"),
        (r"(?i)digitalocean|digital ocean", "DigitalOcean"),
        (r"(?i)akamai|edgedns", "Akamai"),
        (r"(?i)acme-?dns", "acme-dns"),
        (r"(?i)rfc2136|\btsig\b|DNS update failed", "RFC 2136"),
        (r"(?i)http-?01|ingress|gateway|httproute", "HTTP-01"),
        (r"(?i)webhook", "webhook"),
    ]
    .iter()
    .map(|(p, n)| (re(p), *n))
    .collect()
});
static CLEANUP_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)error cleaning up challenge|\bCleanUpError\b"));
/// Provider errors that reach a Challenge's reason without the "Error presenting challenge"
/// prefix (cert-manager sets status.reason to the bare error).
static PROVIDER_ERROR_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)failed to (?:determine|change|find|get|create|update|delete|list|query) (?:the )?Route ?53|Cloudflare API Error|while querying the Cloudflare API|googleapi: Error \d+|azure\.BearerAuthorizer|DigitalOcean API|acme-?dns: |rfc2136: |DNS update failed|error instantiating \S+ challenge solver|Error (?:upserting|creating|deleting|updating) TXT|(?:GoogleCloud|Cloudflare|Azure|DigitalOcean|Route ?53) API|api\.digitalocean\.com|api\.cloudflare\.com|unable to find \S+ dns zone|while attempting to find Zones|the server could not find the requested resource|the server is currently unable to handle the request",
    )
});

static WRONG_STATUS_RE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)wrong status code '(\d{3})'"));
/// The self-check's wrong body: v1's wording, or v0.x's "presented key (BODY) did not match
/// expected (KEY)".
static WRONG_BODY_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?is)did not get expected response when querying endpoint, expected "[^"]*" but got:? ?(?P<got>.*)|presented key \((?P<old>.*?)\) did not match expected"#,
    )
});
/// The self-check's failed GET; v0.x said "could not reach".
static SELF_CHECK_GET_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?is)(?:failed to perform self check GET request|could not reach) '([^']*)':?\s*(.*)")
});
/// A self-check that failed without saying why (or with a cause no pattern above knows).
static SELF_CHECK_FAILED_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)propagation check failed|self[- ]check failed|waiting for (?:http|dns)-01 challenge propagation",
    )
});
static READ_BODY_RE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)failed to read response body"));

static NS_RCODE_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\bNS ([^\s,]+) returned (\w+) for ([^\s",]+)"#));
static NOT_PROPAGATED_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)DNS record for "?([^"\s]+)"? not yet propagated|(timed out waiting for (?:the )?record to (?:fully )?propagate)"#,
    )
});
static NS_DIAL_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:dial|read|write) (?:udp|tcp)[46]? (?:\S+->)?\[?([0-9a-f.:]+?)\]?:53:?\s*(i/o timeout|connect: [^;\x22]+|[^;\x22]*?refused|no route to host)",
    )
});

/// A dial error to port 53 is only the DNS-01 self-check's when the text is about DNS-01; the
/// same error while resolving the ACME server is a cluster DNS problem, not a nameserver's.
static DNS01_CONTEXT_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)dns-?01|_acme-challenge|challenge propagation|propagation check"));
static ORDER_EXPIRED_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)order is in "expired" state"#));
static ORDER_NO_REASON_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)order is in "invalid" state:?\s*"?\s*$"#));
/// The name a structured log line carries (`dnsName="x"`, `"dnsName"="x"`).
static DNS_NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\bdnsName"?\s*[=:]\s*"?([^"\s,]+)"#));

/// Classifies a cert-manager reason, condition message or event that is about cert-manager's own
/// work rather than a problem the CA returned. Returns `None` for anything else.
///
/// A failed account call is not among them: cert-manager only wraps the CA's answer there, see
/// [`account_wrapper`].
pub fn classify(text: &str) -> Option<Finding> {
    backoff(text)
        .or_else(|| issuer_not_found(text))
        .or_else(|| solver_no_match(text))
        .or_else(|| zone_not_found(text))
        .or_else(|| present_failed(text))
        .or_else(|| http01_self_check(text))
        .or_else(|| dns01_self_check(text))
        .or_else(|| issuer_not_ready(text))
        .or_else(|| order_without_reason(text))
        .or_else(|| order_expired(text))
        .or_else(|| self_check_failed(text))
}

/// The trigger controller's backoff: 1 h after the first failure, doubling to 32 h.
fn backoff(text: &str) -> Option<Finding> {
    let m = BACKOFF_RE.find(text)?;
    let when = BACKOFF_WHEN_RE
        .find(&text[m.end()..])
        .and_then(|w| super::text::parse_timestamp(&text[m.end() + w.end()..]));
    let summary = match when {
        Some(t) => {
            format!("cert-manager is backing off after failed issuance; next attempt at {t}")
        }
        None => "cert-manager is backing off after failed issuance".to_owned(),
    };
    let mut f =
        Finding::new(Code::IssuanceBackoff, summary).with_detail(short(&text[m.start()..], 600));
    f.rate_limit = when.map(|t| RateLimit {
        retry_after: Some(t),
        ..RateLimit::default()
    });
    Some(f)
}

/// The ACME issuer's account setup (`setup.go`): registration, verification or update failed.
/// This wraps the CA's answer (or the network's): the caller reports that answer first.
pub fn account_wrapper(text: &str) -> Option<Finding> {
    let c = ACCOUNT_RE.captures(text)?;
    let (verb, inner) = match c.get(1) {
        Some(v) => (v.as_str().to_ascii_lowercase(), c.get(2)),
        None => ("set up".to_owned(), c.get(4)),
    };
    let inner = inner.map_or("", |m| m.as_str()).trim();
    let lower = inner.to_ascii_lowercase();
    let why = if EAB_RE.is_match(inner) {
        "External Account Binding is missing or wrong".to_owned()
    } else if lower.contains("accountdoesnotexist") || lower.contains("no account exists") {
        "the CA does not know this account key".to_owned()
    } else if [
        "no such host",
        "i/o timeout",
        "connection refused",
        "context deadline",
        "client.timeout",
        "x509:",
        "tls:",
        "no route to host",
    ]
    .iter()
    .any(|s| lower.contains(s))
    {
        format!("cannot reach the ACME server ({})", go_error_gist(inner))
    } else if inner.is_empty() {
        "no reason given".to_owned()
    } else {
        short(&strip_problem_type(inner), 140)
    };
    let summary = if verb == "set up" {
        format!("The Issuer could not be set up: {why}")
    } else {
        format!("The Issuer could not {verb} its ACME account: {why}")
    };
    Some(
        Finding::new(Code::IssuerNotReady, summary)
            .with_detail(short(c.get(0).map_or(text, |m| m.as_str()), 600)),
    )
}

/// Issuer states other than a failed account call: not Ready, not found, EAB or key problems.
fn issuer_not_ready(text: &str) -> Option<Finding> {
    let summary = if REFERENCED_NOT_READY_RE.is_match(text) {
        "The referenced Issuer is not Ready; its Ready condition says why".to_owned()
    } else if let Some(c) = ISSUER_NOT_READY_RE.captures(text).filter(|c| {
        !c.get(2)
            .is_some_and(|n| n.as_str().eq_ignore_ascii_case("is"))
    }) {
        match c.get(2) {
            Some(name) => format!("{} {} is not Ready", capitalise(&c[1]), name.as_str()),
            None => format!("The {} is not Ready", &c[1]),
        }
    } else if ISSUER_SETUP_RE.is_match(text) {
        format!("The Issuer is not Ready: {}", short(text, 140))
    } else {
        return None;
    };
    Some(Finding::new(Code::IssuerNotReady, summary).with_detail(short(text.trim(), 600)))
}

/// cert-manager looked the issuer up and it was not there: cert-manager's own lookup proves it,
/// unlike an issuer merely missing from a dump.
fn issuer_not_found(text: &str) -> Option<Finding> {
    let c = ISSUER_NOT_FOUND_RE.captures(text)?;
    let kind = match (c.get(1), c.get(3)) {
        (Some(k), _) if k.as_str().eq_ignore_ascii_case("clusterissuer") => "ClusterIssuer",
        (_, Some(_)) => "ClusterIssuer",
        _ => "Issuer",
    };
    let summary = match c.get(2).or(c.get(4)) {
        Some(name) => format!("cert-manager found no {kind} {}", name.as_str()),
        None => format!("cert-manager found no {kind} by the referenced name"),
    };
    Some(Finding::new(Code::IssuerNotFound, summary).with_detail(short(text.trim(), 600)))
}

/// A self-check failure whose cause no pattern above recognised (older cert-manager said
/// nothing more than "propagation check failed").
fn self_check_failed(text: &str) -> Option<Finding> {
    let m = SELF_CHECK_FAILED_RE.find(text)?;
    let rest = text[m.end()..].trim_start_matches([':', ' ', '"']).trim();
    let summary = if rest.is_empty() {
        "cert-manager's self-check failed without saying why".to_owned()
    } else {
        format!("cert-manager's self-check failed: {}", short(rest, 140))
    };
    Some(Finding::new(Code::SelfcheckFailed, summary).with_detail(short(&text[m.start()..], 600)))
}

/// The order controller's "no configured challenge solvers can be used for this challenge".
fn solver_no_match(text: &str) -> Option<Finding> {
    SOLVER_NO_MATCH_RE.find(text)?;
    let summary = "No solver of the Issuer can be used for this name: check the solvers' selectors (dnsNames, dnsZones, matchLabels); wildcards need DNS-01";
    Some(Finding::new(Code::SolverNoMatch, summary).with_detail(short(text.trim(), 600)))
}

/// Finding the zone (SOA) of the challenge name failed, during present or the self-check.
fn zone_not_found(text: &str) -> Option<Finding> {
    let (i, c) = ZONE_RES
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.captures(text).map(|c| (i, c)))?;
    let name = c
        .get(1)
        .or(c.get(2).filter(|_| i == 2))
        .map(|n| challenge_identifier(n.as_str()));
    let summary = match (i, &name) {
        (0, Some(n)) => format!(
            "cert-manager could not find the zone of {n}: the SOA query to [{}] got {}",
            &c[2], &c[3]
        ),
        (_, Some(n)) => format!("cert-manager could not find the zone (SOA) of {n}"),
        (_, None) => "cert-manager could not find the zone (SOA) of the challenge name".to_owned(),
    };
    let start = c.get(0).map_or(0, |m| m.start());
    let mut f = Finding::new(Code::SelfcheckDns01ZoneNotFound, summary)
        .with_detail(short(&text[start..], 600));
    f.target = name;
    Some(f)
}

/// A solver's Present call failed: a DNS provider's API error, or the HTTP-01 resources.
fn present_failed(text: &str) -> Option<Finding> {
    let start = match PRESENT_RE.find(text) {
        Some(_) => PRESENT_PREFIX_RE.find(text).map_or(0, |m| m.end()),
        None => PROVIDER_ERROR_RE.find(text)?.start(),
    };
    let inner = &text[start..];
    let provider = PROVIDER_RES
        .iter()
        .find(|(r, _)| r.is_match(inner))
        .map(|(_, n)| *n);
    let who = provider
        .map(|p| format!("The {p} solver"))
        .unwrap_or_else(|| "The solver".to_owned());
    // cert-manager retries a failed cleanup on its own; it matters less than a failed present.
    let verb = if CLEANUP_RE.is_match(text) {
        "clean up"
    } else {
        "present"
    };
    let summary = format!(
        "{who} failed to {verb} the challenge: {}",
        short(inner, 140)
    );
    Some(Finding::new(Code::SolverPresentFailed, summary).with_detail(short(inner.trim(), 600)))
}

/// The HTTP-01 self-check (`testReachability`): status, body or the request itself.
fn http01_self_check(text: &str) -> Option<Finding> {
    let name = DNS_NAME_RE.captures(text).map(|c| clean_identifier(&c[1]));
    let for_name = name
        .as_ref()
        .map(|n| format!(" for {n}"))
        .unwrap_or_default();
    if let Some(c) = WRONG_STATUS_RE.captures(text) {
        let summary = format!(
            "cert-manager's HTTP-01 self-check{for_name} got HTTP {} instead of 200",
            &c[1]
        );
        let start = c.get(0).map_or(0, |m| m.start());
        return Some(
            Finding::new(Code::SelfcheckHttp01WrongStatus, summary)
                .with_detail(short(&text[start..], 600)),
        );
    }
    if let Some(c) = WRONG_BODY_RE.captures(text) {
        let got = c
            .name("got")
            .or(c.name("old"))
            .map_or("", |m| m.as_str())
            .trim();
        let got = if got.is_empty() {
            "an empty body".to_owned()
        } else {
            format!("\"{}\"", short(got, 40))
        };
        let summary = format!(
            "cert-manager's HTTP-01 self-check{for_name} got {got} instead of the key authorization"
        );
        let start = c.get(0).map_or(0, |m| m.start());
        return Some(
            Finding::new(Code::SelfcheckHttp01WrongBody, summary)
                .with_detail(short(&text[start..], 600)),
        );
    }
    if let Some(c) = SELF_CHECK_GET_RE.captures(text) {
        let url = &c[1];
        let why = go_error_gist(c.get(2).map_or("", |m| m.as_str()));
        let summary = format!("cert-manager's HTTP-01 self-check could not GET {url}: {why}");
        let start = c.get(0).map_or(0, |m| m.start());
        return Some(
            Finding::new(Code::SelfcheckHttp01RequestFailed, summary)
                .with_detail(short(&text[start..], 600)),
        );
    }
    if let Some(m) = READ_BODY_RE.find(text) {
        let summary =
            format!("cert-manager's HTTP-01 self-check{for_name} could not read the response body");
        return Some(
            Finding::new(Code::SelfcheckHttp01RequestFailed, summary)
                .with_detail(short(&text[m.start()..], 600)),
        );
    }
    None
}

/// The DNS-01 self-check (`checkDNSPropagation`): a nameserver's rcode, a TXT not yet there, or
/// a nameserver that cannot be reached.
fn dns01_self_check(text: &str) -> Option<Finding> {
    if let Some(c) = NS_RCODE_RE.captures(text) {
        let summary = format!(
            "Nameserver {} answered {} to cert-manager's DNS-01 self-check for {}",
            clean_identifier(&c[1]).replace(".:", ":"),
            c[2].to_ascii_uppercase(),
            clean_identifier(&c[3])
        );
        let start = c.get(0).map_or(0, |m| m.start());
        return Some(
            Finding::new(Code::SelfcheckDns01NsError, summary)
                .with_detail(short(&text[start..], 600)),
        );
    }
    if let Some(c) = NOT_PROPAGATED_RE.captures(text) {
        let summary = match c.get(1) {
            Some(name) => format!(
                "cert-manager's DNS-01 self-check does not yet see the TXT record for {} on every authoritative nameserver",
                clean_identifier(name.as_str())
            ),
            None => "The client's DNS-01 propagation check gave up waiting for the TXT record on the authoritative nameservers".to_owned(),
        };
        return Some(
            Finding::new(Code::SelfcheckDns01NotPropagated, summary)
                .with_detail(short(text.trim(), 600)),
        );
    }
    if let Some(c) = NS_DIAL_RE
        .captures(text)
        .filter(|_| DNS01_CONTEXT_RE.is_match(text))
    {
        let summary = format!(
            "cert-manager's DNS-01 self-check could not reach nameserver {}:53 ({})",
            &c[1],
            short(c[2].trim(), 60)
        );
        return Some(
            Finding::new(Code::SelfcheckDns01NsError, summary).with_detail(short(text.trim(), 600)),
        );
    }
    None
}

/// "order is in \"invalid\" state: " with nothing after it: the CA gave the Order no error.
fn order_without_reason(text: &str) -> Option<Finding> {
    ORDER_NO_REASON_RE.find(text.trim_end())?;
    let summary =
        "The Order is invalid and the CA gave no reason: the cause is on its failed Challenge";
    Some(Finding::new(Code::OrderFailedNoReason, summary).with_detail(short(text.trim(), 600)))
}

/// An Order that expired before its authorizations completed (cert-manager's "expired" state).
fn order_expired(text: &str) -> Option<Finding> {
    ORDER_EXPIRED_RE.find(text)?;
    let summary = "The Order expired before validation completed";
    Some(Finding::new(Code::ExpiredOrder, summary).with_detail(short(text.trim(), 600)))
}

/// `400 urn:ietf:params:acme:error:malformed: detail` -> `malformed: detail`, for summaries.
fn strip_problem_type(text: &str) -> String {
    static TYPE_RE: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)(?:\b\d{3}\s+)?urn:(?:ietf:params:)?acme:error:"));
    TYPE_RE.replace_all(text.trim(), "").into_owned()
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
