//! End to end on a live cluster: the real binary in a real terminal (tmux) against a real
//! kube-apiserver. The view shows the cluster's Certificates, follows a creation live, refuses
//! a retry that would change nothing and renews instead (the condition is set in the API),
//! says when the API server goes away and when it is back, and leaves cleanly.

#[path = "common/kube_lab.rs"]
mod kube_lab;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::time::{Duration, Instant};

use certdx::model::{Certificate, Order};
use kube::api::{Api, PostParams};
use kube_lab::KubeLab;
use tmux::Tmux;

const LIMIT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

#[test]
fn the_view_follows_the_cluster_renews_and_survives_an_api_restart() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lab = rt.block_on(KubeLab::start());
    let ns = rt.block_on(lab.namespace("view"));
    rt.block_on(lab.load_fixture(&ns, &fixture("order-failed-no-reason.yaml")));
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        &format!(
            "{} --kubeconfig {} --context writer -n {ns}; echo certdx-exited-$?; sleep 60",
            env!("CARGO_BIN_EXE_certdx"),
            lab.kubeconfig_path().display()
        ),
        dir.path(),
    );
    let first = t.wait_for("live · ", LIMIT);
    assert!(first.contains("ops"), "{first}");
    assert!(first.contains("writer"), "the context is named: {first}");

    // A Certificate created meanwhile shows up without a key press.
    let certs: Api<Certificate> = Api::namespaced(lab.admin(), &ns);
    let mut added: Certificate = serde_json::from_value(serde_json::json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "appeared-live", "namespace": ns},
        "spec": {"secretName": "appeared-live-tls", "dnsNames": ["appeared.example.com"],
                 "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}
    }))
    .unwrap();
    added.metadata.namespace = Some(ns.clone());
    rt.block_on(certs.create(&PostParams::default(), &added))
        .expect("create");
    t.wait_for("appeared-live", LIMIT);

    // Retry the failed Order of `ops`: the dialog says what will change; on `y` certdx reads
    // the chain fresh and refuses, because the request is failed too and cert-manager would
    // not make a new Order. It points at renew, which then works.
    t.keys(&["/"]);
    t.keys(&["-l", "ops"]);
    t.keys(&["Enter"]);
    t.keys(&["R"]);
    let dialog = t.wait_for("Delete Order", LIMIT);
    assert!(dialog.contains("ops-1-543219344"), "{dialog}");
    t.keys(&["y"]);
    t.wait_for("renew Certificate", LIMIT);
    let orders: Api<Order> = Api::namespaced(lab.admin(), &ns);
    assert!(
        rt.block_on(orders.get_opt("ops-1-543219344"))
            .expect("get")
            .is_some(),
        "nothing was deleted"
    );
    t.keys(&["N"]);
    let dialog = t.wait_for("Issuing=True", LIMIT);
    assert!(dialog.contains("ops"), "{dialog}");
    // Enter, pressed out of habit, cancels: nothing is written.
    t.keys(&["Enter"]);
    t.wait_for("cancelled: renew", LIMIT);
    let cert = rt.block_on(certs.get("ops")).expect("get");
    let manual = cert.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.reason.as_deref() == Some("ManuallyTriggered"))
    });
    assert!(!manual, "Enter wrote to the cluster");
    t.keys(&["N"]);
    t.wait_for("Issuing=True", LIMIT);
    t.keys(&["y"]);
    t.wait_for("Set Issuing=True (ManuallyTriggered)", LIMIT);
    let start = Instant::now();
    loop {
        let cert = rt.block_on(certs.get("ops")).expect("get");
        let issuing = cert
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Issuing"))
            .map(|c| (c.status.clone(), c.reason.clone()));
        if issuing == Some(("True".to_owned(), Some("ManuallyTriggered".to_owned()))) {
            break;
        }
        assert!(start.elapsed() < LIMIT, "Issuing not set: {issuing:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The API server goes away and comes back.
    lab.stop_apiserver();
    t.wait_for("reconnecting", Duration::from_secs(60));
    rt.block_on(lab.restart_apiserver());
    t.wait_for("reconnected to the API server", Duration::from_secs(90));

    t.keys(&["Escape", "q"]);
    let after = t.wait_for("certdx-exited-0", LIMIT);
    assert!(!after.contains("live · "), "the view is gone: {after}");
}
