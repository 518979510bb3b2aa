//! clap definitions: the stable CLI contract (docs/ARCHITECTURE.md, "The command line").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;

mod engine;
pub use engine::{
    AccountArgs, IssueArgs, KeyTypeArg, SecretArg, SelfCheckArgs, SolverArgs, TrialArgs,
    ViewTrialArgs,
};

/// Find out why cert-manager will not issue a certificate.
#[derive(Debug, Parser)]
#[command(
    name = "certdx",
    version,
    about,
    long_about = None,
    after_help = "Plain `certdx` opens the interactive view of the live cluster (kubeconfig context, its namespace; -A for all).\n\nExamples:\n  certdx -A                                  # every failing Certificate of the cluster, worst first\n  certdx --snapshot dump.yaml                # a dump somebody sent you\n  certdx report -A -o markdown > ticket.md   # the same, for the incident ticket"
)]
pub struct Cli {
    /// Options shared by all commands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do; without one, the interactive view opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the view with its list filtered to this text (a namespace/name or a DNS name):
    /// how a k9s plugin opens certdx on the selected Certificate.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// How the view's `T` asks the CA.
    #[command(flatten)]
    pub trial: ViewTrialArgs,
}

/// Where objects come from, for every command that reads them. Listed under their own
/// heading, so `certdx issue --help` keeps its own options together.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Where objects come from (cluster or snapshot)")]
pub struct GlobalArgs {
    /// Saved YAML or JSON (a file or a directory) instead of a live cluster.
    #[arg(long, global = true, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Only this namespace.
    #[arg(
        short = 'n',
        long,
        global = true,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// All namespaces (the default for snapshots).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Measure ages and retry-after times against this instant: `2026-01-15`,
    /// `2026-01-15 10:00` (UTC) or RFC 3339; `current` for the clock. A snapshot is read at
    /// its newest timestamp by default, a live cluster at the clock.
    #[arg(long, global = true, value_name = "WHEN", value_parser = parse_now)]
    pub now: Option<NowArg>,
    /// Never offer or perform a write (retry, renew).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// The kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`, as kubectl).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "snapshot")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "snapshot")]
    pub context: Option<String>,
}

/// `--now`: the instant a diagnosis is read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NowArg {
    /// The machine's clock (`--now current`).
    Current,
    /// A given instant.
    At(jiff::Timestamp),
}

/// Parses `--now`: `current` (or `now`), RFC 3339, or a plain date or date and time in UTC.
pub fn parse_now(text: &str) -> Result<NowArg, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("current") || t.eq_ignore_ascii_case("now") {
        return Ok(NowArg::Current);
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(NowArg::At(ts));
    }
    // A civil date and time carries no zone: certdx's reports and cert-manager's objects are
    // in UTC, so that is what it means here.
    let civil = t.parse::<jiff::civil::DateTime>().or_else(|_| {
        t.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    civil
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|z| NowArg::At(z.timestamp()))
        .map_err(|_| {
            format!("{t:?} is not a time: give `current`, a date (2026-01-15), a date and time in UTC (2026-01-15 10:00) or RFC 3339 (2026-01-15T10:00:00Z)")
        })
}

/// The range `--timeout` accepts, in seconds: below a tenth of a second no server answers in
/// time, and a check that waits more than two minutes for one request is not a check.
pub const TIMEOUT_SECS: std::ops::RangeInclusive<f64> = 0.1..=120.0;

/// Parses `--timeout`: seconds within [`TIMEOUT_SECS`]. `nan`, `inf`, negative and huge values
/// are refused here, as usage errors, rather than turned into a duration that cannot exist.
pub fn parse_timeout(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !TIMEOUT_SECS.contains(&secs) {
        return Err(format!(
            "{text:?} is outside the accepted range: give seconds from {} to {}",
            TIMEOUT_SECS.start(),
            TIMEOUT_SECS.end()
        ));
    }
    Ok(secs)
}

/// Parses a resolver address: `IP:PORT`, `[IPv6]:PORT`, or a bare address on port 53.
pub fn parse_resolver(text: &str) -> Result<std::net::SocketAddr, String> {
    let t = text.trim();
    if let Ok(addr) = t.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    let bare = t.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!("{t:?} is not a resolver address: give an IP (port 53), IP:PORT or [IPv6]:PORT")
        })
}

impl GlobalArgs {
    /// The shared flags given on the command line, by name.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("--snapshot", self.snapshot.is_some()),
            ("-n/--namespace", self.namespace.is_some()),
            ("-A/--all-namespaces", self.all_namespaces),
            ("--now", self.now.is_some()),
            ("--read-only", self.read_only),
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--context", self.context.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// The cluster and namespaces these flags name.
    pub fn cluster_target(&self) -> crate::source::cluster::ClusterTarget {
        crate::source::cluster::ClusterTarget {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            all_namespaces: self.all_namespaces,
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify an ACME or cert-manager error message into finding codes.
    #[command(
        after_help = "Examples:\n  certdx explain 'too many certificates (5) already issued for this exact set of identifiers'\n  kubectl logs -n cert-manager deploy/cert-manager --since=1h | certdx explain -\n  kubectl describe challenge -n shop www-shop-1-123 | certdx explain - -o json"
    )]
    Explain(ExplainArgs),
    /// Diagnose every Certificate that is not Ready and export the result.
    #[command(
        after_help = "Examples:\n  certdx report -A                                   # live cluster, Markdown on stdout\n  certdx report --snapshot dump.yaml -o html > r.html\n  certdx report -n shop --offline -o json | jq '.diagnoses[].root_cause.code'\n  certdx report -A --readiness                       # what the 2026 CA changes will break"
    )]
    Report(ReportArgs),
    /// Run the playbook checks (name, HTTP-01 or DNS-01, CAA) for names or Challenges.
    #[command(
        after_help = "Examples:\n  certdx check www.example.com                            # HTTP-01 reachability, redirects, CAA\n  certdx check example.com --method dns-01 --key TXT   # the TXT on every nameserver\n  certdx check shop/www-shop-1-2841905717-1198735113      # a Challenge, from the cluster"
    )]
    Check(CheckArgs),
    /// The built-in demo estate with its own servers (no cluster, no root, no network).
    #[command(
        after_help = "Examples:\n  certdx demo                     # the interactive view on the demo estate\n  certdx demo --print -o json     # its report\n  certdx demo --serve             # only the demo's servers, to try `certdx check` on"
    )]
    Demo(DemoArgs),
    /// Make cert-manager issue again now: names any object of a chain and makes the one write
    /// that restarts it (renew, delete a failed Order, or release a stuck Challenge).
    #[command(
        after_help = "Examples:\n  certdx retry www-shop -n shop --dry-run            # the write and why; nothing changed\n  certdx retry order/www-shop-1-2841905717 -n shop   # any object of the chain\n  certdx retry www-shop -n shop --yes --wait         # then follow it: 0 Ready, 1 failed"
    )]
    Retry(RetryArgs),
    /// Trigger re-issuance of a Certificate: Issuing=True, reason ManuallyTriggered.
    #[command(
        after_help = "Examples:\n  certdx renew www-shop -n shop            # asks, then sets Issuing=True\n  certdx renew www-shop -n shop --yes      # in a script: no question"
    )]
    Renew(WriteArgs),
    /// Issue certificates through certdx's own ACME engine (batch, resumable, rate-limit aware).
    #[command(
        after_help = "Examples:\n  certdx issue --directory URL --domain www.example.com --http01-listen 0.0.0.0:80\n  certdx issue --directory URL --domain a.test --dns01-embedded 0.0.0.0:53 --dns01-zone acme.test"
    )]
    Issue(Box<IssueArgs>),
    /// Ask the CA itself (staging by default): order the names, trigger each challenge, report
    /// what the CA saw per name, and leave no authorization pending.
    #[command(
        after_help = "Examples:\n  certdx trial www.example.com                        # Let's Encrypt staging, HTTP-01, unanswered\n  certdx trial www.example.com --http01-listen 0.0.0.0:80 -o json\n  certdx trial example.com --method dns-01 --directory https://127.0.0.1:14000/dir"
    )]
    Trial(Box<TrialArgs>),
}

/// `certdx retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The object: a Certificate, CertificateRequest, Order or Challenge, as NAME or KIND/NAME.
    #[arg(value_name = "OBJECT")]
    pub target: String,
    /// Do it without asking for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Ask the server to validate the change without keeping it (server-side dry run).
    #[arg(long)]
    pub dry_run: bool,
    /// Retry even into an active CA rate limit or a paused account (it will fail again).
    #[arg(long)]
    pub force: bool,
    /// After the write, follow the new attempt: exit 0 when the Certificate is Ready, 1 when
    /// the attempt fails (with its root cause), 2 when `--timeout` passes first.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` follows the attempt, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600, requires = "wait")]
    pub timeout: u64,
    /// Do not run the playbook checks on the current Challenges before retrying.
    #[arg(long)]
    pub offline: bool,
    /// Recursive resolver for those checks (default: the system's); port 53 unless given.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolver: Option<std::net::SocketAddr>,
    /// Treat loopback addresses as reachable in those checks (test labs).
    #[arg(long)]
    pub allow_loopback: bool,
}

impl RetryArgs {
    /// The network settings of the checks run before a retry (`retry` has its own
    /// `--timeout`, for `--wait`, so it takes only the resolver and loopback flags).
    pub fn probe(&self) -> ProbeArgs {
        ProbeArgs {
            resolver: self.resolver,
            timeout: 10.0,
            concurrency: 16,
            allow_loopback: self.allow_loopback,
            http_port: 80,
            https_port: 443,
            dns_port: 53,
        }
    }
}

/// `certdx renew`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The Certificate's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Do it without asking for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Ask the server to validate the change without keeping it (server-side dry run).
    #[arg(long)]
    pub dry_run: bool,
}

/// `certdx explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The message (quote it); `-` reads it from standard input.
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// Output format (`-o json` as with kubectl).
    #[arg(long, short = 'o', value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

/// Text for people, JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    /// Lines for a terminal.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// `certdx report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Do not run the network checks on the failing Challenges: report what the objects say.
    #[arg(long)]
    pub offline: bool,
    /// How the checks reach the network.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Output format (default markdown).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A format, as kubectl takes it (`-o json`, `-o yaml`, `-o html`, `-o markdown`), or
    /// else a file to write to.
    #[arg(short = 'o', long, value_name = "FORMAT|FILE")]
    pub output: Option<String>,
    /// Write to this file instead of standard output (also when its name is a format's).
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    pub output_file: Option<PathBuf>,
    /// Exit 1 only for this class of problem (for a cron job or a pipeline): `expiring`
    /// (certificate-expiring), `overdue` (renewal-overdue, not-reconciled) or `any` (default).
    #[arg(long, value_enum, default_value_t = FailOn::Any)]
    pub fail_on: FailOn,
    /// List the readiness findings (what the 2025-2028 changes of public CAs will break) of
    /// every Certificate, healthy ones too, grouped by what to change.
    #[arg(long)]
    pub readiness: bool,
}

/// What makes `certdx report` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any problem.
    Any,
    /// A certificate expiring or expired.
    Expiring,
    /// A renewal nobody started, or a Certificate cert-manager does not act on.
    Overdue,
}

/// `certdx check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Domain names, or Challenges as NS/NAME (with --snapshot).
    #[arg(required = true, num_args = 1.., value_name = "DOMAIN")]
    pub targets: Vec<String>,
    /// The validation method to check.
    #[arg(long, value_enum, default_value_t = MethodArg::Http01)]
    pub method: MethodArg,
    /// The HTTP-01 token (the last path segment of the challenge URL).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
    /// The Challenge's spec.key: the key authorization for HTTP-01, the TXT value for DNS-01.
    #[arg(long, value_name = "K")]
    pub key: Option<String>,
    /// The CA's CAA issuer domain.
    #[arg(long, value_name = "D")]
    pub ca_domain: Option<String>,
    /// The ACME account URI, checked against CAA accounturi.
    #[arg(long, value_name = "URI")]
    pub account_uri: Option<String>,
    /// Output format (`-o json` as with kubectl).
    #[arg(long, short = 'o', value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
    /// How the checks reach the network.
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The ACME validation methods `check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// HTTP-01.
    #[value(name = "http-01")]
    Http01,
    /// DNS-01.
    #[value(name = "dns-01")]
    Dns01,
}

/// How the playbook checks reach the network (`check`, and `report` unless `--offline`).
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Recursive resolver used to find addresses, zones and nameservers (default: the
    /// system's): an address, port 53 unless given (`1.1.1.1`, `127.0.0.1:5353`, `[::1]:53`).
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolver: Option<std::net::SocketAddr>,
    /// Seconds allowed for each HTTP request (DNS questions get a third of it).
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: f64,
    /// How many names are checked at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
    /// Treat loopback addresses as reachable (test labs and the demo).
    #[arg(long)]
    pub allow_loopback: bool,
    /// Port of HTTP-01 requests and http redirects (labs; the CA always uses 80).
    #[arg(long, default_value_t = 80, value_name = "PORT", hide = true)]
    pub http_port: u16,
    /// Port https redirects go to (labs; the CA always uses 443).
    #[arg(long, default_value_t = 443, value_name = "PORT", hide = true)]
    pub https_port: u16,
    /// Port authoritative nameservers are asked on (labs; real servers use 53).
    #[arg(long, default_value_t = 53, value_name = "PORT", hide = true)]
    pub dns_port: u16,
}

/// `certdx demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Do not start the demo's servers: show only what the objects say.
    #[arg(long, conflicts_with = "serve")]
    pub offline: bool,
    /// Only start the demo's servers and print how to point `certdx check` at them; runs until
    /// interrupted (Ctrl-C).
    #[arg(long)]
    pub serve: bool,
    /// Print the report instead of opening the interactive view (the default when standard
    /// output is not a terminal).
    #[arg(long)]
    pub print: bool,
    /// Output format when printing (`-o json` as with kubectl).
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_without_a_port_is_on_53() {
        assert_eq!(parse_resolver("1.1.1.1").unwrap().to_string(), "1.1.1.1:53");
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_resolver("::1").unwrap().to_string(), "[::1]:53");
        assert_eq!(parse_resolver("[::1]").unwrap().to_string(), "[::1]:53");
        assert_eq!(parse_resolver("[::1]:54").unwrap().port(), 54);
        assert!(
            parse_resolver("dns.google")
                .unwrap_err()
                .contains("not a resolver")
        );
    }

    #[test]
    fn now_takes_dates_times_and_current() {
        let at = |t: &str| match parse_now(t).unwrap() {
            NowArg::At(ts) => ts.to_string(),
            NowArg::Current => "current".to_owned(),
        };
        assert_eq!(at("2026-01-15"), "2026-01-15T00:00:00Z");
        assert_eq!(at("2026-01-15 10:00"), "2026-01-15T10:00:00Z");
        assert_eq!(at("2026-01-15T10:00:00+02:00"), "2026-01-15T08:00:00Z");
        assert_eq!(at("current"), "current");
        assert!(parse_now("last week").is_err());
    }
}
