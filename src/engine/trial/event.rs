//! What a trial reports as it happens: for the view's detail pane and the command's stderr.

use std::fmt;

use serde::Serialize;

use super::cleanup::CleanupSummary;
use super::verdict::NameVerdict;

/// Progress, as it happens (for a view; the CLI shows it on stderr).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrialEvent {
    /// The account is ready (restored from the store, or registered and stored).
    AccountReady {
        /// The account URL.
        account: String,
        /// Whether this trial registered it.
        created: bool,
    },
    /// Pending authorizations of an earlier, killed trial were deactivated.
    LeftoversCleaned {
        /// How many.
        count: usize,
    },
    /// The order exists.
    OrderCreated {
        /// Its URL.
        order: String,
        /// Its names.
        names: Vec<String>,
    },
    /// certdx checked its own answer for a name before telling the CA to look.
    SelfChecked {
        /// The name.
        name: String,
        /// Whether the answer was seen as the CA will look for it.
        passed: bool,
        /// What was wrong, when it did not pass (the CA is told to look anyway).
        summary: Option<String>,
    },
    /// The challenge of a name was triggered.
    ChallengeTriggered {
        /// The name.
        name: String,
        /// Whether certdx published the response first.
        answered: bool,
    },
    /// The CA decided on a name (or the trial stopped waiting for it).
    NameDecided(Box<NameVerdict>),
    /// Every authorization is settled.
    CleanupDone(CleanupSummary),
}

/// One line for a person: the view's detail pane and `certdx trial`'s stderr say the same.
impl fmt::Display for TrialEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrialEvent::AccountReady { account, created } => {
                let how = if *created { "registered" } else { "reused" };
                write!(f, "account {how}: {account}")
            }
            TrialEvent::LeftoversCleaned { count } => write!(
                f,
                "deactivated {count} authorization(s) an earlier trial left pending"
            ),
            TrialEvent::OrderCreated { order, names } => {
                write!(f, "order {order} for {}", names.join(", "))
            }
            TrialEvent::SelfChecked {
                name, passed: true, ..
            } => write!(f, "{name}: certdx sees its own answer"),
            TrialEvent::SelfChecked { name, summary, .. } => write!(
                f,
                "{name}: certdx's own check failed ({}); the CA is asked anyway",
                summary.as_deref().unwrap_or("no detail")
            ),
            TrialEvent::ChallengeTriggered { name, answered } => {
                let how = if *answered {
                    "answered by certdx"
                } else {
                    "not answered"
                };
                write!(f, "{name}: challenge triggered ({how})")
            }
            TrialEvent::NameDecided(v) => {
                write!(f, "{}: {} ({})", v.name, v.status.as_str(), v.meaning)
            }
            TrialEvent::CleanupDone(c) if c.failed.is_empty() => write!(
                f,
                "nothing left pending: {} valid, {} invalid, {} deactivated",
                c.valid, c.invalid, c.deactivated
            ),
            TrialEvent::CleanupDone(c) => write!(
                f,
                "{} could not be settled ({}); the next trial deactivates them",
                c.failed.len(),
                c.failed.join("; ")
            ),
        }
    }
}
