//! End to end: the real `certdx demo` in a real terminal (tmux), driven by keys the way an
//! engineer would: find the failing Challenge, run the checks, read the planted root cause,
//! export, quit, and find the terminal restored.

#[path = "common/tmux.rs"]
mod tmux;

use std::time::Duration;

use tmux::Tmux;

#[test]
fn demo_finds_the_planted_404_exports_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_certdx");
    let t = Tmux::start(
        &format!("{bin} demo; echo certdx-exited-$?; sleep 60"),
        dir.path(),
    );
    let limit = Duration::from_secs(20);
    let overview = t.wait_for("www-shop", limit);
    assert!(
        overview.contains("ratelimit-duplicate-certificate"),
        "{overview}"
    );

    // Filter to the shop Certificate, open its chain, run the live checks.
    t.keys(&["/"]);
    t.keys(&["-l", "www-shop"]);
    t.keys(&["Enter", "Enter"]);
    t.wait_for("Certificate shop/www-shop", limit);
    t.keys(&["c"]);
    let checked = t.wait_for("ROOT CAUSE http01-wrong-status", limit);
    assert!(checked.contains("404"), "{checked}");

    // Export the diagnosis (first format offered: Markdown).
    t.keys(&["e"]);
    t.keys(&["Enter"]);
    t.wait_for("wrote ", limit);
    let exported: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(exported.len(), 1, "one report written");
    let report = std::fs::read_to_string(exported[0].path()).unwrap();
    assert!(report.contains("http01-wrong-status"), "{report}");

    // Leave: the shell sees the exit and the view is gone from the screen.
    t.keys(&["q"]);
    let after = t.wait_for("certdx-exited-0", limit);
    assert!(
        !after.contains("ROOT CAUSE"),
        "the alternate screen was left: {after}"
    );
}
