//! `http01-not-pointing-to-ingress`: the CA connects to the name's A/AAAA addresses, so they
//! must be where the solver Ingress is served: the load-balancer addresses its controller
//! publishes in `status.loadBalancer.ingress`, or those of a LoadBalancer solver Service.
//!
//! A status hostname (AWS ELB style) is not resolved here, and a private status address means
//! something (NAT, an external load balancer, a CDN) sits in front: in both cases the
//! comparison cannot be made and certdx says so at info level rather than accuse the DNS.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;

use super::Ctx;
use crate::checks::http01::reserved_reason;
use crate::model::{Code, Finding, Severity};

const ADVICE: &str = "Point the name's A/AAAA records at the ingress controller's load-balancer addresses (or remove the stray ones), or solve through the controller the name actually points at (the issuer's ingress class).";
const ADVICE_UNKNOWN: &str = "Compare the name's addresses with the ingress controller's external addresses yourself (`kubectl get svc -n <controller namespace>`); nothing to do if they match.";

/// Where the solver is served from: an address or hostname and the object that publishes it.
struct Published {
    ip: Option<IpAddr>,
    hostname: Option<String>,
    source: String,
}

/// Compares the name's addresses with the solver Ingress's (and LoadBalancer Services')
/// published addresses.
pub(super) fn check_addresses(
    ctx: &Ctx<'_>,
    addresses: &[IpAddr],
    ingresses: &[&Ingress],
    services: &[&Service],
) -> Vec<Finding> {
    let lb_services: Vec<&&Service> = services
        .iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer"))
        .collect();
    if addresses.is_empty() || (ingresses.is_empty() && lb_services.is_empty()) {
        return Vec::new();
    }
    let mut published = Vec::new();
    for ing in ingresses {
        let source = ctx.name_of("Ingress", &ing.name_any());
        let entries = ing
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.clone());
        for e in entries.unwrap_or_default() {
            published.push(Published {
                ip: parse(e.ip.as_deref()),
                hostname: e.hostname,
                source: source.clone(),
            });
        }
    }
    for svc in &lb_services {
        let source = ctx.name_of("Service", &svc.name_any());
        let entries = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.clone());
        for e in entries.unwrap_or_default() {
            published.push(Published {
                ip: parse(e.ip.as_deref()),
                hostname: e.hostname,
                source: source.clone(),
            });
        }
    }
    let name = ctx.dns_name();
    let resolved = list(addresses.iter().map(ToString::to_string));
    let objects = list(
        ingresses
            .iter()
            .map(|i| ctx.name_of("Ingress", &i.name_any()))
            .chain(
                lb_services
                    .iter()
                    .map(|s| ctx.name_of("Service", &s.name_any())),
            ),
    );
    let info = |summary: String, detail: String| {
        ctx.finding(
            Code::Http01NotPointingToIngress,
            Severity::Info,
            summary,
            detail,
            ADVICE_UNKNOWN,
        )
        .with_evidence(Ctx::fact(
            format!("DNS {name}"),
            format!("A/AAAA {resolved}"),
        ))
    };
    if published.is_empty() {
        return vec![info(
            format!("cannot compare {name}'s addresses with {objects}: no load-balancer address in its status"),
            "The ingress controller has not published an address for the solver Ingress (some controllers never do), so whether the name points at it is unknown.".to_owned(),
        )];
    }
    let ips: Vec<IpAddr> = published.iter().filter_map(|p| p.ip).collect();
    let hostnames: Vec<&str> = published
        .iter()
        .filter_map(|p| p.hostname.as_deref())
        .collect();
    let stray: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .filter(|a| !ips.contains(a))
        .collect();
    if stray.is_empty() {
        return Vec::new();
    }
    let served = list(published.iter().map(|p| {
        let at =
            p.ip.map(|i| i.to_string())
                .or_else(|| p.hostname.clone())
                .unwrap_or_default();
        format!("{at} ({})", p.source)
    }));
    let with_evidence = |f: Finding| {
        published.iter().fold(f, |f, p| {
            let at =
                p.ip.map(|i| i.to_string())
                    .or_else(|| p.hostname.clone())
                    .unwrap_or_default();
            f.with_evidence(Ctx::fact(
                p.source.clone(),
                format!("status.loadBalancer.ingress {at}"),
            ))
        })
    };
    if !hostnames.is_empty() {
        return vec![with_evidence(info(
            format!(
                "cannot compare {name} ({resolved}) with {objects}: it is served at hostname {}, not resolved here",
                hostnames.join(", ")
            ),
            format!("Published addresses: {served}."),
        ))];
    }
    let all_private = ips.iter().all(|ip| reserved_reason(*ip, false).is_some());
    let name_public = addresses
        .iter()
        .any(|a| reserved_reason(*a, false).is_none());
    if all_private && name_public {
        return vec![with_evidence(info(
            format!("cannot compare {name} ({resolved}) with {objects}: its load-balancer address {} is private", list(ips.iter().map(ToString::to_string))),
            "Something in front of the controller (NAT, an external load balancer, a CDN) owns the public address; check that it forwards port 80 to the controller.".to_owned(),
        ))];
    }
    let matched = addresses.len() - stray.len();
    let summary = if matched == 0 {
        format!(
            "{name} resolves to {resolved}, but {objects} is served at {}",
            list(ips.iter().map(ToString::to_string))
        )
    } else {
        format!(
            "{name} also resolves to {}, which is not an address of {objects}",
            list(stray.iter().map(ToString::to_string))
        )
    };
    let detail = format!(
        "The CA connects to the name's addresses (IPv6 first); {} of {} {} to the ingress that serves the solver. Published addresses: {served}.",
        matched,
        addresses.len(),
        if matched == 1 { "leads" } else { "lead" }
    );
    vec![with_evidence(
        ctx.finding(
            Code::Http01NotPointingToIngress,
            Severity::Error,
            summary,
            detail,
            ADVICE,
        )
        .with_evidence(Ctx::fact(
            format!("DNS {name}"),
            format!("A/AAAA {resolved}"),
        )),
    )]
}

fn parse(ip: Option<&str>) -> Option<IpAddr> {
    ip.and_then(|s| s.trim().parse().ok())
}

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid ip")
    }

    fn run(addresses: &[IpAddr], ings: &[Ingress], svcs: &[Service]) -> Vec<Finding> {
        let ch = challenge();
        let ctx = Ctx::new(&ch);
        let i: Vec<&Ingress> = ings.iter().collect();
        let s: Vec<&Service> = svcs.iter().collect();
        check_addresses(&ctx, addresses, &i, &s)
    }

    fn with_lb(status: serde_json::Value) -> Ingress {
        let mut ing = ingress();
        ing.status = Some(
            serde_json::from_value(json!({"loadBalancer": {"ingress": status}})).expect("valid"),
        );
        ing
    }

    #[test]
    fn matching_addresses_are_fine() {
        assert!(run(&[ip(LB_IP)], &[ingress()], &[]).is_empty());
        // Nothing to compare without addresses or without an Ingress.
        assert!(run(&[], &[ingress()], &[]).is_empty());
        assert!(run(&[ip("198.51.100.1")], &[], &[service()]).is_empty());
    }

    #[test]
    fn pointing_elsewhere_is_an_error() {
        let f = run(&[ip("198.51.100.1")], &[ingress()], &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::Http01NotPointingToIngress);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(
            f[0].summary,
            "www.example.com resolves to 198.51.100.1, but Ingress shop/cm-acme-http-solver-ing01 is served at 203.0.113.10"
        );
    }

    #[test]
    fn a_stray_aaaa_is_named() {
        let f = run(&[ip(LB_IP), ip("2001:db8::1")], &[ingress()], &[]);
        assert_eq!(
            f[0].summary,
            "www.example.com also resolves to 2001:db8::1, which is not an address of Ingress shop/cm-acme-http-solver-ing01"
        );
        assert!(f[0].detail.contains("1 of 2"));
    }

    #[test]
    fn cannot_compare_without_status_hostname_or_public_address() {
        let f = run(&[ip("198.51.100.1")], &[with_lb(json!([]))], &[]);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(
            f[0].summary
                .contains("no load-balancer address in its status")
        );
        let f = run(
            &[ip("198.51.100.1")],
            &[with_lb(json!([{"hostname": "a1.elb.amazonaws.com"}]))],
            &[],
        );
        assert_eq!(f[0].severity, Severity::Info);
        assert!(
            f[0].summary
                .contains("served at hostname a1.elb.amazonaws.com, not resolved here")
        );
        // A public name address (not a documentation range, which counts as reserved).
        let f = run(
            &[ip("93.184.216.34")],
            &[with_lb(json!([{"ip": "10.0.0.5"}]))],
            &[],
        );
        assert_eq!(f[0].severity, Severity::Info);
        assert!(
            f[0].summary
                .ends_with("its load-balancer address 10.0.0.5 is private"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn load_balancer_solver_service_counts() {
        let mut svc = service();
        if let Some(s) = svc.spec.as_mut() {
            s.type_ = Some("LoadBalancer".into());
        }
        svc.status = Some(
            serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}))
                .expect("valid"),
        );
        assert!(run(&[ip("198.51.100.1")], &[], &[svc.clone()]).is_empty());
        let f = run(&[ip("192.0.2.99")], &[], &[svc]);
        assert!(
            f[0].summary
                .contains("Service shop/cm-acme-http-solver-svc01 is served at 198.51.100.1"),
            "{}",
            f[0].summary
        );
    }
}
