//! The 2025 ACME extensions in the engine, against a real Pebble 2.4.0 behind the fault proxy
//! (Pebble has neither: the proxy advertises profiles and answers as Boulder does, each rule
//! citing Boulder's source in tests/common/pebble_lab.rs): `--profile` checked against the
//! directory before any order and sent in newOrder; ARI renewals sending `replaces`, and going
//! on without it when the CA refuses it (`alreadyReplaced`).

#[path = "common/issue_run.rs"]
mod issue_run;
#[path = "common/pebble_lab.rs"]
mod pebble_lab;

use std::time::Duration;

use certdx::engine::acme::certificate_id;
use issue_run::{issue_command, new_orders, order_rows, run_json, scenario};
use pebble_lab::{AriWindow, FaultProxy, PebbleLab, ProfileRule};

/// Let's Encrypt's three profiles as its directory describes them (2026), with Boulder's
/// identifier limits: 100 for classic, 25 for the others (ACME-2026 facts in the README).
fn letsencrypt_profiles() -> Vec<ProfileRule> {
    [
        ("classic", "The same profile you're accustomed to", 100),
        (
            "tlsserver",
            "https://letsencrypt.org/2025/01/09/acme-profiles/",
            25,
        ),
        (
            "shortlived",
            "https://letsencrypt.org/2025/01/16/6-day-and-ip-certs/",
            25,
        ),
    ]
    .into_iter()
    .map(|(name, description, max)| ProfileRule {
        name: name.to_owned(),
        description: description.to_owned(),
        max_identifiers: max,
    })
    .collect()
}

const LIMIT: Duration = Duration::from_secs(240);
const RUN: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_is_checked_before_any_order_and_sent_in_new_order() {
    scenario(LIMIT, async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        proxy.serve_profiles(letsencrypt_profiles());
        let directory = proxy.directory_url();
        let dir = tempfile::tempdir().unwrap();
        let domains = dir.path().join("domains.txt");
        std::fs::write(&domains, "a.profile.certdx.example\n").unwrap();

        // A profile the CA does not offer costs nothing: refused before any newOrder.
        let mut cmd = issue_command(&lab, &directory, dir.path(), &domains);
        cmd.args(["--profile", "tlsservr"]);
        let (code, doc, stderr) = run_json(cmd, RUN).await;
        assert_eq!(code, 2, "{doc:#}\n{stderr}");
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("--profile tlsservr"), "{message}");
        assert!(
            message.contains("tlsserver (https://letsencrypt.org/2025/01/09/acme-profiles/)"),
            "{message}"
        );
        assert!(new_orders(&proxy.log()).is_empty());

        // A profile it offers goes into newOrder.
        let mut cmd = issue_command(&lab, &directory, dir.path(), &domains);
        cmd.args(["--profile", "tlsserver"]);
        let (code, doc, stderr) = run_json(cmd, RUN).await;
        assert_eq!(code, 0, "{doc:#}\n{stderr}");
        let log = proxy.log();
        let sent = new_orders(&log);
        assert_eq!(sent.len(), 1);
        let payload = sent[0].payload.as_ref().expect("the newOrder payload");
        assert_eq!(payload["profile"], "tlsserver", "{payload}");
        // The state store records what the order asked for.
        let rows = order_rows(&dir.path().join("state.sqlite"));
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].profile.as_deref(), Some("tlsserver"));

        // Over the profile's identifier limit: the CA's refusal is the certificate's failure.
        let many: Vec<String> = (0..26)
            .map(|i| format!("m{i:02}.profile.certdx.example"))
            .collect();
        std::fs::write(&domains, format!("{}\n", many.join(","))).unwrap();
        let mut cmd = issue_command(&lab, &directory, dir.path(), &domains);
        cmd.args(["--profile", "shortlived"]);
        let (code, doc, stderr) = run_json(cmd, RUN).await;
        assert_eq!(code, 1, "{doc:#}\n{stderr}");
        let text = doc.to_string();
        assert!(
            text.contains("Order cannot contain more than 25 identifiers"),
            "{doc:#}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ari_renewal_sends_replaces_and_goes_on_without_it_when_refused() {
    scenario(LIMIT, async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        proxy.serve_profiles(letsencrypt_profiles());
        let directory = proxy.directory_url();
        let dir = tempfile::tempdir().unwrap();
        let domains = dir.path().join("domains.txt");
        std::fs::write(
            &domains,
            "a.replace.certdx.example\nb.replace.certdx.example\n",
        )
        .unwrap();
        let (code, doc, stderr) =
            run_json(issue_command(&lab, &directory, dir.path(), &domains), RUN).await;
        assert_eq!(code, 0, "{doc:#}\n{stderr}");
        let id_of = |name: &str| {
            let pem = std::fs::read(dir.path().join(format!("certs/{name}.crt"))).unwrap();
            certificate_id(&pem).unwrap().to_string()
        };
        let (a, b) = (
            id_of("a.replace.certdx.example"),
            id_of("b.replace.certdx.example"),
        );
        // Another client's order already replaced a's certificate.
        proxy.mark_replaced(&a);
        // The CA moves the renewal window into the past: both renew now.
        let days = |d: i64| {
            (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * d)).to_string()
        };
        proxy.serve_ari(AriWindow {
            start: days(-2),
            end: days(-1),
            explanation_url: None,
        });
        let before = new_orders(&proxy.log()).len();
        let (code, doc, stderr) =
            run_json(issue_command(&lab, &directory, dir.path(), &domains), RUN).await;
        assert_eq!(code, 0, "{doc:#}\n{stderr}");
        let certs = doc["certificates"].as_array().expect("certificates");
        let by_name = |n: &str| {
            certs
                .iter()
                .find(|c| c["name"] == n)
                .unwrap_or_else(|| panic!("{n} in {doc:#}"))
        };
        let ca = by_name("a.replace.certdx.example");
        assert_eq!(ca["status"], "issued", "{ca:#}");
        assert_eq!(ca["replaces"], a.as_str());
        let dropped = ca["replaces_dropped"].as_str().unwrap_or_default();
        assert!(dropped.contains("alreadyReplaced"), "{dropped}");
        assert!(dropped.contains("ordered without it"), "{dropped}");
        let cb = by_name("b.replace.certdx.example");
        assert_eq!(cb["status"], "issued", "{cb:#}");
        assert_eq!(cb["replaces"], b.as_str());
        assert!(cb["replaces_dropped"].is_null(), "{cb:#}");
        // What reached the CA: b once with replaces; a with replaces (refused), then without.
        let log = proxy.log();
        let renewal: Vec<_> = new_orders(&log).into_iter().skip(before).collect();
        let replaces: Vec<Option<&str>> = renewal
            .iter()
            .map(|l| l.payload.as_ref().and_then(|p| p["replaces"].as_str()))
            .collect();
        assert_eq!(renewal.len(), 3, "{replaces:?}");
        assert_eq!(
            replaces.iter().filter(|r| **r == Some(b.as_str())).count(),
            1
        );
        assert_eq!(
            replaces.iter().filter(|r| **r == Some(a.as_str())).count(),
            1
        );
        assert_eq!(replaces.iter().filter(|r| r.is_none()).count(), 1);
        assert_eq!(renewal.iter().filter(|l| l.status == 409).count(), 1);
        // The store: the refused order is closed with why; the renewals name what they replace.
        let rows = order_rows(&dir.path().join("state.sqlite"));
        let refused = rows
            .iter()
            .find(|r| r.replaces.as_deref() == Some(a.as_str()))
            .expect("the refused order is recorded");
        assert_eq!(refused.status, "abandoned");
        assert!(
            refused
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("alreadyReplaced")
        );
        assert!(
            rows.iter()
                .any(|r| r.replaces.as_deref() == Some(b.as_str()) && r.status == "valid")
        );
    })
    .await;
}

/// RFC 8738: an IP address identifier, IPv4 and IPv6, validated over HTTP-01 at the address
/// itself (Pebble 2.4.0 supports IP identifiers natively, since its 2.1.0), ends as an IP SAN.
/// (DNS-01 for an address is refused by the name check: tests/name.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_address_is_issued_over_http01_with_an_ip_san() {
    scenario(LIMIT, async {
        let lab = PebbleLab::start().await;
        let proxy = FaultProxy::start(&lab).await;
        let directory = proxy.directory_url();
        for ip in ["127.0.0.1", "::1"] {
            let addr: std::net::IpAddr = ip.parse().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let domains = dir.path().join("domains.txt");
            std::fs::write(&domains, format!("{ip}\n")).unwrap();
            // Pebble validates at the address itself: certdx listens there, on the lab's port.
            let listen = std::net::SocketAddr::new(addr, lab.http01_port()).to_string();
            let mut flags = lab.issue_flags(&directory, dir.path());
            let at = flags.iter().position(|f| f == "--http01-listen").unwrap();
            flags[at + 1] = listen;
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_certdx"));
            cmd.arg("issue")
                .args(&flags)
                .arg("--domains-file")
                .arg(&domains)
                .args(["--format", "json"])
                .env_remove("CERTDX_LOG")
                .kill_on_drop(true);
            let (code, doc, stderr) = run_json(cmd, RUN).await;
            assert_eq!(code, 0, "{ip}: {doc:#}\n{stderr}");
            let log = proxy.log();
            let sent = new_orders(&log);
            assert_eq!(
                sent.last().unwrap().payload.as_ref().unwrap()["identifiers"][0],
                serde_json::json!({"type": "ip", "value": ip})
            );
            let file = doc["certificates"][0]["cert_path"]
                .as_str()
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| dir.path().join(format!("certs/{ip}.crt")));
            let pem = std::fs::read(&file)
                .unwrap_or_else(|e| panic!("{ip}: {} ({e}): {doc:#}", file.display()));
            let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
            let cert = pem.parse_x509().unwrap();
            let san = cert
                .subject_alternative_name()
                .unwrap()
                .expect("a SAN extension");
            let ips: Vec<std::net::IpAddr> = san
                .value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                        4 => Some(<[u8; 4]>::try_from(*b).unwrap().into()),
                        16 => Some(<[u8; 16]>::try_from(*b).unwrap().into()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            assert_eq!(ips, [addr], "{ip}");
        }
    })
    .await;
}
