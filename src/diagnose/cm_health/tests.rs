//! Unit tests of the judging of cert-manager's installation.

use super::*;
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::json;

fn deployment(component: Component, desired: i32, ready: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": component.default_name(), "namespace": "cert-manager"},
        "spec": {"replicas": desired, "selector": {"matchLabels": {"app": "x"}},
                 "template": {"spec": {"containers": [{"name": "c",
                    "image": "quay.io/jetstack/cert-manager-controller:v1.16.2"}]}}},
        "status": {"replicas": desired, "readyReplicas": ready}
    }))
    .expect("deployment")
}

fn crashing_pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "cert-manager-abc", "namespace": "cert-manager"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
          "containerStatuses": [{"name": "c", "ready": false, "restartCount": 7, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}
    }))
    .expect("pod")
}

fn objects(deployments: Vec<(Component, Deployment, Vec<Pod>)>) -> HealthObjects {
    HealthObjects {
        deployments: deployments
            .into_iter()
            .map(|(c, d, pods)| {
                (
                    c,
                    Read::Found(DeploymentRead {
                        deployment: d,
                        pods: Read::Found(pods),
                    }),
                )
            })
            .collect(),
        leases: Vec::new(),
        validating: Read::Absent,
        mutating: Read::Absent,
        webhook_service: None,
        notes: Vec::new(),
    }
}

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().expect("time")
}

#[test]
fn a_controller_with_no_ready_replica_is_fatal_and_names_the_crash() {
    let h = judge(
        &objects(vec![(
            Component::Controller,
            deployment(Component::Controller, 1, 0),
            vec![crashing_pod()],
        )]),
        now(),
    );
    assert_eq!(h.state, HealthState::Unhealthy);
    let f = h.headline().expect("a finding");
    assert_eq!(
        (f.code, f.severity),
        (Code::CertManagerUnhealthy, Severity::Fatal)
    );
    assert!(f.summary.contains("0 of 1"), "{}", f.summary);
    assert!(f.summary.contains("CrashLoopBackOff"), "{}", f.summary);
    assert!(f.summary.contains("7 restarts"), "{}", f.summary);
    assert!(f.summary.contains("Error (exit code 1)"), "{}", f.summary);
    assert_eq!(h.version.as_deref(), Some("v1.16.2"));
    assert!(h.blocks_issuance());
}

#[test]
fn ready_deployments_are_healthy_and_a_down_cainjector_only_warns() {
    let all = |cainjector_ready| {
        objects(vec![
            (
                Component::Controller,
                deployment(Component::Controller, 1, 1),
                vec![],
            ),
            (
                Component::Webhook,
                deployment(Component::Webhook, 1, 1),
                vec![],
            ),
            (
                Component::Cainjector,
                deployment(Component::Cainjector, 1, cainjector_ready),
                vec![],
            ),
        ])
    };
    let h = judge(&all(1), now());
    assert_eq!(h.state, HealthState::Healthy);
    assert!(h.findings.is_empty(), "{:?}", h.findings);
    let h = judge(&all(0), now());
    assert_eq!(h.headline().map(|f| f.severity), Some(Severity::Warning));
    assert!(!h.blocks_issuance());
}

fn lease(renewed: &str, duration: i32) -> LeaseRead {
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "cert-manager-controller", "namespace": "kube-system"},
        "spec": {"holderIdentity": "cert-manager-abc_1", "leaseDurationSeconds": duration,
                 "renewTime": renewed}
    }))
    .expect("lease");
    LeaseRead {
        component: Component::Controller,
        namespace: "kube-system".to_owned(),
        name: "cert-manager-controller".to_owned(),
        lease: Read::Found(lease),
    }
}

#[test]
fn a_lease_is_stale_only_well_past_its_duration() {
    let (l, f, _) = judge_lease(&lease("2026-03-01T11:59:30.000000Z", 60), now());
    assert!(!l.stale && f.is_none());
    // 100 s: past the duration, within the margin.
    let (l, f, _) = judge_lease(&lease("2026-03-01T11:58:20.000000Z", 60), now());
    assert!(!l.stale && f.is_none());
    let (l, f, _) = judge_lease(&lease("2026-03-01T11:50:00.000000Z", 60), now());
    assert!(l.stale);
    let f = f.expect("stale lease finding");
    assert_eq!(f.severity, Severity::Fatal);
    assert!(f.summary.contains("10m"), "{}", f.summary);
    assert_eq!(l.holder.as_deref(), Some("cert-manager-abc_1"));
}

#[test]
fn an_absent_lease_is_a_note_not_a_finding() {
    let l = LeaseRead {
        component: Component::Controller,
        namespace: "kube-system".to_owned(),
        name: "cert-manager-controller".to_owned(),
        lease: Read::Absent,
    };
    let (l, f, note) = judge_lease(&l, now());
    assert!(!l.found && f.is_none() && note.is_some());
}

#[test]
fn versions_come_from_the_tag_not_the_digest_or_registry_port() {
    let mut d = deployment(Component::Controller, 1, 1);
    let set = |d: &mut Deployment, image: &str| {
        d.spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.to_owned());
    };
    set(
        &mut d,
        "registry.local:5000/jetstack/cert-manager-controller:v1.15.3@sha256:abc",
    );
    assert_eq!(version(&d).as_deref(), Some("v1.15.3"));
    set(
        &mut d,
        "registry.local:5000/cert-manager-controller@sha256:abc",
    );
    assert_eq!(version(&d), None);
}
