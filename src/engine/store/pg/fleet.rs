//! What `certdx issue --state postgres://... --status` shows: the workers sharing the database,
//! the work they claimed, the shared limits in force (challenges in flight, reserved pending
//! authorizations, Retry-After pauses) and the orders by status.

use serde::Serialize;

use super::super::error::StoreError;
use super::PgStore;

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
    /// Pending authorizations workers reserved for orders about to be placed, per directory.
    pub reserved_pending: Vec<DirectoryCount>,
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
    /// The first few certificates it holds (their names, comma-separated), for a glance at
    /// what each worker is on.
    pub holding: Vec<String>,
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

/// How many of a worker's certificates the fleet lists by name.
const HOLDING_SHOWN: i64 = 5;

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
                           AND i.lease_until > clock_timestamp()),
                        ARRAY(SELECT c.key FROM claims c WHERE c.owner = w.id AND NOT c.done
                                AND c.lease_until > clock_timestamp()
                              ORDER BY c.key LIMIT $1)
                     FROM workers w ORDER BY w.id",
                    &[&HOLDING_SHOWN],
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
                        holding: r.try_get(8)?,
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
            let in_flight = directory_counts(
                c,
                "SELECT directory_url, COUNT(*) FROM inflight
                 WHERE lease_until > clock_timestamp()
                 GROUP BY directory_url ORDER BY directory_url",
            )?;
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
            let reserved_pending = directory_counts(
                c,
                "SELECT directory_url, COALESCE(SUM(count), 0)::bigint FROM pending_reservations
                 WHERE lease_until > clock_timestamp()
                 GROUP BY directory_url ORDER BY directory_url",
            )?;
            Ok(Fleet {
                workers,
                claims,
                in_flight,
                pauses,
                orders,
                reserved_pending,
            })
        })
    }
}

/// The rows of `sql`, which selects a directory URL and a count.
fn directory_counts(
    c: &mut postgres::Client,
    sql: &str,
) -> Result<Vec<DirectoryCount>, StoreError> {
    c.query(sql, &[])?
        .iter()
        .map(|r| {
            Ok(DirectoryCount {
                directory_url: r.try_get(0)?,
                count: r.try_get(1)?,
            })
        })
        .collect()
}
