//! The cert-manager controller's log lines about one object (a Challenge, its Order): the
//! controller says there what it tried and why it failed (solver Pod refused by a webhook,
//! ACME errors, self-check failures) long before anything reaches the object's status.
//!
//! The controller Pods are found by the Helm chart's labels (`app.kubernetes.io/name:
//! cert-manager`, `app.kubernetes.io/component: controller`), in `cert-manager` first, else in
//! any namespace; their container is `cert-manager-controller` (chart 1.14 and later) or
//! `cert-manager` (older). Logs are read with the kubelet's timestamps so lines from several
//! replicas sort by time.
//!
//! cert-manager logs through klog in one of three shapes, all recognised by [`filter_lines`]:
//! - klog text since 1.13: `E0105 14:20:08.488171 1 sync.go:208] "propagation check failed"
//!   err="..." logger="cert-manager.controller" resource_name="x" resource_namespace="ns"
//!   resource_kind="Challenge"`;
//! - klog text before: `... cert-manager/controller/challenges "msg"="..." "error"="..."
//!   "resource_kind"="Challenge" "resource_name"="x" "resource_namespace"="ns"`, and `"key"="ns/x"`
//!   in the work-queue lines;
//! - JSON (`--logging-format=json`): `{"msg":"...","resource_name":"x","resource_namespace":"ns",...}`.
//!
//! Every kept line goes through [`redact`] and is cut to a bounded length: a log line never
//! carries a private key or secret value into a report.

use std::sync::LazyLock;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::{Api, ResourceExt};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::Resource;
use crate::model::redact::redact;

/// The namespace the Helm chart and the static manifests install into.
pub const CERT_MANAGER_NAMESPACE: &str = "cert-manager";
/// Labels of the controller Pods in the Helm chart and the static manifests.
pub const CONTROLLER_SELECTOR: &str =
    "app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller";
/// The controller's container name since chart 1.14, and before.
pub const CONTROLLER_CONTAINERS: [&str; 2] = ["cert-manager-controller", "cert-manager"];
/// The longest line kept, in characters: a multi-kilobyte ACME dump helps nobody on a screen.
pub const MAX_LINE_CHARS: usize = 1000;

/// An object whose log lines are wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSubject {
    /// `Challenge`, `Order`, ...
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// One controller log line about a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// The controller Pod it came from.
    pub pod: String,
    /// When the kubelet received it, if the timestamp prefix was there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// The line (redacted, cut to [`MAX_LINE_CHARS`]).
    pub text: String,
}

/// How much log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Lines read from the end of each controller Pod's log.
    pub tail_lines: i64,
    /// Only lines from this far back.
    pub since: Duration,
    /// Lines returned at most, newest first.
    pub max_lines: usize,
    /// Bytes read at most from each Pod's log.
    pub max_bytes: i64,
    /// Budget for each API request.
    pub timeout: Duration,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            tail_lines: 5000,
            since: Duration::from_secs(6 * 3600),
            max_lines: 50,
            max_bytes: 8 << 20,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The lines found and what could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControllerLogs {
    /// Matching lines, newest first.
    pub lines: Vec<LogLine>,
    /// Why some or all logs could not be read (no controller Pod found, RBAC, timeouts).
    pub notes: Vec<String>,
}

/// Reads the controller Pods' logs and keeps the lines about `subjects`. Never fails: what
/// could not be read is said in `notes`.
pub async fn controller_logs(
    client: &kube::Client,
    subjects: &[LogSubject],
    opts: &LogOptions,
) -> ControllerLogs {
    let mut out = ControllerLogs::default();
    let pods = match find_controller_pods(client, opts.timeout).await {
        Ok(pods) => pods,
        Err(note) => {
            out.notes.push(note);
            return out;
        }
    };
    if pods.is_empty() {
        out.notes.push(format!(
            "no cert-manager controller Pod found (labels {CONTROLLER_SELECTOR}) in any namespace"
        ));
        return out;
    }
    let mut lines = Vec::new();
    for pod in &pods {
        let name = pod.name_any();
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let params = LogParams {
            container: controller_container(pod),
            tail_lines: Some(opts.tail_lines),
            since_seconds: Some(opts.since.as_secs().try_into().unwrap_or(i64::MAX)),
            timestamps: true,
            // A bound on memory whatever the lines' length.
            limit_bytes: Some(opts.max_bytes),
            ..LogParams::default()
        };
        match tokio::time::timeout(opts.timeout, api.logs(&name, &params)).await {
            Ok(Ok(raw)) => lines.extend(filter_lines(
                &format!("{ns}/{name}"),
                &raw,
                subjects,
                usize::MAX,
            )),
            Ok(Err(e)) => out.notes.push(log_note(e, &ns, &name)),
            Err(_) => out.notes.push(format!(
                "logs of Pod {ns}/{name} not read: no answer within {} s",
                opts.timeout.as_secs()
            )),
        }
    }
    out.lines = newest_first(lines, opts.max_lines);
    out
}

/// The controller Pods: in `cert-manager` first, else anywhere; Running ones only, since the
/// others have no log to read.
async fn find_controller_pods(
    client: &kube::Client,
    timeout: Duration,
) -> Result<Vec<Pod>, String> {
    let lp = ListParams::default().labels(CONTROLLER_SELECTOR);
    let local: Api<Pod> = Api::namespaced(client.clone(), CERT_MANAGER_NAMESPACE);
    let mut notes = Vec::new();
    match tokio::time::timeout(timeout, local.list(&lp)).await {
        Ok(Ok(list)) if !list.items.is_empty() => return Ok(running(list.items)),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => notes.push(list_note(e, Some(CERT_MANAGER_NAMESPACE))),
        Err(_) => {
            return Err(format!(
                "listing cert-manager controller Pods: no answer within {} s",
                timeout.as_secs()
            ));
        }
    }
    let all: Api<Pod> = Api::all(client.clone());
    match tokio::time::timeout(timeout, all.list(&lp)).await {
        Ok(Ok(list)) => Ok(running(list.items)),
        Ok(Err(e)) => {
            notes.push(list_note(e, None));
            Err(notes.join("; "))
        }
        Err(_) => Err(format!(
            "listing cert-manager controller Pods: no answer within {} s",
            timeout.as_secs()
        )),
    }
}

/// Why a Pod's log could not be read, in one line: the API's own message, not its dump.
fn log_note(e: kube::Error, ns: &str, name: &str) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!("not readable: RBAC does not allow get pods/log in namespace {ns}")
        }
        kube::Error::Api(s) => {
            format!(
                "logs of Pod {ns}/{name} not read: {} ({})",
                s.message, s.code
            )
        }
        e => format!("logs of Pod {ns}/{name} not read: {e}"),
    }
}

fn list_note(e: kube::Error, namespace: Option<&str>) -> String {
    let pods = Resource::Pods.qualified();
    let place = namespace.map_or_else(
        || "all namespaces".to_owned(),
        |ns| format!("namespace {ns}"),
    );
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!("not readable: RBAC does not allow list {pods} in {place}")
        }
        kube::Error::Api(s) => format!(
            "cert-manager controller Pods not listed in {place}: {} ({})",
            s.message, s.code
        ),
        e => format!("cert-manager controller Pods not listed in {place}: {e}"),
    }
}

fn running(pods: Vec<Pod>) -> Vec<Pod> {
    pods.into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
}

/// The controller's container, when the Pod has several (a mesh sidecar, say).
fn controller_container(pod: &Pod) -> Option<String> {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    CONTROLLER_CONTAINERS
        .iter()
        .find(|want| containers.iter().any(|c| c.name == **want))
        .map(|c| (*c).to_owned())
        .or_else(|| {
            containers
                .first()
                .filter(|_| containers.len() > 1)
                .map(|c| c.name.clone())
        })
}

/// Sorts by time, newest first (lines without a time keep their place after the timed ones),
/// and keeps `max`.
fn newest_first(mut lines: Vec<LogLine>, max: usize) -> Vec<LogLine> {
    lines.reverse();
    lines.sort_by(|a, b| match (a.at, b.at) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    lines.truncate(max);
    lines
}

/// Keeps the lines of one Pod's log (`raw`, oldest first as the API returns it) that are about
/// one of `subjects`, newest first, at most `max`, each redacted and cut. A leading RFC 3339
/// timestamp (the kubelet's, with `timestamps=true`) becomes [`LogLine::at`].
pub fn filter_lines(pod: &str, raw: &str, subjects: &[LogSubject], max: usize) -> Vec<LogLine> {
    let mut kept: Vec<LogLine> = raw
        .lines()
        .filter_map(|line| {
            let (at, text) = split_timestamp(line);
            subjects.iter().any(|s| mentions(text, s)).then(|| LogLine {
                pod: pod.to_owned(),
                at,
                text: cut(&redact(text.trim_end())),
            })
        })
        .collect();
    kept.reverse();
    kept.truncate(max);
    kept
}

fn split_timestamp(line: &str) -> (Option<Timestamp>, &str) {
    if let Some((first, rest)) = line.split_once(' ')
        && let Ok(at) = first.parse::<Timestamp>()
    {
        return (Some(at), rest);
    }
    (None, line)
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_LINE_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// `key=value` pairs in all three formats: `"k"="v"`, `k="v"`, `"k":"v"`.
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""?([A-Za-z_][A-Za-z0-9_]*)"?\s*[=:]\s*"((?:[^"\\]|\\.)*)""#).expect("valid regex")
});

/// Whether a log line is about `s`. Structured fields decide when they name the object
/// (`resource_name` / `related_resource_name` with their namespace and kind); otherwise a
/// work-queue key `ns/name` or the quoted name does.
fn mentions(line: &str, s: &LogSubject) -> bool {
    let fields: Vec<(&str, &str)> = FIELD
        .captures_iter(line)
        .filter_map(|c| Some((c.get(1)?.as_str(), c.get(2)?.as_str())))
        .collect();
    let field = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let mut named = false;
    for prefix in ["", "related_"] {
        if field(&format!("{prefix}resource_name")) != Some(s.name.as_str()) {
            continue;
        }
        named = true;
        let ns_ok =
            field(&format!("{prefix}resource_namespace")).is_none_or(|ns| ns == s.namespace);
        let kind_ok = field(&format!("{prefix}resource_kind"))
            .is_none_or(|k| k.eq_ignore_ascii_case(&s.kind));
        if ns_ok && kind_ok {
            return true;
        }
    }
    if named {
        // The fields name an object of that name in another namespace or of another kind.
        return false;
    }
    let key = format!("{}/{}", s.namespace, s.name);
    if field("key") == Some(key.as_str()) || has_token(line, &key) {
        return true;
    }
    ["\"", "'"].iter().any(|q| {
        line.contains(&format!("{q}{}{q}", s.name)) || line.contains(&format!("\\\"{}\\\"", s.name))
    }) && !names_other_namespace(&fields, &s.namespace)
}

/// Whether the line's own namespace fields point elsewhere.
fn names_other_namespace(fields: &[(&str, &str)], namespace: &str) -> bool {
    fields.iter().any(|(k, v)| {
        (*k == "resource_namespace" || *k == "namespace") && !v.is_empty() && *v != namespace
    })
}

/// Whether `needle` occurs in `line` delimited by characters that cannot belong to a
/// Kubernetes name, so `ns/web-1` is not found inside `ns/web-1-2`.
fn has_token(line: &str, needle: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    line.match_indices(needle).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + needle.len()..].chars().next();
        before.is_none_or(|c| !name_char(c) && c != '/') && after.is_none_or(|c| !name_char(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> LogSubject {
        LogSubject {
            kind: "Challenge".into(),
            namespace: "shop".into(),
            name: "www-example-com-1-2909436231-1340011591".into(),
        }
    }

    fn order() -> LogSubject {
        LogSubject {
            kind: "Order".into(),
            namespace: "shop".into(),
            name: "www-example-com-1-2909436231".into(),
        }
    }

    /// Lines in the shapes cert-manager writes, oldest first, with kubelet timestamps.
    const LOG: &str = concat!(
        // 1: klog text (1.13+), the Challenge: kept.
        "2024-05-01T10:00:01.000000000Z E0501 10:00:01.000000       1 sync.go:208] \"propagation check failed\" err=\"wrong status code '404', expected '200'\" logger=\"cert-manager.controller\" resource_name=\"www-example-com-1-2909436231-1340011591\" resource_namespace=\"shop\" resource_kind=\"Challenge\" resource_version=\"v1\" dnsName=\"www.example.com\" type=\"HTTP-01\"\n",
        // 2: the same name in another namespace: dropped.
        "2024-05-01T10:00:02.000000000Z E0501 10:00:02.000000       1 sync.go:208] \"propagation check failed\" err=\"x\" logger=\"cert-manager.controller\" resource_name=\"www-example-com-1-2909436231-1340011591\" resource_namespace=\"other\" resource_kind=\"Challenge\"\n",
        // 3: old klog text, the Order as related resource of its Challenge: kept for both.
        "2024-05-01T10:00:03.000000000Z I0501 10:00:03.000000       1 util.go:84] cert-manager/controller/orders/handleOwnedResource \"msg\"=\"owning resource not found in cache\" \"related_resource_kind\"=\"Order\" \"related_resource_name\"=\"www-example-com-1-2909436231\" \"related_resource_namespace\"=\"shop\" \"resource_kind\"=\"Challenge\" \"resource_name\"=\"www-example-com-1-2909436231-1340011591\" \"resource_namespace\"=\"shop\" \"resource_version\"=\"v1\"\n",
        // 4: work-queue key of the Order: kept; the Challenge name only starts with it.
        "2024-05-01T10:00:04.000000000Z I0501 10:00:04.000000       1 controller.go:162] cert-manager/controller/orders \"msg\"=\"re-queuing item due to optimistic locking on resource\" \"key\"=\"shop/www-example-com-1-2909436231\" \"error\"=\"the object has been modified\"\n",
        // 5: JSON format, the Challenge: kept.
        "2024-05-01T10:00:05.000000000Z {\"ts\":1714557605000.1,\"caller\":\"acmechallenges/sync.go:208\",\"msg\":\"propagation check failed\",\"err\":\"wrong status code '503', expected '200'\",\"logger\":\"cert-manager.controller\",\"resource_name\":\"www-example-com-1-2909436231-1340011591\",\"resource_namespace\":\"shop\",\"resource_kind\":\"Challenge\",\"v\":0}\n",
        // 6: unrelated.
        "2024-05-01T10:00:06.000000000Z I0501 10:00:06.000000       1 setup.go:202] cert-manager/controller/clusterissuers \"msg\"=\"skipping re-verifying ACME account\" \"resource_kind\"=\"ClusterIssuer\" \"resource_name\"=\"letsencrypt\"\n",
        // 7: a secret-looking value about the Challenge: kept, redacted.
        "2024-05-01T10:00:07.000000000Z I0501 10:00:07.000000       1 x.go:1] \"debug\" resource_name=\"www-example-com-1-2909436231-1340011591\" resource_namespace=\"shop\" resource_kind=\"Challenge\" hmac_key=\"c2VjcmV0c2VjcmV0c2VjcmV0\"\n",
        // 8: an old-style line with only the quoted name.
        "I0501 10:00:08.000000       1 controller.go:206] challenges controller: syncing item 'shop/www-example-com-1-2909436231-1340011591'\n",
    );

    #[test]
    fn keeps_the_challenges_lines_newest_first() {
        let lines = filter_lines("cert-manager/cm-1", LOG, &[challenge()], 50);
        let starts: Vec<&str> = lines.iter().map(|l| &l.text[..5]).collect();
        assert_eq!(
            starts,
            ["I0501", "I0501", "{\"ts\"", "I0501", "E0501"],
            "{lines:#?}"
        );
        assert!(lines[0].text.contains("syncing item 'shop/"));
        assert_eq!(lines[0].at, None);
        assert!(
            lines[1].text.contains("hmac_key=\"[redacted]\""),
            "{}",
            lines[1].text
        );
        assert!(!lines.iter().any(|l| l.text.contains("c2VjcmV0")));
        assert_eq!(
            lines[4].at,
            Some("2024-05-01T10:00:01Z".parse().expect("valid"))
        );
        assert!(
            lines[4].text.starts_with("E0501 10:00:01.000000"),
            "the kubelet timestamp is removed"
        );
        assert!(lines.iter().all(|l| l.pod == "cert-manager/cm-1"));
        assert!(!lines.iter().any(|l| l.text.contains("\"other\"")));
    }

    #[test]
    fn the_order_matches_its_own_lines_not_its_challenges() {
        let lines = filter_lines("p", LOG, &[order()], 50);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0]
                .text
                .contains("\"key\"=\"shop/www-example-com-1-2909436231\"")
        );
        assert!(lines[1].text.contains("related_resource_name"));
    }

    #[test]
    fn caps_and_cuts() {
        let lines = filter_lines("p", LOG, &[challenge(), order()], 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].text.contains("syncing item"));
        let long = format!(
            "E0501 x resource_name=\"{}\" resource_namespace=\"shop\" err=\"{}\"",
            challenge().name,
            "a".repeat(5000)
        );
        let lines = filter_lines("p", &long, &[challenge()], 50);
        assert_eq!(lines[0].text.chars().count(), MAX_LINE_CHARS + 1);
        assert!(lines[0].text.ends_with('…'));
    }

    #[test]
    fn private_keys_never_pass() {
        let raw = format!(
            "E0501 x resource_name=\"{}\" resource_namespace=\"shop\" err=\"bad key -----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIB\\n-----END EC PRIVATE KEY-----\"",
            challenge().name
        );
        let lines = filter_lines("p", &raw, &[challenge()], 50);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].text.contains("MHcCAQEEIB"), "{}", lines[0].text);
    }

    #[test]
    fn token_boundaries() {
        assert!(has_token("item 'shop/web-1'", "shop/web-1"));
        assert!(!has_token("item 'shop/web-1-2'", "shop/web-1"));
        assert!(!has_token("item 'myshop/web-1'", "shop/web-1"));
        assert!(!has_token("namespaces/x/shop/web-1", "shop/web-1"));
    }

    #[test]
    fn merging_pods_sorts_by_time() {
        let at = |s: &str| Some(s.parse::<Timestamp>().expect("valid"));
        let line = |pod: &str, t: Option<Timestamp>| LogLine {
            pod: pod.into(),
            at: t,
            text: String::new(),
        };
        let merged = newest_first(
            vec![
                line("a", at("2024-05-01T10:00:01Z")),
                line("a", None),
                line("b", at("2024-05-01T10:00:03Z")),
                line("a", at("2024-05-01T10:00:02Z")),
            ],
            3,
        );
        let order: Vec<(&str, Option<Timestamp>)> =
            merged.iter().map(|l| (l.pod.as_str(), l.at)).collect();
        assert_eq!(
            order,
            [
                ("b", at("2024-05-01T10:00:03Z")),
                ("a", at("2024-05-01T10:00:02Z")),
                ("a", at("2024-05-01T10:00:01Z"))
            ]
        );
    }

    #[test]
    fn picks_the_controller_container() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cm"},
            "spec": {"containers": [{"name": "istio-proxy"}, {"name": "cert-manager-controller"}]}
        }))
        .expect("valid");
        assert_eq!(
            controller_container(&pod).as_deref(),
            Some("cert-manager-controller")
        );
        let single: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cm"}, "spec": {"containers": [{"name": "whatever"}]}
        }))
        .expect("valid");
        assert_eq!(controller_container(&single), None);
    }
}
