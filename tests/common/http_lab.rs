//! Real HTTP/1.1 and HTTPS listeners for the HTTP-01 tests, plus a fixed-table
//! `AddressLookup` (the DNS side is tested against real servers elsewhere).
//!
//! Each server answers one request per connection from a scripted [`Reply`], records what
//! it was asked, and is stopped when its [`Lab`] is dropped (also when a test panics): the
//! accept task is aborted and, with it, the `JoinSet` holding every connection task.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certdx::checks::{AddressLookup, LookupError};
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// What the server was asked.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line's path.
    pub path: String,
    /// The Host header.
    pub host: String,
    /// The User-Agent header.
    pub user_agent: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// How the server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request, then say nothing until stopped.
    Hang,
    /// Send the status line, headers and part of a longer body, then say nothing.
    StallBody,
    /// Write these bytes instead of HTTP, then close.
    Raw(Vec<u8>),
    /// 200 with a body of `total` bytes, written as fast as the client takes it.
    Stream { total: u64 },
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200, body)
    }

    /// `status` with `body`.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status, "moved").header("Location", location)
    }

    /// Adds a header to a `Respond`.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

#[derive(Default)]
struct Log {
    requests: Mutex<Vec<Request>>,
    connections: AtomicUsize,
    streamed: AtomicU64,
}

/// A running server; dropping it stops it.
pub struct Lab {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Log>,
    task: JoinHandle<()>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Lab {
    /// A plain HTTP server on `addr`.
    pub async fn http(
        addr: SocketAddr,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Lab {
        Lab::start(addr, None, Arc::new(handler)).await
    }

    /// An HTTPS server on `addr` with a fresh self-signed certificate for `name`.
    pub async fn https(
        addr: SocketAddr,
        name: &str,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Lab {
        let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("rcgen");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()),
        );
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Lab::start(addr, Some(acceptor), Arc::new(handler)).await
    }

    /// A listener that accepts and counts connections but never answers: proves that
    /// nothing connected.
    pub async fn silent(addr: SocketAddr) -> Lab {
        Lab::http(addr, |_| Reply::Hang).await
    }

    async fn start(
        addr: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
        handler: Handler,
    ) -> Lab {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let addr = listener.local_addr().expect("local addr");
        let log = Arc::new(Log::default());
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _peer)) = listener.accept().await else {
                    // Back off instead of spinning if accept keeps failing (e.g. EMFILE).
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                task_log.connections.fetch_add(1, Ordering::SeqCst);
                let (log, handler, tls) = (task_log.clone(), handler.clone(), tls.clone());
                conns.spawn(async move {
                    match tls {
                        None => serve(stream, false, &handler, &log).await,
                        Some(acceptor) => {
                            let accepted = tokio::time::timeout(
                                Duration::from_secs(5),
                                acceptor.accept(stream),
                            )
                            .await;
                            if let Ok(Ok(s)) = accepted {
                                serve(s, true, &handler, &log).await;
                            }
                        }
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Lab { addr, log, task }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.requests.lock().unwrap().clone()
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> usize {
        self.log.connections.load(Ordering::SeqCst)
    }

    /// How many body bytes a `Stream` reply got the kernel to accept.
    pub fn streamed(&self) -> u64 {
        self.log.streamed.load(Ordering::SeqCst)
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    tls: bool,
    handler: &Handler,
    log: &Log,
) {
    let Some(request) = read_request(&mut stream, tls).await else {
        return;
    };
    log.requests.lock().unwrap().push(request.clone());
    match handler(&request) {
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Hang => std::future::pending::<()>().await,
        Reply::StallBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
                .await;
            let _ = stream.flush().await;
            std::future::pending::<()>().await;
        }
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Stream { total } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0u64;
            while sent < total {
                let n = chunk.len().min((total - sent) as usize);
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                sent += n as u64;
                log.streamed.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
    }
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, tls: bool) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let mut request = Request {
        path,
        host: String::new(),
        user_agent: String::new(),
        tls,
    };
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "host" => request.host = v.trim().to_owned(),
                "user-agent" => request.user_agent = v.trim().to_owned(),
                _ => {}
            }
        }
    }
    Some(request)
}

/// An `AddressLookup` over a fixed table; unknown names are NXDOMAIN.
#[derive(Default)]
pub struct FixedLookup(pub HashMap<String, Vec<IpAddr>>);

impl FixedLookup {
    /// Adds `name` with `addrs`.
    pub fn with(mut self, name: &str, addrs: &[IpAddr]) -> FixedLookup {
        self.0.insert(name.to_owned(), addrs.to_vec());
        self
    }
}

impl AddressLookup for FixedLookup {
    fn addresses<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, LookupError>> {
        Box::pin(async move {
            self.0
                .get(name)
                .cloned()
                .ok_or_else(|| LookupError::NxDomain(name.to_owned()))
        })
    }
}
