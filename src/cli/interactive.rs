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
    /// How `T` reaches the CA, or why it cannot in this view.
    pub trial: Result<crate::tui::TrialConfig, String>,
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
        trial: src.trial,
    };
    VIEW_ACTIVE.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome = rt.block_on(crate::tui::run(input));
    VIEW_ACTIVE.store(false, std::sync::atomic::Ordering::SeqCst);
    outcome.map_err(|e| CliError::Usage(format!("the interactive view failed: {e}")))?;
    Ok(ExitCode::from(super::EXIT_OK))
}

/// The view's trial settings from the command line: the `--trial-ca-cert` read, the state
/// store's directory created (0700: the store holds the account key). Without a home to keep
/// the store in, `T` says so instead of running.
pub fn trial_config(
    a: &super::args::ViewTrialArgs,
) -> Result<Result<crate::tui::TrialConfig, String>, CliError> {
    let ca_cert_pem = match &a.trial_ca_cert {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read --trial-ca-cert {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let state_path = match &a.trial_state {
        Some(p) => p.clone(),
        None => {
            let base = std::env::var_os("XDG_STATE_HOME")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .filter(|v| !v.is_empty())
                        .map(|h| std::path::PathBuf::from(h).join(".local/state"))
                });
            match base {
                Some(b) => b.join("certdx").join("trial.sqlite"),
                None => {
                    return Ok(Err(
                        "no HOME or XDG_STATE_HOME to keep the trial account in: pass --trial-state DB"
                            .to_owned(),
                    ));
                }
            }
        }
    };
    if let Some(dir) = state_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(Ok(crate::tui::TrialConfig {
        state_path,
        ca_cert_pem,
        directory: a.trial_directory.clone(),
        wait: crate::engine::trial::request::DEFAULT_WAIT,
        account: crate::engine::acme::AccountOptions {
            contact_email: None,
            eab: super::issue::eab(
                a.trial_eab_kid.as_ref(),
                a.trial_eab_hmac_key.as_ref(),
                "--trial-eab-kid",
                "--trial-eab-hmac-key (or CERTDX_TRIAL_EAB_HMAC_KEY)",
            )?,
        },
    }))
}
