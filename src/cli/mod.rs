//! The command line: clap definitions and the non-interactive commands.

mod args;
mod check;
mod check_target;
mod demo;
mod explain;
mod interactive;
mod issue;
mod log;
pub use interactive::VIEW_ACTIVE;
pub use log::log_writer;
mod output;
mod probe;
mod report;
mod retry;
mod source;
mod trial;
mod write;

pub use args::{
    CheckArgs, Cli, Command, ExplainArgs, IssueArgs, MethodArg, ProbeArgs, ReportArgs, RetryArgs,
    SecretArg, SolverArgs, TextOrJson, TrialArgs, WriteArgs,
};
pub use output::write_output;

use std::process::ExitCode;

/// Why a command could not do its job (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The snapshot could not be loaded.
    #[error(transparent)]
    Snapshot(#[from] crate::source::snapshot::SnapshotError),
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The cluster could not be reached or read.
    #[error(transparent)]
    Cluster(#[from] crate::source::cluster::ClusterError),
    /// The arguments make no sense together, or a feature is not available yet.
    #[error("{0}")]
    Usage(String),
}

/// Exit code: nothing wrong found.
pub const EXIT_OK: u8 = 0;
/// Exit code: problems found.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit code: usage or runtime error.
pub const EXIT_ERROR: u8 = 2;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    refuse_meaningless(&cli)?;
    match cli.command {
        Some(Command::Explain(a)) => explain::run(&a),
        Some(Command::Report(a)) => report::run(&a, &cli.global),
        Some(Command::Check(a)) => check::run(&a, &cli.global),
        Some(Command::Demo(a)) => demo::run(&a, &cli.global),
        Some(Command::Retry(a)) => retry::retry(&a, &cli.global),
        Some(Command::Renew(a)) => write::renew(&a, &cli.global),
        Some(Command::Issue(a)) => issue::run(&a),
        Some(Command::Trial(a)) => trial::run(&a),
        None => interactive(
            &cli.global,
            cli.filter.as_deref().unwrap_or_default(),
            &cli.trial,
        ),
    }
}

/// Whether the command line asked for JSON on standard output: then an error is a JSON
/// document there too, so a script reading stdout sees why nothing else came.
pub fn wants_json(cli: &Cli) -> bool {
    use crate::report::Format;
    match &cli.command {
        Some(Command::Explain(a)) => a.format == TextOrJson::Json,
        Some(Command::Check(a)) => a.format == TextOrJson::Json,
        Some(Command::Issue(a)) => a.format == TextOrJson::Json,
        Some(Command::Trial(a)) => a.format == TextOrJson::Json,
        Some(Command::Demo(a)) => a.format == Format::Json,
        Some(Command::Report(a)) => {
            a.output_file.is_none()
                && (a.format == Some(Format::Json) || a.output.as_deref() == Some("json"))
        }
        _ => false,
    }
}

/// The JSON document printed on standard output when a JSON command fails (exit 2).
pub fn error_document(message: &str) -> String {
    let doc = serde_json::json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "error": {"message": message, "exit_code": EXIT_ERROR},
    });
    format!("{doc:#}\n")
}

/// Refuses shared flags a command would ignore: `explain --snapshot x` passing silently lets
/// a user believe the snapshot was read.
fn refuse_meaningless(cli: &Cli) -> Result<(), CliError> {
    if cli.filter.is_some() && cli.command.is_some() {
        return Err(CliError::Usage(
            "--filter sets the interactive view's list: it means nothing to a subcommand"
                .to_owned(),
        ));
    }
    let (command, allowed, why): (&str, &[&str], &str) = match &cli.command {
        Some(Command::Explain(_)) => ("explain", &[], "it reads only the text it is given"),
        Some(Command::Issue(_)) => (
            "issue",
            &[],
            "it talks to an ACME CA, not to a cluster or a dump",
        ),
        Some(Command::Trial(_)) => ("trial", &[], "it asks an ACME CA, not a cluster or a dump"),
        Some(Command::Demo(_)) => (
            "demo",
            &["--read-only"],
            "the demo brings its own objects, servers and clock",
        ),
        Some(Command::Check(_)) => (
            "check",
            &[
                "--snapshot",
                "--kubeconfig",
                "--context",
                "--read-only",
                "-n/--namespace",
            ],
            "it checks names now, or the Challenges and Certificates it is given",
        ),
        Some(Command::Retry(_) | Command::Renew(_)) => (
            "retry/renew",
            &[
                "-n/--namespace",
                "-A/--all-namespaces",
                "--snapshot",
                "--read-only",
                "--kubeconfig",
                "--context",
            ],
            "they write to a live cluster now",
        ),
        Some(Command::Report(_)) | None => return Ok(()),
    };
    let refused: Vec<&str> = cli
        .global
        .given()
        .into_iter()
        .filter(|f| !allowed.contains(f))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "{} means nothing to `certdx {command}`: {why}",
        refused.join(", ")
    )))
}

/// `certdx` (live cluster) or `certdx --snapshot PATH`: the interactive view.
fn interactive(
    g: &args::GlobalArgs,
    filter: &str,
    trial: &args::ViewTrialArgs,
) -> Result<ExitCode, CliError> {
    if !interactive::is_interactive() {
        return Err(CliError::Usage(
            "the interactive view needs a terminal: use `certdx report` to print".to_owned(),
        ));
    }
    let rt = probe::runtime()?;
    // Checks run only when asked for (key `c`), against the system resolver.
    let probe = ProbeArgs {
        resolver: None,
        timeout: 10.0,
        concurrency: 64,
        allow_loopback: false,
        http_port: 80,
        https_port: 443,
        dns_port: 53,
    };
    let checks = probe.dns().ok().map(|dns| crate::tui::ChecksConfig {
        dns,
        playbook: probe.playbook(),
        read_directories: true,
    });
    let view = match &g.snapshot {
        Some(path) => {
            let loaded = source::load_snapshot(g, path)?;
            // The header says at which instant the snapshot is read, unless it is the clock.
            let label = match &loaded.clock {
                Some(_) => format!("{} at {}", loaded.label, loaded.now),
                None => loaded.label,
            };
            interactive::ViewSource {
                label,
                inventory: loaded.inventory,
                now: loaded.now,
                load_problems: loaded.problems,
                checks,
                actions: Box::new(crate::actions::Unavailable(
                    "a snapshot is read-only: connect to the cluster to retry or renew".to_owned(),
                )),
                live: None,
                read_only: g.read_only,
                filter: filter.to_owned(),
                trial: Err("a snapshot is a saved picture, and a trial asks the CA about the names now: open the view on the cluster, or run `certdx trial NAME...`".to_owned()),
            }
        }
        None => {
            let (conn, pre) = rt.block_on(source::connect(g))?;
            // The watchers are tokio tasks: they need the runtime's context to start.
            let live = {
                let _ctx = rt.enter();
                crate::source::cluster::watch::watch(&conn, &pre)
            };
            interactive::ViewSource {
                label: conn.label(),
                inventory: crate::model::Inventory::default(),
                now: jiff::Timestamp::now(),
                load_problems: pre.problems.clone(),
                checks,
                actions: Box::new(crate::actions::kube::KubeActions::new(
                    conn.client.clone(),
                    g.read_only,
                )),
                live: Some(crate::tui::LiveSource {
                    feed: live,
                    client: conn.client.clone(),
                }),
                read_only: g.read_only,
                filter: filter.to_owned(),
                trial: interactive::trial_config(trial)?,
            }
        }
    };
    interactive::open(&rt, view)
}
