//! The standalone HTTP-01 responder: one listener (`--http01-listen ADDR`) serving every
//! pending token, `GET /.well-known/acme-challenge/<token>` -> the key authorization
//! (`text/plain`), 404 for anything else.
//!
//! Tokens are added and removed at runtime through [`Http01Tokens`], a cheap shared handle, so
//! the engine publishes a challenge before telling the CA "ready" and withdraws it once the
//! authorization is final, without touching the listener.
//!
//! Hand-rolled on a `TcpListener` rather than hyper: the hyper in certdx's tree is built with
//! its client side only (kube, reqwest), and turning on its server side plus hyper-util's would
//! rebuild the whole HTTP stack for a responder that answers one bodiless GET per connection.
//! The bounds are explicit instead: the request head is capped ([`Http01Limits`]), reading and
//! writing have timeouts, connections beyond a cap are closed at once, and every connection
//! is closed after its one response (validation servers open a fresh one per request anyway).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

/// The path prefix CAs fetch (RFC 8555 section 8.3).
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The responder's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http01Limits {
    /// The largest request head (request line and headers) read; larger gets 431.
    pub max_request_bytes: usize,
    /// How long a client may take to send its request head.
    pub read_timeout: Duration,
    /// How long a client may take to take the response.
    pub write_timeout: Duration,
    /// Connections served at once; more are closed without an answer.
    pub max_connections: usize,
    /// How long [`Http01Solver::shutdown`] lets connections in flight finish.
    pub shutdown_grace: Duration,
}

impl Default for Http01Limits {
    fn default() -> Http01Limits {
        Http01Limits {
            max_request_bytes: 8 * 1024,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Why the responder could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Http01Error {
    /// The address could not be bound (in use, no permission for port 80, not local).
    #[error("binding the HTTP-01 listener on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// The tokens being served and their key authorizations: a cheap, cloneable handle shared by
/// the engine (which adds and removes) and the listener (which reads).
#[derive(Clone, Default)]
pub struct Http01Tokens {
    inner: Arc<TokensInner>,
}

#[derive(Default)]
struct TokensInner {
    map: RwLock<HashMap<String, Arc<str>>>,
    served: AtomicU64,
}

impl Http01Tokens {
    /// An empty set.
    pub fn new() -> Http01Tokens {
        Http01Tokens::default()
    }

    /// Serves `key_authorization` for `token` (replacing an earlier one for the same token).
    pub fn add(&self, token: impl Into<String>, key_authorization: impl Into<String>) {
        let value: Arc<str> = Arc::from(key_authorization.into());
        self.write().insert(token.into(), value);
    }

    /// Stops serving `token`; whether it was served.
    pub fn remove(&self, token: &str) -> bool {
        self.write().remove(token).is_some()
    }

    /// Whether `token` is served.
    pub fn contains(&self, token: &str) -> bool {
        self.read().contains_key(token)
    }

    /// How many tokens are served.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no token is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many key authorizations were answered (200s) since the set was made.
    pub fn served(&self) -> u64 {
        self.inner.served.load(Ordering::Relaxed)
    }

    fn lookup(&self, token: &str) -> Option<Arc<str>> {
        self.read().get(token).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<str>>> {
        self.inner
            .map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<str>>> {
        self.inner
            .map
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for Http01Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http01Tokens")
            .field("tokens", &self.len())
            .field("served", &self.served())
            .finish()
    }
}

/// A running responder. Dropping it stops the listener at once; [`Http01Solver::shutdown`]
/// stops it gracefully.
pub struct Http01Solver {
    tokens: Http01Tokens,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Http01Solver {
    /// Binds `addr` and serves a new, empty token set.
    pub async fn bind(addr: SocketAddr, limits: Http01Limits) -> Result<Http01Solver, Http01Error> {
        Http01Solver::bind_with(addr, Http01Tokens::new(), limits).await
    }

    /// Binds `addr` and serves `tokens` (a handle the caller already holds).
    pub async fn bind_with(
        addr: SocketAddr,
        tokens: Http01Tokens,
        limits: Http01Limits,
    ) -> Result<Http01Solver, Http01Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Http01Error::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Http01Error::Bind { addr, source })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, tokens.clone(), limits, stopped));
        tracing::debug!(%local_addr, "HTTP-01 responder listening");
        Ok(Http01Solver {
            tokens,
            local_addr,
            stop,
            task: Some(task),
        })
    }

    /// The address actually bound (the port when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The served token set.
    pub fn tokens(&self) -> Http01Tokens {
        self.tokens.clone()
    }

    /// Stops accepting, lets connections in flight finish (bounded by the grace period of
    /// [`Http01Limits`]) and releases the address.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Http01Solver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // Aborting the accept task drops the listener and its JoinSet, which aborts every
            // connection task.
            task.abort();
        }
    }
}

async fn serve(
    listener: TcpListener,
    tokens: Http01Tokens,
    limits: Http01Limits,
    mut stop: watch::Receiver<bool>,
) {
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        // Over the cap: closing at once costs less than queueing.
                        drop(stream);
                        continue;
                    };
                    let tokens = tokens.clone();
                    let limits = Arc::clone(&limits);
                    connections.spawn(async move {
                        let _permit = permit;
                        answer(stream, &tokens, &limits).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::debug!(error = %e, "HTTP-01 accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(limits.shutdown_grace, drained).await;
    connections.abort_all();
}

/// Reads one request head, writes one response, closes.
async fn answer(mut stream: TcpStream, tokens: &Http01Tokens, limits: &Http01Limits) {
    let head = tokio::time::timeout(
        limits.read_timeout,
        read_head(&mut stream, limits.max_request_bytes),
    )
    .await;
    let response = match head {
        Ok(Ok(Some(head))) => respond(&head, tokens),
        Ok(Ok(None)) => Response::status(431, "Request Header Fields Too Large"),
        // A timeout or a reset: nobody to answer.
        Ok(Err(_)) | Err(_) => return,
    };
    let bytes = response.into_bytes();
    let write = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(limits.write_timeout, write).await;
}

/// The request head up to the blank line; `None` when it exceeds `max` bytes.
async fn read_head(stream: &mut TcpStream, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&buf) {
            buf.truncate(end);
            return Ok(Some(buf));
        }
        if buf.len() > max {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head ends: after `\r\n\r\n` (or a bare `\n\n`, which some clients send).
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct Response {
    status: u16,
    reason: &'static str,
    body: Vec<u8>,
    head_only: bool,
    allow: bool,
}

impl Response {
    fn status(status: u16, reason: &'static str) -> Response {
        Response {
            status,
            reason,
            body: format!("{status} {reason}\n").into_bytes(),
            head_only: false,
            allow: false,
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\nServer: certdx\r\n",
            self.status,
            self.reason,
            self.body.len()
        )
        .into_bytes();
        if self.allow {
            out.extend_from_slice(b"Allow: GET, HEAD\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !self.head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// The response to one request head.
fn respond(head: &[u8], tokens: &Http01Tokens) -> Response {
    let line = head
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_owned())
        .unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::status(400, "Bad Request");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::status(400, "Bad Request");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut r = Response::status(405, "Method Not Allowed");
            r.allow = true;
            return r;
        }
    };
    let mut response = match token_of(target).and_then(|t| tokens.lookup(t)) {
        Some(key_authorization) => {
            tokens.inner.served.fetch_add(1, Ordering::Relaxed);
            Response {
                status: 200,
                reason: "OK",
                body: key_authorization.as_bytes().to_vec(),
                head_only: false,
                allow: false,
            }
        }
        None => Response::status(404, "Not Found"),
    };
    response.head_only = head_only;
    response
}

/// The token a request target asks for: origin-form or absolute-form, query ignored, only
/// base64url characters (what CAs issue).
fn token_of(target: &str) -> Option<&str> {
    let path = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            &rest[rest.find('/')?..]
        }
        None => target,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let token = path.strip_prefix(CHALLENGE_PREFIX)?;
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn solver(limits: Http01Limits) -> Http01Solver {
        Http01Solver::bind("127.0.0.1:0".parse().unwrap(), limits)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// Sends `request` raw and returns everything the server wrote before closing.
    async fn raw(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .expect("the server closes")
            .unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    fn get(path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: a.test\r\nUser-Agent: test\r\n\r\n").into_bytes()
    }

    #[tokio::test]
    async fn serves_added_tokens_and_404s_the_rest() {
        let s = solver(Http01Limits::default()).await;
        let tokens = s.tokens();
        tokens.add("tok-1_A", "tok-1_A.thumb");
        let addr = s.local_addr();

        let ok = raw(addr, &get("/.well-known/acme-challenge/tok-1_A")).await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: text/plain\r\n"));
        assert!(ok.ends_with("\r\n\r\ntok-1_A.thumb"), "{ok}");
        assert_eq!(tokens.served(), 1);

        // Absolute-form and a query string reach the same token.
        let abs = raw(
            addr,
            &get("http://a.test/.well-known/acme-challenge/tok-1_A?x=1"),
        )
        .await;
        assert!(abs.ends_with("tok-1_A.thumb"), "{abs}");

        for path in [
            "/.well-known/acme-challenge/other",
            "/.well-known/acme-challenge/",
            "/.well-known/acme-challenge/../etc",
            "/",
        ] {
            let r = raw(addr, &get(path)).await;
            assert!(r.starts_with("HTTP/1.1 404 "), "{path}: {r}");
        }

        assert!(tokens.remove("tok-1_A"));
        assert!(!tokens.remove("tok-1_A"));
        let gone = raw(addr, &get("/.well-known/acme-challenge/tok-1_A")).await;
        assert!(gone.starts_with("HTTP/1.1 404 "), "{gone}");
        assert!(tokens.is_empty());
    }

    #[tokio::test]
    async fn head_has_no_body_and_other_methods_are_refused() {
        let s = solver(Http01Limits::default()).await;
        s.tokens().add("t", "t.k");
        let head = raw(
            s.local_addr(),
            b"HEAD /.well-known/acme-challenge/t HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert!(head.contains("Content-Length: 3\r\n"));
        assert!(head.ends_with("\r\n\r\n"), "no body after HEAD: {head:?}");
        let post = raw(
            s.local_addr(),
            b"POST /.well-known/acme-challenge/t HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        assert!(post.contains("Allow: GET, HEAD"));
        let junk = raw(s.local_addr(), b"hello\r\n\r\n").await;
        assert!(junk.starts_with("HTTP/1.1 400 "), "{junk}");
    }

    #[tokio::test]
    async fn oversized_heads_get_431_and_silent_clients_are_cut_off() {
        let limits = Http01Limits {
            max_request_bytes: 256,
            read_timeout: Duration::from_millis(300),
            ..Http01Limits::default()
        };
        let s = solver(limits).await;
        let mut big = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 4096));
        big.extend_from_slice(b"\r\n\r\n");
        let r = raw(s.local_addr(), &big).await;
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");

        let started = Instant::now();
        let silent = raw(s.local_addr(), b"GET / HTTP/1.1\r\n").await;
        assert_eq!(silent, "", "no answer to an unfinished head");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_real_http_client_gets_the_key_authorization() {
        let s = solver(Http01Limits::default()).await;
        s.tokens().add("abc", "abc.xyz");
        let url = format!("http://{}/.well-known/acme-challenge/abc", s.local_addr());
        // reqwest is built without a default crypto provider, even for plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        for _ in 0..3 {
            let resp = client.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.text().await.unwrap(), "abc.xyz");
        }
        assert_eq!(s.tokens().served(), 3);
    }

    #[tokio::test]
    async fn shutdown_releases_the_address_and_drop_stops_serving() {
        let s = solver(Http01Limits::default()).await;
        let addr = s.local_addr();
        // A connection in flight finishes during a graceful shutdown.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /x HTTP/1.1\r\n").await.unwrap();
        let shutdown = tokio::spawn(s.shutdown());
        tokio::time::sleep(Duration::from_millis(100)).await;
        slow.write_all(b"\r\n").await.unwrap();
        let mut out = String::new();
        slow.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
        tokio::time::timeout(Duration::from_secs(5), shutdown)
            .await
            .expect("shutdown finishes")
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
        // The address is free again.
        let again = Http01Solver::bind(addr, Http01Limits::default())
            .await
            .unwrap();
        drop(again);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "dropped solver stops listening"
        );
    }

    #[test]
    fn tokens_are_base64url_only() {
        assert_eq!(token_of("/.well-known/acme-challenge/aB-_9"), Some("aB-_9"));
        assert_eq!(token_of("/.well-known/acme-challenge/a%2Fb"), None);
        assert_eq!(token_of("/.well-known/acme-challenge/a/b"), None);
        assert_eq!(
            token_of("https://h:80/.well-known/acme-challenge/t#f"),
            Some("t")
        );
        assert_eq!(token_of("/other/t"), None);
    }
}
