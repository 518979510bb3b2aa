//! What the Challenge's solver configuration (`spec.solver`, copied from the Issuer) says about
//! the objects cert-manager creates: which kind of HTTP-01 solver, which ingress class, which
//! existing Ingress to edit, and the labels and annotations its templates add.
//!
//! The model keeps the solver as raw JSON, so the fields are read here by their API names
//! (cert-manager `pkg/apis/acme/v1` `ACMEChallengeSolverHTTP01Ingress`): `class` sets the
//! `kubernetes.io/ingress.class` annotation, `ingressClassName` sets `spec.ingressClassName`,
//! `name` makes cert-manager add its path to that existing Ingress instead of creating one.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::Challenge;

/// Which HTTP-01 solver the Challenge uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolverKind {
    /// `http01.ingress`: a Pod, a Service and an Ingress (created, or an existing one edited).
    Ingress,
    /// `http01.gatewayHTTPRoute`: a Pod, a Service and a Gateway API HTTPRoute.
    GatewayHttpRoute,
    /// No HTTP-01 solver configuration recorded on the Challenge.
    Unknown,
}

/// The parts of an HTTP-01 solver configuration that decide what the solver objects look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolverConfig {
    /// Ingress or Gateway solver.
    pub kind: SolverKind,
    /// `ingress.ingressClassName`: the created Ingress's `spec.ingressClassName`.
    pub ingress_class_name: Option<String>,
    /// `ingress.class`: the created Ingress's `kubernetes.io/ingress.class` annotation.
    pub class: Option<String>,
    /// `ingress.name`: an existing Ingress cert-manager edits in place.
    pub ingress_name: Option<String>,
    /// `serviceType` (`NodePort` when unset).
    pub service_type: Option<String>,
    /// `podTemplate.metadata.labels`, added to the solver Pod's labels.
    pub pod_labels: BTreeMap<String, String>,
}

impl SolverConfig {
    /// Reads the configuration recorded in the Challenge's `spec.solver`.
    pub fn from_challenge(challenge: &Challenge) -> SolverConfig {
        let http01 = challenge.spec.solver.as_ref().and_then(|s| s.get("http01"));
        let ingress = http01
            .and_then(|h| h.get("ingress"))
            .filter(|v| v.is_object());
        let gateway = http01
            .and_then(|h| h.get("gatewayHTTPRoute"))
            .filter(|v| v.is_object());
        let (kind, solver) = match (ingress, gateway) {
            (Some(i), _) => (SolverKind::Ingress, Some(i)),
            (None, Some(g)) => (SolverKind::GatewayHttpRoute, Some(g)),
            (None, None) => (SolverKind::Unknown, None),
        };
        let text = |v: Option<&Value>, key: &str| {
            v.and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let pod_labels = solver
            .and_then(|s| s.pointer("/podTemplate/metadata/labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        SolverConfig {
            kind,
            ingress_class_name: text(ingress, "ingressClassName"),
            class: text(ingress, "class"),
            ingress_name: text(ingress, "name"),
            service_type: text(solver, "serviceType"),
            pod_labels,
        }
    }

    /// The class the solver Ingress should carry, and where it is set, if the configuration
    /// names one.
    pub fn expected_class(&self) -> Option<(&str, &'static str)> {
        if let Some(c) = &self.ingress_class_name {
            return Some((c, "ingressClassName"));
        }
        self.class.as_deref().map(|c| (c, "class"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn challenge(solver: Value) -> Challenge {
        let mut ch = Challenge::new("c", Default::default());
        ch.spec.solver = Some(solver);
        ch
    }

    #[test]
    fn reads_ingress_solver_fields() {
        let ch = challenge(json!({"http01": {"ingress": {
            "ingressClassName": "nginx",
            "serviceType": "ClusterIP",
            "podTemplate": {"metadata": {"labels": {"team": "web", "n": 1}}}
        }}}));
        let cfg = SolverConfig::from_challenge(&ch);
        assert_eq!(cfg.kind, SolverKind::Ingress);
        assert_eq!(cfg.expected_class(), Some(("nginx", "ingressClassName")));
        assert_eq!(cfg.service_type.as_deref(), Some("ClusterIP"));
        assert_eq!(
            cfg.pod_labels.len(),
            1,
            "non-string label values are ignored"
        );
        assert_eq!(cfg.pod_labels["team"], "web");

        let cfg = SolverConfig::from_challenge(&challenge(
            json!({"http01": {"ingress": {"class": "traefik", "name": ""}}}),
        ));
        assert_eq!(cfg.expected_class(), Some(("traefik", "class")));
        assert_eq!(cfg.ingress_name, None, "an empty name is no name");
    }

    #[test]
    fn gateway_and_missing_configurations() {
        let cfg = SolverConfig::from_challenge(&challenge(
            json!({"http01": {"gatewayHTTPRoute": {"parentRefs": []}}}),
        ));
        assert_eq!(cfg.kind, SolverKind::GatewayHttpRoute);
        assert_eq!(cfg.expected_class(), None);
        let cfg = SolverConfig::from_challenge(&Challenge::new("c", Default::default()));
        assert_eq!(cfg.kind, SolverKind::Unknown);
        let cfg = SolverConfig::from_challenge(&challenge(json!({"http01": {"ingress": 3}})));
        assert_eq!(cfg.kind, SolverKind::Unknown);
    }
}
