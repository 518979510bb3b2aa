//! Turns one address's walk into findings, naming the usual culprit behind each answer.

use std::net::SocketAddr;

use crate::model::{Code, Evidence, Finding, HttpEvidence, Severity};

use super::fetch::Fetched;
use super::probe::{End, Probe};

/// What a correct answer looks like.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// The real challenge: 200 with this key authorization (token kept for diagnosis).
    Key {
        /// The challenge token.
        token: &'a str,
        /// The expected key authorization.
        key: &'a str,
    },
    /// A real token but no key to compare: any 200 passes.
    AnyBody,
    /// A made-up token: only reachability and redirects are judged, since without a running
    /// solver the right answer is a 404 (or whatever the ingress says for an unknown path).
    NoToken,
}

/// The findings for one probed address.
pub fn findings(probe: &Probe, expect: Expect<'_>, max_body: usize) -> Vec<Finding> {
    let origin = origin(probe);
    let evidence = || probe.hops.iter().cloned().map(Evidence::Http);
    let mut out = Vec::new();
    let with_hops = |mut f: Finding| {
        for e in evidence() {
            f = f.with_evidence(e);
        }
        f
    };
    match &probe.end {
        End::Unreachable(error) => {
            let last = probe.hops.last();
            let at = last.map(target).unwrap_or_else(|| origin.to_string());
            let url = last.map(|h| h.url.as_str()).unwrap_or("");
            let after = match probe.redirects {
                0 => String::new(),
                1 => " (after 1 redirect)".to_owned(),
                n => format!(" (after {n} redirects)"),
            };
            out.push(with_hops(
                Finding::new(
                    Code::Http01Unreachable,
                    format!("{at} did not answer GET {url}{after}: {error}"),
                )
                .with_detail(if held_at_a_limit(error) {
                    format!(
                        "Started from {origin}. The server accepted the connection but was stopped \
                         at a limit: the CA's validation has a deadline and bounded reads too, so it \
                         fails the same way. A proxy or application answering the challenge path \
                         instead of the solver, or an overloaded backend, behaves like this."
                    )
                } else {
                    format!(
                        "Started from {origin}. The CA connects to every address of the name the same way; \
                         a firewall, a security group, a load balancer without a port-80 listener, or a \
                         server that is down gives this error."
                    )
                }),
            ));
        }
        End::BadRedirect(why) => out.push(with_hops(
            Finding::new(
                Code::Http01BadRedirect,
                format!("{origin}: a redirect the CA will not follow: {why}"),
            )
            .with_detail(hop_list(probe)),
        )),
        End::ReservedTarget(why) => out.push(with_hops(
            Finding::new(Code::Http01ReservedAddress, format!("{origin}: {why}"))
                .with_detail(hop_list(probe)),
        )),
        End::Response(f) => {
            if probe.redirects > 0 {
                out.push(with_hops(
                    Finding::new(
                        Code::Http01Redirect,
                        format!(
                            "{origin}: {} redirect{} followed: {}",
                            probe.redirects,
                            if probe.redirects == 1 { "" } else { "s" },
                            probe
                                .hops
                                .iter()
                                .map(|h| h.url.as_str())
                                .collect::<Vec<_>>()
                                .join(" -> ")
                        ),
                    )
                    .with_detail(hop_list(probe)),
                ));
            }
            let last = probe.hops.last().cloned().unwrap_or_default();
            if let Some(f) = judge(&last, f, expect, max_body) {
                out.push(with_hops(f));
            }
        }
    }
    out
}

/// Whether a fetch error says the server connected and was then cut off at a deadline or a
/// size limit (the wording of `fetch`), rather than never being reached.
fn held_at_a_limit(error: &str) -> bool {
    error.contains("response head") || error.contains("reading the body timed out")
}

/// A short label of how an address answered, for comparing IPv4 with IPv6.
pub fn outcome_label(probe: &Probe, expect: Expect<'_>) -> String {
    match &probe.end {
        End::Unreachable(_) => "unreachable".to_owned(),
        End::BadRedirect(_) => "a redirect the CA will not follow".to_owned(),
        End::ReservedTarget(_) => "a redirect to a reserved address".to_owned(),
        End::Response(f) if f.status == 200 => match expect {
            Expect::Key { key, .. } if body_matches(f, key) => "200 with the key authorization",
            Expect::Key { .. } => "200 with another body",
            _ => "200",
        }
        .to_owned(),
        End::Response(f) => format!("{} {}", f.status, reason(f.status)),
    }
}

fn judge(last: &HttpEvidence, f: &Fetched, expect: Expect<'_>, max_body: usize) -> Option<Finding> {
    let at = target(last);
    let url = &last.url;
    let server = last
        .server
        .as_deref()
        .map(|s| format!(" (Server: {s})"))
        .unwrap_or_default();
    if f.status != 200 {
        if matches!(expect, Expect::NoToken) && f.status == 404 {
            return None;
        }
        let (culprit, detail) = diagnose_status(f.status, &f.body);
        let mut finding = Finding::new(
            Code::Http01WrongStatus,
            format!(
                "{at} answered {} {} for GET {url}{server}: {culprit}",
                f.status,
                reason(f.status)
            ),
        )
        .with_detail(detail.clone());
        if matches!(expect, Expect::NoToken) {
            // A made-up token cannot reach a solver; the status only hints at what a real
            // challenge would meet, so it informs without failing the check.
            finding = finding.with_severity(Severity::Info).with_detail(format!(
                "{detail} No token was given, so a made-up one was requested; give --token \
                 (and --key) to judge the real challenge."
            ));
        }
        return Some(finding);
    }
    let Expect::Key { token, key } = expect else {
        return None;
    };
    if body_matches(f, key) {
        return None;
    }
    let culprit = diagnose_body(f, token, max_body);
    let shown: String = String::from_utf8_lossy(&f.body).chars().take(60).collect();
    Some(
        Finding::new(
            Code::Http01WrongBody,
            format!("{at} answered 200 for GET {url}{server} but not with the key authorization: {culprit}; got {shown:?}"),
        )
        .with_detail(format!(
            "Expected {key:?} (trailing whitespace ignored, as the CA does). Got {} bytes{}: {:?}",
            f.body.len(),
            if f.body_truncated { " before reading stopped" } else { "" },
            last.body_excerpt.as_deref().unwrap_or("")
        )),
    )
}

/// The CA compares the body with trailing whitespace removed (Boulder trims with
/// `unicode.IsSpace`); a body cut at the size limit never matches.
fn body_matches(f: &Fetched, key: &str) -> bool {
    if f.body_truncated {
        return false;
    }
    match std::str::from_utf8(&f.body) {
        Ok(text) => text.trim_end() == key.trim_end(),
        Err(_) => false,
    }
}

/// The usual culprit behind a status, as a short clause and a longer explanation.
pub fn diagnose_status(status: u16, body: &[u8]) -> (&'static str, String) {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    let plain_to_tls = text.contains("plain http request was sent to https port")
        || text.contains("http request to an https server");
    let (culprit, detail) = match status {
        400 if plain_to_tls => (
            "plain HTTP reached a TLS port",
            "The server says it got plain HTTP on an HTTPS port: port 80 is forwarded to a TLS \
             listener (load balancer or Service port mapping), or a redirect points at http://...:443.",
        ),
        404 => (
            "no route sends the challenge path to the solver",
            "The solver's Ingress/HTTPRoute is missing or not picked up: wrong ingress class \
             (spec.ingressClassName vs the solver's `class`/`ingressClassName`), the controller \
             ignores it, or another ingress for the same host wins the path.",
        ),
        401 | 407 => (
            "an authentication wall covers the challenge path",
            "Basic auth, an OAuth proxy or another auth annotation applies to \
             /.well-known/acme-challenge/; exempt that path (the CA cannot log in).",
        ),
        403 => (
            "a WAF, IP allow-list or auth rule forbids the challenge path",
            "Something in front of the solver refuses the request: a WAF rule, a \
             whitelist-source-range annotation, a geo block or an auth rule. The CA validates \
             from many networks; the challenge path must be open to all of them.",
        ),
        429 => (
            "a rate limit in front of the solver refuses the request",
            "A WAF or ingress rate limit answers 429; the CA's validation requests will be \
             refused the same way.",
        ),
        502..=504 => (
            "the ingress has no healthy backend: the solver pod is down or its Service has no endpoints",
            "The ingress matched the path but could not reach a backend: the cm-acme-http-solver \
             pod is missing, not ready or crash-looping, its Service has no endpoints, or a \
             NetworkPolicy blocks the ingress controller from reaching it.",
        ),
        300..=399 => (
            "a redirect the CA does not follow (no Location, or a status Go's client treats as final)",
            "The CA follows 301, 302, 303, 307 and 308 with a Location header; anything else \
             in 3xx is the final answer, and it is not 200.",
        ),
        500..=599 => (
            "the backend answering the challenge path failed",
            "A server error means an application (not the solver, which only answers 200 or \
             404) handles the challenge path.",
        ),
        _ => (
            "the CA needs exactly 200",
            "HTTP-01 passes only on a 200 response whose body is the key authorization.",
        ),
    };
    (culprit, detail.to_owned())
}

fn diagnose_body(f: &Fetched, token: &str, max_body: usize) -> String {
    if f.body_truncated {
        return format!(
            "the body is longer than {max_body} bytes, the most the CA reads (reading stopped there): a page or a file, not a key authorization"
        );
    }
    let Ok(text) = std::str::from_utf8(&f.body) else {
        return "the body is not UTF-8 text".to_owned();
    };
    let text = text.trim();
    if text.is_empty() {
        return "the body is empty".to_owned();
    }
    if text == token {
        return "the body is the bare token, without the account key thumbprint".to_owned();
    }
    if let Some(rest) = text.strip_prefix(token)
        && rest.starts_with('.')
    {
        return "a key authorization for this token but another account key (the Issuer's account key changed, or another ACME client answers)".to_owned();
    }
    if text.contains('.') && !text.contains(char::is_whitespace) && !text.contains('<') {
        return "a key authorization for another token: a stale solver or a cache answers"
            .to_owned();
    }
    if text.to_ascii_lowercase().contains("<html") || text.starts_with('<') {
        return "an HTML page: a catch-all route or default backend answers the challenge path"
            .to_owned();
    }
    "another backend answers the challenge path".to_owned()
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// `ADDR:PORT` a hop went to.
fn target(h: &HttpEvidence) -> String {
    match (h.address, h.port) {
        (Some(a), Some(p)) => SocketAddr::new(a, p).to_string(),
        (Some(a), None) => a.to_string(),
        _ => h.url.clone(),
    }
}

/// The address under test, with the port of its first hop.
fn origin(probe: &Probe) -> String {
    match probe.hops.first().and_then(|h| h.port) {
        Some(p) => SocketAddr::new(probe.address, p).to_string(),
        None => probe.address.to_string(),
    }
}

fn hop_list(probe: &Probe) -> String {
    probe
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| format!("{}. {}", i + 1, h.describe()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(status: u16, body: &[u8]) -> Fetched {
        Fetched {
            status,
            location: None,
            location_garbled: false,
            body: body.to_vec(),
            body_truncated: false,
        }
    }

    #[test]
    fn status_culprits() {
        assert!(diagnose_status(404, b"").0.contains("route"));
        assert!(diagnose_status(401, b"").0.contains("authentication"));
        assert!(diagnose_status(403, b"").0.contains("WAF"));
        assert!(diagnose_status(503, b"").0.contains("solver pod"));
        assert!(diagnose_status(502, b"").0.contains("solver pod"));
        let nginx = b"<html><center>The plain HTTP request was sent to HTTPS port</center></html>";
        assert!(diagnose_status(400, nginx).0.contains("TLS port"));
        assert!(
            diagnose_status(400, b"Client sent an HTTP request to an HTTPS server.\n")
                .0
                .contains("TLS port")
        );
        assert!(!diagnose_status(400, b"bad request").0.contains("TLS port"));
    }

    #[test]
    fn body_comparison_trims_trailing_whitespace_only() {
        assert!(body_matches(
            &fetched(200, b"tok.thumb\r\n \t"),
            "tok.thumb"
        ));
        assert!(!body_matches(&fetched(200, b" tok.thumb"), "tok.thumb"));
        assert!(!body_matches(&fetched(200, b"tok.thumbX"), "tok.thumb"));
        assert!(!body_matches(&fetched(200, &[0xff, 0xfe]), "tok.thumb"));
        let mut cut = fetched(200, b"tok.thumb");
        cut.body_truncated = true;
        assert!(!body_matches(&cut, "tok.thumb"));
    }

    #[test]
    fn body_culprits() {
        let d = |b: &[u8]| diagnose_body(&fetched(200, b), "tok", 65536);
        assert!(d(b"tok").contains("bare token"));
        assert!(d(b"tok.otherthumb").contains("another account key"));
        assert!(d(b"old.thumb").contains("another token"));
        assert!(d(b"<html><body>hi</body></html>").contains("HTML"));
        assert!(d(&[0xc3, 0x28]).contains("not UTF-8"));
        assert!(d(b"  \n").contains("empty"));
    }
}
