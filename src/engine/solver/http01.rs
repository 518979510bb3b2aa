//! The standalone HTTP-01 responder: one listener (`--http01-listen ADDR`) serving every
//! pending token, `GET /.well-known/acme-challenge/<token>` -> the key authorization
//! (`text/plain`), 404 for anything else.
//!
//! Tokens are added and removed at runtime through [`Http01Tokens`], a cheap shared handle, so
//! the engine publishes a challenge before telling the CA "ready" and withdraws it once the
//! authorization is final, without touching the listener.
//!
//! HTTP is hyper's server (HTTP/1 only: CAs validate over HTTP/1.1). certdx keeps the bounds
//! ([`Http01Limits`]): hyper caps the request head (431) and the time to send it (closed
//! unanswered), certdx caps connections at once (more are closed at accept), the whole
//! exchange, and the time a graceful shutdown waits. Every connection is closed after its
//! one response (validation servers open a fresh one per request anyway).
//!
//! Several workers sharing one batch sit behind one load balancer for the names' port 80: a
//! token this listener does not hold is then looked up in the shared store
//! ([`Http01Tokens::with_elsewhere`]), so any worker answers any worker's challenge.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

/// The path prefix CAs fetch (RFC 8555 section 8.3).
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The responder's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http01Limits {
    /// The largest request head (request line and headers) read; larger gets 431. hyper also
    /// answers 431 past 100 header lines.
    pub max_request_bytes: usize,
    /// How long a client may take to send its request head.
    pub read_timeout: Duration,
    /// How long a client may take to take the response (the whole exchange is bounded by
    /// this plus `read_timeout`).
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
    served_from_elsewhere: AtomicU64,
    elsewhere: OnceLock<Elsewhere>,
}

/// Where a token this listener does not hold is looked up: a blocking call (a database
/// query), run on tokio's blocking pool. `Err` is the reason it could not be asked.
pub type Elsewhere = Arc<dyn Fn(&str) -> Result<Option<String>, String> + Send + Sync>;

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

    /// How many of those came from elsewhere (another worker's token, found in the store).
    pub fn served_from_elsewhere(&self) -> u64 {
        self.inner.served_from_elsewhere.load(Ordering::Relaxed)
    }

    /// Answers tokens this set does not hold from `elsewhere` too (set once; later calls are
    /// ignored).
    pub fn with_elsewhere(self, elsewhere: Elsewhere) -> Http01Tokens {
        let _ = self.inner.elsewhere.set(elsewhere);
        self
    }

    /// The key authorization for `token`: held here, else from elsewhere when set.
    async fn lookup(&self, token: &str) -> Option<Arc<str>> {
        if let Some(held) = self.read().get(token).cloned() {
            return Some(held);
        }
        let elsewhere = Arc::clone(self.inner.elsewhere.get()?);
        let wanted = token.to_owned();
        match tokio::task::spawn_blocking(move || elsewhere(&wanted)).await {
            Ok(Ok(Some(found))) => {
                self.inner
                    .served_from_elsewhere
                    .fetch_add(1, Ordering::Relaxed);
                Some(Arc::from(found))
            }
            Ok(Ok(None)) => None,
            Ok(Err(why)) => {
                tracing::warn!(%why, "could not look an HTTP-01 token up in the shared store");
                None
            }
            Err(_) => None,
        }
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
                        answer(stream, tokens, &limits).await;
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

/// Serves one connection: one request, one response, closed.
async fn answer(stream: TcpStream, tokens: Http01Tokens, limits: &Http01Limits) {
    let service = service_fn(move |request: Request<Incoming>| {
        let tokens = tokens.clone();
        async move { Ok::<_, Infallible>(respond(&request, &tokens).await) }
    });
    let connection = http1_server(limits).serve_connection(TokioIo::new(stream), service);
    // hyper bounds the head; this bounds the whole exchange, the response's write included
    // (a client that never reads it).
    let whole = limits.read_timeout.saturating_add(limits.write_timeout);
    if let Ok(Err(e)) = tokio::time::timeout(whole, connection).await {
        tracing::trace!(error = %e, "HTTP-01 connection ended with an error");
    }
}

/// hyper's HTTP/1 server with the responder's bounds.
fn http1_server(limits: &Http01Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        .max_header_size(limits.max_request_bytes)
        // hyper refuses a buffer under 8 KiB; the head limit above is what callers set.
        .max_buf_size(limits.max_request_bytes.max(MIN_HYPER_BUFFER))
        .keep_alive(false)
        // A client may shut its side once the request is sent; it still gets the answer.
        .half_close(true)
        .title_case_headers(true)
        .auto_date_header(false);
    builder
}

/// The smallest read buffer hyper accepts.
const MIN_HYPER_BUFFER: usize = 8 * 1024;

/// The response to one request.
async fn respond(request: &Request<Incoming>, tokens: &Http01Tokens) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            status_body(StatusCode::METHOD_NOT_ALLOWED),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let found = match token_of(request.uri().path()) {
        Some(token) => tokens.lookup(token).await,
        None => None,
    };
    match found {
        Some(key_authorization) => {
            tokens.inner.served.fetch_add(1, Ordering::Relaxed);
            plain(
                StatusCode::OK,
                Bytes::copy_from_slice(key_authorization.as_bytes()),
            )
        }
        None => plain(StatusCode::NOT_FOUND, status_body(StatusCode::NOT_FOUND)),
    }
}

/// `404 Not Found` and the like, as a one-line body.
fn status_body(status: StatusCode) -> Bytes {
    let reason = status.canonical_reason().unwrap_or_default();
    Bytes::from(format!("{} {reason}\n", status.as_u16()))
}

/// A `text/plain` response; hyper leaves the body out for HEAD but keeps its length.
fn plain(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.clone()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::SERVER, HeaderValue::from_static("certdx"));
    response
}

/// The token a request path asks for: only base64url characters (what CAs issue), so an
/// encoded slash or a dot segment never matches.
fn token_of(path: &str) -> Option<&str> {
    let token = path.strip_prefix(CHALLENGE_PREFIX)?;
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(token)
}

#[cfg(test)]
mod tests;
