//! NetworkPolicies between the ingress controller and the solver Pod, by the API's rules: a
//! policy applies to the Pods its `podSelector` selects (empty: all of the namespace); it
//! isolates them for ingress when `policyTypes` contains `Ingress`, or when `policyTypes` is
//! unset (every policy then restricts ingress); an isolated Pod admits what the union of its
//! policies' ingress rules admits. A rule admits a port when its `ports` list is empty or one
//! entry matches (TCP, number, range with `endPort`, or the container port's name), and admits
//! everybody when its `from` list is empty. An empty `ingress` list admits nothing.
//!
//! Who sends the challenge traffic (the ingress controller's Pods, or node addresses for a
//! NodePort Service) is not known here, so rules limited by `from` are reported for the
//! engineer to judge, at info level, and only a policy set that admits nobody on the solver's
//! port is an error.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::labels::{selector_matches, solver_labels};
use super::{Ctx, SOLVER_PORT};
use crate::model::{Code, Finding, Severity};

const ADVICE_DENY: &str = "Add a NetworkPolicy that admits TCP 8089 to Pods labelled acme.cert-manager.io/http01-solver=true from the ingress controller's namespace (and from node addresses if the solver Service is a NodePort).";
const ADVICE_RESTRICTED: &str = "Make sure the ingress controller's Pods (or the nodes, for a NodePort solver Service) are among the admitted peers; otherwise admit them on TCP 8089.";

/// A Pod to evaluate: its name, labels and named ports.
struct Target {
    name: String,
    labels: BTreeMap<String, String>,
    ports: Vec<(Option<String>, i32)>,
}

/// Findings about NetworkPolicies that keep traffic from the solver Pods. Without solver Pods
/// the labels and port cert-manager would give one are evaluated.
pub(super) fn check_policies(
    ctx: &Ctx<'_>,
    policies: &[NetworkPolicy],
    pods: Option<&[&Pod]>,
) -> Vec<Finding> {
    let targets: Vec<Target> = match pods {
        Some(pods) if !pods.is_empty() => pods.iter().map(|p| target_of(ctx, p)).collect(),
        _ => {
            let mut labels = solver_labels(ctx.challenge);
            labels.extend(ctx.config.pod_labels.clone());
            vec![Target {
                name: format!("the solver Pod cert-manager creates in {}", ctx.namespace),
                labels,
                ports: vec![(Some("http".to_owned()), SOLVER_PORT)],
            }]
        }
    };
    targets
        .iter()
        .filter_map(|t| evaluate(ctx, policies, t))
        .collect()
}

fn target_of(ctx: &Ctx<'_>, pod: &Pod) -> Target {
    let mut ports: Vec<(Option<String>, i32)> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| (p.name.clone(), p.container_port))
        .collect();
    if ports.is_empty() {
        ports.push((None, SOLVER_PORT));
    }
    Target {
        name: format!("solver {}", ctx.name_of("Pod", &pod.name_any())),
        labels: pod.labels().clone(),
        ports,
    }
}

/// The solver's listening port: 8089, by number and by its container port name.
fn solver_port(t: &Target) -> (Option<&str>, i32) {
    t.ports
        .iter()
        .find(|(_, p)| *p == SOLVER_PORT)
        .or(t.ports.first())
        .map_or((None, SOLVER_PORT), |(n, p)| (n.as_deref(), *p))
}

fn isolates_ingress(p: &NetworkPolicy) -> bool {
    let types = p.spec.as_ref().and_then(|s| s.policy_types.as_ref());
    match types {
        Some(t) if !t.is_empty() => t.iter().any(|t| t == "Ingress"),
        _ => true,
    }
}

fn port_matches(p: &NetworkPolicyPort, name: Option<&str>, number: i32) -> bool {
    if !p
        .protocol
        .as_deref()
        .unwrap_or("TCP")
        .eq_ignore_ascii_case("TCP")
    {
        return false;
    }
    match &p.port {
        None => true,
        Some(IntOrString::Int(n)) => match p.end_port {
            Some(end) => (*n..=end).contains(&number),
            None => *n == number,
        },
        Some(IntOrString::String(s)) => name == Some(s.as_str()),
    }
}

fn rule_admits_port(rule: &NetworkPolicyIngressRule, name: Option<&str>, number: i32) -> bool {
    match rule.ports.as_deref() {
        None | Some([]) => true,
        Some(ports) => ports.iter().any(|p| port_matches(p, name, number)),
    }
}

/// What the policies admit on the port: everybody, some peers, or nobody.
enum Verdict {
    Open,
    Only(Vec<String>),
    Closed,
}

fn evaluate(ctx: &Ctx<'_>, policies: &[NetworkPolicy], t: &Target) -> Option<Finding> {
    let applicable: Vec<&NetworkPolicy> = policies
        .iter()
        .filter(|p| {
            let selector = p
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.clone())
                .unwrap_or_default();
            selector_matches(&selector, &t.labels) && isolates_ingress(p)
        })
        .collect();
    if applicable.is_empty() {
        return None;
    }
    let (port_name, port) = solver_port(t);
    let mut peers = Vec::new();
    let mut verdict = Verdict::Closed;
    for p in &applicable {
        let rules = p
            .spec
            .as_ref()
            .and_then(|s| s.ingress.clone())
            .unwrap_or_default();
        for rule in rules
            .iter()
            .filter(|r| rule_admits_port(r, port_name, port))
        {
            match rule.from.as_deref() {
                None | Some([]) => verdict = Verdict::Open,
                Some(from) => peers.extend(from.iter().map(|f| {
                    format!(
                        "{} ({})",
                        describe_peer(f),
                        ctx.name_of("NetworkPolicy", &p.name_any())
                    )
                })),
            }
        }
    }
    if matches!(verdict, Verdict::Closed) && !peers.is_empty() {
        verdict = Verdict::Only(peers);
    }
    let names = applicable
        .iter()
        .map(|p| ctx.name_of("NetworkPolicy", &p.name_any()))
        .collect::<Vec<_>>();
    let port_words = match port_name {
        Some(n) => format!("TCP {port} ({n})"),
        None => format!("TCP {port}"),
    };
    let evidence = |f: Finding| {
        applicable.iter().fold(f, |f, p| {
            f.with_evidence(Ctx::fact(
                ctx.name_of("NetworkPolicy", &p.name_any()),
                describe_policy(p),
            ))
        })
    };
    match verdict {
        Verdict::Open => None,
        Verdict::Closed => Some(evidence(ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!("{} selects {} and admits no traffic to {port_words}", names.join(", "), t.name),
            "The Pod is isolated for ingress and no rule admits its port, so the ingress controller's requests time out (504) and the CA's validation fails.".to_owned(),
            ADVICE_DENY,
        ))),
        Verdict::Only(peers) => Some(evidence(ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Info,
            format!("{} admits {port_words} of {} only from {}", names.join(", "), t.name, peers.join(", ")),
            "Whether the ingress controller is among these peers cannot be told from the policies alone.".to_owned(),
            ADVICE_RESTRICTED,
        ))),
    }
}

fn describe_selector(s: &LabelSelector) -> String {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.extend(s.match_expressions.iter().flatten().map(|e| {
        format!(
            "{} {} ({})",
            e.key,
            e.operator,
            e.values.clone().unwrap_or_default().join(",")
        )
    }));
    if parts.is_empty() {
        "all".to_owned()
    } else {
        parts.join(",")
    }
}

fn describe_peer(p: &NetworkPolicyPeer) -> String {
    if let Some(b) = &p.ip_block {
        let except = b.except.clone().unwrap_or_default();
        return if except.is_empty() {
            format!("ipBlock {}", b.cidr)
        } else {
            format!("ipBlock {} except {}", b.cidr, except.join(","))
        };
    }
    match (&p.namespace_selector, &p.pod_selector) {
        (Some(ns), Some(pods)) => format!(
            "pods {} in namespaces {}",
            describe_selector(pods),
            describe_selector(ns)
        ),
        (Some(ns), None) => format!("namespaces {}", describe_selector(ns)),
        (None, Some(pods)) => format!("pods {} of this namespace", describe_selector(pods)),
        (None, None) => "nobody".to_owned(),
    }
}

fn describe_policy(p: &NetworkPolicy) -> String {
    let spec = p.spec.clone().unwrap_or_default();
    let types = spec.policy_types.clone().unwrap_or_default();
    let rules = spec.ingress.as_ref().map_or(0, Vec::len);
    format!(
        "podSelector {}, policyTypes {}, {rules} ingress rule(s)",
        describe_selector(&spec.pod_selector.unwrap_or_default()),
        if types.is_empty() {
            "(unset)".to_owned()
        } else {
            types.join(",")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn run(policies: &[NetworkPolicy], pods: Option<&[Pod]>) -> Vec<Finding> {
        let ch = challenge();
        let ctx = Ctx::new(&ch);
        let refs: Option<Vec<&Pod>> = pods.map(|p| p.iter().collect());
        check_policies(&ctx, policies, refs.as_deref())
    }

    fn one(spec: serde_json::Value) -> Vec<Finding> {
        run(&[policy("p", spec)], Some(&[ready_pod()]))
    }

    #[test]
    fn no_policies_or_policies_for_other_pods() {
        assert!(run(&[], Some(&[ready_pod()])).is_empty());
        assert!(
            one(json!({"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}))
                .is_empty()
        );
        // Egress-only policies do not isolate for ingress.
        assert!(one(json!({"podSelector": {}, "policyTypes": ["Egress"]})).is_empty());
    }

    #[test]
    fn default_deny_is_an_error() {
        let f = one(json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].summary,
            "NetworkPolicy shop/p selects solver Pod shop/cm-acme-http-solver-abcde and admits no traffic to TCP 8089 (http)"
        );
        // policyTypes unset still isolates for ingress; an empty ingress list admits nothing.
        assert_eq!(one(json!({"podSelector": {}, "ingress": []})).len(), 1);
    }

    #[test]
    fn rules_on_other_ports_or_protocols_do_not_help() {
        let f = one(
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"port": 8089, "protocol": "UDP"}, {"port": "metrics"}]}]}),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Error);
    }

    #[test]
    fn open_rules_admit() {
        assert!(one(json!({"podSelector": {}, "ingress": [{}]})).is_empty());
        assert!(
            one(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8089}]}]})).is_empty()
        );
        assert!(
            one(json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]})).is_empty()
        );
        assert!(one(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 9000}]}]})).is_empty());
        // A second policy that opens the port wins over a deny-all one: policies add up.
        let both = [
            policy(
                "deny",
                json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
            ),
            policy(
                "solver",
                json!({"podSelector": {"matchExpressions": [{"key": "acme.cert-manager.io/http01-solver", "operator": "Exists"}]}, "ingress": [{"ports": [{"port": 8089}]}]}),
            ),
        ];
        assert!(run(&both, Some(&[ready_pod()])).is_empty());
    }

    #[test]
    fn restricted_sources_are_info() {
        let f = one(json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
        ]}]}));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(
            f[0].summary,
            "NetworkPolicy shop/p admits TCP 8089 (http) of solver Pod shop/cm-acme-http-solver-abcde only from namespaces kubernetes.io/metadata.name=ingress-nginx (NetworkPolicy shop/p), ipBlock 10.0.0.0/8 except 10.1.0.0/16 (NetworkPolicy shop/p)"
        );
    }

    #[test]
    fn without_pods_the_labels_cert_manager_would_use_are_evaluated() {
        let deny = [policy(
            "p",
            json!({"podSelector": {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}, "policyTypes": ["Ingress"]}),
        )];
        let f = run(&deny, Some(&[]));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary
                .contains("the solver Pod cert-manager creates in shop"),
            "{}",
            f[0].summary
        );
        assert_eq!(run(&deny, None).len(), 1);
    }
}
