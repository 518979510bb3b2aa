//! The view of a running `certdx issue --tui` batch: a header with the counts, one row per
//! certificate, and the selected certificate's last finding.
//!
//! Elm style, like the main view: the state is a [`BatchView`]; keys, progress snapshots,
//! ticks and the batch's end are [`BatchMsg`]s; [`update`] changes the state; [`render`] is a
//! pure function of it. [`run_batch_view`] owns the terminal and the loop.
//!
//! Layout: `state` (the state and its derived rows), `msg`, `keys` (key table, also the help
//! line), `update`, `layout` (the screen's areas, shared by `update` for paging and `view`),
//! `view/` (one file per screen part), `run` (the loop).

mod keys;
mod layout;
mod msg;
mod run;
mod state;
mod update;
mod view;

pub use keys::map_key;
pub use msg::BatchMsg;
pub use run::{ViewExit, outcome_text, run_batch_view};
pub use state::{BatchView, Exit};
pub use update::update;
pub use view::render;
