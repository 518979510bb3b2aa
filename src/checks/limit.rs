//! How many questions the playbook has in flight per destination: the recursive resolver,
//! each authoritative server address, each HTTP address.
//!
//! Waiting costs nothing, so the playbook starts many checks at once; what must stay bounded
//! is what each server sees. Each destination gets a window that adapts the way TCP's
//! congestion window does (additive increase, multiplicative decrease): every answer widens it
//! a little, a timeout halves it. Two rules keep that from turning into a slow-down:
//!
//! - One decrease per round: timeouts of questions sent before the last decrease say nothing
//!   new (they were all in the same burst), so only the first of them counts.
//! - A destination that has never answered is dead or filtered, not overloaded: shrinking its
//!   window would only line its timeouts up one after another, so it keeps the window it has.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who a question or request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A recursive resolver.
    Recursive(SocketAddr),
    /// One address of an authoritative nameserver.
    Authoritative(SocketAddr),
    /// One HTTP(S) address and port.
    Http(SocketAddr),
}

/// The window bounds of one kind of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Where a destination starts.
    pub initial: usize,
    /// The smallest it shrinks to (at least 1, so there is always progress).
    pub min: usize,
    /// The largest it grows to.
    pub max: usize,
}

/// The windows per kind of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// For recursive resolvers: one process answering everyone, the first to overload.
    pub recursive: Window,
    /// For each authoritative server address.
    pub authoritative: Window,
    /// For each HTTP address: an ingress takes many connections, but a hanging one holds
    /// each for the whole timeout, so the window must not be what makes checks wait.
    pub http: Window,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            recursive: Window {
                initial: 64,
                min: 4,
                max: 256,
            },
            authoritative: Window {
                initial: 64,
                min: 4,
                max: 256,
            },
            http: Window {
                initial: 64,
                min: 4,
                max: 256,
            },
        }
    }
}

impl LimitConfig {
    fn window(&self, d: Destination) -> Window {
        let w = match d {
            Destination::Recursive(_) => self.recursive,
            Destination::Authoritative(_) => self.authoritative,
            Destination::Http(_) => self.http,
        };
        let min = w.min.max(1);
        let max = w.max.max(min);
        Window {
            initial: w.initial.clamp(min, max),
            min,
            max,
        }
    }
}

/// The windows of every destination seen so far. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    inner: Arc<LimitsInner>,
}

#[derive(Debug, Default)]
struct LimitsInner {
    config: LimitConfig,
    gates: Mutex<HashMap<Destination, Arc<Gate>>>,
}

/// One destination's window.
#[derive(Debug)]
struct Gate {
    /// Holds `max` permits; the ones beyond the window are held back in `State::withheld`.
    semaphore: Arc<Semaphore>,
    state: Mutex<State>,
    window: Window,
}

#[derive(Debug)]
struct State {
    /// The current window, fractional so increases of 1/window add up.
    limit: f64,
    /// Permits not given out because the window is below `max`: taken back from returning
    /// permits (`owed`) or kept out of the semaphore.
    owed: usize,
    answered: bool,
    last_decrease: Option<Instant>,
}

impl Limits {
    /// Limits with these windows.
    pub fn new(config: LimitConfig) -> Limits {
        Limits {
            inner: Arc::new(LimitsInner {
                config,
                gates: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn gate(&self, d: Destination) -> Arc<Gate> {
        let mut gates = self.inner.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates
            .entry(d)
            .or_insert_with(|| {
                let window = self.inner.config.window(d);
                Arc::new(Gate {
                    semaphore: Arc::new(Semaphore::new(window.initial)),
                    state: Mutex::new(State {
                        limit: window.initial as f64,
                        owed: 0,
                        answered: false,
                        last_decrease: None,
                    }),
                    window,
                })
            })
            .clone()
    }

    /// Waits for a place in `d`'s window. Report how it went with [`Permit::answered`] or
    /// [`Permit::timed_out`]; dropping the permit without either counts as neither.
    pub async fn acquire(&self, d: Destination) -> Permit {
        let gate = self.gate(d);
        let permit = gate
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Permit {
            gate,
            permit: Some(permit),
            started: Instant::now(),
        }
    }

    /// `d`'s current window, rounded down (for tests and diagnostics).
    pub fn window(&self, d: Destination) -> usize {
        let gate = self.gate(d);
        let state = gate.state.lock().unwrap_or_else(|e| e.into_inner());
        state.limit as usize
    }
}

/// A place in one destination's window, given back on drop.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    permit: Option<OwnedSemaphorePermit>,
    started: Instant,
}

impl Permit {
    /// The destination answered: the window grows by about one per window's worth of answers.
    pub fn answered(&self) {
        let gate = &self.gate;
        let mut state = gate.state.lock().unwrap_or_else(|e| e.into_inner());
        state.answered = true;
        let before = state.limit as usize;
        state.limit = (state.limit + 1.0 / state.limit).min(gate.window.max as f64);
        if state.limit as usize > before {
            if state.owed > 0 {
                state.owed -= 1;
            } else {
                gate.semaphore.add_permits(1);
            }
        }
    }

    /// The destination did not answer in time: the window halves, once per round, and only
    /// for a destination that has answered before (see the module doc).
    pub fn timed_out(&self) {
        let gate = &self.gate;
        let mut state = gate.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.answered || state.last_decrease.is_some_and(|t| self.started < t) {
            return;
        }
        let before = state.limit as usize;
        state.limit = (state.limit / 2.0).max(gate.window.min as f64);
        state.last_decrease = Some(Instant::now());
        // Idle permits are taken back now; the ones in use are owed and kept as they return.
        for _ in 0..before - state.limit as usize {
            match gate.semaphore.try_acquire() {
                Ok(idle) => idle.forget(),
                Err(_) => state.owed += 1,
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.owed > 0 {
            state.owed -= 1;
            permit.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn small(initial: usize) -> Limits {
        let w = Window {
            initial,
            min: 1,
            max: 16,
        };
        Limits::new(LimitConfig {
            recursive: w,
            authoritative: w,
            http: w,
        })
    }

    fn dest(port: u16) -> Destination {
        Destination::Authoritative(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[tokio::test]
    async fn at_most_the_window_is_in_flight_per_destination() {
        let limits = small(3);
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (limits, peak, now) = (limits.clone(), peak.clone(), now.clone());
                tokio::spawn(async move {
                    let _p = limits.acquire(dest(1)).await;
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Another destination is not held up by the first one's full window.
        let other = tokio::time::timeout(Duration::from_secs(1), limits.acquire(dest(2))).await;
        assert!(other.is_ok());
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_timeout_after_answers_halves_the_window_once_per_round() {
        let limits = small(8);
        let burst: Vec<Permit> =
            futures::future::join_all((0..8).map(|_| limits.acquire(dest(1)))).await;
        burst[0].answered();
        burst[1].timed_out();
        assert_eq!(limits.window(dest(1)), 4);
        // The rest of the same burst timing out says nothing new.
        for p in &burst[2..] {
            p.timed_out();
        }
        assert_eq!(limits.window(dest(1)), 4);
        drop(burst);
        // The window is now enforced: a fifth place waits.
        let four: Vec<Permit> =
            futures::future::join_all((0..4).map(|_| limits.acquire(dest(1)))).await;
        let fifth = tokio::time::timeout(Duration::from_millis(50), limits.acquire(dest(1))).await;
        assert!(fifth.is_err(), "the window shrank to 4");
        // A question sent after the decrease that times out halves it again.
        four[0].timed_out();
        assert_eq!(limits.window(dest(1)), 2);
    }

    #[tokio::test]
    async fn a_destination_that_never_answered_keeps_its_window() {
        let limits = small(8);
        let burst: Vec<Permit> =
            futures::future::join_all((0..8).map(|_| limits.acquire(dest(1)))).await;
        for p in &burst {
            p.timed_out();
        }
        assert_eq!(limits.window(dest(1)), 8);
    }

    #[tokio::test]
    async fn answers_widen_the_window_up_to_its_max() {
        let limits = small(2);
        for _ in 0..200 {
            limits.acquire(dest(1)).await.answered();
        }
        assert_eq!(limits.window(dest(1)), 16);
        let all: Vec<Permit> =
            futures::future::join_all((0..16).map(|_| limits.acquire(dest(1)))).await;
        assert_eq!(all.len(), 16);
    }

    #[tokio::test]
    async fn the_window_never_shrinks_below_its_min() {
        let limits = small(4);
        limits.acquire(dest(1)).await.answered();
        for _ in 0..10 {
            let p = limits.acquire(dest(1)).await;
            p.timed_out();
        }
        assert_eq!(limits.window(dest(1)), 1);
        let one = tokio::time::timeout(Duration::from_secs(1), limits.acquire(dest(1))).await;
        assert!(one.is_ok(), "a window of one still lets questions through");
    }
}
