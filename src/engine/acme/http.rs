//! instant-acme's HTTP transport, over reqwest, keeping what instant-acme throws away.
//!
//! instant-acme parses an error response into its problem document and drops the headers, so
//! the `Retry-After` of a 429 or 503 is lost; and it cannot parse an order whose status is not
//! one of RFC 8555's five (Pebble 2.4.0 reports "deactivated" once an authorization of the order
//! was deactivated). Every request therefore goes through [`AcmeHttp`], which records each
//! exchange (status, `Retry-After`, the body as received) into the [`Capture`] of the operation
//! that made it, and rewrites an unknown order status to "invalid" (what RFC 8555 calls an order
//! that can no longer be fulfilled) before instant-acme parses it. The original status stays in
//! the capture, so the typed layer reports it truthfully.
//!
//! A capture is a tokio task-local scoped around one operation, not a "last response" slot on
//! the shared client: many operations run concurrently on one account (one task each) and must
//! never see each other's responses.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::header::{RETRY_AFTER, USER_AGENT};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use jiff::{SignedDuration, Timestamp};

use crate::checks::http01::{MAX_HEAD_BYTES, MAX_HEADERS};

/// The largest response body read from the CA, 1 MiB. A directory is about 1 KiB, an order
/// or authorization under 1 KiB, an order with 100 names about 10 KiB and a certificate chain
/// a few KiB: room for a thousand directories or a hundred of the largest orders, while a CA
/// (or a proxy in front of it) answering 100 MB never gets more than this into memory.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The order statuses instant-acme can parse (RFC 8555 section 7.1.6).
const RFC_ORDER_STATUSES: [&str; 5] = ["pending", "ready", "processing", "valid", "invalid"];

/// One request and its response, as received (before any rewriting).
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    /// The request's URL.
    pub url: String,
    /// The response status.
    pub status: u16,
    /// The response's `Retry-After`, as an instant.
    pub retry_after: Option<Timestamp>,
    /// The response's `Link` header values, as sent (paging of the account's orders list).
    pub links: Vec<String>,
    /// The response body as the server sent it (at most [`MAX_BODY_BYTES`]), before any
    /// rewriting: what the typed layer reads the order's real status from.
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct TransportError {
    /// The request's URL.
    pub url: String,
    /// What went wrong, innermost causes included.
    pub reason: String,
    /// Whether the request may have reached the server (false: the connection never opened).
    pub maybe_sent: bool,
}

#[derive(Default)]
struct Recorded {
    last: Option<Exchange>,
}

tokio::task_local! {
    static CAPTURE: Capture;
}

/// The exchanges of one operation; cheap to clone (a shared handle).
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Recorded>>);

impl Capture {
    /// Runs `fut` with this capture active for every request it makes.
    pub(crate) async fn scope<F: Future>(&self, fut: F) -> F::Output {
        CAPTURE.scope(self.clone(), fut).await
    }

    /// The last exchange recorded, if any.
    pub(crate) fn last(&self) -> Option<Exchange> {
        self.lock().last.clone()
    }

    fn record(&self, exchange: Exchange) {
        self.lock().last = Some(exchange);
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The HTTP client instant-acme talks through: reqwest with the CA's roots, a per-request
/// timeout and the capture described in the module documentation.
#[derive(Clone)]
pub(crate) struct AcmeHttp {
    client: reqwest::Client,
    timeout: Duration,
}

impl AcmeHttp {
    /// A client for `directory_url`. `ca_pem` replaces the platform's roots (a test CA such as
    /// Pebble's); `timeout` bounds each request, connection and body included.
    pub(crate) fn new(
        directory_url: &str,
        ca_pem: Option<&str>,
        timeout: Duration,
    ) -> Result<AcmeHttp, String> {
        // reqwest is built without a default crypto provider; installing ring twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = reqwest::Url::parse(directory_url)
            .map_err(|e| format!("the directory URL {directory_url:?} is not a URL: {e}"))?;
        if url.scheme() != "https" {
            // RFC 8555 section 6.1: ACME is HTTPS only; a typo'd scheme should fail here, not
            // as a confusing JWS URL mismatch later.
            return Err(format!(
                "the directory URL {directory_url} must use https (RFC 8555 section 6.1)"
            ));
        }
        let mut builder = reqwest::Client::builder()
            // ACME resources never redirect; a redirect means a wrong URL, and following it
            // would sign requests for one URL and send them to another.
            .redirect(reqwest::redirect::Policy::none())
            // One deadline for connect, head and body: a per-read timeout would let a CA
            // trickling a byte a second hold a request forever.
            .timeout(timeout)
            .connect_timeout(timeout)
            .http1_max_headers(MAX_HEADERS);
        if is_loopback(&url) {
            // An HTTPS_PROXY meant for the internet must not swallow a local test CA.
            builder = builder.no_proxy();
        }
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("the CA certificate is not PEM: {e}"))?;
            if certs.is_empty() {
                return Err("the CA certificate file holds no PEM certificate".to_owned());
            }
            builder = builder.tls_certs_only(certs);
        }
        let client = builder
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(AcmeHttp { client, timeout })
    }

    async fn send(
        client: reqwest::Client,
        timeout: Duration,
        req: http::Request<BodyWrapper<Bytes>>,
        capture: Option<Capture>,
    ) -> Result<BytesResponse, instant_acme::Error> {
        let started = std::time::Instant::now();
        let (parts, body) = req.into_parts();
        let url = parts.uri.to_string();
        // BodyWrapper<Bytes> is an http_body::Body with an exact size, so hyper still sends a
        // Content-Length.
        let payload = reqwest::Body::wrap(body);
        let mut headers = parts.headers;
        let agent = match headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
            Some(theirs) => format!("certdx/{} {theirs}", env!("CARGO_PKG_VERSION")),
            None => format!("certdx/{}", env!("CARGO_PKG_VERSION")),
        };
        if let Ok(value) = agent.parse() {
            headers.insert(USER_AGENT, value);
        }
        let failed = |reason: String, maybe_sent: bool| {
            instant_acme::Error::Other(Box::new(TransportError {
                url: url.clone(),
                reason,
                maybe_sent,
            }))
        };
        let mut resp = client
            .request(parts.method, &url)
            .headers(headers)
            .body(payload)
            .send()
            .await
            .map_err(|e| failed(describe_head(&e, timeout), !e.is_connect()))?;
        let status = resp.status();
        let version = resp.version();
        let response_headers = resp.headers().clone();
        if let Some(announced) = resp.content_length()
            && announced > MAX_BODY_BYTES as u64
        {
            return Err(failed(
                format!(
                    "the CA announced a body of {announced} bytes (Content-Length), more than \
                     the {MAX_BODY_BYTES} bytes (1 MiB) any ACME response needs; not read"
                ),
                true,
            ));
        }
        let mut received = Vec::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Err(failed(
                        format!(
                            "the CA answered too slowly: {} body bytes in {:.1} s, no complete \
                             body within the {} s deadline of a request",
                            received.len(),
                            started.elapsed().as_secs_f64(),
                            timeout.as_secs_f64()
                        ),
                        true,
                    ));
                }
                Err(e) => return Err(failed(describe(&e), true)),
            };
            if received.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(failed(
                    format!(
                        "the response body went past {MAX_BODY_BYTES} bytes (1 MiB), more than \
                         any ACME response needs; reading stopped there"
                    ),
                    true,
                ));
            }
            received.extend_from_slice(&chunk);
        }
        let retry_after = response_headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Timestamp::now()));
        let delivered = match status
            .is_success()
            .then(|| normalise_order_status(&received))
        {
            Some(Some((body, original))) => {
                tracing::debug!(%url, status = %original, "order status unknown to instant-acme read as invalid");
                body
            }
            _ => received.clone(),
        };
        if let Some(capture) = capture {
            capture.record(Exchange {
                url,
                status: status.as_u16(),
                retry_after,
                links: response_headers
                    .get_all(http::header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect(),
                body: received,
            });
        }
        let mut builder = http::Response::builder().status(status).version(version);
        if let Some(h) = builder.headers_mut() {
            *h = response_headers;
        }
        let (parts, ()) = builder
            .body(())
            .map_err(|e| instant_acme::Error::Other(Box::new(e)))?
            .into_parts();
        Ok(BytesResponse {
            parts,
            body: Box::new(Bytes::from(delivered)),
        })
    }
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        // Taken now, while instant-acme polls inside the operation's scope; the returned future
        // then carries its own handle.
        let capture = CAPTURE.try_with(Capture::clone).ok();
        Box::pin(AcmeHttp::send(
            self.client.clone(),
            self.timeout,
            req,
            capture,
        ))
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// An error before the body, with the two ways a hostile server holds the head named: the
/// request's deadline and hyper's size limits.
fn describe_head(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        let what = if e.is_connect() {
            "no connection"
        } else {
            "connected, but no complete response head (status line and headers)"
        };
        return format!(
            "{what} within the {} s deadline of a request (a CA that is silent, trickles, or \
             never ends its headers)",
            timeout.as_secs_f64()
        );
    }
    let text = describe(e);
    if text.contains("message head is too large") {
        return format!(
            "the response head is too large: more than {MAX_HEADERS} header lines or more than \
             {MAX_HEAD_BYTES} bytes before the blank line that ends it; reading stopped there"
        );
    }
    text
}

/// An error in words, innermost causes included: reqwest's top line alone ("error sending
/// request") does not tell a refused connection from a TLS failure.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The instant a `Retry-After` value names: delay-seconds or an HTTP-date (RFC 9110 section
/// 10.2.3), received at `now`.
pub(crate) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Timestamp> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // A delay too large to represent is as good as "not in this run".
        let secs = value.parse::<i64>().unwrap_or(i64::MAX / 2);
        let secs = secs.min(100 * 365 * 24 * 3600);
        return now.checked_add(SignedDuration::from_secs(secs)).ok();
    }
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()
}

/// When `body` is an order object whose status instant-acme cannot parse, the body with that
/// status replaced by "invalid", and the original status.
fn normalise_order_status(body: &[u8]) -> Option<(Vec<u8>, String)> {
    // Cheap test first: this runs on every response.
    if !contains(body, b"\"finalize\"") || !contains(body, b"\"status\"") {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    if !object.contains_key("finalize") || !object.contains_key("authorizations") {
        return None;
    }
    let status = object.get("status")?.as_str()?;
    if RFC_ORDER_STATUSES.contains(&status) {
        return None;
    }
    let original = status.to_owned();
    object.insert("status".to_owned(), "invalid".into());
    Some((serde_json::to_vec(&value).ok()?, original))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some("2025-01-01T00:02:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some("2015-10-21T07:28:00Z".parse().unwrap())
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert!(parse_retry_after("99999999999999999999999", now).is_some());
    }

    #[test]
    fn deactivated_order_is_normalised_and_others_untouched() {
        let order = br#"{"status":"deactivated","finalize":"https://x/f","authorizations":["https://x/a"],"identifiers":[]}"#;
        let (body, original) = normalise_order_status(order).expect("rewritten");
        assert_eq!(original, "deactivated");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], "invalid");
        assert_eq!(v["finalize"], "https://x/f");

        let pending = br#"{"status":"pending","finalize":"f","authorizations":[]}"#;
        assert!(normalise_order_status(pending).is_none());
        // An authorization may legitimately be "deactivated": it has no finalize URL.
        let authz =
            br#"{"status":"deactivated","identifier":{"type":"dns","value":"a"},"challenges":[]}"#;
        assert!(normalise_order_status(authz).is_none());
        assert!(normalise_order_status(b"not json \"finalize\" \"status\"").is_none());
    }

    #[test]
    fn only_https_directories() {
        let err = AcmeHttp::new("http://127.0.0.1/dir", None, Duration::from_secs(1))
            .err()
            .expect("rejected");
        assert!(err.contains("https"), "{err}");
        assert!(AcmeHttp::new("https://127.0.0.1/dir", None, Duration::from_secs(1)).is_ok());
        let err = AcmeHttp::new(
            "https://127.0.0.1/dir",
            Some("junk"),
            Duration::from_secs(1),
        )
        .err()
        .expect("rejected");
        assert!(err.contains("PEM"), "{err}");
    }
}
