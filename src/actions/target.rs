//! What `retry` takes: a Certificate, CertificateRequest, Order or Challenge, as NAME or
//! KIND/NAME, found among the objects of one namespace.

use kube::ResourceExt;

use crate::model::{Inventory, Kind, ObjectRef};

/// The kinds `retry` accepts, with the names kubectl users type for them.
const KIND_NAMES: [(Kind, &[&str]); 4] = [
    (
        Kind::Certificate,
        &[
            "certificate",
            "certificates",
            "cert",
            "certs",
            "certificates.cert-manager.io",
        ],
    ),
    (
        Kind::CertificateRequest,
        &[
            "certificaterequest",
            "certificaterequests",
            "cr",
            "crs",
            "certificaterequests.cert-manager.io",
        ],
    ),
    (
        Kind::Order,
        &["order", "orders", "orders.acme.cert-manager.io"],
    ),
    (
        Kind::Challenge,
        &[
            "challenge",
            "challenges",
            "ch",
            "challenges.acme.cert-manager.io",
        ],
    ),
];

/// Finds the object `spec` (NAME or KIND/NAME) names in `namespace` of `inv`. `Err` says what
/// was asked, what exists, and the closest names.
pub fn find_target(inv: &Inventory, namespace: &str, spec: &str) -> Result<ObjectRef, String> {
    let spec = spec.trim();
    let (kinds, name): (Vec<Kind>, &str) = match spec.split_once('/') {
        Some((kind, name)) => {
            let lower = kind.to_ascii_lowercase();
            let Some((kind, _)) = KIND_NAMES
                .iter()
                .find(|(_, names)| names.contains(&lower.as_str()))
            else {
                return Err(format!(
                    "{kind:?} is not a kind retry works on: name a Certificate, CertificateRequest, Order or Challenge (KIND/NAME, or NAME alone)"
                ));
            };
            (vec![*kind], name)
        }
        None => (KIND_NAMES.iter().map(|(k, _)| *k).collect(), spec),
    };
    let names = |kind: Kind| -> Vec<String> {
        match kind {
            Kind::Certificate => names_in(&inv.certificates, namespace),
            Kind::CertificateRequest => names_in(&inv.requests, namespace),
            Kind::Order => names_in(&inv.orders, namespace),
            Kind::Challenge => names_in(&inv.challenges, namespace),
            Kind::Issuer | Kind::ClusterIssuer => Vec::new(),
        }
    };
    let found: Vec<Kind> = kinds
        .iter()
        .copied()
        .filter(|&k| names(k).iter().any(|n| n == name))
        .collect();
    match found.as_slice() {
        [kind] => Ok(ObjectRef {
            kind: *kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }),
        // Several kinds share the name: any of them leads to a chain, but not necessarily the
        // same one, so ask rather than guess.
        [_, _, ..] => Err(format!(
            "{name:?} names more than one object in namespace {namespace} ({}): say which, e.g. {}/{name}",
            found
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            found[0].as_str().to_ascii_lowercase()
        )),
        [] => {
            let mut all: Vec<(Kind, String)> = kinds
                .iter()
                .flat_map(|&k| names(k).into_iter().map(move |n| (k, n)))
                .collect();
            let what = kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if all.is_empty() {
                return Err(format!(
                    "no {what} named {name:?} in namespace {namespace}: the namespace has none of these (wrong namespace? -n NAMESPACE, or the context's namespace is used)"
                ));
            }
            all.sort_by_key(|(_, n)| strsim::levenshtein(n, name));
            let closest = all
                .iter()
                .take(3)
                .map(|(k, n)| format!("{}/{n}", k.as_str().to_ascii_lowercase()))
                .collect::<Vec<_>>()
                .join(", ");
            Err(format!(
                "no {what} named {name:?} in namespace {namespace}; closest: {closest}"
            ))
        }
    }
}

/// The names of the objects of `list` in `namespace`.
fn names_in<K: ResourceExt>(list: &[K], namespace: &str) -> Vec<String> {
    list.iter()
        .filter(|o| o.namespace().as_deref() == Some(namespace))
        .map(ResourceExt::name_any)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        let yaml = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: shop-tls, namespace: shop}
spec: {secretName: shop-tls, dnsNames: [shop.example.com], issuerRef: {name: le}}
---
apiVersion: acme.cert-manager.io/v1
kind: Order
metadata: {name: shop-tls-1-2841905717, namespace: shop}
spec: {request: "", issuerRef: {name: le}, dnsNames: [shop.example.com]}
"#;
        let mut snap = crate::source::snapshot::Snapshot::default();
        crate::source::snapshot::load_text(yaml, std::path::Path::new("t.yaml"), &mut snap);
        assert!(snap.problems.is_empty(), "{:?}", snap.problems);
        snap.inventory
    }

    #[test]
    fn bare_names_and_kinds_resolve() {
        let inv = inventory();
        let t = find_target(&inv, "shop", "shop-tls").unwrap();
        assert_eq!(t.kind, Kind::Certificate);
        let t = find_target(&inv, "shop", "orders/shop-tls-1-2841905717").unwrap();
        assert_eq!(t.kind, Kind::Order);
        let t = find_target(&inv, "shop", "Order/shop-tls-1-2841905717").unwrap();
        assert_eq!(t.name, "shop-tls-1-2841905717");
    }

    #[test]
    fn misses_name_the_closest_and_the_namespace() {
        let inv = inventory();
        let e = find_target(&inv, "shop", "shop-tsl").unwrap_err();
        assert!(e.contains("closest: certificate/shop-tls"), "{e}");
        let e = find_target(&inv, "nosuchns", "shop-tls").unwrap_err();
        assert!(
            e.contains("in namespace nosuchns: the namespace has none"),
            "{e}"
        );
        let e = find_target(&inv, "shop", "secret/shop-tls").unwrap_err();
        assert!(e.contains("not a kind retry works on"), "{e}");
        // A kind that exists under the name only as another kind is a miss, not a guess.
        let e = find_target(&inv, "shop", "order/shop-tls").unwrap_err();
        assert!(e.contains("no Order named"), "{e}");
    }
}
