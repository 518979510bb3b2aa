//! Unit tests of the DNS helpers.

use super::*;

#[test]
fn fqdn_accepts_both_forms_and_rejects_empty() {
    assert_eq!(fqdn("example.com").unwrap(), fqdn("example.com.").unwrap());
    assert!(fqdn("example.com").unwrap().is_fqdn());
    assert!(fqdn("").is_err());
    assert!(fqdn(".").is_err());
}

#[test]
fn rcode_names_are_digs() {
    assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
    assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
    assert_eq!(rcode_name(ResponseCode::ServFail), "SERVFAIL");
}

/// A UDP server on loopback that answers every question with an empty NOERROR, after
/// `delay`, and counts the questions it got.
async fn counting_server(delay: Duration) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut reply = buf[..n].to_vec();
            reply[2] |= 0x80; // QR: an answer, rcode 0, nothing in it
            let socket = socket.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&reply, peer).await;
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn a_run_asks_each_question_once_and_per_server_questions_per_server() {
    let (resolver, resolver_seen) = counting_server(Duration::from_millis(100)).await;
    let (auth, auth_seen) = counting_server(Duration::ZERO).await;
    let dns = Dns::new(DnsOptions {
        resolver: Some(resolver),
        timeout: Duration::from_secs(2),
        authoritative_port: auth.port(),
    })
    .unwrap();
    let run = dns.for_run();
    let name = fqdn("example.com").unwrap();
    // Twenty askers at once: the second and later wait for the first answer.
    let answers =
        futures::future::join_all((0..20).map(|_| run.query_recursive(&name, RecordType::SOA)))
            .await;
    assert!(answers.iter().all(|a| a.failure().is_none()));
    let upper = fqdn("EXAMPLE.com").unwrap();
    run.query_recursive(&upper, RecordType::SOA).await;
    assert_eq!(resolver_seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    run.query_recursive(&name, RecordType::NS).await;
    assert_eq!(resolver_seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    // The same question of the resolver and of an authoritative server are two questions.
    run.query_authoritative("ns1.", auth, &name, RecordType::SOA)
        .await;
    run.query_authoritative("ns1.", auth, &name, RecordType::SOA)
        .await;
    assert_eq!(auth_seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(run.questions_asked(), 3);
    // Another run, and a handle outside any run, ask again.
    dns.for_run().query_recursive(&name, RecordType::SOA).await;
    dns.query_recursive(&name, RecordType::SOA).await;
    assert_eq!(resolver_seen.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[tokio::test]
async fn unreachable_resolver_is_a_failure_not_a_hang() {
    // Port 9 on loopback: nothing listens, the kernel answers port-unreachable.
    let dns = Dns::new(DnsOptions {
        resolver: Some("127.0.0.1:9".parse().unwrap()),
        timeout: Duration::from_millis(500),
        authoritative_port: 53,
    })
    .unwrap();
    let answer = dns
        .query_recursive(&fqdn("example.com").unwrap(), RecordType::A)
        .await;
    let failure = answer.failure().expect("must fail");
    assert!(!failure.is_empty());
    assert_eq!(answer.evidence.server, RECURSIVE);
}
