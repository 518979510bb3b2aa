//! Turns parsed values into typed objects by kind and API group.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Snapshot;

/// Adds a parsed document (an object or a `kind: List`) to `snap`; on failure returns what was
/// wrong, prefixed by the item number for Lists.
pub(super) fn add_value(v: Value, snap: &mut Snapshot) -> Vec<String> {
    let mut problems = Vec::new();
    let Value::Object(mut map) = v else {
        problems.push(format!("not a Kubernetes object but {}", type_name(&v)));
        return problems;
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
        if let Some(Value::Array(items)) = map.remove("items") {
            for (i, item) in items.into_iter().enumerate() {
                if let Err(message) = add_object(item, snap) {
                    problems.push(format!("item {}: {message}", i + 1));
                }
            }
        }
        return problems;
    }
    if let Err(message) = add_object(Value::Object(map), snap) {
        problems.push(message);
    }
    problems
}

/// Adds one object given as its own YAML document. The common case (a cert-manager kind, no
/// secret-looking text) is deserialised straight into its type, which is several times
/// cheaper than building a generic tree first; anything else takes the generic path.
pub(super) fn add_yaml_object(
    text: &str,
    first_line: usize,
    snap: &mut Snapshot,
) -> Result<(), (usize, String)> {
    let top = |key: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(key)
                .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
        })
    };
    let (Some(kind), Some(api_version)) = (top("kind:"), top("apiVersion:")) else {
        return generic(text, first_line, snap);
    };
    if crate::model::redact::needs_redaction(text) {
        return generic(text, first_line, snap);
    }
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let inv = &mut snap.inventory;
    let de = || serde_norway::Deserializer::from_str(text);
    let label = || format!("{kind} {:?}", top("  name:").unwrap_or_default());
    let direct = |e: serde_path_to_error::Error<serde_norway::Error>| {
        let line = e
            .inner()
            .location()
            .map_or(first_line, |l| first_line + l.line().max(1) - 1);
        (
            line,
            path_error(e.path().to_string(), e.into_inner(), label),
        )
    };
    match (group, kind.as_str()) {
        ("cert-manager.io", "Certificate") => inv
            .certificates
            .push(serde_path_to_error::deserialize(de()).map_err(direct)?),
        ("cert-manager.io", "CertificateRequest") => inv
            .requests
            .push(serde_path_to_error::deserialize(de()).map_err(direct)?),
        ("acme.cert-manager.io", "Order") => inv
            .orders
            .push(serde_path_to_error::deserialize(de()).map_err(direct)?),
        ("acme.cert-manager.io", "Challenge") => inv
            .challenges
            .push(serde_path_to_error::deserialize(de()).map_err(direct)?),
        ("", "Event") => inv
            .events
            .push(serde_path_to_error::deserialize(de()).map_err(direct)?),
        ("", "Secret") => snap.ignore("Secret"),
        _ => return generic(text, first_line, snap),
    }
    Ok(())
}

fn generic(text: &str, first_line: usize, snap: &mut Snapshot) -> Result<(), (usize, String)> {
    let v = super::yaml::parse_yaml(text, first_line)
        .map_err(|(l, message)| (l, format!("invalid YAML: {message}")))?;
    add_object(v, snap).map_err(|m| (first_line, m))
}

fn path_error(path: String, inner: impl std::fmt::Display, label: impl Fn() -> String) -> String {
    if path == "." {
        format!("{}: {inner}", label())
    } else {
        format!("{}: field {path}: {inner}", label())
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Adds one object to the inventory by its kind and API group.
pub(super) fn add_object(mut v: Value, snap: &mut Snapshot) -> Result<(), String> {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let api_version = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_owned();
    if kind.is_empty() {
        return Err("no `kind` field: not a Kubernetes object".to_owned());
    }
    let label = || format!("{kind} {name:?}");
    if group.is_empty() && kind == "Secret" {
        // Never even parsed: certdx does not read Secret data.
        snap.ignore(&kind);
        return Ok(());
    }
    crate::model::redact::redact_value(&mut v);
    let inv = &mut snap.inventory;
    match (group, kind.as_str()) {
        ("cert-manager.io", "Certificate") => inv.certificates.push(typed(v, label)?),
        ("cert-manager.io", "CertificateRequest") => inv.requests.push(typed(v, label)?),
        ("cert-manager.io", "Issuer") => inv.issuers.push(typed(v, label)?),
        ("cert-manager.io", "ClusterIssuer") => inv.cluster_issuers.push(typed(v, label)?),
        ("acme.cert-manager.io", "Order") => inv.orders.push(typed(v, label)?),
        ("acme.cert-manager.io", "Challenge") => inv.challenges.push(typed(v, label)?),
        ("", "Event") => inv.events.push(typed(v, label)?),
        ("events.k8s.io", "Event") => inv.events.push(typed(events_v1_to_core(v), label)?),
        (
            _,
            "Certificate" | "CertificateRequest" | "Issuer" | "ClusterIssuer" | "Order"
            | "Challenge",
        ) if group.is_empty() || !group.ends_with("cert-manager.io") => {
            // e.g. GKE's networking.gke.io ManagedCertificate or a typo'd apiVersion.
            return Err(format!(
                "{} has apiVersion {api_version:?}, not cert-manager's; skipped",
                label()
            ));
        }
        _ => snap.ignore(&kind),
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(v: Value, label: impl Fn() -> String) -> Result<T, String> {
    serde_path_to_error::deserialize(v)
        .map_err(|e| path_error(e.path().to_string(), e.into_inner(), label))
}

/// Maps an events.k8s.io/v1 Event onto the core v1 shape certdx reads.
fn events_v1_to_core(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        if let Some(regarding) = map.remove("regarding") {
            map.insert("involvedObject".into(), regarding);
        }
        if let Some(note) = map.remove("note") {
            map.insert("message".into(), note);
        }
        if let Some(t) = map.remove("deprecatedLastTimestamp") {
            map.insert("lastTimestamp".into(), t);
        }
        if let Some(t) = map.remove("deprecatedFirstTimestamp") {
            map.insert("firstTimestamp".into(), t);
        }
        if let Some(n) = map.remove("deprecatedCount") {
            map.insert("count".into(), n);
        }
        map.insert("apiVersion".into(), Value::String("v1".into()));
    }
    v
}
