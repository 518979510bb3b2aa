//! Writing command output: to stdout, or to a file without ever leaving a half-written one.

use std::io::Write;
use std::path::Path;

use super::CliError;

/// Writes `text` to `path` (through a temporary file renamed into place, so an interrupted
/// write never destroys an earlier report), or to stdout when `path` is `None`.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<(), CliError> {
    let Some(path) = path else {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        return Ok(());
    };
    let err = |source| CliError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
