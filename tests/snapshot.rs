//! Loading snapshots: every shape kubectl writes, and every kind of bad input.

#[path = "common/synthetic.rs"]
mod synthetic;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use certdx::model::ChainIndex;
use certdx::source::snapshot::{self, SnapshotError};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs certdx; `report` runs offline (these fixtures' names are not on loopback, and tests
/// contact nothing else).
fn certdx(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certdx"));
    cmd.args(args);
    if args.first() == Some(&"report") {
        cmd.arg("--offline");
    }
    cmd.output().expect("certdx runs")
}

const CERT: &str = r#"apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: a, namespace: ns1, uid: u-a}
spec: {secretName: a-tls, dnsNames: [a.example.com], issuerRef: {name: le, kind: ClusterIssuer}}
status:
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: Issuing certificate as Secret does not exist}
"#;

#[test]
fn loads_a_directory_of_list_multi_document_and_json_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a-list.yaml"),
        std::fs::read_to_string(fixture("revisions.yaml")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b-multi.yml"),
        format!(
            "---\n{CERT}---\n# a comment only\n---\n{}",
            CERT.replace("name: a,", "name: b,").replace("u-a", "u-b")
        ),
    )
    .unwrap();
    let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"acme.cert-manager.io/v1","kind":"Order","metadata":{"name":"o","namespace":"ns1","ownerReferences":[{"apiVersion":"cert-manager.io/v1","kind":"CertificateRequest","name":"gone","uid":"x"}]},"spec":{"issuerRef":{"name":"le"}},"status":{"state":"pending"}}]}"#;
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/c.json"), json).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a snapshot").unwrap();
    let snap = snapshot::load(dir.path()).unwrap();
    assert_eq!(snap.files, 3, "only .yaml/.yml/.json files, recursively");
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
    let inv = &snap.inventory;
    assert_eq!(inv.certificates.len(), 3);
    assert_eq!(inv.requests.len(), 3);
    assert_eq!(inv.orders.len(), 3);
    assert_eq!(inv.challenges.len(), 1);
    assert_eq!(inv.cluster_issuers.len(), 1);
    let index = ChainIndex::build(inv);
    assert_eq!(
        index.orphan_orders.len(),
        1,
        "the JSON order's owner is not in the snapshot"
    );
}

#[test]
fn a_broken_document_is_reported_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.yaml");
    let broken = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: [unclosed\n";
    let wrong_type = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, namespace: ns1}\nspec: {dnsNames: 42}\n";
    let no_kind = "apiVersion: v1\nmetadata: {name: x}\n";
    let wrong_group = "apiVersion: networking.gke.io/v1\nkind: ManagedCertificate\nmetadata: {name: g}\n---\napiVersion: networking.gke.io/v1beta1\nkind: Certificate\nmetadata: {name: gke}\n";
    let scalar = "just a string\n";
    std::fs::write(
        &file,
        format!(
            "{CERT}---\n{broken}---\n{wrong_type}---\n{no_kind}---\n{wrong_group}---\n{scalar}"
        ),
    )
    .unwrap();
    let snap = snapshot::load(&file).unwrap();
    assert_eq!(snap.inventory.certificates.len(), 1);
    let problems: Vec<String> = snap.problems.iter().map(ToString::to_string).collect();
    assert_eq!(snap.problems.len(), 5, "{problems:#?}");
    let p = &snap.problems[0];
    assert_eq!(p.document, Some(2));
    assert_eq!(p.file, file);
    assert_eq!(
        p.line.map(|l| (9..=12).contains(&l)),
        Some(true),
        "line within the second document: {p}"
    );
    assert!(problems[0].contains("invalid YAML"), "{problems:#?}");
    assert!(
        problems[1].contains("(document 3)") && problems[1].contains("spec.dnsNames"),
        "{problems:#?}"
    );
    assert!(problems[2].contains("no `kind`"), "{problems:#?}");
    assert!(problems[3].contains("not cert-manager's"), "{problems:#?}");
    assert!(
        problems[4].contains("not a Kubernetes object"),
        "{problems:#?}"
    );
    assert_eq!(
        snap.ignored_kinds,
        vec![("ManagedCertificate".to_owned(), 1)]
    );
}

#[test]
fn missing_status_and_unknown_fields_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.yaml");
    std::fs::write(
        &file,
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: fresh, namespace: n}\nspec:\n  secretName: s\n  futureField: {nested: true}\n  issuerRef: {name: le}\n",
    )
    .unwrap();
    let snap = snapshot::load(&file).unwrap();
    assert!(snap.problems.is_empty());
    assert!(snap.inventory.certificates[0].status.is_none());
    let out = certdx(&[
        "report",
        "--snapshot",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["unknown"], 1);
}

fn assert_clean_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit 2 expected; stderr: {stderr}"
    );
    assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout when nothing could be done"
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let missing = d.join("nope.yaml");
    assert_clean_error(
        &certdx(&["report", "--snapshot", missing.to_str().unwrap()]),
        "nope.yaml: no such file",
    );

    let empty_dir = d.join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", empty_dir.to_str().unwrap()]),
        "holds no .yaml",
    );

    let empty = d.join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", empty.to_str().unwrap()]),
        "no Kubernetes objects found",
    );

    let binary = d.join("binary.yaml");
    std::fs::write(&binary, [0x61, 0x3a, 0x20, 0xff, 0xfe, 0x00, 0x80]).unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", binary.to_str().unwrap()]),
        "binary.yaml: not UTF-8",
    );

    let malformed = d.join("malformed.yaml");
    std::fs::write(&malformed, "kind: Certificate\n  bad: [indent\n").unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", malformed.to_str().unwrap()]),
        "malformed.yaml:",
    );

    let other_kinds = d.join("deploy.yaml");
    std::fs::write(
        &other_kinds,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    )
    .unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", other_kinds.to_str().unwrap()]),
        "only objects of other kinds: Deployment x1",
    );

    let bad_json = d.join("bad.json");
    std::fs::write(&bad_json, "{\"kind\": \"List\", \"items\": [").unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", bad_json.to_str().unwrap()]),
        "invalid JSON",
    );

    assert_clean_error(
        &certdx(&[
            "report",
            "--snapshot",
            d.to_str().unwrap(),
            "--format",
            "pdf",
        ]),
        "invalid value 'pdf'",
    );
}

#[test]
fn a_50_mb_file_is_handled_quickly_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    // 50 MB of text that is YAML-shaped garbage: one huge mapping of junk keys.
    let junk = dir.path().join("junk.yaml");
    let mut f = std::fs::File::create(&junk).unwrap();
    let line = "k: ".to_owned() + &"x".repeat(96) + "\n";
    for i in 0..(50 * 1024 * 1024 / line.len()) {
        write!(f, "k{i}{}", &line[1..]).unwrap();
    }
    drop(f);
    let start = Instant::now();
    let out = certdx(&["report", "--snapshot", junk.to_str().unwrap()]);
    assert_clean_error(&out, "no `kind` field");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );

    // 50 MB of binary noise.
    let noise = dir.path().join("noise.json");
    let bytes: Vec<u8> = (0..50 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&noise, bytes).unwrap();
    assert_clean_error(
        &certdx(&["report", "--snapshot", noise.to_str().unwrap()]),
        "not UTF-8",
    );
}

#[test]
fn events_match_by_uid_or_by_name_and_events_v1_is_understood() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ev.yaml");
    let text = format!(
        "{CERT}---\napiVersion: v1\nkind: Event\nmetadata: {{name: e1, namespace: ns1}}\ninvolvedObject: {{kind: Certificate, name: a, namespace: ns1}}\nreason: Failed\nmessage: 'Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: Error creating new order :: too many failed authorizations recently: see https://letsencrypt.org/docs/rate-limits/'\ntype: Warning\nlastTimestamp: '2026-01-15T11:00:00Z'\n---\napiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {{name: e2, namespace: ns1}}\nregarding: {{kind: Certificate, name: a, namespace: ns1, uid: u-a}}\nreason: Issuing\nnote: 'Issuing certificate as Secret does not exist'\ntype: Normal\neventTime: '2026-01-15T11:30:00.000000Z'\n"
    );
    std::fs::write(&file, text).unwrap();
    let snap = snapshot::load(&file).unwrap();
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
    assert_eq!(snap.inventory.events.len(), 2);
    let index = ChainIndex::build(&snap.inventory);
    let meta = &snap.inventory.certificates[0].metadata;
    let evs = index.events_for(certdx::model::Kind::Certificate, meta);
    assert_eq!(evs.len(), 2);
    assert_eq!(
        snap.inventory.events[evs[0]].message.as_deref(),
        Some("Issuing certificate as Secret does not exist"),
        "newest first"
    );
    let out = certdx(&[
        "report",
        "--snapshot",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--now",
        "2026-01-15T12:00:00Z",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["diagnoses"][0]["root_cause"]["code"],
        "ratelimit-failed-authorizations"
    );
}

#[test]
fn thousands_of_objects_link_completely() {
    let yaml = synthetic::estate_yaml(2000);
    let mut snap = snapshot::Snapshot::default();
    snapshot::load_text(&yaml, Path::new("synthetic.yaml"), &mut snap);
    assert!(
        snap.problems.is_empty(),
        "{:?}",
        &snap.problems[..snap.problems.len().min(3)]
    );
    assert_eq!(snap.inventory.len(), 8001);
    let index = ChainIndex::build(&snap.inventory);
    assert_eq!(index.orphan_count(), 0);
    assert!(
        index
            .certificates
            .iter()
            .all(|c| c.requests.len() == 1 && c.requests[0].orders.len() == 1)
    );
    let _ = SnapshotError::NotFound("x".into());
}
