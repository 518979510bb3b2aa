//! The playbook's cluster-side steps for one Challenge: the HTTP-01 solver's objects (Pod,
//! Service, Endpoints, Ingress, NetworkPolicies, whether the name points at the Ingress) and
//! the cert-manager controller's log lines about the Challenge and its Order. The playbook
//! merges the result with its network findings.

use std::net::IpAddr;

use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use crate::checks::solver::{SolverInput, check_solver, expects_solver_objects};
use crate::model::{Challenge, Finding};
use crate::source::cluster::logs::{LogLine, LogOptions, LogSubject, controller_logs};
use crate::source::cluster::solver::fetch_solver_objects;

/// What the cluster says about one Challenge beyond the object itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSide {
    /// `http01-solver-blocked` and `http01-not-pointing-to-ingress` findings.
    pub findings: Vec<Finding>,
    /// The controller's log lines about the Challenge and its Order, newest first, redacted.
    pub log_lines: Vec<LogLine>,
    /// What could not be read or checked, one sentence each (RBAC, no controller Pod, ...).
    pub notes: Vec<String>,
}

/// Runs the cluster-side checks for `challenge`. `addresses` are the A/AAAA addresses of its
/// DNS name as the playbook resolved them (empty: unknown, the address comparison is
/// skipped). The solver part runs for HTTP-01 Challenges that cert-manager is working on; the
/// logs are read for every Challenge. Never fails: what could not be done is in `notes`.
pub async fn cluster_checks(
    client: &kube::Client,
    challenge: &Challenge,
    addresses: &[IpAddr],
) -> ClusterSide {
    let subjects = log_subjects(challenge);
    let log_options = LogOptions::default();
    let solver = async {
        if !expects_solver_objects(challenge) {
            return (Vec::new(), Vec::new());
        }
        match fetch_solver_objects(client, challenge).await {
            Ok(objects) => {
                let findings = check_solver(&SolverInput {
                    challenge,
                    objects: &objects,
                    addresses,
                });
                (findings, objects.not_readable)
            }
            Err(e) => (
                Vec::new(),
                vec![format!("HTTP-01 solver objects not read: {e}")],
            ),
        }
    };
    let ((findings, mut notes), logs) =
        futures::join!(solver, controller_logs(client, &subjects, &log_options));
    notes.extend(logs.notes);
    ClusterSide {
        findings,
        log_lines: logs.lines,
        notes,
    }
}

/// Adds the cluster side to a playbook result for a Challenge (`result.target.challenge`):
/// reads the Challenge fresh, resolves its name's addresses for the Ingress comparison
/// (HTTP-01), runs [`cluster_checks`] and merges the findings, worst first.
pub async fn add_cluster_side(
    client: &kube::Client,
    dns: &crate::checks::dns::Dns,
    result: &mut crate::diagnose::playbook::PlaybookResult,
) {
    let Some((namespace, name)) = result
        .target
        .challenge
        .as_ref()
        .map(|c| (c.namespace.clone(), c.name.clone()))
    else {
        return;
    };
    let api: kube::Api<Challenge> = kube::Api::namespaced(client.clone(), &namespace);
    let challenge = match api.get_opt(&name).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            result.cluster = Some(ClusterSide {
                notes: vec![format!(
                    "Challenge {namespace}/{name} no longer exists in the cluster"
                )],
                ..ClusterSide::default()
            });
            return;
        }
        Err(e) => {
            result.cluster = Some(ClusterSide {
                notes: vec![format!("Challenge {namespace}/{name} not read: {e}")],
                ..ClusterSide::default()
            });
            return;
        }
    };
    let addresses = if expects_solver_objects(&challenge) {
        match hickory_proto::rr::Name::from_ascii(&challenge.spec.dns_name) {
            Ok(n) => dns.resolve_addresses(&n).await.addresses(),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let side = cluster_checks(client, &challenge, &addresses).await;
    result.findings.extend(side.findings.iter().cloned());
    result
        .findings
        .sort_by_key(|f| std::cmp::Reverse((f.severity, super::rank(f.code))));
    result.cluster = Some(side);
}

/// The Challenge and the Order that owns it: the controller logs about both explain it.
fn log_subjects(challenge: &Challenge) -> Vec<LogSubject> {
    let namespace = challenge.namespace().unwrap_or_default();
    let mut subjects = vec![LogSubject {
        kind: "Challenge".to_owned(),
        namespace: namespace.clone(),
        name: challenge.name_any(),
    }];
    subjects.extend(
        challenge
            .owner_references()
            .iter()
            .filter(|r| r.kind == "Order")
            .map(|r| LogSubject {
                kind: "Order".to_owned(),
                namespace: namespace.clone(),
                name: r.name.clone(),
            }),
    );
    subjects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_wanted_for_the_challenge_and_its_order() {
        let ch: Challenge = serde_json::from_value(serde_json::json!({
            "apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
            "metadata": {"name": "web-1-2-3", "namespace": "shop", "ownerReferences": [
                {"apiVersion": "acme.cert-manager.io/v1", "kind": "Order", "name": "web-1-2", "uid": "o", "controller": true}
            ]},
            "spec": {"type": "HTTP-01"}
        }))
        .expect("valid");
        let s = log_subjects(&ch);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].kind.as_str(), s[0].name.as_str()),
            ("Challenge", "web-1-2-3")
        );
        assert_eq!(
            (
                s[1].kind.as_str(),
                s[1].namespace.as_str(),
                s[1].name.as_str()
            ),
            ("Order", "shop", "web-1-2")
        );
    }
}
