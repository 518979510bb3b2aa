//! The CAA check against real servers: knotd serving CAA sets (broken ones included, in
//! RFC 3597 generic syntax), unbound chasing CNAMEs, an in-process server that SERVFAILs CAA.

#[path = "common/dns_lab.rs"]
mod dns_lab;

use std::time::{Duration, Instant};

use certdx::checks::CheckStatus;
use certdx::checks::caa::check_caa;
use certdx::checks::dns::{Dns, DnsOptions};
use certdx::checks::name::Method;
use certdx::model::{Code, DnsEvidence, Evidence, Finding, Severity};
use dns_lab::{DnsLab, LabBuilder, Misbehaviour, Slots};
use hickory_proto::rr::RecordType;

/// This binary's addresses: 127.0.4.0/24.
static SLOTS: Slots = Slots::new(&[4]);

const LE: &str = "letsencrypt.org";
const ACCOUNT: &str = "https://acme-v02.api.letsencrypt.org/acme/acct/1234";

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

fn dns_evidence(finding: &Finding) -> Vec<&DnsEvidence> {
    finding.dns_evidence().collect()
}

fn fact(finding: &Finding) -> String {
    finding
        .evidence
        .iter()
        .find_map(|e| match e {
            Evidence::Fact { detail, .. } => Some(detail.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// `issue-x` (a hyphen: not a valid tag) with value `abc`, in RFC 3597 generic form so the
/// zone parser does not reject it.
const BAD_TAG: &str = "bad TYPE257 \\# 12 00 07 69737375652d78 616263";

async fn lab() -> DnsLab {
    let mut b = LabBuilder::new(&SLOTS);
    let a = b.knot("a");
    let other = b.knot("other");
    let broken = b.mini(
        "old-server",
        Misbehaviour {
            servfail: vec![RecordType::CAA],
            ..Misbehaviour::default()
        },
    );
    b.zone(
        "example.test",
        &[("ns1", a)],
        &format!(
            "@ CAA 0 issue \"letsencrypt.org\"\n\
             @ CAA 0 iodef \"mailto:security@example.test\"\n\
             www A 127.0.4.250\n\
             strict CAA 0 issue \"letsencrypt.org; accounturi={ACCOUNT}; validationmethods=dns-01\"\n\
             crit CAA 0 issue \"letsencrypt.org\"\n\
             crit CAA 128 tbs \"Unknown\"\n\
             wild CAA 0 issue \"letsencrypt.org\"\n\
             wild CAA 0 issuewild \";\"\n\
             alias CNAME x.other.test.\n\
             {BAD_TAG}\n\
             bad CAA 0 issue \"letsencrypt.org\"\n\
             badvalue CAA 0 issue \"letsencrypt.org; accounturi\"\n"
        ),
    );
    b.zone(
        "other.test",
        &[("ns1", other)],
        "x CAA 0 issue \"pki.goog\"\n",
    );
    b.zone("plain.test", &[("ns1", other)], "www A 127.0.4.251\n");
    b.zone("broken.test", &[("ns1", broken)], "www A 127.0.4.252\n");
    b.start().await
}

const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_caa_allows_and_parent_caa_applies() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);

    // No CAA anywhere up the tree: anyone may issue.
    let r = check_caa(&dns, "www.plain.test", false, LE, None, None).await;
    assert_eq!(codes(&r.findings), [], "{:#?}", r.findings);
    assert_eq!(r.status, CheckStatus::Passed);
    assert_eq!(r.name, "caa");

    // CAA on the parent applies to the child.
    let r = check_caa(&dns, "www.example.test", false, LE, None, None).await;
    assert_eq!(codes(&r.findings), [], "{:#?}", r.findings);
    let r = check_caa(&dns, "www.example.test", false, "pki.goog", None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaForbidsIssuance],
        "{:#?}",
        r.findings
    );
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Fatal);
    assert!(
        f.summary
            .contains("CAA at example.test. does not authorise pki.goog"),
        "{}",
        f.summary
    );
    assert!(
        fact(f).contains("relevant CAA set found at example.test.:"),
        "{}",
        fact(f)
    );
    let ev = dns_evidence(f);
    assert_eq!(ev[0].server, "recursive");
    assert_eq!(ev[0].address, Some(lab.resolver));
    assert_eq!(ev[0].question, "example.test. CAA");
    assert!(
        ev[0]
            .answers
            .iter()
            .any(|a| a.contains("issue") && a.contains(LE)),
        "{:?}",
        ev[0].answers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounturi_and_validationmethods() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let strict = "api.strict.example.test";

    let r = check_caa(&dns, strict, false, LE, Some(ACCOUNT), Some(Method::Dns01)).await;
    assert_eq!(codes(&r.findings), [], "{:#?}", r.findings);

    let other_account = "https://acme-v02.api.letsencrypt.org/acme/acct/99";
    let r = check_caa(
        &dns,
        strict,
        false,
        LE,
        Some(other_account),
        Some(Method::Dns01),
    )
    .await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaAccounturiMismatch],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity, Severity::Fatal);
    assert!(
        r.findings[0].summary.contains(ACCOUNT) && r.findings[0].summary.contains(other_account)
    );

    let r = check_caa(&dns, strict, false, LE, Some(ACCOUNT), Some(Method::Http01)).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaValidationmethodsExcludes],
        "{:#?}",
        r.findings
    );
    assert!(r.findings[0].summary.contains("dns-01") && r.findings[0].summary.contains("http-01"));
    assert!(fact(&r.findings[0]).contains("strict.example.test."));

    // Unknown account: allowed, but flagged as unverifiable.
    let r = check_caa(&dns, strict, false, LE, None, Some(Method::Dns01)).await;
    assert_eq!(codes(&r.findings), [Code::CaaAccounturiMismatch]);
    assert_eq!(r.findings[0].severity, Severity::Warning);
    assert_eq!(r.status, CheckStatus::Warning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_unknown_tag_stops_issuance() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let r = check_caa(&dns, "crit.example.test", false, LE, None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaCriticalUnknown],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity, Severity::Fatal);
    assert!(
        r.findings[0].summary.contains("128 tbs"),
        "{}",
        r.findings[0].summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuewild_governs_wildcards_only() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let r = check_caa(&dns, "*.wild.example.test", false, LE, None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaForbidsIssuance],
        "{:#?}",
        r.findings
    );
    assert!(r.findings[0].summary.contains("wildcards"));
    let r = check_caa(&dns, "wild.example.test", true, LE, None, None).await;
    assert_eq!(codes(&r.findings), [Code::CaaForbidsIssuance]);
    let r = check_caa(&dns, "wild.example.test", false, LE, None, None).await;
    assert_eq!(codes(&r.findings), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_target_caa_is_relevant() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let r = check_caa(&dns, "alias.example.test", false, LE, None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaForbidsIssuance],
        "{:#?}",
        r.findings
    );
    let f = fact(&r.findings[0]);
    assert!(
        f.contains("via CNAME, records owned by x.other.test."),
        "{f}"
    );
    let ev = dns_evidence(&r.findings[0]);
    assert!(
        ev[0].answers.iter().any(|a| a.contains("CNAME")),
        "{:?}",
        ev[0].answers
    );
    let r = check_caa(&dns, "alias.example.test", false, "pki.goog", None, None).await;
    assert_eq!(codes(&r.findings), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);

    // A record hickory cannot even decode is read from the wire and reported, while the
    // valid record next to it still authorises.
    let r = check_caa(&dns, "bad.example.test", false, LE, None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaMalformed],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity, Severity::Warning);
    assert!(
        r.findings[0].summary.contains("issue-x"),
        "{}",
        r.findings[0].summary
    );
    let ev = dns_evidence(&r.findings[0]);
    assert!(
        ev[0].answers.iter().any(|a| a.contains("issue-x")),
        "{:?}",
        ev[0].answers
    );
    assert!(ev[0].error.is_none());

    // An issue value that does not parse authorises no one.
    let r = check_caa(&dns, "badvalue.example.test", false, LE, None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaMalformed, Code::CaaForbidsIssuance],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity, Severity::Error);
    assert!(
        r.findings[0].summary.contains("accounturi"),
        "{}",
        r.findings[0].summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_on_caa_fails_the_lookup() {
    let lab = lab().await;
    let dns = lab.dns(TIMEOUT);
    let r = check_caa(&dns, "www.broken.test", false, LE, None, None).await;
    assert_eq!(
        codes(&r.findings),
        [Code::CaaLookupFailed],
        "{:#?}",
        r.findings
    );
    let ev = dns_evidence(&r.findings[0]);
    assert_eq!(ev[0].question, "www.broken.test. CAA");
    assert_eq!(ev[0].rcode.as_deref(), Some("SERVFAIL"));
    assert_eq!(r.status, CheckStatus::Failed);

    // Not a name at all: no lookup.
    let r = check_caa(&dns, "bad_name.example.test", false, LE, None, None).await;
    assert_eq!(codes(&r.findings), [Code::InvalidIdentifier]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_resolver_fails_the_lookup_in_bounded_time() {
    let addrs = SLOTS.take();
    let silent = std::net::UdpSocket::bind((addrs.ip(1), 53)).expect("bind");
    let dns = Dns::new(DnsOptions {
        resolver: Some(silent.local_addr().unwrap()),
        timeout: Duration::from_millis(800),
        authoritative_port: 53,
    })
    .unwrap();
    let started = Instant::now();
    let r = check_caa(&dns, "a.b.c.example.test", false, LE, None, None).await;
    // No answer at all, even asked again, is no verdict about the name's CAA: inconclusive,
    // naming the resolver, not caa-lookup-failed.
    assert_eq!(
        codes(&r.findings),
        [Code::CheckInconclusive],
        "{:#?}",
        r.findings
    );
    let ev = dns_evidence(&r.findings[0]);
    assert_eq!(ev[0].question, "a.b.c.example.test. CAA");
    assert!(
        ev[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("no answer within 800 ms")
    );
    assert!(r.findings[0].summary.contains("the recursive resolver"));
    // Five levels asked at once: one question's budget (two timeouts), not five.
    assert!(
        started.elapsed() < Duration::from_millis(2400),
        "took {:?}",
        started.elapsed()
    );
}
