//! End to end: the real `certdx issue --tui` in a real terminal (tmux) against a real Pebble:
//! the view comes up, shows every certificate issued, `q` leaves, the terminal is restored and
//! the text report is printed, and the certificate files are on disk.
//!
//! Everything started here (Pebble, challtestsrv, the tmux server and certdx in it) is killed
//! when the test ends, panics included; every wait is bounded. Only 127.0.0.1 is contacted.

#[path = "common/pebble_lab.rs"]
mod pebble_lab;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::time::Duration;

use pebble_lab::{FaultProxy, PebbleLab};
use tmux::Tmux;

fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// A script running `certdx issue --tui` for `names` with the lab's flags, then saying how it
/// exited. A script keeps the long command line off the screen the test reads; stdout stays
/// the terminal (the view needs it), stderr goes to a file.
fn script(lab: &PebbleLab, dir: &Path, names: &[String]) -> String {
    script_to(lab, &lab.directory_url(), dir, names)
}

/// [`script`] against `directory` (a fault proxy in front of the lab's Pebble).
fn script_to(lab: &PebbleLab, directory: &str, dir: &Path, names: &[String]) -> String {
    let domains = dir.join("domains.txt");
    std::fs::write(&domains, names.join("\n")).unwrap();
    let flags: Vec<String> = lab
        .issue_flags(directory, dir)
        .iter()
        .map(|f| quote(Path::new(f)))
        .collect();
    let command = [
        quote(Path::new(env!("CARGO_BIN_EXE_certdx"))),
        "issue --tui".to_owned(),
        flags.join(" "),
        format!("--domains-file {}", quote(&domains)),
        format!("2>{}", quote(&dir.join("stderr.txt"))),
    ]
    .join(" ");
    let path = dir.join("run.sh");
    std::fs::write(
        &path,
        format!(
            "unset CERTDX_LOG CERTDX_EAB_HMAC_KEY\nclear\n{command}\necho certdx-exited-$?\nsleep 120\n"
        ),
    )
    .unwrap();
    format!("sh {}", quote(&path))
}

#[test]
fn the_view_follows_a_real_batch_to_its_end_and_the_report_is_printed_on_leaving() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lab = runtime.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..5).map(|i| format!("n{i}.tui.certdx.example")).collect();
    let t = Tmux::start(&script(&lab, dir.path(), &names), dir.path());
    let stderr = || std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();

    let up = t.wait_for("Certificates: 5", Duration::from_secs(30));
    assert!(up.contains("certdx issue"), "{up}");
    let done = t.wait_for("finished: 5 issued", Duration::from_secs(60));
    assert!(done.contains("5/5 done"), "{done}\nstderr: {}", stderr());
    assert!(done.contains("issued 5"), "{done}");
    assert!(done.contains("failed 0"), "{done}");
    assert_eq!(
        done.matches("│✓ issued ").count(),
        5,
        "a row per certificate: {done}"
    );
    // The first row is selected: the detail pane names its certificate file.
    assert!(
        done.contains("certificate: ") && done.contains("n0.tui.certdx.example.crt"),
        "{done}"
    );

    t.keys(&["q"]);
    let after = t.wait_for("certdx-exited-", Duration::from_secs(20));
    assert!(
        after.contains("certdx-exited-0"),
        "{after}\nstderr: {}",
        stderr()
    );
    assert!(
        !after.contains("Certificates: 5"),
        "the alternate screen was left: {after}"
    );
    assert!(
        after.contains("5 certificates: 5 issued, 0 already issued, 0 failed"),
        "the text report: {after}"
    );
    for name in &names {
        let crt = dir.path().join("certs").join(format!("{name}.crt"));
        let pem = std::fs::read_to_string(&crt).unwrap_or_else(|e| panic!("{crt:?}: {e}"));
        assert!(pem.contains("BEGIN CERTIFICATE"), "{crt:?}");
        assert!(
            after
                .lines()
                .any(|l| l.starts_with("issued") && l.contains(name.as_str())),
            "report line for {name}: {after}"
        );
    }
}

/// The batch is a screen of the interactive view: Esc shows the list, which says this session
/// has no cluster objects and where the batch is; `b` comes back to the batch.
#[test]
fn the_batch_is_a_screen_of_the_view_and_esc_b_go_between_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lab = runtime.block_on(PebbleLab::start());
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..2).map(|i| format!("s{i}.tui.certdx.example")).collect();
    let t = Tmux::start(&script(&lab, dir.path(), &names), dir.path());
    let stderr = || std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
    let limit = Duration::from_secs(60);
    t.wait_for("Certificates: 2", limit);
    t.wait_for("finished: 2 issued", limit);

    t.keys(&["Escape"]);
    let list = t.wait_for("no cluster objects in this session", limit);
    assert!(list.contains("b shows the engine batch"), "{list}");
    assert!(!list.contains("diagnosing"), "not loading forever: {list}");
    t.keys(&["b"]);
    let back = t.wait_for("finished: 2 issued", limit);
    assert!(back.contains("2/2 done"), "{back}");

    t.keys(&["q"]);
    let after = t.wait_for("certdx-exited-", Duration::from_secs(20));
    assert!(
        after.contains("certdx-exited-0"),
        "{after}\nstderr: {}",
        stderr()
    );
    assert!(
        after.contains("2 certificates: 2 issued, 0 already issued, 0 failed"),
        "the text report: {after}"
    );
}

/// A batch held at finalization (the CA answers `processing`, retry in 30 s) keeps running:
/// `q` asks before stopping it, on the batch screen and on the list, `n` and Esc keep it
/// running, and Ctrl-C stops it at once: exit 1, the resume note, the terminal restored.
#[test]
fn q_asks_before_stopping_a_running_batch_and_ctrl_c_stops_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lab = runtime.block_on(PebbleLab::start());
    let proxy = runtime.block_on(FaultProxy::start(&lab));
    proxy.hold_processing(1000, 30);
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["held.tui.certdx.example".to_owned()];
    let t = Tmux::start(
        &script_to(&lab, &proxy.directory_url(), dir.path(), &names),
        dir.path(),
    );
    let stderr = || std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
    let limit = Duration::from_secs(60);
    let held = t.wait_for("● finalizing", limit);
    assert!(held.contains("Certificates: 1"), "{held}");

    let asked = "stop the batch? it resumes from the state file next run";
    t.keys(&["q"]);
    t.wait_for(asked, limit);
    t.keys(&["n"]);
    let kept = t.wait_gone(asked, limit);
    assert!(kept.contains("● finalizing"), "still running: {kept}");
    // Leaving from the list drops the batch too: asked there as well.
    t.keys(&["Escape"]);
    t.wait_for("no cluster objects in this session", limit);
    t.keys(&["q"]);
    t.wait_for(asked, limit);
    t.keys(&["Escape"]);
    t.wait_gone(asked, limit);
    t.keys(&["b"]);
    t.wait_for("● finalizing", limit);

    t.keys(&["C-c"]);
    let after = t.wait_for("certdx-exited-", Duration::from_secs(20));
    assert!(
        after.contains("certdx-exited-1"),
        "{after}\nstderr: {}",
        stderr()
    );
    assert!(!after.contains("finalizing"), "the view left: {after}");
    assert!(
        stderr().contains("stopped: the next run with the same --state resumes"),
        "{}",
        stderr()
    );
}

#[test]
fn tui_is_refused_without_a_terminal_or_with_json() {
    for extra in [&[][..], &["--format", "json"][..]] {
        // Run from a test, stdin and stdout are not a terminal: refused before any work.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_certdx"))
            .args(["issue", "--tui", "--directory", "https://127.0.0.1:9/dir"])
            .args(["--http01-listen", "127.0.0.1:9", "--domain", "a.example"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains("--tui needs a terminal"), "{stderr}");
        if extra.is_empty() {
            assert!(out.stdout.is_empty());
        } else {
            // Asked for JSON, the refusal is a JSON error document on stdout too.
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("--tui needs a terminal")
            );
        }
    }
}
