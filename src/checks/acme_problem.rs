//! ACME problem documents (RFC 8555 section 6.7) as they reach cert-manager's conditions and events.
//!
//! cert-manager prints a problem as `<status> <type>: <detail>` (its fork of `x/crypto/acme`,
//! `Error.Error()`), appends subproblems as `; subproblems:\n\t<type>: [dns: name] <detail>`, and
//! wraps it in its own context ("Error accepting authorization: acme: authorization error for
//! x: ..."). Other clients print `type :: detail` or JSON. The problem type decides the code;
//! the detail (Boulder's VA wording, `va/http.go`, `va/dns.go`, `va/caa.go`) gives the specifics.
//! When no type is present at all (a detail copied by hand), the VA wording alone is used.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Code, Finding};

use super::ratelimit;

mod secondary;
use super::text::{challenge_identifier, clean_identifier, go_error_gist, short};
use secondary::{SECONDARY_RE, push_secondary};

/// A problem type, optionally preceded by the HTTP status cert-manager prints before it. Covers
/// RFC 8555 (`urn:ietf:params:acme:error:`) and ACME v1 (`urn:acme:error:`) types.
static URN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\b(\d{3})\s+)?urn:(?:ietf:params:)?acme:error:([A-Za-z]+)")
        .expect("valid regex")
});

/// The detail member of a problem printed as JSON or as a Rust/Go struct.
static DETAIL_KEY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bdetail"?\s*[:=]\s*(?:Some\()?"((?:[^"\\]|\\.)*)""#).expect("valid regex")
});

/// The identifier cert-manager's fork prints at the start of a subproblem.
static SUBPROBLEM_IDENT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\[(?:dns|ip):\s*([^\]]+)\]\s*").expect("valid regex"));

/// The identifier of `x/crypto/acme`'s AuthorizationError.
static AUTHZ_FOR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)authorization error for ([^\s:;]+):").expect("valid regex"));

/// Where Boulder's details name the identifier, most specific first.
static DETAIL_IDENT_RES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?i)while processing CAA for ([^\s;,:]+)",
        r#"(?i)cannot issue for "([^"]+)""#,
        r"(?i)looking up [A-Za-z]+ for ([^\s;,]+)",
        r"(?i)CAA record for ([^\s;,]+)",
        r#"(?i)rechecking CAA for "?([^"\s]+)"?"#,
        r"(?i)(?:invalid response from|fetching) [a-z]+://([^/\s:\[\]]+)",
        r"(?i)(?:TXT records? found at|TXT record \x22[^\x22]*\x22 (?:\(and \d+ more\) )?found at|TXT record \.\.\. found at) ([^\s;,]+)",
        r"(?i)no valid A{1,4} records found for ([^\s;,]+)",
        r"(?i)no valid IP addresses found for ([^\s;,]+)",
        r#"(?i)DNS challenge\s*:\s*"([^"]+)""#,
        r"(?i)non-200 status code from HTTP: https?://([^/\s:\[\]]+)",
        r#"(?i)\bfor "([^"]+)""#,
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});

/// Boulder's context prefixes ("Error creating new order :: ") say where, not what.
static BOULDER_PREFIX_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[A-Z][A-Za-z ]{2,60} :: )+").expect("valid regex"));

/// An IPv4 or IPv6 address as Boulder prefixes it to a validation error.
const IP: &str = r"\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]+";

static INVALID_RESPONSE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)(?:({IP}): )?invalid response from (https?://[^\s\[\]]+?)(?:\s*\[({IP})\])?:\s*(?:(\d{{3}})\b|"(.{{0,60}}))"#
    ))
    .expect("valid regex")
});
/// Pebble's wording for a non-200 answer (`va/va.go`), which Pebble-based tests see.
static NON_200_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)non-200 status code from HTTP: (https?://\S+) returned (\d{3})")
        .expect("valid regex")
});
static NO_TXT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)no TXT records? found (?:at|for) (?:DNS challenge\s*:?\s*)?([^\s;,]+)")
        .expect("valid regex")
});
static DNS01_VALUE_MISMATCH_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)correct value not found for DNS challenge\s*:?\s*"?([^"\s;,]*)"#)
        .expect("valid regex")
});
static WRONG_TXT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)incorrect TXT record "[^"]*" found at ([^\s;,]+)"#).expect("valid regex")
});
static TXT_NXDOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)NXDOMAIN looking up TXT for (_acme-challenge\.[^\s;,]+?)(?:[\s;,]|:?$)")
        .expect("valid regex")
});
static KEY_AUTHZ_MISMATCH_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)key authorization file from the server did not match").expect("valid regex")
});
static DNS_PROBLEM_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)DNS problem: (?:(.*?)\s*)?looking up ([A-Za-z]+) for ([^\s;,]+?)(?::\s*([^;]{1,80})|\s+-\s|[\s;,]|:?$)",
    )
    .expect("valid regex")
});
static NO_VALID_IP_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)no valid IP addresses found for ([^\s;,]+)").expect("valid regex")
});
static CAA_PREVENTS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)CAA record for ([^\s;,]+) prevents issuance").expect("valid regex")
});
static FETCH_FAILED_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        &format!(r"(?:({IP}): )?Fetching (https?://\S+?): (Timeout during connect \(likely firewall problem\)|Timeout after connect[^;]*?|Timeout during read[^;]*?|Connection refused|Connection reset by peer|Error getting validation data|[^;]{{1,80}}?)(?:;|$)"
        ),
    )
    .expect("valid regex")
});
/// A Go net/http error as Pebble's VA returns it for a failed fetch.
static GO_GET_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\bGet "?(https?://[^"\s]+)"?: (.+)"#).expect("valid regex"));
static CANNOT_ISSUE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)cannot issue for "([^"]+)": (.+?)(?:\s*\(and \d+ more problems?|;|$)"#)
        .expect("valid regex")
});

/// What the VA and the WFE say when no problem type was kept, in the order they are checked:
/// the first that matches decides the code.
static WORDINGS: LazyLock<Vec<(Regex, Code)>> = LazyLock::new(|| {
    [
        (
            r"(?i)service busy|service is down for maintenance|\bRPC (?:failed|canceled)\b|SCT embedding|internal (?:server )?error|serverInternal|currently overloaded|An error occurred while processing your request|Response \[5\d\d\]",
            Code::AcmeServerError,
        ),
        (r"(?i)JWS has (?:an? )?(?:invalid|no) anti-replay nonce|unacceptable anti-replay nonce|\bbadNonce\b", Code::AcmeBadNonce),
        (r"(?i)DNS problem: |no valid IP addresses found for|no valid A{1,4} records found for|could not resolve host|DNS lookup failed for", Code::AcmeDns),
        (r"(?i)CAA record for \S+ prevents issuance|rechecking CAA for|CAA records? forbids?", Code::AcmeCaa),
        (
            r"(?i)invalid response from https?://|key authorization file from the server did not match|no TXT records? found (?:at|for)|incorrect TXT record|non-200 status code from HTTP|correct value not found for DNS challenge|authorization for identifier \S+ is invalid|authorization error for\s*:",
            Code::AcmeUnauthorized,
        ),
        (
            r"(?:Timeout during connect|Timeout after connect|Error getting validation data|Connection refused|Connection reset by peer|Fetching [a-z]+://\S+: |(?i)redirect target|disallowed redirect|too many redirects)",
            Code::AcmeConnection,
        ),
        (
            EMPTY_PROBLEM,
            Code::AcmeOther,
        ),
        (
            r"(?i)cannot issue for \x22|policy forbids issuing for name|refuses to issue a certificate for this domain name|name is (?:blacklisted|blocklisted|blocked)|is on the block ?list|Name is an IANA reserved name|Issuance for IP addresses not supported|high-?risk|forbidden by policy",
            Code::AcmeRejectedIdentifier,
        ),
    ]
    .iter()
    .map(|(p, c)| (Regex::new(p).expect("valid regex"), *c))
    .collect()
});

/// A 5xx answer without a problem document, as cert-manager's fork prints it (`503 : <body>`) or
/// as an HTTP status line.
static SERVER_STATUS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(5\d\d)(?: :\s| Internal Server Error| Bad Gateway| Service (?:Temporarily )?Unavailable| Gateway Time-?out)")
        .expect("valid regex")
});
/// Only an answer from an ACME server is an ACME server error; a 5xx from an admission webhook or
/// a DNS provider is someone else's.
static ACME_CONTEXT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bacme\b|acme-v0|\border\b|letsencrypt|zerossl").expect("valid regex")
});

/// CertMagic prints a problem as "HTTP <status> <type> - <detail>"; all empty is an answer
/// without a problem document. What may follow is the end of the field, or a name pair the
/// unwrap step appended.
const EMPTY_PROBLEM: &str = r"\bHTTP 0 +- *(?:$|[\x22\n]|\w+=)";
static EMPTY_PROBLEM_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(EMPTY_PROBLEM).expect("valid regex"));

/// One problem found in a text: a top-level problem or a subproblem.
#[derive(Debug)]
struct Problem<'a> {
    status: Option<u16>,
    kind: String,
    identifier: Option<String>,
    /// Printed as a subproblem (`[dns: name]`), not as a top-level problem.
    subproblem: bool,
    detail: &'a str,
    /// The text of this problem and what follows it, for wordings that refer to it.
    segment: &'a str,
}

/// Finds every ACME problem in `text` and classifies each into a finding, one per distinct
/// problem and identifier. Falls back to Boulder's wording when no problem type is printed.
pub fn classify(text: &str) -> Vec<Finding> {
    let problems = problems(text);
    if problems.is_empty() {
        return classify_wording(text);
    }
    let has_subproblems = problems.iter().any(|p| p.subproblem);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in &problems {
        // A compound problem only says "see the subproblems"; they carry the causes.
        if has_subproblems
            && !p.subproblem
            && (p.kind.eq_ignore_ascii_case("compound") || REFER_SUBPROBLEMS_RE.is_match(p.detail))
        {
            continue;
        }
        let (finding, identifier) = classify_problem(p);
        let key = (
            finding.code,
            identifier
                .clone()
                .unwrap_or_else(|| finding.summary.clone()),
        );
        if seen.insert(key) {
            out.push(finding);
            push_secondary(&mut out, p.detail, identifier.as_deref());
        }
    }
    out
}

/// Boulder's top-level line over per-identifier subproblems ("Refer to sub-problems for more
/// information"): the subproblems carry the causes.
static REFER_SUBPROBLEMS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)refer to sub-?problems").expect("valid regex"));

/// Splits the text at every problem type; each problem's detail runs to the next type.
fn problems(text: &str) -> Vec<Problem<'_>> {
    let matches: Vec<regex::Captures<'_>> = URN_RE.captures_iter(text).collect();
    let mut out = Vec::with_capacity(matches.len());
    for (i, caps) in matches.iter().enumerate() {
        let whole = caps.get(0).expect("group 0 always matches");
        let next_start = matches
            .get(i + 1)
            .and_then(|c| c.get(0))
            .map_or(text.len(), |m| m.start());
        let prev_end = if i == 0 {
            0
        } else {
            matches[i - 1].get(0).map_or(0, |m| m.end())
        };
        let after = &text[whole.end()..next_start];
        let mut detail = trim_detail(after);
        if after.trim_start().starts_with('"')
            || after.trim_start().starts_with(')')
            || detail.is_empty()
        {
            // The type was a quoted member: the detail is a sibling member.
            if let Some(d) = DETAIL_KEY_RE
                .captures(&text[prev_end..next_start])
                .and_then(|c| c.get(1))
            {
                detail = d.as_str();
            }
        }
        let mut identifier = None;
        let subproblem = match SUBPROBLEM_IDENT_RE.captures(detail) {
            Some(c) => {
                identifier = Some(clean_identifier(&c[1]));
                detail = &detail[c.get(0).map_or(0, |m| m.end())..];
                true
            }
            None => false,
        };
        let identifier = identifier.or_else(|| {
            AUTHZ_FOR_RE
                .captures_iter(&text[prev_end..whole.start()])
                .last()
                .map(|c| clean_identifier(&c[1]))
        });
        out.push(Problem {
            status: caps.get(1).and_then(|s| s.as_str().parse().ok()),
            kind: caps[2].to_owned(),
            identifier,
            subproblem,
            detail,
            segment: &text[whole.start()..next_start],
        });
    }
    out
}

/// Strips the separators printed between a type and its detail, and the subproblem trailer.
fn trim_detail(after: &str) -> &str {
    let d = after.trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    let d = d.split("; subproblems:").next().unwrap_or(d);
    d.trim_end_matches(|c: char| c == ';' || c == ',' || c.is_whitespace())
}

/// What a detail's wording says beyond its problem type, whichever type the CA (or an older
/// CA) chose for it: a DNS-01 TXT missing or wrong is about the record, not the validation
/// machinery; account, CSR, order, profile and ARI refusals arrive as `malformed` or
/// `unauthorized` from many servers.
fn refine(code: Code, detail: &str) -> Code {
    use Code::*;
    if matches!(
        code,
        RatelimitOther | RatelimitAccountPaused | AcmeServerError | AcmeBadNonce
    ) {
        return code;
    }
    if let Some((_, refined)) = REFINEMENTS.iter().find(|(re, _)| re.is_match(detail)) {
        return *refined;
    }
    if code == AcmeUnauthorized && REQUEST_REFUSED_RE.is_match(detail) {
        // `unauthorized` about the request itself (a lookup, its syntax, whose object it
        // is): nothing was validated, so the playbook's advice would mislead.
        return AcmeOther;
    }
    code
}

/// An `unauthorized` problem about the request rather than a validation: the CA could not find
/// or parse what was asked for, or it belongs to another account.
static REQUEST_REFUSED_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:authorization|authz|order|challenge|account|certificate) (?:lookup|retrieval) failed|::\s*Syntax error\b|\b(?:authorization|authz|order|challenge) (?:not found|does not exist|doesn't exist)|account ID doesn't match|does not (?:own|belong to) (?:this|the) (?:account|authorization|order)")
        .expect("valid regex")
});

/// The type-independent wordings [`refine`] reads, most specific first.
static REFINEMENTS: LazyLock<Vec<(Regex, Code)>> = LazyLock::new(|| {
    [
        (
            r"(?i)no TXT records? found (?:at|for)|NXDOMAIN looking up TXT for|TXT record for _acme-challenge\S* (?:not found|does not exist)|no valid TXT record",
            Code::Dns01TxtMissing,
        ),
        (
            r"(?i)incorrect TXT record|correct value not found for DNS challenge|TXT records? found (?:at \S+ )?(?:but|with)(?: a)? (?:wrong|incorrect|unexpected) value",
            Code::Dns01TxtWrongValue,
        ),
        (
            r"(?i)(?:must|did not|didn't|need to) agree to (?:the )?terms|terms of service|external account (?:binding|credentials)|externalAccountRequired",
            Code::AcmeAccount,
        ),
        (
            r"(?i)no (?:registration|account) exists (?:matching|with) (?:the )?provided key|account (?:is )?(?:not valid|deactivated|does not exist)|has status \x22?deactivated|contact (?:email )?\S* ?(?:has )?(?:a )?forbidden domain|invalid contact|error validating contact|contact method \S+ is not supported|unable to find (?:the )?account|external account binding|externalAccountBinding|\bEAB\b|Registration key is already in use|account (?:key|ID) \S* ?(?:not found|unknown)|\bAccount \x22?\S+\x22? not found|contact (?:email )?(?:address )?\S*\s?(?:has )?(?:an? )?(?:invalid|forbidden) domain|invalid contact domain|invalidEmail|failed to create account|Register(?:ing)? account Error",
            Code::AcmeAccount,
        ),
        (
            r"(?i)invalid character in DNS name|DNS name ends in a period|needs at least one dot|does not have enough labels|not end (?:in|with) a (?:valid )?public suffix|label (?:is )?too long|DNS name is too long|empty label|Domain name contains an invalid character|Domain name is an IP address|not a valid (?:DNS|domain) name|Invalid identifiers? requested",
            Code::InvalidIdentifier,
        ),
        (
            r"(?i)must-?staple|key too (?:small|large)|public key must be different|Invalid key in certificate request|public key is forbidden|key is (?:blocklisted|blocked|weak)|bad public key|invalid public key in CSR|error parsing certificate request|CSR (?:contains|does not specify|is invalid|has|signature)|unsupported (?:key|signature) algorithm|incompatible key usage|client ?auth",
            Code::AcmeBadCsr,
        ),
        (
            r"(?i)is not acceptable for finalization|order (?:is )?not (?:in a )?ready|order(?:'s status)? is not ready|order is (?:already )?(?:finalized|invalid)",
            Code::AcmeOrderNotReady,
        ),
        (
            r"(?i)not permitted to use (?:certificate )?profile|ACME profile .{0,40}not (?:found|supported)|profile not supported|profile name \S+ not recognized|(?:does not )?advertise a profile|does not support profiles|not permit IP address identifiers|cannot contain more than \d+ (?:identifiers|DNS names|names)|unrecognized profile|invalid profile|profile \S+ is not (?:supported|allowed)",
            Code::AcmeProfile,
        ),
        (
            r"(?i)ARI 'replaces'|already has a replacement order|replaces field|alreadyReplaced",
            Code::AcmeAlreadyReplaced,
        ),
    ]
    .iter()
    .map(|(p, c)| (Regex::new(p).expect("valid regex"), *c))
    .chain(std::iter::once((
        // The CA's own DNS trouble, whatever type it was filed under (ACME v1 used
        // `connection`, CAA rechecks use `caa`).
        Regex::new(r"(?i)DNS problem: ").expect("valid regex"),
        Code::AcmeDns,
    )))
    .collect()
});

/// The code a problem type stands for.
fn type_code(kind: &str, status: Option<u16>, detail: &str) -> Code {
    let kind = kind.to_ascii_lowercase();
    match kind.as_str() {
        "ratelimited" if detail.to_ascii_lowercase().contains("service busy") => {
            Code::AcmeServerError
        }
        "ratelimited" => Code::RatelimitOther,
        "unauthorized"
            if detail
                .to_ascii_lowercase()
                .contains("temporarily prevented") =>
        {
            Code::RatelimitAccountPaused
        }
        "unauthorized" | "incorrectresponse" => Code::AcmeUnauthorized,
        "dns" | "unknownhost" => Code::AcmeDns,
        "caa" => Code::AcmeCaa,
        "connection" | "tls" => Code::AcmeConnection,
        "rejectedidentifier" | "unsupportedidentifier" => Code::AcmeRejectedIdentifier,
        "accountdoesnotexist"
        | "invalidemail"
        | "invalidcontact"
        | "unsupportedcontact"
        | "externalaccountrequired"
        | "useractionrequired" => Code::AcmeAccount,
        "badcsr" | "badpublickey" => Code::AcmeBadCsr,
        "ordernotready" => Code::AcmeOrderNotReady,
        "invalidprofile" => Code::AcmeProfile,
        "alreadyreplaced" => Code::AcmeAlreadyReplaced,
        "badnonce" => Code::AcmeBadNonce,
        "serverinternal" => Code::AcmeServerError,
        _ if status.is_some_and(|s| s >= 500) => Code::AcmeServerError,
        _ => Code::AcmeOther,
    }
}

/// Turns one problem into a finding with a specific summary, and the identifier it is about.
fn classify_problem(p: &Problem<'_>) -> (Finding, Option<String>) {
    let code = refine(type_code(&p.kind, p.status, p.detail), p.segment);
    if matches!(code, Code::RatelimitOther | Code::RatelimitAccountPaused)
        && let Some(f) = ratelimit::classify(p.segment)
    {
        let identifier = f.rate_limit.as_ref().and_then(|r| r.identifier.clone());
        return (f, identifier);
    }
    let identifier = p.identifier.clone().or_else(|| identifier_in(p.detail));
    let summary = summarise(
        code,
        Some(&p.kind),
        p.status,
        identifier.as_deref(),
        SECONDARY_RE.replace(p.detail, "").as_ref(),
    );
    let mut finding = Finding::new(code, summary).with_detail(short(p.segment.trim(), 600));
    finding.target = identifier.clone();
    (finding, identifier)
}

/// The identifier a Boulder detail names, without the `_acme-challenge.` label of DNS-01.
fn identifier_in(detail: &str) -> Option<String> {
    DETAIL_IDENT_RES
        .iter()
        .find_map(|re| re.captures(detail))
        .map(|c| challenge_identifier(&c[1]))
}

/// Classifies a text that carries no problem type by the VA's and WFE's wording alone.
fn classify_wording(text: &str) -> Vec<Finding> {
    let Some(code) = wording_code(text) else {
        return Vec::new();
    };
    let authz = AUTHZ_FOR_RE.captures_iter(text).last();
    let body = authz
        .as_ref()
        .and_then(|c| c.get(0))
        .map_or(text, |m| &text[m.end()..]);
    let identifier = authz
        .map(|c| clean_identifier(&c[1]))
        .or_else(|| identifier_in(body));
    let status = SERVER_STATUS_RE
        .captures(text)
        .and_then(|c| c[1].parse().ok());
    let inner = SECONDARY_RE.replace(body.trim(), "");
    let summary = summarise(code, None, status, identifier.as_deref(), &inner);
    let mut finding = Finding::new(code, summary).with_detail(short(body.trim(), 600));
    finding.target = identifier.clone();
    let mut out = vec![finding];
    push_secondary(&mut out, body, identifier.as_deref());
    out
}

/// The code the VA's and WFE's wording alone gives a text.
fn wording_code(text: &str) -> Option<Code> {
    let code = WORDINGS
        .iter()
        .find(|(re, _)| re.is_match(text))
        .map(|(_, c)| *c)
        .or_else(|| {
            (SERVER_STATUS_RE.is_match(text) && ACME_CONTEXT_RE.is_match(text))
                .then_some(Code::AcmeServerError)
        })
        .or_else(|| {
            REFINEMENTS
                .iter()
                .find(|(re, _)| re.is_match(text))
                .map(|(_, c)| *c)
        })?;
    Some(refine(code, text))
}

/// One specific line per code: what the CA saw, for which name, with the status or reason.
fn summarise(
    code: Code,
    kind: Option<&str>,
    status: Option<u16>,
    ident: Option<&str>,
    detail: &str,
) -> String {
    let detail = BOULDER_PREFIX_RE.replace(detail.trim(), "");
    let detail = detail.as_ref();
    let for_ident = ident.map(|i| format!(" for {i}")).unwrap_or_default();
    let gist = short(detail, 140);
    match code {
        Code::AcmeUnauthorized | Code::Dns01TxtMissing | Code::Dns01TxtWrongValue => {
            if let Some(c) = INVALID_RESPONSE_RE.captures(detail) {
                let at = c
                    .get(3)
                    .or(c.get(1))
                    .map(|ip| format!(" (address {})", ip.as_str()))
                    .unwrap_or_default();
                return match c.get(4) {
                    Some(st) => format!("The CA got HTTP {} from {}{at}", st.as_str(), &c[2]),
                    None => format!(
                        "The CA got an unexpected body from {}{at}: {}",
                        &c[2],
                        short(c.get(5).map_or("", |b| b.as_str()), 40)
                    ),
                };
            }
            if let Some(c) = NON_200_RE.captures(detail) {
                return format!("The CA got HTTP {} from {}", &c[2], &c[1]);
            }
            if let Some(c) = DNS01_VALUE_MISMATCH_RE.captures(detail) {
                let name = clean_identifier(&c[1]);
                let at = if name.is_empty() {
                    String::new()
                } else {
                    format!(" for {name}")
                };
                return format!("The CA found TXT records{at} but none with the expected value");
            }
            if let Some(c) = NO_TXT_RE.captures(detail) {
                let name = clean_identifier(&c[1]);
                let name = if name.starts_with("_acme-challenge.") {
                    name
                } else {
                    format!("_acme-challenge.{name}")
                };
                return format!("The CA found no TXT record at {name}");
            }
            if let Some(c) = WRONG_TXT_RE.captures(detail) {
                return format!(
                    "The CA found a TXT record with the wrong value at {}",
                    clean_identifier(&c[1])
                );
            }
            if let Some(c) = TXT_NXDOMAIN_RE.captures(detail) {
                return format!(
                    "The CA got NXDOMAIN for {}: the TXT record is missing",
                    clean_identifier(&c[1])
                );
            }
            if KEY_AUTHZ_MISMATCH_RE.is_match(detail) {
                return format!(
                    "The CA got a challenge response{for_ident} that is not the expected key authorization"
                );
            }
            match code {
                Code::Dns01TxtMissing => {
                    format!("The CA found no TXT record{for_ident}: {gist}")
                }
                Code::Dns01TxtWrongValue => {
                    format!("The CA found a TXT record with the wrong value{for_ident}: {gist}")
                }
                _ => format!("The CA's validation{for_ident} failed: {gist}"),
            }
        }
        Code::AcmeAccount => format!("The CA rejected the ACME account{for_ident}: {gist}"),
        Code::InvalidIdentifier => format!("The CA says the name{for_ident} is not valid: {gist}"),
        Code::AcmeBadCsr => format!("The CA refused the certificate request{for_ident}: {gist}"),
        Code::AcmeOrderNotReady => format!("The CA refused to finalize the order: {gist}"),
        Code::AcmeProfile => {
            format!(
                "The CA refused the certificate profile or the order's names{for_ident}: {gist}"
            )
        }
        Code::AcmeAlreadyReplaced => {
            format!("The CA refused the renewal's ARI `replaces`{for_ident}: {gist}")
        }
        Code::AcmeDns => {
            if let Some(c) = DNS_PROBLEM_RE.captures(detail) {
                let (rtype, name) = (c[2].to_ascii_uppercase(), clean_identifier(&c[3]));
                // Newer Boulder puts the rcode after the name ("looking up A for x: DNSSEC: ...").
                return match (c.get(1).map(|w| w.as_str().trim()), c.get(4)) {
                    (Some(what), _) if !what.is_empty() => {
                        format!("The CA got {what} looking up {rtype} for {name}")
                    }
                    (_, Some(why)) => format!(
                        "The CA's {rtype} lookup for {name} failed: {}",
                        short(why.as_str(), 80)
                    ),
                    _ => format!("The CA's {rtype} lookup for {name} failed"),
                };
            }
            if let Some(c) = NO_VALID_IP_RE.captures(detail) {
                return format!(
                    "The CA found no valid IP address for {}",
                    clean_identifier(&c[1])
                );
            }
            format!("The CA hit a DNS problem{for_ident}: {gist}")
        }
        Code::AcmeCaa => {
            if let Some(c) = CAA_PREVENTS_RE.captures(detail) {
                return format!(
                    "CAA records for {} do not allow this CA to issue",
                    clean_identifier(&c[1])
                );
            }
            format!("The CA refused to issue{for_ident} because of CAA: {gist}")
        }
        Code::AcmeConnection => {
            if let Some(c) = FETCH_FAILED_RE.captures(detail) {
                let at = c
                    .get(1)
                    .map(|ip| format!(" (address {})", ip.as_str()))
                    .unwrap_or_default();
                return format!("The CA could not fetch {}{at}: {}", &c[2], c[3].trim());
            }
            if let Some(c) = GO_GET_RE.captures(detail) {
                return format!("The CA could not fetch {}: {}", &c[1], go_error_gist(&c[2]));
            }
            format!("The CA could not connect{for_ident}: {gist}")
        }
        Code::AcmeRejectedIdentifier => {
            if let Some(c) = CANNOT_ISSUE_RE.captures(detail) {
                return format!(
                    "The CA will not issue for {}: {}",
                    clean_identifier(&c[1]),
                    short(&c[2], 120)
                );
            }
            format!("The CA will not issue{for_ident}: {gist}")
        }
        Code::AcmeBadNonce => {
            "The CA rejected a stale anti-replay nonce (badNonce); cert-manager retries this itself"
                .to_owned()
        }
        Code::AcmeServerError => {
            let st = status.map(|s| format!(" ({s})")).unwrap_or_default();
            format!("The CA had a server error{st}{for_ident}: {gist}")
        }
        Code::AcmeOther if kind.is_none() && EMPTY_PROBLEM_RE.is_match(detail) => {
            format!(
                "The CA answered{for_ident} without a problem document (no status, type or detail): its own logs or status page are the only place to look"
            )
        }
        _ => {
            let kind = kind.unwrap_or("unknown");
            format!("The CA returned an ACME {kind} problem{for_ident}: {gist}")
        }
    }
}
