//! The scheduler's knobs, their defaults, and where each number comes from.

use jiff::SignedDuration;

use super::types::SchedulerError;

/// cert-manager's default for `--max-concurrent-challenges`: the most challenges its scheduler
/// lets be "processing" at once. We keep its number so behaviour matches what operators know.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 60;

/// The default cap on authorizations pending at the CA for the account.
///
/// Let's Encrypt used to refuse new orders beyond 300 pending authorizations per account
/// (boulder issue 975 chose 300 as three times the 100 names a certificate may hold). It retired
/// that limit: since 2017 it hands a client back its existing pending authorization for a name
/// instead of making a new one ("pending authorization recycling"), so a crashing client no
/// longer leaks them, and counting them cost expensive table scans (boulder issue 6604); the
/// rate-limit system that replaced the old one has no pending-authorizations limit (boulder
/// `ratelimits/names.go`; the last counting code was removed in boulder PR 8669). We still cap
/// them: other ACME servers and older Boulder deployments enforce the limit, each pending
/// authorization is a name we promised to answer or knowingly leave, and a bounded number bounds
/// what a crash can leave behind. 300 keeps the old limit's meaning: a full 100-name certificate
/// can always be ordered while earlier ones are still being validated.
pub const DEFAULT_MAX_PENDING_AUTHORIZATIONS: usize = 300;

/// Let's Encrypt's "Authorization Failures per Identifier per Account" limit: 5 failed
/// validations per account, per hostname, per hour, refilled at 1 per 12 minutes, no overrides
/// (letsencrypt.org/docs/rate-limits and /docs/failed-validation-limit; boulder's
/// `FailedAuthorizationsPerDomainPerAccount`, keyed on account id and identifier). Deactivating a
/// pending authorization counts as a failure too (boulder PR 7835). The scheduler never lets a
/// sixth failure happen inside any sliding hour, which is at least as strict as Boulder's token
/// bucket (any sequence with at most 5 per sliding hour also fits a bucket of 5 refilled 1 per 12
/// minutes).
pub const LETS_ENCRYPT_FAILURES_PER_IDENTIFIER_PER_HOUR: u32 = 5;

/// How the scheduler admits work and backs off failing names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// The ACME directory whose account the failure budget and pending cap belong to (both are
    /// per account at the CA, and the store keeps one account per directory).
    pub directory_url: String,
    /// Most challenges in flight at once (an order with k names counts k).
    pub max_in_flight: usize,
    /// Most authorizations pending at the CA for the account; new orders wait beyond it (work
    /// that resumes an existing order is never held back: finishing it lowers the count).
    pub max_pending_authorizations: usize,
    /// Failed validations allowed per name within [`Self::budget_window`].
    pub failure_budget: u32,
    /// The sliding window of the failure budget.
    pub budget_window: SignedDuration,
    /// Backoff after a name's first failed validation; doubled after each further one.
    pub backoff_base: SignedDuration,
    /// The longest backoff between two attempts of a failing name.
    pub backoff_max: SignedDuration,
    /// Give a work item up after this many failed validations in this run (its names keep their
    /// persisted backoff). `None` retries for as long as the engine runs.
    pub max_validation_failures: Option<u32>,
    /// First retry delay after a failure that cost nothing at the CA (network error, 5xx, solver
    /// trouble) when the server gave no Retry-After; doubled after each further one.
    pub transient_backoff_base: SignedDuration,
    /// The longest such delay.
    pub transient_backoff_max: SignedDuration,
    /// Give a work item up after this many such failures in a row.
    pub max_transient_failures: u32,
}

impl SchedulerConfig {
    /// The defaults for `directory_url`: cert-manager's 60 in flight, 300 pending
    /// authorizations, Let's Encrypt's 5 failures per name per hour, backoff 1 min doubling to
    /// 1 h, and three failed validations in a run before a name is reported failed (a name that
    /// failed three times running needs a human, and stopping there leaves two of the hour's five
    /// for the operator's own retry after the fix).
    pub fn new(directory_url: impl Into<String>) -> SchedulerConfig {
        SchedulerConfig {
            directory_url: directory_url.into(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_pending_authorizations: DEFAULT_MAX_PENDING_AUTHORIZATIONS,
            failure_budget: LETS_ENCRYPT_FAILURES_PER_IDENTIFIER_PER_HOUR,
            budget_window: SignedDuration::from_hours(1),
            backoff_base: SignedDuration::from_mins(1),
            backoff_max: SignedDuration::from_hours(1),
            max_validation_failures: Some(3),
            transient_backoff_base: SignedDuration::from_secs(10),
            transient_backoff_max: SignedDuration::from_mins(5),
            max_transient_failures: 5,
        }
    }

    /// Refuses settings that would stall the scheduler or make the budget meaningless.
    pub fn validate(&self) -> Result<(), SchedulerError> {
        let bad = |why: &str| Err(SchedulerError::InvalidConfig(why.to_string()));
        if self.max_in_flight == 0 {
            return bad("max_in_flight must be at least 1");
        }
        if self.max_pending_authorizations == 0 {
            return bad("max_pending_authorizations must be at least 1");
        }
        if self.failure_budget == 0 {
            return bad("failure_budget must be at least 1");
        }
        if self.max_validation_failures == Some(0) {
            return bad("max_validation_failures must be at least 1");
        }
        let positive = [
            (self.budget_window, "budget_window"),
            (self.backoff_base, "backoff_base"),
            (self.backoff_max, "backoff_max"),
            (self.transient_backoff_base, "transient_backoff_base"),
            (self.transient_backoff_max, "transient_backoff_max"),
        ];
        if let Some((_, name)) = positive.iter().find(|(d, _)| !d.is_positive()) {
            return bad(&format!("{name} must be positive"));
        }
        if self.backoff_base > self.backoff_max
            || self.transient_backoff_base > self.transient_backoff_max
        {
            return bad("a backoff base must not exceed its maximum");
        }
        Ok(())
    }
}
