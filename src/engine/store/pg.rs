//! The state store on PostgreSQL, shared by several `certdx issue` workers: the same records
//! and invariants as the SQLite [`super::Store`] (everything written before the engine acts),
//! with its own schema and migrations (pg/schema.rs), and what sharing one batch between
//! workers needs: leases ([`leases`]), limits every worker obeys together ([`limits`]),
//! challenge responses any worker can serve (pg/responses.rs) and the fleet view
//! ([`fleet`]).
//!
//! The driver is the synchronous `postgres` crate, because the engine calls its store
//! synchronously (one short call at a time, under a mutex). That client runs a runtime of its
//! own and panics when called from a tokio worker thread, so every call goes through
//! `off_runtime`: on a thread that is inside a tokio runtime it runs on a scoped helper
//! thread (the caller waits, exactly as it waits for an SQLite write), elsewhere directly.
//!
//! Times are kept as the same fixed-width UTC text as in SQLite (text order is time order:
//! every text column is `COLLATE "C"`, so comparisons and sorting are bytewise whatever the
//! database's locale), except lease expiries, which are `timestamptz` compared with the
//! server's clock: one clock for every worker.

mod authz;
pub mod copies;
pub mod fleet;
pub mod leases;
pub mod limits;
mod records;
mod responses;
mod schema;
pub mod tls;
mod url;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use postgres::Client;

pub use schema::LATEST as SCHEMA_VERSION;
pub use url::PgUrl;

use super::error::{StoreError, error_chain};

/// How long a session may sit inside a transaction, waiting on its client, before the server
/// ends it (see `connect`). No transaction of certdx waits on anything but the database.
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(10);

/// How long connecting may take before the store reports the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory-lock key account registration serialises on ("certdxA").
const ACCOUNT_LOCK_KEY: i64 = 0x0063_6572_7464_7841;

/// The state store on PostgreSQL. See the module documentation.
pub struct PgStore {
    // `None` only while being dropped (see `Drop`).
    client: Mutex<Option<Client>>,
    url: PgUrl,
    fence: OnceLock<Fence>,
}

/// A worker's store refuses every call once the worker's lease is gone or nearly gone.
#[derive(Debug)]
struct Fence {
    worker: leases::WorkerId,
    /// How much lease must be left for a call to go through: more than a call takes, so no
    /// other worker can take the work over between the check and the statement after it.
    margin: Duration,
    /// When the database last confirmed the lease had `margin` left. For half the margin after
    /// that, by the monotonic clock (which runs on while the process is stopped), the lease
    /// certainly still holds, and calls go through without asking again.
    confirmed: Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Runs `f` where the synchronous PostgreSQL client may block: on a scoped helper thread when
/// the current thread is inside a tokio runtime, directly otherwise.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Opens one connection to `url` (off any runtime thread), with a bounded connect time.
pub(crate) fn connect(url: &PgUrl) -> Result<Client, StoreError> {
    use std::str::FromStr;
    let bad = |reason: String| StoreError::BadUrl {
        url: url.to_string(),
        reason: url.scrub(&reason),
    };
    let (driver_url, tls) = tls::split(url.secret()).map_err(bad)?;
    let mut config = postgres::Config::from_str(&driver_url).map_err(|e| bad(error_chain(&e)))?;
    let connector = tls::connector(&tls).map_err(bad)?;
    config.connect_timeout(CONNECT_TIMEOUT);
    // A worker stopped (SIGSTOP, a frozen VM) in the middle of a transaction would hold its
    // row and advisory locks for as long as it stays stopped, and every other worker would
    // wait on them: the server ends such a session instead, which releases them.
    let timeout = format!(
        "-c idle_in_transaction_session_timeout={}",
        IDLE_IN_TRANSACTION.as_millis()
    );
    let options = match config.get_options() {
        Some(given) => format!("{given} {timeout}"),
        None => timeout,
    };
    config.options(&options);
    if config.get_application_name().is_none() {
        config.application_name("certdx");
    }
    off_runtime(|| config.connect(connector)).map_err(|e| StoreError::Unreachable {
        url: url.to_string(),
        reason: url.scrub(&error_chain(&e)),
    })
}

impl PgStore {
    /// Connects to `url` and brings its schema to [`schema::LATEST`] (several workers may do
    /// this at once: the migrations serialise on an advisory lock).
    pub fn open(url: &PgUrl) -> Result<PgStore, StoreError> {
        let mut client = connect(url)?;
        off_runtime(|| schema::migrate(&mut client))?;
        Ok(PgStore {
            client: Mutex::new(Some(client)),
            url: url.clone(),
            fence: OnceLock::new(),
        })
    }

    /// The URL, password masked.
    pub fn url(&self) -> &PgUrl {
        &self.url
    }

    /// Always itself: PostgreSQL is the store several workers share.
    pub fn shared(&self) -> Option<&PgStore> {
        Some(self)
    }

    /// `postgres <url without password>`.
    pub fn describe(&self) -> String {
        format!("postgres {}", self.url)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(schema::current_version)
    }

    /// Re-runs the migrations: a no-op on an up-to-date database. Returns the version reached.
    pub fn migrate(&self) -> Result<i64, StoreError> {
        self.with(schema::migrate)
    }

    /// Runs `f` with the connection, off any runtime thread. A panic in another call does not
    /// make the connection unusable: each call is its own transaction or statement.
    pub(crate) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| {
            let mut client = self.lock();
            let client = client
                .as_mut()
                .expect("the client lives until the store is dropped");
            if let Some(fence) = self.fence.get() {
                check_fence(client, fence)?;
            }
            f(client)
        })
    }

    /// Fences this store to `worker`: from now on every call first checks, in the database,
    /// that the worker's lease has more than `margin` left, and fails with
    /// [`StoreError::WorkerLeaseLost`] otherwise. A worker that was stopped (SIGSTOP) or cut off
    /// for longer than its lease then writes nothing when it comes back, not even records
    /// outside its claims. The session also names the worker (`certdx.worker`), and the schema's
    /// fence trigger checks the lease again when each write commits, so a worker stopped
    /// between the check and its statement still writes nothing. Set once; later calls only
    /// repeat the session setting.
    pub fn fence_to(&self, worker: leases::WorkerId, margin: Duration) -> Result<(), StoreError> {
        // The session setting the schema's fence trigger reads at every commit.
        self.with(|c| {
            c.batch_execute(&format!("SET certdx.worker = '{}'", worker.get()))?;
            Ok(())
        })?;
        let _ = self.fence.set(Fence {
            worker,
            margin,
            confirmed: Mutex::new(None),
        });
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        self.client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Held while a worker looks for the directory's account and registers it if there is none:
/// a transaction-level advisory lock on a connection of its own, so the other workers wait and
/// then find the account stored instead of registering one each. Released by
/// [`AccountLock::release`], or when dropped (the connection closes, ending the transaction),
/// also when the process dies.
pub struct AccountLock {
    client: Option<Client>,
}

impl std::fmt::Debug for AccountLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountLock").finish_non_exhaustive()
    }
}

impl AccountLock {
    /// Ends the transaction, letting the next worker in.
    pub fn release(mut self) -> Result<(), StoreError> {
        if let Some(mut client) = self.client.take() {
            off_runtime(move || client.batch_execute("COMMIT"))?;
        }
        Ok(())
    }
}

impl Drop for AccountLock {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

impl PgStore {
    /// Waits for and takes the account-registration lock (see [`AccountLock`]). Blocks; call
    /// it off the async runtime's worker threads or through `spawn_blocking`.
    pub fn lock_accounts(&self) -> Result<AccountLock, StoreError> {
        let mut client = connect(&self.url)?;
        off_runtime(|| {
            client.batch_execute("BEGIN")?;
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&ACCOUNT_LOCK_KEY])?;
            Ok::<_, postgres::Error>(())
        })?;
        Ok(AccountLock {
            client: Some(client),
        })
    }
}

impl Drop for PgStore {
    /// Closing the client blocks on its runtime too: off any tokio worker thread, like every
    /// other call (the store is often dropped at the end of an async run).
    fn drop(&mut self) {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(client) = client {
            off_runtime(move || drop(client));
        }
    }
}

/// See [`PgStore::fence_to`].
fn check_fence(client: &mut Client, fence: &Fence) -> Result<(), StoreError> {
    let mut confirmed = fence
        .confirmed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if confirmed.is_some_and(|at| at.elapsed() < fence.margin / 2) {
        return Ok(());
    }
    let asked = std::time::Instant::now();
    let margin = i64::try_from(fence.margin.as_millis()).unwrap_or(i64::MAX);
    let alive = client
        .query_opt(
            "SELECT 1 FROM workers
             WHERE id = $1 AND lease_until > clock_timestamp() + $2::bigint * interval '1 millisecond'",
            &[&fence.worker.get(), &margin],
        )?
        .is_some();
    if alive {
        *confirmed = Some(asked);
        Ok(())
    } else {
        *confirmed = None;
        Err(StoreError::WorkerLeaseLost {
            worker: fence.worker.get(),
        })
    }
}
