//! One free port for a group of loopback addresses.
//!
//! The checks reach every authoritative nameserver on one `authoritative_port` and every web
//! address on one `http_port`, so each group of listeners must share a port. The first
//! address (the anchor) gets an ephemeral port from the kernel; the others are bound to that
//! same port. Labs running at the same time all use the same anchor, where the kernel never
//! hands out a port twice, so they cannot pick the same port; another program holding the
//! port on one of the other addresses only costs a retry with a fresh port.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use super::lab::DemoLabError;

/// Fresh ports tried before giving up.
const ATTEMPTS: usize = 32;

/// Binds `bind` on every address of `ips` at one common port, never one of `avoid`.
///
/// `bind` gets the address to bind (port 0 for the anchor) and returns what it bound and
/// the port it got. An error other than "address in use" (e.g. the address does not exist
/// on this machine) is returned at once: another port would not help.
pub fn bind_group<T>(
    what: &'static str,
    ips: &[Ipv4Addr],
    avoid: &[u16],
    bind: impl Fn(SocketAddr) -> io::Result<(T, u16)>,
) -> Result<(u16, Vec<T>), DemoLabError> {
    let Some((&anchor, rest)) = ips.split_first() else {
        return Ok((0, Vec::new()));
    };
    let mut last_conflict = None;
    for _ in 0..ATTEMPTS {
        let at = SocketAddr::from((anchor, 0));
        let (first, port) = match bind(at) {
            Ok(bound) => bound,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                last_conflict = Some(at);
                continue;
            }
            Err(source) => {
                return Err(DemoLabError::Bind {
                    what,
                    addr: at,
                    source,
                });
            }
        };
        if avoid.contains(&port) {
            continue;
        }
        let mut bound = vec![first];
        let mut conflict = None;
        for &ip in rest {
            let addr = SocketAddr::from((ip, port));
            match bind(addr) {
                Ok((b, _)) => bound.push(b),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    conflict = Some(addr);
                    break;
                }
                Err(source) => return Err(DemoLabError::Bind { what, addr, source }),
            }
        }
        match conflict {
            // Dropping `bound` releases the partial group before the next try.
            Some(addr) => last_conflict = Some(addr),
            None => return Ok((port, bound)),
        }
    }
    Err(DemoLabError::NoFreePort {
        what,
        attempts: ATTEMPTS,
        last_conflict,
    })
}

/// A UDP socket and a TCP listener on the same address and port (DNS speaks both).
pub fn bind_udp_tcp(
    addr: SocketAddr,
) -> io::Result<((std::net::UdpSocket, std::net::TcpListener), u16)> {
    let udp = std::net::UdpSocket::bind(addr)?;
    let port = udp.local_addr()?.port();
    let tcp = std::net::TcpListener::bind(SocketAddr::new(addr.ip(), port))?;
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    Ok(((udp, tcp), port))
}

/// A TCP listener.
pub fn bind_tcp(addr: SocketAddr) -> io::Result<(std::net::TcpListener, u16)> {
    let tcp = std::net::TcpListener::bind(addr)?;
    let port = tcp.local_addr()?.port();
    tcp.set_nonblocking(true)?;
    Ok((tcp, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_shares_one_port_and_two_groups_never_collide() {
        let ips = [
            Ipv4Addr::new(127, 0, 53, 201),
            Ipv4Addr::new(127, 0, 53, 202),
        ];
        let (a, first) = bind_group("test", &ips, &[], bind_tcp).unwrap();
        let (b, second) = bind_group("test", &ips, &[a], bind_tcp).unwrap();
        assert_ne!(a, b);
        for l in first.iter().chain(&second) {
            assert!(l.local_addr().unwrap().ip().is_loopback());
        }
        assert!(first.iter().all(|l| l.local_addr().unwrap().port() == a));
    }
}
