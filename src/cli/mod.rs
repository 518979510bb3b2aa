//! The command line: clap definitions and the non-interactive commands.

mod args;
mod check;
mod demo;
mod explain;
mod output;
mod probe;
mod report;

pub use args::{
    CheckArgs, Cli, Command, ExplainArgs, MethodArg, ProbeArgs, ReportArgs, TextOrJson,
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
    match cli.command {
        Some(Command::Explain(a)) => explain::run(&a),
        Some(Command::Report(a)) => report::run(&a, &cli.global),
        Some(Command::Check(a)) => check::run(&a, &cli.global),
        Some(Command::Demo(a)) => demo::run(&a),
        None => Err(CliError::Usage(
            "the interactive view is not built yet: use `certdx report --snapshot PATH` or `certdx demo`".to_owned(),
        )),
    }
}
