//! What `certdx issue --state postgres://... --status` shows: the workers sharing the database,
//! the work they claimed, the shared limits in force, the orders by status, and which
//! connection holds the whole-batch lock.

use serde::Serialize;

use super::super::error::StoreError;
use super::{BATCH_LOCK_KEY, PgStore};

/// The fleet as the database sees it, by its own clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fleet {
    /// Every registered worker, oldest first.
    pub workers: Vec<FleetWorker>,
    /// Claims per kind.
    pub claims: Vec<ClaimCounts>,
    /// Challenges in flight per directory (live leases only).
    pub in_flight: Vec<DirectoryCount>,
    /// Retry-After pauses still running.
    pub pauses: Vec<Pause>,
    /// Orders per status, over every account.
    pub orders: Vec<StatusCount>,
    /// The connection holding the whole-batch lock (a run in progress), if any.
    pub batch_lock: Option<LockHolder>,
}

/// One worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetWorker {
    /// Its id.
    pub id: i64,
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: i64,
    /// Seconds since it started.
    pub age_secs: f64,
    /// Seconds since its last heartbeat.
    pub heartbeat_age_secs: f64,
    /// Whether its lease is alive.
    pub alive: bool,
    /// Claims it holds with a live lease.
    pub claims: i64,
    /// Challenges it has in flight with a live lease.
    pub in_flight: i64,
}

/// Claims of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimCounts {
    /// `certificate` or `challenge`.
    pub kind: String,
    /// Never claimed, or released.
    pub free: i64,
    /// Held with a live lease.
    pub held: i64,
    /// Held by a worker whose lease ran out: the next claimer takes them over.
    pub expired: i64,
    /// Completed.
    pub done: i64,
}

/// A count for one directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryCount {
    /// The ACME directory URL.
    pub directory_url: String,
    /// How many.
    pub count: i64,
}

/// A running Retry-After pause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pause {
    /// The ACME directory URL.
    pub directory_url: String,
    /// Seconds until it ends.
    pub remaining_secs: f64,
    /// What the CA said.
    pub reason: String,
}

/// A count for one order status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    /// The status word.
    pub status: String,
    /// How many orders.
    pub count: i64,
}

/// Who holds the batch lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockHolder {
    /// The client's address as the server sees it (`None` over a Unix socket).
    pub client: Option<String>,
    /// The application name it connected with.
    pub application: String,
    /// Seconds since that connection started.
    pub connected_secs: f64,
}

impl PgStore {
    /// The fleet. See [`Fleet`].
    pub fn fleet(&self) -> Result<Fleet, StoreError> {
        self.with(|c| {
            let workers = c
                .query(
                    "SELECT w.id, w.host, w.pid,
                        EXTRACT(EPOCH FROM clock_timestamp() - w.started_at)::float8,
                        EXTRACT(EPOCH FROM clock_timestamp() - w.heartbeat_at)::float8,
                        w.lease_until > clock_timestamp(),
                        (SELECT COUNT(*) FROM claims c WHERE c.owner = w.id AND NOT c.done
                           AND c.lease_until > clock_timestamp()),
                        (SELECT COUNT(*) FROM inflight i WHERE i.owner = w.id
                           AND i.lease_until > clock_timestamp())
                     FROM workers w ORDER BY w.id",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(FleetWorker {
                        id: r.try_get(0)?,
                        host: r.try_get(1)?,
                        pid: r.try_get(2)?,
                        age_secs: r.try_get(3)?,
                        heartbeat_age_secs: r.try_get(4)?,
                        alive: r.try_get(5)?,
                        claims: r.try_get(6)?,
                        in_flight: r.try_get(7)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let claims = c
                .query(
                    "SELECT kind,
                        COUNT(*) FILTER (WHERE NOT done AND owner IS NULL),
                        COUNT(*) FILTER (WHERE NOT done AND owner IS NOT NULL
                                           AND lease_until > clock_timestamp()),
                        COUNT(*) FILTER (WHERE NOT done AND owner IS NOT NULL
                                           AND lease_until <= clock_timestamp()),
                        COUNT(*) FILTER (WHERE done)
                     FROM claims GROUP BY kind ORDER BY kind",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(ClaimCounts {
                        kind: r.try_get(0)?,
                        free: r.try_get(1)?,
                        held: r.try_get(2)?,
                        expired: r.try_get(3)?,
                        done: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let in_flight = c
                .query(
                    "SELECT directory_url, COUNT(*) FROM inflight
                     WHERE lease_until > clock_timestamp()
                     GROUP BY directory_url ORDER BY directory_url",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(DirectoryCount {
                        directory_url: r.try_get(0)?,
                        count: r.try_get(1)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let pauses = c
                .query(
                    "SELECT directory_url, EXTRACT(EPOCH FROM until - clock_timestamp())::float8,
                        reason
                     FROM pauses WHERE until > clock_timestamp() ORDER BY directory_url",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(Pause {
                        directory_url: r.try_get(0)?,
                        remaining_secs: r.try_get(1)?,
                        reason: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let orders = c
                .query(
                    "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok(StatusCount {
                        status: r.try_get(0)?,
                        count: r.try_get(1)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // A bigint advisory key is stored as classid (high half) and objid (low half).
            let batch_lock = c
                .query_opt(
                    "SELECT host(a.client_addr), COALESCE(a.application_name, ''),
                        EXTRACT(EPOCH FROM clock_timestamp() - a.backend_start)::float8
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                       AND l.database = (SELECT oid FROM pg_database
                                         WHERE datname = current_database())
                       AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
                     LIMIT 1",
                    &[&BATCH_LOCK_KEY],
                )?
                .map(|r| -> Result<LockHolder, StoreError> {
                    Ok(LockHolder {
                        client: r.try_get(0)?,
                        application: r.try_get(1)?,
                        connected_secs: r.try_get(2)?,
                    })
                })
                .transpose()?;
            Ok(Fleet {
                workers,
                claims,
                in_flight,
                pauses,
                orders,
                batch_lock,
            })
        })
    }
}
