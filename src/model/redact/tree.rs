//! Redaction by structure, for the free-form parts of objects (solver and issuer configs, a
//! DNS-01 webhook's `config:` block, annotations): a value is secret when the name of its field,
//! or of any field above it, says so, whatever the value looks like. Fields known to be
//! references to a Secret (`secretName`, a `...SecretRef`'s `name` and `key`) and fields that
//! describe a key rather than hold it (`keyAlgorithm`, `keySize`) are kept: they are what an
//! engineer needs to see. A string that looks like key material (a PEM private key, a JWT, a
//! long base64 or hex blob) is redacted under any name not known to be public.

use serde_json::Value;

use super::text::{self, MARK};

/// Words in a field name that say its value is secret (after splitting camelCase, `_`, `-`
/// and `.`). A word matches when it starts or ends with one of these, so `apikey`,
/// `secretkey` and `apiPassword` are caught as well as `apiKey`.
const SECRET_WORDS: &[&str] = &[
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "credential",
    "credentials",
    "hmac",
    "private",
];

/// Last words of a field name that make it describe a secret rather than hold it.
const DESCRIPTOR_WORDS: &[&str] = &[
    "name",
    "names",
    "algorithm",
    "encoding",
    "size",
    "usages",
    "policy",
    "type",
    "format",
    "length",
    "file",
    "path",
];

/// Fields whose long blobs are public by definition (a CA bundle is certificates).
const PUBLIC_FIELDS: &[&str] = &["cabundle", "ca", "certificate", "cert", "crt"];

/// Kept whole in a `...Ref` object: they name a Secret and a key inside it.
const REFERENCE_FIELDS: &[&str] = &["name", "key", "namespace"];

/// Annotations that are a copy of the object as applied (with every literal secret in it).
const OBJECT_COPIES: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// The words of a field name, lower-case: `secretAccessKeySecretRef` gives
/// `secret access key secret ref`; `APIKey` gives `api key`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && (prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(char::is_lowercase)));
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What a field's name says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    /// It holds a secret.
    Secret,
    /// It refers to a Secret (`...Ref`, `...SecretRef`): its `name` and `key` are kept.
    Reference,
    /// It names or describes something (`secretName`, `keyAlgorithm`): kept.
    Descriptor,
    /// It is known to hold public blobs (a CA bundle).
    Public,
    /// Nothing in its name.
    Plain,
}

fn field_kind(name: &str) -> FieldKind {
    let w = words(name);
    let Some(last) = w.last() else {
        return FieldKind::Plain;
    };
    if last == "ref" {
        return FieldKind::Reference;
    }
    let joined: String = w.concat();
    if PUBLIC_FIELDS.contains(&joined.as_str()) {
        return FieldKind::Public;
    }
    let secret = w.iter().any(|w| {
        SECRET_WORDS
            .iter()
            .any(|s| w.starts_with(s) || w.ends_with(s))
    });
    match (secret, DESCRIPTOR_WORDS.contains(&last.as_str())) {
        (true, false) => FieldKind::Secret,
        (true, true) => FieldKind::Descriptor,
        (false, _) => FieldKind::Plain,
    }
}

/// Whether `s` as a whole looks like key material: a PEM private key, a JWT, or a long base64
/// or hex blob. URLs, DNS names and UUIDs are not blobs (they have `:`, `.` or lower-case hex
/// with dashes).
pub fn looks_like_key_material(s: &str) -> bool {
    let s = s.trim();
    if s.contains("PRIVATE KEY") || (s.starts_with("eyJ") && text::needs_redaction(s)) {
        return true;
    }
    if s.len() < 32 {
        return false;
    }
    let hex = s.chars().all(|c| c.is_ascii_hexdigit())
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_alphabetic());
    let base64 = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-'))
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_lowercase())
        && s.chars().any(|c| c.is_ascii_digit());
    hex || base64
}

/// Whether a string field named `name` holding `value`, seen alone (a JSON pair in text), is a
/// secret: its name says so, or it looks like key material under a name not known public.
pub(super) fn secret_value(name: &str, value: &str) -> bool {
    match field_kind(name) {
        FieldKind::Secret => value != MARK,
        FieldKind::Plain => looks_like_key_material(value),
        FieldKind::Public => value.contains("PRIVATE KEY"),
        FieldKind::Reference | FieldKind::Descriptor => false,
    }
}

/// How the walk treats the values below a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Nothing above says secret.
    Open,
    /// A field above says secret: every string below is redacted (descriptors aside).
    Secret,
    /// Directly inside a reference: `name` and `key` are kept.
    Reference,
}

/// Redacts a free-form value in place; returns how many strings were replaced.
pub fn redact_config(v: &mut Value) -> usize {
    walk(v, Scope::Open, FieldKind::Plain)
}

fn walk(v: &mut Value, scope: Scope, field: FieldKind) -> usize {
    match v {
        Value::String(s) => {
            let secret = match field {
                FieldKind::Secret => true,
                FieldKind::Descriptor | FieldKind::Reference => false,
                FieldKind::Public => s.contains("PRIVATE KEY"),
                FieldKind::Plain => scope == Scope::Secret || looks_like_key_material(s),
            };
            if secret && s != MARK {
                *s = MARK.to_owned();
                1
            } else if !secret && text::needs_redaction(s) {
                *s = text::redact(s);
                1
            } else {
                0
            }
        }
        Value::Array(items) => items.iter_mut().map(|i| walk(i, scope, field)).sum(),
        Value::Object(map) => {
            let mut n = 0;
            for (name, child) in map.iter_mut() {
                let kind = field_kind(name);
                let (child_scope, child_field) = match (scope, kind) {
                    (Scope::Reference, _) if REFERENCE_FIELDS.contains(&name.as_str()) => {
                        (Scope::Open, FieldKind::Descriptor)
                    }
                    (_, FieldKind::Reference) => (Scope::Reference, FieldKind::Reference),
                    (_, FieldKind::Secret) => (Scope::Secret, FieldKind::Secret),
                    (Scope::Secret, FieldKind::Plain) => (Scope::Secret, FieldKind::Plain),
                    (_, other) => (Scope::Open, other),
                };
                n += walk(child, child_scope, child_field);
            }
            n
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => 0,
    }
}

/// Redacts an object's annotations in place: a copy of the applied object is dropped, a
/// secret-named annotation or one holding key material loses its value, free text is
/// redacted by shape. Returns how many were changed.
pub fn redact_annotations(annotations: &mut std::collections::BTreeMap<String, String>) -> usize {
    let mut n = 0;
    for (name, value) in annotations.iter_mut() {
        let new = if OBJECT_COPIES.contains(&name.as_str()) {
            Some("[redacted: a copy of the applied object]".to_owned())
        } else {
            // The part after the prefix names the annotation (`example.com/api-token`).
            let short = name.rsplit('/').next().unwrap_or(name);
            match field_kind(short) {
                FieldKind::Secret => Some(MARK.to_owned()),
                FieldKind::Plain if looks_like_key_material(value) => Some(MARK.to_owned()),
                _ if text::needs_redaction(value) => Some(text::redact(value)),
                _ => None,
            }
        };
        if let Some(new) = new
            && *value != new
        {
            *value = new;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_field_names_into_words() {
        assert_eq!(
            words("secretAccessKeySecretRef"),
            ["secret", "access", "key", "secret", "ref"]
        );
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("tsig_key-name"), ["tsig", "key", "name"]);
        assert_eq!(words("accessKeyID"), ["access", "key", "id"]);
    }

    #[test]
    fn classifies_field_names() {
        for secret in [
            "apiKey",
            "apikey",
            "API_KEY",
            "secretAccessKey",
            "keySecret",
            "hmac",
            "password",
            "apiPassword",
            "passwd",
            "clientSecret",
            "token",
            "accessToken",
            "credentials",
            "privateKey",
            "accessKeyID",
            "secret",
        ] {
            assert_eq!(field_kind(secret), FieldKind::Secret, "{secret}");
        }
        for kept in [
            "secretName",
            "tsigKeyName",
            "keyAlgorithm",
            "keySize",
            "passwordFile",
        ] {
            assert_eq!(field_kind(kept), FieldKind::Descriptor, "{kept}");
        }
        for reference in [
            "apiTokenSecretRef",
            "privateKeySecretRef",
            "secretKeyRef",
            "tokenSecretRef",
        ] {
            assert_eq!(field_kind(reference), FieldKind::Reference, "{reference}");
        }
        for plain in [
            "zoneName",
            "groupName",
            "solverName",
            "nameserver",
            "keyUsages",
            "email",
        ] {
            assert_ne!(field_kind(plain), FieldKind::Secret, "{plain}");
        }
    }

    #[test]
    fn a_webhook_config_keeps_references_and_loses_literals() {
        let mut v = json!({
            "webhook": {
                "groupName": "acme.example.com",
                "solverName": "godaddy",
                "config": {
                    "apiKey": "e4hN1h2F8Xyz",
                    "apiSecret": "Qw3rTy",
                    "apiKeySecretRef": {"name": "godaddy-api", "key": "api-key"},
                    "nested": {"credentials": {"user": "me", "pin": "1234"}},
                    "endpoint": "https://api.godaddy.com",
                    "opaque": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQyNDI0Mg==",
                    "ttl": 600
                }
            }
        });
        let n = redact_config(&mut v);
        let c = &v["webhook"]["config"];
        assert_eq!(c["apiKey"], MARK);
        assert_eq!(c["apiSecret"], MARK);
        assert_eq!(c["apiKeySecretRef"]["name"], "godaddy-api");
        assert_eq!(c["apiKeySecretRef"]["key"], "api-key");
        assert_eq!(c["nested"]["credentials"]["user"], MARK);
        assert_eq!(c["nested"]["credentials"]["pin"], MARK);
        assert_eq!(c["endpoint"], "https://api.godaddy.com");
        assert_eq!(c["opaque"], MARK);
        assert_eq!(c["ttl"], 600);
        assert_eq!(v["webhook"]["groupName"], "acme.example.com");
        assert_eq!(n, 5);
    }

    #[test]
    fn key_material_by_shape() {
        assert!(looks_like_key_material("0123456789abcdef0123456789abcdef"));
        assert!(looks_like_key_material(
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQy"
        ));
        assert!(!looks_like_key_material(
            "https://acme-v02.api.letsencrypt.org/directory"
        ));
        assert!(!looks_like_key_material(
            "6f0e8e26-1d2c-4c59-9f6a-0d6b7f3a1c2e"
        ));
        assert!(!looks_like_key_material("_acme-challenge.shop.example.com"));
        assert!(!looks_like_key_material("short"));
    }

    #[test]
    fn annotations_lose_the_applied_copy_and_secret_values() {
        let mut a = std::collections::BTreeMap::from([
            (
                "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
                r#"{"spec":{"acme":{"solvers":[{"dns01":{"webhook":{"config":{"apiKey":"x"}}}}]}}}"#.to_owned(),
            ),
            ("example.com/api-token".to_owned(), "abc".to_owned()),
            ("cert-manager.io/issuer-name".to_owned(), "letsencrypt".to_owned()),
        ]);
        assert_eq!(redact_annotations(&mut a), 2);
        assert!(!a["kubectl.kubernetes.io/last-applied-configuration"].contains("apiKey"));
        assert_eq!(a["example.com/api-token"], MARK);
        assert_eq!(a["cert-manager.io/issuer-name"], "letsencrypt");
    }
}
