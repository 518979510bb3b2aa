//! The name check: identifier syntax (no network) and A/AAAA resolution through unbound
//! over a knot-served tree.

#[path = "common/dns_lab.rs"]
mod dns_lab;

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use certdx::checks::dns::{Dns, DnsOptions};
use certdx::checks::name::{Method, check_name, validate_identifier};
use certdx::checks::{AddressLookup, CheckStatus, LookupError};
use certdx::model::{Code, DnsEvidence, Finding, Severity};
use dns_lab::{DnsLab, LabBuilder, Slots};

/// This binary's addresses: 127.0.5.0/24.
static SLOTS: Slots = Slots::new(&[5]);

const TIMEOUT: Duration = Duration::from_secs(2);

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

fn dns_evidence(finding: &Finding) -> Vec<&DnsEvidence> {
    finding.dns_evidence().collect()
}

/// A handle whose resolver address nobody listens on: any lookup would fail, so a finding
/// that comes back fast proves no lookup was made.
fn offline_dns() -> Dns {
    Dns::new(DnsOptions {
        resolver: Some("127.0.5.255:53".parse().unwrap()),
        timeout: Duration::from_secs(2),
        authoritative_port: 53,
    })
    .unwrap()
}

#[test]
fn identifier_syntax() {
    let long_label = "a".repeat(64);
    let long_name = format!("{}.example.com", ["abcdefghi"; 25].join("."));
    // (name, wildcard allowed, error fragment or "" for valid)
    let cases: &[(&str, bool, &str)] = &[
        ("example.com", false, ""),
        ("www.example.co.uk", false, ""),
        ("xn--bcher-kva.example", false, ""),
        ("WWW.Example.COM", false, ""),
        ("a-b.example.com", false, ""),
        ("*.example.com", true, ""),
        ("*.example.com", false, "wildcard is not allowed"),
        ("*example.com", true, "'*' is only allowed"),
        ("www.*.example.com", true, "'*' is only allowed"),
        ("*.*.example.com", true, "'*' is only allowed"),
        ("", false, "empty"),
        ("localhost", false, "single label"),
        ("*.com", true, "single label"),
        ("example.com.", false, "ends with a dot"),
        ("192.0.2.1", false, "IP address"),
        ("2001:db8::1", false, "IP address"),
        ("[2001:db8::1]", false, "IP address"),
        ("www..example.com", false, "empty label"),
        (".example.com", false, "empty label"),
        ("-www.example.com", false, "hyphen"),
        ("www-.example.com", false, "hyphen"),
        ("ab--cd.example.com", false, "reserved"),
        ("my_host.example.com", false, "underscores"),
        ("www.exa mple.com", false, "whitespace"),
        ("bücher.example", false, "non-ASCII"),
        ("www.example.123", false, "all digits"),
        ("999.999.999.999", false, "all digits"),
        ("www.example.com/path", false, "invalid character '/'"),
    ];
    for (name, wildcard, want) in cases {
        let got = validate_identifier(name, *wildcard);
        if want.is_empty() {
            assert_eq!(got, Ok(()), "{name:?} should be valid");
        } else {
            let err = got.expect_err(&format!("{name:?} should be invalid"));
            assert!(err.contains(want), "{name:?}: {err:?} lacks {want:?}");
        }
    }
    assert!(
        validate_identifier(&format!("{long_label}.example.com"), false)
            .unwrap_err()
            .contains("at most 63")
    );
    assert!(long_name.len() > 253);
    assert!(
        validate_identifier(&long_name, false)
            .unwrap_err()
            .contains("at most 253")
    );
}

#[tokio::test]
async fn invalid_identifier_needs_no_network() {
    let dns = offline_dns();
    for name in ["bad_name.example.com", "localhost", "example.com."] {
        let started = Instant::now();
        let (report, addrs) = check_name(&dns, name, Method::Http01).await;
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{name}: a lookup was made"
        );
        assert_eq!(codes(&report.findings), [Code::InvalidIdentifier], "{name}");
        assert_eq!(report.findings[0].severity, Severity::Fatal);
        assert!(
            report.findings[0].summary.contains(name),
            "{}",
            report.findings[0].summary
        );
        assert!(addrs.is_empty());
        assert_eq!(report.status, CheckStatus::Failed);
        assert_eq!(report.name, "name");
    }
}

/// RFC 8738: an IP address is an identifier of its own, probed at itself without a lookup;
/// DNS-01 cannot validate it, and a public CA refuses a private address.
#[tokio::test]
async fn an_ip_identifier_is_its_own_address_and_takes_http01_only() {
    let dns = offline_dns();
    let started = Instant::now();
    let (report, addrs) = check_name(&dns, "10.0.0.1", Method::Http01).await;
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "a lookup was made"
    );
    assert_eq!(addrs, ["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(codes(&report.findings), [Code::InvalidIdentifier]);
    assert_eq!(report.findings[0].severity, Severity::Warning);
    assert!(report.findings[0].summary.contains("not a public address"));
    let (report, addrs) = check_name(&dns, "10.0.0.1", Method::Dns01).await;
    assert!(addrs.is_empty());
    assert_eq!(report.findings[0].severity, Severity::Fatal);
    assert!(report.findings[0].summary.contains("never DNS-01"));
}

#[tokio::test]
async fn wildcard_with_http01_needs_dns01() {
    let dns = offline_dns();
    let started = Instant::now();
    let (report, addrs) = check_name(&dns, "*.example.com", Method::Http01).await;
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(codes(&report.findings), [Code::WildcardNeedsDns01]);
    assert_eq!(report.findings[0].severity, Severity::Fatal);
    assert!(addrs.is_empty());
}

async fn lab() -> DnsLab {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let refusing = b.refused("refusing");
    b.zone(
        "example.test",
        &[("ns1", a)],
        "www A 127.0.5.250\nwww AAAA 2001:db8::250\nalias CNAME www\nv6only AAAA 2001:db8::6\n\
         txtonly TXT \"hello\"\n",
    );
    // Delegated to a server that refuses: every resolution below it SERVFAILs.
    b.zone("broken.test", &[("ns1", refusing)], "www A 127.0.5.251\n");
    b.start().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_addresses_through_cnames() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let v6: IpAddr = "2001:db8::250".parse::<Ipv6Addr>().unwrap().into();

    let (report, addrs) = check_name(&dns, "www.example.test", Method::Http01).await;
    assert_eq!(codes(&report.findings), [], "{:#?}", report.findings);
    assert_eq!(report.status, CheckStatus::Passed);
    assert_eq!(addrs, ["127.0.5.250".parse::<IpAddr>().unwrap(), v6]);

    let (report, addrs) = check_name(&dns, "alias.example.test", Method::Http01).await;
    assert_eq!(codes(&report.findings), []);
    assert_eq!(addrs.len(), 2);

    let (report, addrs) = check_name(&dns, "v6only.example.test", Method::Http01).await;
    assert_eq!(codes(&report.findings), []);
    assert_eq!(addrs, ["2001:db8::6".parse::<IpAddr>().unwrap()]);

    // With DNS-01 the wildcard resolves at its base name.
    let (report, addrs) = check_name(&dns, "*.www.example.test", Method::Dns01).await;
    assert_eq!(codes(&report.findings), []);
    assert_eq!(addrs.len(), 2);

    // The AddressLookup the HTTP-01 check uses.
    let lookup: &dyn AddressLookup = &dns;
    assert_eq!(
        lookup.addresses("alias.example.test").await.unwrap().len(),
        2
    );
    assert_eq!(
        lookup.addresses("nope.example.test").await,
        Err(LookupError::NxDomain("nope.example.test".to_owned()))
    );
    assert_eq!(
        lookup.addresses("txtonly.example.test").await,
        Err(LookupError::NoAddress("txtonly.example.test".to_owned()))
    );
    assert!(matches!(
        lookup.addresses("www.broken.test").await,
        Err(LookupError::Failed { reason, .. }) if reason.contains("SERVFAIL")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxdomain_for_the_name_and_for_the_registered_domain() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);

    let (report, addrs) = check_name(&dns, "nope.example.test", Method::Http01).await;
    assert_eq!(
        codes(&report.findings),
        [Code::DnsNxdomain],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert_eq!(f.severity, Severity::Fatal);
    assert!(
        f.detail.contains("the zone example.test. exists"),
        "{}",
        f.detail
    );
    let ev = dns_evidence(f);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].question, "nope.example.test. A");
    assert_eq!(ev[1].question, "nope.example.test. AAAA");
    assert!(ev.iter().all(|e| e.rcode.as_deref() == Some("NXDOMAIN")));
    assert!(addrs.is_empty());

    // A DNS-01-only name needs no records of its own, but its registered domain must exist.
    let (report, _) = check_name(&dns, "nope.example.test", Method::Dns01).await;
    assert_eq!(codes(&report.findings), []);
    for method in [Method::Http01, Method::Dns01] {
        let (report, _) = check_name(&dns, "www.unregistered.test", method).await;
        assert_eq!(codes(&report.findings), [Code::DnsNxdomain], "{method}");
        let detail = &report.findings[0].detail;
        assert!(
            detail.contains("registered domain does not exist"),
            "{detail}"
        );
        assert!(detail.contains("test."), "{detail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_without_addresses() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let (report, addrs) = check_name(&dns, "txtonly.example.test", Method::Http01).await;
    assert_eq!(
        codes(&report.findings),
        [Code::Http01NoAddress],
        "{:#?}",
        report.findings
    );
    assert_eq!(
        dns_evidence(&report.findings[0])[0].rcode.as_deref(),
        Some("NOERROR")
    );
    assert!(addrs.is_empty());
    let (report, _) = check_name(&dns, "txtonly.example.test", Method::Dns01).await;
    assert_eq!(codes(&report.findings), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_is_a_failed_lookup() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let (report, addrs) = check_name(&dns, "www.broken.test", Method::Http01).await;
    assert_eq!(
        codes(&report.findings),
        [Code::DnsLookupFailed],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.summary.contains("SERVFAIL"), "{}", f.summary);
    assert!(f.detail.contains(&lab.resolver.to_string()), "{}", f.detail);
    assert!(
        dns_evidence(f)
            .iter()
            .all(|e| e.rcode.as_deref() == Some("SERVFAIL"))
    );
    assert!(addrs.is_empty());

    // DNS-01 needs no address: the same failure is a warning there.
    let (report, _) = check_name(&dns, "www.broken.test", Method::Dns01).await;
    assert_eq!(codes(&report.findings), [Code::DnsLookupFailed]);
    assert_eq!(report.findings[0].severity, Severity::Warning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolver_that_does_not_answer() {
    let addrs = SLOTS.take();
    let silent = std::net::UdpSocket::bind((addrs.ip(1), 53)).expect("bind");
    let dns = Dns::new(DnsOptions {
        resolver: Some(silent.local_addr().unwrap()),
        timeout: Duration::from_millis(700),
        authoritative_port: 53,
    })
    .unwrap();
    let started = Instant::now();
    let (report, found) = check_name(&dns, "www.example.test", Method::Http01).await;
    let elapsed = started.elapsed();
    // Silence, even asked again, is no verdict about the name: inconclusive, naming the
    // resolver, not dns-lookup-failed.
    assert_eq!(
        codes(&report.findings),
        [Code::CheckInconclusive],
        "{:#?}",
        report.findings
    );
    let f = &report.findings[0];
    assert!(
        f.summary.contains("no answer within 700 ms"),
        "{}",
        f.summary
    );
    assert!(
        f.summary
            .contains(&silent.local_addr().unwrap().to_string()),
        "{}",
        f.summary
    );
    assert!(found.is_empty());
    // A and AAAA in parallel, each asked again within its budget of two timeouts.
    assert!(elapsed >= Duration::from_millis(1300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2300), "{elapsed:?}");

    // Nothing listening at all is reported at once.
    let closed = Dns::new(DnsOptions {
        resolver: Some(std::net::SocketAddr::new(addrs.ip(2).into(), 53)),
        timeout: Duration::from_secs(5),
        authoritative_port: 53,
    })
    .unwrap();
    let started = Instant::now();
    let (report, _) = check_name(&closed, "www.example.test", Method::Http01).await;
    assert_eq!(codes(&report.findings), [Code::DnsLookupFailed]);
    assert!(
        report.findings[0].summary.contains("connection refused"),
        "{}",
        report.findings[0].summary
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}
