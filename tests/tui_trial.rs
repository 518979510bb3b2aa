//! `T` in the view: what a trial of the focus asks (names, method, the staging counterpart of
//! the issuer's CA, or why it cannot), and a trial run for real by the view's executor against
//! Debian's Pebble: progress arrives while it runs, the CA's verdict becomes the root cause,
//! and nothing is left pending at the CA.

#[path = "common/pebble_lab.rs"]
mod pebble_lab;
#[path = "tui_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certdx::engine::acme::{AccountOptions, Eab};
use certdx::engine::trial::TrialMethod;
use certdx::model::{Code, Inventory};
use certdx::tui::app::StatusKind;
use certdx::tui::{App, Cmd, Executor, Msg, TrialConfig};
use support::{app_with, config, feed};

const SIZE: (u16, u16) = (160, 40);
const LE: &str = "https://acme-v02.api.letsencrypt.org/directory";
const LE_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
const ZEROSSL: &str = "https://acme.zerossl.com/v2/DV90";

/// An issuer on `server` and a failing Certificate for `names`, with one pending Order and a
/// Challenge of type `challenge_type` for the first name.
fn estate(server: &str, names: &[&str], challenge_type: &str) -> Inventory {
    let dns = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let first = names[0];
    let yaml = format!(
        r#"apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {{name: ca}}
spec: {{acme: {{server: "{server}", privateKeySecretRef: {{name: k}}, solvers: [{{http01: {{ingress: {{}}}}}}]}}}}
status: {{conditions: [{{type: Ready, status: "True"}}]}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: web, namespace: lab, uid: u-web}}
spec: {{secretName: web, dnsNames: [{dns}], issuerRef: {{name: ca, kind: ClusterIssuer}}}}
status:
  conditions: [{{type: Ready, status: "False", reason: DoesNotExist, message: "Issuing certificate as Secret does not exist"}}, {{type: Issuing, status: "True"}}]
  revision: 1
---
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: web-1
  namespace: lab
  uid: u-cr
  annotations: {{cert-manager.io/certificate-revision: "2"}}
  ownerReferences: [{{kind: Certificate, name: web, uid: u-web, apiVersion: cert-manager.io/v1}}]
spec: {{request: "", issuerRef: {{name: ca, kind: ClusterIssuer}}}}
status: {{conditions: [{{type: Ready, status: "False", reason: Pending, message: "Waiting on certificate issuance from order lab/web-1-1: pending"}}]}}
---
apiVersion: acme.cert-manager.io/v1
kind: Order
metadata:
  name: web-1-1
  namespace: lab
  uid: u-order
  ownerReferences: [{{kind: CertificateRequest, name: web-1, uid: u-cr, apiVersion: cert-manager.io/v1}}]
spec: {{request: "", issuerRef: {{name: ca, kind: ClusterIssuer}}, dnsNames: [{dns}]}}
status: {{state: pending, url: "https://ca.example/order/1"}}
---
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: web-1-1-1
  namespace: lab
  uid: u-ch
  ownerReferences: [{{kind: Order, name: web-1-1, uid: u-order, apiVersion: acme.cert-manager.io/v1}}]
spec: {{url: "https://ca.example/chall/1", authorizationURL: "https://ca.example/authz/1", dnsName: {first}, type: {challenge_type}, token: tok, key: tok.key, issuerRef: {{name: ca, kind: ClusterIssuer}}, solver: {{http01: {{ingress: {{}}}}}}}}
status: {{state: pending, processing: true, presented: true, reason: "Waiting for {challenge_type} challenge propagation"}}
"#
    );
    let mut snap = certdx::source::snapshot::Snapshot::default();
    certdx::source::snapshot::load_text(&yaml, Path::new("dump.yaml"), &mut snap);
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
    snap.inventory
}

fn app_on(inventory: Inventory, trial_directory: Option<&str>) -> App {
    let mut cfg = config(SIZE);
    cfg.now = "2026-12-01T12:00:00Z".parse().unwrap();
    cfg.trial_off = None;
    cfg.trial_directory = trial_directory.map(str::to_owned);
    app_with(cfg, inventory)
}

fn status(app: &App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

#[test]
fn t_asks_the_staging_counterpart_for_the_certificates_names() {
    let mut app = app_on(
        estate(LE, &["www.example.com", "example.com"], "http-01"),
        None,
    );
    let cmds = feed(&mut app, [Msg::Trial]);
    match cmds.as_slice() {
        [
            Cmd::Trial {
                names,
                directory,
                method,
                ..
            },
        ] => {
            assert_eq!(names, &["www.example.com", "example.com"]);
            assert_eq!(directory, LE_STAGING, "never production from the view");
            assert_eq!(*method, TrialMethod::Http01);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        status(&app).contains("nothing is answered"),
        "{}",
        status(&app)
    );
    // A second T while it runs starts nothing.
    assert!(feed(&mut app, [Msg::Trial]).is_empty());
    assert!(status(&app).contains("still running"));
}

#[test]
fn t_on_a_dns01_challenge_asks_for_its_name_by_dns01() {
    let mut app = app_on(
        estate(LE, &["a.example.com", "b.example.com"], "dns-01"),
        None,
    );
    // Open the chain and select its last node: the Challenge.
    feed(&mut app, [Msg::Open, Msg::End]);
    let cmds = feed(&mut app, [Msg::Trial]);
    match cmds.as_slice() {
        [Cmd::Trial { names, method, .. }] => {
            assert_eq!(names, &["a.example.com"]);
            assert_eq!(*method, TrialMethod::Dns01);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn t_refuses_a_production_ca_without_staging_unless_a_directory_is_given() {
    let mut app = app_on(estate(ZEROSSL, &["shop.example.com"], "http-01"), None);
    assert!(feed(&mut app, [Msg::Trial]).is_empty());
    let s = status(&app);
    assert!(s.contains("ZeroSSL runs no staging CA"), "{s}");
    assert!(s.contains("--trial-directory"), "{s}");
    // With --trial-directory, that directory is used.
    let mut app = app_on(
        estate(ZEROSSL, &["shop.example.com"], "http-01"),
        Some(LE_STAGING),
    );
    match feed(&mut app, [Msg::Trial]).as_slice() {
        [Cmd::Trial { directory, .. }] => assert_eq!(directory, LE_STAGING),
        other => panic!("{other:?}"),
    }
}

#[test]
fn t_on_a_snapshot_or_the_demo_says_what_it_needs() {
    let mut app = support::demo_app(SIZE);
    assert!(feed(&mut app, [Msg::Trial]).is_empty());
    assert!(status(&app).starts_with("T asks the CA itself, which this view cannot"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trial_from_the_view_reports_the_cas_verdict_as_the_root_cause() {
    // This Pebble requires External Account Binding, like Google's staging CA: the view's
    // trial account carries the one from --trial-eab-kid.
    let lab = pebble_lab::PebbleLab::start_with(pebble_lab::PebbleOptions {
        eab: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // Pebble is on loopback: a test CA, asked directly. Its VA resolves every name to
    // 127.0.0.1 and connects to its HTTP-01 port, where nothing listens.
    let mut app = app_on(
        estate(&lab.directory_url(), &["refused.example.com"], "http-01"),
        None,
    );
    let exec = Executor::new(None, Arc::new(support::Allowed)).with_trials(Some(TrialConfig {
        state_path: dir.path().join("trial.sqlite"),
        ca_cert_pem: Some(lab.root_pem().to_owned()),
        directory: None,
        wait: Duration::from_secs(60),
        account: AccountOptions {
            contact_email: None,
            eab: Some(Eab::new(pebble_lab::EAB_KID, pebble_lab::EAB_HMAC_KEY).unwrap()),
        },
    }));
    let mut cmds = feed(&mut app, [Msg::Trial]);
    assert_eq!(cmds.len(), 1);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        exec.execute_with(cmds.remove(0), Some(tx)),
    )
    .await
    .expect("the trial ends in time");
    let mut progress = Vec::new();
    while let Ok(m) = rx.try_recv() {
        progress.push(m);
    }
    assert!(
        progress.len() >= 3,
        "account, order, trigger, verdict and cleanup arrive as they happen: {progress:?}"
    );
    feed(&mut app, progress);
    let run = app.trials.values().next().unwrap();
    assert!(run.running(), "still running until its end arrives");
    assert!(
        run.progress
            .iter()
            .any(|l| l.contains("challenge triggered (not answered)")),
        "{:?}",
        run.progress
    );
    feed(&mut app, [done]);
    let run = app.trials.values().next().unwrap();
    let report = run.report.as_ref().expect("the trial ran");
    assert_eq!(
        report.cleanup.valid + report.cleanup.invalid + report.cleanup.deactivated,
        1
    );
    assert_eq!(app.status.as_ref().unwrap().kind, StatusKind::Error);
    assert!(
        status(&app).contains("the CA refused 1 of 1"),
        "{}",
        status(&app)
    );
    // The CA's verdict is the diagnosis's root cause now, and it is in the findings the
    // report exports.
    let row = app.selected_row().unwrap();
    assert_eq!(row.root.unwrap().0, Code::AcmeConnection, "{:?}", row.root);
    let d = &app.estate.as_ref().unwrap().diagnoses[row.diagnosis];
    assert!(d.findings.iter().any(|f| f.code == Code::AcmeConnection));
    // A new diagnosis (a live picture) keeps the verdict.
    let fresh = certdx::tui::estate::Estate::build(
        app.estate.as_ref().unwrap().inventory.clone(),
        app.data_now,
    );
    feed(&mut app, [Msg::Loaded(Box::new(fresh))]);
    assert_eq!(
        app.selected_row().unwrap().root.unwrap().0,
        Code::AcmeConnection
    );
    // The detail pane shows the verdict on the Certificate.
    feed(&mut app, [Msg::Open]);
    let screen = support::draw(&app);
    assert!(screen.contains("Trial at the CA"), "{screen}");
    assert!(screen.contains("refused.example.com: invalid"), "{screen}");
}
