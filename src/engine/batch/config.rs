//! How a batch is set up: the CA and account, the names, the solver, the checks, the limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::checks::dns::Dns;
use crate::checks::http01::Http01Options;
use crate::engine::acme::{AccountOptions, AcmeConfig, KeyKind};
use crate::engine::scheduler::SchedulerConfig;
use crate::engine::solver::dns01::Dns01Zone;
use crate::engine::solver::rfc2136::TsigKey;
use crate::engine::store::{PgUrl, StateLocation};

use super::input::CertRequest;

/// The longest default renewal window: 30 days, as certbot (a third of a 90-day certificate).
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// How challenges are answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SolverConfig {
    /// HTTP-01 on one standalone listener serving every token (`--http01-listen`).
    Http01 {
        /// The address to bind (the CA connects to the names' addresses on port 80: this is
        /// where that traffic arrives, directly or through a port forward).
        listen: SocketAddr,
    },
    /// DNS-01 answered by certdx's own authoritative server for a delegated zone
    /// (`--dns01-embedded ADDR --dns01-zone ZONE`): each name's `_acme-challenge` CNAMEs into
    /// it, so certdx needs no write access to the names' own zones.
    Dns01Embedded {
        /// The address to serve DNS on (UDP and TCP; port 53 where the parent's NS points).
        listen: SocketAddr,
        /// The delegated zone.
        zone: Dns01Zone,
    },
    /// DNS-01 through RFC 2136 dynamic updates signed with TSIG (`--dns01-rfc2136 SERVER
    /// --tsig-key FILE`).
    Dns01Rfc2136 {
        /// The zone's primary server.
        server: SocketAddr,
        /// The key the server accepts updates from.
        key: TsigKey,
    },
}

/// The checks certdx runs itself: the preflight of every name before any order, and the
/// self-check of each challenge before telling the CA it is ready. The same DNS and HTTP
/// settings as `certdx check`.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// How DNS is asked (`--resolver`, timeouts).
    pub dns: Dns,
    /// How HTTP-01 URLs are fetched (ports, timeouts, loopback for labs).
    pub http: Http01Options,
    /// How many names the preflight checks at once.
    pub concurrency: usize,
    /// The CA's CAA issuer domain; `None` derives it from the directory URL (Let's Encrypt,
    /// ZeroSSL, Google, ...). When neither knows it, a CAA set that does not name the guessed
    /// domain only warns: the CA's own CAA check decides.
    pub ca_domain: Option<String>,
    /// How long the self-check of one challenge may keep retrying before the challenge is given
    /// up locally (never answered, so it costs no failed validation at the CA).
    pub self_check_timeout: Duration,
}

/// The default [`BatchConfig::worker_lease`]: long enough that a busy database or a slow
/// network never costs a live worker its work, short enough that a dead one's is taken over
/// within a minute.
pub const DEFAULT_WORKER_LEASE: Duration = Duration::from_secs(30);

/// Everything a batch needs.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// The CA: directory URL, trusted roots, retry policy. The batch sets the policy's
    /// `max_retry_after` to zero so that every `Retry-After` of a 429 or 503 comes back to the
    /// scheduler instead of being slept through inside one request.
    pub acme: AcmeConfig,
    /// Contact and EAB, used only when the state store has no account for the directory.
    pub account: AccountOptions,
    /// The certificates to issue.
    pub requests: Vec<CertRequest>,
    /// How challenges are answered.
    pub solver: SolverConfig,
    /// The state store (created 0600 if missing).
    pub state_path: PathBuf,
    /// A PostgreSQL state store shared with other workers; when set, `state_path` is unused.
    pub state_postgres: Option<PgUrl>,
    /// Where certificates and keys are written.
    pub out_dir: PathBuf,
    /// The scheduler's limits (its directory URL is replaced by the CA's).
    pub scheduler: SchedulerConfig,
    /// Preflight and self-check settings.
    pub checks: CheckConfig,
    /// The whole run's time: no work starts after it, and what is left is reported with why
    /// it waited (a rate limit's retry time, a backoff).
    pub batch_timeout: Duration,
    /// The most one attempt at one certificate may take (order, validation, finalization).
    pub attempt_timeout: Duration,
    /// The certificate keys' algorithm.
    pub key_kind: KeyKind,
    /// Most newOrder requests in flight at once; `None` leaves only the scheduler's in-flight
    /// cap. Public CAs need no such limit; Pebble 2.4.0 does: concurrent newOrder requests can
    /// deadlock its in-memory store (every handler then waits on the store's lock forever), so
    /// the test labs send them one at a time.
    pub new_order_concurrency: Option<usize>,
    /// A certificate an earlier run issued is ordered again when less than this is left of it
    /// (or its file is gone or broken). `None`: a third of the certificate's lifetime, at most
    /// [`DEFAULT_RENEW_BEFORE`], as cert-manager does (a 45-day certificate then renews at
    /// two thirds of its life instead of at every run). Certificates under 10 days ignore it:
    /// they renew at half their life.
    pub renew_before: Option<Duration>,
    /// Order every certificate again, however much is left of the one issued before.
    pub force: bool,
    /// The certificate profile to ask the CA for (`--profile`); checked against the
    /// directory's `meta.profiles` before any order.
    pub profile: Option<String>,
    /// On a PostgreSQL state: how long this worker's claims, slots and reservations outlive
    /// its last heartbeat (renewed every third of it) before other workers take them over.
    pub worker_lease: Duration,
    /// Receives each certificate's result the moment it is installed (for deploy hooks that
    /// must not wait for the whole batch).
    pub on_issued: Option<tokio::sync::mpsc::UnboundedSender<super::report::CertResult>>,
}

impl BatchConfig {
    /// Where this run's state lives: the PostgreSQL database when one is set, else the file.
    pub fn state_location(&self) -> StateLocation {
        match &self.state_postgres {
            Some(url) => StateLocation::Postgres(url.clone()),
            None => StateLocation::Sqlite(self.state_path.clone()),
        }
    }

    /// A configuration with the defaults: cert-manager's scheduler limits, an hour for the run,
    /// five minutes per attempt, 30 seconds of self-check, ECDSA P-256 keys, renewal 30 days
    /// before expiry.
    pub fn new(
        acme: AcmeConfig,
        requests: Vec<CertRequest>,
        solver: SolverConfig,
        dns: Dns,
    ) -> BatchConfig {
        let scheduler = SchedulerConfig::new(acme.directory_url.clone());
        BatchConfig {
            acme,
            account: AccountOptions::default(),
            requests,
            solver,
            state_path: PathBuf::from("certdx-state.sqlite"),
            state_postgres: None,
            out_dir: PathBuf::from("certs"),
            scheduler,
            checks: CheckConfig {
                dns,
                http: Http01Options::default(),
                concurrency: 64,
                ca_domain: None,
                self_check_timeout: Duration::from_secs(30),
            },
            batch_timeout: Duration::from_secs(3600),
            attempt_timeout: Duration::from_secs(300),
            key_kind: KeyKind::EcdsaP256,
            new_order_concurrency: None,
            renew_before: None,
            force: false,
            profile: None,
            worker_lease: DEFAULT_WORKER_LEASE,
            on_issued: None,
        }
    }
}
