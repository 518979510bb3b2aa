//! What the running batch tells the view. Key intents are the main view's [`crate::tui::Msg`]
//! variants, from its one key table; these are the batch's data, carried as
//! [`crate::tui::Msg::Batch`].

use jiff::Timestamp;

use crate::engine::batch::BatchProgress;

/// One piece of news about the batch, for [`super::update`].
#[derive(Debug, Clone)]
pub enum BatchMsg {
    /// The batch's latest snapshot.
    Progress(BatchProgress),
    /// Time passed (wall clock): countdowns and times in state are measured against it.
    Tick(Timestamp),
    /// The batch ended: a one-line summary, or why it could not run.
    Finished(Result<String, String>),
}
