//! The Gateway API side of an HTTP-01 solver (`gatewayHTTPRoute`): cert-manager creates an
//! HTTPRoute for the Challenge, with the Challenge's name as its only hostname, one rule for
//! the challenge path to the solver Service on port 8089, and the parentRefs of the solver
//! config. It routes nothing until a Gateway accepts it, which the route's status says.
//!
//! k8s-openapi has no HTTPRoute type, so routes are read as JSON (`DynamicObject`).

use kube::ResourceExt;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{Ctx, SOLVER_PORT, is_controlled_by};
use crate::model::{Code, Finding, Severity};

const ADVICE_ROUTE: &str = "cert-manager recreates a solver HTTPRoute it owns: check the gatewayHTTPRoute solver config (parentRefs, labels), that the Gateway API CRDs are installed, and the controller's log.";
const ADVICE_GATEWAY: &str = "Make the Gateway named in the solver's parentRefs accept the route: a listener for port 80 and this hostname, allowedRoutes admitting the Challenge's namespace (or a ReferenceGrant), and a Gateway controller that is running.";

/// Checks the solver HTTPRoutes of a Gateway API solver.
pub(super) fn check_routes(ctx: &Ctx<'_>, all: &[DynamicObject]) -> Vec<Finding> {
    let routes: Vec<&DynamicObject> = all
        .iter()
        .filter(|r| is_controlled_by(&r.metadata, ctx.challenge))
        .collect();
    if routes.is_empty() {
        return vec![ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!("no solver HTTPRoute for {}", ctx.subject),
            format!(
                "No HTTPRoute in namespace {} is owned by the Challenge, so no Gateway sends {} to the solver.",
                ctx.namespace, ctx.path
            ),
            ADVICE_ROUTE,
        )];
    }
    routes.iter().flat_map(|r| check_route(ctx, r)).collect()
}

fn check_route(ctx: &Ctx<'_>, route: &DynamicObject) -> Vec<Finding> {
    let name = ctx.name_of("HTTPRoute", &route.name_any());
    let spec = &route.data["spec"];
    let mut findings = Vec::new();
    let error = |summary: String, detail: String, advice: &str| {
        ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            summary,
            detail,
            advice,
        )
    };
    let hostnames: Vec<&str> = strings(&spec["hostnames"]);
    if !hostnames.is_empty()
        && !hostnames
            .iter()
            .any(|h| h.eq_ignore_ascii_case(ctx.dns_name()))
    {
        findings.push(error(
            format!("{name} does not match the host {}", ctx.dns_name()),
            format!("Its hostnames are {}.", hostnames.join(", ")),
            ADVICE_ROUTE,
        ));
    }
    if spec["parentRefs"].as_array().is_none_or(Vec::is_empty) {
        findings.push(error(
            format!("{name} has no parentRefs: no Gateway will serve it"),
            "The solver config's gatewayHTTPRoute.parentRefs is empty.".to_owned(),
            ADVICE_GATEWAY,
        ));
    }
    if !routes_the_token(ctx, spec) {
        findings.push(error(
            format!("{name} does not route {} to the solver", ctx.path),
            format!(
                "No rule matches the path {} with a backendRef to a Service on port {SOLVER_PORT}.",
                ctx.path
            ),
            ADVICE_ROUTE,
        ));
    }
    findings.extend(parent_status(ctx, &name, &route.data["status"]));
    findings
}

/// Whether a rule sends the challenge path to a Service on the solver's port.
fn routes_the_token(ctx: &Ctx<'_>, spec: &Value) -> bool {
    spec["rules"].as_array().into_iter().flatten().any(|rule| {
        let matches = rule["matches"].as_array().into_iter().flatten();
        let path_ok = matches
            .clone()
            .any(|m| m["path"]["value"].as_str() == Some(ctx.path.as_str()));
        let backend_ok = rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| {
                b["kind"].as_str().unwrap_or("Service") == "Service"
                    && b["port"].as_i64() == Some(i64::from(SOLVER_PORT))
            });
        path_ok && backend_ok
    })
}

/// What the Gateways said about the route: not accepted, or references not resolved.
fn parent_status(ctx: &Ctx<'_>, name: &str, status: &Value) -> Vec<Finding> {
    let parents = status["parents"].as_array().cloned().unwrap_or_default();
    if parents.is_empty() {
        return vec![ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Warning,
            format!("no Gateway has accepted {name} yet"),
            "Its status lists no parent: either no Gateway controller watches the parentRefs' Gateway, or it has not reconciled the route yet.".to_owned(),
            ADVICE_GATEWAY,
        )];
    }
    let mut out = Vec::new();
    for parent in &parents {
        let gateway = parent["parentRef"]["name"].as_str().unwrap_or("?");
        for cond in parent["conditions"].as_array().into_iter().flatten() {
            let kind = cond["type"].as_str().unwrap_or_default();
            if !matches!(kind, "Accepted" | "ResolvedRefs") || cond["status"] != "False" {
                continue;
            }
            let reason = cond["reason"].as_str().unwrap_or("no reason");
            let message = cond["message"].as_str().unwrap_or_default();
            let what = if kind == "Accepted" {
                format!("Gateway {gateway} does not accept {name} ({reason})")
            } else {
                format!("Gateway {gateway} cannot resolve the backend of {name} ({reason})")
            };
            out.push(ctx.finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                what,
                message.to_owned(),
                ADVICE_GATEWAY,
            ));
        }
    }
    out
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    fn route(status: Value, hostnames: Value, path: &str) -> DynamicObject {
        let ch = fixtures::challenge();
        serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {
                "name": "cm-acme-http-solver-abc",
                "namespace": ch.metadata.namespace,
                "ownerReferences": [{
                    "apiVersion": "acme.cert-manager.io/v1", "kind": "Challenge",
                    "name": ch.metadata.name, "uid": ch.metadata.uid, "controller": true
                }]
            },
            "spec": {
                "hostnames": hostnames,
                "parentRefs": [{"name": "public", "namespace": "gateways"}],
                "rules": [{
                    "matches": [{"path": {"type": "Exact", "value": path}}],
                    "backendRefs": [{"name": "cm-acme-http-solver-xyz", "port": 8089}]
                }]
            },
            "status": status
        }))
        .expect("a valid HTTPRoute")
    }

    fn accepted() -> Value {
        serde_json::json!({"parents": [{
            "parentRef": {"name": "public"},
            "conditions": [
                {"type": "Accepted", "status": "True", "reason": "Accepted"},
                {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs"}
            ]
        }]})
    }

    fn check(routes: &[DynamicObject]) -> Vec<Finding> {
        let ch = fixtures::challenge();
        let ctx = Ctx::new(&ch);
        check_routes(&ctx, routes)
    }

    #[test]
    fn an_accepted_route_for_the_token_is_healthy() {
        let ch = fixtures::challenge();
        let path = format!("/.well-known/acme-challenge/{}", ch.spec.token);
        let r = route(accepted(), serde_json::json!([ch.spec.dns_name]), &path);
        assert_eq!(check(&[r]), Vec::new());
    }

    #[test]
    fn a_missing_route_is_named() {
        let f = check(&[]);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary.starts_with("no solver HTTPRoute"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn wrong_host_wrong_path_and_a_refusing_gateway_are_each_named() {
        let refused = serde_json::json!({"parents": [{
            "parentRef": {"name": "public"},
            "conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners",
                            "message": "no listener allows routes from namespace shop"}]
        }]});
        let r = route(
            refused,
            serde_json::json!(["other.example.com"]),
            "/elsewhere",
        );
        let summaries: Vec<String> = check(&[r]).into_iter().map(|f| f.summary).collect();
        assert_eq!(summaries.len(), 3, "{summaries:?}");
        assert!(
            summaries[0].contains("does not match the host"),
            "{summaries:?}"
        );
        assert!(summaries[1].contains("does not route"), "{summaries:?}");
        assert!(
            summaries[2].contains("does not accept")
                && summaries[2].contains("NotAllowedByListeners"),
            "{summaries:?}"
        );
    }

    #[test]
    fn a_route_nobody_reconciled_is_a_warning() {
        let ch = fixtures::challenge();
        let path = format!("/.well-known/acme-challenge/{}", ch.spec.token);
        let r = route(
            serde_json::json!({}),
            serde_json::json!([ch.spec.dns_name]),
            &path,
        );
        let f = check(&[r]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
    }
}
