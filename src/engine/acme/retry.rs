//! How long and how often the client retries and polls, and the loop that does it.
//!
//! The rules, per failed attempt:
//! - badNonce: retry at once (instant-acme already retried twice with the nonce of the error
//!   response; Pebble can be told to reject half of all nonces), bounded.
//! - 429 or 503: the server did not act on the request, so any request may be repeated; wait
//!   for `Retry-After` when the server gave one and it is within `max_retry_after`, else back
//!   off. A longer `Retry-After` (Let's Encrypt's rate limits name hours) is given back to the
//!   caller in the error instead of being slept through.
//! - other 5xx and transport failures: only requests that change nothing (POST-as-GET), or a
//!   connection that never opened, are repeated.
//! - anything else is the answer.
//!
//! Nothing ever waits past the caller's deadline: a wait that would end after it returns the
//! error (with the server's instant) instead.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::error::{AcmeError, Operation};
use super::http::{Capture, Exchange};

/// Retry and polling bounds of the ACME client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many more times a request is sent after badNonce (on top of instant-acme's own two).
    pub bad_nonce_retries: u32,
    /// How many times a request is repeated after 429, 5xx or a transport failure.
    pub server_retries: u32,
    /// The longest `Retry-After` the client sleeps through itself; longer ones are returned.
    pub max_retry_after: Duration,
    /// The first wait after a failure without `Retry-After` (doubles each time).
    pub backoff_initial: Duration,
    /// The longest wait after a failure without `Retry-After`.
    pub backoff_max: Duration,
    /// The first wait between polls when the server gives no `Retry-After` (grows by half).
    pub poll_initial: Duration,
    /// The longest wait between polls when the server gives no `Retry-After`.
    pub poll_max: Duration,
    /// The bound on one HTTP request, connection and body included.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            bad_nonce_retries: 8,
            server_retries: 4,
            max_retry_after: Duration::from_secs(60),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            // Validation against a nearby CA takes tens of milliseconds; against Let's Encrypt
            // a few seconds. Start small, grow to a polite interval.
            poll_initial: Duration::from_millis(200),
            poll_max: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A successful attempt and the last exchange it made.
pub(crate) struct Attempted<T> {
    pub value: T,
    pub last: Option<Exchange>,
}

/// Retries one operation: [`Retrier::attempt`] runs one try under its own capture and the
/// deadline, [`Retrier::after_failure`] decides (and waits) whether to try again. Used through
/// [`retrying!`], which inlines the attempt as a plain async block: an async closure's future
/// cannot be proven `Send` for every lifetime it borrows with, and the engine drives orders
/// from spawned tasks.
pub(crate) struct Retrier<'p> {
    policy: &'p RetryPolicy,
    deadline: Instant,
    operation: Operation,
    nonce_retries: u32,
    server_retries: u32,
    backoff: Duration,
}

impl<'p> Retrier<'p> {
    pub(crate) fn new(policy: &'p RetryPolicy, deadline: Instant, operation: Operation) -> Self {
        Retrier {
            policy,
            deadline,
            operation,
            nonce_retries: 0,
            server_retries: 0,
            backoff: policy.backoff_initial,
        }
    }

    /// Runs one attempt with a fresh capture, bounded by the deadline.
    pub(crate) async fn attempt<T>(
        &self,
        attempt: impl Future<Output = Result<T, instant_acme::Error>>,
    ) -> Result<Attempted<T>, AcmeError> {
        let capture = Capture::default();
        let outcome = tokio::time::timeout_at(self.deadline, capture.scope(attempt)).await;
        let last = capture.last();
        match outcome {
            Ok(Ok(value)) => Ok(Attempted { value, last }),
            Ok(Err(e)) => Err(AcmeError::from_attempt(self.operation, e, last.as_ref())),
            Err(_elapsed) => Err(AcmeError::Deadline {
                operation: self.operation,
                waiting_for: format!(
                    "waiting for {}",
                    last.map_or("the ACME server".to_owned(), |x| x.url)
                ),
                retry_after: None,
            }),
        }
    }

    /// After a failed attempt: waits and returns `Ok` when the rules say try again, else
    /// gives the error back.
    pub(crate) async fn after_failure(&mut self, err: AcmeError) -> Result<(), AcmeError> {
        match retry_rule(&err, self.operation) {
            Rule::Stop => Err(err),
            Rule::Now => {
                if self.nonce_retries >= self.policy.bad_nonce_retries {
                    return Err(err);
                }
                self.nonce_retries += 1;
                Ok(())
            }
            Rule::Later => {
                if self.server_retries >= self.policy.server_retries {
                    return Err(err);
                }
                self.server_retries += 1;
                let wait = match err.retry_after() {
                    Some(at) => {
                        let wait = until(at);
                        if wait > self.policy.max_retry_after {
                            return Err(err);
                        }
                        wait
                    }
                    None => {
                        let wait = self.backoff;
                        self.backoff = (self.backoff * 2).min(self.policy.backoff_max);
                        wait
                    }
                };
                if Instant::now() + wait > self.deadline {
                    return Err(err);
                }
                let operation = self.operation;
                tracing::debug!(%operation, ?wait, error = %err, "ACME request retried");
                tokio::time::sleep(wait).await;
                Ok(())
            }
        }
    }
}

/// `retrying!(policy, deadline, operation, { attempt })`: runs the attempt block (an
/// expression of type `Result<T, instant_acme::Error>`, evaluated inside an async block, so it
/// may `.await`, use `?` and `return`) until it succeeds or [`Retrier`] gives up; evaluates to
/// `Result<Attempted<T>, AcmeError>`.
macro_rules! retrying {
    ($policy:expr, $deadline:expr, $operation:expr, $attempt:block) => {{
        let mut retrier = $crate::engine::acme::retry::Retrier::new($policy, $deadline, $operation);
        loop {
            match retrier.attempt(async $attempt).await {
                Ok(done) => break Ok(done),
                Err(err) => {
                    if let Err(err) = retrier.after_failure(err).await {
                        break Err(err);
                    }
                }
            }
        }
    }};
}
pub(crate) use retrying;

enum Rule {
    Stop,
    Now,
    Later,
}

fn retry_rule(err: &AcmeError, operation: Operation) -> Rule {
    if err.is_bad_nonce() {
        return Rule::Now;
    }
    match err {
        // The server did not act on the request: repeating it is safe for any request.
        _ if matches!(err.status(), Some(429 | 503)) => Rule::Later,
        _ if err.status().is_some_and(|s| s >= 500) && operation.is_read() => Rule::Later,
        AcmeError::Transport { maybe_sent, .. } if operation.is_read() || !maybe_sent => {
            Rule::Later
        }
        _ => Rule::Stop,
    }
}

/// How long from now until `at` (zero if it has passed).
pub(crate) fn until(at: Timestamp) -> Duration {
    let left = at.duration_since(Timestamp::now());
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

/// The wait before the next poll: the server's `Retry-After` when it gave one (but never less
/// than the first poll interval: a `Retry-After: 0` must not turn polling into a busy loop),
/// else `backoff` (which then grows by half, up to the policy's maximum).
pub(crate) fn next_poll(
    retry_after: Option<Timestamp>,
    backoff: &mut Duration,
    policy: &RetryPolicy,
) -> Duration {
    match retry_after {
        Some(at) => until(at).max(policy.poll_initial),
        None => {
            let wait = *backoff;
            *backoff = backoff.mul_f32(1.5).min(policy.poll_max);
            wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_waits_grow_to_the_maximum_without_retry_after() {
        let policy = RetryPolicy::default();
        let mut backoff = policy.poll_initial;
        let waits: Vec<Duration> = (0..20)
            .map(|_| next_poll(None, &mut backoff, &policy))
            .collect();
        assert_eq!(waits[0], policy.poll_initial);
        assert!(waits[1] > waits[0]);
        assert_eq!(*waits.last().unwrap(), policy.poll_max);
    }

    #[test]
    fn poll_follows_retry_after() {
        let policy = RetryPolicy::default();
        let mut backoff = policy.poll_initial;
        let at = Timestamp::now() + jiff::SignedDuration::from_secs(5);
        let wait = next_poll(Some(at), &mut backoff, &policy);
        assert!(wait > Duration::from_secs(4) && wait <= Duration::from_secs(5));
        assert_eq!(
            backoff, policy.poll_initial,
            "Retry-After leaves the backoff alone"
        );
        let past = Timestamp::now() - jiff::SignedDuration::from_secs(5);
        assert_eq!(
            next_poll(Some(past), &mut backoff, &policy),
            policy.poll_initial,
            "a Retry-After in the past is no reason to poll in a tight loop"
        );
    }

    #[test]
    fn writes_are_repeated_only_when_the_server_did_not_act() {
        let http = |status| AcmeError::Http {
            operation: Operation::Finalize,
            url: String::new(),
            status,
            retry_after: None,
            body: String::new(),
        };
        assert!(matches!(
            retry_rule(&http(503), Operation::Finalize),
            Rule::Later
        ));
        assert!(matches!(
            retry_rule(&http(500), Operation::Finalize),
            Rule::Stop
        ));
        assert!(matches!(
            retry_rule(&http(500), Operation::FetchOrder),
            Rule::Later
        ));
        let refused = AcmeError::Transport {
            operation: Operation::NewOrder,
            url: String::new(),
            reason: String::new(),
            maybe_sent: true,
        };
        assert!(matches!(
            retry_rule(&refused, Operation::NewOrder),
            Rule::Stop
        ));
        let never_connected = AcmeError::Transport {
            operation: Operation::NewOrder,
            url: String::new(),
            reason: String::new(),
            maybe_sent: false,
        };
        assert!(matches!(
            retry_rule(&never_connected, Operation::NewOrder),
            Rule::Later
        ));
    }
}
