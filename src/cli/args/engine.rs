//! The arguments of the commands that drive the embedded ACME engine: `certdx issue`,
//! `certdx trial`, and the view's trial (`T`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{MethodArg, TextOrJson, parse_resolver, parse_timeout};

/// How the interactive view's `T` (a trial at the CA) reaches the CA.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "The view's trial at the CA (key T)")]
pub struct ViewTrialArgs {
    /// The ACME directory `T` asks instead of the issuer's staging CA: for an issuer whose CA
    /// runs no staging CA, or a test CA.
    #[arg(long, value_name = "URL")]
    pub trial_directory: Option<String>,
    /// A PEM root trusted for the trial CA's HTTPS besides the system's (a test CA).
    #[arg(long, value_name = "PEM")]
    pub trial_ca_cert: Option<PathBuf>,
    /// The engine's state store for the view's trials (the staging account, every
    /// authorization); default `$XDG_STATE_HOME/certdx/trial.sqlite`, else
    /// `~/.local/state/certdx/trial.sqlite`.
    #[arg(long, value_name = "DB")]
    pub trial_state: Option<PathBuf>,
    /// External Account Binding key id for the trial account, at a CA that requires it
    /// (Google Trust Services' staging CA); the HMAC key from CERTDX_TRIAL_EAB_HMAC_KEY.
    #[arg(long, value_name = "K", requires = "trial_eab_hmac_key")]
    pub trial_eab_kid: Option<String>,
    /// The EAB HMAC key (base64url) for --trial-eab-kid; better from the environment.
    #[arg(
        long,
        value_name = "H",
        env = "CERTDX_TRIAL_EAB_HMAC_KEY",
        hide_env_values = true,
        requires = "trial_eab_kid"
    )]
    pub trial_eab_hmac_key: Option<SecretArg>,
}

/// The most `--batch-timeout` accepts, in seconds (a year): larger values would overflow the
/// clock's deadline arithmetic and no batch runs that long.
pub const MAX_BATCH_TIMEOUT_SECS: u64 = 365 * 24 * 3600;

/// The most `--self-check-timeout` accepts, in seconds (a day), for the same reason.
pub const MAX_SELF_CHECK_TIMEOUT_SECS: u64 = 24 * 3600;

/// Parses `--new-order-concurrency`: 1 to 10,000 (it sizes a semaphore, which refuses more
/// permits than it can count).
pub fn parse_new_order_concurrency(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=10_000) => Ok(n),
        _ => Err(format!("{text:?} is not a count from 1 to 10000")),
    }
}

/// `certdx trial`.
#[derive(Debug, Args)]
pub struct TrialArgs {
    /// The names to try (one order).
    #[arg(required = true, num_args = 1.., value_name = "NAME")]
    pub names: Vec<String>,
    /// The ACME directory URL. A production CA is refused unless --production is given.
    #[arg(long, value_name = "URL", default_value = crate::engine::trial::LETS_ENCRYPT_STAGING)]
    pub directory: String,
    /// The challenge type to trigger.
    #[arg(long, value_enum, default_value_t = MethodArg::Http01)]
    pub method: MethodArg,
    /// Try on a production directory anyway: every name the CA refuses there counts toward the
    /// account's failed-validation limit and, repeated, toward pausing it.
    #[arg(long)]
    pub production: bool,
    /// Seconds to wait for the CA's verdicts; what is still pending then is deactivated.
    #[arg(long, value_name = "SECS", default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub wait: u64,
    /// A PEM root (or bundle) trusted for the CA's HTTPS instead of the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// The account, when the state store has none for the directory yet.
    #[command(flatten)]
    pub account: AccountArgs,
    /// How certdx checks its own answers before the CA is told to look (with a solver).
    #[command(flatten)]
    pub checks: SelfCheckArgs,
    /// The state store (SQLite, created 0600), as for `certdx issue`: the account is kept there,
    /// and every authorization the trial creates.
    #[arg(long, value_name = "DB", default_value = "certdx-state.sqlite")]
    pub state: PathBuf,
    /// Answer the challenges for real from here (the same flags as `certdx issue`); without
    /// one, challenges are triggered and never answered.
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Output format (`-o json` as with kubectl).
    #[arg(long, short = 'o', value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

/// The certificate key types `certdx issue` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    /// ECDSA P-256 (SHA-256).
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA P-384 (SHA-384).
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
}

/// `certdx issue`.
#[derive(Debug, Args)]
// `--status` stands in for the names and the solver: it only reads the shared state.
#[command(group(
    clap::ArgGroup::new("names")
        .required(true)
        .args(["domain", "domains_file", "status"])
))]
#[command(group(
    clap::ArgGroup::new("solver")
        .required(true)
        .args(["http01_listen", "dns01_embedded", "dns01_rfc2136", "status"])
))]
pub struct IssueArgs {
    /// The ACME directory URL (https).
    #[arg(long, value_name = "URL", required_unless_present = "status")]
    pub directory: Option<String>,
    /// Show the workers sharing a postgres:// --state, the work they hold, the shared limits in
    /// force and the orders by status, then exit (issues nothing).
    #[arg(long)]
    pub status: bool,
    /// A PEM root (or bundle) trusted for the CA's HTTPS instead of the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// The account, when the state store has none for the directory yet.
    #[command(flatten)]
    pub account: AccountArgs,
    /// A certificate to issue; names separated by commas form one certificate (SANs).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub domain: Vec<String>,
    /// One certificate per line, names separated by spaces or commas, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub domains_file: Option<PathBuf>,
    /// How challenges are answered.
    #[command(flatten)]
    pub solver: SolverArgs,
    /// How certdx checks names and its own answers.
    #[command(flatten)]
    pub checks: SelfCheckArgs,
    /// The CA's CAA issuer domain (default: known from the directory URL).
    #[arg(long, value_name = "D")]
    pub ca_domain: Option<String>,
    /// The state store: account, orders, authorizations. A file is SQLite (created 0600); a
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB URL is a PostgreSQL database (give it through
    /// CERTDX_STATE to keep the password out of the shell history and the process list).
    #[arg(
        long,
        value_name = "DB|URL",
        env = "CERTDX_STATE",
        hide_env_values = true,
        default_value = "certdx-state.sqlite"
    )]
    pub state: String,
    /// Most challenges in flight at once (on a postgres:// state: over all workers).
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub concurrency: usize,
    /// On a postgres:// state: seconds a worker's claims outlive its last heartbeat before the
    /// other workers take them over.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(3..=3600)
    )]
    pub worker_lease: u64,
    /// Most newOrder requests in flight at once (labs: Pebble 2.4.0 can deadlock on concurrent
    /// newOrder requests).
    #[arg(long, value_name = "N", hide = true, value_parser = parse_new_order_concurrency)]
    pub new_order_concurrency: Option<usize>,
    /// Where certificates (`NAME.crt`) and keys (`NAME.key`, 0600) are written.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub out: PathBuf,
    /// Seconds the whole run may take; what is left is reported with why it waited.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(0..=MAX_BATCH_TIMEOUT_SECS)
    )]
    pub batch_timeout: u64,
    /// Order again a certificate an earlier run issued when it expires within this many days
    /// (default: a third of its lifetime, at most 30 days). Certificates living under 10 days
    /// always renew at half their life.
    #[arg(long, value_name = "DAYS")]
    pub renew_before_days: Option<u64>,
    /// Order every certificate again, even one an earlier run issued that is still good.
    #[arg(long)]
    pub force: bool,
    /// The CA's certificate profile to order under (e.g. `tlsserver`, `shortlived` at Let's
    /// Encrypt): checked against the directory's `meta.profiles` before any order.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The certificate keys' type (RSA is not offered: ECDSA keys are smaller, faster and
    /// accepted by every public CA).
    #[arg(long, value_enum, default_value_t = KeyTypeArg::EcdsaP256)]
    pub key_type: KeyTypeArg,
    /// A shell command run once per certificate issued by this run, as soon as it is installed
    /// (reload a web server), and on a shared state for each certificate another worker issued
    /// that this run installed here; it gets CERTDX_NAME, CERTDX_NAMES, CERTDX_CERT, CERTDX_KEY and
    /// CERTDX_NOT_AFTER. A failing hook makes the exit code 1.
    #[arg(long, value_name = "CMD")]
    pub deploy_hook: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
    /// Watch the batch full-screen (a row per certificate, the selected one's last finding)
    /// instead of the progress line; needs a terminal and text output. The report is printed
    /// when you leave.
    #[arg(long)]
    pub tui: bool,
}

/// The ACME account a command registers when the state store has none for the directory:
/// shared by `certdx issue` and `certdx trial` (staging CAs such as Google's need EAB too).
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// Contact address for a new account.
    #[arg(long, value_name = "E")]
    pub email: Option<String>,
    /// External Account Binding key id, for a new account at a CA that requires it.
    #[arg(long, value_name = "K", requires = "eab_hmac_key")]
    pub eab_kid: Option<String>,
    /// External Account Binding HMAC key (base64url); better from the environment, so it stays
    /// out of the shell history.
    #[arg(
        long,
        value_name = "H",
        env = "CERTDX_EAB_HMAC_KEY",
        hide_env_values = true,
        requires = "eab_kid"
    )]
    pub eab_hmac_key: Option<SecretArg>,
}

/// How the engine commands check names and their own challenge answers: shared by
/// `certdx issue` (preflight and self-check) and `certdx trial` (self-check of what it answers).
#[derive(Debug, Clone, Args)]
pub struct SelfCheckArgs {
    /// Recursive resolver for the preflight and self-checks (default: the system's); port 53
    /// unless given.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolver: Option<std::net::SocketAddr>,
    /// Seconds allowed for each check's HTTP request (DNS questions get a third of it).
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: f64,
    /// Treat loopback addresses as reachable (test labs).
    #[arg(long)]
    pub allow_loopback: bool,
    /// Port the checks send HTTP-01 requests to (labs; the CA always uses 80).
    #[arg(long, default_value_t = 80, value_name = "PORT", hide = true)]
    pub http_port: u16,
    /// Seconds certdx's own check of a challenge (token served, TXT on every authoritative
    /// server) may keep retrying before the challenge is given up without being answered
    /// (`certdx trial` tells the CA to look anyway, and reports what the self-check found).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=MAX_SELF_CHECK_TIMEOUT_SECS)
    )]
    pub self_check_timeout: u64,
}

/// How challenges are answered: shared by `certdx issue` (which needs one) and `certdx trial`
/// (which answers only when given one). At most one of the three solvers.
#[derive(Debug, Clone, Args)]
pub struct SolverArgs {
    /// Answer HTTP-01 with a standalone listener on this address (the names' port 80 must reach
    /// it).
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["dns01_embedded", "dns01_rfc2136"])]
    pub http01_listen: Option<std::net::SocketAddr>,
    /// Answer DNS-01 with an embedded authoritative server on this address for --dns01-zone.
    #[arg(
        long,
        value_name = "ADDR",
        requires = "dns01_zone",
        conflicts_with = "dns01_rfc2136"
    )]
    pub dns01_embedded: Option<std::net::SocketAddr>,
    /// The zone the embedded DNS server is authoritative for (delegated to it; names CNAME
    /// `_acme-challenge` into it).
    #[arg(long, value_name = "ZONE")]
    pub dns01_zone: Option<String>,
    /// A nameserver of --dns01-zone as the parent zone's NS and glue name it (NAME=IP[,IP]);
    /// repeatable. Default: ns.ZONE at the --dns01-embedded address.
    #[arg(long, value_name = "NAME=IP", requires = "dns01_embedded")]
    pub dns01_nameserver: Vec<String>,
    /// Answer DNS-01 through RFC 2136 dynamic updates to this server (HOST[:PORT], port 53 by
    /// default): the primary of the names' zones.
    #[arg(long, value_name = "SERVER", requires = "tsig_key")]
    pub dns01_rfc2136: Option<String>,
    /// The TSIG key file for --dns01-rfc2136.
    #[arg(long, value_name = "FILE")]
    pub tsig_key: Option<PathBuf>,
}

/// A secret given on the command line or in the environment: never shown by `Debug`.
#[derive(Clone)]
pub struct SecretArg(String);

impl SecretArg {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<SecretArg, Self::Err> {
        Ok(SecretArg(s.to_owned()))
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
