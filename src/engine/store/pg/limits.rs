//! The limits every worker of a shared batch obeys together, enforced by the database rather
//! than by each process's own scheduler:
//!
//! * at most N challenges in flight on a directory, over all workers;
//! * never two in flight for the same (name, challenge type): the table's primary key;
//! * a `Retry-After` pause that one worker received (a 429 or 503) holds every worker.
//!
//! An in-flight slot belongs to a worker and carries a lease like a claim (see [`super::leases`]):
//! a dead worker's slots expire and stop counting. Taking a slot runs under a per-directory
//! transaction lock, so two workers counting at the same instant cannot both take the last one.

use std::time::Duration;

use jiff::Timestamp;

use super::super::error::StoreError;
use super::PgStore;
use super::leases::WorkerId;

/// Schema version 3 (see pg/schema.rs).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE inflight (
        directory_url  TEXT COLLATE "C" NOT NULL,
        identifier     TEXT COLLATE "C" NOT NULL,
        challenge_type TEXT COLLATE "C" NOT NULL,
        owner          BIGINT NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
        lease_until    TIMESTAMPTZ NOT NULL,
        started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
        -- One challenge per (name, type) in flight, whichever worker holds it.
        PRIMARY KEY (directory_url, identifier, challenge_type)
    );
    CREATE INDEX inflight_by_owner ON inflight(owner);

    -- The CA's Retry-After for a whole directory (account-wide 429 or 503).
    CREATE TABLE pauses (
        directory_url TEXT COLLATE "C" PRIMARY KEY,
        until         TIMESTAMPTZ NOT NULL,
        reason        TEXT NOT NULL
    );
"#;

/// Why a slot was not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotRefusal {
    /// `max` challenges are already in flight on the directory.
    Full,
    /// The same (name, type) is already in flight (by this worker or another).
    Busy,
    /// The CA asked every client to wait until then.
    Paused {
        /// When the pause ends (database clock).
        until: Timestamp,
        /// What the CA said.
        reason: String,
    },
}

/// A held in-flight slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The directory.
    pub directory_url: String,
    /// The normalised name.
    pub identifier: String,
    /// The challenge type as the CA names it.
    pub challenge_type: String,
    /// The worker holding it.
    pub owner: WorkerId,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn timestamp(t: std::time::SystemTime) -> Result<Timestamp, StoreError> {
    Timestamp::try_from(t).map_err(|e| StoreError::Corrupt {
        what: "pause time",
        value: e.to_string(),
    })
}

impl PgStore {
    /// Takes an in-flight slot for `identifier` / `challenge_type` on `directory_url` for
    /// `owner`, with a lease of `lease`, unless the directory is paused, `max` slots are taken,
    /// or the same (name, type) is in flight. Expired slots of dead workers are dropped first.
    pub fn take_slot(
        &self,
        owner: WorkerId,
        directory_url: &str,
        identifier: &str,
        challenge_type: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Result<Slot, SlotRefusal>, StoreError> {
        let identifier = super::super::normalize_identifier(identifier)?;
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut tx = c.transaction()?;
            // Serialises the count-then-insert of every worker on this directory.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('certdx-inflight:' || $1, 0))",
                &[&directory_url],
            )?;
            if let Some(row) = tx.query_opt(
                "SELECT until, reason FROM pauses
                 WHERE directory_url = $1 AND until > clock_timestamp()",
                &[&directory_url],
            )? {
                return Ok(Err(SlotRefusal::Paused {
                    until: timestamp(row.try_get(0)?)?,
                    reason: row.try_get(1)?,
                }));
            }
            tx.execute(
                "DELETE FROM inflight WHERE directory_url = $1 AND lease_until <= clock_timestamp()",
                &[&directory_url],
            )?;
            let taken: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM inflight WHERE directory_url = $1",
                    &[&directory_url],
                )?
                .try_get(0)?;
            if taken >= max {
                return Ok(Err(SlotRefusal::Full));
            }
            let inserted = tx.execute(
                "INSERT INTO inflight (directory_url, identifier, challenge_type, owner, lease_until)
                 VALUES ($1, $2, $3, $4, clock_timestamp() + $5::bigint * interval '1 millisecond')
                 ON CONFLICT DO NOTHING",
                &[&directory_url, &identifier, &challenge_type, &owner.0, &millis(lease)],
            )?;
            if inserted == 0 {
                return Ok(Err(SlotRefusal::Busy));
            }
            tx.commit()?;
            Ok(Ok(Slot {
                directory_url: directory_url.to_string(),
                identifier: identifier.clone(),
                challenge_type: challenge_type.to_string(),
                owner,
            }))
        })
    }

    /// Gives a slot back (the challenge is decided). A slot that expired and was dropped is
    /// not an error: there is nothing left to release.
    pub fn release_slot(&self, slot: &Slot) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM inflight
                 WHERE directory_url = $1 AND identifier = $2 AND challenge_type = $3 AND owner = $4",
                &[&slot.directory_url, &slot.identifier, &slot.challenge_type, &slot.owner.0],
            )?;
            Ok(())
        })
    }

    /// How many challenges are in flight on `directory_url` now, over all workers.
    pub fn in_flight(&self, directory_url: &str) -> Result<usize, StoreError> {
        let n: i64 = self.with(|c| {
            Ok(c.query_one(
                "SELECT COUNT(*) FROM inflight
                 WHERE directory_url = $1 AND lease_until > clock_timestamp()",
                &[&directory_url],
            )?
            .try_get(0)?)
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Records the CA's `Retry-After` for the whole directory: no worker takes a slot on it for
    /// `wait` from now (an existing, longer pause is kept).
    pub fn pause(
        &self,
        directory_url: &str,
        wait: Duration,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO pauses (directory_url, until, reason)
                 VALUES ($1, clock_timestamp() + $2::bigint * interval '1 millisecond', $3)
                 ON CONFLICT (directory_url) DO UPDATE SET
                     until = GREATEST(pauses.until, excluded.until),
                     reason = CASE WHEN excluded.until > pauses.until
                                   THEN excluded.reason ELSE pauses.reason END",
                &[&directory_url, &millis(wait), &reason],
            )?;
            Ok(())
        })
    }
}
