//! Servers that misbehave on purpose: a DNS server that trickles or floods its TCP answer, an
//! HTTP(S) server whose head never ends or whose body is a gigabyte or a trickle. No real
//! server can be told to do this, which is why these are hand-written. Each one listens on
//! 127.0.0.1, counts what it wrote, and stops when its handle is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// How many bytes a streaming server offers at most: the "1 GB" of the issue.
pub const GIGABYTE: u64 = 1 << 30;
/// The pause between two bytes of a trickle: far slower than any deadline allows in total.
const TRICKLE_GAP: Duration = Duration::from_millis(100);
/// The most bytes a trickle sends (a minute's worth), so no loop runs forever.
const TRICKLE_BYTES: usize = 600;

/// A running fake: its address and how many bytes it got the kernel to accept. Dropping it
/// aborts the accept loops, and with them every connection task.
pub struct Fake {
    /// Where it listens (UDP and TCP on the same port for DNS).
    pub addr: SocketAddr,
    written: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Fake {
    /// Bytes written to clients so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// The byte count once the server stopped writing (its client hung up), waited for at
    /// most two seconds.
    pub async fn settled_written(&self) -> u64 {
        let mut last = self.written();
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.written();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What a hostile HTTP server does once it has read the request head.
#[derive(Debug, Clone, Copy)]
pub enum Http {
    /// `200 OK`, then `X-a: b` header lines for as long as the client reads them.
    HeadersForever,
    /// `200 OK`, then one header whose value never ends.
    EndlessHeaderLine,
    /// `200 OK`, then a header trickled one byte at a time, never the blank line.
    TrickledHeaders,
    /// `200 OK` and a gigabyte of body, 64 KiB at a time, with or without announcing it in
    /// Content-Length.
    HugeBody {
        /// Whether the head says `Content-Length: 1073741824`.
        announced: bool,
    },
    /// `200 OK` with `Content-Length: 87`, the body one byte at a time.
    TrickledBody,
}

/// A plain HTTP server on 127.0.0.1 misbehaving as `how` on every connection.
pub async fn http(how: Http) -> Fake {
    serve(how, None).await
}

/// An HTTPS server (a self-signed certificate for 127.0.0.1, returned as PEM for the client
/// to trust) misbehaving as `how` on every connection.
pub async fn https(how: Http) -> (Fake, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    let pem = key.cert.pem();
    let der: CertificateDer<'static> = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der], private)
        .expect("a TLS server configuration");
    let fake = serve(how, Some(TlsAcceptor::from(Arc::new(config)))).await;
    (fake, pem)
}

async fn serve(how: Http, tls: Option<TlsAcceptor>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let task = tokio::spawn(async move {
        // Dropped with this task when the Fake is: every connection task is aborted too.
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                let _ = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => misbehave(s, how, &counter).await,
                        Err(_) => Ok(()),
                    },
                    None => misbehave(stream, how, &counter).await,
                };
            });
        }
    });
    Fake {
        addr,
        written,
        tasks: vec![task],
    }
}

async fn misbehave<S>(mut s: S, how: Http, written: &AtomicU64) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    read_head(&mut s).await?;
    match how {
        Http::HeadersForever => {
            send(&mut s, b"HTTP/1.1 200 OK\r\n", written).await?;
            let lines = b"X-a: b\r\n".repeat(1024);
            let mut sent = 0u64;
            while sent < GIGABYTE {
                send(&mut s, &lines, written).await?;
                sent += lines.len() as u64;
            }
        }
        Http::EndlessHeaderLine => {
            send(&mut s, b"HTTP/1.1 200 OK\r\nX-a: ", written).await?;
            stream_bytes(&mut s, written).await?;
        }
        Http::TrickledHeaders => {
            send(&mut s, b"HTTP/1.1 200 OK\r\n", written).await?;
            trickle(&mut s, b"X-a: b\r\n", written).await?;
        }
        Http::HugeBody { announced } => {
            let head = if announced {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {GIGABYTE}\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned()
            };
            send(&mut s, head.as_bytes(), written).await?;
            stream_bytes(&mut s, written).await?;
        }
        Http::TrickledBody => {
            send(
                &mut s,
                b"HTTP/1.1 200 OK\r\nContent-Length: 87\r\n\r\n",
                written,
            )
            .await?;
            trickle(&mut s, b"a", written).await?;
        }
    }
    Ok(())
}

/// Reads up to the blank line that ends a request head (at most 16 KiB, 5 s).
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or(Ok(()))
}

async fn send<S: AsyncWrite + Unpin>(
    s: &mut S,
    bytes: &[u8],
    written: &AtomicU64,
) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await?;
    written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    Ok(())
}

/// A gigabyte of `a`, 64 KiB at a time from one buffer (nothing of that size is allocated),
/// until the client hangs up.
async fn stream_bytes<S: AsyncWrite + Unpin>(
    s: &mut S,
    written: &AtomicU64,
) -> std::io::Result<()> {
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0u64;
    while sent < GIGABYTE {
        send(s, &chunk, written).await?;
        sent += chunk.len() as u64;
    }
    Ok(())
}

/// `pattern` repeated, one byte every [`TRICKLE_GAP`], at most [`TRICKLE_BYTES`] bytes.
async fn trickle<S: AsyncWrite + Unpin>(
    s: &mut S,
    pattern: &[u8],
    written: &AtomicU64,
) -> std::io::Result<()> {
    for byte in pattern.iter().cycle().take(TRICKLE_BYTES) {
        send(s, &[*byte], written).await?;
        tokio::time::sleep(TRICKLE_GAP).await;
    }
    Ok(())
}

/// What a hostile DNS server does on TCP.
#[derive(Debug, Clone, Copy)]
pub enum DnsTcp {
    /// A length prefix announcing 200 bytes, then the bytes one at a time.
    Trickle,
    /// Full-size (65,535-byte) messages that answer nothing, as fast as the client reads.
    Flood,
}

/// A DNS server on 127.0.0.1 whose UDP side answers with `udp` (the raw query in, the raw
/// answer out, `None` for silence) and whose TCP side (same port) misbehaves as `tcp`.
pub async fn dns<F>(udp: F, tcp: DnsTcp) -> Fake
where
    F: Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
{
    let (socket, listener) = bind_udp_and_tcp().await;
    let addr = socket.local_addr().expect("local address");
    let written = Arc::new(AtomicU64::new(0));
    let udp_task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if let Some(answer) = buf.get(..n).and_then(&udp) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    });
    let counter = written.clone();
    let tcp_task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            connections.spawn(async move {
                let _ = dns_tcp(stream, tcp, &counter).await;
            });
        }
    });
    Fake {
        addr,
        written,
        tasks: vec![udp_task, tcp_task],
    }
}

async fn dns_tcp(mut s: TcpStream, how: DnsTcp, written: &AtomicU64) -> std::io::Result<()> {
    // The question first, as a server would read it; its content does not matter here.
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut query).await?;
    match how {
        DnsTcp::Trickle => {
            send(&mut s, &200u16.to_be_bytes(), written).await?;
            trickle(&mut s, &[0], written).await?;
        }
        DnsTcp::Flood => {
            // All zeros: the QR bit is clear, so no message is ever the answer.
            let mut message = u16::MAX.to_be_bytes().to_vec();
            message.resize(2 + usize::from(u16::MAX), 0);
            let mut sent = 0u64;
            while sent < GIGABYTE {
                send(&mut s, &message, written).await?;
                sent += message.len() as u64;
            }
        }
    }
    Ok(())
}

/// UDP and TCP on one free port of 127.0.0.1 (the TCP fallback goes to the UDP server's port).
async fn bind_udp_and_tcp() -> (UdpSocket, TcpListener) {
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = udp.local_addr().expect("local address");
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// The query `raw` sent back as a response with TC set: "ask again over TCP".
pub fn truncated(raw: &[u8]) -> Option<Vec<u8>> {
    let mut answer = raw.to_vec();
    *answer.get_mut(2)? |= 0x80 | 0x02;
    Some(answer)
}
