//! The demo lab: every demo Challenge, checked live against the lab, finds exactly what the
//! scenario planted; labs run side by side and free their ports when dropped.
//!
//! Only 127.0.0.0/8 is contacted, on ephemeral ports; every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use certdx::checks::dns::{Dns, fqdn};
use certdx::diagnose::playbook::{PlaybookOptions, PlaybookResult, Target, run_playbook};
use certdx::source::demo::{self, DemoLab, ListenerKind};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::time::timeout;

/// Starting binds a few dozen sockets; far more than enough.
const START: Duration = Duration::from_secs(10);
/// One playbook run against in-process servers.
const PLAYBOOK: Duration = Duration::from_secs(30);

async fn start() -> DemoLab {
    timeout(START, DemoLab::start())
        .await
        .expect("the lab starts in time")
        .expect("the lab starts")
}

/// The playbook for every demo Challenge, by dnsName.
async fn run_all(lab: &DemoLab) -> BTreeMap<String, PlaybookResult> {
    let dns = Dns::new(lab.dns_options()).expect("dns handle");
    let opts = PlaybookOptions {
        http: lab.http_options(),
        ..PlaybookOptions::default()
    };
    let inventory = demo::load().inventory;
    let mut results = BTreeMap::new();
    for ch in &inventory.challenges {
        let target = Target::from_challenge(ch, &inventory);
        let result = timeout(PLAYBOOK, run_playbook(&dns, &target, &opts))
            .await
            .unwrap_or_else(|_| panic!("the playbook for {} finishes in time", target.name));
        results.insert(ch.spec.dns_name.clone(), result);
    }
    results
}

fn codes(r: &PlaybookResult) -> BTreeSet<&'static str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

fn summary_of<'a>(r: &'a PlaybookResult, code: &str) -> &'a str {
    &r.findings
        .iter()
        .find(|f| f.code.as_str() == code)
        .unwrap_or_else(|| panic!("{} lacks {code}: {:#?}", r.target.name, r.findings))
        .summary
}

#[tokio::test(flavor = "multi_thread")]
async fn every_demo_challenge_finds_what_was_planted() {
    let lab = start().await;
    let results = run_all(&lab).await;
    let expected: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("www.shop.example.com", &["http01-wrong-status"][..]),
        // Its Challenge is valid: the apex is served.
        ("shop.example.com", &[][..]),
        ("blog.example.org", &["http01-bad-redirect"][..]),
        (
            "api.example.net",
            &["dns01-txt-missing", "dns01-ns-inconsistent"][..],
        ),
        ("promo.example.com", &["caa-forbids-issuance"][..]),
        ("landing.example.com", &["http01-wrong-status"][..]),
    ]);
    let found: BTreeSet<&str> = results.keys().map(String::as_str).collect();
    assert_eq!(
        found,
        expected.keys().copied().collect(),
        "the demo's Challenges"
    );
    for (name, want) in &expected {
        let got = codes(&results[*name]);
        let want: BTreeSet<&str> = want.iter().copied().collect();
        assert_eq!(got, want, "{name}: {:#?}", results[*name].findings);
    }

    let shop = summary_of(&results["www.shop.example.com"], "http01-wrong-status");
    assert!(shop.contains("404") && shop.contains("nginx"), "{shop}");
    let blog = summary_of(&results["blog.example.org"], "http01-bad-redirect");
    assert!(blog.contains("8443"), "{blog}");
    let landing = summary_of(&results["landing.example.com"], "http01-wrong-status");
    assert!(landing.contains("503"), "{landing}");

    let ns2 = lab.nameserver("ns2.example.net").expect("ns2 listens");
    let ns1 = lab.nameserver("ns1.example.net.").expect("ns1 listens");
    let api = &results["api.example.net"];
    assert_eq!(api.target.name, "*.api.example.net");
    let missing = summary_of(api, "dns01-txt-missing");
    assert!(missing.contains(&ns2.to_string()), "{missing}");
    assert!(!missing.contains(&ns1.to_string()), "{missing}");

    let caa = summary_of(&results["promo.example.com"], "caa-forbids-issuance");
    assert!(caa.contains("letsencrypt.org"), "{caa}");
}

/// On a current-thread runtime too: the lab's servers share the runtime with the checks.
#[tokio::test]
async fn the_resolver_answers_parents_and_unknown_names_sanely() {
    let lab = start().await;
    let dns = Dns::new(lab.dns_options()).expect("dns handle");
    let ask = |name: &'static str, rtype| {
        let dns = dns.clone();
        async move {
            let answer = timeout(PLAYBOOK, dns.query_recursive(&fqdn(name).unwrap(), rtype))
                .await
                .expect("answered in time");
            (answer.rcode, answer.addresses())
        }
    };
    assert_eq!(
        ask("com", RecordType::CAA).await.0,
        Some(ResponseCode::NoError)
    );
    assert_eq!(
        ask("nothere.example.com", RecordType::A).await.0,
        Some(ResponseCode::NXDomain)
    );
    assert_eq!(
        ask("typo-example.com", RecordType::A).await.0,
        Some(ResponseCode::NXDomain)
    );
    let (rcode, addrs) = ask("landing.example.com", RecordType::A).await;
    assert_eq!(rcode, Some(ResponseCode::NoError));
    assert_eq!(addrs.len(), 1, "the CNAME is chased to one address");
    assert!(addrs[0].is_loopback());
}

/// Whether every listener's address can be bound again (the lab let go of it).
fn all_free(addrs: &[(SocketAddr, ListenerKind)]) -> bool {
    addrs.iter().all(|(addr, kind)| {
        let tcp = std::net::TcpListener::bind(addr).is_ok();
        let udp = *kind != ListenerKind::Dns || std::net::UdpSocket::bind(addr).is_ok();
        tcp && udp
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn two_labs_run_at_once_and_stop_on_drop() {
    let (a, b) = tokio::join!(start(), start());
    assert_ne!(a.dns_port(), b.dns_port());
    assert_ne!(a.http_port(), b.http_port());
    let mut addrs = Vec::new();
    for lab in [&a, &b] {
        assert_ne!(lab.http_port(), lab.https_port());
        for l in lab.listeners() {
            assert!(l.addr.ip().is_loopback(), "{l:?}");
            addrs.push((l.addr, l.kind));
        }
        assert!(!all_free(&addrs), "a running lab holds its ports");
    }
    // Both answer at the same time.
    let (ra, rb) = tokio::join!(run_all(&a), run_all(&b));
    assert_eq!(
        codes(&ra["blog.example.org"]),
        codes(&rb["blog.example.org"])
    );

    drop(a);
    drop(b);
    let freed = timeout(Duration::from_secs(5), async {
        while !all_free(&addrs) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the labs' ports are free again after drop");
}
