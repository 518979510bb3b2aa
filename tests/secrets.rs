//! No secret planted in an estate reaches anything certdx writes: reports in every format, the
//! interactive view's detail and YAML panes, debug logs, from a dump and from a live cluster.
//! The fixture (tests/fixtures/secrets.yaml) puts secrets where users put them: webhook
//! solver configs, a route53 inline key, annotations, condition messages, Events.

#[path = "common/kube_lab.rs"]
mod kube_lab;
#[path = "tui_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use certdx::tui::Msg;
use kube_lab::KubeLab;

const NOW: &str = "2026-03-02T12:00:00Z";
/// Bounds the live-cluster test: a hung server fails the test, not the CI job.
const DEADLINE: Duration = Duration::from_secs(240);

/// Every planted value carries "PLANT"; these are the ones found by shape instead (a JWT, a
/// hex blob, a Secret's base64 data), whose text does not.
const BLOBS: &[&str] = &[
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IlBMQU5UIn0",
    "9f86d081884c7d659a2feaa0c55ad015",
    "UExBTlRzZWNyZXREYXRhQmFzZTY0",
];

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/secrets.yaml")
        .display()
        .to_string()
}

/// The planted values found in `text`, for the failure message.
fn leaks(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .match_indices("PLANT")
        .map(|(i, _)| text[i..].chars().take(24).collect())
        .collect();
    found.extend(
        BLOBS
            .iter()
            .filter(|b| text.contains(*b))
            .map(|b| b.to_string()),
    );
    found
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certdx"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("KUBECONFIG")
        .output()
        .expect("certdx runs")
}

fn all_output(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_fixture_really_plants_the_secrets() {
    // Guards the guard: if the fixture lost its secrets, every other test would pass vacuously.
    let text = std::fs::read_to_string(fixture()).unwrap();
    assert!(leaks(&text).len() >= 20, "{:?}", leaks(&text));
}

#[test]
fn reports_in_every_format_and_debug_logs_carry_no_secret() {
    for format in ["markdown", "json", "html", "yaml"] {
        let out = run(
            &[
                "report",
                "--snapshot",
                &fixture(),
                "--offline",
                "--now",
                NOW,
                "-o",
                format,
            ],
            &[("CERTDX_LOG", "trace")],
        );
        let text = all_output(&out);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{format}: exit {:?}: {text}",
            out.status
        );
        assert!(
            text.contains("shop-tls"),
            "{format}: the report lost the estate: {text}"
        );
        assert_eq!(leaks(&text), Vec::<String>::new(), "{format}");
    }
}

#[test]
fn explain_and_its_debug_log_carry_no_secret() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certdx"))
        .args(["explain", "-"])
        .env("CERTDX_LOG", "trace")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("certdx runs");
    let paste = std::fs::read_to_string(fixture()).unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(paste.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = all_output(&out);
    // explain works on free text: it finds secrets by shape, so only those are checked here
    // (a webhook config pasted as YAML loses its values by name only when loaded as objects).
    for shaped in [
        "PLANTcondition14",
        "PLANTrequest15",
        "PLANTorder16",
        "PLANTorder17",
        "PLANTbearer18",
        "PLANTeventHmac19",
        "PLANTpemBody20",
    ] {
        assert!(!text.contains(shaped), "{shaped} leaked: {text}");
    }
}

/// Every pane of the view: each Certificate's chain, every node, its fields and its YAML.
#[test]
fn the_view_shows_no_secret_in_any_pane() {
    let snap = certdx::source::snapshot::load(Path::new(&fixture())).expect("fixture loads");
    let mut cfg = support::config((220, 400));
    cfg.now = NOW.parse().unwrap();
    let mut app = support::app_with(cfg, snap.inventory);
    let mut screens = String::new();
    support::feed(&mut app, [Msg::ToggleOrphans]);
    let rows = app.overview.visible.len();
    assert!(rows > 0);
    for row in 0..rows {
        support::feed(&mut app, [Msg::Home]);
        support::feed(&mut app, std::iter::repeat_n(Msg::Down, row));
        screens.push_str(&support::draw(&app));
        support::feed(&mut app, [Msg::Open, Msg::Home]);
        for _ in 0..12 {
            screens.push_str(&support::draw(&app));
            support::feed(&mut app, [Msg::ToggleYaml]);
            screens.push_str(&support::draw(&app));
            support::feed(&mut app, [Msg::ToggleYaml, Msg::Down]);
        }
        support::feed(&mut app, [Msg::Back]);
    }
    assert!(
        screens.contains("kind: Challenge"),
        "the YAML view was never drawn"
    );
    assert_eq!(leaks(&screens), Vec::<String>::new());
    // Redaction by structure keeps what an engineer needs: names of referenced Secrets.
    assert!(screens.contains("[redacted]"));
}

/// The Issuers' free-form parts keep references and lose literals, as the view's YAML of the
/// Issuer would show them.
#[test]
fn issuer_configs_keep_references_and_lose_literals() {
    let snap = certdx::source::snapshot::load(Path::new(&fixture())).expect("fixture loads");
    let inv = snap.inventory;
    let issuer = serde_json::to_string(&inv.issuers[0]).unwrap();
    let cluster = serde_json::to_string(&inv.cluster_issuers[0]).unwrap();
    for text in [&issuer, &cluster] {
        assert_eq!(leaks(text), Vec::<String>::new(), "{text}");
    }
    assert!(
        issuer.contains(
            r#""applicationSecretRef":{"key":"applicationSecret","name":"ovh-credentials"}"#
        ),
        "{issuer}"
    );
    assert!(issuer.contains(r#""endpoint":"ovh-eu""#), "{issuer}");
    assert!(
        cluster.contains(r#""passwordSecretKeyRef":{"key":"password","name":"inwx-credentials"}"#),
        "{cluster}"
    );
    assert!(cluster.contains(r#""region":"ap-guangzhou""#), "{cluster}");
    // The Secret in the dump is not read at all.
    assert!(snap.ignored_kinds.iter().any(|(k, _)| k == "Secret"));
}

/// From a live cluster (objects arrive typed through the API), with every log level on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_cluster_report_and_its_trace_log_carry_no_secret() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("secrets").await;
        let yaml = std::fs::read_to_string(fixture()).unwrap();
        lab.load_fixture(&ns, &yaml).await;
        let kubeconfig = lab.kubeconfig_path().display().to_string();
        for format in ["json", "markdown"] {
            let args: Vec<String> = [
                "report",
                "--kubeconfig",
                &kubeconfig,
                "--context",
                "admin",
                "-n",
                &ns,
                "--offline",
                "--now",
                NOW,
                "-o",
                format,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let out = tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&a, &[("CERTDX_LOG", "trace")])
            })
            .await
            .unwrap();
            let text = all_output(&out);
            assert!(matches!(out.status.code(), Some(0 | 1)), "{format}: {text}");
            assert!(text.contains("shop-tls"), "{format}: {text}");
            assert_eq!(leaks(&text), Vec::<String>::new(), "{format}");
        }
    })
    .await
    .expect("the live test finished in time");
}
