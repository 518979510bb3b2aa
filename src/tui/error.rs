//! Why the interactive view stopped abnormally.

/// An error that ended the interactive view. The terminal is restored before it is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuiError {
    /// Setting up, drawing to or reading from the terminal failed.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// Something panicked while the view ran (the panic was reported after restoring the
    /// terminal).
    #[error("the interactive view stopped after a panic: {0}")]
    Panicked(String),
}

impl TuiError {
    /// Whether the terminal itself failed (not a TTY, closed, unreadable).
    pub fn is_terminal(&self) -> bool {
        matches!(self, TuiError::Terminal(_))
    }

    /// Whether a panic stopped the view.
    pub fn is_panic(&self) -> bool {
        matches!(self, TuiError::Panicked(_))
    }
}
