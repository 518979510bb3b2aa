//! Reading and writing through the API: the untyped resources, fresh reads, and errors in
//! words (RBAC denials, conflicts, missing objects).

use kube::api::{Api, ApiResource, DynamicObject};

use super::Need;
use crate::actions::Action;
use crate::model::{Certificate, Challenge, Order};
use crate::source::cluster::{ClusterError, Resource};

pub(super) fn order_resource() -> ApiResource {
    ApiResource::erase::<Order>(&())
}

pub(super) fn challenge_resource() -> ApiResource {
    ApiResource::erase::<Challenge>(&())
}

pub(super) fn certificate_resource() -> ApiResource {
    ApiResource::erase::<Certificate>(&())
}

pub(super) fn read_only_reason(action: &Action) -> String {
    format!("read-only session: {action} is not allowed (started with --read-only)")
}

pub(super) async fn get(
    api: &Api<DynamicObject>,
    resource: Resource,
    kind: &str,
    ns: &str,
    name: &str,
) -> Result<DynamicObject, String> {
    match api.get(name).await {
        Ok(o) => Ok(o),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(ClusterError::NotFound {
            kind: kind.to_owned(),
            namespace: ns.to_owned(),
            name: name.to_owned(),
        }
        .to_string()),
        Err(e) => Err(rbac_words(ClusterError::from_kube(
            e,
            "get",
            &resource.qualified(),
            Some(ns),
        ))),
    }
}

/// A failed write in words: 403 names the verb and resource, 409 says the object changed,
/// 404 says it is gone.
pub(super) fn write_error(e: kube::Error, need: Need, kind: &str, ns: &str, name: &str) -> String {
    if let kube::Error::Api(s) = &e {
        match s.code {
            404 => return format!("{kind} {ns}/{name} not found: it is already gone"),
            409 => {
                return format!(
                    "{kind} {ns}/{name} changed meanwhile (the server refused the write: {}): nothing was changed; look again and try again",
                    s.message
                );
            }
            _ => {}
        }
    }
    let resource = format!(
        "{}{}",
        need.resource().qualified(),
        need.subresource()
            .map(|s| format!("/{s}"))
            .unwrap_or_default()
    );
    rbac_words(ClusterError::from_kube(e, need.verb(), &resource, Some(ns)))
}

/// Phrases a 403 the way SelfSubjectAccessReview denials are phrased.
pub(super) fn rbac_words(e: ClusterError) -> String {
    match e {
        ClusterError::Forbidden {
            verb,
            resource,
            namespace,
            message,
        } => format!(
            "RBAC does not allow {verb} {resource}{}: {message}",
            namespace
                .map(|n| format!(" in namespace {n}"))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_name_verb_and_resource() {
        assert_eq!(
            Need::DeleteOrders.words(),
            "delete orders.acme.cert-manager.io"
        );
        assert_eq!(
            Need::UpdateCertificateStatus.words(),
            "update certificates.cert-manager.io/status"
        );
    }

    #[test]
    fn forbidden_is_phrased_as_an_rbac_denial() {
        let e = ClusterError::Forbidden {
            verb: "get".into(),
            resource: "orders.acme.cert-manager.io".into(),
            namespace: Some("shop".into()),
            message: "no".into(),
        };
        assert_eq!(
            rbac_words(e),
            "RBAC does not allow get orders.acme.cert-manager.io in namespace shop: no"
        );
    }
}
