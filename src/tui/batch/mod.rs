//! The engine batch screen of the main view (`b`; `certdx issue --tui` starts on it): a
//! header with the counts, one row per certificate, and the selected certificate's last
//! finding.
//!
//! The screen is part of the main view's [`crate::tui::App`] ([`BatchScreen`]): its keys are
//! in the one key table (`tui/keys.rs`, context `Batch`), its intents are the main view's
//! messages (handled in `tui/update/batch.rs`), and the batch's news comes as
//! [`crate::tui::Msg::Batch`]. The main runtime polls the batch and its progress feed
//! ([`BatchFeed`]).
//!
//! Layout: `state` (the state and its derived rows), `msg` (the batch's news), `update`
//! (news and movement), `layout` (the screen's areas, shared by `update` for paging and
//! `view`), `view/` (one file per screen part), `feed` (the batch and its progress, for the
//! runtime).

mod feed;
mod layout;
mod msg;
mod state;
mod update;
mod view;

pub use feed::{BatchEvent, BatchFeed, ViewExit, outcome_text};
pub use msg::BatchMsg;
pub use state::{BatchScreen, BatchView};
pub use update::update;
pub use view::{confirm, render};

/// Runs `certdx issue --tui`: see [`crate::tui::run_batch_view`].
pub use crate::tui::run_batch_view;
