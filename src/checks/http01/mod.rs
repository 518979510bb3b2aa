//! The HTTP-01 check, done the way Let's Encrypt validates: every A and AAAA address is asked
//! on its own for `http://NAME/.well-known/acme-challenge/TOKEN`, redirects are followed by the
//! CA's rules, and the final answer must be 200 with the key authorization.
//!
//! Checking each address separately is the point: the CA picks one (IPv6 first), so a stale
//! AAAA record or one load balancer out of two that lacks the solver route fails issuance
//! even when `curl` from a laptop succeeds.

mod fetch;
mod probe;
mod redirect;
mod reserved;
mod verdict;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::model::{Code, Evidence, Finding};

use super::{AddressLookup, CheckReport, CheckStatus};

pub use fetch::{MAX_HEAD_BYTES, MAX_HEADERS};
pub use reserved::reserved_reason;

use verdict::Expect;

/// The most body bytes Let's Encrypt reads from an HTTP-01 response: Boulder's
/// `maxResponseSize` (`va/http.go`), 128, read through `core.ErrOnLimitReader`, so a body of
/// 128 bytes passes and one of 129 fails validation. A key authorization is 87 bytes; the rest
/// is room for trailing whitespace. Reading more than the CA would only judge a body the CA
/// never sees, and lets a server hand certdx a gigabyte.
pub const CA_MAX_BODY: usize = 128;

/// How the HTTP-01 check talks to the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http01Options {
    /// Budget for each request (connect, headers and body) and each redirect lookup.
    pub timeout: Duration,
    /// The port challenge URLs and `http://` redirects go to (80; tests and the demo use others).
    pub http_port: u16,
    /// The port `https://` redirects go to (443).
    pub https_port: u16,
    /// Treat 127.0.0.0/8 and ::1 as reachable: tests and the demo run there.
    pub allow_loopback: bool,
    /// The most body bytes read per response; a longer body is a wrong body. Defaults to
    /// [`CA_MAX_BODY`], what Let's Encrypt reads.
    pub max_body: usize,
    /// The User-Agent sent, so server logs show the probe for what it is.
    pub user_agent: String,
}

impl Default for Http01Options {
    fn default() -> Http01Options {
        Http01Options {
            timeout: Duration::from_secs(10),
            http_port: 80,
            https_port: 443,
            allow_loopback: false,
            max_body: CA_MAX_BODY,
            user_agent: format!(
                "certdx/{} (+like Let's Encrypt validation)",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

/// Runs the HTTP-01 check for `name` against each of its `addresses`.
///
/// With a `token`, the real challenge URL is requested and, if `key` is given, the body must
/// equal it. Without a token a random token-shaped path is requested: reachability and
/// redirects are still judged, a 404 is what a name answers when no solver runs, and other
/// statuses are reported at info level only. Redirect targets on other hosts are resolved
/// through `lookup`. Reserved addresses are reported and never contacted. All addresses are
/// probed concurrently; each request is bounded by `opts.timeout`, so the check takes at most
/// about `(1 + 10 redirects) × timeout`.
pub async fn check_http01(
    name: &str,
    addresses: &[IpAddr],
    token: Option<&str>,
    key: Option<&str>,
    lookup: &dyn AddressLookup,
    opts: &Http01Options,
) -> CheckReport {
    let started = Instant::now();
    let findings = run(name, addresses, token, key, lookup, opts).await;
    let mut report = CheckReport::from_findings("http01", name, started.elapsed(), findings);
    if key.is_none() && report.status == CheckStatus::Passed {
        // Any page answering is no proof the solver would: only a compared key is a pass.
        report.status = CheckStatus::Reachable;
    }
    report
}

async fn run(
    name: &str,
    addresses: &[IpAddr],
    token: Option<&str>,
    key: Option<&str>,
    lookup: &dyn AddressLookup,
    opts: &Http01Options,
) -> Vec<Finding> {
    if addresses.is_empty() {
        return vec![Finding::new(
            Code::Http01NoAddress,
            format!(
                "{name} has no A or AAAA record: the CA has nowhere to send the HTTP-01 request"
            ),
        )];
    }
    let made_up;
    let (token, expect) = match token {
        Some(t) => (
            t,
            match key {
                Some(key) => Expect::Key { token: t, key },
                None => Expect::AnyBody,
            },
        ),
        None => {
            made_up = random_token();
            (made_up.as_str(), Expect::NoToken)
        }
    };
    let url = match challenge_url(name, token, opts.http_port) {
        Ok(u) => u,
        Err(e) => {
            return vec![Finding::new(
                Code::Http01Unreachable,
                format!("{name} cannot be requested over HTTP: {e}"),
            )];
        }
    };

    let mut unique: Vec<IpAddr> = Vec::new();
    for a in addresses {
        if !unique.contains(a) {
            unique.push(*a);
        }
    }
    let mut findings = Vec::new();
    let mut to_probe = Vec::new();
    for addr in unique {
        match reserved::reserved_reason(addr, opts.allow_loopback) {
            Some(why) => findings.push(
                Finding::new(
                    Code::Http01ReservedAddress,
                    format!(
                        "{addr} ({} record of {name}) is {why}: the CA will not connect to it",
                        family(addr)
                    ),
                )
                .with_detail("Not probed: public CAs refuse reserved addresses before dialling.")
                .with_evidence(Evidence::Fact {
                    subject: addr.to_string(),
                    detail: why.to_owned(),
                }),
            ),
            None => to_probe.push(addr),
        }
    }
    let probes = futures::future::join_all(
        to_probe
            .into_iter()
            .map(|addr| probe::walk(url.clone(), addr, lookup, opts)),
    )
    .await;
    for p in &probes {
        findings.extend(verdict::findings(p, expect, opts.max_body));
    }
    findings.extend(mismatch(name, &probes, expect));
    findings
}

/// `http01-address-mismatch` when the IPv4 and IPv6 addresses do not all answer alike.
fn mismatch(name: &str, probes: &[probe::Probe], expect: Expect<'_>) -> Option<Finding> {
    let label = |p: &probe::Probe| verdict::outcome_label(p, expect);
    let v4: Vec<&probe::Probe> = probes.iter().filter(|p| p.address.is_ipv4()).collect();
    let v6: Vec<&probe::Probe> = probes.iter().filter(|p| p.address.is_ipv6()).collect();
    if v4.is_empty() || v6.is_empty() {
        return None;
    }
    let mut v4_labels: Vec<String> = v4.iter().map(|p| label(p)).collect();
    let mut v6_labels: Vec<String> = v6.iter().map(|p| label(p)).collect();
    v4_labels.sort();
    v4_labels.dedup();
    v6_labels.sort();
    v6_labels.dedup();
    if v4_labels == v6_labels {
        return None;
    }
    let each = |ps: &[&probe::Probe]| {
        ps.iter()
            .map(|p| format!("{} -> {}", p.address, label(p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut finding = Finding::new(
        Code::Http01AddressMismatch,
        format!(
            "{name}: IPv6 answers {} but IPv4 answers {}",
            v6_labels.join(" / "),
            v4_labels.join(" / ")
        ),
    )
    .with_detail(format!(
        "IPv6: {}. IPv4: {}. Let's Encrypt tries IPv6 first and falls back to IPv4 only when \
         IPv6 cannot connect, so the IPv6 answer usually decides.",
        each(&v6),
        each(&v4)
    ));
    for p in v6.iter().chain(v4.iter()) {
        if let Some(h) = p.hops.last() {
            finding = finding.with_evidence(Evidence::Http(h.clone()));
        }
    }
    Some(finding)
}

fn family(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() { "A" } else { "AAAA" }
}

/// `http://NAME[:PORT]/.well-known/acme-challenge/TOKEN`, the token percent-encoded as a
/// single path segment so a strange token cannot change the path.
fn challenge_url(name: &str, token: &str, http_port: u16) -> Result<Url, String> {
    // An IP identifier (RFC 8738) is validated at the address itself, which is then also the
    // only address probed.
    let host = match super::name::ip_identifier(name) {
        Some(IpAddr::V6(v6)) => format!("[{v6}]"),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => name.to_owned(),
    };
    let mut url = Url::parse(&format!("http://{host}/"))
        .map_err(|e| format!("{name:?} is not a valid host name ({e})"))?;
    if super::name::ip_identifier(name).is_none()
        && url
            .host_str()
            .is_none_or(|h| h.parse::<IpAddr>().is_ok() || h.starts_with('['))
    {
        // A name that only looks like one once parsed (e.g. a decimal address) would bypass
        // the pinned address entirely.
        return Err(format!("{name:?} is not a host name"));
    }
    url.set_port(Some(http_port))
        .map_err(|()| format!("{name:?} cannot carry a port"))?;
    url.path_segments_mut()
        .map_err(|()| format!("{name:?} cannot carry a path"))?
        .clear()
        .extend([".well-known", "acme-challenge", token]);
    Ok(url)
}

/// A token-shaped (43 base64url characters, like ACME's 256-bit tokens) path nobody serves.
/// Not secret, only unlikely to collide, so std's randomly keyed hasher is enough.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let state = std::collections::hash_map::RandomState::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = String::with_capacity(43);
    let mut round = 0u64;
    while out.len() < 43 {
        let mut h = state.build_hasher();
        h.write_u128(nanos);
        h.write_u64(round);
        let mut bits = h.finish();
        for _ in 0..10 {
            if out.len() == 43 {
                break;
            }
            out.push(ALPHABET[(bits & 63) as usize] as char);
            bits >>= 6;
        }
        round += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_url_shape() {
        let u = challenge_url("www.example.com", "abc-_9", 80).unwrap();
        assert_eq!(
            u.as_str(),
            "http://www.example.com/.well-known/acme-challenge/abc-_9"
        );
        let u = challenge_url("www.example.com", "a/b?c", 8080).unwrap();
        assert_eq!(
            u.as_str(),
            "http://www.example.com:8080/.well-known/acme-challenge/a%2Fb%3Fc"
        );
        assert!(challenge_url("bad name.example", "t", 80).is_err());
        // An IP identifier (RFC 8738) is fetched at the address; a decimal "name" that only
        // parses as one is refused.
        assert_eq!(
            challenge_url("192.0.2.1", "t", 80).unwrap().as_str(),
            "http://192.0.2.1/.well-known/acme-challenge/t"
        );
        assert_eq!(
            challenge_url("2001:db8::1", "t", 80).unwrap().as_str(),
            "http://[2001:db8::1]/.well-known/acme-challenge/t"
        );
        assert!(challenge_url("3221225985", "t", 80).is_err());
    }

    #[test]
    fn random_tokens_are_token_shaped_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
