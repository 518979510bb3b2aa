//! How a batch answers challenges: one [`Responder`] per run, chosen by [`SolverConfig`], and
//! the [`Publisher`] every attempt shares to publish a response, check it the way the CA will,
//! and withdraw it.
//!
//! - HTTP-01: the standalone listener serves every token; the self-check fetches the token from
//!   every address of the name.
//! - DNS-01, embedded: certdx is authoritative for a delegated zone (acme-dns style) and
//!   publishes the TXT at the identifier's place in it; users CNAME `_acme-challenge.NAME`
//!   there once. The preflight refuses a name whose CNAME is missing, with the record to add.
//! - DNS-01, RFC 2136: TXT records added and removed on the zone's primary with TSIG.
//!
//! The DNS-01 self-check is certdx's own DNS-01 check: the value on every authoritative server
//! of the zone (after CNAMEs) before the CA is told "ready".

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::checks::dns::Dns;
use crate::checks::dns01::{check_dns01, follow_cnames};
use crate::checks::http01::check_http01;
use crate::checks::name::{Method, check_name};
use crate::engine::acme::{ChallengeInfo, ChallengeKind};
use crate::engine::solver::dns01::{Dns01Handle, Dns01Server};
use crate::engine::solver::http01::{Http01Limits, Http01Solver, Http01Tokens};
use crate::engine::solver::rfc2136::Rfc2136Solver;
use crate::engine::store::{ChallengeType, PgStore};
use crate::model::{Code, Finding, Severity};

use super::config::{CheckConfig, SolverConfig};
use super::error::BatchError;

/// The longest pause between two tries of the self-check.
const SELF_CHECK_MAX_PAUSE: Duration = Duration::from_secs(2);
/// How long the DNS-01 self-check waits for the recursive resolver to see a value every
/// authoritative server already has. The CA's resolvers are not certdx's, so a stale answer
/// here never blocks; but a negative answer cached a moment before the value was published
/// (by the preflight, on a resolver the CA may share in a lab) expires within seconds in
/// certdx's own zone, and waiting that long avoids a failed validation.
const RECURSIVE_GRACE: Duration = Duration::from_secs(5);
/// The TTL of TXT records added through RFC 2136: short, since they live for one validation.
const RFC2136_TTL: u32 = 60;

/// The running solver: owns the listener or server until the batch ends.
pub(crate) struct Responder {
    running: Running,
    publisher: Publisher,
}

enum Running {
    Http01(Http01Solver),
    Embedded(Dns01Server),
    Rfc2136,
}

impl Responder {
    /// Starts what `config` asks for (binds the HTTP or DNS listener). With `shared`, the
    /// store of a batch several workers run together, the listener also answers the responses
    /// other workers published there, and every response published here goes there too.
    pub(crate) async fn start(
        config: &SolverConfig,
        shared: Option<Arc<PgStore>>,
    ) -> Result<Responder, BatchError> {
        let (running, way) = match config {
            SolverConfig::Http01 { listen } => {
                let mut tokens = Http01Tokens::new();
                if let Some(store) = &shared {
                    let store = Arc::clone(store);
                    tokens = tokens.with_elsewhere(Arc::new(move |token: &str| {
                        store.http01_response(token).map_err(|e| e.to_string())
                    }));
                }
                let solver =
                    Http01Solver::bind_with(*listen, tokens.clone(), Http01Limits::default())
                        .await?;
                (Running::Http01(solver), Way::Http01(tokens))
            }
            SolverConfig::Dns01Embedded { listen, zone } => {
                let server = Dns01Server::bind(*listen, zone.clone()).await?;
                let handle = server.handle();
                if let Some(store) = &shared {
                    let store = Arc::clone(store);
                    handle.answer_elsewhere(Arc::new(move |name: &str| {
                        store.dns01_values(name).map_err(|e| e.to_string())
                    }));
                }
                (Running::Embedded(server), Way::Embedded(handle))
            }
            SolverConfig::Dns01Rfc2136 { server, key } => (
                Running::Rfc2136,
                Way::Rfc2136(Arc::new(Rfc2136Solver::new(*server, key.clone()))),
            ),
        };
        Ok(Responder {
            running,
            publisher: Publisher { way, shared },
        })
    }

    /// The side attempts share.
    pub(crate) fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Stops the listener, letting requests in flight finish.
    pub(crate) async fn shutdown(self) {
        match self.running {
            Running::Http01(s) => s.shutdown().await,
            Running::Embedded(s) => s.shutdown().await,
            Running::Rfc2136 => {}
        }
    }
}

/// Publishes, checks and withdraws challenge responses; cheap to clone.
#[derive(Clone)]
pub(crate) struct Publisher {
    way: Way,
    /// The store several workers share: every response is published there too, before the CA
    /// is told to look, so whichever worker the CA reaches can answer it.
    shared: Option<Arc<PgStore>>,
}

/// Where this worker itself publishes.
#[derive(Clone)]
enum Way {
    /// Tokens served by the standalone listener.
    Http01(Http01Tokens),
    /// TXT records in certdx's delegated zone.
    Embedded(Dns01Handle),
    /// TXT records on the zone's primary, through signed dynamic updates.
    Rfc2136(Arc<Rfc2136Solver>),
}

impl Publisher {
    /// The challenge type this solver answers.
    pub(crate) fn kind(&self) -> ChallengeKind {
        match &self.way {
            Way::Http01(_) => ChallengeKind::Http01,
            Way::Embedded(_) | Way::Rfc2136(_) => ChallengeKind::Dns01,
        }
    }

    /// The same, as the scheduler and the store name it.
    pub(super) fn challenge_type(&self) -> ChallengeType {
        match self.kind() {
            ChallengeKind::Http01 => ChallengeType::Http01,
            _ => ChallengeType::Dns01,
        }
    }

    /// The same, as the playbook checks name it.
    pub(super) fn method(&self) -> Method {
        match self.kind() {
            ChallengeKind::Http01 => Method::Http01,
            _ => Method::Dns01,
        }
    }

    /// Makes `challenge` of `identifier` answerable: the CA may look from now on.
    pub(crate) async fn publish(
        &self,
        identifier: &str,
        challenge: &ChallengeInfo,
    ) -> Result<(), Finding> {
        if let Some(store) = &self.shared {
            self.share(store, identifier, challenge, Share::Publish)
                .await?;
        }
        match &self.way {
            Way::Http01(tokens) => {
                tokens.add(challenge.token.clone(), challenge.key_authorization.clone());
                Ok(())
            }
            Way::Embedded(handle) => {
                let value =
                    (challenge.dns_txt_value.as_deref()).ok_or_else(|| no_txt_value(identifier))?;
                let delegation = handle
                    .delegation(identifier)
                    .map_err(|e| present_failed(identifier, &e.to_string()))?;
                handle
                    .set_txt(&delegation.target.to_string(), value)
                    .map(|_| ())
                    .map_err(|e| present_failed(identifier, &e.to_string()))
            }
            Way::Rfc2136(solver) => {
                let value =
                    (challenge.dns_txt_value.as_deref()).ok_or_else(|| no_txt_value(identifier))?;
                let owner = challenge_owner(identifier);
                solver
                    .present(&owner, value, RFC2136_TTL)
                    .await
                    .map_err(|e| present_failed(identifier, &e.to_string()))
            }
        }
    }

    /// Takes the response of `challenge` away again (after the CA's verdict, or when the
    /// challenge is not answered after all). A failure only leaves a harmless record behind.
    pub(crate) async fn withdraw(&self, identifier: &str, challenge: &ChallengeInfo) {
        if let Some(store) = &self.shared
            && let Err(problem) = self
                .share(store, identifier, challenge, Share::Withdraw)
                .await
        {
            tracing::warn!(identifier, why = %problem.summary, "could not withdraw a shared response");
        }
        let result = match &self.way {
            Way::Http01(tokens) => {
                tokens.remove(&challenge.token);
                Ok(())
            }
            Way::Embedded(handle) => match (
                challenge.dns_txt_value.as_deref(),
                handle.delegation(identifier),
            ) {
                (Some(value), Ok(delegation)) => handle
                    .remove_txt(&delegation.target.to_string(), value)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                _ => Ok(()),
            },
            Way::Rfc2136(solver) => match challenge.dns_txt_value.as_deref() {
                Some(value) => solver
                    .cleanup(&challenge_owner(identifier), value)
                    .await
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            },
        };
        if let Err(why) = result {
            tracing::warn!(identifier, %why, "could not remove a challenge response");
        }
    }

    /// The solver's own reason not to order `identifier`, beyond the playbook's: for the
    /// embedded zone, a `_acme-challenge` CNAME that does not lead into it (nothing certdx
    /// publishes would be seen by the CA).
    pub(super) async fn preflight(&self, dns: &Dns, identifier: &str) -> Option<Finding> {
        let Way::Embedded(handle) = &self.way else {
            return None;
        };
        let delegation = match handle.delegation(identifier) {
            Ok(d) => d,
            Err(e) => return Some(present_failed(identifier, &e.to_string())),
        };
        let followed = follow_cnames(dns, &delegation.challenge).await;
        if let Some(problem) = followed.problem {
            return Some(problem);
        }
        if followed.target == delegation.target {
            return None;
        }
        let now = if followed.chain.is_empty() {
            "has no CNAME".to_owned()
        } else {
            format!("leads to {}", followed.target)
        };
        Some(
            Finding::new(
                Code::SolverNoMatch,
                format!(
                    "{} {now}, so certdx's zone {} cannot answer for {identifier}: create {}",
                    delegation.challenge,
                    handle.origin(),
                    delegation.cname_record()
                ),
            )
            .with_detail(format!(
                "The CNAME is created once per name, in the zone of {identifier}; certdx then \
                 publishes every challenge of the name in its own zone."
            )),
        )
    }

    /// certdx's own check of `challenge` for `identifier`, the way the CA will do it, retried
    /// with a short growing pause until it passes or `checks.self_check_timeout` (bounded by
    /// `deadline`) runs out; then the first error it found.
    pub(crate) async fn self_check(
        &self,
        checks: &CheckConfig,
        identifier: &str,
        challenge: &ChallengeInfo,
        deadline: Instant,
    ) -> Result<(), Finding> {
        let started = Instant::now();
        let give_up = (started + checks.self_check_timeout).min(deadline);
        let mut pause = Duration::from_millis(100);
        loop {
            let problem = match self.kind() {
                ChallengeKind::Http01 => check_http01_once(checks, identifier, challenge).await,
                _ => {
                    let patient = started.elapsed() < RECURSIVE_GRACE;
                    check_dns01_once(&checks.dns, identifier, challenge, patient).await
                }
            };
            let Some(problem) = problem else {
                return Ok(());
            };
            if Instant::now() + pause >= give_up {
                return Err(problem);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(SELF_CHECK_MAX_PAUSE);
        }
    }
}

/// One HTTP-01 self-check: every address, port 80 unless a lab says otherwise, redirects by
/// the CA's rules.
async fn check_http01_once(
    checks: &CheckConfig,
    name: &str,
    challenge: &ChallengeInfo,
) -> Option<Finding> {
    let (name_report, addresses) = check_name(&checks.dns, name, Method::Http01).await;
    let mut findings = name_report.findings;
    if !addresses.is_empty() {
        let report = check_http01(
            name,
            &addresses,
            Some(&challenge.token),
            Some(&challenge.key_authorization),
            &checks.dns,
            &checks.http,
        )
        .await;
        findings.extend(report.findings);
    }
    findings
        .into_iter()
        .find(|f| f.severity >= Severity::Error)
        .or_else(|| {
            addresses
                .is_empty()
                .then(|| Finding::new(Code::Http01NoAddress, format!("{name} has no address")))
        })
}

/// One DNS-01 self-check: the value on every authoritative server; while `patient`, also on
/// the recursive resolver.
async fn check_dns01_once(
    dns: &Dns,
    name: &str,
    challenge: &ChallengeInfo,
    patient: bool,
) -> Option<Finding> {
    let Some(value) = challenge.dns_txt_value.as_deref() else {
        return Some(no_txt_value(name));
    };
    let report = check_dns01(dns, name, Some(value)).await;
    report
        .findings
        .into_iter()
        .find(|f| f.severity >= Severity::Error || (patient && f.code == Code::Dns01RecursiveStale))
}

/// Why a DNS-01 challenge without its TXT value cannot be published.
fn no_txt_value(identifier: &str) -> Finding {
    present_failed(identifier, "the challenge carries no DNS-01 value")
}

/// `_acme-challenge.<identifier>.`, a wildcard's `*.` dropped as ACME does.
fn challenge_owner(identifier: &str) -> String {
    let base = identifier.strip_prefix("*.").unwrap_or(identifier);
    format!("_acme-challenge.{}.", base.trim_end_matches('.'))
}

fn present_failed(identifier: &str, why: &str) -> Finding {
    Finding::new(
        Code::SolverPresentFailed,
        format!("publishing the DNS-01 record of {identifier} failed: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_owner_drops_a_wildcard_and_is_absolute() {
        assert_eq!(
            challenge_owner("*.example.com"),
            "_acme-challenge.example.com."
        );
        assert_eq!(
            challenge_owner("www.example.com."),
            "_acme-challenge.www.example.com."
        );
    }
}

/// What to do with a response in the shared store.
#[derive(Clone, Copy)]
enum Share {
    Publish,
    Withdraw,
}

impl Publisher {
    /// Publishes or withdraws `challenge`'s response in the store several workers share: the
    /// HTTP-01 key authorization by token, the embedded zone's TXT value under the name the
    /// CA's resolver asks for (after the CNAME). Both are idempotent, so a response published
    /// twice (an attempt another worker resumed) is fine. RFC 2136 needs nothing here: the
    /// zone's primary is already what every worker shares.
    async fn share(
        &self,
        store: &Arc<PgStore>,
        identifier: &str,
        challenge: &ChallengeInfo,
        what: Share,
    ) -> Result<(), Finding> {
        let record_name = match &self.way {
            Way::Http01(_) => None,
            Way::Embedded(handle) => match handle.delegation(identifier) {
                Ok(delegation) => Some(delegation.target.to_string()),
                Err(e) => return Err(present_failed(identifier, &e.to_string())),
            },
            Way::Rfc2136(_) => return Ok(()),
        };
        let store = Arc::clone(store);
        let challenge = challenge.clone();
        let done = tokio::task::spawn_blocking(move || {
            match (record_name, challenge.dns_txt_value.as_deref(), what) {
                (None, _, Share::Publish) => {
                    store.publish_http01(&challenge.token, &challenge.key_authorization)
                }
                (None, _, Share::Withdraw) => store.withdraw_http01(&challenge.token),
                (Some(name), Some(value), Share::Publish) => store.publish_dns01(&name, value),
                (Some(name), Some(value), Share::Withdraw) => store.withdraw_dns01(&name, value),
                (Some(_), None, _) => Ok(()),
            }
        })
        .await;
        match done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(present_failed(identifier, &format!("shared store: {e}"))),
            Err(e) => Err(present_failed(identifier, &format!("shared store: {e}"))),
        }
    }
}
