//! `certdx issue` over DNS-01, end to end: a real Pebble validates through the DNS lab's
//! unbound, which resolves the names' zones on the lab's knotd, the delegated zone on certdx's
//! embedded server, and an RFC 2136 zone on a real knotd primary that certdx updates with TSIG.
//! Nothing is mocked between certdx and the CA.
//!
//! Addresses: each test's DNS lab takes a block of 127.0.9.0/24 and the embedded server the
//! first address of the next block (the `Slots` shared with `lab`); the primary is on
//! 127.0.13.x (see `knot_primary`). Pebble is on free 127.0.0.1 ports. Everything is stopped when the test ends, also on failure.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::dns_lab::{DnsLab, LabBuilder, Slots};
use super::knot_primary::{KnotPrimary, ZoneSpec, keymgr_key};
use crate::acme_audit::{audit, certificates_by_name};
use crate::pebble_lab::{PebbleLab, PebbleOptions};

use super::lab::SLOTS;

/// How long one `certdx issue` may take here.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// The DNS lab, the embedded server's address, and Pebble validating through the lab.
struct World {
    _dns: DnsLab,
    resolver: SocketAddr,
    embedded: SocketAddr,
    pebble: PebbleLab,
    dir: tempfile::TempDir,
}

/// `example.com` on the lab's knotd with the `_acme-challenge` CNAMEs given in `records`,
/// `example.net` delegating `acme.example.net` to certdx at `.15` of the lab's block, and,
/// with `rfc`, `rfc.example.com` delegated to that knotd primary.
async fn world(slots: &Slots, records: &str, rfc: Option<SocketAddr>) -> World {
    let mut b = LabBuilder::new(slots);
    let embedded = SocketAddr::from((slots.take().ip(1), 53));
    let ns = b.knot("a");
    let mut example_com = records.to_owned();
    if let Some(primary) = rfc {
        example_com.push_str(&format!(
            "rfc NS ns1.rfc.example.com.\nns1.rfc A {}\n",
            primary.ip()
        ));
    }
    b.zone("example.com", &[("ns1", ns)], &example_com).zone(
        "example.net",
        &[("ns1", ns)],
        &format!(
            "acme NS ns.acme.example.net.\nns.acme A {}\n",
            embedded.ip()
        ),
    );
    let dns = b.start().await;
    let resolver = dns.resolver;
    let pebble = PebbleLab::start_with(PebbleOptions {
        dns_server: Some(resolver),
        ..PebbleOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab-root.pem"), pebble.root_pem()).unwrap();
    World {
        _dns: dns,
        resolver,
        embedded,
        pebble,
        dir,
    }
}

impl World {
    /// `certdx issue` against the lab with `solver` flags and `names`, to its end: exit code
    /// and the JSON report.
    async fn issue(&self, solver: &[String], names: &[&str]) -> (i32, Value) {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
        cmd.arg("issue")
            .args(["--directory", &self.pebble.directory_url()])
            .arg("--ca-cert")
            .arg(self.dir.path().join("lab-root.pem"))
            .args(["--resolver", &self.resolver.to_string()])
            .arg("--state")
            .arg(self.state())
            .arg("--out")
            .arg(self.dir.path().join("certs"))
            .args(solver)
            .args(["--format", "json", "--new-order-concurrency", "1"])
            .args(["--self-check-timeout", "20"])
            .env_remove("CERTDX_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for name in names {
            cmd.args(["--domain", name]);
        }
        let child = cmd.spawn().expect("certdx started");
        let out = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
            .await
            .expect("certdx issue finished in time")
            .expect("certdx output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is one JSON document ({e}); stderr:\n{stderr}\npebble:\n{}",
                self.pebble.pebble_log(40)
            )
        });
        (out.status.code().unwrap_or(-1), doc)
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state.sqlite")
    }

    fn certs(&self) -> std::path::PathBuf {
        self.dir.path().join("certs")
    }

    /// Every authorization the store knows, as the CA has it now: none may be pending without
    /// a decision.
    async fn assert_nothing_left_pending(&self) -> BTreeMap<String, usize> {
        let audit = audit(&self.pebble, &self.pebble.directory_url(), &self.state()).await;
        assert!(audit.fetched > 0, "the store recorded authorizations");
        assert!(
            audit.pending_unknown.is_empty(),
            "pending at the CA and undecided in the store: {:?}",
            audit.pending_unknown
        );
        audit.statuses
    }
}

/// The SANs of the PEM certificate at `path`.
fn sans(path: &Path) -> Vec<String> {
    let pem = std::fs::read(path).expect("certificate written");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    let mut names: Vec<String> = cert
        .subject_alternative_name()
        .expect("SAN extension parses")
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn assert_key_private(path: &Path) {
    let mode = std::fs::metadata(path)
        .expect("key written")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "{} is {:o}",
        path.display(),
        mode & 0o777
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dns01_issues_delegated_names_and_a_wildcard_and_refuses_an_undelegated_one() {
    // www and the apex (for the wildcard) are delegated; "plain" is not.
    let cnames = "www A 192.0.2.1\n\
                  _acme-challenge.www CNAME www.example.com.acme.example.net.\n\
                  _acme-challenge CNAME example.com.acme.example.net.\n\
                  plain A 192.0.2.2\n";
    let w = world(&SLOTS, cnames, None).await;
    let solver: Vec<String> = [
        "--dns01-embedded",
        &w.embedded.to_string(),
        "--dns01-zone",
        "acme.example.net",
    ]
    .map(str::to_owned)
    .to_vec();
    let (code, doc) = w
        .issue(
            &solver,
            &[
                "www.example.com",
                "*.example.com,example.com",
                "plain.example.com",
            ],
        )
        .await;
    let certs = certificates_by_name(&doc);
    assert_eq!(code, 1, "one name failed: {doc:#}");
    let www = &certs["www.example.com"];
    assert_eq!(www["status"], "issued", "{www:#}");
    assert_eq!(
        sans(&w.certs().join("www.example.com.crt")),
        ["www.example.com"]
    );
    assert_key_private(&w.certs().join("www.example.com.key"));
    // Two values at one TXT name at once: the wildcard and its base.
    let wild = &certs["*.example.com"];
    assert_eq!(wild["status"], "issued", "{wild:#}");
    assert_eq!(
        sans(&w.certs().join("_.example.com.crt")),
        ["*.example.com", "example.com"]
    );
    let plain = &certs["plain.example.com"];
    assert_eq!(plain["status"], "failed");
    assert_eq!(plain["stage"], "preflight", "never ordered: {plain:#}");
    assert_eq!(plain["code"], "solver-no-match");
    let summary = plain["finding"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(
            "_acme-challenge.plain.example.com. CNAME plain.example.com.acme.example.net."
        ),
        "the CNAME to create is named: {plain:#}"
    );
    let statuses = w.assert_nothing_left_pending().await;
    assert_eq!(statuses.get("valid"), Some(&3), "{statuses:?}");
    assert_eq!(doc["summary"]["authorizations"]["pending_unknown"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc2136_dns01_issues_through_tsig_updates_to_a_real_primary() {
    let key = keymgr_key("certdx-issue");
    let primary = KnotPrimary::start(
        &key,
        &[ZoneSpec {
            name: "rfc.example.com",
            updatable: true,
        }],
    )
    .await;
    let w = world(&SLOTS, "", Some(primary.addr)).await;
    let key_file = w.dir.path().join("tsig.key");
    std::fs::write(&key_file, &key.keymgr_output).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let solver: Vec<String> = vec![
        "--dns01-rfc2136".into(),
        primary.addr.to_string(),
        "--tsig-key".into(),
        key_file.display().to_string(),
    ];
    let (code, doc) = w
        .issue(&solver, &["a.rfc.example.com", "*.rfc.example.com"])
        .await;
    assert_eq!(code, 0, "{doc:#}\nknotd:\n{}", primary.log());
    let certs = certificates_by_name(&doc);
    assert_eq!(certs["a.rfc.example.com"]["status"], "issued");
    assert_eq!(
        sans(&w.certs().join("_.rfc.example.com.crt")),
        ["*.rfc.example.com"]
    );
    // The records were withdrawn after the verdicts: the zone is as it was.
    for name in [
        "_acme-challenge.a.rfc.example.com.",
        "_acme-challenge.rfc.example.com.",
    ] {
        let owner = hickory_proto::rr::Name::from_ascii(name).unwrap();
        let answer = primary
            .ask(&owner, hickory_proto::rr::RecordType::TXT)
            .await;
        assert!(
            answer.txt_values(&owner).is_empty(),
            "{name} still holds {:?}",
            answer.txt_values(&owner)
        );
    }
    let statuses = w.assert_nothing_left_pending().await;
    assert_eq!(statuses.get("valid"), Some(&2), "{statuses:?}");
}
