//! One DNS exchange with one server: UDP first, TCP when the answer comes back truncated.
//!
//! Written on plain tokio sockets rather than hickory's client stack because the checks need
//! what a stub resolver hides: the exact bytes (CAA records hickory refuses to decode), the TC
//! and AA bits, and a hard per-question deadline that no retry policy stretches.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

/// Which transport carried the answer that was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The UDP answer was complete.
    Udp,
    /// The UDP answer had TC set and the question was asked again over TCP.
    Tcp,
    /// UDP got no answer in time and the question was asked again over TCP.
    TcpAfterTimeout,
}

/// The largest UDP answer accepted; EDNS advertises less, but a server may send more.
const UDP_BUFFER: usize = 65_535;

/// Sends `query` (whose message id is `id`) to `addr` and returns the raw answer.
///
/// UDP gets `timeout` in total with one retransmission half-way, so a single lost datagram
/// does not read as a dead server; a truncated answer is retried over TCP with a fresh
/// `timeout`. Errors are one-line texts meant for evidence.
pub async fn exchange(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<(Vec<u8>, Transport), String> {
    let udp = udp_exchange(addr, query, id, timeout).await?;
    if !is_truncated(&udp) {
        return Ok((udp, Transport::Udp));
    }
    match tcp_exchange(addr, query, id, timeout).await {
        Ok(tcp) => Ok((tcp, Transport::Tcp)),
        Err(e) => Err(format!("UDP answer truncated, TCP retry failed: {e}")),
    }
}

/// Asks over TCP only: the retry after UDP went unanswered (a lost datagram, or a server
/// dropping UDP under load still takes connections).
pub async fn exchange_tcp(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    tcp_exchange(addr, query, id, timeout).await
}

/// Whether an exchange error is a deadline passing with no answer (as opposed to a refusal or
/// a garbled answer): the kind worth asking again.
pub fn is_timeout(error: &str) -> bool {
    error.starts_with("no answer within") || error.starts_with("no TCP connection within")
}

/// Whether a raw DNS message has the TC bit set.
fn is_truncated(raw: &[u8]) -> bool {
    raw.len() > 2 && raw[2] & 0x02 != 0
}

/// Whether `raw` looks like the answer to our question: long enough, same id, QR set.
fn is_answer_to(raw: &[u8], id: u16) -> bool {
    raw.len() >= 12 && u16::from_be_bytes([raw[0], raw[1]]) == id && raw[2] & 0x80 != 0
}

async fn udp_exchange(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("UDP bind: {e}"))?;
    // Connecting makes the kernel drop datagrams from other addresses and report ICMP
    // port-unreachable as ECONNREFUSED, so "nothing listens" shows up at once.
    socket
        .connect(addr)
        .await
        .map_err(|e| format!("UDP connect: {e}"))?;
    socket
        .send(query)
        .await
        .map_err(|e| describe_io("UDP send", &e))?;
    let mut resend_at = Some(started + timeout / 2);
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let wake = resend_at.map_or(deadline, |r| r.min(deadline));
        match timeout_at(wake, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                if is_answer_to(&buf[..n], id) {
                    buf.truncate(n);
                    return Ok(buf);
                }
                // A stray or late datagram: keep waiting for ours.
            }
            Ok(Err(e)) => return Err(describe_io("UDP", &e)),
            Err(_) if resend_at.is_some() && Instant::now() < deadline => {
                resend_at = None;
                socket
                    .send(query)
                    .await
                    .map_err(|e| describe_io("UDP resend", &e))?;
            }
            Err(_) => {
                return Err(format!("no answer within {} ms (UDP)", timeout.as_millis()));
            }
        }
    }
}

/// The most bytes read from one TCP connection. A DNS message over TCP is at most 65,535 bytes
/// behind its 2-byte length, and a fresh connection should carry nothing but our answer: room
/// for two full messages tolerates one stray, anything beyond is a server streaming garbage.
const TCP_MAX_BYTES: usize = 2 * (2 + 65_535);

/// Why a TCP exchange produced no answer; turned into evidence text by [`tcp_exchange`].
enum TcpFailure {
    Io(io::Error),
    TooMuch,
}

async fn tcp_exchange(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    // One deadline for connect, send and every read: a per-read timeout would let a server
    // trickling one byte a second hold the check for as long as it likes.
    let deadline = started + timeout;
    let mut stream = timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no TCP connection within {} ms", timeout.as_millis()))?
        .map_err(|e| describe_io("TCP connect", &e))?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long for TCP".to_owned())?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    let mut received = 0usize;
    let outcome = timeout_at(deadline, async {
        stream.write_all(&framed).await.map_err(TcpFailure::Io)?;
        read_answer(&mut stream, id, &mut received).await
    })
    .await;
    match outcome {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(TcpFailure::Io(e))) => Err(describe_io("TCP", &e)),
        Ok(Err(TcpFailure::TooMuch)) => Err(format!(
            "sent more than {TCP_MAX_BYTES} bytes over TCP without answering the question \
             (the most one exchange may take)"
        )),
        Err(_) if received == 0 => Err(format!(
            "no answer within {} ms (TCP: connected, nothing came back)",
            timeout.as_millis()
        )),
        Err(_) => Err(format!(
            "answered too slowly over TCP: {received} bytes in {:.1} s, no complete answer \
             within the {} ms deadline",
            started.elapsed().as_secs_f64(),
            timeout.as_millis()
        )),
    }
}

/// Reads length-prefixed messages until the one answering `id`, counting every byte in
/// `received` (read by the caller when the deadline cuts this short).
async fn read_answer(
    stream: &mut TcpStream,
    id: u16,
    received: &mut usize,
) -> Result<Vec<u8>, TcpFailure> {
    loop {
        let mut len = [0u8; 2];
        read_full(stream, &mut len, received).await?;
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        read_full(stream, &mut msg, received).await?;
        if is_answer_to(&msg, id) {
            return Ok(msg);
        }
    }
}

/// `read_exact` that counts partial progress and stops at [`TCP_MAX_BYTES`].
async fn read_full(
    stream: &mut TcpStream,
    buf: &mut [u8],
    received: &mut usize,
) -> Result<(), TcpFailure> {
    let mut filled = 0;
    while filled < buf.len() {
        if *received + (buf.len() - filled) > TCP_MAX_BYTES {
            return Err(TcpFailure::TooMuch);
        }
        let n = stream
            .read(&mut buf[filled..])
            .await
            .map_err(TcpFailure::Io)?;
        if n == 0 {
            return Err(TcpFailure::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        filled += n;
        *received += n;
    }
    Ok(())
}

/// Turns an IO error into evidence text, naming the two cases on-call engineers meet most.
fn describe_io(what: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("{what}: connection refused (nothing listens on the port)")
        }
        io::ErrorKind::UnexpectedEof => format!("{what}: connection closed before the answer"),
        _ => format!("{what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_answers_and_truncation() {
        let mut raw = vec![0u8; 12];
        raw[0] = 0x12;
        raw[1] = 0x34;
        assert!(
            !is_answer_to(&raw, 0x1234),
            "QR bit not set: a query, not an answer"
        );
        raw[2] = 0x80;
        assert!(is_answer_to(&raw, 0x1234));
        assert!(!is_answer_to(&raw, 0x1235));
        assert!(!is_truncated(&raw));
        raw[2] |= 0x02;
        assert!(is_truncated(&raw));
        assert!(!is_answer_to(&raw[..11], 0x1234));
    }

    #[tokio::test]
    async fn silent_server_times_out_in_bounded_time() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let started = std::time::Instant::now();
        let err = exchange(addr, &[0u8; 12], 7, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.contains("no answer within 300 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(1000));
    }
}
