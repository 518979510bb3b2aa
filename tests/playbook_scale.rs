//! The playbook under load gives the same verdicts as one check at a time: a few hundred
//! Challenges against a real DNS tree (knot + unbound) with a lagging nameserver and a silent
//! one, and HTTP listeners of which one never answers, run through `run_many` at concurrency
//! 1 and 1024.
//!
//! Addresses: the DNS lab shares 127.0.8.0/24 with the playbook benchmark (a separate binary
//! that only runs under `cargo bench`; the two are never run at once); the HTTP listeners use
//! 127.0.11.0/24, which nothing else uses.

#[path = "common/dns_lab.rs"]
mod dns_lab;
#[path = "common/http_lab.rs"]
mod http_lab;

use std::net::SocketAddr;
use std::time::Duration;

use certdx::checks::name::Method;
use certdx::diagnose::playbook::{PlaybookOptions, PlaybookResult, Target, run_many};
use certdx::model::Code;
use dns_lab::{LabBuilder, Slots};
use hickory_proto::rr::RecordType;
use http_lab::{Lab, Reply};

static SLOTS: Slots = Slots::new(&[8]);
const HTTP_SERVERS: u8 = 10;
/// Per DNS question; a silent server costs two (the question is asked again). unbound, asked
/// about a zone with a silent nameserver, takes its own retry time before answering: shorter
/// than this budget once it has met the silent server (see the warm-up below).
const DNS_TIMEOUT: Duration = Duration::from_millis(600);
/// Per HTTP request; the hanging listener costs one.
const HTTP_TIMEOUT: Duration = Duration::from_millis(900);

fn target(name: String, method: Method, value: String) -> Target {
    let (token, key) = match method {
        Method::Http01 => (Some(value.clone()), Some(format!("{value}.thumb"))),
        Method::Dns01 => (None, Some(value)),
    };
    Target {
        name,
        method,
        token,
        key,
        ca_domain: "letsencrypt.org".to_owned(),
        account_uri: None,
        challenge: None,
        authz_lifetime: None,
    }
}

/// What a result concludes: each check's status and the codes found, in order.
fn verdict(r: &PlaybookResult) -> (Vec<String>, Vec<Code>) {
    let checks = r
        .checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.status.label()))
        .collect();
    (checks, r.findings.iter().map(|f| f.code).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_at_concurrency_1024_equal_those_at_1() {
    let (http_n, dns_n, slow_n, missing_n) = (100usize, 150usize, 6usize, 20usize);
    let mut b = LabBuilder::new(&SLOTS);
    let ns1 = b.knot("ns1");
    let ns2 = b.knot("ns2");
    let silent = b.silent("ns3");
    let mut records = String::new();
    let mut lagging = String::new();
    for i in 0..http_n {
        let line = format!("h{i} A 127.0.11.{}\n", 1 + (i % usize::from(HTTP_SERVERS)));
        records.push_str(&line);
        lagging.push_str(&line);
    }
    for i in 0..dns_n {
        let line = format!("_acme-challenge.d{i} TXT \"val{i}\"\n");
        records.push_str(&line);
        // ns2 lags: it lacks one TXT in five.
        if i % 5 != 0 {
            lagging.push_str(&line);
        }
    }
    let slow: String = (0..slow_n)
        .map(|i| format!("_acme-challenge.s{i} TXT \"sval{i}\"\n"))
        .collect();
    b.zone("scale.test", &[("ns1", ns1), ("ns2", ns2)], &records)
        .variant("scale.test", ns2, 0, &lagging);
    b.zone("slow.test", &[("ns1", ns1), ("ns3", silent)], &slow);
    let lab = b.start().await;
    // unbound learns that ns3 is silent (its infrastructure cache) before the runs, as a
    // resolver in use has: otherwise the first questions of either run wait on its discovery.
    let warm: Vec<String> = (0..slow_n).map(|i| format!("s{i}.slow.test")).collect();
    let mut questions: Vec<(&str, RecordType)> = vec![
        ("slow.test", RecordType::NS),
        ("slow.test", RecordType::SOA),
        ("scale.test", RecordType::SOA),
    ];
    questions.extend(warm.iter().map(|n| (n.as_str(), RecordType::A)));
    lab.warm(&questions).await;
    let mut servers = Vec::new();
    for s in 1..=HTTP_SERVERS {
        let addr = SocketAddr::from(([127, 0, 11, s], 80));
        let reply = if s == HTTP_SERVERS {
            Reply::Hang
        } else {
            Reply::status(404, "default backend - 404")
        };
        servers.push(Lab::http(addr, move |_| reply.clone()).await);
    }

    let mut targets = Vec::new();
    for i in 0..http_n {
        targets.push(target(
            format!("h{i}.scale.test"),
            Method::Http01,
            format!("tok{i}"),
        ));
    }
    for i in 0..dns_n {
        targets.push(target(
            format!("d{i}.scale.test"),
            Method::Dns01,
            format!("val{i}"),
        ));
    }
    for i in 0..slow_n {
        targets.push(target(
            format!("s{i}.slow.test"),
            Method::Dns01,
            format!("sval{i}"),
        ));
    }
    for i in 0..missing_n {
        targets.push(target(
            format!("gone{i}.scale.test"),
            Method::Http01,
            format!("tok{i}"),
        ));
    }
    let mut opts = PlaybookOptions::default();
    opts.http.timeout = HTTP_TIMEOUT;
    opts.http.allow_loopback = true;
    let dns = lab.dns(DNS_TIMEOUT);

    opts.concurrency = 1;
    let one = tokio::time::timeout(Duration::from_secs(120), run_many(&dns, &targets, &opts))
        .await
        .expect("concurrency 1 finishes");
    opts.concurrency = 1024;
    let many = tokio::time::timeout(Duration::from_secs(60), run_many(&dns, &targets, &opts))
        .await
        .expect("concurrency 1024 finishes");

    // The reference run is itself right, so "equal" means "right".
    let count = |code: Code| {
        one.iter()
            .filter(|r| r.findings.iter().any(|f| f.code == code))
            .count()
    };
    assert_eq!(
        count(Code::Http01Unreachable),
        http_n / usize::from(HTTP_SERVERS)
    );
    assert_eq!(
        count(Code::Http01WrongStatus),
        http_n - http_n / usize::from(HTTP_SERVERS)
    );
    assert_eq!(count(Code::Dns01TxtMissing), dns_n / 5);
    assert_eq!(count(Code::Dns01NsError), slow_n);
    assert_eq!(count(Code::DnsNxdomain), missing_n);
    for code in [
        Code::CheckInconclusive,
        Code::DnsLookupFailed,
        Code::CaaLookupFailed,
    ] {
        assert_eq!(count(code), 0, "{code:?} in the reference run");
    }

    assert_eq!(one.len(), many.len());
    let mut differ = Vec::new();
    for (a, b) in one.iter().zip(&many) {
        assert_eq!(a.target, b.target, "results come back in input order");
        if verdict(a) != verdict(b) {
            differ.push(format!(
                "{}: at 1 {:?}, at 1024 {:?}",
                a.target.name,
                verdict(a),
                verdict(b)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} verdicts differ:\n{}",
        differ.len(),
        one.len(),
        differ.join("\n")
    );
    drop(servers);
}
