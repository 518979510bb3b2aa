//! End to end through a real recursive resolver: the DNS lab's knotd serves `example.com`
//! (with the user's CNAME) and `example.net` (delegating `acme.example.net` to certdx's
//! embedded server), unbound resolves, and certdx's own DNS-01 check must see the TXT on
//! every authoritative server of the delegated zone, as a CA would.

use std::net::SocketAddr;
use std::time::Duration;

use certdx::checks::CheckStatus;
use certdx::checks::dns01::{check_dns01, check_dns01_detailed};
use certdx::engine::solver::dns01::{Dns01Server, Dns01Zone};
use certdx::model::{Code, Finding};

use super::dns_lab::{LabBuilder, Slots};

/// This binary's lab addresses: 127.0.9.0/24 (no other test binary uses it), shared with
/// `issue`. Each test takes a block of 16 for its DNS lab and one more for certdx's server.
pub(crate) static SLOTS: Slots = Slots::new(&[9]);

const V1: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const V2: &str = "c0nVjJhJ1wSkp1dNH0bDwzXDV9LkN6UUbA3WmAuqsGQ";

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dns01_check_sees_the_delegated_txt_through_unbound() {
    let mut b = LabBuilder::new(&SLOTS);
    let own = SLOTS.take().ip(1);
    let certdx_addr = SocketAddr::from((own, 53));
    let server = Dns01Server::bind(certdx_addr, Dns01Zone::new("acme.example.net").unwrap())
        .await
        .expect("bind the embedded server on its lab address");
    let handle = server.handle();
    let delegation = handle.delegation("www.example.com").unwrap();
    // The record exactly as certdx tells the user to create it.
    let cname = delegation.cname_record();
    assert_eq!(
        cname,
        "_acme-challenge.www.example.com. CNAME www.example.com.acme.example.net."
    );

    let ns = b.knot("a");
    b.zone(
        "example.com",
        &[("ns1", ns)],
        &format!("www A 192.0.2.1\n{cname}\n"),
    )
    .zone(
        "example.net",
        &[("ns1", ns)],
        &format!("acme NS ns.acme.example.net.\nns.acme A {own}\n"),
    );
    let lab = b.start().await;
    let dns = lab.dns(Duration::from_secs(3));
    let target = delegation.target.to_string();

    // The wildcard validates at the same name as its base: two values at once.
    let wildcard = handle.delegation("*.www.example.com").unwrap();
    assert_eq!(wildcard.target, delegation.target);
    handle.set_txt(&target, V1).unwrap();
    handle.set_txt(&wildcard.target.to_string(), V2).unwrap();

    let (report, details) = check_dns01_detailed(&dns, "www.example.com", Some(V1)).await;
    // Only the note that the CNAME was followed.
    assert_eq!(
        codes(&report.findings),
        [Code::Dns01Cname],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.status, CheckStatus::Passed);
    assert_eq!(details.zone.as_deref(), Some("acme.example.net."));
    assert_eq!(details.checked_name.as_deref(), Some(target.as_str()));
    assert_eq!(details.chain.len(), 1, "{:?}", details.chain);
    let asked: Vec<_> = details.servers.iter().map(|e| e.address).collect();
    assert_eq!(asked, [Some(certdx_addr)]);
    assert_eq!(details.servers[0].soa_serial, Some(handle.serial()));
    let recursive = details.recursive.expect("the resolver was asked");
    assert!(
        recursive.answers.iter().any(|a| a.contains(V1)),
        "{:?}",
        recursive.answers
    );
    let report = check_dns01(&dns, "*.www.example.com", Some(V2)).await;
    assert_eq!(codes(&report.findings), [Code::Dns01Cname]);
    assert_eq!(report.status, CheckStatus::Passed);

    // Withdrawn values are gone at once on the authoritative server.
    handle.remove_txt(&target, V1).unwrap();
    let report = check_dns01(&dns, "www.example.com", Some(V1)).await;
    assert!(
        codes(&report.findings).contains(&Code::Dns01TxtWrongValue),
        "{:#?}",
        report.findings
    );
    handle.remove_txt(&target, V2).unwrap();
    let report = check_dns01(&dns, "www.example.com", Some(V2)).await;
    assert!(
        codes(&report.findings).contains(&Code::Dns01TxtMissing),
        "{:#?}",
        report.findings
    );
    drop(lab);
    drop(server);
}
