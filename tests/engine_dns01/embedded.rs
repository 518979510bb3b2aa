//! The embedded DNS-01 server over real UDP and TCP sockets on 127.0.0.1 (ephemeral ports).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use certdx::checks::dns::{DnsAnswer, Transport};
use certdx::engine::solver::dns01::{Dns01Error, Dns01Server, Dns01Zone};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::knot_primary::direct;

const V1: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const V2: &str = "c0nVjJhJ1wSkp1dNH0bDwzXDV9LkN6UUbA3WmAuqsGQ";

async fn start() -> Dns01Server {
    let zone = Dns01Zone::new("acme.example.net").unwrap();
    Dns01Server::bind("127.0.0.1:0".parse().unwrap(), zone)
        .await
        .expect("bind on 127.0.0.1")
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

async fn ask(server: &Dns01Server, qname: &str, rtype: RecordType) -> DnsAnswer {
    let addr = server.local_addr();
    direct(addr)
        .query_authoritative("certdx", addr, &name(qname), rtype)
        .await
}

fn values(answer: &DnsAnswer, owner: &str) -> BTreeSet<String> {
    answer.txt_values(&name(owner)).into_iter().collect()
}

#[tokio::test]
async fn txt_values_appear_and_disappear_with_authority() {
    let server = start().await;
    let handle = server.handle();
    let target = handle
        .delegation("www.example.com")
        .unwrap()
        .target
        .to_string();
    assert_eq!(target, "www.example.com.acme.example.net.");

    let before = ask(&server, &target, RecordType::TXT).await;
    assert_eq!(before.rcode, Some(ResponseCode::NXDomain));
    assert!(before.is_authoritative());
    assert_eq!(
        before.negative_soa_owner(),
        Some(&name("acme.example.net."))
    );

    // A wildcard and its base name share the name: both values at once.
    assert!(handle.set_txt(&target, V1).unwrap());
    assert!(handle.set_txt(&target, V2).unwrap());
    let both = ask(&server, &target, RecordType::TXT).await;
    assert_eq!(both.rcode, Some(ResponseCode::NoError));
    assert!(both.is_authoritative());
    assert_eq!(values(&both, &target), [V1, V2].map(str::to_owned).into());
    assert_eq!(both.ttl(), Some(10));
    assert_eq!(both.transport, Some(Transport::Udp));

    // Case does not matter to DNS; nor to the handle.
    let upper = ask(
        &server,
        "WWW.Example.COM.acme.example.net.",
        RecordType::TXT,
    )
    .await;
    assert_eq!(upper.answers().len(), 2);

    // The empty non-terminal above the TXT exists: NODATA, not NXDOMAIN.
    let ent = ask(&server, "example.com.acme.example.net.", RecordType::TXT).await;
    assert_eq!(ent.rcode, Some(ResponseCode::NoError));
    assert!(ent.answers().is_empty());
    assert!(ent.negative_soa_owner().is_some());
    // Another type at the TXT's name: NODATA with the SOA.
    let nodata = ask(&server, &target, RecordType::A).await;
    assert_eq!(nodata.rcode, Some(ResponseCode::NoError));
    assert!(nodata.answers().is_empty());
    assert!(nodata.is_authoritative());
    assert_eq!(nodata.ttl(), Some(10));

    assert!(handle.remove_txt(&target, V1).unwrap());
    let one = ask(&server, &target, RecordType::TXT).await;
    assert_eq!(values(&one, &target), [V2.to_owned()].into());
    assert!(handle.remove_txt(&target, V2).unwrap());
    let gone = ask(&server, &target, RecordType::TXT).await;
    assert_eq!(gone.rcode, Some(ResponseCode::NXDomain));
    assert!(gone.is_authoritative());
    assert!(handle.is_empty());
}

#[tokio::test]
async fn the_serial_increases_on_every_change() {
    let server = start().await;
    let handle = server.handle();
    let serial = async || {
        let a = ask(&server, "acme.example.net.", RecordType::SOA).await;
        assert!(a.is_authoritative());
        assert!(a.has_soa_at(&name("acme.example.net.")));
        a.soa_serial().expect("SOA serial")
    };
    let s0 = serial().await;
    assert_eq!(s0, handle.serial());
    handle.set_txt("a.acme.example.net", V1).unwrap();
    let s1 = serial().await;
    handle.set_txt("a.acme.example.net", V1).unwrap();
    assert_eq!(serial().await, s1, "an unchanged set keeps its serial");
    handle.remove_txt("a.acme.example.net", V1).unwrap();
    let s2 = serial().await;
    assert!(s1 > s0 && s2 > s1, "{s0} {s1} {s2}");
    // Negative answers carry the current serial too.
    let nx = ask(&server, "nothing.acme.example.net.", RecordType::TXT).await;
    assert_eq!(nx.soa_serial(), Some(s2));
}

#[tokio::test]
async fn apex_ns_and_the_nameserver_address() {
    let server = start().await;
    let ns = ask(&server, "acme.example.net.", RecordType::NS).await;
    assert!(ns.is_authoritative());
    assert_eq!(ns.ns_names(), [name("ns.acme.example.net.")]);
    let a = ask(&server, "ns.acme.example.net.", RecordType::A).await;
    assert_eq!(a.addresses(), [server.local_addr().ip()]);
    let soa = ask(&server, "acme.example.net.", RecordType::SOA).await;
    match &soa.answers()[0].data {
        RData::SOA(s) => {
            assert_eq!(s.mname, name("ns.acme.example.net."));
            assert_eq!(s.rname, name("hostmaster.acme.example.net."));
            assert_eq!(s.minimum, 10);
        }
        other => panic!("not an SOA: {other:?}"),
    }
}

#[tokio::test]
async fn outside_the_zone_is_refused() {
    let server = start().await;
    server.handle().set_txt("x.acme.example.net", V1).unwrap();
    for (qname, rtype) in [
        ("example.net.", RecordType::SOA),
        ("x.example.com.", RecordType::TXT),
        ("notacme.example.net.", RecordType::A),
        (".", RecordType::NS),
    ] {
        let a = ask(&server, qname, rtype).await;
        assert_eq!(a.rcode, Some(ResponseCode::Refused), "{qname}");
        assert!(!a.is_authoritative(), "{qname}");
        assert!(a.answers().is_empty());
    }
    let err = server.handle().set_txt("x.example.com", V1).unwrap_err();
    assert!(matches!(err, Dns01Error::OutsideZone { .. }), "{err:?}");
}

/// One question over TCP, framed by hand, independent of certdx's DNS client.
async fn tcp_query(addr: SocketAddr, qname: &str, rtype: RecordType) -> Message {
    let mut query = Message::query();
    query.add_query(Query::query(name(qname), rtype));
    query.metadata.recursion_desired = false;
    let bytes = query.to_vec().unwrap();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        stream.write_all(&framed).await.unwrap();
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer).await.unwrap();
        answer
    };
    let raw = tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .expect("TCP answer within 3 s");
    let answer = Message::from_vec(&raw).unwrap();
    assert_eq!(answer.metadata.id, query.metadata.id);
    answer
}

#[tokio::test]
async fn tcp_answers_and_large_sets_fall_back_to_it() {
    let server = start().await;
    let handle = server.handle();
    let target = "many.acme.example.net.";
    handle.set_txt(target, V1).unwrap();

    let answer = tcp_query(server.local_addr(), target, RecordType::TXT).await;
    assert!(answer.metadata.authoritative);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer.answers.len(), 1);
    let refused = tcp_query(server.local_addr(), "example.org.", RecordType::SOA).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);

    // 40 values of 43 bytes exceed the 1232-byte UDP limit: TC over UDP, whole over TCP.
    for i in 0..40 {
        handle
            .set_txt(target, &format!("{i:02}{}", &V2[2..]))
            .unwrap();
    }
    let big = ask(&server, target, RecordType::TXT).await;
    assert_eq!(big.transport, Some(Transport::Tcp));
    assert_eq!(big.answers().len(), 41);
}

#[tokio::test]
async fn dropping_the_server_frees_its_address() {
    let server = start().await;
    let addr = server.local_addr();
    assert_eq!(
        ask(&server, "acme.example.net.", RecordType::SOA)
            .await
            .rcode,
        Some(ResponseCode::NoError)
    );
    drop(server);
    // Aborted tasks release their sockets as the runtime drops them: bounded wait.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let udp = std::net::UdpSocket::bind(addr);
        let tcp = std::net::TcpListener::bind(addr);
        if udp.is_ok() && tcp.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "{addr} still bound after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // And a graceful shutdown does the same.
    let server = start().await;
    let addr = server.local_addr();
    tokio::time::timeout(Duration::from_secs(6), server.shutdown())
        .await
        .expect("shutdown is bounded");
    assert!(std::net::UdpSocket::bind(addr).is_ok());
}

#[tokio::test]
async fn a_taken_address_is_a_bind_error() {
    let first = start().await;
    let err = Dns01Server::bind(
        first.local_addr(),
        Dns01Zone::new("acme.example.net").unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.is_bind(), "{err:?}");
    assert!(err.to_string().contains(&first.local_addr().to_string()));
}
