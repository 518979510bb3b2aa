//! The live-cluster source against a real kube-apiserver: `report` from the cluster names the
//! same root causes as from the saved YAML, the preflight says exactly what is wrong (no
//! cert-manager, no rights, bad token, unknown context, server down), and the watch feed
//! follows creations and deletions and survives an API server restart.

#[path = "common/kube_lab.rs"]
mod kube_lab;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use certdx::model::{Certificate, Order};
use certdx::source::cluster::watch::{LinkState, LiveEvent, LiveWatch};
use certdx::source::cluster::{ClusterTarget, connect, preflight::preflight};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube_lab::KubeLab;
use serde_json::Value;

/// Bounds each test: a hung server fails the test, not the CI job.
const DEADLINE: Duration = Duration::from_secs(240);
/// The fixtures' "now".
const NOW: &str = "2026-01-15T12:00:00Z";

fn fixture_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Runs the binary without blocking the runtime (it talks to the lab the runtime serves).
async fn certdx(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_certdx"))
            .args(&args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("certdx runs")
    })
    .await
    .expect("join")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// (kind, name, state, root cause) of every diagnosis, namespaces left out: the cluster copy
/// of a fixture lives in a test namespace. Fixtures whose diagnosis depends on the objects'
/// creation time (stuck Challenges) are left out: the server sets creationTimestamp itself.
fn outcomes(report: &Value) -> BTreeSet<(String, String, String, String)> {
    report["diagnoses"]
        .as_array()
        .expect("diagnoses")
        .iter()
        .map(|d| {
            (
                d["subject"]["kind"].as_str().unwrap_or("").to_owned(),
                d["subject"]["name"].as_str().unwrap_or("").to_owned(),
                d["status"]["state"].as_str().unwrap_or("").to_owned(),
                d["root_cause"]["code"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

fn json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_from_the_cluster_names_the_same_root_causes_as_the_snapshot() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let kubeconfig = lab.kubeconfig_path().display().to_string();
        for name in [
            "rate-limited.yaml",
            "selfcheck-dns01-not-propagated.yaml",
            "solver-no-match.yaml",
            "issuer-not-ready.yaml",
            "revisions.yaml",
            "healthy.yaml",
        ] {
            let text = std::fs::read_to_string(fixture_path(name)).expect("fixture");
            let ns = lab.namespace("report").await;
            let created = lab.load_fixture(&ns, &text).await;
            assert!(created > 0, "{name}: nothing created");
            let from_file = certdx(args(&[
                "report",
                "--snapshot",
                &fixture_path(name),
                "--offline",
                "--now",
                NOW,
                "--format",
                "json",
            ]))
            .await;
            let from_cluster = certdx(args(&[
                "report",
                "--kubeconfig",
                &kubeconfig,
                "--context",
                "reader",
                "-n",
                &ns,
                "--offline",
                "--now",
                NOW,
                "--format",
                "json",
            ]))
            .await;
            assert_eq!(
                from_cluster.status.code(),
                from_file.status.code(),
                "{name}: exit codes differ; cluster stderr: {}",
                String::from_utf8_lossy(&from_cluster.stderr)
            );
            let (file, cluster) = (json(&from_file), json(&from_cluster));
            assert!(
                name == "healthy.yaml" || !outcomes(&file).is_empty(),
                "{name}: empty snapshot report"
            );
            assert_eq!(outcomes(&cluster), outcomes(&file), "{name}");
            let source = cluster["source"].as_str().unwrap_or_default();
            assert!(
                source.contains("reader") && source.contains(&ns),
                "source label: {source}"
            );
        }
    })
    .await
    .expect("test finished in time");
}

/// Runs `report` with `extra` cluster flags and returns (exit code, stderr).
async fn report_err(kubeconfig: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut a = args(&[
        "report",
        "--offline",
        "--format",
        "json",
        "--kubeconfig",
        kubeconfig,
    ]);
    a.extend(args(extra));
    let out = certdx(a).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_says_exactly_what_is_wrong() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let kubeconfig = lab.kubeconfig_path().display().to_string();

        let (code, err) = report_err(&kubeconfig, &["--context", "nobody", "-A"]).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("forbidden") && err.contains("certificates.cert-manager.io"),
            "{err}"
        );

        let (code, err) = report_err(&kubeconfig, &["--context", "no-such-context"]).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("no context named \"no-such-context\""),
            "{err}"
        );
        assert!(err.contains("reader"), "known contexts listed: {err}");

        // A token the server does not know.
        let bad = lab.dir().join("bad-token.kubeconfig");
        let text = std::fs::read_to_string(lab.kubeconfig_path()).expect("kubeconfig");
        std::fs::write(&bad, text.replace(lab.token("reader"), "not-a-valid-token"))
            .expect("write");
        let (code, err) =
            report_err(&bad.display().to_string(), &["--context", "reader", "-A"]).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("rejected the credentials"), "{err}");

        let missing = lab.dir().join("missing.kubeconfig");
        let (code, err) = report_err(&missing.display().to_string(), &[]).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("kubeconfig") && err.contains("missing.kubeconfig"),
            "{err}"
        );

        // A namespace the cluster does not have: exit 2, naming those with Certificates.
        let ns = lab.namespace("typo").await;
        let healthy = std::fs::read_to_string(fixture_path("healthy.yaml")).expect("fixture");
        assert!(lab.load_fixture(&ns, &healthy).await > 0);
        let mistyped = format!("{ns}x");
        let (code, err) = report_err(&kubeconfig, &["--context", "reader", "-n", &mistyped]).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("namespace \"{mistyped}\" does not exist")),
            "{err}"
        );
        assert!(err.contains(&format!("did you mean \"{ns}\"")), "{err}");
        // The fixture's certificate is valid at its own time, not at today's clock.
        let (code, err) = report_err(
            &kubeconfig,
            &["--context", "reader", "-n", &ns, "--now", NOW],
        )
        .await;
        assert_eq!(code, Some(0), "{err}");

        lab.stop_apiserver();
        let (code, err) = report_err(&kubeconfig, &["--context", "reader", "-A"]).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("cannot reach the API server"), "{err}");

        let bare = KubeLab::start_without_crds().await;
        let (code, err) = report_err(
            &bare.kubeconfig_path().display().to_string(),
            &["--context", "admin", "-A"],
        )
        .await;
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("cert-manager is not installed"), "{err}");
    })
    .await
    .expect("test finished in time");
}

/// The next event of `feed` that `want` accepts, within `limit`.
async fn next_matching(
    what: &str,
    feed: &mut LiveWatch,
    limit: Duration,
    mut want: impl FnMut(&LiveEvent) -> bool,
) -> LiveEvent {
    tokio::time::timeout(limit, async {
        loop {
            match feed.events.recv().await {
                Some(ev) if want(&ev) => return ev,
                Some(_) => {}
                None => panic!("the feed closed"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within {limit:?}"))
}

fn names<K: ResourceExt>(items: &[K]) -> BTreeSet<String> {
    items.iter().map(|o| o.name_any()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_follows_the_cluster_and_survives_an_api_restart() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("watch").await;
        let elsewhere = lab.namespace("other").await;
        let text =
            std::fs::read_to_string(fixture_path("solver-no-match.yaml")).expect("fixture");
        lab.load_fixture(&ns, &text).await;
        lab.load_fixture(&elsewhere, &text).await;
        let target = ClusterTarget {
            kubeconfig: Some(lab.kubeconfig_path().to_owned()),
            context: Some("reader".to_owned()),
            namespace: Some(ns.clone()),
            all_namespaces: false,
        };
        let conn = connect(&target).await.expect("connect");
        let pre = preflight(&conn).await.expect("preflight");
        assert!(pre.problems.is_empty() || pre.problems.iter().all(|p| p.contains("clusterissuers")),
            "unexpected problems: {:?}", pre.problems);
        let mut feed = certdx::source::cluster::watch::watch(&conn, &pre);

        let LiveEvent::Snapshot(first) =
            next_matching(
            "first snapshot",
            &mut feed, Duration::from_secs(30), |e| matches!(e, LiveEvent::Snapshot(_))).await
        else {
            unreachable!()
        };
        assert!(!first.certificates.is_empty(), "fixture Certificates listed");
        assert!(
            first.certificates.iter().all(|c| c.namespace().as_deref() == Some(ns.as_str())),
            "only the chosen namespace is watched"
        );
        assert!(!first.events.is_empty(), "Events about the objects are watched");
        let orders = names(&first.orders);

        // A new Certificate appears.
        let admin_certs: Api<Certificate> = Api::namespaced(lab.admin(), &ns);
        let mut extra: Certificate = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "added-live"},
            "spec": {"secretName": "added-live-tls", "dnsNames": ["added.example.com"],
                     "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}
        }))
        .expect("certificate");
        extra.metadata.namespace = Some(ns.clone());
        admin_certs.create(&PostParams::default(), &extra).await.expect("create");
        next_matching(
            "snapshot with added-live",
            &mut feed, Duration::from_secs(20), |e| {
            matches!(e, LiveEvent::Snapshot(inv) if names(&inv.certificates).contains("added-live"))
        })
        .await;

        // A deleted Order disappears.
        let gone = orders.iter().next().expect("an Order").clone();
        let admin_orders: Api<Order> = Api::namespaced(lab.admin(), &ns);
        admin_orders.delete(&gone, &DeleteParams::default()).await.expect("delete");
        next_matching(
            "snapshot without the deleted Order",
            &mut feed, Duration::from_secs(20), |e| {
            matches!(e, LiveEvent::Snapshot(inv) if !names(&inv.orders).contains(&gone))
        })
        .await;

        // The API goes away: the feed says so, then recovers when it is back.
        lab.stop_apiserver();
        let ev = next_matching(
            "reconnecting",
            &mut feed, Duration::from_secs(60), |e| {
            matches!(e, LiveEvent::Link(LinkState::Reconnecting(_)))
        })
        .await;
        if let LiveEvent::Link(LinkState::Reconnecting(why)) = ev {
            assert!(!why.is_empty());
        }
        lab.restart_apiserver().await;
        admin_certs.delete("added-live", &DeleteParams::default()).await.expect("delete after restart");
        next_matching(
            "live again",
            &mut feed, Duration::from_secs(90), |e| {
            matches!(e, LiveEvent::Link(LinkState::Live))
        })
        .await;
        next_matching(
            "snapshot after restart",
            &mut feed, Duration::from_secs(60), |e| {
            matches!(e, LiveEvent::Snapshot(inv) if !names(&inv.certificates).contains("added-live"))
        })
        .await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_a_named_challenge_from_the_cluster() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("check").await;
        let text = std::fs::read_to_string(fixture_path("selfcheck-dns01-not-propagated.yaml"))
            .expect("fixture");
        lab.load_fixture(&ns, &text).await;
        let kubeconfig = lab.kubeconfig_path().display().to_string();
        let missing = certdx(args(&[
            "check",
            &format!("{ns}/no-such-challenge"),
            "--kubeconfig",
            &kubeconfig,
            "--context",
            "reader",
        ]))
        .await;
        assert_eq!(missing.status.code(), Some(2));
        let err = String::from_utf8_lossy(&missing.stderr);
        assert!(
            err.contains(&format!(
                "no Challenge or Certificate named \"no-such-challenge\" in namespace {ns}"
            )),
            "{err}"
        );

        let denied = certdx(args(&[
            "check",
            &format!("{ns}/anything"),
            "--kubeconfig",
            &kubeconfig,
            "--context",
            "nobody",
        ]))
        .await;
        assert_eq!(denied.status.code(), Some(2));
        let err = String::from_utf8_lossy(&denied.stderr);
        assert!(
            err.contains("forbidden") && err.contains("cert-manager.io"),
            "{err}"
        );
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_comes_from_the_environment_like_kubectl() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("env").await;
        lab.load_fixture(
            &ns,
            &std::fs::read_to_string(fixture_path("rate-limited.yaml")).unwrap(),
        )
        .await;
        // Two files, as KUBECONFIG allows: the lab's comes second and still provides contexts.
        let empty = lab.dir().join("empty.kubeconfig");
        std::fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();
        let list = format!("{}:{}", empty.display(), lab.kubeconfig_path().display());
        let ns2 = ns.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_certdx"))
                .args([
                    "report",
                    "--offline",
                    "--format",
                    "json",
                    "--context",
                    "reader",
                    "-n",
                    &ns2,
                ])
                .env("KUBECONFIG", list)
                .output()
                .expect("certdx runs")
        })
        .await
        .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!outcomes(&json(&out)).is_empty());
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_are_read_in_pages() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::{Event, ObjectReference};
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let ns = lab.namespace("events").await;
        lab.load_fixture(
            &ns,
            &std::fs::read_to_string(fixture_path("rate-limited.yaml")).unwrap(),
        )
        .await;
        let certs: Api<Certificate> = Api::namespaced(lab.admin(), &ns);
        let cert = certs
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .remove(0);
        let events: Api<Event> = Api::namespaced(lab.admin(), &ns);
        let total = 10_000;
        let created = futures::stream::iter(0..total)
            .map(|i| {
                let events = events.clone();
                let ev = Event {
                    metadata: kube::api::ObjectMeta {
                        name: Some(format!("flood-{i}")),
                        namespace: Some(ns.clone()),
                        ..Default::default()
                    },
                    involved_object: ObjectReference {
                        api_version: Some("cert-manager.io/v1".to_owned()),
                        kind: Some("Certificate".to_owned()),
                        name: Some(cert.name_any()),
                        namespace: Some(ns.clone()),
                        uid: cert.uid(),
                        ..Default::default()
                    },
                    reason: Some("Issuing".to_owned()),
                    message: Some(format!("attempt {i}")),
                    type_: Some("Warning".to_owned()),
                    ..Default::default()
                };
                async move { events.create(&PostParams::default(), &ev).await.is_ok() }
            })
            .buffer_unordered(64)
            .filter(|ok| futures::future::ready(*ok))
            .count()
            .await;
        assert_eq!(created, total);
        let target = ClusterTarget {
            kubeconfig: Some(lab.kubeconfig_path().to_owned()),
            context: Some("reader".to_owned()),
            namespace: Some(ns.clone()),
            all_namespaces: false,
        };
        let conn = connect(&target).await.expect("connect");
        let pre = preflight(&conn).await.expect("preflight");
        let inv = certdx::source::cluster::list::list_inventory(&conn, &pre)
            .await
            .expect("list");
        assert!(
            inv.events.len() >= total,
            "{} events read",
            inv.events.len()
        );
        let out = certdx(args(&[
            "report",
            "--offline",
            "--format",
            "json",
            "--kubeconfig",
            &lab.kubeconfig_path().display().to_string(),
            "--context",
            "reader",
            "-n",
            &ns,
        ]))
        .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await
    .expect("test finished in time");
}

/// A fixture's YAML without its Issuers and ClusterIssuers, as a List.
fn without_issuers(name: &str) -> String {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture");
    let items: Vec<Value> = kube_lab::parse_fixture(&text)
        .into_iter()
        .filter(|o| !matches!(o["kind"].as_str(), Some("Issuer" | "ClusterIssuer")))
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// The findings of code `code` in the diagnosis of Certificate `name`, and its root cause.
fn certificate_findings(report: &Value, name: &str, code: &str) -> (Vec<Value>, String) {
    let d = report["diagnoses"]
        .as_array()
        .expect("diagnoses")
        .iter()
        .find(|d| d["subject"]["kind"] == "Certificate" && d["subject"]["name"] == name)
        .unwrap_or_else(|| panic!("no Certificate {name} in {report:#}"));
    let found = d["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == code)
        .cloned()
        .collect();
    (
        found,
        d["root_cause"]["code"].as_str().unwrap_or("-").to_owned(),
    )
}

/// A live cluster proves an issuer's absence only to a user who may list its kind: the reader
/// (who may list ClusterIssuers) learns that it does not exist; a user bound to read one
/// namespace learns only that certdx could not see it. Neither outranks the rate limit that
/// stopped the attempt; with nothing below, proven absence is the root cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_issuer_is_proven_only_by_a_user_who_may_list_it() {
    tokio::time::timeout(DEADLINE, async {
        let lab = KubeLab::start().await;
        let kubeconfig = lab.kubeconfig_path().display().to_string();
        let report = |context: &'static str, ns: String| {
            certdx(args(&[
                "report",
                "--kubeconfig",
                &kubeconfig,
                "--context",
                context,
                "-n",
                &ns,
                "--offline",
                "--now",
                NOW,
                "--format",
                "json",
            ]))
        };

        let limited = lab.namespace("gone").await;
        assert!(lab.load_fixture(&limited, &without_issuers("rate-limited.yaml")).await > 0);
        let out = json(&report("reader", limited.clone()).await);
        let (found, root) = certificate_findings(&out, "rl-dup", "issuer-not-found");
        assert!(root.starts_with("ratelimit-"), "root cause {root}");
        assert_eq!(found.len(), 1, "{out:#}");
        assert_eq!(found[0]["severity"], "warning");

        // `nobody` may read this one namespace (a RoleBinding to the reader role), and no
        // ClusterIssuers at all.
        let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(lab.admin(), &limited);
        let binding: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(
            serde_json::json!({
                "metadata": {"name": "nobody-reads-here"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "certdx-reader"},
                "subjects": [{"kind": "User", "name": "nobody", "apiGroup": "rbac.authorization.k8s.io"}]
            }),
        )
        .expect("binding");
        bindings
            .create(&PostParams::default(), &binding)
            .await
            .expect("create RoleBinding");
        let out = json(&report("nobody", limited.clone()).await);
        let (found, root) = certificate_findings(&out, "rl-dup", "issuer-not-in-source");
        assert!(root.starts_with("ratelimit-"), "root cause {root}");
        assert_eq!(found.len(), 1, "{out:#}");
        assert_eq!(found[0]["severity"], "info");
        let (proven, _) = certificate_findings(&out, "rl-dup", "issuer-not-found");
        assert!(proven.is_empty(), "absence claimed without list rights: {proven:?}");

        let pending = lab.namespace("gone").await;
        assert!(lab.load_fixture(&pending, &without_issuers("issuer-not-ready.yaml")).await > 0);
        let out = json(&report("reader", pending).await);
        let (found, root) = certificate_findings(&out, "billing", "issuer-not-found");
        assert_eq!(root, "issuer-not-found", "{out:#}");
        assert_eq!(found[0]["severity"], "fatal");
    })
    .await
    .expect("test finished in time");
}
