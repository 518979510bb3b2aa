//! The DNS-01 check against real servers: knotd authoritative servers, unbound as the
//! recursive resolver, in-process hickory-server instances for precise misbehaviour.

#[path = "common/dns_lab.rs"]
mod dns_lab;

use std::time::{Duration, Instant};

use certdx::checks::CheckStatus;
use certdx::checks::dns01::{check_dns01, check_dns01_detailed};
use certdx::checks::name::Method;
use certdx::diagnose::playbook::{AuthzLifetime, PlaybookOptions, Target, run_playbook};
use certdx::model::{Code, DnsEvidence, Finding, Severity};
use dns_lab::{LabBuilder, Misbehaviour, Slots};
use hickory_proto::rr::RecordType;

/// This binary's addresses: 127.0.2.0/24 and 127.0.3.0/24.
static SLOTS: Slots = Slots::new(&[2, 3]);

const TOKEN: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const TIMEOUT: Duration = Duration::from_secs(2);

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

fn dns_evidence(finding: &Finding) -> Vec<&DnsEvidence> {
    finding.dns_evidence().collect()
}

fn find(findings: &[Finding], code: Code) -> &Finding {
    findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {findings:#?}"))
}

fn records(txt: &str) -> String {
    format!("www A 127.0.2.250\n_acme-challenge.www TXT \"{txt}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_servers_agree() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let c = b.knot("b");
    b.zone("example.test", &[("ns1", a), ("ns2", c)], &records(TOKEN));
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let (report, details) = check_dns01_detailed(&dns, "www.example.test", Some(TOKEN)).await;
    assert_eq!(codes(&report.findings), [], "{:#?}", report.findings);
    assert_eq!(report.status, CheckStatus::Passed);
    assert_eq!(report.name, "dns01");
    assert_eq!(report.target, "www.example.test");
    // Every server was asked directly, and the resolver too.
    assert_eq!(details.zone.as_deref(), Some("example.test."));
    assert_eq!(
        details.checked_name.as_deref(),
        Some("_acme-challenge.www.example.test.")
    );
    let asked: Vec<_> = details.servers.iter().map(|e| e.address).collect();
    assert_eq!(asked, [Some(lab.addr(a)), Some(lab.addr(c))]);
    for e in &details.servers {
        assert_eq!(e.rcode.as_deref(), Some("NOERROR"));
        assert_eq!(e.soa_serial, Some(1));
        assert!(e.answers[0].contains(TOKEN), "{:?}", e.answers);
    }
    let recursive = details.recursive.expect("resolver asked");
    assert_eq!(recursive.server, "recursive");
    assert!(
        recursive.answers[0].contains(TOKEN),
        "{:?}",
        recursive.answers
    );

    // A wildcard is validated at the base name's challenge record.
    let report = check_dns01(&dns, "*.www.example.test", Some(TOKEN)).await;
    assert_eq!(codes(&report.findings), []);

    // The same zone with another expected value fails on both servers: the check did ask.
    let report = check_dns01(&dns, "www.example.test", Some("other")).await;
    assert_eq!(codes(&report.findings), [Code::Dns01TxtWrongValue]);
    let servers: Vec<&str> = dns_evidence(&report.findings[0])
        .iter()
        .map(|e| e.server.as_str())
        .collect();
    assert_eq!(servers, ["ns1.example.test.", "ns2.example.test."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_lacks_the_txt() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let lagging = b.knot("b");
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", lagging)],
        &records(TOKEN),
    )
    .variant("example.test", lagging, 0, "www A 127.0.2.250\n");
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let (report, details) = check_dns01_detailed(&dns, "www.example.test", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01TxtMissing, Code::Dns01NsInconsistent],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.status, CheckStatus::Failed);
    // The lab's zones refresh every minute: that bounds how long the secondary may lag.
    assert_eq!(details.propagation.map(|p| p.bound_secs), Some(60));

    let missing = find(&report.findings, Code::Dns01TxtMissing);
    let ns2 = lab.addr(lagging).to_string();
    assert!(
        missing.summary.contains("1 of 2 nameservers has no TXT"),
        "{}",
        missing.summary
    );
    assert!(missing.summary.contains(&ns2), "{}", missing.summary);
    let ev = dns_evidence(missing);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].server, "ns2.example.test.");
    assert_eq!(ev[0].address, Some(lab.addr(lagging)));
    assert_eq!(ev[0].rcode.as_deref(), Some("NXDOMAIN"));
    assert_eq!(ev[0].soa_serial, Some(0));
    assert_eq!(ev[0].question, "_acme-challenge.www.example.test. TXT");

    let inconsistent = find(&report.findings, Code::Dns01NsInconsistent);
    assert_eq!(inconsistent.severity, Severity::Warning);
    assert!(
        inconsistent
            .detail
            .contains("serial 0 on ns2.example.test."),
        "{}",
        inconsistent.detail
    );
    assert!(
        inconsistent
            .detail
            .contains("serial 1 on ns1.example.test."),
        "{}",
        inconsistent.detail
    );
    let ev = dns_evidence(inconsistent);
    assert_eq!(ev.len(), 2);
    let ns1 = ev.iter().find(|e| e.server == "ns1.example.test.").unwrap();
    assert_eq!(ns1.answers.len(), 1);
    assert!(ns1.answers[0].contains(TOKEN), "{:?}", ns1.answers);

    // Without an expected value only the disagreement is reported.
    let report = check_dns01(&dns, "www.example.test", None).await;
    assert_eq!(codes(&report.findings), [Code::Dns01NsInconsistent]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_server_is_named() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let c = b.knot("b");
    let refusing = b.refused("refusing");
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", c), ("ns3", refusing)],
        &records(TOKEN),
    );
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let report = check_dns01(&dns, "www.example.test", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01NsError],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert!(f.summary.contains("ns3.example.test."), "{}", f.summary);
    assert!(f.summary.contains("REFUSED"), "{}", f.summary);
    let ev = dns_evidence(f);
    assert_eq!(ev[0].rcode.as_deref(), Some("REFUSED"));
    assert_eq!(ev[0].address, Some(lab.addr(refusing)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_servers_cost_one_timeout_not_the_sum() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let s1 = b.silent("silent1");
    let s2 = b.silent("silent2");
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", s1), ("ns3", s2)],
        &records(TOKEN),
    );
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);
    // Warm unbound's view of the zone so its own retries around the silent servers are not
    // part of what is measured.
    lab.warm(&[
        ("example.test", RecordType::NS),
        ("example.test", RecordType::SOA),
        ("ns1.example.test", RecordType::A),
        ("ns2.example.test", RecordType::A),
        ("ns3.example.test", RecordType::A),
    ])
    .await;

    let started = Instant::now();
    let report = check_dns01(&dns, "www.example.test", Some(TOKEN)).await;
    let elapsed = started.elapsed();
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01NsError, Code::Dns01NsError],
        "{:#?}",
        report.findings
    );
    for f in &report.findings {
        let ev = dns_evidence(f);
        assert!(ev[0].rcode.is_none());
        let error = ev[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("no answer within 2000 ms"), "{error}");
        assert!(ev[0].elapsed_ms >= 1900, "{}", ev[0].elapsed_ms);
    }
    // Each silent server gets its question's budget (two timeouts: UDP, TCP refused, UDP
    // again); asked in sequence the two alone would take 8 s (16 s with their SOA).
    assert!(elapsed < Duration::from_millis(5500), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_value_shows_what_is_published() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let c = b.knot("b");
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", c)],
        &records("stale-token-from-last-week"),
    );
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let report = check_dns01(&dns, "www.example.test", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01TxtWrongValue],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert!(
        f.summary.contains("\"stale-token-from-last-week\""),
        "{}",
        f.summary
    );
    assert!(f.detail.contains(TOKEN), "{}", f.detail);
    assert_eq!(dns_evidence(f).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_delegation_is_followed() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let acme = b.knot("acme-dns");
    let acme2 = b.knot("acme-dns-2");
    b.zone(
        "example.test",
        &[("ns1", a)],
        "www A 127.0.2.250\n_acme-challenge.www CNAME d420c923.auth.acmedns.test.\n\
         _acme-challenge.api CNAME 5e1f.auth.acmedns.test.\n",
    );
    b.zone(
        "acmedns.test",
        &[("ns1", acme), ("ns2", acme2)],
        &format!("d420c923.auth TXT \"{TOKEN}\"\n"),
    );
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let report = check_dns01(&dns, "www.example.test", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01Cname],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.status, CheckStatus::Passed);
    let info = &report.findings[0];
    assert_eq!(info.severity, Severity::Info);
    assert!(
        info.summary.contains("d420c923.auth.acmedns.test."),
        "{}",
        info.summary
    );
    assert!(
        info.detail
            .contains("_acme-challenge.www.example.test. -> d420c923.auth.acmedns.test."),
        "{}",
        info.detail
    );
    let ev = dns_evidence(info);
    assert!(
        ev[0].answers.iter().any(|a| a.contains("CNAME")),
        "{:?}",
        ev[0].answers
    );

    // The target is what is checked: its servers are named when it lacks the TXT.
    let report = check_dns01(&dns, "api.example.test", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01Cname, Code::Dns01TxtMissing],
        "{:#?}",
        report.findings
    );
    let missing = find(&report.findings, Code::Dns01TxtMissing);
    assert!(
        missing.summary.contains("5e1f.auth.acmedns.test."),
        "{}",
        missing.summary
    );
    let servers: Vec<&str> = dns_evidence(missing)
        .iter()
        .map(|e| e.server.as_str())
        .collect();
    assert_eq!(servers, ["ns1.acmedns.test.", "ns2.acmedns.test."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_not_found() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    b.zone("example.test", &[("ns1", a)], &records(TOKEN));
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let report = check_dns01(&dns, "www.example.nosuchtld", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01ZoneNotFound],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.status, CheckStatus::Failed);
    let ev = dns_evidence(&report.findings[0]);
    let questions: Vec<&str> = ev.iter().map(|e| e.question.as_str()).collect();
    assert_eq!(
        questions,
        [
            "_acme-challenge.www.example.nosuchtld. SOA",
            "www.example.nosuchtld. SOA",
            "example.nosuchtld. SOA",
            "nosuchtld. SOA"
        ]
    );
    assert!(ev.iter().all(|e| e.rcode.as_deref() == Some("NXDOMAIN")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_resolver_still_serves_the_cached_nxdomain() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let c = b.knot("b");
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", c)],
        "www A 127.0.2.250\n",
    )
    .negative_ttl(3600);
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    // cert-manager's self-check asked before the record existed: the resolver caches NXDOMAIN.
    let primed = lab
        .ask_resolver("_acme-challenge.www.example.test", RecordType::TXT)
        .await
        .expect("resolver answers");
    assert_eq!(
        u16::from(primed.metadata.response_code),
        3,
        "NXDOMAIN expected"
    );

    // The solver publishes the record on both servers.
    for server in [a, c] {
        lab.update_zone("example.test", server, 2, &records(TOKEN))
            .await;
    }

    // Longer than any TTL the other labs let unbound keep: only the negative cache explains
    // what follows.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (report, details) = check_dns01_detailed(&dns, "www.example.test", Some(TOKEN)).await;
    let propagation = details
        .propagation
        .expect("the resolver has not seen it yet");
    assert!(
        propagation.bound_secs > 10 && propagation.bound_secs <= 3600,
        "{propagation:?}"
    );
    assert!(
        propagation.why.contains("recursive resolver"),
        "{propagation:?}"
    );
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01RecursiveStale],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.summary.contains("NXDOMAIN"), "{}", f.summary);
    let ev = dns_evidence(f);
    assert_eq!(ev[0].server, "recursive");
    assert_eq!(ev[0].address, Some(lab.resolver));
    assert_eq!(ev[0].rcode.as_deref(), Some("NXDOMAIN"));
    assert!(
        ev[0].ttl.is_some_and(|t| t > 10),
        "negative TTL {:?}",
        ev[0].ttl
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_udp_answer_is_retried_over_tcp() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let truncating = b.mini(
        "truncating",
        Misbehaviour {
            truncate_udp: true,
            ..Misbehaviour::default()
        },
    );
    // The knot server lags (no TXT), so the in-process server's answer shows up in the
    // evidence and proves it was read.
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", truncating)],
        &records(TOKEN),
    )
    .variant("example.test", a, 1, "www A 127.0.2.250\n");
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let report = check_dns01(&dns, "www.example.test", Some(TOKEN)).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01TxtMissing, Code::Dns01NsInconsistent],
        "{:#?}",
        report.findings
    );
    let missing = find(&report.findings, Code::Dns01TxtMissing);
    assert_eq!(dns_evidence(missing)[0].server, "ns1.example.test.");
    let inconsistent = find(&report.findings, Code::Dns01NsInconsistent);
    let over_tcp = dns_evidence(inconsistent)
        .into_iter()
        .find(|e| e.server == "ns2.example.test.")
        .expect("evidence from the truncating server");
    assert!(over_tcp.question.contains("TCP"), "{}", over_tcp.question);
    assert_eq!(over_tcp.rcode.as_deref(), Some("NOERROR"));
    assert!(
        over_tcp.answers[0].contains(TOKEN),
        "{:?}",
        over_tcp.answers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_resolver_gives_a_finding_in_bounded_time() {
    let addrs = SLOTS.take();
    let silent = std::net::UdpSocket::bind((addrs.ip(1), 53)).expect("bind");
    let dns = certdx::checks::dns::Dns::new(certdx::checks::dns::DnsOptions {
        resolver: Some(silent.local_addr().unwrap()),
        timeout: Duration::from_millis(800),
        authoritative_port: 53,
    })
    .unwrap();
    let started = Instant::now();
    let report = check_dns01(&dns, "www.example.test", Some(TOKEN)).await;
    let elapsed = started.elapsed();
    // A resolver that never answers says nothing about the zone: inconclusive, naming it.
    assert_eq!(
        codes(&report.findings),
        [Code::CheckInconclusive],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert!(
        f.summary.contains("the recursive resolver"),
        "{}",
        f.summary
    );
    assert!(
        f.summary.contains("no answer within 800 ms"),
        "{}",
        f.summary
    );
    // CNAME probe, then the parallel SOA walk: two question budgets, not one per level.
    assert!(elapsed < Duration::from_millis(4500), "took {elapsed:?}");
}

/// A secondary that has not picked up the record yet, in a zone whose SOA refresh is two
/// hours: certdx measures that the record may take that long to reach it, and under a profile
/// whose pending authorizations live one hour (Let's Encrypt's shortlived and tlsserver) that is
/// `authz-lifetime-short`; under the classic profile's 7 days it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_secondary_outlasting_a_one_hour_authorization_is_authz_lifetime_short() {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let lagging = b.knot("b");
    b.zone(
        "example.test",
        &[("ns1", a), ("ns2", lagging)],
        &records(TOKEN),
    )
    .variant("example.test", lagging, 0, "www A 127.0.2.250\n")
    .soa_refresh(7200);
    let lab = b.start().await;
    let dns = lab.dns(TIMEOUT);

    let (_, details) = check_dns01_detailed(&dns, "www.example.test", Some(TOKEN)).await;
    let propagation = details.propagation.expect("the record is on its way");
    assert_eq!(propagation.bound_secs, 7200);
    assert!(
        propagation.why.contains("1 of 2 nameservers"),
        "{}",
        propagation.why
    );

    let target = |secs: u64, source: &str| Target {
        name: "www.example.test".to_owned(),
        method: Method::Dns01,
        token: None,
        key: Some(TOKEN.to_owned()),
        ca_domain: "letsencrypt.org".to_owned(),
        account_uri: None,
        challenge: None,
        authz_lifetime: Some(AuthzLifetime {
            secs,
            source: source.to_owned(),
        }),
    };
    let opts = PlaybookOptions::default();
    let short = run_playbook(
        &dns,
        &target(3600, "Let's Encrypt's shortlived profile"),
        &opts,
    )
    .await;
    let f = find(&short.findings, Code::AuthzLifetimeShort);
    assert!(
        f.summary.contains("Let's Encrypt's shortlived profile"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("2h"), "{}", f.summary);
    assert!(f.detail.contains("SOA refresh, 7200 s"), "{}", f.detail);
    let classic = run_playbook(
        &dns,
        &target(7 * 86_400, "Let's Encrypt's classic profile"),
        &opts,
    )
    .await;
    assert!(
        !codes(&classic.findings).contains(&Code::AuthzLifetimeShort),
        "{:#?}",
        classic.findings
    );
    assert!(codes(&short.findings).contains(&Code::Dns01TxtMissing));
}
