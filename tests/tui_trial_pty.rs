//! End to end: `T` in the real binary's live-cluster view (tmux, a real kube-apiserver)
//! asking a real CA (Debian's Pebble, a test CA on loopback): the trial's verdict appears in
//! the detail pane and becomes the Certificate's root cause, and nothing is left pending.

// Both labs include the process and port helpers privately; two copies are harmless (each
// port is checked free by binding it when handed out).
#![allow(clippy::duplicate_mod)]

#[path = "common/kube_lab.rs"]
mod kube_lab;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::time::Duration;

use kube_lab::KubeLab;
use pebble_lab::PebbleLab;
use tmux::Tmux;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn t_in_the_live_view_shows_the_cas_verdict_as_the_root_cause() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let kube = rt.block_on(KubeLab::start());
    let pebble = rt.block_on(PebbleLab::start());
    let ns = rt.block_on(kube.namespace("trial"));
    // The failed-Order fixture, its issuer pointed at the lab's CA.
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/order-failed-no-reason.yaml"),
    )
    .unwrap()
    .replace(
        "https://acme-v02.api.letsencrypt.org/directory",
        &pebble.directory_url(),
    )
    .replace("letsencrypt-prod", "lab-ca");
    rt.block_on(kube.load_fixture(&ns, &fixture));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    std::fs::write(&root, pebble.root_pem()).unwrap();
    let state = dir.path().join("trial.sqlite");
    let t = Tmux::start(
        &format!(
            "{} --kubeconfig {} --context writer -n {ns} --trial-ca-cert {} --trial-state {} 2>{}; echo certdx-exited-$?; sleep 60",
            env!("CARGO_BIN_EXE_certdx"),
            kube.kubeconfig_path().display(),
            root.display(),
            state.display(),
            dir.path().join("stderr.txt").display(),
        ),
        dir.path(),
    );
    t.wait_for("live · ", LIMIT);
    t.keys(&["/"]);
    t.keys(&["-l", "ops"]);
    t.keys(&["Enter", "Enter"]);
    let chain = t.wait_for("Trial at the CA", LIMIT);
    assert!(chain.contains("not run: T asks"), "{chain}");
    t.keys(&["T"]);
    // Nothing listens where Pebble's VA connects for ops.example.com: it is refused, and
    // that is the root cause now.
    let after = t.wait_for("the CA refused 1 of 1", LIMIT);
    assert!(after.contains("ROOT CAUSE acme-connection"), "{after}");
    // The detail pane's trial section, further down: the verdict and the cleanup.
    t.keys(&["PageDown", "PageDown"]);
    let section = t.wait_for(
        "nothing left pending: 0 valid, 1 invalid, 0 deactivated",
        LIMIT,
    );
    assert!(section.contains("ops.example.com: invalid"), "{section}");
    t.keys(&["q"]);
    t.wait_for("certdx-exited-0", LIMIT);
    drop(t);
    drop(pebble);
    drop(kube);
}
