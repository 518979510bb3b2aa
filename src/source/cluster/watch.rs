//! List-then-watch of every readable cert-manager kind (kube-runtime watchers feeding
//! reflector stores), so the interactive view follows the cluster live. The watchers relist
//! on watch expiry (410 Gone) and reconnect with backoff after dropped connections or an API
//! restart; meanwhile the feed says "reconnecting" and why, and keeps the last picture.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource as KubeResource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::list::{EVENT_KINDS, PAGE_SIZE, event_selector, scoped_api};
use super::preflight::{Preflight, root_cause};
use super::{Connection, Resource};
use crate::model::inventory::slim_object;
use crate::model::redact::{Redact, redact_all};
use crate::model::{
    Certificate, CertificateRequest, Challenge, ClusterIssuer, Inventory, Issuer, Order,
};

/// A change is published once the cluster has been quiet this long...
const QUIET: Duration = Duration::from_millis(150);
/// ...or at the latest this long after the first unpublished change, so a steady stream of
/// updates still reaches the screen.
const MAX_DELAY: Duration = Duration::from_millis(1000);
/// Listing progress is reported at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// What the feed tells its reader.
#[derive(Debug)]
pub enum LiveEvent {
    /// Still listing: this many objects have arrived so far.
    Listing {
        /// Objects received.
        objects: usize,
    },
    /// The current picture of everything readable (sent after the first complete list and
    /// after every batch of changes).
    Snapshot(Box<Inventory>),
    /// The connection's state changed.
    Link(LinkState),
}

/// Whether the watchers are following the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// All watchers are connected and synced.
    Live,
    /// At least one watcher lost the API and is retrying; the reason is the last error.
    Reconnecting(String),
}

/// The running watchers. Dropping it stops them.
pub struct LiveWatch {
    /// The feed.
    pub events: mpsc::Receiver<LiveEvent>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for LiveWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What a watcher task reports to the coordinator.
enum Signal {
    /// Part of an initial (re)list arrived.
    Listed(usize),
    /// Watcher `.0` finished a list or saw a change.
    Changed(usize),
    /// Watcher `.0` failed and is backing off.
    Failed(usize, String),
    /// Watcher `.0`'s resource answers again after a failure.
    Recovered(usize),
}

/// The stores the coordinator builds pictures from.
struct Stores {
    certificates: Store<Certificate>,
    requests: Store<CertificateRequest>,
    orders: Store<Order>,
    challenges: Store<Challenge>,
    issuers: Store<Issuer>,
    cluster_issuers: Store<ClusterIssuer>,
    events: Vec<Store<Event>>,
    /// What the watched kinds cover once synced.
    listed: crate::model::Listing,
}

/// Starts watching everything `preflight` allows reading, in the connection's scope.
pub fn watch(conn: &Connection, preflight: &Preflight) -> LiveWatch {
    let (signal_tx, signal_rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    // Watcher ids index the coordinator's per-watcher state.
    let mut ids = 0usize..;
    let mut next_id = || ids.next().unwrap_or_default();
    let on = |r: Resource| preflight.can_read(r);
    let certificates = run_kind(
        on(Resource::Certificates).then(|| scoped_api(conn)),
        None,
        next_id(),
        &signal_tx,
        &mut tasks,
    );
    let requests = run_kind(
        on(Resource::CertificateRequests).then(|| scoped_api(conn)),
        None,
        next_id(),
        &signal_tx,
        &mut tasks,
    );
    let orders = run_kind(
        on(Resource::Orders).then(|| scoped_api(conn)),
        None,
        next_id(),
        &signal_tx,
        &mut tasks,
    );
    let challenges = run_kind(
        on(Resource::Challenges).then(|| scoped_api(conn)),
        None,
        next_id(),
        &signal_tx,
        &mut tasks,
    );
    let issuers = run_kind(
        on(Resource::Issuers).then(|| scoped_api(conn)),
        None,
        next_id(),
        &signal_tx,
        &mut tasks,
    );
    let cluster_issuers = run_kind(
        on(Resource::ClusterIssuers).then(|| Api::all(conn.client.clone())),
        None,
        next_id(),
        &signal_tx,
        &mut tasks,
    );
    let events = EVENT_KINDS
        .iter()
        .map(|kind| {
            run_kind(
                on(Resource::Events).then(|| scoped_api(conn)),
                Some(event_selector(kind)),
                next_id(),
                &signal_tx,
                &mut tasks,
            )
        })
        .collect();
    let stores = Stores {
        certificates,
        requests,
        orders,
        challenges,
        issuers,
        cluster_issuers,
        events,
        listed: preflight.listing(&conn.scope),
    };
    let (tx, rx) = mpsc::channel(16);
    let expected = next_id();
    tasks.push(tokio::spawn(coordinate(stores, signal_rx, expected, tx)));
    LiveWatch { events: rx, tasks }
}

/// How often a failed watcher's resource is asked whether it answers again.
const RECOVERY_PROBE: Duration = Duration::from_secs(1);

/// Starts one watcher feeding a store; without an `api` (kind not readable) the store stays
/// empty and the watcher counts as synced at once. `fields` is a field selector.
fn run_kind<K>(
    api: Option<Api<K>>,
    fields: Option<String>,
    id: usize,
    signals: &mpsc::UnboundedSender<Signal>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: KubeResource
        + Redact
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store::<K>();
    let signals = signals.clone();
    let Some(api) = api else {
        let _ = signals.send(Signal::Changed(id));
        return reader;
    };
    let mut cfg = watcher::Config::default().page_size(PAGE_SIZE);
    let mut probe = ListParams::default().limit(1);
    if let Some(f) = &fields {
        cfg = cfg.fields(f);
        probe = probe.fields(f);
    }
    let stream = reflector::reflector(
        writer,
        watcher(api.clone(), cfg).default_backoff().map_ok(|ev| {
            ev.modify(|o| {
                slim_object(o);
                redact_all(o);
            })
        }),
    );
    tasks.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut failing = false;
        let mut ticker = tokio::time::interval(RECOVERY_PROBE);
        loop {
            // A watch that resumes after an outage says nothing until something changes, so
            // while failing, a small list tells when the resource answers again.
            let signal = tokio::select! {
                item = stream.next() => match item {
                    None => break,
                    Some(Ok(watcher::Event::Init)) => continue,
                    Some(Ok(watcher::Event::InitApply(_))) => Signal::Listed(1),
                    Some(Ok(_)) => {
                        failing = false;
                        Signal::Changed(id)
                    }
                    Some(Err(e)) => {
                        failing = true;
                        Signal::Failed(id, root_cause(&e))
                    }
                },
                _ = ticker.tick(), if failing => match api.list_metadata(&probe).await {
                    Ok(_) => {
                        failing = false;
                        Signal::Recovered(id)
                    }
                    Err(_) => continue,
                },
            };
            if signals.send(signal).is_err() {
                break;
            }
        }
    }));
    reader
}

/// Collects the watchers' signals into debounced pictures and link-state changes.
async fn coordinate(
    stores: Stores,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    watchers: usize,
    tx: mpsc::Sender<LiveEvent>,
) {
    let mut synced = vec![false; watchers];
    let mut failing: Vec<Option<String>> = vec![None; watchers];
    let mut link = LinkState::Live;
    let mut listed = 0usize;
    let mut last_progress = tokio::time::Instant::now();
    let mut dirty_since: Option<tokio::time::Instant> = None;
    let mut last_change = tokio::time::Instant::now();
    loop {
        let all_synced = synced.iter().all(|s| *s);
        let deadline = dirty_since
            .filter(|_| all_synced)
            .map(|first| (last_change + QUIET).min(first + MAX_DELAY));
        let signal = match deadline {
            Some(at) => tokio::select! {
                s = signals.recv() => s,
                _ = tokio::time::sleep_until(at) => {
                    dirty_since = None;
                    let picture = stores.picture();
                    if tx.send(LiveEvent::Snapshot(Box::new(picture))).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
            None => signals.recv().await,
        };
        let Some(signal) = signal else { return };
        match signal {
            Signal::Listed(n) => {
                listed += n;
                if !all_synced && last_progress.elapsed() >= PROGRESS_EVERY {
                    last_progress = tokio::time::Instant::now();
                    if tx.try_send(LiveEvent::Listing { objects: listed }).is_err()
                        && tx.is_closed()
                    {
                        return;
                    }
                }
            }
            Signal::Changed(id) => {
                synced[id] = true;
                failing[id] = None;
                last_change = tokio::time::Instant::now();
                dirty_since.get_or_insert(last_change);
            }
            Signal::Failed(id, why) => failing[id] = Some(why),
            Signal::Recovered(id) => failing[id] = None,
        }
        let now_link = match failing.iter().flatten().next() {
            Some(why) => LinkState::Reconnecting(why.clone()),
            None => LinkState::Live,
        };
        if now_link != link {
            link = now_link.clone();
            if tx.send(LiveEvent::Link(now_link)).await.is_err() {
                return;
            }
        }
    }
}

impl Stores {
    /// Copies the stores into an inventory, sorted by namespace and name so pictures of the
    /// same cluster are identical.
    fn picture(&self) -> Inventory {
        Inventory {
            certificates: copy(&self.certificates),
            requests: copy(&self.requests),
            orders: copy(&self.orders),
            challenges: copy(&self.challenges),
            issuers: copy(&self.issuers),
            cluster_issuers: copy(&self.cluster_issuers),
            events: {
                let mut all: Vec<Event> = self.events.iter().flat_map(copy).collect();
                all.sort_by(|a, b| key(a).cmp(&key(b)));
                all
            },
            listed: self.listed.clone(),
        }
    }
}

fn copy<K>(store: &Store<K>) -> Vec<K>
where
    K: KubeResource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let mut items: Vec<K> = store
        .state()
        .iter()
        .map(|o| Arc::unwrap_or_clone(o.clone()))
        .collect();
    items.sort_by(|a, b| key(a).cmp(&key(b)));
    items
}

fn key<K: KubeResource>(o: &K) -> (Option<&str>, Option<&str>) {
    (o.meta().namespace.as_deref(), o.meta().name.as_deref())
}
