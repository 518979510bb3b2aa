//! `certdx retry` by intent against a real kube-apiserver: for each state, the one object it
//! writes and nothing else (every object's resourceVersion compared before and after), each
//! refusal, `--wait` to Ready, to failure and to its timeout, with the shipped RBAC. The test
//! plays cert-manager's part where a new object or status must appear.

#[path = "common/dns_lab.rs"]
mod dns_lab;
#[path = "common/kube_lab.rs"]
mod kube_lab;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use certdx::model::{Certificate, CertificateRequest, Challenge, Order};
use dns_lab::{LabBuilder, Slots};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{CustomResourceExt, Resource};
use kube_lab::KubeLab;
use serde_json::json;

/// Bounds every test: a hung server must fail the test, not the CI job.
const TEST_DEADLINE: Duration = Duration::from_secs(150);

const BACKOFF: &str = include_str!("fixtures/issuance-backoff.yaml");
const HEALTHY: &str = include_str!("fixtures/healthy.yaml");
const STUCK: &str = include_str!("fixtures/challenge-stuck.yaml");
const RATE_LIMITED: &str = include_str!("fixtures/rate-limited.yaml");
const ORDER: &str = "crm-1-2576102471";
/// This binary's DNS lab addresses (127.0.7.0/24; the other test binaries use others).
static SLOTS: Slots = Slots::new(&[7]);

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_DEADLINE, test)
        .await
        .expect("the test finished in time");
}

/// issuance-backoff.yaml at the moment the Order errored and cert-manager has not yet failed
/// its request: deleting the Order is the write.
fn request_open() -> String {
    let open = BACKOFF
        .replace(
            r#"reason: Failed, message: "Failed to finalize Order"#,
            r#"reason: Pending, message: "Waiting on Order"#,
        )
        .replace("    failureTime: \"2026-01-15T11:50:01Z\"\n", "");
    assert_ne!(open, BACKOFF);
    open
}

/// Every cert-manager object in `ns` with its resourceVersion: what a write changed shows as
/// a changed or missing entry.
async fn audit(lab: &KubeLab, ns: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (kind, ar) in [
        ("Certificate", ApiResource::erase::<Certificate>(&())),
        (
            "CertificateRequest",
            ApiResource::erase::<CertificateRequest>(&()),
        ),
        ("Order", ApiResource::erase::<Order>(&())),
        ("Challenge", ApiResource::erase::<Challenge>(&())),
    ] {
        let api: Api<DynamicObject> = Api::namespaced_with(lab.admin(), ns, &ar);
        for o in api.list(&ListParams::default()).await.expect("admin lists") {
            out.insert(
                format!("{kind}/{}", o.metadata.name.unwrap_or_default()),
                o.metadata.resource_version.unwrap_or_default(),
            );
        }
    }
    out
}

/// The entries of `before` that changed or vanished in `after` (and any new ones).
fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)).cloned());
    keys
}

fn raw_api<K: Resource<DynamicType = ()>>(lab: &KubeLab, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(lab.admin(), ns, &ApiResource::erase::<K>(&()))
}

/// Merges `status` into the object's status, as cert-manager would (admin, status
/// subresource).
async fn set_status<K: Resource<DynamicType = ()>>(
    lab: &KubeLab,
    ns: &str,
    name: &str,
    status: serde_json::Value,
) {
    raw_api::<K>(lab, ns)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("admin sets the status");
}

/// Waits (bounded) until the Certificate's Issuing condition is True: the write landed.
async fn until_issuing(lab: &KubeLab, ns: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cert = raw_api::<Certificate>(lab, ns)
            .get(name)
            .await
            .expect("reads");
        let issuing = cert.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Issuing" && c["status"] == "True");
        if issuing {
            return;
        }
        assert!(Instant::now() < deadline, "Issuing never turned True");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_request_is_renewed_from_its_order_and_nothing_else_is_written() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("failedcr").await;
        lab.load_fixture(&ns, BACKOFF).await;
        let before = audit(&lab, &ns).await;
        let (code, out, err) = lab
            .certdx("writer", &["retry", ORDER, "-n", &ns, "--yes"])
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "Why: CertificateRequest {ns}/crm-1 failed, so deleting its Order would change nothing"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "so deleting its Order would change nothing; renewing Certificate {ns}/crm"
            )),
            "{err}"
        );
        assert!(
            out.contains("Set Issuing=True (ManuallyTriggered)"),
            "{out}"
        );
        let after = audit(&lab, &ns).await;
        assert_eq!(changed(&before, &after), vec!["Certificate/crm".to_owned()]);
        let cert = raw_api::<Certificate>(&lab, &ns).get("crm").await.unwrap();
        let issuing = cert.data["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Issuing")
            .cloned()
            .unwrap();
        assert_eq!(issuing["status"], "True");
        assert_eq!(issuing["reason"], "ManuallyTriggered");
        // Unknown status fields survive: cert-manager's backoff bookkeeping is kept.
        assert_eq!(cert.data["status"]["failedIssuanceAttempts"], 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_errored_order_of_an_open_request_is_deleted_from_its_certificate() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("openorder").await;
        lab.load_fixture(&ns, &request_open()).await;
        let before = audit(&lab, &ns).await;
        // Dry run first: the server validates, nothing changes.
        let (code, out, err) = lab
            .certdx("writer", &["retry", "crm", "-n", &ns, "--dry-run"])
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("dry run: the server accepted deleting Order"),
            "{out}"
        );
        assert_eq!(audit(&lab, &ns).await, before);
        let (code, out, err) = lab
            .certdx("writer", &["retry", "certificate/crm", "-n", &ns, "--yes"])
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!("Why: Order {ns}/{ORDER} is errored")),
            "{err}"
        );
        assert!(
            out.contains(&format!("Deleted Order {ns}/{ORDER}")),
            "{out}"
        );
        let after = audit(&lab, &ns).await;
        assert_eq!(changed(&before, &after), vec![format!("Order/{ORDER}")]);
        assert!(!after.contains_key(&format!("Order/{ORDER}")));
    })
    .await;
}

/// A DNS-01 Challenge whose Order is gone and whose cleanup fails: cert-manager keeps its
/// finalizer for ever.
const DELETING: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api, namespace: x}
spec: {secretName: api-tls, dnsNames: [api.example.com], issuerRef: {name: le, kind: ClusterIssuer}}
status:
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z"}
  - {type: Issuing, status: "True", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z"}
---
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: api-1-111-222
  namespace: x
  finalizers: [acme.cert-manager.io/finalizer, example.com/audit]
spec:
  dnsName: api.example.com
  type: DNS-01
  key: the-txt-value
  token: tok
  url: https://acme.example/chall/1
  authorizationURL: https://acme.example/authz/1
  issuerRef: {name: le, kind: ClusterIssuer}
  solver: {dns01: {route53: {region: eu-west-1}}}
status: {processing: true, presented: true, reason: "Error cleaning up challenge: route53: AccessDenied"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_stuck_in_deletion_loses_only_cert_managers_finalizer() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("release").await;
        lab.load_fixture(&ns, DELETING).await;
        let challenges = raw_api::<Challenge>(&lab, &ns);
        // Not being deleted: cert-manager's to handle, refused.
        let (code, _, err) = lab
            .certdx(
                "writer",
                &["retry", "challenge/api-1-111-222", "-n", &ns, "--yes"],
            )
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("belongs to no Certificate"), "{err}");
        challenges
            .delete("api-1-111-222", &DeleteParams::default())
            .await
            .expect("admin deletes");
        let before = audit(&lab, &ns).await;
        let (code, out, err) = lab
            .certdx(
                "writer",
                &["retry", "challenge/api-1-111-222", "-n", &ns, "--yes"],
            )
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("its last error: Error cleaning up challenge: route53: AccessDenied"),
            "{err}"
        );
        assert!(
            err.contains("delete the TXT record _acme-challenge.api.example.com"),
            "{err}"
        );
        assert!(
            err.contains("Write: Remove finalizer acme.cert-manager.io/finalizer"),
            "{err}"
        );
        assert!(
            out.contains("Removed finalizer acme.cert-manager.io/finalizer"),
            "{out}"
        );
        assert_eq!(
            changed(&before, &audit(&lab, &ns).await),
            vec!["Challenge/api-1-111-222".to_owned()]
        );
        // The other finalizer is not certdx's: it stays, and holds the Challenge.
        let left = challenges
            .get("api-1-111-222")
            .await
            .expect("held by its other finalizer");
        assert_eq!(
            left.metadata.finalizers,
            Some(vec!["example.com/audit".to_owned()])
        );
        // Without it, the API server deletes the Challenge at once.
        challenges
            .patch(
                "api-1-111-222",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await
            .expect("admin drops the other finalizer");
        assert!(challenges.get_opt("api-1-111-222").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_write_nothing_and_say_why() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("refuse").await;
        // Ready, its renewal in the future.
        lab.load_fixture(
            &ns,
            &HEALTHY
                .replace("2026-04-01T09:00:40Z", "2099-04-01T09:00:40Z")
                .replace("2026-03-02T09:00:40Z", "2099-03-02T09:00:40Z"),
        )
        .await;
        lab.load_fixture(&ns, STUCK).await;
        // An active rate limit: its retry-after moved into the future.
        let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(30);
        let limited = RATE_LIMITED.replace(
            "retry after 2026-01-17 09:14:02 UTC",
            &format!("retry after {} UTC", until.strftime("%Y-%m-%d %H:%M:%S")),
        );
        lab.load_fixture(&ns, &limited).await;
        let before = audit(&lab, &ns).await;

        let (code, _, err) = lab
            .certdx("writer", &["retry", "www", "-n", &ns, "--yes"])
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("is Ready") && err.contains("nothing to retry"),
            "{err}"
        );

        let (code, _, err) = lab
            .certdx("writer", &["retry", "legacy", "-n", &ns, "--yes"])
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!(
                "nothing failed: cert-manager is still working on Certificate {ns}/legacy"
            )),
            "{err}"
        );

        let (code, _, err) = lab
            .certdx("writer", &["retry", "rl-dup", "-n", &ns, "--yes"])
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("the CA refuses until"), "{err}");
        assert!(err.contains("pass --force"), "{err}");

        // A user without the writer role: the API's denial, named.
        let (code, _, err) = lab
            .certdx(
                "reader",
                &["retry", "rl-dup", "-n", &ns, "--yes", "--force"],
            )
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("RBAC does not allow update certificates.cert-manager.io/status"),
            "{err}"
        );
        let (code, _, err) = lab
            .certdx(
                "writer",
                &[
                    "--read-only",
                    "retry",
                    "rl-dup",
                    "-n",
                    &ns,
                    "--yes",
                    "--force",
                ],
            )
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("read-only session"), "{err}");

        assert_eq!(
            changed(&before, &audit(&lab, &ns).await),
            Vec::<String>::new()
        );

        // --force goes through (as a dry run here: nothing kept).
        let (code, out, err) = lab
            .certdx(
                "writer",
                &["retry", "rl-dup", "-n", &ns, "--force", "--dry-run"],
            )
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("Warning (--force): the CA refuses until"),
            "{err}"
        );
        assert!(out.contains("dry run"), "{out}");
        assert_eq!(
            changed(&before, &audit(&lab, &ns).await),
            Vec::<String>::new()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_follows_the_new_attempt_to_ready() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("waitok").await;
        lab.load_fixture(&ns, BACKOFF).await;
        let run = {
            let ns = ns.clone();
            let lab = &lab;
            async move {
                lab.certdx("writer", &["retry", "crm", "-n", &ns, "--yes", "--wait", "--timeout", "60"])
                    .await
            }
        };
        let cert_manager = async {
            until_issuing(&lab, &ns, "crm").await;
            // cert-manager issues revision 1.
            set_status::<Certificate>(
                &lab,
                &ns,
                "crm",
                json!({
                    "revision": 1,
                    "conditions": [
                        {"type": "Ready", "status": "True", "reason": "Ready", "message": "Certificate is up to date and has not expired", "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}
                    ]
                }),
            )
            .await;
        };
        let ((code, out, err), ()) = tokio::join!(run, cert_manager);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(err.contains("retrying: attempt 4 since"), "{err}");
        assert!(out.contains(&format!("Certificate {ns}/crm is Ready: attempt 4 succeeded")), "{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_reports_a_failed_attempt_with_its_root_cause_and_gives_up_in_time() {
    bounded(async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("waitfail").await;
        lab.load_fixture(&ns, &request_open()).await;
        let run = {
            let ns = ns.clone();
            let lab = &lab;
            async move {
                lab.certdx("writer", &["retry", ORDER, "-n", &ns, "--yes", "--wait", "--timeout", "60"])
                    .await
            }
        };
        let cert_manager = async {
            // The Order goes; cert-manager's next Order fails, and with it the request.
            let orders = raw_api::<Order>(&lab, &ns);
            let deadline = Instant::now() + Duration::from_secs(60);
            while orders.get_opt(ORDER).await.unwrap().is_some() {
                assert!(Instant::now() < deadline, "the Order was never deleted");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            set_status::<CertificateRequest>(
                &lab,
                &ns,
                "crm-1",
                json!({
                    "failureTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "conditions": [
                        {"type": "Approved", "status": "True", "reason": "cert-manager.io", "message": "Certificate request has been approved by cert-manager.io"},
                        {"type": "Ready", "status": "False", "reason": "Failed", "message": "Failed to wait for order resource \"crm-1-999\" to become ready: order is in \"invalid\" state: 403 urn:ietf:params:acme:error:caa: CAA record for crm.example.com prevents issuance"}
                    ]
                }),
            )
            .await;
        };
        let ((code, out, err), ()) = tokio::join!(run, cert_manager);
        assert_eq!(code, 1, "{out}\n{err}");
        assert!(out.contains("attempt 4 failed:"), "{out}");
        assert!(out.contains("acme-caa"), "{out}");

        // Nothing moves after this renew: --wait gives up at its timeout, exit 2.
        lab.load_fixture(&ns, &BACKOFF.replace("crm", "quiet")).await;
        let started = Instant::now();
        let (code, _, err) = lab
            .certdx("writer", &["retry", "quiet", "-n", &ns, "--yes", "--wait", "--timeout", "3"])
            .await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("gave up after 3s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(60));
    })
    .await;
}

/// The CRD names certdx's model exports are the ones the lab installs.
#[test]
fn the_lab_knows_the_kinds_audited() {
    assert_eq!(Challenge::crd_name(), "challenges.acme.cert-manager.io");
}

/// A request still open whose Order errored, with a DNS-01 Challenge for a name whose zone
/// (in the DNS lab) has no `_acme-challenge` TXT: the retry's Order would fail the same way.
const WALL: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: www, namespace: x}
spec: {secretName: www-tls, dnsNames: [www.example.test], issuerRef: {name: le, kind: ClusterIssuer}}
status:
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z"}
  - {type: Issuing, status: "True", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist", lastTransitionTime: "2026-01-15T07:00:00Z"}
---
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: www-1
  namespace: x
  annotations: {cert-manager.io/certificate-name: www, cert-manager.io/certificate-revision: "1"}
  ownerReferences:
  - {apiVersion: cert-manager.io/v1, kind: Certificate, name: www, uid: u1, controller: true}
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  issuerRef: {name: le, kind: ClusterIssuer}
status:
  conditions:
  - {type: Ready, status: "False", reason: Pending, message: "Waiting on certificate issuance from order x/www-1-1: \"errored\""}
---
apiVersion: acme.cert-manager.io/v1
kind: Order
metadata:
  name: www-1-1
  namespace: x
  ownerReferences:
  - {apiVersion: cert-manager.io/v1, kind: CertificateRequest, name: www-1, uid: u2, controller: true}
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  issuerRef: {name: le, kind: ClusterIssuer}
  dnsNames: [www.example.test]
status: {state: errored, reason: "unexpected non-ACME API error: connection reset"}
---
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: www-1-1-1
  namespace: x
  ownerReferences:
  - {apiVersion: acme.cert-manager.io/v1, kind: Order, name: www-1-1, uid: u3, controller: true}
spec:
  dnsName: www.example.test
  type: DNS-01
  key: expected-key-value
  token: tok
  url: https://acme.example/chall/1
  authorizationURL: https://acme.example/authz/1
  issuerRef: {name: le, kind: ClusterIssuer}
  solver: {dns01: {rfc2136: {nameserver: "127.0.7.3"}}}
status: {processing: false, presented: false, state: errored, reason: "unexpected non-ACME API error: connection reset"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_fails_now_is_said_before_the_retry() {
    bounded(async {
        let mut b = LabBuilder::new(&SLOTS);
        let auth = b.knot("a");
        b.zone("example.test", &[("ns1", auth)], "www A 127.0.7.250\n");
        let dns = b.start().await;
        let lab = KubeLab::start().await;
        let ns = lab.namespace("wall").await;
        lab.load_fixture(&ns, WALL).await;
        let resolver = dns.resolver.to_string();
        let args = ["retry", "www", "-n", &ns, "--dry-run"];
        let (code, out, err) = lab
            .certdx("writer", &[&args[..], &["--resolver", &resolver]].concat())
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("dry run: the server accepted deleting Order"), "{out}");
        assert!(err.contains("Checking the 1 Challenge(s) of the current attempt"), "{err}");
        assert!(
            err.contains(&format!(
                "Warning: certdx's checks on Challenge {ns}/www-1-1-1 fail now, from where certdx runs"
            )),
            "{err}"
        );
        assert!(err.contains("(dns01-txt-missing)"), "{err}");
        // --offline: no network, no such warning.
        let (code, _, err) = lab
            .certdx("writer", &[&args[..], &["--offline"]].concat())
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("Checking the"), "{err}");
    })
    .await;
}
