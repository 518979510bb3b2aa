//! Retry by intent, decided from objects alone: for each state a chain can be stuck in, the
//! one write `retry` picks (or its refusal), whichever object of the chain is named. The same
//! decisions against a real API server, with the writes made, are in tests/retry_cluster.rs.

use std::path::Path;

use certdx::actions::Action;
use certdx::actions::retry::{RetryContext, RetryDecision, RetryWrite, decide_retry};
use certdx::actions::target::find_target;
use certdx::diagnose::{DiagnoseOptions, diagnose_estate};
use certdx::model::{ChainIndex, Inventory, Kind, ObjectRef};
use certdx::source::snapshot::{Snapshot, load_text};
use jiff::Timestamp;

fn inventory(yaml: &str) -> Inventory {
    let mut snap = Snapshot::default();
    load_text(yaml, Path::new("fixture.yaml"), &mut snap);
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
    snap.inventory
}

/// Decides retry on `target` (NAME or KIND/NAME in `ns`) at `now`.
fn decide(yaml: &str, ns: &str, target: &str, now: &str) -> RetryDecision {
    let inv = inventory(yaml);
    let index = ChainIndex::build(&inv);
    let now: Timestamp = now.parse().expect("a timestamp");
    let diagnoses = diagnose_estate(
        &inv,
        &index,
        &DiagnoseOptions {
            now,
            ..Default::default()
        },
    );
    let target = find_target(&inv, ns, target).expect("the target exists");
    decide_retry(
        &RetryContext {
            inventory: &inv,
            index: &index,
            diagnoses: &diagnoses,
            now,
        },
        &target,
    )
}

fn write(d: RetryDecision) -> RetryWrite {
    match d {
        RetryDecision::Write(w) => w,
        RetryDecision::Refuse(why) => panic!("expected a write, got a refusal: {why}"),
    }
}

fn refusal(d: RetryDecision) -> String {
    match d {
        RetryDecision::Refuse(why) => why,
        RetryDecision::Write(w) => panic!("expected a refusal, got {}: {}", w.action, w.why),
    }
}

fn renew(ns: &str, name: &str) -> Action {
    Action::RenewCertificate {
        namespace: ns.into(),
        name: name.into(),
    }
}

const BACKOFF: &str = include_str!("fixtures/issuance-backoff.yaml");
const RATE_LIMITED: &str = include_str!("fixtures/rate-limited.yaml");
const HEALTHY: &str = include_str!("fixtures/healthy.yaml");
const STUCK: &str = include_str!("fixtures/challenge-stuck.yaml");
const SILENT: &str = include_str!("fixtures/silent-failures.yaml");
/// The fixtures' clock.
const CLOCK: &str = "2026-01-15T12:00:00Z";

/// issuance-backoff.yaml at the moment the Order errored and cert-manager has not yet failed
/// its request.
fn request_open() -> String {
    BACKOFF
        .replace(
            r#"reason: Failed, message: "Failed to finalize Order"#,
            r#"reason: Pending, message: "Waiting on Order"#,
        )
        .replace("    failureTime: \"2026-01-15T11:50:01Z\"\n", "")
}

#[test]
fn a_failed_request_means_renew_whichever_object_is_named() {
    for target in ["crm", "certificaterequest/crm-1", "crm-1-2576102471"] {
        let w = write(decide(BACKOFF, "crm", target, CLOCK));
        assert_eq!(w.action, renew("crm", "crm"), "{target}");
        assert!(
            w.why.starts_with(
                "CertificateRequest crm/crm-1 failed, so deleting its Order would change nothing"
            ),
            "{}",
            w.why
        );
        assert!(
            w.why.contains("so deleting its Order would change nothing; renewing Certificate crm/crm (Issuing=True) makes cert-manager replace it with a new request now, skipping its 4h0m backoff (cert-manager would retry at 2026-01-15T15:00:00Z)"),
            "{}",
            w.why
        );
        assert_eq!(
            w.certificate,
            Some(ObjectRef {
                kind: Kind::Certificate,
                namespace: "crm".into(),
                name: "crm".into()
            })
        );
        assert!(w.blocker.is_none());
    }
}

#[test]
fn an_errored_order_of_an_open_request_is_deleted() {
    // After the backoff: nothing else stands in the way.
    let w = write(decide(
        &request_open(),
        "crm",
        "crm",
        "2026-01-16T12:00:00Z",
    ));
    assert_eq!(
        w.action,
        Action::RetryOrder {
            namespace: "crm".into(),
            name: "crm-1-2576102471".into()
        }
    );
    assert!(
        w.why
            .starts_with("Order crm/crm-1-2576102471 is errored (Failed to finalize Order"),
        "{}",
        w.why
    );
    assert!(
        w.why.contains("CertificateRequest crm/crm-1 has not failed, so deleting Order crm/crm-1-2576102471 makes cert-manager create a new Order"),
        "{}",
        w.why
    );
}

#[test]
fn a_certificate_in_backoff_is_renewed_naming_the_time_skipped() {
    // The request is gone (deleted by hand, say): only the backoff holds the Certificate.
    let inv = BACKOFF
        .split("- apiVersion: cert-manager.io/v1\n  kind: CertificateRequest")
        .next()
        .unwrap()
        .to_owned();
    let w = write(decide(&inv, "crm", "crm", CLOCK));
    assert_eq!(w.action, renew("crm", "crm"));
    assert!(
        w.why.contains("waits in cert-manager's backoff until 2026-01-15T15:00:00Z (3h0m from now) after 3 failed attempt(s)"),
        "{}",
        w.why
    );
    assert!(w.why.contains("skipping its 4h0m backoff"), "{}", w.why);
}

#[test]
fn an_active_rate_limit_blocks_and_a_past_one_does_not() {
    let w = write(decide(RATE_LIMITED, "rl-dup", "rl-dup", CLOCK));
    assert_eq!(w.action, renew("rl-dup", "rl-dup"));
    let blocker = w.blocker.expect("the limit is in force until 2026-01-17");
    assert!(blocker.contains("until 2026-01-17T09:14:02Z"), "{blocker}");
    assert!(
        blocker.contains("ratelimit-duplicate-certificate"),
        "{blocker}"
    );
    let w = write(decide(
        RATE_LIMITED,
        "rl-dup",
        "rl-dup",
        "2026-01-18T00:00:00Z",
    ));
    assert!(w.blocker.is_none(), "{:?}", w.blocker);
}

#[test]
fn a_chain_still_working_is_refused_with_what_it_waits_for() {
    let why = refusal(decide(STUCK, "legacy", "legacy", CLOCK));
    assert!(
        why.starts_with(
            "nothing failed: cert-manager is still working on Certificate legacy/legacy"
        ),
        "{why}"
    );
    assert!(why.contains("challenge-stuck"), "{why}");
}

#[test]
fn a_ready_certificate_is_refused_and_an_overdue_one_renewed() {
    let why = refusal(decide(HEALTHY, "web", "www", CLOCK));
    assert!(why.contains("is Ready"), "{why}");
    assert!(why.contains("certdx renew www -n web"), "{why}");
    let w = write(decide(SILENT, "quiet", "overdue", CLOCK));
    assert_eq!(w.action, renew("quiet", "overdue"));
    assert!(w.why.contains("renewal time passed"), "{}", w.why);
    assert!(matches!(
        decide(SILENT, "quiet", "fine", CLOCK),
        RetryDecision::Refuse(_)
    ));
}

/// challenge-stuck.yaml with its Challenge errored: the Order stays pending for good.
#[test]
fn an_order_waiting_on_an_errored_challenge_is_deleted() {
    let pending = "    reason: \"Waiting for DNS-01 challenge propagation: DNS record for \\\"legacy.example.net\\\" not yet propagated\"\n    state: pending\n";
    assert!(STUCK.contains(pending));
    let yaml = STUCK.replace(
        pending,
        "    reason: \"unexpected non-ACME API error: connection reset\"\n    state: errored\n",
    );
    let w = write(decide(
        &yaml,
        "legacy",
        "challenge/legacy-1-4738735592-7374794445",
        CLOCK,
    ));
    assert_eq!(
        w.action,
        Action::RetryOrder {
            namespace: "legacy".into(),
            name: "legacy-1-4738735592".into()
        }
    );
    assert!(w.why.contains("which is errored (unexpected non-ACME API error: connection reset): cert-manager never retries a Challenge in that state"), "{}", w.why);
}

#[test]
fn an_order_pending_past_its_authorizations_is_deleted() {
    let w = write(decide(
        STUCK,
        "legacy",
        "order/legacy-1-4738735592",
        "2026-01-23T12:00:00Z",
    ));
    assert!(
        matches!(w.action, Action::RetryOrder { .. }),
        "{}",
        w.action
    );
    assert!(
        w.why.contains(
            "longer than the CA keeps pending authorizations (7d0h, Let's Encrypt's classic profile)"
        ),
        "{}",
        w.why
    );
    // Under tlsserver, pending authorizations live an hour: two hours are enough.
    let tlsserver = STUCK.replace(
        "      server: https://acme-v02.api.letsencrypt.org/directory\n",
        "      server: https://acme-v02.api.letsencrypt.org/directory\n      profile: tlsserver\n",
    );
    assert_ne!(tlsserver, STUCK);
    let w = write(decide(
        &tlsserver,
        "legacy",
        "legacy",
        "2026-01-15T14:00:00Z",
    ));
    assert!(
        matches!(w.action, Action::RetryOrder { .. }),
        "{}",
        w.action
    );
    assert!(
        w.why.contains("(1h0m, Let's Encrypt's tlsserver profile)"),
        "{}",
        w.why
    );
    // Under classic, the same two hours are nothing.
    assert!(matches!(
        decide(STUCK, "legacy", "legacy", "2026-01-15T14:00:00Z"),
        RetryDecision::Refuse(_)
    ));
}

const DELETING: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api, namespace: edge, uid: c1}
spec: {secretName: api-tls, dnsNames: [api.example.com], issuerRef: {name: le, kind: ClusterIssuer}}
status:
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist"}
  - {type: Issuing, status: "True", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist"}
---
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: api-1-111-222
  namespace: edge
  uid: ch1
  deletionTimestamp: "2026-01-15T11:00:00Z"
  finalizers: [acme.cert-manager.io/finalizer]
spec:
  dnsName: api.example.com
  type: DNS-01
  key: the-txt-value
  token: tok
  url: https://acme.example/chall/1
  authorizationURL: https://acme.example/authz/1
  issuerRef: {name: le, kind: ClusterIssuer}
status: {processing: true, presented: true, reason: "Error cleaning up challenge: route53: AccessDenied"}
"#;

#[test]
fn a_challenge_stuck_in_deletion_is_released_naming_what_is_left_behind() {
    for target in ["challenge/api-1-111-222", "api"] {
        let w = write(decide(DELETING, "edge", target, CLOCK));
        assert_eq!(
            w.action,
            Action::ReleaseChallenge {
                namespace: "edge".into(),
                name: "api-1-111-222".into()
            },
            "{target}"
        );
        assert!(w.why.contains("has been deleting for 1h"), "{}", w.why);
        assert!(
            w.why
                .contains("its last error: Error cleaning up challenge: route53: AccessDenied"),
            "{}",
            w.why
        );
        assert!(
            w.why
                .contains("blocks every new Challenge for api.example.com"),
            "{}",
            w.why
        );
        assert!(
            w.why.contains(
                "delete the TXT record _acme-challenge.api.example.com with the value the-txt-value"
            ),
            "{}",
            w.why
        );
    }
    // Deleting for a minute, no error yet: cert-manager is cleaning up.
    let fresh = DELETING
        .replace("2026-01-15T11:00:00Z", "2026-01-15T11:59:00Z")
        .replace("Error cleaning up challenge: route53: AccessDenied", "");
    let why = refusal(decide(&fresh, "edge", "challenge/api-1-111-222", CLOCK));
    assert!(why.contains("is cleaning it up"), "{why}");
}

#[test]
fn a_cause_still_in_place_is_said_before_the_retry() {
    let caa = BACKOFF.replace(
        "500 urn:ietf:params:acme:error:serverInternal: Error finalizing order :: Unable to meet CA SLA",
        "403 urn:ietf:params:acme:error:caa: Error finalizing order :: Rechecking CAA for \\\"crm.example.com\\\": CAA record for crm.example.com prevents issuance",
    );
    assert_ne!(caa, BACKOFF);
    let w = write(decide(&caa, "crm", "crm", CLOCK));
    assert_eq!(w.action, renew("crm", "crm"));
    let warning = w.warnings.join("\n");
    assert!(warning.contains("the last attempt failed on"), "{warning}");
    assert!(warning.contains("(acme-caa)"), "{warning}");
    assert!(
        warning.contains("every failed validation counts against the ACME account"),
        "{warning}"
    );
    // A server-side error is not a wall the next attempt runs into.
    let w = write(decide(BACKOFF, "crm", "crm", CLOCK));
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
}

#[test]
fn a_failed_certificate_nobody_retries_after_its_backoff_is_renewed() {
    let no_request = BACKOFF
        .split("- apiVersion: cert-manager.io/v1\n  kind: CertificateRequest")
        .next()
        .unwrap()
        .to_owned();
    // The 4h backoff ended at 15:00; a day later nothing has happened.
    let w = write(decide(&no_request, "crm", "crm", "2026-01-16T15:00:00Z"));
    assert_eq!(w.action, renew("crm", "crm"));
    assert!(
        w.why.contains("is not Ready and cert-manager is not issuing it (Issuing=False, reason Failed), although nothing has held it back for 1d0h"),
        "{}",
        w.why
    );
}
