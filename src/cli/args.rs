//! clap definitions: the stable CLI contract of DESIGN.md.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;

/// Find out why cert-manager will not issue a certificate.
#[derive(Debug, Parser)]
#[command(name = "certdx", version, about, long_about = None)]
pub struct Cli {
    /// Options shared by all commands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do; without one, the interactive view opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where objects come from, for every command that reads them.
#[derive(Debug, Clone, Args)]
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
    /// Measure ages and retry-after times against this instant (RFC 3339) instead of now:
    /// makes a report of an old snapshot read as it would have then.
    #[arg(long, global = true, value_name = "RFC3339")]
    pub now: Option<jiff::Timestamp>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify an ACME or cert-manager error message into finding codes.
    Explain(ExplainArgs),
    /// Diagnose every Certificate that is not Ready and export the result.
    Report(ReportArgs),
    /// The built-in demo estate (no cluster needed).
    Demo,
}

/// `certdx explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The message (quote it); `-` reads it from standard input.
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
