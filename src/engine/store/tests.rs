//! Tests of opening the store: file permissions, durability settings, crash and reopen,
//! migrations. The record-level queries are tested next to their code.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use super::conformance::{assert_filled, fill};
use super::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_file_is_created_0600_and_so_are_its_wal_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    fill(&store);
    assert_eq!(mode(&path), 0o600);
    let wal = dir.path().join("state.db-wal");
    assert!(wal.exists(), "WAL mode must be on");
    assert_eq!(mode(&wal), 0o600);
    assert_eq!(mode(&dir.path().join("state.db-shm")), 0o600);
}

#[test]
fn the_file_is_born_0600_not_tightened_afterwards() {
    // open(2) itself gives the new file 0600 (without the tightening step that follows it):
    // there is no moment at which the credentials file exists readable by others.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    open_private(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn an_existing_world_readable_file_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    fs::write(&path, b"").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let stale_wal = dir.path().join("state.db-wal");
    fs::write(&stale_wal, b"").unwrap();
    fs::set_permissions(&stale_wal, fs::Permissions::from_mode(0o664)).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&stale_wal), 0o600);
    // An empty file is a version-0 database: it was migrated.
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_path_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Store::open(dir.path()).is_err());
}

#[test]
fn pragmas_are_wal_synchronous_as_asked_and_foreign_keys_on() {
    let dir = tempfile::tempdir().unwrap();
    let normal = Store::open(dir.path().join("a.db")).unwrap();
    let full = Store::open_with(dir.path().join("b.db"), Durability::PowerLoss).unwrap();
    let get = |s: &Store, p: &str| -> String {
        s.conn
            .query_row(&format!("PRAGMA {p}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
    };
    assert_eq!(get(&normal, "journal_mode"), "wal");
    assert_eq!(get(&normal, "synchronous"), "1", "NORMAL");
    assert_eq!(get(&full, "synchronous"), "2", "FULL");
    assert_eq!(get(&normal, "foreign_keys"), "1");
    assert_eq!(get(&Store::open_in_memory().unwrap(), "foreign_keys"), "1");
}

#[test]
fn reopening_after_a_drop_without_close_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    let order = fill(&store);
    // No close, no checkpoint, no destructor: the connection is simply abandoned.
    std::mem::forget(store);
    let again = Store::open(&path).unwrap();
    assert_filled(&again, order);
}

/// The child half of [`a_run_killed_with_sigkill_resumes_from_the_store`]: fills the store named
/// by the environment and kills itself with SIGKILL, like `kill -9` mid-batch.
#[test]
#[ignore = "run only as the child of a_run_killed_with_sigkill_resumes_from_the_store"]
fn sigkill_child() {
    let Ok(path) = std::env::var("CERTDX_STORE_CRASH_PATH") else {
        return;
    };
    let store = Store::open(&path).unwrap();
    fill(&store);
    // SAFETY: getpid and kill have no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL cannot be caught");
}

#[test]
fn a_run_killed_with_sigkill_resumes_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // Output captured, so the child's own test-harness lines do not mix with the parent's.
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "engine::store::tests::sigkill_child",
            "--ignored",
            "--nocapture",
        ])
        .env("CERTDX_STORE_CRASH_PATH", &path)
        .output()
        .unwrap();
    assert_eq!(
        child.status.signal(),
        Some(libc::SIGKILL),
        "child did not die by SIGKILL: {:?}\n{}{}",
        child.status,
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let store = Store::open(&path).unwrap();
    assert_filled(&store, OrderId(1));
}

#[test]
fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut store = Store::open(&path).unwrap();
    let order = fill(&store);
    assert_eq!(store.migrate().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.migrate().unwrap(), SCHEMA_VERSION);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let rows: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        rows, SCHEMA_VERSION,
        "one row per applied migration, never repeated"
    );
    assert_filled(&store, order);

    store
        .conn
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 'x')",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    drop(store);
    match Store::open(&path) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn the_store_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    let store = Store::open_in_memory().unwrap();
    let handle = std::thread::spawn(move || store.schema_version().unwrap());
    assert_eq!(handle.join().unwrap(), SCHEMA_VERSION);
}

#[test]
fn every_conformance_case_passes_on_sqlite() {
    for (name, case) in conformance::CASES {
        eprintln!("conformance case {name}");
        case(&Store::open_in_memory().unwrap());
    }
}
