//! Everything that can happen to the view: key intents, time passing, and the results of the
//! work the runtime did for a [`super::Cmd`].

use std::path::PathBuf;

use jiff::Timestamp;

use super::estate::Estate;
use crate::actions::Action;
use crate::diagnose::playbook::PlaybookResult;
use crate::model::profile::Directories;
use crate::report::Format;

/// One message for [`super::update`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Msg {
    // Intents, from keys (see `keys.rs`).
    /// Leave the program.
    Quit,
    /// Give the terminal back and stop, as Ctrl-Z does in a shell (`fg` comes back).
    Suspend,
    /// Close the dialog, stop editing, or go back a screen (and leave from the overview).
    Back,
    /// Select the previous line.
    Up,
    /// Select the next line.
    Down,
    /// Move a page up (overview), scroll the detail up (chain).
    PageUp,
    /// Move a page down (overview), scroll the detail down (chain).
    PageDown,
    /// Select the first line.
    Home,
    /// Select the last line.
    End,
    /// Scroll the detail pane one line up.
    DetailUp,
    /// Scroll the detail pane one line down.
    DetailDown,
    /// Open the selected Certificate's chain, or unfold history on a fold line.
    Open,
    /// Select the next failing row or node.
    NextFailing,
    /// Start typing a filter.
    FilterStart,
    /// A character typed into the filter.
    FilterInput(char),
    /// Delete the filter's last character.
    FilterBackspace,
    /// Stop typing, keep the filter.
    FilterAccept,
    /// Stop typing and clear the filter.
    FilterCancel,
    /// Show the next namespace (all, then each in turn).
    CycleNamespace,
    /// Sort differently.
    CycleSort,
    /// List orphan objects as rows, or hide them.
    ToggleOrphans,
    /// Ask the CA itself whether it can validate the focused Certificate's (or Challenge's)
    /// names: a trial on the issuer's staging CA.
    Trial,
    /// Copy the focused diagnosis's unpause link, else its next command, to the clipboard.
    Copy,
    /// Show or fold older revisions in the chain.
    ToggleHistory,
    /// Show the selected object as YAML, or go back to the fields.
    ToggleYaml,
    /// Run the live checks for the selection.
    RunChecks,
    /// Run again every check already run.
    RerunChecks,
    /// Ask to retry the selected (or current) Order.
    Retry,
    /// Ask to renew the selected Certificate.
    Renew,
    /// Confirm the dialog.
    Confirm,
    /// Ask to export the selected diagnosis.
    Export,
    /// Ask to export every diagnosis.
    ExportAll,
    /// Choose an export format in the export dialog.
    ExportFormat(Format),
    /// Cycle the export format in the export dialog.
    ExportNextFormat,
    /// Show or hide the key list.
    Help,
    /// Show the engine batch screen, or go back from it to where the user was.
    ShowBatch,
    /// Batch screen: list only the failed and retrying certificates, or all of them again.
    ToggleFailedOnly,
    /// Leave at once (Ctrl-C while a batch runs), stopping the batch without asking.
    Interrupt,

    // The environment.
    /// The terminal was resized to columns x rows.
    Resize(u16, u16),
    /// Time passed: the current time on the data's clock.
    Tick(Timestamp),

    // A live cluster feed.
    /// Still listing the cluster: objects received so far.
    SourceListing(usize),
    /// A new picture of the cluster.
    SourceUpdated(std::sync::Arc<crate::model::Inventory>),
    /// The feed connected or lost the API.
    SourceLink(crate::source::cluster::watch::LinkState),

    /// News from the engine batch of this process.
    Batch(super::batch::BatchMsg),

    // Results of commands.
    /// The estate was diagnosed.
    Loaded(Box<Estate>),
    /// Diagnosing the estate failed (the loading screen then says why).
    LoadFailed(String),
    /// A Challenge's checks finished.
    CheckDone {
        /// `Challenge ns/name`.
        key: String,
        /// The run's generation: stale results are dropped.
        generation: u64,
        /// What the checks found.
        result: Box<PlaybookResult>,
    },
    /// A Challenge's check task died.
    CheckFailed {
        /// `Challenge ns/name`.
        key: String,
        /// The run's generation.
        generation: u64,
        /// Why.
        error: String,
    },
    /// A trial's progress, as it happens.
    TrialProgress {
        /// The trial's id.
        id: u64,
        /// What happened.
        event: crate::engine::trial::TrialEvent,
    },
    /// A trial ended: the CA's verdicts, or why it could not run.
    TrialDone {
        /// The trial's id.
        id: u64,
        /// The report, or the error in words.
        result: Result<Box<crate::engine::trial::TrialReport>, String>,
    },
    /// The ACME directories asked for were read (each: its profiles, or why not).
    DirectoriesRead(Directories),
    /// A cluster write finished.
    ActionDone {
        /// The busy id.
        id: u64,
        /// The write.
        action: Action,
        /// One-line outcome or reason it failed.
        result: Result<String, String>,
    },
    /// The actions learned what they needed for some namespaces.
    Prefetched,
    /// Open (or show) the unpause page of the focused diagnosis's paused ACME account.
    Unpause,
    /// The browser was started on a URL (or not).
    UrlOpened(Result<String, String>),
    /// An export was written (or not).
    Exported {
        /// The busy id.
        id: u64,
        /// The file written, or why not.
        result: Result<PathBuf, String>,
    },
}
