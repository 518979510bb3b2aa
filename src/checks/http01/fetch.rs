//! One GET, pinned to one address, with a bounded body read.
//!
//! reqwest is used with its resolver overridden for the URL's host, so the request goes to
//! exactly the address under test while the Host header (and SNI on https) carry the name, the
//! way the CA dials a pre-resolved address. Redirects are never followed here: the caller
//! walks them hop by hop so each one becomes evidence.

use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{LOCATION, SERVER};

use crate::checks::limit::{Destination, LimitConfig, Limits};
use crate::model::HttpEvidence;

use super::Http01Options;

/// How many characters of a body go into evidence.
pub const EXCERPT_CHARS: usize = 200;

/// The most header lines a response may carry: hyper's own default, set explicitly so the
/// finding can name it. A real challenge response has a handful.
pub const MAX_HEADERS: usize = 100;

/// The most bytes of a response head hyper buffers before it gives up (its default read
/// buffer limit, 8 KiB + 100 × 4 KiB; reqwest does not expose the setting).
pub const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// The windows of HTTP addresses, for the whole process: an address's capacity is the same
/// whichever run or view asks it, and the client is built per request anyway, so there is no
/// per-run handle to hang them on.
static HTTP_LIMITS: LazyLock<Limits> = LazyLock::new(|| Limits::new(LimitConfig::default()));

/// A response that came back.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The status code.
    pub status: u16,
    /// The Location header, if it was present and valid UTF-8.
    pub location: Option<String>,
    /// Whether a Location header was present but not valid UTF-8.
    pub location_garbled: bool,
    /// At most `max_body` bytes of the body.
    pub body: Vec<u8>,
    /// Whether the body went on past `max_body` (reading stopped there).
    pub body_truncated: bool,
}

/// GETs `url` from `addr:port`. The evidence is filled whatever happens; the result is the
/// response, or the error in words.
pub async fn fetch(
    url: &Url,
    addr: IpAddr,
    port: u16,
    opts: &Http01Options,
) -> (HttpEvidence, Result<Fetched, String>) {
    // Waiting for a place in the address's window is not the server's time: the clock starts
    // once the request may go.
    let permit = HTTP_LIMITS
        .acquire(Destination::Http(SocketAddr::new(addr, port)))
        .await;
    let started = Instant::now();
    let mut evidence = HttpEvidence {
        url: url.to_string(),
        address: Some(addr),
        port: Some(port),
        ..HttpEvidence::default()
    };
    // reqwest's own timeout covers connect, headers and body; the outer one is a backstop so
    // no path through the client can outlive the budget.
    let backstop = opts.timeout + Duration::from_millis(500);
    let result =
        match tokio::time::timeout(backstop, request(url, addr, port, opts, &mut evidence)).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} ms", opts.timeout.as_millis())),
        };
    evidence.elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => permit.answered(),
        Err(e) if e.contains("timed out") => permit.timed_out(),
        Err(_) => {}
    }
    drop(permit);
    if let Err(e) = &result {
        evidence.error = Some(e.clone());
    }
    (evidence, result)
}

async fn request(
    url: &Url,
    addr: IpAddr,
    port: u16,
    opts: &Http01Options,
    evidence: &mut HttpEvidence,
) -> Result<Fetched, String> {
    let client = client(url, SocketAddr::new(addr, port), opts)?;
    let started = Instant::now();
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| describe_head_error(&e, opts.timeout))?;
    let status = response.status().as_u16();
    evidence.status = Some(status);
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.as_bytes().to_vec())
    };
    evidence.server = header(SERVER).map(|v| String::from_utf8_lossy(&v).into_owned());
    let raw_location = header(LOCATION);
    evidence.location = raw_location
        .as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let location = raw_location
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned);
    let location_garbled = raw_location.is_some() && location.is_none();

    // Read one byte past the limit so "exactly max_body" and "longer" stay distinguishable,
    // then stop: dropping the response closes the connection instead of draining it.
    let mut body = Vec::new();
    let mut body_truncated = false;
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            evidence.body_excerpt = excerpt(&body);
            if e.is_timeout() {
                // reqwest's timeout is one deadline for the whole request, body included, so
                // a body trickled a byte at a time ends here too.
                return format!(
                    "reading the body timed out: {} bytes in {:.1} s, the request's deadline is \
                     {} ms (a server that stalls or trickles its body)",
                    body.len(),
                    started.elapsed().as_secs_f64(),
                    opts.timeout.as_millis()
                );
            }
            format!(
                "reading the body after {} bytes: {}",
                body.len(),
                describe(&e, opts.timeout)
            )
        })?;
        let Some(chunk) = chunk else { break };
        let room = opts.max_body.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            body_truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    evidence.body_excerpt = excerpt(&body);
    Ok(Fetched {
        status,
        location,
        location_garbled,
        body,
        body_truncated,
    })
}

fn client(url: &Url, to: SocketAddr, opts: &Http01Options) -> Result<reqwest::Client, String> {
    // reqwest is built without a default crypto provider; installing ring twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(opts.user_agent.clone())
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout)
        .pool_max_idle_per_host(0)
        .http1_only()
        .http1_max_headers(MAX_HEADERS)
        // The CA does not validate certificates when it follows a redirect to https.
        .tls_danger_accept_invalid_certs(true)
        .tls_danger_accept_invalid_hostnames(true);
    if let Some(host) = url.host_str() {
        builder = builder.resolve(host, to);
    }
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

/// An error of the request before the body: what [`describe`] says, with the two ways a
/// hostile server holds the head named (a deadline and hyper's size limits).
fn describe_head_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() && !e.is_connect() {
        return format!(
            "timed out after {} ms: connected, but the response head (status line and headers) \
             did not arrive in full within the request's deadline (a server that is silent, \
             trickles, or never ends its headers)",
            timeout.as_millis()
        );
    }
    let text = describe(e, timeout);
    if text.contains("message head is too large") {
        return format!(
            "the response head is too large: more than {MAX_HEADERS} header lines or more than \
             {MAX_HEAD_BYTES} bytes before the blank line that ends it (a server that never \
             ends its headers); reading stopped there"
        );
    }
    text
}

/// An error in words, innermost causes included: reqwest's top line alone ("error sending
/// request") does not tell a refused connection from a reset or a garbled response.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let mut parts: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // hyper-util's "client error (Connect)" wrappers say nothing the causes do not.
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        return e.to_string();
    }
    let prefix = if e.is_connect() { "connect: " } else { "" };
    format!("{prefix}{}", parts.join(": "))
}

/// The start of a body as evidence: lossy UTF-8, at most [`EXCERPT_CHARS`] characters.
pub fn excerpt(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    // A char is at most 4 bytes: this slice holds every char the excerpt can show.
    let slice = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let text = String::from_utf8_lossy(slice);
    if slice.len() == body.len() && text.chars().count() <= EXCERPT_CHARS {
        return Some(text.into_owned());
    }
    let mut out: String = text.chars().take(EXCERPT_CHARS - 1).collect();
    out.push('…');
    Some(out)
}
