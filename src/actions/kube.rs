//! [`Actions`] on a live cluster: retry deletes a failed Order, renew sets the Certificate's
//! `Issuing` condition the way `cmctl renew` does.
//!
//! The TUI and the CLI share one decision path: [`KubeActions::plan`] reads the object fresh,
//! refuses states where the write makes no sense and asks the API (SelfSubjectAccessReview)
//! whether the user may make it; [`KubeActions::apply`] sends exactly the planned write, with
//! preconditions so an object that changed in between is never overwritten or deleted by
//! mistake. Objects are read and written as untyped JSON so fields certdx's model does not
//! know survive a status update.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams, Preconditions};
use serde_json::{Value, json};

use super::{Action, Actions};
use crate::model::{Certificate, CertificateRequest, Order};
use crate::source::cluster::{ClusterError, Resource, resource};

/// The reason `Issuing` is set to True with, as `cmctl renew` sets it.
pub const MANUALLY_TRIGGERED: &str = "ManuallyTriggered";
/// The message `Issuing` is set to True with, as `cmctl renew` sets it.
pub const MANUALLY_TRIGGERED_MESSAGE: &str = "Certificate re-issuance manually triggered";

/// Order states in which cert-manager is still working on the Order.
const IN_PROGRESS: [&str; 4] = ["", "pending", "ready", "processing"];
/// Order states that are final failures: a new Order is the only way forward.
const FAILED: [&str; 3] = ["invalid", "errored", "expired"];

/// Which permission an action needs, per namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Need {
    /// `delete orders.acme.cert-manager.io`.
    DeleteOrders,
    /// `update certificates.cert-manager.io/status`.
    UpdateCertificateStatus,
}

impl Need {
    const ALL: [Need; 2] = [Need::DeleteOrders, Need::UpdateCertificateStatus];

    fn of(action: &Action) -> (Need, &str) {
        match action {
            Action::RetryOrder { namespace, .. } => (Need::DeleteOrders, namespace),
            Action::RenewCertificate { namespace, .. } => {
                (Need::UpdateCertificateStatus, namespace)
            }
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Need::DeleteOrders => "delete",
            Need::UpdateCertificateStatus => "update",
        }
    }

    fn resource(self) -> Resource {
        match self {
            Need::DeleteOrders => Resource::Orders,
            Need::UpdateCertificateStatus => Resource::Certificates,
        }
    }

    fn subresource(self) -> Option<&'static str> {
        match self {
            Need::DeleteOrders => None,
            Need::UpdateCertificateStatus => Some("status"),
        }
    }

    /// `delete orders.acme.cert-manager.io`, for messages.
    fn words(self) -> String {
        format!(
            "{} {}{}",
            self.verb(),
            self.resource().qualified(),
            self.subresource()
                .map(|s| format!("/{s}"))
                .unwrap_or_default()
        )
    }
}

/// What the API said about each (permission, namespace): `Err` carries the denial.
type PermissionCache = HashMap<(Need, String), Result<(), String>>;

/// The cluster implementation of [`Actions`]. Cheap to clone; clones share the permission
/// cache.
#[derive(Clone)]
pub struct KubeActions {
    client: kube::Client,
    read_only: bool,
    // A std lock, held only for a map lookup or insert and never across an await: the TUI's
    // update step reads it synchronously.
    permissions: Arc<RwLock<PermissionCache>>,
}

impl std::fmt::Debug for KubeActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeActions")
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// A write that [`KubeActions::plan`] found sensible and permitted, ready for
/// [`KubeActions::apply`]: exactly this change, against the object as it was read.
#[derive(Debug, Clone)]
pub struct Plan {
    action: Action,
    description: String,
    change: Change,
}

#[derive(Debug, Clone)]
enum Change {
    /// Delete the Order only if it is still the object read (same uid and resourceVersion).
    DeleteOrder {
        uid: String,
        resource_version: String,
        state: String,
    },
    /// Replace the Certificate's status with this object's (its resourceVersion is the one
    /// read, so a concurrent change makes the server answer 409).
    ReplaceStatus { object: Box<DynamicObject> },
}

impl Plan {
    /// The action this plan carries out.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// Exactly what applying the plan changes, for the confirmation prompt.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

impl KubeActions {
    /// Actions through `client`; `read_only` refuses every write.
    pub fn new(client: kube::Client, read_only: bool) -> KubeActions {
        KubeActions {
            client,
            read_only,
            permissions: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Asks the API which writes the user may make in `namespaces` and remembers the answers
    /// for [`Actions::availability`]. Answers that could not be had are left unknown (an
    /// unknown permission counts as available; [`KubeActions::plan`] asks again anyway).
    pub async fn prefetch_permissions(&self, namespaces: &[String]) {
        if self.read_only {
            return;
        }
        for namespace in namespaces {
            for need in Need::ALL {
                // Errors (API unreachable) leave the entry unknown: availability must not
                // claim a denial the server never made.
                if let Ok(answer) = self.ask(need, namespace).await {
                    self.remember(need, namespace, answer);
                }
            }
        }
    }

    /// Reads the object fresh, refuses states where the action makes no sense, and asks the
    /// API whether the user may make the write. `Err` is the reason, in one line.
    pub async fn plan(&self, action: &Action) -> Result<Plan, String> {
        if self.read_only {
            return Err(read_only_reason(action));
        }
        let (need, namespace) = Need::of(action);
        match self.ask(need, namespace).await {
            Ok(answer) => {
                self.remember(need, namespace, answer.clone());
                answer?;
            }
            Err(e) => {
                return Err(format!(
                    "cannot ask the API server whether {} is allowed in namespace {namespace}: {e}",
                    need.words()
                ));
            }
        }
        match action {
            Action::RetryOrder { namespace, name } => {
                self.plan_retry(action, namespace, name).await
            }
            Action::RenewCertificate { namespace, name } => {
                self.plan_renew(action, namespace, name).await
            }
        }
    }

    /// Sends the planned write; with `dry_run` the server validates it (admission, RBAC,
    /// preconditions) without keeping it. `Ok` is a one-line outcome, `Err` a one-line reason.
    pub async fn apply(&self, plan: Plan, dry_run: bool) -> Result<String, String> {
        if self.read_only {
            return Err(read_only_reason(&plan.action));
        }
        match (&plan.action, plan.change) {
            (
                Action::RetryOrder { namespace, name },
                Change::DeleteOrder {
                    uid,
                    resource_version,
                    state,
                },
            ) => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), namespace, &order_resource());
                let params = DeleteParams {
                    dry_run,
                    preconditions: Some(Preconditions {
                        uid: Some(uid),
                        resource_version: Some(resource_version),
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(name, &params).await {
                    Ok(_) if dry_run => Ok(format!(
                        "dry run: the server accepted deleting Order {namespace}/{name} (state {state}) (nothing changed)"
                    )),
                    Ok(answer) => {
                        // With finalizers the server only marks the Order; it goes once they
                        // are removed.
                        let finalizers = answer
                            .left()
                            .filter(|o| o.metadata.deletion_timestamp.is_some())
                            .and_then(|o| o.metadata.finalizers)
                            .filter(|f| !f.is_empty());
                        Ok(match finalizers {
                            Some(f) => format!(
                                "Marked Order {namespace}/{name} (state {state}) for deletion; it goes once its finalizers ({}) are removed, then cert-manager creates a new Order",
                                f.join(", ")
                            ),
                            None => format!(
                                "Deleted Order {namespace}/{name} (state {state}); cert-manager creates a new Order"
                            ),
                        })
                    }
                    Err(e) => Err(write_error(e, Need::DeleteOrders, "Order", namespace, name)),
                }
            }
            (Action::RenewCertificate { namespace, name }, Change::ReplaceStatus { object }) => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), namespace, &certificate_resource());
                let params = PostParams {
                    dry_run,
                    field_manager: Some("certdx".to_owned()),
                };
                match api.replace_status(name, &params, &object).await {
                    Ok(_) if dry_run => Ok(format!(
                        "dry run: the server accepted setting Issuing=True ({MANUALLY_TRIGGERED}) on Certificate {namespace}/{name} (nothing changed)"
                    )),
                    Ok(_) => Ok(format!(
                        "Set Issuing=True ({MANUALLY_TRIGGERED}) on Certificate {namespace}/{name}; cert-manager issues a new revision"
                    )),
                    Err(e) => Err(write_error(
                        e,
                        Need::UpdateCertificateStatus,
                        "Certificate",
                        namespace,
                        name,
                    )),
                }
            }
            // A Plan is only built by `plan`, which pairs each action with its change.
            (action, _) => Err(format!("{action}: internal error: plan does not match")),
        }
    }

    async fn plan_retry(&self, action: &Action, ns: &str, name: &str) -> Result<Plan, String> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &order_resource());
        let order = get(&api, Resource::Orders, "Order", ns, name).await?;
        let state = order.data["status"]["state"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if state == "valid" {
            return Err(format!(
                "Order {ns}/{name} is valid: its certificate was issued, there is nothing to retry (renew the Certificate for a new one)"
            ));
        }
        if IN_PROGRESS.contains(&state.as_str()) {
            let shown = if state.is_empty() {
                "not set yet"
            } else {
                &state
            };
            return Err(format!(
                "Order {ns}/{name} is still in progress (state {shown}): cert-manager is still working on it; retry only an Order that failed (invalid, errored, expired)"
            ));
        }
        if !FAILED.contains(&state.as_str()) {
            return Err(format!(
                "Order {ns}/{name} has state {state:?}, which certdx does not know: refusing to delete it"
            ));
        }
        let (Some(uid), Some(resource_version)) = (
            order.metadata.uid.clone(),
            order.metadata.resource_version.clone(),
        ) else {
            return Err(format!(
                "Order {ns}/{name}: the server returned it without uid or resourceVersion"
            ));
        };
        let request_name = order
            .metadata
            .owner_references
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|r| r.kind == "CertificateRequest")
            .map(|r| r.name.clone());
        let request = match &request_name {
            Some(cr) => {
                self.request_still_open(ns, name, cr).await?;
                format!("CertificateRequest {ns}/{cr}")
            }
            None => "the same CertificateRequest".to_owned(),
        };
        let description = format!(
            "Delete Order {ns}/{name} (state {state}, uid {uid}, resourceVersion {resource_version}); cert-manager then creates a new Order for {request}."
        );
        Ok(Plan {
            action: action.clone(),
            description,
            change: Change::DeleteOrder {
                uid,
                resource_version,
                state,
            },
        })
    }

    /// cert-manager makes a new Order only for a CertificateRequest that has not failed (its
    /// controllers skip failed requests), so deleting the Order of a failed or vanished
    /// request would change nothing: refuse, and point at renew, which starts a new request.
    async fn request_still_open(&self, ns: &str, order: &str, cr: &str) -> Result<(), String> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            ns,
            &ApiResource::erase::<CertificateRequest>(&()),
        );
        let request = match api.get_opt(cr).await {
            Ok(r) => r,
            Err(e) => {
                return Err(rbac_words(ClusterError::from_kube(
                    e,
                    "get",
                    &Resource::CertificateRequests.qualified(),
                    Some(ns),
                )));
            }
        };
        let Some(request) = request else {
            return Err(format!(
                "the CertificateRequest {ns}/{cr} of Order {ns}/{order} no longer exists: nothing would create a new Order; renew the Certificate instead (N in the view, `certdx renew CERTIFICATE -n {ns}`)"
            ));
        };
        let certificate = request
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("cert-manager.io/certificate-name"))
            .cloned()
            .unwrap_or_else(|| "CERTIFICATE".to_owned());
        let failed = request.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                (c["type"] == "Ready" && c["reason"] == "Failed")
                    || (c["type"] == "Denied" && c["status"] == "True")
            });
        match failed {
            // The point first: a status line shows only the start of a long reason.
            Some(c) => Err(format!(
                "renew Certificate {ns}/{certificate} instead (N, or `certdx renew {certificate} -n {ns}`): CertificateRequest {ns}/{cr} has {}, and cert-manager makes no new Order for it, so deleting Order {ns}/{order} would change nothing ({})",
                if c["type"] == "Denied" {
                    "been denied"
                } else {
                    "failed"
                },
                c["message"].as_str().unwrap_or("no message")
            )),
            None => Ok(()),
        }
    }

    async fn plan_renew(&self, action: &Action, ns: &str, name: &str) -> Result<Plan, String> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &certificate_resource());
        let mut cert = get(&api, Resource::Certificates, "Certificate", ns, name).await?;
        if cert.metadata.resource_version.is_none() {
            return Err(format!(
                "Certificate {ns}/{name}: the server returned it without a resourceVersion"
            ));
        }
        let now = jiff::Timestamp::now();
        let generation = cert.metadata.generation;
        let renewed = renew_status(&cert.data["status"], generation, now)
            .map_err(|why| format!("Certificate {ns}/{name} {why}"))?;
        let before = renewed.previous.clone();
        cert.data["status"] = renewed.status;
        let kept = renewed.kept;
        let previous = match before {
            Some(p) => format!(", replacing Issuing={p}"),
            None => String::new(),
        };
        let generation_words = generation
            .map(|g| format!(", observedGeneration {g}"))
            .unwrap_or_default();
        let description = format!(
            "Set status.conditions[Issuing] of Certificate {ns}/{name} to status True, reason {MANUALLY_TRIGGERED}, message \"{MANUALLY_TRIGGERED_MESSAGE}\" (lastTransitionTime {now}{generation_words}) through the status subresource{previous}; the other {kept} condition(s) are kept; cert-manager then issues a new revision.",
            now = round_seconds(now),
        );
        Ok(Plan {
            action: action.clone(),
            description,
            change: Change::ReplaceStatus {
                object: Box::new(cert),
            },
        })
    }

    async fn ask(&self, need: Need, namespace: &str) -> Result<Result<(), String>, ClusterError> {
        resource::can_i(
            &self.client,
            need.verb(),
            need.resource(),
            need.subresource(),
            Some(namespace),
        )
        .await
    }

    fn remember(&self, need: Need, namespace: &str, answer: Result<(), String>) {
        // A poisoned lock only means another thread panicked mid-insert; the map is still a
        // valid cache.
        let mut map = self
            .permissions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.insert((need, namespace.to_owned()), answer);
    }
}

impl Actions for KubeActions {
    fn availability(&self, action: &Action) -> Result<(), String> {
        if self.read_only {
            return Err(read_only_reason(action));
        }
        let (need, namespace) = Need::of(action);
        let map = self
            .permissions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match map.get(&(need, namespace.to_owned())) {
            Some(answer) => answer.clone(),
            // Not asked yet: offer it; `plan` asks before writing.
            None => Ok(()),
        }
    }

    fn describe(&self, action: &Action) -> String {
        match action {
            Action::RetryOrder { namespace, name } => format!(
                "Delete Order {namespace}/{name} (after checking it is still failed; the delete holds only for the uid and resourceVersion just read); cert-manager then creates a new Order for the same CertificateRequest."
            ),
            Action::RenewCertificate { namespace, name } => format!(
                "Set condition Issuing=True (reason {MANUALLY_TRIGGERED}, message \"{MANUALLY_TRIGGERED_MESSAGE}\") on Certificate {namespace}/{name} through its status subresource, keeping its other conditions; cert-manager then issues a new revision."
            ),
        }
    }

    fn perform(&self, action: Action) -> BoxFuture<'static, Result<String, String>> {
        let this = self.clone();
        Box::pin(async move {
            let plan = this.plan(&action).await?;
            this.apply(plan, false).await
        })
    }

    fn prefetch(&self, namespaces: Vec<String>) -> BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move { this.prefetch_permissions(&namespaces).await })
    }
}

/// The result of setting `Issuing=True` on a Certificate's status.
#[derive(Debug, Clone, PartialEq)]
struct RenewedStatus {
    /// The whole new status (every other field as it was).
    status: Value,
    /// The replaced Issuing condition, as `False (Failed)`, if there was one.
    previous: Option<String>,
    /// How many other conditions were kept.
    kept: usize,
}

/// Sets the `Issuing` condition as cmctl's `SetCertificateCondition` does: replaced in place
/// (or appended), lastTransitionTime now (the status changes), observedGeneration the
/// Certificate's generation; every other condition and status field untouched. `Err` when
/// the Certificate is already being issued or its status is malformed.
fn renew_status(
    status: &Value,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> Result<RenewedStatus, String> {
    let mut status = match status {
        Value::Null => json!({}),
        Value::Object(_) => status.clone(),
        _ => return Err("has a status that is not an object: refusing to rewrite it".to_owned()),
    };
    let conditions = match status.get("conditions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => {
            return Err("has status.conditions that is not a list: refusing to rewrite it".into());
        }
    };
    let is_issuing = |c: &Value| c.get("type").and_then(Value::as_str) == Some("Issuing");
    if let Some(current) = conditions.iter().find(|c| is_issuing(c))
        && current
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
    {
        let reason = current
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason");
        return Err(format!(
            "is already being issued (Issuing=True, reason {reason}): cert-manager is working on it, nothing to renew"
        ));
    }
    let mut issuing = json!({
        "type": "Issuing",
        "status": "True",
        "reason": MANUALLY_TRIGGERED,
        "message": MANUALLY_TRIGGERED_MESSAGE,
        "lastTransitionTime": round_seconds(now),
    });
    if let Some(g) = generation {
        issuing["observedGeneration"] = json!(g);
    }
    let mut previous = None;
    let mut kept = 0;
    let mut out = Vec::with_capacity(conditions.len() + 1);
    for c in conditions {
        if is_issuing(&c) {
            if previous.is_none() {
                let s = c.get("status").and_then(Value::as_str).unwrap_or("?");
                previous = Some(match c.get("reason").and_then(Value::as_str) {
                    Some(r) if !r.is_empty() => format!("{s} ({r})"),
                    _ => s.to_owned(),
                });
                out.push(issuing.clone());
            }
            // A second Issuing condition would be a malformed status; cmctl keeps one.
        } else {
            kept += 1;
            out.push(c);
        }
    }
    if previous.is_none() {
        out.push(issuing);
    }
    status["conditions"] = Value::Array(out);
    Ok(RenewedStatus {
        status,
        previous,
        kept,
    })
}

/// RFC 3339 with whole seconds, as metav1.Time is written.
fn round_seconds(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

fn order_resource() -> ApiResource {
    ApiResource::erase::<Order>(&())
}

fn certificate_resource() -> ApiResource {
    ApiResource::erase::<Certificate>(&())
}

fn read_only_reason(action: &Action) -> String {
    format!("read-only session: {action} is not allowed (started with --read-only)")
}

async fn get(
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
fn write_error(e: kube::Error, need: Need, kind: &str, ns: &str, name: &str) -> String {
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
fn rbac_words(e: ClusterError) -> String {
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

    fn at() -> jiff::Timestamp {
        "2026-02-01T10:20:30.456Z".parse().expect("timestamp")
    }

    #[test]
    fn renew_replaces_a_failed_issuing_condition_and_keeps_the_rest() {
        let status = json!({
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "DoesNotExist", "vendor": 1},
                {"type": "Issuing", "status": "False", "reason": "Failed",
                 "lastTransitionTime": "2026-01-15T08:00:00Z"}
            ],
            "failedIssuanceAttempts": 3,
            "unknownField": "kept"
        });
        let out = renew_status(&status, Some(4), at()).expect("renewable");
        assert_eq!(out.previous.as_deref(), Some("False (Failed)"));
        assert_eq!(out.kept, 1);
        assert_eq!(out.status["unknownField"], "kept");
        assert_eq!(out.status["failedIssuanceAttempts"], 3);
        let conditions = out.status["conditions"].as_array().expect("list");
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0], status["conditions"][0]);
        assert_eq!(
            conditions[1],
            json!({
                "type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
                "message": "Certificate re-issuance manually triggered",
                "lastTransitionTime": "2026-02-01T10:20:30Z", "observedGeneration": 4
            })
        );
    }

    #[test]
    fn renew_appends_issuing_when_absent_and_handles_missing_status() {
        let out = renew_status(&Value::Null, None, at()).expect("renewable");
        assert_eq!(out.previous, None);
        assert_eq!(out.kept, 0);
        let conditions = out.status["conditions"].as_array().expect("list");
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0]["type"], "Issuing");
        assert!(conditions[0].get("observedGeneration").is_none());
    }

    #[test]
    fn renew_refuses_a_certificate_already_issuing_and_malformed_status() {
        let status = json!({"conditions": [
            {"type": "Issuing", "status": "True", "reason": "DoesNotExist"}
        ]});
        let err = renew_status(&status, Some(1), at()).expect_err("already issuing");
        assert!(err.contains("already being issued"), "{err}");
        assert!(err.contains("DoesNotExist"), "{err}");
        let err = renew_status(&json!({"conditions": "x"}), None, at()).expect_err("malformed");
        assert!(err.contains("not a list"), "{err}");
        let err = renew_status(&json!([1]), None, at()).expect_err("malformed");
        assert!(err.contains("not an object"), "{err}");
    }

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
