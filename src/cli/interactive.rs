//! Opens the interactive view: on the demo, a snapshot or a live cluster.

use std::io::IsTerminal;
use std::process::ExitCode;

use jiff::Timestamp;

use super::CliError;
use crate::model::Inventory;
use crate::tui::{ChecksConfig, TuiInput};

/// Set while the interactive view owns the terminal: log lines written to stderr then would
/// draw over the screen, so the binary's logger drops them.
pub static VIEW_ACTIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether both ends of the terminal are a person: otherwise commands print instead.
pub fn is_interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// What the view needs besides the objects.
pub struct ViewSource {
    /// `demo`, a path.
    pub label: String,
    /// The objects.
    pub inventory: Inventory,
    /// The data's "now".
    pub now: Timestamp,
    /// Skipped documents.
    pub load_problems: Vec<String>,
    /// Live checks, if the network can be reached.
    pub checks: Option<ChecksConfig>,
    /// Cluster writes (a source that cannot write passes `Unavailable` with the reason).
    pub actions: Box<dyn crate::actions::Actions>,
    /// A live cluster, whose feed then replaces `inventory`.
    pub live: Option<crate::tui::LiveSource>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--filter`.
    pub filter: String,
}

/// Runs the view on `rt` until the user leaves; the terminal is restored in every case.
pub fn open(rt: &tokio::runtime::Runtime, src: ViewSource) -> Result<ExitCode, CliError> {
    let export_dir = std::env::current_dir()
        .map_err(|e| CliError::Usage(format!("no current directory: {e}")))?;
    let input = TuiInput {
        source_label: src.label,
        inventory: src.inventory,
        now: src.now,
        load_problems: src.load_problems,
        checks: src.checks,
        actions: src.actions,
        read_only: src.read_only,
        export_dir,
        live: src.live,
        filter: src.filter,
    };
    VIEW_ACTIVE.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome = rt.block_on(crate::tui::run(input));
    VIEW_ACTIVE.store(false, std::sync::atomic::Ordering::SeqCst);
    outcome.map_err(|e| CliError::Usage(format!("the interactive view failed: {e}")))?;
    Ok(ExitCode::from(super::EXIT_OK))
}
