//! The solver Ingress: does it exist, does it route `/.well-known/acme-challenge/TOKEN` for
//! the DNS name to the solver Service's port, is it of the class the solver config asks for
//! (and does that class exist), and do its annotations get in the CA's way.
//!
//! cert-manager (`pkg/issuer/acme/http/ingress.go`) creates one rule for the DNS name (no host
//! for an IP identifier) with the exact challenge path, pathType ImplementationSpecific,
//! backend the solver Service on port 8089; `class` becomes the `kubernetes.io/ingress.class`
//! annotation, which controllers honour before `spec.ingressClassName`. With
//! `http01.ingress.name` it adds the same path to that existing Ingress instead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressClass};
use kube::ResourceExt;

use super::annotations::{Effect, blockers};
use super::config::SolverKind;
use super::{Ctx, is_controlled_by};
use crate::model::{Code, Finding, Severity};

/// The annotation that names an Ingress's class, older than `spec.ingressClassName`.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The annotation that marks the cluster's default IngressClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

const ADVICE_MISSING: &str = "cert-manager creates the solver Ingress when it presents the Challenge: read its log lines about this Challenge (an admission webhook of the ingress controller often rejects it).";
const ADVICE_NAMED_MISSING: &str = "Create the Ingress named in the issuer's http01.ingress.name, or remove `name` so cert-manager creates its own solver Ingress.";
const ADVICE_ROUTE: &str = "Let the challenge path reach the solver Service: delete the solver Ingress so cert-manager recreates it, or (edit-in-place) make sure no other path of the Ingress shadows /.well-known/acme-challenge/.";
const ADVICE_CLASS: &str = "Make the issuer's http01.ingress class (ingressClassName or class) the class of the controller that serves the name, then delete the solver Ingress so cert-manager recreates it.";
const ADVICE_ANNOTATIONS: &str = "Remove these annotations from the issuer's ingressTemplate (or from the Ingress edited in place), or exempt /.well-known/acme-challenge/ from them in the controller's configuration.";

/// The Ingresses that carry the Challenge's solver path: the one the solver config names, or
/// those cert-manager created and controls.
pub(super) fn solver_ingresses<'i>(ctx: &Ctx<'_>, all: &'i [Ingress]) -> Vec<&'i Ingress> {
    match &ctx.config.ingress_name {
        Some(name) => all.iter().filter(|i| &i.name_any() == name).collect(),
        None => all
            .iter()
            .filter(|i| is_controlled_by(&i.metadata, ctx.challenge))
            .collect(),
    }
}

/// Findings about the solver Ingresses.
pub(super) fn check_ingresses(
    ctx: &Ctx<'_>,
    ingresses: &[&Ingress],
    services: Option<&[&Service]>,
    classes: Option<&[IngressClass]>,
) -> Vec<Finding> {
    if ingresses.is_empty() {
        return missing(ctx).into_iter().collect();
    }
    let mut findings = Vec::new();
    for ing in ingresses {
        let name = ctx.name_of("Ingress", &ing.name_any());
        findings.extend(route(ctx, &name, ing, services));
        findings.extend(class(ctx, &name, ing, classes));
        findings.extend(annotation_findings(ctx, &name, ing));
    }
    findings
}

fn missing(ctx: &Ctx<'_>) -> Option<Finding> {
    if let Some(n) = &ctx.config.ingress_name {
        let name = ctx.name_of("Ingress", n);
        return Some(
            ctx.finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                format!("{name}, named by the solver config (http01.ingress.name), does not exist"),
                "cert-manager edits that Ingress to add the challenge path; without it nothing routes the path to the solver.".to_owned(),
                ADVICE_NAMED_MISSING,
            )
            .with_evidence(Ctx::fact(name, "not found")),
        );
    }
    // Without a recorded solver config it may be a Gateway solver: nothing to expect.
    (ctx.config.kind == SolverKind::Ingress).then(|| {
        ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!("no solver Ingress for {}", ctx.subject),
            format!(
                "No Ingress in namespace {} carries the labels {} with an owner reference to the Challenge, so nothing routes {} to the solver.",
                ctx.namespace,
                super::solver_selector(ctx.challenge),
                ctx.path
            ),
            ADVICE_MISSING,
        )
        .with_evidence(Ctx::fact(ctx.subject.clone(), "no solver Ingress found"))
    })
}

/// How well a rule's host fits the name: exact beats wildcard beats no host.
fn host_rank(rule_host: Option<&str>, name: &str) -> Option<u8> {
    let host = rule_host.unwrap_or_default();
    if host.is_empty() {
        return Some(0);
    }
    if host.eq_ignore_ascii_case(name) {
        return Some(2);
    }
    let suffix = host.strip_prefix("*.")?;
    let (first, rest) = name.split_once('.')?;
    (!first.is_empty() && rest.eq_ignore_ascii_case(suffix)).then_some(1)
}

/// Whether a path of `path_type` matches the request path, and how specifically.
fn path_rank(path_type: &str, rule_path: &str, request: &str) -> Option<(usize, u8)> {
    let rule_path = if rule_path.is_empty() { "/" } else { rule_path };
    match path_type {
        "Exact" => (rule_path == request).then_some((rule_path.len(), 1)),
        "Prefix" => {
            let trimmed = rule_path.trim_end_matches('/');
            let matches = trimmed.is_empty()
                || request == trimmed
                || request.starts_with(&format!("{trimmed}/"));
            matches.then_some((trimmed.len(), 0))
        }
        // ImplementationSpecific: controllers (ingress-nginx, Traefik) treat it as a prefix.
        _ => request
            .starts_with(rule_path)
            .then_some((rule_path.len(), 0)),
    }
}

/// The backend the Ingress sends the challenge request to, and the path that matched.
fn backend_for<'i>(
    ing: &'i Ingress,
    name: &str,
    request: &str,
) -> Option<(&'i IngressBackend, String)> {
    let spec = ing.spec.as_ref()?;
    let mut best: Option<((u8, usize, u8), &IngressBackend, String)> = None;
    for rule in spec.rules.iter().flatten() {
        let Some(h) = host_rank(rule.host.as_deref(), name) else {
            continue;
        };
        for p in rule.http.iter().flat_map(|h| h.paths.iter()) {
            let rule_path = p.path.as_deref().unwrap_or("/");
            if let Some((len, exact)) = path_rank(&p.path_type, rule_path, request) {
                let rank = (h, len, exact);
                if best.as_ref().is_none_or(|(r, ..)| rank > *r) {
                    best = Some((
                        rank,
                        &p.backend,
                        format!(
                            "{} {rule_path} ({})",
                            rule.host.as_deref().unwrap_or("*"),
                            p.path_type
                        ),
                    ));
                }
            }
        }
    }
    best.map(|(_, b, p)| (b, p)).or_else(|| {
        spec.default_backend
            .as_ref()
            .map(|b| (b, "defaultBackend".to_owned()))
    })
}

fn describe_backend(b: &IngressBackend) -> String {
    match (&b.service, &b.resource) {
        (Some(s), _) => {
            let port = s.port.as_ref().map(|p| match (&p.number, &p.name) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) => n.clone(),
                _ => "?".to_owned(),
            });
            format!(
                "Service {}:{}",
                s.name,
                port.unwrap_or_else(|| "?".to_owned())
            )
        }
        (None, Some(r)) => format!("{} {}", r.kind, r.name),
        _ => "nothing".to_owned(),
    }
}

fn route(
    ctx: &Ctx<'_>,
    name: &str,
    ing: &Ingress,
    services: Option<&[&Service]>,
) -> Option<Finding> {
    let host = ctx.dns_name();
    let Some((backend, matched)) = backend_for(ing, host, &ctx.path) else {
        return Some(
            ctx.finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                format!("{name} does not route {} for {host}", ctx.path),
                "No rule of the Ingress matches the name and the challenge path, so the controller answers 404.".to_owned(),
                ADVICE_ROUTE,
            )
            .with_evidence(Ctx::fact(name.to_owned(), format!("hosts: {}", hosts(ing)))),
        );
    };
    // Which Service is the solver's is only known when the Services could be read.
    let services = services.filter(|s| !s.is_empty())?;
    let svc_backend = backend.service.as_ref();
    let target = svc_backend.and_then(|b| services.iter().find(|s| s.name_any() == b.name));
    let port_ok = |svc: &Service| {
        let port = svc_backend.and_then(|b| b.port.as_ref());
        let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
        ports.into_iter().flatten().any(|sp| match port {
            Some(p) => {
                p.number == Some(sp.port)
                    || (p.number.is_none() && p.name.is_some() && p.name == sp.name)
            }
            None => false,
        })
    };
    let wrong = match target {
        None => "which is not the solver Service",
        Some(svc) if !port_ok(svc) => "a port the solver Service does not have",
        Some(_) => return None,
    };
    let solver = services
        .iter()
        .map(|s| s.name_any())
        .collect::<Vec<_>>()
        .join(", ");
    Some(
        ctx.finding(
            Code::Http01SolverBlocked,
            Severity::Error,
            format!(
                "{name} routes {} for {host} to {}, {wrong}",
                ctx.path,
                describe_backend(backend)
            ),
            format!(
                "The most specific match is {matched}; the solver Service is {solver} port {}.",
                super::SOLVER_PORT
            ),
            ADVICE_ROUTE,
        )
        .with_evidence(Ctx::fact(
            name.to_owned(),
            format!("{matched} -> {}", describe_backend(backend)),
        )),
    )
}

fn hosts(ing: &Ingress) -> String {
    let hosts: Vec<String> = ing
        .spec
        .iter()
        .flat_map(|s| s.rules.iter().flatten())
        .map(|r| r.host.clone().unwrap_or_else(|| "*".to_owned()))
        .collect();
    if hosts.is_empty() {
        "(no rules)".to_owned()
    } else {
        hosts.join(", ")
    }
}

/// The class an Ingress is served under and where it comes from; the annotation wins, as in
/// the controllers that still read it.
fn effective_class(ing: &Ingress) -> Option<(String, &'static str)> {
    let annotation = ing
        .annotations()
        .get(CLASS_ANNOTATION)
        .filter(|c| !c.is_empty());
    if let Some(c) = annotation {
        return Some((c.clone(), "annotation kubernetes.io/ingress.class"));
    }
    ing.spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.clone())
        .filter(|c| !c.is_empty())
        .map(|c| (c, "spec.ingressClassName"))
}

fn class(
    ctx: &Ctx<'_>,
    name: &str,
    ing: &Ingress,
    classes: Option<&[IngressClass]>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let have = effective_class(ing);
    // With `name` the Ingress is the user's own and the config carries no class.
    if ctx.config.ingress_name.is_none()
        && let Some((want, field)) = ctx.config.expected_class()
        && have.as_ref().is_none_or(|(c, _)| c != want)
    {
        let got = match &have {
            Some((c, from)) => format!("has class {c} ({from})"),
            None => "has no ingress class".to_owned(),
        };
        out.push(
            ctx.finding(
                Code::Http01SolverBlocked,
                Severity::Error,
                format!("{name} {got} but the solver config asks for {want} ({field})"),
                "The controller of the configured class does not serve this Ingress, so the challenge path is routed by another controller or none.".to_owned(),
                ADVICE_CLASS,
            )
            .with_evidence(Ctx::fact(name.to_owned(), got)),
        );
    }
    let Some(classes) = classes else {
        return out;
    };
    let exists = |c: &str| classes.iter().any(|k| k.name_any() == c);
    match &have {
        Some((c, from)) if !exists(c) => {
            // A class given by annotation is matched against controller flags (e.g.
            // ingress-nginx --ingress-class), so a missing IngressClass is only suspicious.
            let by_field = *from == "spec.ingressClassName";
            let known = classes
                .iter()
                .map(|k| k.name_any())
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                ctx.finding(
                    Code::Http01SolverBlocked,
                    if by_field { Severity::Error } else { Severity::Warning },
                    format!("{name} names ingress class {c} ({from}), but no IngressClass {c} exists"),
                    if by_field {
                        format!("No controller serves an Ingress whose IngressClass does not exist. Existing classes: {}.", or_none(&known))
                    } else {
                        format!("Only a controller started for class {c} (e.g. --ingress-class={c}) serves it. Existing IngressClasses: {}.", or_none(&known))
                    },
                    ADVICE_CLASS,
                )
                .with_evidence(Ctx::fact(name.to_owned(), format!("class {c} from {from}"))),
            );
        }
        None if !classes.iter().any(is_default) => {
            out.push(
                ctx.finding(
                    Code::Http01SolverBlocked,
                    Severity::Warning,
                    format!("{name} has no ingress class and the cluster has no default IngressClass"),
                    "Only controllers that also serve class-less Ingresses (e.g. ingress-nginx --watch-ingress-without-class) will route the challenge path.".to_owned(),
                    ADVICE_CLASS,
                )
                .with_evidence(Ctx::fact(name.to_owned(), "no class annotation, no spec.ingressClassName")),
            );
        }
        _ => {}
    }
    out
}

fn is_default(class: &IngressClass) -> bool {
    class
        .annotations()
        .get(DEFAULT_CLASS_ANNOTATION)
        .is_some_and(|v| v == "true")
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

/// One finding per kind of obstacle, naming every annotation of that kind.
fn annotation_findings(ctx: &Ctx<'_>, name: &str, ing: &Ingress) -> Vec<Finding> {
    let mut by_effect: BTreeMap<Effect, Vec<_>> = BTreeMap::new();
    for b in blockers(ing.annotations()) {
        by_effect.entry(b.effect).or_default().push(b);
    }
    by_effect
        .into_iter()
        .map(|(effect, list)| {
            let severity = list
                .iter()
                .map(|b| b.severity)
                .max()
                .unwrap_or(Severity::Warning);
            let keys = list
                .iter()
                .map(|b| format!("{}: \"{}\"", b.key, b.value))
                .collect::<Vec<_>>()
                .join(", ");
            let why = list
                .iter()
                .map(|b| b.why.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let mut f = ctx.finding(
                Code::Http01SolverBlocked,
                severity,
                format!(
                    "{name} annotations {} on the challenge path: {keys}",
                    effect.words()
                ),
                format!("{why}."),
                ADVICE_ANNOTATIONS,
            );
            for b in &list {
                f = f.with_evidence(Ctx::fact(
                    name.to_owned(),
                    format!("annotation {}: \"{}\"", b.key, b.value),
                ));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn run_with(
        ch: &crate::model::Challenge,
        ings: &[Ingress],
        classes: Option<&[IngressClass]>,
    ) -> Vec<Finding> {
        let ctx = Ctx::new(ch);
        let svc = service();
        let services = [&svc];
        let found = solver_ingresses(&ctx, ings);
        check_ingresses(&ctx, &found, Some(&services), classes)
    }

    fn run(ings: &[Ingress], classes: Option<&[IngressClass]>) -> Vec<Finding> {
        run_with(&challenge(), ings, classes)
    }

    fn patched(patch: serde_json::Value) -> Ingress {
        let mut v = serde_json::to_value(ingress()).expect("serialises");
        merge(&mut v, patch);
        serde_json::from_value(v).expect("valid")
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn cert_managers_own_ingress_is_fine() {
        let classes = [ingress_class("nginx", false)];
        assert!(run(&[ingress()], Some(&classes)).is_empty());
        assert!(run(&[ingress()], None).is_empty());
    }

    #[test]
    fn missing_ingress_only_for_ingress_solvers() {
        let f = run(&[], None);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "no solver Ingress for Challenge shop/www-example-com-1-2-3"
        );
        let gateway = challenge_with_solver(json!({"http01": {"gatewayHTTPRoute": {}}}));
        assert!(run_with(&gateway, &[], None).is_empty());
        // An unowned Ingress with the labels is not the solver's.
        let mut stray = ingress();
        stray.metadata.owner_references = None;
        assert_eq!(run(&[stray], None).len(), 1);
    }

    #[test]
    fn named_ingress_edited_in_place() {
        let ch = challenge_with_solver(json!({"http01": {"ingress": {"name": "web"}}}));
        let f = run_with(&ch, &[], None);
        assert_eq!(
            f[0].summary,
            "Ingress shop/web, named by the solver config (http01.ingress.name), does not exist"
        );
        // The user's Ingress: app on "/" and the solver path cert-manager inserted.
        let web: Ingress = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": DNS_NAME, "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                {"path": format!("/.well-known/acme-challenge/{TOKEN}"), "pathType": "ImplementationSpecific",
                 "backend": {"service": {"name": SERVICE, "port": {"number": 8089}}}}
            ]}}]}
        }))
        .expect("valid");
        assert!(run_with(&ch, std::slice::from_ref(&web), None).is_empty());
        // Without the solver path the app's "/" answers: wrong backend.
        let mut bare = web;
        if let Some(h) = bare
            .spec
            .as_mut()
            .and_then(|s| s.rules.as_mut())
            .and_then(|r| r[0].http.as_mut())
        {
            h.paths.truncate(1);
        }
        let f = run_with(&ch, &[bare], None);
        assert_eq!(
            f[0].summary,
            format!(
                "Ingress shop/web routes /.well-known/acme-challenge/{TOKEN} for www.example.com to Service web:80, which is not the solver Service"
            )
        );
    }

    #[test]
    fn route_for_another_host_or_port() {
        let f = run(
            &[patched(
                json!({"spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{
            "path": format!("/.well-known/acme-challenge/{TOKEN}"), "pathType": "Exact",
            "backend": {"service": {"name": SERVICE, "port": {"number": 8089}}}}]}}]}}),
            )],
            None,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            format!(
                "Ingress shop/cm-acme-http-solver-ing01 does not route /.well-known/acme-challenge/{TOKEN} for www.example.com"
            )
        );
        let f = run(
            &[patched(
                json!({"spec": {"rules": [{"host": "*.example.com", "http": {"paths": [{
            "path": "/.well-known/acme-challenge", "pathType": "Prefix",
            "backend": {"service": {"name": SERVICE, "port": {"number": 80}}}}]}}]}}),
            )],
            None,
        );
        assert!(
            f[0].summary.ends_with(
                "to Service cm-acme-http-solver-svc01:80, a port the solver Service does not have"
            ),
            "{}",
            f[0].summary
        );
        // A named port that the Service has is fine.
        let ok = patched(
            json!({"spec": {"rules": [{"host": DNS_NAME, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": SERVICE, "port": {"name": "http"}}}}]}}]}}),
        );
        assert!(run(&[ok], None).is_empty());
    }

    #[test]
    fn path_and_host_matching_rules() {
        assert_eq!(host_rank(Some("*.example.com"), "www.example.com"), Some(1));
        assert_eq!(host_rank(Some("*.example.com"), "a.b.example.com"), None);
        assert_eq!(
            host_rank(Some("WWW.example.com"), "www.example.com"),
            Some(2)
        );
        assert_eq!(host_rank(None, "x"), Some(0));
        assert!(
            path_rank(
                "Prefix",
                "/.well-known/acme",
                "/.well-known/acme-challenge/x"
            )
            .is_none()
        );
        assert!(path_rank("Prefix", "/.well-known/", "/.well-known/acme-challenge/x").is_some());
        assert!(path_rank("Exact", "/a/b", "/a/b/").is_none());
        assert!(
            path_rank(
                "ImplementationSpecific",
                "/.well-known/acme",
                "/.well-known/acme-challenge/x"
            )
            .is_some()
        );
    }

    #[test]
    fn class_mismatch_and_missing_class() {
        let wrong = patched(json!({"spec": {"ingressClassName": "traefik"}}));
        let f = run(&[wrong], Some(&[ingress_class("nginx", true)]));
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(
            f[0].summary,
            "Ingress shop/cm-acme-http-solver-ing01 has class traefik (spec.ingressClassName) but the solver config asks for nginx (ingressClassName)"
        );
        assert_eq!(
            f[1].summary,
            "Ingress shop/cm-acme-http-solver-ing01 names ingress class traefik (spec.ingressClassName), but no IngressClass traefik exists"
        );
        assert_eq!(f[1].severity, Severity::Error);
        // The annotation takes precedence over the field.
        let annotated = patched(
            json!({"metadata": {"annotations": {"kubernetes.io/ingress.class": "public"}}}),
        );
        let f = run(&[annotated], None);
        assert!(
            f[0].summary
                .contains("has class public (annotation kubernetes.io/ingress.class)")
        );
    }

    #[test]
    fn class_less_ingress_without_default_class() {
        let ch = challenge_with_solver(json!({"http01": {"ingress": {}}}));
        let mut plain = ingress();
        if let Some(s) = plain.spec.as_mut() {
            s.ingress_class_name = None;
        }
        let f = run_with(
            &ch,
            &[plain.clone()],
            Some(&[ingress_class("nginx", false)]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].summary
                .ends_with("has no ingress class and the cluster has no default IngressClass")
        );
        assert!(run_with(&ch, &[plain], Some(&[ingress_class("nginx", true)])).is_empty());
    }

    #[test]
    fn annotations_are_grouped_by_effect() {
        let ing = patched(json!({"metadata": {"annotations": {
            "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
            "nginx.ingress.kubernetes.io/auth-url": "https://oauth.example.com/oauth2/auth",
            "nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8"
        }}}));
        let f = run(&[ing], None);
        assert_eq!(f.len(), 3, "{f:#?}");
        assert!(f[0].summary.contains("force an HTTPS redirect on the challenge path: nginx.ingress.kubernetes.io/force-ssl-redirect: \"true\", nginx.ingress.kubernetes.io/ssl-redirect: \"true\""), "{}", f[0].summary);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[1].summary.contains("require authentication"));
        assert!(f[2].summary.contains("restrict client addresses"));
        assert_eq!(f[2].severity, Severity::Error);
        assert_eq!(f[2].evidence.len(), 1);
    }
}
