//! A round-robin TCP load balancer on loopback, as a hosting provider puts in front of the
//! workers' HTTP-01 listeners: each connection goes to the next backend that accepts it (a
//! dead backend is skipped), and the balancer counts how many each backend took. Stopped when
//! dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long one connection may live: a validation request is one small exchange.
const CONNECTION_LIMIT: Duration = Duration::from_secs(20);
/// How long connecting to one backend may take before the next is tried.
const CONNECT_LIMIT: Duration = Duration::from_secs(2);

/// A running balancer.
#[allow(dead_code)] // the benchmark never reads `served`
pub struct Balancer {
    served: Arc<Vec<AtomicU64>>,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Listens on `listen` and spreads connections over `backends`.
    pub async fn start(listen: SocketAddr, backends: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind(listen)
            .await
            .expect("binding the balancer");
        let served: Arc<Vec<AtomicU64>> =
            Arc::new(backends.iter().map(|_| AtomicU64::new(0)).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let backends = Arc::new(backends);
        let counts = Arc::clone(&served);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let (backends, next, counts) =
                            (Arc::clone(&backends), Arc::clone(&next), Arc::clone(&counts));
                        connections.spawn(async move {
                            let _ = tokio::time::timeout(
                                CONNECTION_LIMIT,
                                relay(client, &backends, &next, &counts),
                            )
                            .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Balancer { served, task }
    }

    /// Connections each backend took, in the order given.
    #[allow(dead_code)] // the benchmark does not read the counts
    pub fn served(&self) -> Vec<u64> {
        self.served
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every relay.
        self.task.abort();
    }
}

async fn relay(
    mut client: TcpStream,
    backends: &[SocketAddr],
    next: &AtomicUsize,
    counts: &[AtomicU64],
) {
    for _ in 0..backends.len() {
        let i = next.fetch_add(1, Ordering::Relaxed) % backends.len();
        let Ok(Ok(mut upstream)) =
            tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(backends[i])).await
        else {
            continue;
        };
        counts[i].fetch_add(1, Ordering::Relaxed);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
}
