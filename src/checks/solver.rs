//! The HTTP-01 solver's cluster side: the Pod, Service, Endpoints and Ingress cert-manager
//! creates for a Challenge, the NetworkPolicies that may stand between the ingress controller
//! and the solver, and whether the name's addresses are the Ingress's. Pure evaluation of
//! objects somebody else fetched (`source::cluster::solver`); no network.
//!
//! Layout: `labels` (how cert-manager marks solver objects, label selectors), `config` (the
//! solver configuration on the Challenge), `pod`, `service`, `ingress` (routing and class),
//! `annotations` (redirects, auth, allow-lists), `netpol`, `address`.
//!
//! Gateway API solvers (`gatewayHTTPRoute`): the HTTPRoute (read as JSON: k8s-openapi has no
//! type for it) is checked for host, path, backend, parentRefs and what the Gateways said
//! (`httproute`); the address comparison is left out (a Gateway's addresses are not read).

mod address;
pub mod annotations;
pub mod config;
mod httproute;
mod ingress;
pub mod labels;
mod netpol;
mod pod;
mod service;

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use kube::ResourceExt;

use crate::model::{Challenge, Code, Evidence, Finding, Kind, ObjectRef, Severity};

pub use config::{SolverConfig, SolverKind};
pub use labels::{adler32, is_controlled_by, solver_labels, solver_selector};

/// The port cert-manager's acmesolver listens on, and the solver Service's port.
pub const SOLVER_PORT: i32 = 8089;
/// The path prefix the CA requests.
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge";

/// The cluster objects around one Challenge's HTTP-01 solver, as read from the API. `None`
/// for a kind means it could not be read (RBAC): the checks that need it are skipped and
/// `not_readable` says why. Objects that carry the solver labels but are not controlled by the
/// Challenge are ignored, as cert-manager ignores them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SolverObjects {
    /// Pods labelled for this Challenge.
    pub pods: Option<Vec<Pod>>,
    /// Services labelled for this Challenge.
    pub services: Option<Vec<Service>>,
    /// The Endpoints of those Services (same names).
    pub endpoints: Option<Vec<Endpoints>>,
    /// Ingresses labelled for this Challenge, plus the one the solver config names.
    pub ingresses: Option<Vec<Ingress>>,
    /// Every NetworkPolicy of the Challenge's namespace.
    pub network_policies: Option<Vec<NetworkPolicy>>,
    /// Every IngressClass of the cluster.
    pub ingress_classes: Option<Vec<IngressClass>>,
    /// HTTPRoutes labelled for this Challenge (Gateway API solvers only), as JSON.
    pub http_routes: Option<Vec<kube::api::DynamicObject>>,
    /// One line per kind that could not be read, e.g. `not readable: RBAC does not allow list
    /// networkpolicies.networking.k8s.io in namespace shop`.
    pub not_readable: Vec<String>,
}

/// What the solver checks look at.
#[derive(Debug, Clone, Copy)]
pub struct SolverInput<'a> {
    /// The Challenge.
    pub challenge: &'a Challenge,
    /// Its solver objects.
    pub objects: &'a SolverObjects,
    /// The A and AAAA addresses the Challenge's DNS name resolves to (empty: not known).
    pub addresses: &'a [IpAddr],
}

/// Checks the solver objects of an HTTP-01 Challenge that cert-manager is working on
/// (processing or presented, not yet valid/invalid). Other Challenges yield nothing: before
/// scheduling and after the end cert-manager rightly has no solver objects.
pub fn check_solver(input: &SolverInput<'_>) -> Vec<Finding> {
    let ch = input.challenge;
    if !expects_solver_objects(ch) {
        return Vec::new();
    }
    let ctx = Ctx::new(ch);
    let objects = input.objects;
    let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        is_controlled_by(meta, ch)
    };
    let pods: Option<Vec<&Pod>> = objects
        .pods
        .as_ref()
        .map(|v| v.iter().filter(|p| owned(&p.metadata)).collect());
    let services: Option<Vec<&Service>> = objects
        .services
        .as_ref()
        .map(|v| v.iter().filter(|s| owned(&s.metadata)).collect());

    let mut findings = Vec::new();
    if let Some(pods) = &pods {
        findings.extend(pod::check_pods(&ctx, pods));
    }
    if let Some(services) = &services {
        findings.extend(service::check_services(
            &ctx,
            services,
            pods.as_deref(),
            objects.endpoints.as_deref(),
        ));
    }
    let solver_ingresses = objects
        .ingresses
        .as_deref()
        .map(|all| ingress::solver_ingresses(&ctx, all));
    if let Some(ingresses) = &solver_ingresses {
        findings.extend(ingress::check_ingresses(
            &ctx,
            ingresses,
            services.as_deref(),
            objects.ingress_classes.as_deref(),
        ));
    }
    if ctx.config.kind == SolverKind::GatewayHttpRoute
        && let Some(routes) = &objects.http_routes
    {
        findings.extend(httproute::check_routes(&ctx, routes));
    }
    if let Some(policies) = &objects.network_policies {
        findings.extend(netpol::check_policies(&ctx, policies, pods.as_deref()));
    }
    if ctx.config.kind != SolverKind::GatewayHttpRoute {
        findings.extend(address::check_addresses(
            &ctx,
            input.addresses,
            solver_ingresses.as_deref().unwrap_or_default(),
            services.as_deref().unwrap_or_default(),
        ));
    }
    findings
}

/// Whether cert-manager should have HTTP-01 solver objects for the Challenge right now: an
/// HTTP-01 Challenge it is processing or has presented, not yet finished.
pub fn expects_solver_objects(ch: &Challenge) -> bool {
    if !ch.is_http01() {
        return false;
    }
    let Some(status) = &ch.status else {
        return false;
    };
    let state = status.state.as_deref().unwrap_or_default();
    let finished = [
        "valid",
        "invalid",
        "expired",
        "errored",
        "deactivated",
        "revoked",
    ]
    .iter()
    .any(|s| state.eq_ignore_ascii_case(s));
    !finished && (status.processing || status.presented)
}

/// What every check needs to know about the Challenge.
struct Ctx<'a> {
    challenge: &'a Challenge,
    namespace: String,
    subject: ObjectRef,
    config: SolverConfig,
    /// `/.well-known/acme-challenge/TOKEN`.
    path: String,
}

impl<'a> Ctx<'a> {
    fn new(challenge: &'a Challenge) -> Ctx<'a> {
        Ctx {
            challenge,
            namespace: challenge.namespace().unwrap_or_default(),
            subject: ObjectRef::of(Kind::Challenge, challenge),
            config: SolverConfig::from_challenge(challenge),
            path: format!("{CHALLENGE_PATH}/{}", challenge.spec.token),
        }
    }

    fn dns_name(&self) -> &str {
        &self.challenge.spec.dns_name
    }

    /// `Kind ns/name` for an object of the Challenge's namespace.
    fn name_of(&self, kind: &str, name: &str) -> String {
        format!("{kind} {}/{name}", self.namespace)
    }

    /// A finding about this Challenge's solver with specific advice.
    fn finding(
        &self,
        code: Code,
        severity: Severity,
        summary: String,
        detail: String,
        advice: &str,
    ) -> Finding {
        let mut f = Finding::new(code, summary)
            .with_severity(severity)
            .with_detail(detail)
            .with_subject(self.subject.clone());
        f.advice = advice.to_owned();
        f
    }

    /// A fact about a named object, for evidence.
    fn fact(subject: impl std::fmt::Display, detail: impl Into<String>) -> Evidence {
        Evidence::Fact {
            subject: subject.to_string(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn run(ch: &Challenge, objects: &SolverObjects, addresses: &[IpAddr]) -> Vec<Finding> {
        check_solver(&SolverInput {
            challenge: ch,
            objects,
            addresses,
        })
    }

    fn lb() -> Vec<IpAddr> {
        vec![LB_IP.parse().expect("valid")]
    }

    #[test]
    fn a_healthy_solver_yields_nothing() {
        let f = run(&challenge(), &healthy(), &lb());
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn only_active_http01_challenges_are_checked() {
        let empty = SolverObjects::default();
        let mut ch = challenge();
        ch.status = Some(crate::model::ChallengeStatus {
            state: Some("valid".into()),
            ..Default::default()
        });
        assert!(
            run(&ch, &empty, &lb()).is_empty(),
            "valid: cert-manager cleaned up"
        );
        ch.status = Some(crate::model::ChallengeStatus::default());
        assert!(run(&ch, &empty, &lb()).is_empty(), "not yet scheduled");
        let mut dns = challenge();
        dns.spec.type_ = "DNS-01".into();
        assert!(run(&dns, &empty, &lb()).is_empty());
    }

    #[test]
    fn unreadable_kinds_are_skipped_not_guessed() {
        let objects = SolverObjects {
            not_readable: vec!["not readable: x".into()],
            ..SolverObjects::default()
        };
        assert!(run(&challenge(), &objects, &lb()).is_empty());
    }

    #[test]
    fn nothing_created_reports_each_missing_object() {
        let objects = SolverObjects {
            pods: Some(vec![]),
            services: Some(vec![]),
            endpoints: Some(vec![]),
            ingresses: Some(vec![]),
            network_policies: Some(vec![]),
            ingress_classes: None,
            http_routes: None,
            not_readable: vec![],
        };
        let f = run(&challenge(), &objects, &lb());
        let summaries: Vec<&str> = f.iter().map(|f| f.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "no solver Pod for Challenge shop/www-example-com-1-2-3 although cert-manager is presenting it",
                "no solver Service for Challenge shop/www-example-com-1-2-3",
                "no solver Ingress for Challenge shop/www-example-com-1-2-3",
            ]
        );
        assert!(f.iter().all(|f| f.code == Code::Http01SolverBlocked
            && f.subject.as_ref().map(ToString::to_string).as_deref()
                == Some("Challenge shop/www-example-com-1-2-3")));
    }

    #[test]
    fn a_broken_solver_reports_every_cause() {
        let mut objects = healthy();
        objects.pods = Some(vec![with_status(ready_pod(), json!({"phase": "Pending"}))]);
        objects.endpoints = Some(vec![]);
        let mut ing = ingress();
        ing.metadata.annotations.get_or_insert_default().insert(
            "nginx.ingress.kubernetes.io/force-ssl-redirect".into(),
            "true".into(),
        );
        if let Some(s) = ing.spec.as_mut() {
            s.ingress_class_name = Some("traefik".into());
        }
        objects.ingresses = Some(vec![ing]);
        objects.network_policies = Some(vec![policy(
            "deny-all",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        )]);
        let f = run(
            &challenge(),
            &objects,
            &["198.51.100.1".parse().expect("valid")],
        );
        let has = |needle: &str| f.iter().any(|f| f.summary.contains(needle));
        assert!(has("is Pending: no node has started it"), "{f:#?}");
        assert!(has("has no Endpoints object"));
        assert!(has(
            "has class traefik (spec.ingressClassName) but the solver config asks for nginx"
        ));
        assert!(has("no IngressClass traefik exists"));
        assert!(has("force an HTTPS redirect"));
        assert!(has("NetworkPolicy shop/deny-all selects solver Pod"));
        assert!(
            f.iter().any(
                |f| f.code == Code::Http01NotPointingToIngress && f.severity == Severity::Error
            )
        );
        assert_eq!(f.len(), 7, "{f:#?}");
    }
}
