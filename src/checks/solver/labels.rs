//! How cert-manager marks the objects of one HTTP-01 solver, and Kubernetes label selectors.
//!
//! cert-manager (`pkg/issuer/acme/http/pod.go`, `podLabels`) labels the solver's Pod, Service
//! and Ingress with the Adler-32 checksum, in decimal, of the Challenge's DNS name and token,
//! and finds them again by those labels plus an owner reference (controller: true) to the
//! Challenge. Hashes, because a DNS name can be longer than a label value's 63 characters.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::model::Challenge;

/// Label whose value is the Adler-32 checksum of the DNS name being validated.
pub const DOMAIN_LABEL: &str = "acme.cert-manager.io/http-domain";
/// Label whose value is the Adler-32 checksum of the challenge token.
pub const TOKEN_LABEL: &str = "acme.cert-manager.io/http-token";
/// Label set to `"true"` on every HTTP-01 solver object.
pub const SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";

/// The Adler-32 checksum (RFC 1950), what Go's `hash/adler32` computes.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the longest run before `b` could overflow a u32 without a reduction.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// The labels cert-manager puts on the solver objects of `challenge`.
pub fn solver_labels(challenge: &Challenge) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            DOMAIN_LABEL.to_owned(),
            adler32(challenge.spec.dns_name.as_bytes()).to_string(),
        ),
        (
            TOKEN_LABEL.to_owned(),
            adler32(challenge.spec.token.as_bytes()).to_string(),
        ),
        (SOLVER_LABEL.to_owned(), "true".to_owned()),
    ])
}

/// The solver labels as a list-call label selector (`k=v,k=v,...`).
pub fn solver_selector(challenge: &Challenge) -> String {
    solver_labels(challenge)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `meta` has a controller owner reference to `challenge`, the test cert-manager
/// applies before it treats an object as the Challenge's. Without a uid on the Challenge (a
/// snapshot that dropped it) the owner's kind and name decide.
pub fn is_controlled_by(meta: &ObjectMeta, challenge: &Challenge) -> bool {
    let uid = challenge.metadata.uid.as_deref().filter(|u| !u.is_empty());
    let name = challenge.metadata.name.as_deref().unwrap_or_default();
    meta.owner_references.iter().flatten().any(|r| {
        r.controller == Some(true)
            && r.kind == "Challenge"
            && match uid {
                Some(uid) => r.uid == uid,
                None => r.name == name,
            }
    })
}

/// Whether a label selector selects an object with `labels`, by the API's rules: every
/// `matchLabels` pair and every `matchExpressions` requirement must hold; an empty selector
/// selects everything. An unknown operator selects nothing, as the API server would reject it.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector.match_labels.iter().flatten();
    let pairs_hold = pairs
        .into_iter()
        .all(|(k, v)| labels.get(k).is_some_and(|have| have == v));
    let expressions_hold = selector.match_expressions.iter().flatten().all(|req| {
        let have = labels.get(&req.key);
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" => have.is_some_and(|h| values.contains(h)),
            "NotIn" => have.is_none_or(|h| !values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    });
    pairs_hold && expressions_hold
}

/// Whether a Service-style selector (plain map, every pair must match) selects `labels`. An
/// empty map selects nothing: a Service without a selector gets no endpoints automatically.
pub fn map_selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        LabelSelectorRequirement, OwnerReference,
    };

    #[test]
    fn adler32_matches_known_values() {
        // Values from zlib.adler32 and the RFC 1950 worked example ("Wikipedia").
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b"example.docker.com"), 1_132_529_408);
        assert_eq!(adler32(b"thing.example.com"), 1_013_450_402);
        assert_eq!(adler32(b"testtoken"), 328_926_178);
        // Long input: the modular reduction must happen before overflow.
        let long = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &long {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(u64::from(adler32(&long)), (b << 16) | a);
    }

    #[test]
    fn labels_and_selector_follow_cert_manager() {
        let mut ch = Challenge::new("c", Default::default());
        ch.spec.dns_name = "thing.example.com".into();
        ch.spec.token = "testtoken".into();
        let labels = solver_labels(&ch);
        assert_eq!(labels[DOMAIN_LABEL], "1013450402");
        assert_eq!(labels[TOKEN_LABEL], "328926178");
        assert_eq!(labels[SOLVER_LABEL], "true");
        assert_eq!(
            solver_selector(&ch),
            "acme.cert-manager.io/http-domain=1013450402,acme.cert-manager.io/http-token=328926178,acme.cert-manager.io/http01-solver=true"
        );
    }

    #[test]
    fn controller_reference_by_uid_or_name() {
        let mut ch = Challenge::new("c", Default::default());
        let owner = |uid: &str, controller| ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                api_version: "acme.cert-manager.io/v1".into(),
                kind: "Challenge".into(),
                name: "c".into(),
                uid: uid.into(),
                controller: Some(controller),
                block_owner_deletion: None,
            }]),
            ..ObjectMeta::default()
        };
        assert!(is_controlled_by(&owner("u1", true), &ch));
        ch.metadata.uid = Some("u1".into());
        assert!(is_controlled_by(&owner("u1", true), &ch));
        assert!(!is_controlled_by(&owner("u2", true), &ch));
        assert!(!is_controlled_by(&owner("u1", false), &ch));
        assert!(!is_controlled_by(&ObjectMeta::default(), &ch));
    }

    #[test]
    fn selectors_follow_api_semantics() {
        let labels = BTreeMap::from([
            ("app".to_owned(), "web".to_owned()),
            ("tier".to_owned(), "front".to_owned()),
        ]);
        let expr = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        };
        let sel = |ml: &[(&str, &str)], me: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: Some(
                ml.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            match_expressions: Some(me),
        };
        assert!(selector_matches(&LabelSelector::default(), &labels));
        assert!(selector_matches(&sel(&[("app", "web")], vec![]), &labels));
        assert!(!selector_matches(&sel(&[("app", "api")], vec![]), &labels));
        assert!(selector_matches(
            &sel(&[], vec![expr("tier", "In", &["front", "back"])]),
            &labels
        ));
        assert!(!selector_matches(
            &sel(&[], vec![expr("tier", "NotIn", &["front"])]),
            &labels
        ));
        assert!(selector_matches(
            &sel(&[], vec![expr("zone", "NotIn", &["a"])]),
            &labels
        ));
        assert!(selector_matches(
            &sel(&[], vec![expr("app", "Exists", &[])]),
            &labels
        ));
        assert!(!selector_matches(
            &sel(&[], vec![expr("app", "DoesNotExist", &[])]),
            &labels
        ));
        assert!(!selector_matches(
            &sel(&[], vec![expr("app", "Like", &[])]),
            &labels
        ));
        assert!(!map_selects(&BTreeMap::new(), &labels));
        assert!(map_selects(
            &BTreeMap::from([("app".to_owned(), "web".to_owned())]),
            &labels
        ));
    }
}
