//! [`Actions`] on a live cluster: delete a failed Order, set the Certificate's `Issuing`
//! condition the way `cmctl renew` does, or release a Challenge stuck in deletion (remove
//! cert-manager's finalizer). Which of them a retry makes is decided in [`super::retry`].
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
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    Preconditions,
};

use super::retry::PendingLifetime;
use super::{Action, Actions};
use crate::model::{
    AcmeIssuer, CertificateRequest, Challenge, ClusterIssuer, Issuer, IssuerRef, Order,
};
use crate::source::cluster::{ClusterError, Resource, resource};

mod need;
mod renew_status;
mod wire;

use need::Need;
use renew_status::{renew_status, round_seconds};
use wire::{
    certificate_resource, challenge_resource, get, order_resource, rbac_words, read_only_reason,
    write_error,
};

/// The reason `Issuing` is set to True with, as `cmctl renew` sets it.
pub const MANUALLY_TRIGGERED: &str = "ManuallyTriggered";
/// The message `Issuing` is set to True with, as `cmctl renew` sets it.
pub const MANUALLY_TRIGGERED_MESSAGE: &str = "Certificate re-issuance manually triggered";

/// Order states in which cert-manager is still working on the Order.
const IN_PROGRESS: [&str; 4] = ["", "pending", "ready", "processing"];
/// Order states that are final failures: a new Order is the only way forward.
const FAILED: [&str; 3] = ["invalid", "errored", "expired"];

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
    /// Set the Challenge's finalizers to `kept` (cert-manager's removed), only if it is still
    /// the object read: the merge patch carries the uid and resourceVersion read, which the
    /// server checks (409 on a changed object).
    SetFinalizers {
        uid: String,
        resource_version: String,
        kept: Vec<String>,
        removed: Vec<String>,
    },
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
            Action::ReleaseChallenge { namespace, name } => {
                self.plan_release(action, namespace, name).await
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
            (
                Action::ReleaseChallenge { namespace, name },
                Change::SetFinalizers {
                    uid,
                    resource_version,
                    kept,
                    removed,
                },
            ) => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), namespace, &challenge_resource());
                let patch = serde_json::json!({
                    "metadata": {
                        "uid": uid,
                        "resourceVersion": resource_version,
                        "finalizers": kept,
                    }
                });
                let params = PatchParams {
                    dry_run,
                    field_manager: Some("certdx".to_owned()),
                    ..PatchParams::default()
                };
                match api.patch(name, &params, &Patch::Merge(&patch)).await {
                    Ok(_) if dry_run => Ok(format!(
                        "dry run: the server accepted removing finalizer {} from Challenge {namespace}/{name} (nothing changed)",
                        removed.join(", ")
                    )),
                    Ok(_) => Ok(format!(
                        "Removed finalizer {} from Challenge {namespace}/{name}; the API server deletes it, and new Challenges for its name can proceed",
                        removed.join(", ")
                    )),
                    Err(e) => Err(write_error(
                        e,
                        Need::PatchChallenges,
                        "Challenge",
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
        let mut stuck = None;
        if IN_PROGRESS.contains(&state.as_str()) {
            stuck = self.pending_but_stuck(ns, name).await?;
            if stuck.is_none() {
                let shown = if state.is_empty() {
                    "not set yet"
                } else {
                    &state
                };
                return Err(format!(
                    "Order {ns}/{name} is still in progress (state {shown}): cert-manager is still working on it; retry only an Order that failed (invalid, errored, expired) or one that waits on a failed Challenge"
                ));
            }
        } else if !FAILED.contains(&state.as_str()) {
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
        let stuck = stuck
            .map(|why| format!(" because {why}"))
            .unwrap_or_default();
        let description = format!(
            "Delete Order {ns}/{name} (state {state}, uid {uid}, resourceVersion {resource_version}){stuck}; cert-manager then creates a new Order for {request}."
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

    /// Why an Order cert-manager still calls pending can never complete (a Challenge of it in
    /// a final failed state, authorizations outlived), read fresh; `None` while it can.
    async fn pending_but_stuck(&self, ns: &str, name: &str) -> Result<Option<String>, String> {
        let orders: Api<Order> = Api::namespaced(self.client.clone(), ns);
        let order = match orders.get(name).await {
            Ok(o) => o,
            Err(e) => {
                return Err(rbac_words(ClusterError::from_kube(
                    e,
                    "get",
                    &Resource::Orders.qualified(),
                    Some(ns),
                )));
            }
        };
        let challenges: Api<Challenge> = Api::namespaced(self.client.clone(), ns);
        let listed = match challenges.list(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(e) => {
                return Err(rbac_words(ClusterError::from_kube(
                    e,
                    "list",
                    &Resource::Challenges.qualified(),
                    Some(ns),
                )));
            }
        };
        let uid = order.metadata.uid.clone().unwrap_or_default();
        let owned: Vec<&Challenge> = listed
            .iter()
            .filter(|c| {
                c.metadata
                    .owner_references
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r.kind == "Order" && (r.uid == uid || r.name == name))
            })
            .collect();
        let acme = self.acme_issuer(&order.spec.issuer_ref, ns).await;
        Ok(super::retry::order_stuck(
            &order,
            &owned,
            jiff::Timestamp::now(),
            &PendingLifetime::of(acme.as_ref()),
        ))
    }

    /// The ACME settings of the issuer `r` names for an object in `ns`, read fresh; `None` when
    /// it cannot be read (the classic lifetimes are assumed then).
    async fn acme_issuer(&self, r: &IssuerRef, ns: &str) -> Option<AcmeIssuer> {
        if r.is_cluster() {
            let api: Api<ClusterIssuer> = Api::all(self.client.clone());
            api.get(&r.name).await.ok()?.spec.config.acme
        } else {
            let api: Api<Issuer> = Api::namespaced(self.client.clone(), ns);
            api.get(&r.name).await.ok()?.spec.config.acme
        }
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

    /// Releases only a Challenge that is being deleted and still carries cert-manager's
    /// finalizer: any other Challenge is cert-manager's to handle.
    async fn plan_release(&self, action: &Action, ns: &str, name: &str) -> Result<Plan, String> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &challenge_resource());
        let ch = get(&api, Resource::Challenges, "Challenge", ns, name).await?;
        let Some(since) = ch.metadata.deletion_timestamp.as_ref() else {
            return Err(format!(
                "Challenge {ns}/{name} is not being deleted: its finalizer is cert-manager's to manage, refusing to touch it"
            ));
        };
        let finalizers = ch.metadata.finalizers.clone().unwrap_or_default();
        let (removed, kept): (Vec<String>, Vec<String>) = finalizers
            .into_iter()
            .partition(|f| super::retry::CHALLENGE_FINALIZERS.contains(&f.as_str()));
        if removed.is_empty() {
            return Err(format!(
                "Challenge {ns}/{name} no longer carries cert-manager's finalizer: the API server deletes it once its other finalizers ({}) go",
                if kept.is_empty() {
                    "none".to_owned()
                } else {
                    kept.join(", ")
                }
            ));
        }
        let (Some(uid), Some(resource_version)) = (
            ch.metadata.uid.clone(),
            ch.metadata.resource_version.clone(),
        ) else {
            return Err(format!(
                "Challenge {ns}/{name}: the server returned it without uid or resourceVersion"
            ));
        };
        let description = format!(
            "Remove finalizer {} from Challenge {ns}/{name} (being deleted since {}; uid {uid}, resourceVersion {resource_version}){}; the API server then deletes it.",
            removed.join(", "),
            since.0,
            if kept.is_empty() {
                String::new()
            } else {
                format!(", keeping {}", kept.join(", "))
            }
        );
        Ok(Plan {
            action: action.clone(),
            description,
            change: Change::SetFinalizers {
                uid,
                resource_version,
                kept,
                removed,
            },
        })
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
            Action::ReleaseChallenge { namespace, name } => format!(
                "Remove cert-manager's finalizer from Challenge {namespace}/{name} (only while it is being deleted; the patch holds only for the uid and resourceVersion just read); the API server then deletes it."
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
