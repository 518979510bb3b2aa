//! Where certdx's own log lines go (`CERTDX_LOG=debug`): standard error, redacted, and nowhere
//! while the interactive view owns the terminal. Debug logs end up pasted into tickets like
//! everything else, and at trace level the libraries underneath log request and response
//! bodies, which can carry an issuer's solver config.

use std::io::Write;
use std::sync::atomic::Ordering;

/// One log event's bytes, written redacted to standard error when the event is complete (the
/// logger makes one writer per event and drops it at the end).
pub struct LogWriter {
    buf: Vec<u8>,
}

/// A writer for one log event: [`LogWriter`], or a sink while the view is on screen.
pub fn log_writer() -> Box<dyn Write> {
    if super::VIEW_ACTIVE.load(Ordering::Relaxed) {
        Box::new(std::io::sink())
    } else {
        Box::new(LogWriter { buf: Vec::new() })
    }
}

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let text = crate::model::redact::redact(&String::from_utf8_lossy(&self.buf));
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}
