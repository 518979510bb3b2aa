//! The CA's verdict on one name, read from the authorization as the CA sent it: the status, the
//! challenge's problem document, its validation record (Boulder's `validationRecord`: which URL,
//! hostname, addresses resolved, address used, one entry per redirect hop), the secondary
//! validation detail, the findings (the ACME problem classifier's, the same as for any other
//! ACME message) and one line saying what it means.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::engine::acme::{AcmeError, AcmeProblem, AuthzInfo, AuthzStatus, ChallengeKind};
use crate::model::{Code, Finding};

/// What the CA decided for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    /// The CA validated the name (certdx answered, or something else already serves the
    /// response): a positive verdict.
    Valid,
    /// The CA had a valid authorization for the name already (reused): it did not look now.
    AlreadyValid,
    /// The CA tried and refused: the problem says why.
    Invalid,
    /// The CA had not decided when the trial stopped waiting; the authorization was deactivated.
    Undecided,
    /// The CA offers no challenge of the method for the name (e.g. HTTP-01 for a wildcard).
    NoChallenge,
}

impl VerdictStatus {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictStatus::Valid => "valid",
            VerdictStatus::AlreadyValid => "already-valid",
            VerdictStatus::Invalid => "invalid",
            VerdictStatus::Undecided => "undecided",
            VerdictStatus::NoChallenge => "no-challenge",
        }
    }

    /// Whether the CA would issue for the name.
    pub fn is_positive(self) -> bool {
        matches!(self, VerdictStatus::Valid | VerdictStatus::AlreadyValid)
    }
}

/// One entry of a challenge's `validationRecord` (one per request the CA made; an HTTP-01
/// validation that followed redirects has one per hop, in order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationRecord {
    /// The URL fetched (HTTP-01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The host name looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The port connected to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Every address the lookup returned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_resolved: Vec<String>,
    /// The address the CA connected to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_used: Option<String>,
    /// Addresses the CA tried before the one it used (IPv6 first, then IPv4).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_tried: Vec<String>,
    /// The CA's resolvers that answered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolver_addrs: Vec<String>,
}

/// The CA's verdict on one name.
#[derive(Debug, Clone, Serialize)]
pub struct NameVerdict {
    /// The name as ordered (`*.` kept for a wildcard).
    pub name: String,
    /// The verdict.
    pub status: VerdictStatus,
    /// Whether certdx published the response (its solver serves it) before triggering: the
    /// verdict then says whether the CA's path reaches certdx. Else it was only triggered.
    pub answered: bool,
    /// The authorization's URL.
    pub authorization: String,
    /// How the authorization ended at the CA (valid, invalid, deactivated).
    pub authorization_status: String,
    /// The challenge's problem document, when the CA refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<AcmeProblem>,
    /// The challenge's validation record, when the CA sends one (Boulder does, Pebble does not).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_record: Vec<ValidationRecord>,
    /// What the CA's remote perspectives saw, when they disagreed with its primary one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_validation: Option<String>,
    /// The findings (finding codes with advice); empty for a positive verdict.
    pub findings: Vec<Finding>,
    /// What it means, in one line.
    pub meaning: String,
    /// certdx's own check of its answer before the CA was told to look (only when certdx
    /// answered and checks were configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_check: Option<SelfCheck>,
}

/// certdx's own check of the answer it published, from where it runs, before triggering.
#[derive(Debug, Clone, Serialize)]
pub struct SelfCheck {
    /// Whether the answer was seen as the CA will look for it.
    pub passed: bool,
    /// How long the check took (retries included).
    pub duration_ms: u64,
    /// What it found when it did not pass (the CA was told to look anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

impl NameVerdict {
    /// Adds certdx's own check; a refusal after a failed self-check says that certdx saw the
    /// problem too, so the cause lies on certdx's side of the path as well as the CA's.
    pub fn with_self_check(mut self, check: Option<SelfCheck>) -> NameVerdict {
        if let Some(failed) = check.as_ref().and_then(|c| c.finding.as_ref())
            && self.status == VerdictStatus::Invalid
        {
            self.meaning = format!(
                "{} (certdx's own check failed before the CA looked: {})",
                self.meaning, failed.summary
            );
        }
        self.self_check = check;
        self
    }
}

/// The challenge's `validationRecord` in the authorization JSON `raw`, for the challenge at
/// `challenge_url`.
pub fn validation_records(
    raw: Option<&serde_json::Value>,
    challenge_url: &str,
) -> Vec<ValidationRecord> {
    let Some(challenges) = raw
        .and_then(|r| r.get("challenges"))
        .and_then(|c| c.as_array())
    else {
        return Vec::new();
    };
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key).and_then(|x| match x {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let list = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v.get(key)
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    challenges
        .iter()
        .filter(|c| c.get("url").and_then(|u| u.as_str()) == Some(challenge_url))
        .filter_map(|c| c.get("validationRecord").and_then(|r| r.as_array()))
        .flatten()
        .map(|r| ValidationRecord {
            url: text(r, "url"),
            hostname: text(r, "hostname"),
            port: text(r, "port"),
            addresses_resolved: list(r, "addressesResolved"),
            // Boulder sends the zero address ("") when no connection was made.
            address_used: text(r, "addressUsed").filter(|a| a != "invalid IP"),
            addresses_tried: list(r, "addressesTried"),
            resolver_addrs: list(r, "resolverAddrs"),
        })
        .collect()
}

/// The verdict on `authz` (as last fetched, `raw` its JSON) for the challenge of `kind`.
pub fn verdict(
    authz: &AuthzInfo,
    raw: Option<&serde_json::Value>,
    kind: &ChallengeKind,
    answered: bool,
    reused: bool,
) -> NameVerdict {
    let name = authz.ordered_name();
    let challenge = authz.challenge(kind);
    let records = challenge
        .map(|c| validation_records(raw, &c.url))
        .unwrap_or_default();
    let problem = challenge
        .and_then(|c| c.error.clone())
        .or_else(|| authz.problem().cloned());
    let status = match (&authz.status, challenge) {
        (_, None) => VerdictStatus::NoChallenge,
        (AuthzStatus::Valid, _) if reused => VerdictStatus::AlreadyValid,
        (AuthzStatus::Valid, _) => VerdictStatus::Valid,
        (AuthzStatus::Invalid, _) => VerdictStatus::Invalid,
        _ => VerdictStatus::Undecided,
    };
    let findings = match (&problem, status) {
        (Some(p), VerdictStatus::Invalid) => classify(authz, p),
        _ => Vec::new(),
    };
    let secondary = problem.as_ref().and_then(secondary_detail);
    let meaning = meaning(
        &name,
        status,
        answered,
        kind,
        problem.as_ref(),
        &records,
        &findings,
    );
    NameVerdict {
        name,
        status,
        answered,
        authorization: authz.url.clone(),
        authorization_status: authz.status.to_string(),
        problem,
        validation_record: records,
        secondary_validation: secondary,
        findings,
        meaning,
        self_check: None,
    }
}

/// The findings of a refused authorization: the engine's ACME error for it, classified by
/// `checks::acme_problem` like any other ACME message (CAA, secondary validation, rate limits,
/// Boulder's and Pebble's wordings).
fn classify(authz: &AuthzInfo, problem: &AcmeProblem) -> Vec<Finding> {
    let error = AcmeError::AuthorizationFailed {
        url: authz.url.clone(),
        identifier: authz.ordered_name(),
        status: authz.status.clone(),
        problem: Some(Box::new(problem.clone())),
    };
    let mut findings = error.findings();
    for f in &mut findings {
        if f.target.is_none() {
            f.target = Some(authz.ordered_name());
        }
    }
    findings
}

static SECONDARY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)during secondary (?:validation|domain validation)\s*:\s*(.+)")
        .expect("valid regex")
});

/// Boulder's "During secondary validation: ..." detail, when the remote perspectives failed.
fn secondary_detail(problem: &AcmeProblem) -> Option<String> {
    let mut texts = vec![problem.detail.clone().unwrap_or_default()];
    texts.extend(problem.subproblems.iter().filter_map(|s| s.detail.clone()));
    texts
        .iter()
        .find_map(|t| SECONDARY_RE.captures(t))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_owned())
}

/// The HTTP status in a refusal: Pebble's "... returned 404", Boulder's "Invalid response
/// from URL: 404".
static HTTP_STATUS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:\breturned|invalid response from \S+?:)\s*"?(\d{3})\b"#)
        .expect("valid regex")
});

/// Boulder prefixes the address it used to a validation error ("203.0.113.7: Invalid ...").
static LEADING_IP_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]+):\s")
        .expect("valid regex")
});

/// What the verdict means, in one line: where the CA got to and what stopped it.
fn meaning(
    name: &str,
    status: VerdictStatus,
    answered: bool,
    kind: &ChallengeKind,
    problem: Option<&AcmeProblem>,
    records: &[ValidationRecord],
    findings: &[Finding],
) -> String {
    let used = records
        .iter()
        .rev()
        .find_map(|r| r.address_used.clone())
        .or_else(|| {
            let detail = problem.and_then(|p| p.detail.as_deref())?;
            LEADING_IP_RE
                .captures(detail)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned())
        });
    let at = used.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
    let hops = records.len().saturating_sub(1);
    let via = if hops > 0 {
        format!(" after {hops} redirect(s)")
    } else {
        String::new()
    };
    match status {
        VerdictStatus::Valid if answered => {
            format!(
                "the CA validated {name}{}: certdx's answer reached it, issuance would succeed",
                at_address(&at)
            )
        }
        VerdictStatus::Valid => format!(
            "the CA validated {name}{} without certdx answering: something already serves the response",
            at_address(&at)
        ),
        VerdictStatus::AlreadyValid => format!(
            "the CA already holds a valid authorization for {name} on this account: it did not validate again"
        ),
        VerdictStatus::NoChallenge => format!(
            "the CA offers no {kind} challenge for {name}{}",
            if name.starts_with("*.") {
                ": wildcards need dns-01"
            } else {
                ""
            }
        ),
        VerdictStatus::Undecided => format!(
            "the CA had not decided on {name} when the trial stopped waiting: its authorization was deactivated"
        ),
        VerdictStatus::Invalid => invalid_meaning(name, kind, &at, &via, problem, findings),
    }
}

fn at_address(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!(" at{at}")
    }
}

fn invalid_meaning(
    name: &str,
    kind: &ChallengeKind,
    at: &str,
    via: &str,
    problem: Option<&AcmeProblem>,
    findings: &[Finding],
) -> String {
    let detail = problem.map(AcmeProblem::to_text).unwrap_or_default();
    let lower = detail.to_ascii_lowercase();
    let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
    let has = |c: Code| codes.contains(&c);
    let target = if at.is_empty() {
        format!("{name}'s address")
    } else {
        at.trim().to_owned()
    };
    if has(Code::AcmeSecondaryValidation) {
        return format!(
            "the CA's primary validation of {name} passed but its other regions saw something else: the name answers differently (or is filtered) depending on where the CA asks from"
        );
    }
    if has(Code::AcmeCaa) {
        return format!(
            "CAA records forbid this CA to issue for {name}: whatever the validation, the CAA set must name the CA"
        );
    }
    if codes.iter().any(|c| c.as_str().starts_with("ratelimit-")) {
        return format!("the CA refused {name} for a rate limit before validating it");
    }
    if has(Code::AcmeRejectedIdentifier) {
        return format!(
            "the CA will not issue for {name} at all (its policy), whatever the validation"
        );
    }
    if lower.contains("timeout during connect")
        || lower.contains("i/o timeout") && lower.contains("dial")
    {
        return format!(
            "Timeout during connect to {target}: nothing answered the CA's connection, a firewall drops the CA's packets or the address is wrong"
        );
    }
    if lower.contains("timeout") || lower.contains("deadline exceeded") {
        return format!(
            "the CA connected to {target}{via} but got no answer in time: something accepts connections there and never answers (a stuck proxy or server, or a firewall that lets the handshake through)"
        );
    }
    if lower.contains("connection refused") {
        return format!(
            "the CA reached {target}{via} and was refused: nothing listens on port 80 there (a firewall or load balancer in front would have answered otherwise)"
        );
    }
    if lower.contains("connection reset") {
        return format!(
            "the CA's connection to {target}{via} was reset: a firewall or proxy cuts it"
        );
    }
    if let Some(code) = HTTP_STATUS_RE
        .captures(&detail)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
    {
        return format!(
            "the CA reached {target}{via} and got {code} from the web server there: the path to your ingress works; the challenge route (cert-manager's solver) is missing"
        );
    }
    if *kind == ChallengeKind::Http01
        && (lower.contains("did not match") || has(Code::AcmeUnauthorized))
    {
        return format!(
            "the CA reached {target}{via} and got an answer that is not the key authorization: another server or an old solver answers the challenge path"
        );
    }
    if *kind == ChallengeKind::Dns01 && (lower.contains("txt") || has(Code::AcmeUnauthorized)) {
        return format!(
            "the CA looked up the TXT record of _acme-challenge.{} and did not find the value: the record is missing, wrong, or not yet visible to the CA's resolvers",
            name.trim_start_matches("*.")
        );
    }
    if has(Code::AcmeDns) {
        return format!(
            "the CA's DNS lookup for {name} failed: its nameservers do not answer the CA correctly"
        );
    }
    if has(Code::AcmeConnection) {
        return format!("the CA could not connect to {target}{via}");
    }
    match problem.and_then(|p| p.detail.clone()) {
        Some(detail) => format!("the CA refused {name}: {detail}"),
        None => format!("the CA refused {name} without saying why"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::acme::{ChallengeInfo, ChallengeStatus};

    fn authz(status: AuthzStatus, problem: Option<AcmeProblem>) -> AuthzInfo {
        AuthzInfo {
            url: "https://ca/authz/1".into(),
            identifier: "www.example.com".into(),
            wildcard: false,
            status,
            challenges: vec![ChallengeInfo {
                kind: ChallengeKind::Http01,
                url: "https://ca/chall/1".into(),
                token: "tok".into(),
                status: ChallengeStatus::Invalid,
                error: problem,
                key_authorization: "tok.thumb".into(),
                dns_txt_value: None,
            }],
        }
    }

    fn problem(kind: &str, detail: &str) -> AcmeProblem {
        AcmeProblem {
            kind: Some(format!("urn:ietf:params:acme:error:{kind}")),
            detail: Some(detail.into()),
            status: Some(403),
            subproblems: Vec::new(),
        }
    }

    /// Boulder's authorization JSON for a 404 after a redirect: two validation records.
    #[test]
    fn a_404_with_boulders_validation_record_names_the_address_and_the_hops() {
        let p = problem(
            "unauthorized",
            "203.0.113.7: Invalid response from http://www.example.com/.well-known/acme-challenge/tok: 404",
        );
        let raw = serde_json::json!({
            "status": "invalid",
            "challenges": [{
                "type": "http-01", "url": "https://ca/chall/1", "status": "invalid",
                "validationRecord": [
                    {"url": "http://www.example.com/.well-known/acme-challenge/tok",
                     "hostname": "www.example.com", "port": "80",
                     "addressesResolved": ["203.0.113.7"], "addressUsed": "203.0.113.7"},
                    {"url": "http://ingress.example.com/.well-known/acme-challenge/tok",
                     "hostname": "ingress.example.com", "port": "80",
                     "addressesResolved": ["203.0.113.7"], "addressUsed": "203.0.113.7"}
                ]
            }]
        });
        let a = authz(AuthzStatus::Invalid, Some(p));
        let v = verdict(&a, Some(&raw), &ChallengeKind::Http01, false, false);
        assert_eq!(v.status, VerdictStatus::Invalid);
        assert_eq!(v.validation_record.len(), 2);
        assert_eq!(v.validation_record[0].addresses_resolved, ["203.0.113.7"]);
        assert!(
            v.meaning
                .contains("reached 203.0.113.7 after 1 redirect(s) and got 404"),
            "{}",
            v.meaning
        );
        assert!(
            v.findings.iter().any(|f| f.code == Code::AcmeUnauthorized),
            "{:?}",
            v.findings
        );
    }

    #[test]
    fn timeouts_caa_and_secondary_validation_read_differently() {
        let timeout = problem(
            "connection",
            "203.0.113.7: Fetching http://www.example.com/.well-known/acme-challenge/tok: Timeout during connect (likely firewall problem)",
        );
        let v = verdict(
            &authz(AuthzStatus::Invalid, Some(timeout)),
            None,
            &ChallengeKind::Http01,
            false,
            false,
        );
        assert!(
            v.meaning
                .starts_with("Timeout during connect to 203.0.113.7"),
            "{}",
            v.meaning
        );
        assert!(
            v.findings.iter().any(|f| f.code == Code::AcmeConnection),
            "{:?}",
            v.findings
        );

        let caa = problem(
            "caa",
            "While processing CAA for www.example.com: CAA record for example.com prevents issuance",
        );
        let v = verdict(
            &authz(AuthzStatus::Invalid, Some(caa)),
            None,
            &ChallengeKind::Http01,
            false,
            false,
        );
        assert!(v.meaning.contains("CAA records forbid"), "{}", v.meaning);
        assert!(v.findings.iter().any(|f| f.code == Code::AcmeCaa));

        let secondary = problem(
            "unauthorized",
            "During secondary validation: 203.0.113.7: Invalid response from http://www.example.com/.well-known/acme-challenge/tok: 404",
        );
        let v = verdict(
            &authz(AuthzStatus::Invalid, Some(secondary)),
            None,
            &ChallengeKind::Http01,
            false,
            false,
        );
        assert!(v.meaning.contains("other regions"), "{}", v.meaning);
        assert!(v.secondary_validation.as_deref().unwrap().contains("404"));
        assert!(
            v.findings
                .iter()
                .any(|f| f.code == Code::AcmeSecondaryValidation)
        );
    }

    #[test]
    fn a_validated_name_is_positive_and_has_no_finding() {
        let v = verdict(
            &authz(AuthzStatus::Valid, None),
            None,
            &ChallengeKind::Http01,
            true,
            false,
        );
        assert_eq!(v.status, VerdictStatus::Valid);
        assert!(v.status.is_positive());
        assert!(v.findings.is_empty());
        assert!(
            v.meaning.contains("certdx's answer reached it"),
            "{}",
            v.meaning
        );
    }
}
