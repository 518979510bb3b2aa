//! The CA itself out of reach: its directory (or another of its URLs) could not be fetched, or
//! what came back was not ACME (a proxy's page, a 404, HTML where JSON was expected).
//!
//! Clients word this as their HTTP library fails: Go's `Get "https://.../directory": dial tcp:
//! lookup ...: no such host` (cert-manager, lego, Caddy, Traefik), Python's
//! `HTTPSConnectionPool(host='...', port=443): Max retries exceeded with url: /directory
//! (Caused by ...)` (certbot), curl's exit codes (acme.sh). The challenge URL of HTTP-01
//! (`/.well-known/acme-challenge/`) is never the CA's, so it never counts here.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Code, Finding};

use super::text::{go_error_gist, regex as re, short};

/// A request to one of the CA's URLs and the error it ended with.
static CA_REQUEST_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:Get|Post|Head|fetching|fetch|get directory at|directory at|reach|connect to)\s+\\?"?'?(https?://[^\s"'\\]+)\\?"?'?:?\s*(.*)"#,
    )
});
/// certbot's (urllib3's) form.
static PYTHON_POOL_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)HTTPSConnectionPool\(host='([^']+)', port=\d+\): Max retries exceeded with url: (\S+) \(Caused by (.*)"#,
    )
});
/// Clients' own words for a directory they could not read.
static DIRECTORY_WORDING_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:failed to|unable to|could not|couldn't|cannot|can't|error) (?:get|fetch|load|retrieve|read|getting|fetching|loading|retrieving|parse|parsing|decode|decoding|reach) (?:the )?(?:ACME )?(?:server'?s? )?directory\b[^:]*:?\s*(.*)|get directory failed:?\s*(.*)|directory (?:url|endpoint) (?:is )?(?:invalid|unreachable)",
    )
});
/// An HTML or non-JSON answer where the ACME client expected JSON.
static NOT_JSON_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)invalid character '<' looking for beginning of value|unexpected content-type|Expecting value: line 1 column 1|is not a valid ACME directory|did not return a valid directory",
    )
});
/// Failures of the connection itself: DNS, TCP, TLS, proxy, time.
static NETWORK_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)no such host|server misbehaving|i/o timeout|timeout|timed out|deadline exceeded|connection refused|connection reset|no route to host|network is unreachable|x509:|certificate verify failed|SSLError|tls:|handshake|proxyconnect|ProxyError|NameResolutionError|Failed to establish a new connection|Temporary failure in name resolution|getaddrinfo|EOF|\b404\b|not found|unsupported protocol scheme|headers exceeded|head is too large|body (?:is )?too large|body went past|announced a body of|answered too slowly",
    )
});

/// Whether a URL is the CA's (its directory or an ACME endpoint), not a name being validated.
fn is_ca_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    !lower.contains("/.well-known/")
        && (lower.contains("/directory")
            || lower.contains("acme")
            || lower.contains("/new-")
            || lower.contains("letsencrypt")
            || lower.contains("zerossl")
            || lower.contains("pki.goog")
            || lower.contains("buypass")
            || lower.contains("sectigo"))
}

/// Classifies a failure to reach the CA; `None` for anything else.
pub fn classify(text: &str) -> Option<Finding> {
    // A problem document means the CA was reached and answered.
    if text.contains("acme:error:") {
        return None;
    }
    if let Some(c) = CA_REQUEST_RE.captures_iter(text).find(|c| {
        let named_directory = c[0].to_ascii_lowercase().contains("directory at");
        (named_directory || is_ca_url(&c[1])) && NETWORK_RE.is_match(&c[2])
    }) {
        let why = reason(&c[2]);
        let summary = format!("The ACME server at {} could not be reached: {why}", &c[1]);
        return Some(found(summary, text, c.get(0).map_or(0, |m| m.start())));
    }
    if let Some(c) = PYTHON_POOL_RE.captures(text) {
        let url = format!("https://{}{}", &c[1], &c[2]);
        if is_ca_url(&url) {
            let summary = format!(
                "The ACME server at {url} could not be reached: {}",
                reason(&c[3])
            );
            return Some(found(summary, text, c.get(0).map_or(0, |m| m.start())));
        }
    }
    if let Some(c) = DIRECTORY_WORDING_RE.captures(text) {
        let why = c.get(1).or(c.get(2)).map_or("", |m| m.as_str());
        let summary = if why.trim().is_empty() {
            "The ACME server's directory could not be read".to_owned()
        } else {
            format!(
                "The ACME server's directory could not be read: {}",
                reason(why)
            )
        };
        return Some(found(summary, text, c.get(0).map_or(0, |m| m.start())));
    }
    if let Some(m) = NOT_JSON_RE.find(text)
        && (text.to_ascii_lowercase().contains("acme") || text.contains("directory"))
    {
        let summary = "The ACME server answered with something other than ACME JSON (an HTML page: a wrong server URL or a proxy in the way)".to_owned();
        return Some(found(summary, text, m.start()));
    }
    None
}

/// The useful end of a network error, with the cases that have a usual cause named.
fn reason(err: &str) -> String {
    let lower = err.to_ascii_lowercase();
    if lower.contains("x509") || lower.contains("certificate verify failed") {
        if lower.contains("unknown authority") || lower.contains("unable to get local issuer") {
            return "its TLS certificate is signed by an authority this pod does not trust (a TLS-intercepting proxy?)".to_owned();
        }
        return "TLS certificate error".to_owned();
    }
    if lower.contains("proxyconnect") || lower.contains("proxyerror") {
        return "the HTTP proxy refused or failed the connection".to_owned();
    }
    if lower.contains("server misbehaving")
        || lower.contains("temporary failure in name resolution")
        || lower.contains("nameresolutionerror")
        || lower.contains("getaddrinfo")
    {
        return "its name does not resolve from here (cluster DNS)".to_owned();
    }
    // Bounds a client put on a hostile or broken server: Go's `MaxResponseHeaderBytes`, hyper's
    // head limit, certdx's own body cap and deadline.
    if lower.contains("headers exceeded") || lower.contains("head is too large") {
        return "its response headers never end (larger than the client accepts: not an ACME server, or a broken proxy)".to_owned();
    }
    if lower.contains("too large")
        || lower.contains("went past")
        || lower.contains("announced a body of")
    {
        return "its answer is far larger than any ACME response (a wrong URL, or a proxy serving something else)".to_owned();
    }
    if let Some(at) = lower.find("answered too slowly") {
        return short(err.get(at..).unwrap_or(err), 160);
    }
    if lower.contains("404") {
        return "404: the server URL is wrong (it must point at the directory)".to_owned();
    }
    go_error_gist(err)
}

fn found(summary: String, text: &str, start: usize) -> Finding {
    Finding::new(Code::AcmeDirectoryUnreachable, summary).with_detail(short(&text[start..], 600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_and_python_forms() {
        let f = classify(r#"Failed to register ACME account: Get "https://acme-v02.api.letsencrypt.org/directory": x509: certificate signed by unknown authority"#).unwrap();
        assert_eq!(f.code, Code::AcmeDirectoryUnreachable);
        assert!(f.summary.contains("intercepting"), "{}", f.summary);
        let f = classify("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='acme-v02.api.letsencrypt.org', port=443): Max retries exceeded with url: /directory (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution'))").unwrap();
        assert!(f.summary.contains("does not resolve"), "{}", f.summary);
    }

    #[test]
    fn a_ca_answer_cut_at_a_limit_is_unreachable_with_the_limit_named() {
        let f = classify(r#"Get "https://acme.example/directory": net/http: server response headers exceeded 1048576 bytes; aborted"#).unwrap();
        assert_eq!(f.code, Code::AcmeDirectoryUnreachable);
        assert!(f.summary.contains("headers never end"), "{}", f.summary);
        let f = classify("fetch https://ca.example/acme/directory: the response body went past 1048576 bytes (1 MiB), more than any ACME response needs").unwrap();
        assert!(f.summary.contains("far larger"), "{}", f.summary);
        let f = classify("fetch https://ca.example/acme/directory: the CA answered too slowly: 12 body bytes in 2.0 s, no complete body within the 2 s deadline of a request").unwrap();
        assert!(
            f.summary.contains("12 body bytes in 2.0 s"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn the_challenge_url_is_not_the_ca() {
        assert!(classify(r#"failed to perform self check GET request 'http://a.example/.well-known/acme-challenge/x': Get "http://a.example/.well-known/acme-challenge/x": dial tcp: lookup a.example: no such host"#).is_none());
    }
}
