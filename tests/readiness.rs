//! Readiness for the 2025-2028 CA changes: each finding on a snapshot with its date, the
//! findings never changing a Certificate's state or root cause, `report --readiness` in JSON
//! and Markdown, the CA directory's `meta.profiles` fetched once per server from a loopback
//! server, and one finding on the live kube-apiserver lab.
//!
//! The fixture (`tests/fixtures/readiness.yaml`) uses Boulder's own answers as quoted in the
//! project's ACME-2026 notes ("Default profile does not permit IP address identifiers. See
//! available profiles at https://letsencrypt.org/docs/profiles/."), Let's Encrypt's profile
//! names (https://letsencrypt.org/docs/profiles/) and its dates.

#[path = "common/kube_lab.rs"]
mod kube_lab;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

const NOW: &str = "2026-08-20T12:00:00Z";
const READINESS: [&str; 4] = [
    "profile-limit",
    "backoff-exceeds-lifetime",
    "client-auth-usage",
    "authz-lifetime-short",
];

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn certdx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certdx"))
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("certdx runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn report(extra: &[&str]) -> (Value, Option<i32>) {
    let f = fixture("readiness.yaml");
    let mut args = vec![
        "report",
        "--snapshot",
        &f,
        "--offline",
        "--now",
        NOW,
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = certdx(&args);
    (json(&out), out.status.code())
}

/// The diagnosis of `ns/name` in a report.
fn diagnosis<'a>(r: &'a Value, ns: &str, name: &str) -> &'a Value {
    r["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subject"]["namespace"] == ns && d["subject"]["name"] == name)
        .unwrap_or_else(|| panic!("no diagnosis of {ns}/{name}"))
}

/// The summaries of the findings of `code` in a diagnosis.
fn summaries(d: &Value, code: &str) -> Vec<String> {
    d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .map(|f| f["summary"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_readiness_finding_is_found_with_its_date_on_healthy_and_failing_certificates() {
    let (r, code) = report(&["--readiness"]);
    assert_eq!(
        code,
        Some(1),
        "readiness findings are problems under --readiness"
    );
    let many = summaries(diagnosis(&r, "web", "many-names"), "profile-limit");
    assert!(
        many.iter().any(|s| s.contains("30 names")
            && s.contains("at most 25")
            && s.contains("in effect now")),
        "{many:?}"
    );
    let ip = summaries(diagnosis(&r, "web", "ip-classic"), "profile-limit");
    assert!(
        ip.iter()
            .any(|s| s.contains("203.0.113.7") && s.contains("since 2026-01-15")),
        "{ip:?}"
    );
    let cn = diagnosis(&r, "web", "cn-tlsserver");
    assert!(summaries(cn, "profile-limit")[0].contains("has no Common Name"));
    let legacy = summaries(diagnosis(&r, "web", "legacy"), "profile-limit");
    assert!(
        legacy[0].starts_with("ClusterIssuer letsencrypt-tlsclient asks for profile \"tlsclient\"")
            && legacy[0].contains("ended 2026-07-08"),
        "{legacy:?}"
    );
    let short = summaries(diagnosis(&r, "edge", "short"), "backoff-exceeds-lifetime");
    assert!(
        short[0].contains("only 5 tries") && short[0].contains("6d16h"),
        "{short:?}"
    );
    for name in ["mtls", "mtls-limited"] {
        let s = summaries(diagnosis(&r, "api", name), "client-auth-usage");
        assert!(s[0].contains("since 2026-02-11"), "{s:?}");
    }
    let slow = summaries(diagnosis(&r, "dns", "slow"), "authz-lifetime-short");
    assert!(
        slow[0].contains("after 1h30m") && slow[0].contains("lives 1h0m"),
        "{slow:?}"
    );
    // Offline, what is known is said as such.
    let f = &diagnosis(&r, "edge", "short")["findings"][0];
    assert!(
        f["evidence"]
            .to_string()
            .contains("known profile of Let's Encrypt as of 2026, not fetched: shortlived"),
        "{f:#}"
    );
    // The plain Certificate has none, and is not listed.
    assert!(
        r["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["subject"]["name"] != "plain")
    );
    // Grouped by what to change: one group per code, an issuer's finding once.
    let groups = r["readiness"].as_array().expect("readiness groups");
    let codes: Vec<&str> = groups.iter().map(|g| g["code"].as_str().unwrap()).collect();
    for c in READINESS {
        assert_eq!(codes.iter().filter(|x| **x == c).count(), 1, "{codes:?}");
    }
    let profile = groups
        .iter()
        .find(|g| g["code"] == "profile-limit")
        .unwrap();
    assert_eq!(
        profile["findings"].as_array().unwrap().len(),
        4,
        "{profile:#}"
    );
    assert!(profile["change"].as_str().unwrap().contains("split it"));
}

#[test]
fn readiness_findings_never_change_a_state_or_a_root_cause() {
    let (r, _) = report(&[]);
    let summary = &r["summary"];
    assert_eq!(summary["certificates"], 9);
    assert_eq!(summary["ready"], 6, "{summary:#}");
    assert_eq!(summary["failed"], 2, "{summary:#}");
    // The failing ones keep their own cause, with the readiness finding listed below it.
    let limited = diagnosis(&r, "api", "mtls-limited");
    assert_eq!(
        limited["root_cause"]["code"],
        "ratelimit-duplicate-certificate"
    );
    assert_eq!(summaries(limited, "client-auth-usage").len(), 1);
    let ip = diagnosis(&r, "web", "ip-classic");
    assert_eq!(ip["root_cause"]["code"], "acme-profile");
    let slow = diagnosis(&r, "dns", "slow");
    assert_eq!(slow["status"]["state"], "in-progress");
    assert!(!READINESS.contains(&slow["root_cause"]["code"].as_str().unwrap()));
    // A Ready Certificate with only readiness findings is no problem of the plain report.
    for d in r["diagnoses"].as_array().unwrap() {
        assert_ne!(d["status"]["state"], "ready", "{:#}", d["subject"]);
    }
    // Under --readiness, the Ready ones are listed, still Ready and without a root cause.
    let (all, _) = report(&["--readiness"]);
    for count in ["certificates", "ready", "failed", "in_progress", "unknown"] {
        assert_eq!(all["summary"][count], r["summary"][count], "{count}");
    }
    for (ns, name) in [("api", "mtls"), ("edge", "short"), ("web", "many-names")] {
        let d = diagnosis(&all, ns, name);
        assert_eq!(d["status"]["state"], "ready");
        assert!(d["root_cause"].is_null(), "{d:#}");
    }
    assert_eq!(
        diagnosis(&all, "api", "mtls-limited")["root_cause"]["code"],
        "ratelimit-duplicate-certificate"
    );
}

/// On every fixture of the suite, no root cause is a readiness code.
#[test]
fn no_fixture_gets_a_readiness_root_cause() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let p = path.display().to_string();
        let out = certdx(&[
            "report",
            "--snapshot",
            &p,
            "--offline",
            "--readiness",
            "-o",
            "json",
        ]);
        let r = json(&out);
        for d in r["diagnoses"].as_array().unwrap() {
            let rc = d["root_cause"]["code"].as_str().unwrap_or("-");
            assert!(!READINESS.contains(&rc), "{p}: {:#}", d["subject"]);
        }
    }
}

#[test]
fn readiness_markdown_groups_by_what_to_change() {
    let f = fixture("readiness.yaml");
    let out = certdx(&[
        "report",
        "--snapshot",
        &f,
        "--offline",
        "--now",
        NOW,
        "--readiness",
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains("## Readiness for the 2025-2028 CA changes"),
        "{md}"
    );
    for c in READINESS {
        assert!(md.contains(&format!("### `{c}`")), "{c}: {md}");
    }
    assert!(md.contains("- **warning** Certificate api/mtls asks for client auth usage"));
    assert!(md.contains("ClusterIssuer letsencrypt-tlsclient: used by Certificate web/legacy"));
    // The plain report does not list healthy Certificates for readiness.
    let plain = certdx(&["report", "--snapshot", &f, "--offline", "--now", NOW]);
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(!plain.contains("web/many-names"), "{plain}");
    assert!(plain.contains("api/mtls-limited"));
}

/// A plain HTTP server on loopback serving `body` at every path; counts the requests.
fn directory_server(body: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

#[test]
fn live_reports_fetch_each_directory_once_and_trust_it_over_the_table() {
    // The shape of a Boulder directory with profiles (Let's Encrypt's, 2026); no tlsserver.
    let (port, hits) = directory_server(
        r#"{"newNonce":"x","newAccount":"x","newOrder":"http://127.0.0.1/new-order","meta":{"profiles":{"classic":"https://letsencrypt.org/docs/profiles#classic","shortlived":"https://letsencrypt.org/docs/profiles#shortlived"}}}"#
            .to_owned(),
    );
    let server = format!("http://127.0.0.1:{port}/directory");
    let issuer = |name: &str, profile: &str| {
        format!(
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {{name: {name}}}\nspec: {{acme: {{server: \"{server}\", profile: {profile}, privateKeySecretRef: {{name: k}}, solvers: [{{http01: {{ingress: {{}}}}}}]}}}}\nstatus: {{conditions: [{{type: Ready, status: \"True\"}}]}}\n"
        )
    };
    let cert = |name: &str, issuer: &str| {
        format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: lab, uid: u-{name}}}\nspec: {{secretName: {name}, dnsNames: [{name}.example.com], issuerRef: {{name: {issuer}, kind: ClusterIssuer}}}}\nstatus: {{conditions: [{{type: Ready, status: \"True\"}}]}}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.yaml");
    std::fs::write(
        &file,
        [
            issuer("wants-tlsserver", "tlsserver"),
            issuer("wants-shortlived", "shortlived"),
            cert("a", "wants-tlsserver"),
            cert("b", "wants-shortlived"),
        ]
        .join("---\n"),
    )
    .unwrap();
    let path = file.display().to_string();
    // Live checks on: nothing is resolved (the directory is an address); a closed port
    // answers nothing.
    let live_report = |path: &str| {
        certdx(&[
            "report",
            "--snapshot",
            path,
            "--now",
            NOW,
            "--readiness",
            "--resolver",
            "127.0.0.1:9",
            "--timeout",
            "5",
            "-o",
            "json",
        ])
    };
    let out = live_report(&path);
    let r = json(&out);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one fetch per server per run"
    );
    let a = summaries(diagnosis(&r, "lab", "a"), "profile-limit");
    assert!(
        a.iter()
            .any(|s| s.contains("\"tlsserver\"") && s.contains("offers classic, shortlived")),
        "{a:?}\n{r:#}"
    );
    let evidence = diagnosis(&r, "lab", "a")["findings"].to_string();
    assert!(
        evidence.contains(&format!(
            "fetched from {server} (meta.profiles: classic, shortlived)"
        )),
        "{evidence}"
    );
    // The profile the directory offers raises nothing: b is not listed.
    assert!(
        r["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["subject"]["name"] != "b"),
        "{r:#}"
    );

    // A body past the size bound is no directory: the finding falls back on nothing known.
    let (big, _) = directory_server(format!(
        "{{\"newOrder\":\"x\",\"pad\":\"{}\"}}",
        "a".repeat(100_000)
    ));
    std::fs::write(
        &file,
        [
            issuer("wants-tlsserver", "tlsserver")
                .replace(&server, &format!("http://127.0.0.1:{big}/directory")),
            cert("a", "wants-tlsserver"),
        ]
        .join("---\n"),
    )
    .unwrap();
    let out = live_report(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could not be read") && stderr.contains("answered more than 65536 bytes"),
        "{stderr}"
    );
    assert_eq!(json(&out)["diagnoses"], serde_json::json!([]));
}

/// One readiness finding from a live cluster: the kube-apiserver keeps `spec.usages` and
/// `spec.acme.profile`, and the report reads them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_cluster_report_lists_readiness_findings() {
    tokio::time::timeout(Duration::from_secs(240), async {
        let lab = kube_lab::KubeLab::start().await;
        let kubeconfig = lab.kubeconfig_path().display().to_string();
        let ns = lab.namespace("ready").await;
        let text = std::fs::read_to_string(fixture("readiness.yaml")).unwrap();
        assert!(lab.load_fixture(&ns, &text).await > 0);
        let out = tokio::task::spawn_blocking(move || {
            certdx(&[
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
                "--readiness",
                "-o",
                "json",
            ])
        })
        .await
        .unwrap();
        let r = json(&out);
        let mtls = r["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["subject"]["name"] == "mtls")
            .unwrap_or_else(|| panic!("{r:#}"));
        assert_eq!(mtls["status"]["state"], "ready");
        assert!(summaries(mtls, "client-auth-usage")[0].contains("since 2026-02-11"));
        let legacy = r["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["subject"]["name"] == "legacy")
            .unwrap();
        assert!(summaries(legacy, "profile-limit")[0].contains("tlsclient"));
    })
    .await
    .expect("test finished in time");
}

/// The unpause link of a real paused-account message (lego's log in
/// https://github.com/nsg/immich-distribution/issues/354), as the fixture holds it.
const UNPAUSE: &str = "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJTRkUgVW5wYXVzZSIsImV4cCI6MTc2NjU5OTE0MywiaWF0IjoxNzY1Mzg5NTQzLCJpZGVudGlmaWVycyI6ImFuYWNocm9ub3guZHVja2Rucy5vcmciLCJpc3MiOiJXRkUiLCJzdWIiOiIyMzQwMDk4ODU3IiwidmVyc2lvbiI6InYxIn0.__i3MExPD6Dd9ENWPCUFIOxfJdvVPZWEKOZ0FEr1Dpc";

#[test]
fn a_paused_account_carries_its_unpause_link_and_says_retrying_adds_failures() {
    let f = fixture("account-paused.yaml");
    let out = certdx(&[
        "report",
        "--snapshot",
        &f,
        "--offline",
        "--now",
        NOW,
        "-o",
        "json",
    ]);
    let r = json(&out);
    let d = diagnosis(&r, "media", "photos");
    assert_eq!(d["root_cause"]["code"], "ratelimit-account-paused");
    assert_eq!(d["root_cause"]["unpause_url"], UNPAUSE);
    assert_eq!(
        d["root_cause"]["next"],
        format!("unpause at {UNPAUSE}, then: certdx renew photos -n media")
    );
    let paused = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "ratelimit-account-paused")
        .unwrap();
    assert_eq!(paused["paused"]["unpause_url"], UNPAUSE);
    assert!(
        paused["advice"]
            .as_str()
            .unwrap()
            .contains("Retrying before that only adds failed validations"),
        "{paused:#}"
    );
    // Other findings carry no `paused`.
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] != "ratelimit-account-paused")
            .all(|f| f.get("paused").is_none())
    );
    let md = certdx(&["report", "--snapshot", &f, "--offline", "--now", NOW]);
    assert!(String::from_utf8_lossy(&md.stdout).contains(UNPAUSE));

    // A message cut before the link (as posters often paste it): the field is there, null.
    let cut = certdx(&[
        "explain",
        "-o",
        "json",
        "429 urn:ietf:params:acme:error:rateLimited: Your account is temporarily prevented from requesting certificates for x.example.org and possibly others.",
    ]);
    let v = json(&cut);
    let f = &v["findings"][0];
    assert_eq!(f["code"], "ratelimit-account-paused", "{v:#}");
    assert!(
        f["paused"].is_object() && f["paused"]["unpause_url"].is_null(),
        "{f:#}"
    );
}

/// A remote perspective's failure names the address it reached (getssl's report of Let's
/// Encrypt's answer, https://github.com/srvrco/getssl/issues/846).
#[test]
fn secondary_validation_names_the_addresses_the_ca_reached() {
    let out = certdx(&[
        "explain",
        "-o",
        "json",
        r#"getssl: solidgone.com:Verify error:    "detail": "During secondary validation: 2a06:98c1:3121::1: Invalid response from http://solidgone.com/.well-known/acme-challenge/-xvcbRT5qoVusdKnQDOXfPoYvjvGAXMQDTpQfs4XntM: 403"#,
    ]);
    let v = json(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "acme-secondary-validation")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("the CA reached 2a06:98c1:3121::1"),
        "{f:#}"
    );
    assert!(
        f["evidence"].to_string().contains("addresses the CA named"),
        "{f:#}"
    );
}

/// The live DNS-01 check learns the pending-authorization lifetime from the Challenge's
/// issuer: 1 hour under Let's Encrypt's tlsserver profile, so a record measured to propagate
/// slower gives `authz-lifetime-short` (measured against a DNS lab in tests/dns01.rs).
#[test]
fn a_challenge_under_a_one_hour_profile_carries_that_lifetime_to_the_dns01_check() {
    use certdx::diagnose::playbook::Target;
    let snap = certdx::source::snapshot::load(Path::new(&fixture("readiness.yaml")))
        .expect("fixture loads");
    let inv = &snap.inventory;
    let ch = inv
        .challenges
        .iter()
        .find(|c| c.spec.dns_name == "slow.example.com")
        .expect("the slow Challenge");
    let lifetime = Target::from_challenge(ch, inv)
        .authz_lifetime
        .expect("a known profile's lifetime");
    assert_eq!(lifetime.secs, 3600);
    assert_eq!(lifetime.source, "Let's Encrypt's tlsserver profile");
}
