//! Everything that can happen to the batch view.

use jiff::Timestamp;

use crate::engine::batch::BatchProgress;

/// One message for [`super::update`].
#[derive(Debug, Clone)]
pub enum BatchMsg {
    /// Select the previous certificate.
    Up,
    /// Select the next certificate.
    Down,
    /// Move a page up.
    PageUp,
    /// Move a page down.
    PageDown,
    /// Select the first certificate.
    Home,
    /// Select the last certificate.
    End,
    /// List only failed or retrying certificates, or all of them again.
    ToggleFailedOnly,
    /// Show or hide the line listing every key.
    Help,
    /// Leave (`q`, `Esc`): asks first while the batch still runs.
    Quit,
    /// The answer to "stop the batch?".
    Answer(bool),
    /// Leave at once (Ctrl-C), stopping a running batch without asking.
    Interrupt,
    /// Give the terminal back and stop the process (Ctrl-Z); `fg` returns. The batch is
    /// stopped with it and goes on where it was.
    Suspend,
    /// The terminal's new size.
    Resize(u16, u16),
    /// The batch's latest snapshot.
    Progress(BatchProgress),
    /// Time passed: countdowns and times in state are measured against this instant.
    Tick(Timestamp),
    /// The batch ended: a one-line summary, or why it could not run.
    Finished(Result<String, String>),
}
