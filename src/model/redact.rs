//! Keeps secrets out of every report: PEM private keys and EAB HMAC keys that may hide in
//! messages and events are replaced before anything is written.

use std::sync::LazyLock;

use regex::Regex;

static PEM_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
    .expect("valid regex")
});

/// Key/value shapes that carry secret material in logs and messages (`hmac: ...`,
/// `keySecret=...`, `tls.key: ...`).
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    // An ASCII word boundary: a Unicode one keeps the regex off its fast DFA, which on a 10 MB
    // paste cost nearly a second.
    Regex::new(r#"(?i)(?-u:\b)(hmac[_-]?key|eab[_-]?hmac[_-]?key|secret[_-]?key|private[_-]?key|tls\.key|password|api[_-]?token|jwt)(["']?\s*[:=]\s*["']?)([A-Za-z0-9+/=_.\-]{8,})"#)
        .expect("valid regex")
});

/// Whether `text` holds anything [`redact`] would replace.
pub fn needs_redaction(text: &str) -> bool {
    text.contains("PRIVATE KEY") || SECRET_FIELD.is_match(text)
}

/// Replaces private keys and secret-looking values in `text` by a marker.
pub fn redact(text: &str) -> String {
    if !text.contains("PRIVATE KEY") && !SECRET_FIELD.is_match(text) {
        return text.to_owned();
    }
    let text = PEM_KEY.replace_all(text, "[private key redacted]");
    SECRET_FIELD
        .replace_all(&text, "$1$2[redacted]")
        .into_owned()
}

/// Redacts every string inside a JSON value in place. Sources call this on each object before
/// anything else reads it, so no later layer can leak what a message carried.
pub fn redact_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s)
            if s.len() >= 16 && (s.contains("PRIVATE KEY") || SECRET_FIELD.is_match(s)) =>
        {
            *s = redact(s);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

/// Redacts every string of a typed object in place (objects read from a cluster arrive typed,
/// not as JSON values). Objects without anything to redact, nearly all, cost one
/// serialization; the rest make a round trip through JSON.
pub fn redact_object<K>(obj: &mut K)
where
    K: serde::Serialize + serde::de::DeserializeOwned,
{
    let Ok(text) = serde_json::to_string(obj) else {
        return;
    };
    if !needs_redaction(&text) {
        return;
    }
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    redact_value(&mut value);
    if let Ok(clean) = serde_json::from_value(value) {
        *obj = clean;
    }
}

/// Redacts every object of an inventory read from a cluster.
pub fn redact_inventory(inv: &mut super::Inventory) {
    inv.certificates.iter_mut().for_each(redact_object);
    inv.requests.iter_mut().for_each(redact_object);
    inv.orders.iter_mut().for_each(redact_object);
    inv.challenges.iter_mut().for_each(redact_object);
    inv.issuers.iter_mut().for_each(redact_object);
    inv.cluster_issuers.iter_mut().for_each(redact_object);
    inv.events.iter_mut().for_each(redact_object);
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn typed_objects_lose_keys_in_any_string() {
        let mut ev = k8s_openapi::api::core::v1::Event {
            message: Some(
                "account key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
                    .to_owned(),
            ),
            ..Default::default()
        };
        super::redact_object(&mut ev);
        assert_eq!(
            ev.message.as_deref(),
            Some("account key [private key redacted]")
        );
    }

    #[test]
    fn removes_pem_keys_and_secret_fields() {
        let t = "x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY----- y";
        assert_eq!(redact(t), "x [private key redacted] y");
        assert_eq!(
            redact("eab hmac_key: c2VjcmV0c2VjcmV0"),
            "eab hmac_key: [redacted]"
        );
        assert_eq!(redact("plain text"), "plain text");
        let cut = "-----BEGIN PRIVATE KEY-----\nMIIEv (truncated";
        assert_eq!(redact(cut), "[private key redacted]");
    }
}
