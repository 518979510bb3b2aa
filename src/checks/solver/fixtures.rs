//! Test fixtures: a healthy solver for one Challenge, as cert-manager creates it, which each
//! test then breaks in one way.

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use serde_json::{Value, json};

use super::labels::solver_labels;
use super::{SolverObjects, adler32};
use crate::model::Challenge;

pub const NS: &str = "shop";
pub const DNS_NAME: &str = "www.example.com";
pub const TOKEN: &str = "tok123";
pub const SERVICE: &str = "cm-acme-http-solver-svc01";
pub const LB_IP: &str = "203.0.113.10";

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture is valid")
}

fn owner() -> Value {
    json!([{
        "apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
        "name": "www-example-com-1-2-3", "uid": "ch-uid", "controller": true, "blockOwnerDeletion": true
    }])
}

fn labels() -> Value {
    let mut ch = Challenge::new("x", Default::default());
    ch.spec.dns_name = DNS_NAME.into();
    ch.spec.token = TOKEN.into();
    serde_json::to_value(solver_labels(&ch)).expect("labels serialise")
}

/// An HTTP-01 Challenge being presented, with an ingress solver of class `nginx`.
pub fn challenge() -> Challenge {
    challenge_with_solver(json!({"http01": {"ingress": {"ingressClassName": "nginx"}}}))
}

/// The same Challenge with another solver configuration.
pub fn challenge_with_solver(solver: Value) -> Challenge {
    let ch: Challenge = from(json!({
        "apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
        "metadata": {"name": "www-example-com-1-2-3", "namespace": NS, "uid": "ch-uid"},
        "spec": {
            "url": "https://acme.example/chall/1", "authorizationURL": "https://acme.example/authz/1",
            "dnsName": DNS_NAME, "type": "HTTP-01", "token": TOKEN, "key": "tok123.thumb",
            "solver": solver,
            "issuerRef": {"name": "le", "kind": "ClusterIssuer"}
        },
        "status": {"processing": true, "presented": true, "state": "pending"}
    }));
    debug_assert_eq!(
        adler32(DNS_NAME.as_bytes()).to_string(),
        labels()["acme.cert-manager.io/http-domain"]
    );
    ch
}

/// A Running, Ready solver Pod.
pub fn ready_pod() -> Pod {
    from(json!({
        "metadata": {"name": "cm-acme-http-solver-abcde", "namespace": NS, "labels": labels(), "ownerReferences": owner()},
        "spec": {"containers": [{"name": "acmesolver", "image": "quay.io/jetstack/cert-manager-acmesolver:v1.15.0",
            "ports": [{"name": "http", "containerPort": 8089}]}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "acmesolver", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                "state": {"running": {}}}]
        }
    }))
}

/// `pod` with its status replaced.
pub fn with_status(mut pod: Pod, status: Value) -> Pod {
    pod.status = Some(from(status));
    pod
}

/// The solver Service (NodePort, port 8089 named http).
pub fn service() -> Service {
    from(json!({
        "metadata": {"name": SERVICE, "namespace": NS, "labels": labels(), "ownerReferences": owner(),
            "annotations": {"auth.istio.io/8089": "NONE"}},
        "spec": {"type": "NodePort", "selector": labels(),
            "ports": [{"name": "http", "port": 8089, "targetPort": 8089}]}
    }))
}

/// Endpoints of the solver Service with one ready address.
pub fn endpoints() -> Endpoints {
    from(json!({
        "metadata": {"name": SERVICE, "namespace": NS},
        "subsets": [{"addresses": [{"ip": "10.42.0.7"}], "ports": [{"name": "http", "port": 8089}]}]
    }))
}

/// The solver Ingress as cert-manager creates it for `ingressClassName: nginx`, with a
/// load-balancer address in its status.
pub fn ingress() -> Ingress {
    from(json!({
        "metadata": {"name": "cm-acme-http-solver-ing01", "namespace": NS, "labels": labels(), "ownerReferences": owner(),
            "annotations": {"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": DNS_NAME, "http": {"paths": [{
            "path": format!("/.well-known/acme-challenge/{TOKEN}"), "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": SERVICE, "port": {"number": 8089}}}
        }]}}]},
        "status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}
    }))
}

/// An IngressClass.
pub fn ingress_class(name: &str, default: bool) -> IngressClass {
    let annotations = if default {
        json!({"ingressclass.kubernetes.io/is-default-class": "true"})
    } else {
        json!({})
    };
    from(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"controller": "k8s.io/ingress-nginx"}
    }))
}

/// A NetworkPolicy from its spec.
pub fn policy(name: &str, spec: Value) -> NetworkPolicy {
    from(json!({"metadata": {"name": name, "namespace": NS}, "spec": spec}))
}

/// Everything healthy: one of each, the `nginx` class known, no policies.
pub fn healthy() -> SolverObjects {
    SolverObjects {
        pods: Some(vec![ready_pod()]),
        services: Some(vec![service()]),
        endpoints: Some(vec![endpoints()]),
        ingresses: Some(vec![ingress()]),
        network_policies: Some(vec![]),
        ingress_classes: Some(vec![ingress_class("nginx", true)]),
        http_routes: None,
        not_readable: vec![],
    }
}
