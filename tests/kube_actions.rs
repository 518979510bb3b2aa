//! Retry and renew against a real kube-apiserver: what is written, what is refused, and that
//! nothing changes when it should not (dry run, RBAC denial, concurrent change).

#[path = "common/kube_lab.rs"]
mod kube_lab;

use std::future::Future;
use std::time::Duration;

use certdx::actions::kube::KubeActions;
use certdx::actions::{Action, Actions};
use certdx::model::{Certificate, Order};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube_lab::KubeLab;
use serde_json::json;

/// Bounds every test: a hung server must fail the test, not the CI job.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

/// issuance-backoff.yaml: Certificate crm (Ready=False, Issuing=False Failed), Order errored,
/// its CertificateRequest failed (so a retry is refused: renew is the way).
const BACKOFF_FAILED_REQUEST: &str = include_str!("fixtures/issuance-backoff.yaml");

/// The same, at the moment the Order has errored but cert-manager has not yet marked its
/// CertificateRequest failed: the one state where deleting the Order makes cert-manager
/// create a new one.
fn backoff() -> String {
    let failed = r#"reason: Failed, message: "Failed to finalize Order"#;
    assert!(BACKOFF_FAILED_REQUEST.contains(failed));
    BACKOFF_FAILED_REQUEST
        .replace(failed, r#"reason: Pending, message: "Waiting on Order"#)
        .replace("    failureTime: \"2026-01-15T11:50:01Z\"\n", "")
}
const ERRORED_ORDER: &str = "crm-1-2576102471";
/// healthy.yaml: Order valid.
const HEALTHY: &str = include_str!("fixtures/healthy.yaml");
const VALID_ORDER: &str = "www-1-1234567890";
/// challenge-stuck.yaml: an Order still pending.
const STUCK: &str = include_str!("fixtures/challenge-stuck.yaml");

/// A failed Certificate with status fields the model does not know, and one already issuing.
const CERTS: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: failed, namespace: x}
spec:
  secretName: failed-tls
  dnsNames: [failed.example.com]
  issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}
status:
  vendorNote: kept
  failedIssuanceAttempts: 2
  lastFailureTime: "2026-01-15T08:00:00Z"
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z", observedGeneration: 1, vendorDetail: nested}
  - {type: Issuing, status: "False", reason: Failed, message: "The certificate request has failed to complete and will be retried", lastTransitionTime: "2026-01-15T08:00:00Z", observedGeneration: 1}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: busy, namespace: x}
spec:
  secretName: busy-tls
  dnsNames: [busy.example.com]
  issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}
status:
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z"}
  - {type: Issuing, status: "True", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z"}
"#;

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_DEADLINE, test)
        .await
        .expect("the test finished in time");
}

fn retry(ns: &str, name: &str) -> Action {
    Action::RetryOrder {
        namespace: ns.to_owned(),
        name: name.to_owned(),
    }
}

fn renew(ns: &str, name: &str) -> Action {
    Action::RenewCertificate {
        namespace: ns.to_owned(),
        name: name.to_owned(),
    }
}

async fn order(lab: &KubeLab, ns: &str, name: &str) -> Option<Order> {
    Api::<Order>::namespaced(lab.admin(), ns)
        .get_opt(name)
        .await
        .expect("admin reads orders")
}

async fn raw_certificate(lab: &KubeLab, ns: &str, name: &str) -> DynamicObject {
    Api::<DynamicObject>::namespaced_with(lab.admin(), ns, &ApiResource::erase::<Certificate>(&()))
        .get(name)
        .await
        .expect("admin reads certificates")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_deletes_an_errored_order() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("retry").await;
        lab.load_fixture(&ns, &backoff()).await;
        let actions = KubeActions::new(lab.client("writer"), false);

        let plan = actions
            .plan(&retry(&ns, ERRORED_ORDER))
            .await
            .expect("an errored order can be retried");
        let words = plan.describe();
        assert!(
            words.starts_with(&format!("Delete Order {ns}/{ERRORED_ORDER} (state errored")),
            "{words}"
        );
        assert!(
            words.contains(&format!(
                "cert-manager then creates a new Order for CertificateRequest {ns}/crm-1."
            )),
            "{words}"
        );
        assert!(
            order(&lab, &ns, ERRORED_ORDER).await.is_some(),
            "planning changes nothing"
        );

        let outcome = actions.apply(plan, false).await.expect("deleted");
        assert!(
            outcome.starts_with(&format!("Deleted Order {ns}/{ERRORED_ORDER}")),
            "{outcome}"
        );
        assert!(
            order(&lab, &ns, ERRORED_ORDER).await.is_none(),
            "the Order is gone"
        );

        // Done twice: the second time the Order is not there to delete.
        let again = actions.perform(retry(&ns, ERRORED_ORDER)).await;
        let err = again.expect_err("nothing left to delete");
        assert!(err.contains("not found"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_refuses_valid_and_in_progress_orders() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("refuse").await;
        lab.load_fixture(&ns, HEALTHY).await;
        let stuck_ns = lab.namespace("stuck").await;
        lab.load_fixture(&stuck_ns, STUCK).await;
        let pending: Vec<Order> = Api::<Order>::namespaced(lab.admin(), &stuck_ns)
            .list(&Default::default())
            .await
            .expect("orders")
            .items;
        let pending_name = pending
            .iter()
            .find(|o| o.status.as_ref().and_then(|s| s.state.as_deref()) == Some("pending"))
            .and_then(|o| o.metadata.name.clone())
            .expect("challenge-stuck.yaml has a pending Order");
        let actions = KubeActions::new(lab.client("writer"), false);

        let err = actions
            .perform(retry(&ns, VALID_ORDER))
            .await
            .expect_err("a valid order is not retried");
        assert!(
            err.contains(&format!("Order {ns}/{VALID_ORDER} is valid")),
            "{err}"
        );
        assert!(err.contains("nothing to retry"), "{err}");
        assert!(order(&lab, &ns, VALID_ORDER).await.is_some(), "still there");

        let err = actions
            .perform(retry(&stuck_ns, &pending_name))
            .await
            .expect_err("a pending order is not retried");
        assert!(err.contains("still in progress (state pending)"), "{err}");
        assert!(err.contains("cert-manager is still working on it"), "{err}");
        assert!(
            order(&lab, &stuck_ns, &pending_name).await.is_some(),
            "still there"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_dry_run_and_concurrent_change_leave_the_order_in_place() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("dry").await;
        lab.load_fixture(&ns, &backoff()).await;
        let actions = KubeActions::new(lab.client("writer"), false);
        let before = order(&lab, &ns, ERRORED_ORDER).await.expect("order");

        let plan = actions.plan(&retry(&ns, ERRORED_ORDER)).await.expect("plan");
        let outcome = actions.apply(plan, true).await.expect("dry run accepted");
        assert_eq!(
            outcome,
            format!(
                "dry run: the server accepted deleting Order {ns}/{ERRORED_ORDER} (state errored) (nothing changed)"
            )
        );
        let after = order(&lab, &ns, ERRORED_ORDER).await.expect("still there");
        assert_eq!(after.metadata.resource_version, before.metadata.resource_version);

        // The Order changes between plan and apply: the precondition stops the delete.
        let plan = actions.plan(&retry(&ns, ERRORED_ORDER)).await.expect("plan");
        Api::<Order>::namespaced(lab.admin(), &ns)
            .patch(
                ERRORED_ORDER,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
            )
            .await
            .expect("admin touches the order");
        let err = actions.apply(plan, false).await.expect_err("precondition fails");
        assert!(err.contains("changed meanwhile"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        assert!(order(&lab, &ns, ERRORED_ORDER).await.is_some(), "not deleted");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_sets_issuing_manually_triggered_and_keeps_everything_else() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("renew").await;
        lab.load_fixture(&ns, CERTS).await;
        let actions = KubeActions::new(lab.client("writer"), false);
        let before = raw_certificate(&lab, &ns, "failed").await;

        let plan = actions.plan(&renew(&ns, "failed")).await.expect("renewable");
        let words = plan.describe().to_owned();
        assert!(
            words.starts_with(&format!(
                "Set status.conditions[Issuing] of Certificate {ns}/failed to status True, reason ManuallyTriggered"
            )),
            "{words}"
        );
        assert!(words.contains("replacing Issuing=False (Failed)"), "{words}");
        assert!(words.contains("the other 1 condition(s) are kept"), "{words}");

        // Dry run first: accepted, nothing changed.
        let dry = actions.apply(plan.clone(), true).await.expect("dry run");
        assert!(dry.starts_with("dry run: the server accepted"), "{dry}");
        assert!(dry.ends_with("(nothing changed)"), "{dry}");
        let unchanged = raw_certificate(&lab, &ns, "failed").await;
        assert_eq!(unchanged.data["status"], before.data["status"]);
        assert_eq!(
            unchanged.metadata.resource_version,
            before.metadata.resource_version
        );

        let outcome = actions.apply(plan, false).await.expect("renewed");
        assert!(outcome.contains("Set Issuing=True (ManuallyTriggered)"), "{outcome}");

        let after = raw_certificate(&lab, &ns, "failed").await;
        let conditions = after.data["status"]["conditions"]
            .as_array()
            .expect("conditions")
            .clone();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0], before.data["status"]["conditions"][0], "Ready kept as it was");
        let issuing = &conditions[1];
        assert_eq!(issuing["type"], "Issuing");
        assert_eq!(issuing["status"], "True");
        assert_eq!(issuing["reason"], "ManuallyTriggered");
        assert_eq!(issuing["message"], "Certificate re-issuance manually triggered");
        assert_eq!(issuing["observedGeneration"], json!(before.metadata.generation));
        let changed: jiff::Timestamp = issuing["lastTransitionTime"]
            .as_str()
            .expect("lastTransitionTime")
            .parse()
            .expect("RFC 3339");
        let age = jiff::Timestamp::now().duration_since(changed);
        assert!(age.as_secs() < 60 && age.as_secs() >= 0, "set now, not {changed}");
        assert_eq!(after.data["status"]["vendorNote"], "kept");
        assert_eq!(after.data["status"]["failedIssuanceAttempts"], 2);
        assert_eq!(after.data["spec"], before.data["spec"], "spec untouched");

        // The model reads it back as cert-manager would.
        let typed = Api::<Certificate>::namespaced(lab.admin(), &ns)
            .get("failed")
            .await
            .expect("typed read");
        let status = typed.status.expect("status");
        let issuing = certdx::model::condition(&status.conditions, "Issuing").expect("Issuing");
        assert!(issuing.is_true());
        assert_eq!(issuing.reason.as_deref(), Some("ManuallyTriggered"));

        // Now it is issuing: a second renew is refused.
        let err = actions
            .perform(renew(&ns, "failed"))
            .await
            .expect_err("already issuing");
        assert!(err.contains("already being issued"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_refuses_when_already_issuing_and_when_changed_meanwhile() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("busy").await;
        lab.load_fixture(&ns, CERTS).await;
        let actions = KubeActions::new(lab.client("writer"), false);
        let before = raw_certificate(&lab, &ns, "busy").await;

        let err = actions
            .perform(renew(&ns, "busy"))
            .await
            .expect_err("already issuing");
        assert_eq!(
            err,
            format!(
                "Certificate {ns}/busy is already being issued (Issuing=True, reason DoesNotExist): cert-manager is working on it, nothing to renew"
            )
        );
        let after = raw_certificate(&lab, &ns, "busy").await;
        assert_eq!(after.metadata.resource_version, before.metadata.resource_version);

        // cert-manager updates the status between plan and apply: 409, reported, not retried.
        let plan = actions.plan(&renew(&ns, "failed")).await.expect("plan");
        let api = Api::<DynamicObject>::namespaced_with(
            lab.admin(),
            &ns,
            &ApiResource::erase::<Certificate>(&()),
        );
        api.patch_status(
            "failed",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"failedIssuanceAttempts": 3}})),
        )
        .await
        .expect("admin updates the status");
        let err = actions.apply(plan, false).await.expect_err("conflict");
        assert!(err.contains(&format!("Certificate {ns}/failed changed meanwhile")), "{err}");
        assert!(err.contains("try again"), "{err}");
        let now = raw_certificate(&lab, &ns, "failed").await;
        assert_eq!(now.data["status"]["conditions"][1]["status"], "False", "not renewed");
        assert_eq!(now.data["status"]["failedIssuanceAttempts"], 3, "cert-manager's write kept");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_and_reader_get_a_clear_rbac_refusal_and_nothing_changes() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("rbac").await;
        lab.load_fixture(&ns, &backoff()).await;
        lab.load_fixture(&ns, CERTS).await;
        let cert_before = raw_certificate(&lab, &ns, "failed").await;

        for user in ["nobody", "reader"] {
            let actions = KubeActions::new(lab.client(user), false);
            let err = actions
                .perform(retry(&ns, ERRORED_ORDER))
                .await
                .expect_err("delete denied");
            assert!(
                err.starts_with(&format!(
                    "RBAC does not allow delete orders.acme.cert-manager.io in namespace {ns}"
                )),
                "{user}: {err}"
            );
            let err = actions
                .perform(renew(&ns, "failed"))
                .await
                .expect_err("status update denied");
            assert!(
                err.starts_with(&format!(
                    "RBAC does not allow update certificates.cert-manager.io/status in namespace {ns}"
                )),
                "{user}: {err}"
            );
        }
        assert!(order(&lab, &ns, ERRORED_ORDER).await.is_some(), "order kept");
        let cert_after = raw_certificate(&lab, &ns, "failed").await;
        assert_eq!(
            cert_after.metadata.resource_version,
            cert_before.metadata.resource_version
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_is_answered_from_the_prefetched_cache() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("avail").await;
        let nobody = KubeActions::new(lab.client("nobody"), false);
        let writer = KubeActions::new(lab.client("writer"), false);
        let read_only = KubeActions::new(lab.client("writer"), true);

        // Not asked yet: offered (perform asks anyway).
        assert_eq!(nobody.availability(&retry(&ns, "x")), Ok(()));

        let actions: &dyn Actions = &nobody;
        actions.prefetch(vec![ns.clone()]).await;
        writer.prefetch(vec![ns.clone()]).await;

        // With the API server gone, answers can only come from the cache.
        lab.stop_apiserver();
        let started = std::time::Instant::now();
        let denied = nobody
            .availability(&retry(&ns, "x"))
            .expect_err("nobody may not delete orders");
        assert!(
            denied.starts_with(&format!(
                "RBAC does not allow delete orders.acme.cert-manager.io in namespace {ns}"
            )),
            "{denied}"
        );
        let denied = nobody
            .availability(&renew(&ns, "x"))
            .expect_err("nobody may not update certificate status");
        assert!(
            denied.contains("update certificates.cert-manager.io/status"),
            "{denied}"
        );
        assert_eq!(writer.availability(&retry(&ns, "x")), Ok(()));
        assert_eq!(writer.availability(&renew(&ns, "x")), Ok(()));
        // Another namespace was never asked about: unknown counts as available.
        assert_eq!(nobody.availability(&retry("elsewhere", "x")), Ok(()));
        assert!(started.elapsed() < Duration::from_millis(100), "no network");

        let ro = read_only
            .availability(&retry(&ns, "x"))
            .expect_err("read-only");
        assert!(ro.starts_with("read-only session"), "{ro}");
        let ro = read_only
            .perform(renew(&ns, "x"))
            .await
            .expect_err("read-only");
        assert!(ro.starts_with("read-only session"), "{ro}");
        assert!(
            read_only
                .describe(&renew(&ns, "x"))
                .contains("Issuing=True")
        );
    })
    .await;
}

/// Runs the certdx binary against the lab as `context`, stdin not a terminal.
async fn cli(lab: &KubeLab, context: &str, args: &[&str]) -> (i32, String, String) {
    lab.certdx(context, args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_retry_and_renew_confirm_refuse_and_exit_as_documented() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("cli").await;
        lab.load_fixture(&ns, &backoff()).await;
        lab.load_fixture(&ns, CERTS).await;

        // No --yes and no terminal: refused, nothing changed.
        let (code, _, err) = cli(&lab, "writer", &["retry", ERRORED_ORDER, "-n", &ns]).await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("Delete Order {ns}/{ERRORED_ORDER}")),
            "plan shown: {err}"
        );
        assert!(err.contains("pass --yes"), "{err}");
        assert!(order(&lab, &ns, ERRORED_ORDER).await.is_some());

        // --read-only removes the write path.
        let (code, _, err) = cli(
            &lab,
            "writer",
            &["--read-only", "retry", ERRORED_ORDER, "-n", &ns, "--yes"],
        )
        .await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("read-only"), "{err}");
        assert!(order(&lab, &ns, ERRORED_ORDER).await.is_some());

        // Without -n the context's namespace is meant, as with kubectl (the lab's contexts
        // name none: `default`, where this Order is not); -A makes no sense.
        let (code, _, err) = cli(&lab, "writer", &["retry", ERRORED_ORDER, "--yes"]).await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("named \"{ERRORED_ORDER}\" in namespace default")),
            "{err}"
        );
        assert!(order(&lab, &ns, ERRORED_ORDER).await.is_some());
        let (code, _, err) = cli(&lab, "writer", &["retry", ERRORED_ORDER, "-A", "--yes"]).await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("-A makes no sense"), "{err}");

        // A missing Order: not found, named.
        let (code, _, err) = cli(&lab, "writer", &["retry", "nope", "-n", &ns, "--yes"]).await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("named \"nope\" in namespace {ns}; closest:")),
            "{err}"
        );

        // The reader is denied, with verb and resource named.
        let (code, _, err) = cli(
            &lab,
            "reader",
            &["retry", ERRORED_ORDER, "-n", &ns, "--yes"],
        )
        .await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("RBAC does not allow delete orders.acme.cert-manager.io"),
            "{err}"
        );

        // Dry run: no confirmation needed, nothing changed.
        let (code, out, err) = cli(
            &lab,
            "writer",
            &["retry", ERRORED_ORDER, "-n", &ns, "--dry-run"],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("dry run: the server accepted deleting Order"),
            "{out}"
        );
        assert!(order(&lab, &ns, ERRORED_ORDER).await.is_some());

        // --yes: done.
        let (code, out, err) = cli(
            &lab,
            "writer",
            &["retry", ERRORED_ORDER, "-n", &ns, "--yes"],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("Deleted Order {ns}/{ERRORED_ORDER}")),
            "{out}"
        );
        assert!(
            order(&lab, &ns, ERRORED_ORDER).await.is_none(),
            "the Order is gone"
        );

        // Renew, then renew again (refused: already issuing).
        let (code, out, err) = cli(&lab, "writer", &["renew", "failed", "-n", &ns, "-y"]).await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("Set Issuing=True (ManuallyTriggered)"),
            "{out}"
        );
        let cert = raw_certificate(&lab, &ns, "failed").await;
        assert_eq!(
            cert.data["status"]["conditions"][1]["reason"],
            "ManuallyTriggered"
        );
        let (code, _, err) = cli(&lab, "writer", &["renew", "failed", "-n", &ns, "-y"]).await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("already being issued"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_of_an_order_with_finalizers_says_it_is_only_marked() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("final").await;
        lab.load_fixture(&ns, &backoff()).await;
        let admin_orders = Api::<Order>::namespaced(lab.admin(), &ns);
        admin_orders
            .patch(
                ERRORED_ORDER,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold"]}})),
            )
            .await
            .expect("admin adds a finalizer");
        let actions = KubeActions::new(lab.client("writer"), false);
        let outcome = actions
            .perform(retry(&ns, ERRORED_ORDER))
            .await
            .expect("delete accepted");
        assert!(
            outcome.starts_with(&format!(
                "Marked Order {ns}/{ERRORED_ORDER} (state errored) for deletion"
            )),
            "{outcome}"
        );
        assert!(outcome.contains("example.com/hold"), "{outcome}");
        let held = order(&lab, &ns, ERRORED_ORDER)
            .await
            .expect("held by its finalizer");
        assert!(held.metadata.deletion_timestamp.is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_refuses_an_order_whose_request_failed_and_points_at_renew() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("failed-request").await;
        lab.load_fixture(&ns, BACKOFF_FAILED_REQUEST).await;
        let actions = KubeActions::new(lab.client("writer"), false);
        let why = actions
            .plan(&retry(&ns, ERRORED_ORDER))
            .await
            .expect_err("deleting the Order of a failed request changes nothing");
        assert!(why.contains("has failed"), "{why}");
        assert!(why.contains(&format!("certdx renew crm -n {ns}")), "{why}");
        assert!(
            order(&lab, &ns, ERRORED_ORDER).await.is_some(),
            "the Order is still there"
        );
    })
    .await;
}
