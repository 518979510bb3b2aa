//! Nothing left behind: every authorization a trial created ends valid, invalid or deactivated.
//!
//! A pending authorization (never answered and not decided by the CA within the wait, or the
//! trial stopped or failed) is deactivated (RFC 8555 section 7.5.2): the decision is recorded
//! in the store first, then the CA is asked, then the CA's status is recorded. [`Tracker`] does
//! it on every exit path: [`Tracker::finish`] at the end of a run (also after an error or a
//! stop), and its `Drop` when the trial's future is dropped before that (a view closed): a task
//! then does the same on the runtime, bounded by [`CLEANUP_BOUND`].
//!
//! Valid authorizations are kept: they cost nothing and the CA reuses them for the account's
//! next order (`certdx issue` too). Deactivating a *pending* one counts as a failed validation
//! at Let's Encrypt (see the README, "certdx trial"): on staging that is harmless, which is why
//! trials run there.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::engine::acme::{AcmeClient, AuthzInfo, AuthzStatus, ChallengeInfo};
use crate::engine::batch::responder::Publisher;
use crate::engine::store::{
    AuthorizationOutcome, AuthorizationStatus, OrderId, OrderStatus, Store,
};

/// The longest the cleanup may take (all authorizations of the order together).
pub const CLEANUP_BOUND: Duration = Duration::from_secs(30);

/// What the cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupSummary {
    /// Authorizations the CA validated (kept: reusable).
    pub valid: usize,
    /// Authorizations the CA refused.
    pub invalid: usize,
    /// Authorizations deactivated because they were still pending.
    pub deactivated: usize,
    /// Pending authorizations of an earlier trial that was killed before its cleanup,
    /// deactivated before this one ordered anything.
    pub leftovers_deactivated: usize,
    /// Authorizations that could not be settled, with why (empty unless the CA stopped
    /// answering; the store keeps them as pending with the trial's decision, and the next trial
    /// on the same state deactivates them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

/// The store as the trial shares it (`Store` is `Send` but not `Sync`).
pub(crate) fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The store's status for the CA's.
pub(crate) fn store_status(status: &AuthzStatus) -> Option<AuthorizationStatus> {
    AuthorizationStatus::parse(status.as_str())
}

/// What a running trial created, so that it can be cleaned up whatever happens.
pub(crate) struct Tracker {
    client: AcmeClient,
    state_path: PathBuf,
    /// The order row and the order's URL, once known.
    pub(crate) order: Option<(OrderId, Option<String>)>,
    /// Every authorization of the order.
    pub(crate) authorizations: Vec<String>,
    /// Responses published, to withdraw.
    pub(crate) published: Vec<(String, ChallengeInfo)>,
    done: bool,
}

impl Tracker {
    pub(crate) fn new(client: AcmeClient, state_path: PathBuf) -> Tracker {
        Tracker {
            client,
            state_path,
            order: None,
            authorizations: Vec::new(),
            published: Vec::new(),
            done: false,
        }
    }

    /// Settles every authorization, withdraws every published response and records the order
    /// as closed. Returns what it did and each authorization's final status by URL.
    pub(crate) async fn finish(
        &mut self,
        store: &Mutex<Store>,
        publisher: Option<&Publisher>,
    ) -> (CleanupSummary, Vec<(String, String)>) {
        self.done = true;
        let deadline = Instant::now() + CLEANUP_BOUND;
        let result = match &self.order {
            Some((id, Some(url))) => {
                settle(
                    &self.client,
                    store,
                    *id,
                    url,
                    &self.authorizations,
                    deadline,
                )
                .await
            }
            Some((id, None)) => {
                // newOrder never answered: nothing at the CA that certdx knows of.
                let _ = lock(store).set_order_status(
                    *id,
                    OrderStatus::Abandoned,
                    Some("trial: the CA did not answer newOrder"),
                );
                Default::default()
            }
            None => Default::default(),
        };
        if let Some(publisher) = publisher {
            for (identifier, challenge) in self.published.drain(..) {
                publisher.withdraw(&identifier, &challenge).await;
            }
        }
        result
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some((id, Some(url))) = self.order.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(order = %url, "trial dropped outside a runtime: its pending authorizations stay until the next trial");
            return;
        };
        let client = self.client.clone();
        let path = self.state_path.clone();
        let authorizations = std::mem::take(&mut self.authorizations);
        runtime.spawn(async move {
            let Ok(store) = Store::open(&path) else {
                return;
            };
            let store = Mutex::new(store);
            let deadline = Instant::now() + CLEANUP_BOUND;
            let _ = tokio::time::timeout(
                CLEANUP_BOUND,
                settle(&client, &store, id, &url, &authorizations, deadline),
            )
            .await;
        });
    }
}

/// Deactivates what is pending among `authorizations` of the order at `order_url`, records every
/// final status, and closes the order row.
async fn settle(
    client: &AcmeClient,
    store: &Mutex<Store>,
    order_id: OrderId,
    order_url: &str,
    authorizations: &[String],
    deadline: Instant,
) -> (CleanupSummary, Vec<(String, String)>) {
    let mut summary = CleanupSummary::default();
    let mut ends = Vec::new();
    let mut order = match client.order(order_url, deadline).await {
        Ok(order) => order,
        Err(e) => {
            summary.failed = authorizations
                .iter()
                .map(|u| format!("{u}: reading the order failed: {e}"))
                .collect();
            return (summary, ends);
        }
    };
    for url in authorizations {
        match settle_one(&mut order, store, url, deadline).await {
            Ok(end) => {
                match end.status {
                    AuthzStatus::Valid => summary.valid += 1,
                    AuthzStatus::Invalid => summary.invalid += 1,
                    _ => summary.deactivated += 1,
                }
                ends.push((url.clone(), end.status.to_string()));
            }
            Err(why) => summary.failed.push(format!("{url}: {why}")),
        }
    }
    let why = "trial: never finalized (it only asked for the CA's verdict)";
    let status = if summary.deactivated > 0 {
        OrderStatus::Deactivated
    } else if summary.invalid > 0 {
        OrderStatus::Invalid
    } else {
        OrderStatus::Abandoned
    };
    let _ = lock(store).set_order_status(order_id, status, Some(why));
    (summary, ends)
}

/// One authorization: kept when final, deactivated when pending (decision recorded first).
async fn settle_one(
    order: &mut crate::engine::acme::AcmeOrder,
    store: &Mutex<Store>,
    url: &str,
    deadline: Instant,
) -> Result<AuthzInfo, String> {
    let (current, _) = order
        .refresh_authorization(url, deadline)
        .await
        .map_err(|e| e.to_string())?;
    let end = if current.status == AuthzStatus::Pending {
        lock(store)
            .set_authorization_outcome(
                url,
                AuthorizationOutcome::Deactivated,
                "trial: still pending at the end of the trial",
            )
            .map_err(|e| e.to_string())?;
        order
            .deactivate_authorization(url, deadline)
            .await
            .map_err(|e| e.to_string())?
    } else {
        current
    };
    if let Some(status) = store_status(&end.status) {
        lock(store)
            .set_authorization_status(url, status, None)
            .map_err(|e| e.to_string())?;
    }
    Ok(end)
}

/// Deactivates the pending authorizations an earlier trial on `directory` left (killed before
/// its cleanup); returns how many.
pub(crate) async fn settle_leftovers(
    client: &AcmeClient,
    store: &Mutex<Store>,
    directory: &str,
    deadline: Instant,
) -> usize {
    let left = match lock(store).pending_trial_authorizations(directory) {
        Ok(left) => left,
        Err(_) => return 0,
    };
    let mut done = 0;
    for (order_url, record) in left {
        let Ok(mut order) = client.order(&order_url, deadline).await else {
            continue;
        };
        if let Ok(end) = settle_one(&mut order, store, &record.url, deadline).await
            && end.status == AuthzStatus::Deactivated
        {
            done += 1;
        }
    }
    done
}
