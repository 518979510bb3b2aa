//! Work [`super::update`] asks the runtime to do. Each command runs as its own task and
//! answers with a [`super::Msg`]; none of them touches the state directly.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::actions::Action;
use crate::diagnose::playbook::Target;
use crate::model::Inventory;
use crate::model::profile::Directories;
use crate::report::{Format, Report};

/// One piece of work for the runtime.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cmd {
    /// Link and diagnose the estate (answers `Msg::Loaded`).
    Diagnose {
        /// The objects.
        inventory: Arc<Inventory>,
        /// The instant to diagnose against.
        now: Timestamp,
        /// The CA directories read so far (empty until live checks ran).
        directories: Directories,
    },
    /// Read the ACME directories of these servers, once each (answers
    /// `Msg::DirectoriesRead`).
    ReadDirectories {
        /// The servers' directory URLs.
        servers: Vec<String>,
    },
    /// Run the playbook for one Challenge (answers `Msg::CheckDone` or `Msg::CheckFailed`).
    RunCheck {
        /// `Challenge ns/name`.
        key: String,
        /// The run's generation.
        generation: u64,
        /// What to check.
        target: Target,
    },
    /// Perform a confirmed cluster write (answers `Msg::ActionDone`).
    Perform {
        /// The busy id.
        id: u64,
        /// The write.
        action: Action,
    },
    /// Learn what the actions need to answer `availability` for these namespaces, e.g. the
    /// user's permissions (answers `Msg::Prefetched`).
    Prefetch {
        /// Namespaces not asked about yet.
        namespaces: Vec<String>,
    },
    /// Ask the CA itself: a trial of `names` on `directory` through the engine (answers
    /// `Msg::TrialProgress` as it goes, then `Msg::TrialDone`).
    Trial {
        /// The trial's id (its [`super::app::TrialRun::id`]).
        id: u64,
        /// The names, one order.
        names: Vec<String>,
        /// The ACME directory (a staging or test CA).
        directory: String,
        /// The challenge type triggered.
        method: crate::engine::trial::TrialMethod,
    },
    /// Open a URL in the desktop's browser with `xdg-open` (answers `Msg::UrlOpened`). Only
    /// issued when [`super::app::App::browser`] says there is one.
    OpenUrl {
        /// The URL.
        url: String,
    },
    /// Render a report and write it (answers `Msg::Exported`).
    Export {
        /// The busy id.
        id: u64,
        /// The file to write.
        path: PathBuf,
        /// The format.
        format: Format,
        /// The report.
        report: Box<Report>,
    },
}
