//! Turns the network flags shared by `check` and `report` into check settings.

use std::time::Duration;

use super::CliError;
use super::args::ProbeArgs;
use crate::checks::dns::{Dns, DnsOptions};
use crate::diagnose::playbook::PlaybookOptions;

impl ProbeArgs {
    fn timeout(&self) -> Duration {
        // The flag's parser refuses what is out of range; a caller that builds ProbeArgs by
        // hand still gets a duration that exists (NaN passes through clamp).
        let range = super::args::TIMEOUT_SECS;
        Duration::try_from_secs_f64(self.timeout.clamp(*range.start(), *range.end()))
            .unwrap_or(Duration::from_secs(10))
    }

    /// The DNS handle: the resolver given (or the system's), a third of the timeout per question.
    pub fn dns(&self) -> Result<Dns, CliError> {
        Dns::new(DnsOptions {
            resolver: self.resolver,
            timeout: self.timeout() / 3,
            authoritative_port: self.dns_port,
        })
        .map_err(|e| CliError::Usage(e.to_string()))
    }

    /// Playbook settings: concurrency, HTTP timeout, ports, loopback.
    pub fn playbook(&self) -> PlaybookOptions {
        let mut opts = PlaybookOptions {
            concurrency: self.concurrency.max(1),
            ..Default::default()
        };
        opts.http.timeout = self.timeout();
        opts.http.allow_loopback = self.allow_loopback;
        opts.http.http_port = self.http_port;
        opts.http.https_port = self.https_port;
        opts
    }
}

/// Everything the live checks need: a runtime (the CLI is otherwise synchronous), DNS and
/// the playbook settings.
pub struct LiveChecks {
    /// Runs the checks.
    pub runtime: tokio::runtime::Runtime,
    /// How DNS is asked.
    pub dns: Dns,
    /// Concurrency, HTTP settings.
    pub playbook: PlaybookOptions,
}

impl ProbeArgs {
    /// The live-check setup from these flags. A resolver that does not answer is not an
    /// error here: the checks then say so in the report instead of running, and the
    /// diagnosis from the objects still stands.
    pub fn live(&self) -> Result<LiveChecks, CliError> {
        let runtime = runtime()?;
        let dns = self.dns()?;
        Ok(LiveChecks {
            runtime,
            dns,
            playbook: self.playbook(),
        })
    }
}

impl LiveChecks {
    /// Where the checks run from, for report headers.
    pub fn vantage(&self) -> String {
        format!("ran from {}", crate::checks::resolver::vantage(&self.dns))
    }
}

/// A runtime for the network checks (the CLI is otherwise synchronous).
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))
}

/// Fails early when the recursive resolver does not answer at all: otherwise every check
/// would report its own lookup failure and hide the one real problem.
pub async fn resolver_answers(dns: &Dns) -> Result<(), CliError> {
    let root = hickory_proto::rr::Name::root();
    let answer = dns
        .query_recursive(&root, hickory_proto::rr::RecordType::NS)
        .await;
    match (&answer.rcode, &answer.error) {
        (None, Some(e)) => Err(CliError::Usage(format!(
            "the recursive resolver {} does not answer ({e}); pass --resolver HOST:PORT",
            dns.resolvers()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        _ => Ok(()),
    }
}
