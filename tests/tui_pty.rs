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

#[test]
fn ctrl_z_gives_the_shell_back_and_fg_returns_to_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_certdx");
    // An interactive shell with job control, as an engineer has.
    let t = Tmux::start(
        "env -i PATH=/usr/bin:/bin TERM=xterm-256color PS1='lab$ ' bash --norc --noprofile -i",
        dir.path(),
    );
    let limit = Duration::from_secs(20);
    t.wait_for("lab$", limit);
    t.keys(&["-l", &format!("{bin} demo")]);
    t.keys(&["Enter"]);
    t.wait_for("www-shop", limit);

    t.keys(&["C-z"]);
    let shell = t.wait_for("Stopped", limit);
    assert!(
        !shell.contains("www-shop"),
        "the view left the screen: {shell}"
    );
    t.keys(&["-l", "jobs -l"]);
    t.keys(&["Enter"]);
    t.wait_for("demo", limit);

    // The shell reports the job's end after `fg`.
    t.keys(&["-l", "fg; echo certdx-exited-$?"]);
    t.keys(&["Enter"]);
    let back = t.wait_for("www-shop", limit);
    assert!(back.contains("ratelimit-duplicate-certificate"), "{back}");
    // Still interactive after coming back.
    t.keys(&["?"]);
    t.wait_for("suspend (fg comes back)", limit);
    t.keys(&["q", "q"]);
    t.wait_for("certdx-exited-0", limit);
}

#[test]
fn shift_y_puts_the_next_command_on_the_terminals_clipboard() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_certdx");
    let t = Tmux::start(&format!("{bin} demo; sleep 60"), dir.path());
    // tmux takes an application's OSC 52 into its paste buffer when set-clipboard is on.
    t.command(&["set", "-g", "set-clipboard", "on"]);
    let limit = Duration::from_secs(20);
    t.wait_for("www-shop", limit);
    t.keys(&["/"]);
    t.keys(&["-l", "www-shop"]);
    t.keys(&["Enter", "Enter"]);
    let chain = t.wait_for("Certificate shop/www-shop", limit);
    let next = chain
        .lines()
        .find_map(|l| l.trim().strip_prefix("next: "))
        .unwrap_or_else(|| panic!("the chain shows a next command: {chain}"))
        .trim()
        .to_owned();
    t.keys(&["Y"]);
    t.wait_for("copied the next command", limit);
    let buffer = t.command(&["show-buffer"]);
    assert_eq!(
        buffer.trim_end(),
        next,
        "the clipboard holds the command shown"
    );
    t.keys(&["q"]);
}

/// `b` in the demo: the engine batch screen says there is no batch here and how to start one;
/// `b` and Esc come back to where the user was (the list, then the chain).
#[test]
fn b_in_the_demo_shows_the_batch_screen_without_a_batch_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_certdx");
    let t = Tmux::start(
        &format!("{bin} demo; echo certdx-exited-$?; sleep 60"),
        dir.path(),
    );
    let limit = Duration::from_secs(20);
    t.wait_for("www-shop", limit);

    t.keys(&["b"]);
    let batch = t.wait_for("no engine batch in this session", limit);
    assert!(batch.contains("certdx issue --tui"), "{batch}");
    assert!(
        !batch.contains("www-shop"),
        "the list is not drawn: {batch}"
    );
    t.keys(&["b"]);
    let list = t.wait_for("www-shop", limit);
    assert!(!list.contains("no engine batch"), "{list}");

    // From the chain, Esc comes back to the chain.
    t.keys(&["Enter"]);
    t.wait_for("Certificate internal/legacy-portal", limit);
    t.keys(&["b"]);
    t.wait_for("no engine batch in this session", limit);
    t.keys(&["Escape"]);
    let back = t.wait_for("Certificate internal/legacy-portal", limit);
    assert!(back.contains(" chain "), "back on the chain: {back}");
    assert!(!back.contains("no engine batch"), "{back}");

    t.keys(&["q"]);
    t.wait_for("certdx-exited-0", limit);
}
