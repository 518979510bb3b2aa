//! cert-manager's webhook as the API server sees it: the CA bundles of its Validating- and
//! MutatingWebhookConfigurations (present, parseable, in date, the same in both kinds).

use jiff::Timestamp;
use kube::ResourceExt;

use super::{CertManagerHealth, WebhookConfigHealth, fact, unhealthy};
use crate::model::Severity;
use crate::source::cluster::health::{HealthObjects, Read};

/// One webhook configuration as read: its webhooks' CA bundles and where cainjector takes
/// them from.
struct ConfigSeen {
    kind: &'static str,
    name: String,
    bundles: Vec<Option<Vec<u8>>>,
    injected: Option<String>,
}

/// The annotations cainjector acts on.
const INJECT_ANNOTATIONS: [&str; 3] = [
    "cert-manager.io/inject-ca-from-secret",
    "cert-manager.io/inject-ca-from",
    "cert-manager.io/inject-apiserver-ca",
];

/// The CA bundles of the webhook's configurations: present, parseable, in date, the same in
/// both kinds.
pub(super) fn judge_webhook_configs(
    objects: &HealthObjects,
    now: Timestamp,
    h: &mut CertManagerHealth,
) {
    let mut seen: Vec<ConfigSeen> = Vec::new();
    seen_configs(
        &objects.validating,
        "ValidatingWebhookConfiguration",
        |c| {
            (
                c.name_any(),
                bundles(c.webhooks.iter().flatten().map(|w| &w.client_config)),
                injected_from(c.annotations()),
            )
        },
        &mut seen,
        h,
    );
    seen_configs(
        &objects.mutating,
        "MutatingWebhookConfiguration",
        |c| {
            (
                c.name_any(),
                bundles(c.webhooks.iter().flatten().map(|w| &w.client_config)),
                injected_from(c.annotations()),
            )
        },
        &mut seen,
        h,
    );
    let mut first_bundle: Option<(String, Vec<u8>)> = None;
    for ConfigSeen {
        kind,
        name,
        bundles,
        injected,
    } in seen
    {
        let present = !bundles.is_empty()
            && bundles.iter().all(|b| {
                b.as_ref()
                    .is_some_and(|b| !b.iter().all(u8::is_ascii_whitespace))
            });
        let bundle = bundles.iter().flatten().next().cloned();
        let not_after = bundle.as_deref().and_then(first_not_after);
        let label = format!("{kind} {name}");
        if !present {
            let mut f = unhealthy(
                Severity::Fatal,
                format!(
                    "{label} has no CA bundle: the API server cannot trust cert-manager's webhook{}",
                    match &injected {
                        Some(from) => format!(" (cainjector should inject it from {from})"),
                        None => String::new(),
                    }
                ),
            );
            f.evidence.push(fact(
                &label,
                "webhooks[].clientConfig.caBundle is empty".to_owned(),
            ));
            h.findings.push(f);
        } else if let Some(t) = not_after.filter(|t| *t <= now) {
            h.findings.push(unhealthy(
                Severity::Fatal,
                format!(
                    "the CA bundle of {label} expired at {t}: the API server cannot trust cert-manager's webhook"
                ),
            ));
        } else if not_after.is_none() {
            h.findings.push(unhealthy(
                Severity::Error,
                format!("the CA bundle of {label} is not a PEM certificate certdx can read"),
            ));
        }
        if let (Some(b), Some((other, ob))) = (&bundle, &first_bundle)
            && b != ob
        {
            h.findings.push(unhealthy(
                Severity::Warning,
                format!(
                    "{label} and {other} carry different CA bundles: one of them is stale, and the webhook's serving certificate matches at most one"
                ),
            ));
        }
        if first_bundle.is_none()
            && let Some(b) = &bundle
        {
            first_bundle = Some((label.clone(), b.clone()));
        }
        h.webhook_configurations.push(WebhookConfigHealth {
            kind: kind.to_owned(),
            name,
            ca_bundle_present: present,
            ca_not_after: not_after,
            ca_matches_serving_certificate: None,
            injected_from: injected,
        });
    }
}

fn injected_from(a: &std::collections::BTreeMap<String, String>) -> Option<String> {
    INJECT_ANNOTATIONS.iter().find_map(|k| {
        a.get(*k).map(|v| {
            if *k == "cert-manager.io/inject-apiserver-ca" {
                "the API server's CA".to_owned()
            } else {
                format!("{k}: {v}")
            }
        })
    })
}

/// The expiry of the first certificate of a PEM bundle.
fn first_not_after(pem: &[u8]) -> Option<Timestamp> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    Timestamp::from_second(cert.validity().not_after.timestamp()).ok()
}

/// Adds the configurations of one kind as read to `seen`, or says why there are none.
fn seen_configs<T>(
    read: &Read<Vec<T>>,
    kind: &'static str,
    parts: impl Fn(&T) -> (String, Vec<Option<Vec<u8>>>, Option<String>),
    seen: &mut Vec<ConfigSeen>,
    h: &mut CertManagerHealth,
) {
    match read {
        Read::Found(list) => seen.extend(list.iter().map(|c| {
            let (name, bundles, injected) = parts(c);
            ConfigSeen {
                kind,
                name,
                bundles,
                injected,
            }
        })),
        Read::Absent => h
            .notes
            .push(format!("no {kind} calls cert-manager's webhook")),
        Read::Unreadable(why) => h.notes.push(why.clone()),
    }
}

/// The CA bundle of each webhook.
fn bundles<'a>(
    configs: impl Iterator<Item = &'a k8s_openapi::api::admissionregistration::v1::WebhookClientConfig>,
) -> Vec<Option<Vec<u8>>> {
    configs.map(|c| c.ca_bundle.clone().map(|b| b.0)).collect()
}
