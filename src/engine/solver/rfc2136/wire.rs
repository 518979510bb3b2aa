//! One DNS exchange over TCP.
//!
//! Updates go over TCP only: a lost UDP datagram would leave certdx unsure whether the
//! server applied the change, and a signed answer is never truncated halfway through its
//! TSIG record. RFC 7766 requires every server to speak TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::Rfc2136Error;

/// Sends `message` (with id `id`) to `server` and returns the raw answer, all within
/// `timeout`.
pub(super) async fn exchange(
    server: SocketAddr,
    message: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, Rfc2136Error> {
    let io = |source| Rfc2136Error::Io { server, source };
    let len = u16::try_from(message.len()).map_err(|_| Rfc2136Error::Malformed {
        server,
        reason: "the message is too large for DNS over TCP".to_owned(),
    })?;
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.map_err(io)?;
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        stream.write_all(&framed).await.map_err(io)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(io)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer).await.map_err(io)?;
        Ok(answer)
    };
    let answer = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Rfc2136Error::Timeout {
            server,
            after: timeout,
        })??;
    if answer.len() < 12
        || u16::from_be_bytes([answer[0], answer[1]]) != id
        || answer[2] & 0x80 == 0
    {
        return Err(Rfc2136Error::Malformed {
            server,
            reason: "not a response to the question sent".to_owned(),
        });
    }
    Ok(answer)
}
