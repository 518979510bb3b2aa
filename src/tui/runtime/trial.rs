//! The view's trials (`T`), run by the executor: the engine's [`run_trial`] with its progress
//! forwarded as messages while it runs, and every running trial stopped (its pending
//! authorizations deactivated by the engine's cleanup) when the view closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::super::{Msg, TrialConfig};
use crate::engine::trial::{TrialMethod, TrialRequest, run_trial};

/// The trials this view runs.
#[derive(Default)]
pub(super) struct Trials {
    config: Option<Arc<TrialConfig>>,
    /// The stop signal of each running trial, by id.
    stops: Mutex<HashMap<u64, watch::Sender<bool>>>,
}

impl Trials {
    /// Trials with `config`; without one every trial answers that trials are off.
    pub(super) fn new(config: Option<TrialConfig>) -> Trials {
        Trials {
            config: config.map(Arc::new),
            stops: Mutex::default(),
        }
    }

    /// Runs one trial to its end; its events go to `progress` as they happen.
    pub(super) async fn run(
        &self,
        id: u64,
        names: Vec<String>,
        directory: String,
        method: TrialMethod,
        progress: Option<mpsc::UnboundedSender<Msg>>,
    ) -> Msg {
        let Some(cfg) = self.config.clone() else {
            return Msg::TrialDone {
                id,
                result: Err("trials are off in this view".to_owned()),
            };
        };
        let (stop, cancel) = watch::channel(false);
        self.stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, stop);
        let mut req = TrialRequest::new(names, directory);
        req.method = method;
        req.ca_cert_pem = cfg.ca_cert_pem.clone();
        req.state_path = cfg.state_path.clone();
        req.wait = cfg.wait;
        req.account = cfg.account.clone();
        req.cancel = Some(cancel);
        let (events, mut received) = mpsc::unbounded_channel();
        // Ends when the trial drops its sender, at its end.
        let forward = async {
            while let Some(event) = received.recv().await {
                if let Some(tx) = &progress {
                    let _ = tx.send(Msg::TrialProgress { id, event });
                }
            }
        };
        let (result, ()) = tokio::join!(run_trial(req, events), forward);
        self.stops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        Msg::TrialDone {
            id,
            result: result.map(Box::new).map_err(|e| e.to_string()),
        }
    }

    /// Asks every running trial to stop and waits, at most `limit`, for their cleanup to
    /// end; returns how many were running.
    pub(super) async fn stop_all(&self, limit: Duration) -> usize {
        let running = {
            let stops = self.stops.lock().unwrap_or_else(|e| e.into_inner());
            for stop in stops.values() {
                let _ = stop.send(true);
            }
            stops.len()
        };
        let started = Instant::now();
        while started.elapsed() < limit
            && !self
                .stops
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        running
    }
}
