//! Where certificates and keys go: `<out>/<first-name>.crt` (the chain, leaf first) and
//! `<out>/<first-name>.key` (mode 0600).
//!
//! The key is written *before* finalize, to a staging file named after the order
//! (`<out>/.certdx-order-<id>.key`), created with mode 0600 by `open(2)` itself so it is never
//! readable by others, not even for an instant. Once the chain is downloaded, the chain is
//! written through a temporary file renamed into place, and the staged key is renamed onto
//! `<first-name>.key`: a rename keeps the mode, and a reader never sees half a file. A run
//! killed between finalize and download finds the staged key again by the order's id.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::input::file_stem;
use crate::engine::acme::PrivateKeyPem;
use crate::engine::store::OrderId;

/// The files of one order's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OutputPaths {
    /// `<out>/<first-name>.crt`.
    pub cert: PathBuf,
    /// `<out>/<first-name>.key`.
    pub key: PathBuf,
    /// `<out>/.certdx-order-<id>.key`, until the certificate is installed.
    pub staged_key: PathBuf,
}

/// The paths for the certificate named `first_name`, made under `out_dir` by `order`.
pub(super) fn paths(out_dir: &Path, first_name: &str, order: OrderId) -> OutputPaths {
    let stem = file_stem(first_name);
    OutputPaths {
        cert: out_dir.join(format!("{stem}.crt")),
        key: out_dir.join(format!("{stem}.key")),
        staged_key: out_dir.join(format!(".certdx-order-{}.key", order.get())),
    }
}

/// Creates the output directory (and parents) if needed.
pub(super) fn ensure_dir(out_dir: &Path) -> io::Result<()> {
    fs::create_dir_all(out_dir)
}

/// Writes `key` to the staging file, mode 0600 from its creation. A staging file left by an
/// earlier try of the same order is replaced: that key was never sent in a CSR (the order was
/// still `ready`, which is the only time a key is staged).
pub(super) fn stage_key(path: &Path, key: &PrivateKeyPem) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(key.expose_pem().as_bytes())?;
    file.sync_all()
}

/// Installs the certificate: the chain through a temporary file renamed onto `paths.cert`
/// (0644: certificates are public), then the staged key renamed onto `paths.key`.
pub(super) fn install(paths: &OutputPaths, chain_pem: &str) -> io::Result<()> {
    let dir = paths
        .cert
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".certdx-chain-")
        .tempfile_in(dir)?;
    tmp.write_all(chain_pem.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(0o644))?;
    tmp.persist(&paths.cert).map_err(|e| e.error)?;
    fs::rename(&paths.staged_key, &paths.key)
}

/// Installs a certificate another worker issued, from the copy it kept: the key staged (0600
/// from its creation), then installed like one of this worker's own.
pub(super) fn install_copy(
    paths: &OutputPaths,
    chain_pem: &str,
    key: &PrivateKeyPem,
) -> io::Result<()> {
    stage_key(&paths.staged_key, key)?;
    install(paths, chain_pem)
}

/// Removes what interrupted runs left in `out_dir`: chain files that were being written, and
/// staged keys of orders `is_open` says are no longer open (their certificate was installed, or
/// the order was given up). Only certdx's own dot-files are touched, and only while the state
/// lock is held, so no other run is writing them. Returns the paths that could not be removed.
pub(super) fn sweep(out_dir: &Path, is_open: impl Fn(OrderId) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(out_dir) else {
        return Vec::new();
    };
    let mut stuck = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = if name.starts_with(".certdx-chain-") {
            true
        } else if let Some(id) = name
            .strip_prefix(".certdx-order-")
            .and_then(|rest| rest.strip_suffix(".key"))
            .and_then(|id| id.parse::<i64>().ok())
        {
            !is_open(OrderId(id))
        } else {
            false
        };
        if stale && fs::remove_file(entry.path()).is_err() {
            stuck.push(entry.path());
        }
    }
    stuck
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::engine::acme::{KeyKind, new_key_and_csr};

    #[test]
    fn the_key_is_private_from_creation_and_moves_into_place_with_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("certs");
        ensure_dir(&out).unwrap();
        let paths = paths(&out, "*.example.com", OrderId(7));
        assert!(paths.cert.ends_with("_.example.com.crt"));
        let (_, key) = new_key_and_csr(&["a.test".to_owned()], KeyKind::EcdsaP256).unwrap();
        stage_key(&paths.staged_key, &key).unwrap();
        assert_eq!(
            fs::metadata(&paths.staged_key).unwrap().mode() & 0o777,
            0o600
        );
        // A second staging (a retried finalize) replaces the first.
        stage_key(&paths.staged_key, &key).unwrap();
        install(&paths, "-----BEGIN CERTIFICATE-----\n").unwrap();
        assert!(!paths.staged_key.exists());
        assert_eq!(fs::metadata(&paths.key).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&paths.cert).unwrap().mode() & 0o777, 0o644);
        assert_eq!(fs::read_to_string(&paths.key).unwrap(), key.expose_pem());

        // Left by interrupted runs: a half-written chain, and staged keys of orders 7 (now
        // closed) and 8 (still open).
        fs::write(out.join(".certdx-chain-abc"), "x").unwrap();
        stage_key(&out.join(".certdx-order-7.key"), &key).unwrap();
        stage_key(&out.join(".certdx-order-8.key"), &key).unwrap();
        assert!(sweep(&out, |id| id == OrderId(8)).is_empty());
        let mut left: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".certdx-order-8.key",
                "_.example.com.crt",
                "_.example.com.key"
            ]
        );
    }
}
