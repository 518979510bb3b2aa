//! Keeps secrets out of everything certdx shows or writes. Two rules, applied to every object
//! as a source hands it over, before anything else reads it:
//!
//! - free text (messages, Events, log lines) is redacted by shape ([`redact`]: PEM private
//!   keys, JWTs, bearer credentials, `name: value` pairs whose name says secret);
//! - the free-form parts of objects (solver and issuer configs, annotations) are redacted by
//!   structure ([`redact_config`]: every value under a field whose name says secret, references
//!   to Secrets kept).
//!
//! An object whose redaction fails is marked [`WITHHELD`] and no view shows it raw.

mod text;
mod tree;

pub use text::{MARK, needs_redaction, redact};
pub use tree::{looks_like_key_material, redact_annotations, redact_config};

use crate::model::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, Order};

/// The annotation certdx sets on an object it could not redact: views show no raw form of it.
pub const WITHHELD: &str = "certdx.io/withheld";

/// Redacts every string inside a JSON value in place by shape ([`redact`]). Sources call this
/// on each object parsed from text before it is typed.
pub fn redact_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.len() >= 16 && needs_redaction(s) => {
            *s = redact(s);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

/// Redacts every string of a typed object by shape, in place (objects read from a cluster
/// arrive typed, not as JSON values). Objects without anything to redact, nearly all, cost one
/// serialization; the rest make a round trip through JSON. Returns false when the object held
/// something to redact but could not be rebuilt without it: the caller must then not show it
/// raw (fail closed).
#[must_use]
pub fn redact_object<K>(obj: &mut K) -> bool
where
    K: serde::Serialize + serde::de::DeserializeOwned,
{
    let Ok(text) = serde_json::to_string(obj) else {
        return false;
    };
    if !needs_redaction(&text) {
        return true;
    }
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    redact_value(&mut value);
    match serde_json::from_value(value) {
        Ok(clean) => {
            *obj = clean;
            true
        }
        Err(_) => false,
    }
}

/// An object whose free-form parts certdx redacts by structure.
pub trait Redact: kube::Resource + serde::Serialize + serde::de::DeserializeOwned {
    /// Redacts the free-form values this kind carries (solver, issuer config). Annotations are
    /// done for every kind by [`redact_all`].
    fn redact_free_form(&mut self) {}
}

impl Redact for Certificate {}
impl Redact for CertificateRequest {}
impl Redact for Order {}
impl Redact for k8s_openapi::api::core::v1::Event {}

impl Redact for Challenge {
    fn redact_free_form(&mut self) {
        if let Some(solver) = self.spec.solver.as_mut() {
            redact_config(solver);
        }
    }
}

fn redact_issuer_config(c: &mut crate::model::issuer::IssuerConfig) {
    if let Some(acme) = c.acme.as_mut() {
        acme.solvers.iter_mut().for_each(|s| {
            redact_config(s);
        });
    }
    for v in [&mut c.ca, &mut c.self_signed, &mut c.vault]
        .into_iter()
        .flatten()
    {
        redact_config(v);
    }
}

impl Redact for Issuer {
    fn redact_free_form(&mut self) {
        redact_issuer_config(&mut self.spec.config);
    }
}

impl Redact for ClusterIssuer {
    fn redact_free_form(&mut self) {
        redact_issuer_config(&mut self.spec.config);
    }
}

/// Both rules on one object: structure (annotations, free-form values) then shape (every
/// string). An object that cannot be rebuilt after redaction is marked [`WITHHELD`].
pub fn redact_all<K: Redact>(obj: &mut K) {
    redact_by_structure(obj);
    if !redact_object(obj) {
        obj.meta_mut()
            .annotations
            .get_or_insert_default()
            .insert(WITHHELD.to_owned(), "could not be redacted".to_owned());
    }
}

/// Whether a view may show `obj` raw (its YAML, its solver config).
pub fn showable<K: kube::Resource>(obj: &K) -> bool {
    obj.meta()
        .annotations
        .as_ref()
        .is_none_or(|a| !a.contains_key(WITHHELD))
}

/// Redacts every object of an inventory by structure; snapshot loading, which already
/// redacted text by shape as it parsed, calls this once at the end.
pub fn redact_structure(inv: &mut super::Inventory) {
    inv.certificates.iter_mut().for_each(redact_by_structure);
    inv.requests.iter_mut().for_each(redact_by_structure);
    inv.orders.iter_mut().for_each(redact_by_structure);
    inv.challenges.iter_mut().for_each(redact_by_structure);
    inv.issuers.iter_mut().for_each(redact_by_structure);
    inv.cluster_issuers.iter_mut().for_each(redact_by_structure);
    inv.events.iter_mut().for_each(redact_by_structure);
}

/// The structural rule on one object: its annotations and its free-form values.
fn redact_by_structure<K: Redact>(obj: &mut K) {
    if let Some(a) = obj.meta_mut().annotations.as_mut() {
        redact_annotations(a);
    }
    obj.redact_free_form();
}

/// Redacts every object of an inventory read from a cluster (both rules).
pub fn redact_inventory(inv: &mut super::Inventory) {
    inv.certificates.iter_mut().for_each(redact_all);
    inv.requests.iter_mut().for_each(redact_all);
    inv.orders.iter_mut().for_each(redact_all);
    inv.challenges.iter_mut().for_each(redact_all);
    inv.issuers.iter_mut().for_each(redact_all);
    inv.cluster_issuers.iter_mut().for_each(redact_all);
    inv.events.iter_mut().for_each(redact_all);
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_objects_lose_keys_in_any_string() {
        let mut ev = k8s_openapi::api::core::v1::Event {
            message: Some(
                "account key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
                    .to_owned(),
            ),
            ..Default::default()
        };
        super::redact_all(&mut ev);
        assert_eq!(
            ev.message.as_deref(),
            Some("account key [private key redacted]")
        );
        assert!(super::showable(&ev));
    }

    /// A typed field that cannot hold the marker: the object cannot be rebuilt redacted, so it
    /// is marked and no view shows it raw.
    #[test]
    fn an_object_that_cannot_be_redacted_is_withheld() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Strict {
            #[serde(deserialize_with = "no_marker")]
            password: String,
        }
        fn no_marker<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
            let s = <String as serde::Deserialize>::deserialize(d)?;
            if s.contains("[redacted]") {
                return Err(serde::de::Error::custom("not a valid value"));
            }
            Ok(s)
        }
        let mut o = Strict {
            password: "password=hunter2hunter2".to_owned(),
        };
        assert!(!super::redact_object(&mut o));
        let mut plain = Strict {
            password: "nothing here".to_owned(),
        };
        assert!(super::redact_object(&mut plain));
    }
}
