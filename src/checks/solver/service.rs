//! The solver Service: does it exist, does its selector reach the solver Pod, does its port
//! lead to the Pod's port, and does it have ready endpoints.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::labels::map_selects;
use super::{Ctx, SOLVER_PORT};
use crate::model::{Code, Finding, Severity};

const ADVICE_MISSING: &str = "cert-manager creates the solver Service when it presents the Challenge: read its log lines about this Challenge for the error (admission webhook, quota on services or NodePorts).";
const ADVICE_SELECTOR: &str = "Something edited the Service or the Pod's labels: delete the solver Service and Pod, cert-manager recreates them with matching labels.";
const ADVICE_ENDPOINTS: &str = "Endpoints follow the solver Pod's readiness: make the Pod Ready first; if it is Ready and the Endpoints stay empty, check the cluster's endpoints controller (kube-controller-manager).";

/// Findings about the Challenge's solver Services (already filtered to the Challenge's own).
pub(super) fn check_services(
    ctx: &Ctx<'_>,
    services: &[&Service],
    pods: Option<&[&Pod]>,
    endpoints: Option<&[Endpoints]>,
) -> Vec<Finding> {
    if services.is_empty() {
        let f = ctx
            .finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                format!("no solver Service for {}", ctx.subject),
                format!(
                    "No Service in namespace {} carries the labels {} with an owner reference to the Challenge, so the Ingress has no backend.",
                    ctx.namespace,
                    super::solver_selector(ctx.challenge)
                ),
                ADVICE_MISSING,
            )
            .with_evidence(Ctx::fact(ctx.subject.clone(), "no solver Service found"));
        return vec![f];
    }
    let mut findings = Vec::new();
    for svc in services {
        let name = ctx.name_of("Service", &svc.name_any());
        let spec = svc.spec.clone().unwrap_or_default();
        let selector = spec.selector.unwrap_or_default();
        let pods = pods.unwrap_or_default();
        let selected: Vec<&&Pod> = pods
            .iter()
            .filter(|p| {
                map_selects(
                    &selector,
                    p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
                )
            })
            .collect();
        if selector.is_empty() {
            findings.push(
                ctx.finding(
                    Code::Http01SolverBlocked,
                    Severity::Error,
                    format!("solver {name} has no selector, so it never gets the solver Pod as endpoint"),
                    "cert-manager sets the solver labels as the Service's selector; without one the endpoints controller publishes nothing.".to_owned(),
                    ADVICE_SELECTOR,
                )
                .with_evidence(Ctx::fact(name.clone(), "spec.selector is empty")),
            );
        } else if !pods.is_empty() && selected.is_empty() {
            let pod_labels = pods
                .iter()
                .map(|p| format!("{}: {}", p.name_any(), show(p.metadata.labels.as_ref())))
                .collect::<Vec<_>>()
                .join("; ");
            findings.push(
                ctx.finding(
                    Code::Http01SolverBlocked,
                    Severity::Error,
                    format!("solver {name} selects no solver Pod (selector {})", show(Some(&selector))),
                    format!("The Service's selector matches none of the Challenge's solver Pods ({pod_labels})."),
                    ADVICE_SELECTOR,
                )
                .with_evidence(Ctx::fact(name.clone(), format!("selector {}", show(Some(&selector))))),
            );
        }
        if let Some(f) = port_mismatch(ctx, &name, svc, &selected) {
            findings.push(f);
        }
        if let Some(eps) = endpoints {
            findings.extend(check_endpoints(ctx, &name, &svc.name_any(), eps));
        }
    }
    findings
}

/// The Service's solver port must lead to a port the Pod's container exposes.
fn port_mismatch(ctx: &Ctx<'_>, name: &str, svc: &Service, pods: &[&&Pod]) -> Option<Finding> {
    let ports = svc.spec.as_ref()?.ports.clone().unwrap_or_default();
    let Some(port) = ports
        .iter()
        .find(|p| p.port == SOLVER_PORT)
        .or(ports.first())
    else {
        return Some(ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!("solver {name} has no ports"),
            format!("The Ingress routes to port {SOLVER_PORT} of the solver Service, which declares none."),
            ADVICE_SELECTOR,
        ));
    };
    let pod = pods.first()?;
    let container_ports: Vec<(Option<String>, i32)> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| (p.name.clone(), p.container_port))
        .collect();
    let target = port
        .target_port
        .clone()
        .unwrap_or(IntOrString::Int(port.port));
    let reaches = match &target {
        IntOrString::Int(n) => container_ports.iter().any(|(_, p)| p == n),
        IntOrString::String(s) => container_ports.iter().any(|(n, _)| n.as_deref() == Some(s)),
    };
    // A numeric target on a container that declares no ports still works; only a name needs
    // the declaration.
    if reaches || (container_ports.is_empty() && matches!(target, IntOrString::Int(_))) {
        return None;
    }
    let target = match target {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s,
    };
    Some(
        ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!(
                "solver {name} port {} targets {target}, which Pod {} does not expose",
                port.port,
                pod.name_any()
            ),
            format!(
                "The acmesolver container listens on {}.",
                container_ports
                    .iter()
                    .map(|(n, p)| n.as_ref().map_or(p.to_string(), |n| format!("{p} ({n})")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ADVICE_SELECTOR,
        )
        .with_evidence(Ctx::fact(
            name.to_owned(),
            format!("port {} -> targetPort {target}", port.port),
        )),
    )
}

fn check_endpoints(ctx: &Ctx<'_>, name: &str, svc: &str, all: &[Endpoints]) -> Option<Finding> {
    let Some(eps) = all.iter().find(|e| e.name_any() == svc) else {
        return Some(
            ctx.finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                format!("solver {name} has no Endpoints object: no ready solver Pod behind it"),
                "The endpoints controller has not published any address for the Service, so the ingress answers 503 for the challenge path.".to_owned(),
                ADVICE_ENDPOINTS,
            )
            .with_evidence(Ctx::fact(ctx.name_of("Endpoints", svc), "not found")),
        );
    };
    let subsets = eps.subsets.clone().unwrap_or_default();
    let ready: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let not_ready: usize = subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    (ready == 0).then(|| {
        ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!("solver {name} has no ready endpoints ({not_ready} not ready)"),
            "With no ready address behind the Service the ingress answers 503 for the challenge path.".to_owned(),
            ADVICE_ENDPOINTS,
        )
        .with_evidence(Ctx::fact(
            ctx.name_of("Endpoints", svc),
            format!("0 ready addresses, {not_ready} not ready"),
        ))
    })
}

fn show(labels: Option<&BTreeMap<String, String>>) -> String {
    match labels {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        _ => "(none)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn run(services: &[Service], pods: &[Pod], eps: Option<&[Endpoints]>) -> Vec<Finding> {
        let ch = challenge();
        let ctx = Ctx::new(&ch);
        let s: Vec<&Service> = services.iter().collect();
        let p: Vec<&Pod> = pods.iter().collect();
        check_services(&ctx, &s, Some(&p), eps)
    }

    #[test]
    fn healthy_service_is_fine() {
        assert!(run(&[service()], &[ready_pod()], Some(&[endpoints()])).is_empty());
        // Endpoints not readable: that part is skipped, not guessed.
        assert!(run(&[service()], &[ready_pod()], None).is_empty());
    }

    #[test]
    fn missing_service() {
        let f = run(&[], &[ready_pod()], Some(&[]));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "no solver Service for Challenge shop/www-example-com-1-2-3"
        );
    }

    #[test]
    fn selector_that_matches_no_pod() {
        let mut svc = service();
        if let Some(spec) = svc.spec.as_mut() {
            spec.selector = Some(BTreeMap::from([("app".to_owned(), "other".to_owned())]));
        }
        let f = run(&[svc], &[ready_pod()], Some(&[endpoints()]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].summary,
            "solver Service shop/cm-acme-http-solver-svc01 selects no solver Pod (selector app=other)"
        );
        let mut svc = service();
        if let Some(spec) = svc.spec.as_mut() {
            spec.selector = None;
        }
        let f = run(&[svc], &[ready_pod()], Some(&[endpoints()]));
        assert!(f[0].summary.contains("has no selector"));
    }

    #[test]
    fn endpoints_missing_or_empty() {
        let f = run(&[service()], &[ready_pod()], Some(&[]));
        assert_eq!(
            f[0].summary,
            "solver Service shop/cm-acme-http-solver-svc01 has no Endpoints object: no ready solver Pod behind it"
        );
        let eps: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": SERVICE, "namespace": NS},
            "subsets": [{"notReadyAddresses": [{"ip": "10.42.0.7"}]}]
        }))
        .expect("valid");
        let f = run(&[service()], &[ready_pod()], Some(&[eps]));
        assert_eq!(
            f[0].summary,
            "solver Service shop/cm-acme-http-solver-svc01 has no ready endpoints (1 not ready)"
        );
    }

    #[test]
    fn target_port_the_pod_does_not_expose() {
        let mut svc = service();
        if let Some(p) = svc.spec.as_mut().and_then(|s| s.ports.as_mut()) {
            p[0].target_port = Some(IntOrString::String("web".into()));
        }
        let f = run(&[svc], &[ready_pod()], Some(&[endpoints()]));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "solver Service shop/cm-acme-http-solver-svc01 port 8089 targets web, which Pod cm-acme-http-solver-abcde does not expose"
        );
        assert!(f[0].detail.contains("8089 (http)"));
    }
}
