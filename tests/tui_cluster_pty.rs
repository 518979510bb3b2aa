//! End to end on a live cluster: the real binary in a real terminal (tmux) against a real
//! kube-apiserver. The view shows the cluster's Certificates, follows a creation live, turns
//! `R` on a failed Order whose request failed into a renew (the dialog says why; Enter
//! cancels), follows the new attempt (its new request, then Ready), says when the API server
//! goes away and when it is back, and leaves cleanly.

#[path = "common/kube_lab.rs"]
mod kube_lab;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::time::{Duration, Instant};

use certdx::model::{Certificate, CertificateRequest, Order};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube_lab::KubeLab;
use tmux::Tmux;

const LIMIT: Duration = Duration::from_secs(30);

/// The request cert-manager makes after a renew replaced the failed one.
const NEW_REQUEST: &str = r#"
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: ops-retry
  annotations:
    cert-manager.io/certificate-name: ops
    cert-manager.io/certificate-revision: "1"
  ownerReferences:
  - {apiVersion: cert-manager.io/v1, kind: Certificate, name: ops, uid: 43219344-0000-4000-8000-000000000001, controller: true, blockOwnerDeletion: true}
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlJQ2ZEQ0NBV1FDQVFBd0FEQ0NBU0l3RFFZSktvWklodmNOQVFFQg==
  issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer, group: cert-manager.io}
status:
  conditions:
  - {type: Approved, status: "True", reason: cert-manager.io, message: Certificate request has been approved by cert-manager.io}
  - {type: Ready, status: "False", reason: Pending, message: "Waiting on certificate issuance from order ops-retry-1: \"pending\""}
"#;

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

    // Retry on the failed Order of `ops`: its request failed too, so retry means renew, and
    // the dialog says why. Enter, pressed out of habit, cancels: nothing is written.
    t.keys(&["/"]);
    t.keys(&["-l", "ops"]);
    t.keys(&["Enter"]);
    t.keys(&["Enter", "End"]);
    t.keys(&["R"]);
    let dialog = t.wait_for("What would change", LIMIT);
    assert!(
        dialog.contains(&format!("Retry Order {ns}/ops-1-543219344?")),
        "{dialog}"
    );
    assert!(
        dialog.contains(&format!(
            "CertificateRequest {ns}/ops-1 failed, so deleting"
        )),
        "{dialog}"
    );
    assert!(dialog.contains("Issuing=True"), "{dialog}");
    t.keys(&["Enter"]);
    t.wait_for("cancelled: renew", LIMIT);
    let orders: Api<Order> = Api::namespaced(lab.admin(), &ns);
    let issuing = |cert: &Certificate| {
        cert.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Issuing"))
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    let cert = rt.block_on(certs.get("ops")).expect("get");
    assert_ne!(
        issuing(&cert).and_then(|i| i.1).as_deref(),
        Some("ManuallyTriggered"),
        "Enter wrote to the cluster"
    );
    assert!(
        rt.block_on(orders.get_opt("ops-1-543219344"))
            .unwrap()
            .is_some()
    );

    // y: renewed, and the new attempt is followed from the chain.
    t.keys(&["R"]);
    t.wait_for("What would change", LIMIT);
    t.keys(&["y"]);
    t.wait_for("Set Issuing=True (ManuallyTriggered)", LIMIT);
    t.wait_for("retrying: attempt", LIMIT);
    let start = Instant::now();
    loop {
        let cert = rt.block_on(certs.get("ops")).expect("get");
        if issuing(&cert) == Some(("True".to_owned(), Some("ManuallyTriggered".to_owned()))) {
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "Issuing not set: {:?}",
            issuing(&cert)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Playing cert-manager: the failed request goes, a new one comes, then the certificate.
    let requests: Api<CertificateRequest> = Api::namespaced(lab.admin(), &ns);
    rt.block_on(requests.delete("ops-1", &DeleteParams::default()))
        .expect("delete the failed request");
    rt.block_on(lab.load_fixture(&ns, NEW_REQUEST));
    t.wait_for("ops-retry", LIMIT);
    rt.block_on(certs.patch_status(
        "ops",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {
            "revision": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                            "message": "Certificate is up to date and has not expired"}]
        }})),
    ))
    .expect("cert-manager issues");
    let done = t.wait_for("is Ready: attempt", LIMIT);
    assert!(
        done.contains(&format!("Certificate {ns}/ops is Ready")),
        "{done}"
    );
    t.wait_gone("retrying: attempt", LIMIT);

    // The API server goes away and comes back.
    lab.stop_apiserver();
    t.wait_for("reconnecting", Duration::from_secs(60));
    rt.block_on(lab.restart_apiserver());
    t.wait_for("reconnected to the API server", Duration::from_secs(90));

    t.keys(&["Escape", "q"]);
    let after = t.wait_for("certdx-exited-0", LIMIT);
    assert!(!after.contains("live · "), "the view is gone: {after}");
}
