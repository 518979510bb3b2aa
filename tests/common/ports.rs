//! Ports for lab servers on 127.0.0.1, handed out below Linux's ephemeral range.
//!
//! Why not `bind(0)`: that returns a port from the ephemeral range (32768-60999 by default),
//! the same range the kernel draws outgoing connections' source ports from. Between the moment
//! a lab picks the port and the moment its server binds it, any connection on the machine may
//! take it as a source port, and the server's bind then fails with "Address already in use"
//! (seen once in CI for the HTTP-01 listener of the issue benchmark). Ports below the range are
//! never handed to outgoing connections.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out.
const LOW: u32 = 20_000;
/// How many ports there are to hand out (up to 31,999).
const SPAN: u32 = 12_000;

/// Candidates taken so far by this process: each is offered once.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A port nothing listens on right now, never handed out before by this process. Processes
/// start at different places (by pid), so two test binaries run at once rarely meet; the
/// listen check catches the rest.
pub fn free_port() -> u16 {
    let start = std::process::id() % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = u16::try_from(LOW + (start + n) % SPAN).expect("below 65536");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 127.0.0.1:{LOW}-{}", LOW + SPAN - 1);
}
