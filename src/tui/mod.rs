//! The interactive view (`certdx`, `certdx demo`, `certdx --snapshot PATH`, and
//! `certdx issue --tui`, which starts on its engine batch screen).
//!
//! Elm style: the whole state is an [`App`]; every key intent, tick and IO result is a
//! [`Msg`]; [`update`] changes the state and returns [`Cmd`]s; [`render`] draws a frame as a
//! pure function of the state. The runtime executes commands as tokio tasks whose results
//! come back as messages over a channel, so nothing slow ever runs between two frames.
//! Only this module imports ratatui and crossterm.
//!
//! Layout: `app` (state), `estate` (the precomputed rows and diagnoses), `msg`, `cmd`,
//! `keys` (key table, also the help), `update/` (state changes), `view/` (one file per
//! screen part), `batch/` (the engine batch screen's state and drawing), `runtime` (the loop;
//! `runtime/batch.rs` starts it for `certdx issue --tui`), `terminal` (setup, restore, panic
//! hook).

pub mod app;
pub mod batch;
pub mod cmd;
mod error;
pub mod estate;
pub mod fmt;
pub mod keys;
pub mod msg;
mod runtime;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

use std::path::PathBuf;

pub use app::{App, AppConfig};
pub use cmd::Cmd;
pub use error::TuiError;
pub use estate::Estate;
pub use msg::Msg;
pub use runtime::{Executor, run_batch_view};
pub use update::update;
pub use view::render;

use crate::checks::dns::Dns;
use crate::diagnose::playbook::PlaybookOptions;
use crate::model::Inventory;

/// What the command line hands the interactive view.
pub struct TuiInput {
    /// Where the objects come from: `demo`, a path, a kube context.
    pub source_label: String,
    /// The objects.
    pub inventory: Inventory,
    /// The instant the objects are diagnosed against (the data's "now").
    pub now: jiff::Timestamp,
    /// Documents that could not be loaded, shown in the view.
    pub load_problems: Vec<String>,
    /// How live checks reach the network; `None` runs offline, with checks disabled and the
    /// reason shown.
    pub checks: Option<ChecksConfig>,
    /// Cluster writes (retry, renew).
    pub actions: Box<dyn crate::actions::Actions>,
    /// Refuse every write whatever `actions` allows.
    pub read_only: bool,
    /// Where `e`/`E` write their reports.
    pub export_dir: PathBuf,
    /// A live cluster; with one, `inventory` is ignored and the view follows its feed.
    pub live: Option<LiveSource>,
    /// The list's filter at start (`--filter`, what k9s's plugin passes as the selected name).
    pub filter: String,
    /// How `T` asks the CA itself, or why it cannot in this view (a snapshot, the demo).
    pub trial: Result<TrialConfig, String>,
}

/// How the view's trials (`T`) reach a CA: the engine's state store that keeps the account
/// and records every authorization, and what the command line gave for it.
#[derive(Debug, Clone)]
pub struct TrialConfig {
    /// The engine's state store for trials (created 0600).
    pub state_path: PathBuf,
    /// A PEM root trusted for the CA's HTTPS besides the system's (a test CA).
    pub ca_cert_pem: Option<String>,
    /// The directory every trial uses instead of the issuer's staging counterpart.
    pub directory: Option<String>,
    /// How long a trial waits for the CA's verdicts.
    pub wait: std::time::Duration,
    /// Contact and EAB for the trial account, when the store has none for the directory.
    pub account: crate::engine::acme::AccountOptions,
}

/// A live cluster for the view: the watch feed, and the client the checks use to read the
/// cluster side of a Challenge (solver objects, controller logs).
pub struct LiveSource {
    /// The objects, as they change.
    pub feed: crate::source::cluster::watch::LiveWatch,
    /// The API client.
    pub client: kube::Client,
}

/// How live checks reach the network.
#[derive(Debug, Clone)]
pub struct ChecksConfig {
    /// The DNS handle (recursive resolver, authoritative port, timeouts).
    pub dns: Dns,
    /// Playbook settings (HTTP ports, timeouts, concurrency).
    pub playbook: PlaybookOptions,
    /// Whether the first `c` also reads the issuers' CA directories (their profiles). Off
    /// for the demo: its issuer names a public CA its lab resolver cannot reach, by design.
    pub read_directories: bool,
}

/// Takes over the terminal, runs the view until the user leaves, and restores the terminal
/// in every case (normal exit, error, panic). Must be called inside a tokio runtime.
pub async fn run(input: TuiInput) -> Result<(), TuiError> {
    runtime::run(input).await
}
