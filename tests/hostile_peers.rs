//! Slow and hostile peers (certdx issue #13, point 5): a DNS server trickling or flooding its
//! TCP answer, an HTTP-01 target whose headers never end or whose body is a gigabyte or a
//! trickle, a CA answering with a gigabyte directory or a trickle. Each is bounded in time and
//! memory and ends as a finding that says what the peer did and which limit stopped it.
//!
//! The servers are fakes on 127.0.0.1 (`common/hostile.rs`): no real server misbehaves like
//! this on request. Deadlines are short (1 s for DNS, 2 s for HTTP) and the time assertions
//! generous, since the machine is shared: what they catch is a read that never ends.

#[path = "common/hostile.rs"]
mod hostile;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use certdx::checks::caa::check_caa;
use certdx::checks::dns::{Dns, DnsOptions};
use certdx::checks::dns01::check_dns01;
use certdx::checks::http01::{Http01Options, check_http01};
use certdx::checks::name::{Method, check_name};
use certdx::checks::{AddressLookup, CheckReport, LookupError};
use certdx::engine::acme::{AccountOptions, AcmeClient, AcmeConfig, AcmeError, RetryPolicy};
use certdx::model::{Code, Finding};
use futures::future::BoxFuture;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hostile::{DnsTcp, Fake, GIGABYTE, Http};

/// Well under what an unbounded read would take (a trickle lasts a minute, a gigabyte far
/// longer), well over what a bounded one needs on a busy machine.
const BOUND: Duration = Duration::from_secs(20);
/// The check's own deadline per DNS question.
const DNS_TIMEOUT: Duration = Duration::from_secs(1);
/// The check's own deadline per HTTP request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(2);
/// What the client may have made the server write before it hung up: socket buffers, never
/// the gigabyte.
const WRITTEN_BOUND: u64 = 64 << 20;

/// Runs `fut` and returns its output and how long it took; a hang fails the test at 60 s.
async fn timed<T>(fut: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("bounded by the check's own deadlines, far below 60 s");
    (out, started.elapsed())
}

fn only(report: &CheckReport, code: Code) -> &Finding {
    report
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code:?} in {:#?}", report.findings))
}

fn within_bound(elapsed: Duration) {
    assert!(elapsed < BOUND, "took {elapsed:?}");
}

// ---- DNS over TCP -------------------------------------------------------------------------

fn dns_through(fake: &Fake) -> Dns {
    Dns::new(DnsOptions {
        resolver: Some(fake.addr),
        timeout: DNS_TIMEOUT,
        authoritative_port: fake.addr.port(),
    })
    .expect("a resolver is given")
}

#[tokio::test]
async fn a_resolver_trickling_its_tcp_answer_is_a_failed_lookup_that_says_so() {
    let fake = hostile::dns(hostile::truncated, DnsTcp::Trickle).await;
    let dns = dns_through(&fake);
    let ((report, _), elapsed) = timed(check_name(&dns, "www.hostile.test", Method::Http01)).await;
    within_bound(elapsed);
    let f = only(&report, Code::DnsLookupFailed);
    assert!(f.summary.contains("UDP answer truncated"), "{}", f.summary);
    assert!(
        f.summary.contains("answered too slowly over TCP"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("1000 ms deadline"), "{}", f.summary);
    assert!(
        fake.written() < 600,
        "the trickle was cut short: {}",
        fake.written()
    );
}

#[tokio::test]
async fn a_resolver_flooding_tcp_with_garbage_is_a_failed_caa_lookup_at_the_byte_cap() {
    let fake = hostile::dns(hostile::truncated, DnsTcp::Flood).await;
    let dns = dns_through(&fake);
    let (report, elapsed) = timed(check_caa(
        &dns,
        "www.hostile.test",
        false,
        "letsencrypt.org",
        None,
        None,
    ))
    .await;
    within_bound(elapsed);
    let f = only(&report, Code::CaaLookupFailed);
    assert!(
        f.summary.contains("sent more than 131074 bytes over TCP"),
        "{}",
        f.summary
    );
    let written = fake.settled_written().await;
    assert!(written < WRITTEN_BOUND, "{written} bytes written");
}

/// A recursive resolver that knows the zone `hostile.test.` (SOA, NS `ns1`, `ns1` at
/// 127.0.0.1) and answers questions with recursion desired; questions without (the ones asked
/// of the zone's nameserver) get TC, so the check asks them again over TCP.
fn zone_on_udp(raw: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(raw).ok()?;
    if !query.metadata.recursion_desired {
        return hostile::truncated(raw);
    }
    let zone = Name::from_ascii("hostile.test.").ok()?;
    let ns = Name::from_ascii("ns1.hostile.test.").ok()?;
    let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
    answer.metadata.recursion_desired = true;
    answer.metadata.recursion_available = true;
    let q = query.queries.first()?.clone();
    let data = match (q.query_type(), q.name()) {
        (RecordType::SOA, n) if *n == zone => Some(RData::SOA(SOA::new(
            ns.clone(),
            Name::from_ascii("hostmaster.hostile.test.").ok()?,
            1,
            3600,
            600,
            86400,
            60,
        ))),
        (RecordType::NS, n) if *n == zone => Some(RData::NS(NS(ns.clone()))),
        (RecordType::A, n) if *n == ns => Some(RData::A(A(Ipv4Addr::LOCALHOST))),
        _ => None,
    };
    if let Some(data) = data {
        answer.add_answer(Record::from_rdata(q.name().clone(), 60, data));
    }
    answer.add_query(q);
    answer.to_vec().ok()
}

#[tokio::test]
async fn a_nameserver_trickling_its_tcp_answer_is_a_dns01_ns_error_that_says_so() {
    let fake = hostile::dns(zone_on_udp, DnsTcp::Trickle).await;
    let dns = dns_through(&fake);
    let (report, elapsed) = timed(check_dns01(&dns, "www.hostile.test", Some("value"))).await;
    within_bound(elapsed);
    let f = only(&report, Code::Dns01NsError);
    assert!(f.summary.contains("ns1.hostile.test"), "{}", f.summary);
    assert!(
        f.summary.contains("answered too slowly over TCP"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("1000 ms deadline"), "{}", f.summary);
}

// ---- HTTP-01 ------------------------------------------------------------------------------

const NAME: &str = "hostile.certdx.test";
const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const KEY: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";

/// No redirect is ever followed here, so no name is ever looked up.
struct NoLookup;

impl AddressLookup for NoLookup {
    fn addresses<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, LookupError>> {
        Box::pin(async move { Err(LookupError::NxDomain(name.to_owned())) })
    }
}

async fn http01(how: Http) -> (CheckReport, Duration, Fake) {
    let fake = hostile::http(how).await;
    let opts = Http01Options {
        timeout: HTTP_TIMEOUT,
        http_port: fake.addr.port(),
        allow_loopback: true,
        ..Http01Options::default()
    };
    let (report, elapsed) = timed(check_http01(
        NAME,
        &[fake.addr.ip()],
        Some(TOKEN),
        Some(KEY),
        &NoLookup,
        &opts,
    ))
    .await;
    within_bound(elapsed);
    (report, elapsed, fake)
}

#[tokio::test]
async fn http01_headers_that_never_end_stop_at_the_header_count() {
    let (report, _, fake) = http01(Http::HeadersForever).await;
    let f = only(&report, Code::Http01Unreachable);
    assert!(
        f.summary.contains("the response head is too large"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("100 header lines"), "{}", f.summary);
    let written = fake.settled_written().await;
    assert!(written < WRITTEN_BOUND, "{written} bytes written");
}

#[tokio::test]
async fn http01_one_endless_header_line_stops_at_the_head_size() {
    let (report, _, fake) = http01(Http::EndlessHeaderLine).await;
    let f = only(&report, Code::Http01Unreachable);
    assert!(f.summary.contains("417792 bytes"), "{}", f.summary);
    let written = fake.settled_written().await;
    assert!(written < WRITTEN_BOUND, "{written} bytes written");
}

#[tokio::test]
async fn http01_headers_trickled_stop_at_the_request_deadline() {
    let (report, _, _fake) = http01(Http::TrickledHeaders).await;
    let f = only(&report, Code::Http01Unreachable);
    assert!(
        f.summary.contains("timed out after 2000 ms"),
        "{}",
        f.summary
    );
    assert!(
        f.summary
            .contains("response head (status line and headers) did not arrive"),
        "{}",
        f.summary
    );
}

#[tokio::test]
async fn http01_a_gigabyte_body_is_read_no_further_than_the_ca_reads() {
    let (report, elapsed, fake) = http01(Http::HugeBody { announced: true }).await;
    assert!(
        elapsed < HTTP_TIMEOUT * 2,
        "stopped at the cap, not at the deadline: {elapsed:?}"
    );
    let f = only(&report, Code::Http01WrongBody);
    assert!(f.summary.contains("longer than 128 bytes"), "{}", f.summary);
    assert!(f.summary.contains("the most the CA reads"), "{}", f.summary);
    let written = fake.settled_written().await;
    assert!(
        written < WRITTEN_BOUND,
        "{written} of {GIGABYTE} bytes written"
    );
}

#[tokio::test]
async fn http01_a_body_trickled_stops_at_the_request_deadline() {
    let (report, _, _fake) = http01(Http::TrickledBody).await;
    let f = only(&report, Code::Http01Unreachable);
    assert!(
        f.summary.contains("reading the body timed out"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("deadline is 2000 ms"), "{}", f.summary);
    assert!(f.summary.contains("bytes in"), "{}", f.summary);
}

// ---- The CA (the engine's ACME client) ----------------------------------------------------

/// Registers an account against a CA that misbehaves as `how` on its directory.
async fn create_account(how: Http) -> (AcmeError, Duration, Fake) {
    let (fake, pem) = hostile::https(how).await;
    let config = AcmeConfig::new(format!("https://{}/directory", fake.addr))
        .with_ca_cert_pem(pem)
        .with_policy(RetryPolicy {
            request_timeout: HTTP_TIMEOUT,
            ..RetryPolicy::default()
        });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (result, elapsed) = timed(AcmeClient::create_account(
        &config,
        &AccountOptions::default(),
        deadline,
    ))
    .await;
    within_bound(elapsed);
    let Err(err) = result else {
        panic!("an account from a hostile CA");
    };
    (err, elapsed, fake)
}

fn unreachable_directory(err: &AcmeError, names: &str) {
    assert_eq!(err.code(), Code::AcmeDirectoryUnreachable, "{err}");
    let f = err.finding();
    assert!(f.summary.contains(names), "{}", f.summary);
}

#[tokio::test]
async fn a_ca_announcing_a_gigabyte_directory_is_refused_unread() {
    let (err, _, fake) = create_account(Http::HugeBody { announced: true }).await;
    unreachable_directory(&err, "announced a body of 1073741824 bytes");
    unreachable_directory(&err, "1048576 bytes (1 MiB)");
    let written = fake.settled_written().await;
    assert!(written < WRITTEN_BOUND, "{written} bytes written");
}

#[tokio::test]
async fn a_ca_streaming_a_gigabyte_directory_is_cut_at_one_mebibyte() {
    let (err, _, fake) = create_account(Http::HugeBody { announced: false }).await;
    unreachable_directory(&err, "went past 1048576 bytes (1 MiB)");
    let written = fake.settled_written().await;
    assert!(written < WRITTEN_BOUND, "{written} bytes written");
}

#[tokio::test]
async fn a_ca_trickling_its_directory_stops_at_the_request_deadline() {
    let (err, _, _fake) = create_account(Http::TrickledBody).await;
    unreachable_directory(&err, "the CA answered too slowly");
    unreachable_directory(&err, "within the 2 s deadline of a request");
}

#[tokio::test]
async fn a_ca_whose_headers_never_end_stops_at_the_header_count() {
    let (err, _, _fake) = create_account(Http::HeadersForever).await;
    unreachable_directory(&err, "more than 100 header lines");
}

#[tokio::test]
async fn a_ca_trickling_its_headers_stops_at_the_request_deadline() {
    let (err, _, _fake) = create_account(Http::TrickledHeaders).await;
    unreachable_directory(&err, "no complete response head");
    unreachable_directory(&err, "2 s deadline");
}
