//! The RFC 2136 solver against a real knotd primary (see `knot_primary`): updates signed with
//! a key made by knot's own `keymgr`, read back from knotd directly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use certdx::engine::solver::rfc2136::{
    Rfc2136Error, Rfc2136Solver, TsigAlgorithm, TsigKey, TsigKeyError,
};
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::knot_primary::{GeneratedKey, KnotPrimary, ZoneSpec, keymgr_key};

const V1: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const V2: &str = "c0nVjJhJ1wSkp1dNH0bDwzXDV9LkN6UUbA3WmAuqsGQ";
const RECORD: &str = "_acme-challenge.www.example.test";

fn zones() -> Vec<ZoneSpec> {
    vec![
        ZoneSpec {
            name: "example.test",
            updatable: true,
        },
        ZoneSpec {
            name: "locked.test",
            updatable: false,
        },
    ]
}

/// Writes `text` to a fresh file with `mode`, returning its path (kept alive by the dir).
fn key_file(dir: &tempfile::TempDir, file: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn bind_format(key: &GeneratedKey, secret: &str) -> String {
    format!(
        "key \"{}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n",
        key.name
    )
}

async fn txt_at(knot: &KnotPrimary, name: &str) -> (Option<ResponseCode>, BTreeSet<String>) {
    let name = Name::from_ascii(format!("{name}.")).unwrap();
    let a = knot.ask(&name, RecordType::TXT).await;
    assert!(a.is_authoritative(), "knotd answered without AA: {a:?}");
    (a.rcode, a.txt_values(&name).into_iter().collect())
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn present_and_cleanup_with_a_keymgr_key_in_knot_format() {
    let key = keymgr_key("certdx-test");
    let knot = KnotPrimary::start(&key, &zones()).await;
    let dir = tempfile::tempdir().unwrap();
    // keymgr's own output, comment line and all, is a key file certdx reads.
    let path = key_file(&dir, "knot.key", &key.keymgr_output, 0o600);
    let tsig = TsigKey::from_file(&path).expect("keymgr output is a valid key file");
    assert_eq!(tsig.name().to_string(), "certdx-test.");
    assert_eq!(tsig.algorithm(), TsigAlgorithm::HmacSha256);
    let solver = Rfc2136Solver::new(knot.addr, tsig);

    assert_eq!(
        solver.zone_of(RECORD).await.unwrap().to_string(),
        "example.test."
    );
    assert_eq!(txt_at(&knot, RECORD).await.0, Some(ResponseCode::NXDomain));

    solver.present(RECORD, V1, 30).await.expect("present V1");
    let (rcode, values) = txt_at(&knot, RECORD).await;
    assert_eq!(rcode, Some(ResponseCode::NoError), "{}", knot.log());
    assert_eq!(values, set(&[V1]));
    let name = Name::from_ascii(format!("{RECORD}.")).unwrap();
    let answer = knot.ask(&name, RecordType::TXT).await;
    assert_eq!(answer.ttl(), Some(30));

    // A wildcard and its base name: two values at one name, each withdrawn on its own.
    solver.present(RECORD, V2, 30).await.expect("present V2");
    solver
        .present(RECORD, V2, 30)
        .await
        .expect("a duplicate is a no-op");
    assert_eq!(txt_at(&knot, RECORD).await.1, set(&[V1, V2]));
    solver.cleanup(RECORD, V1).await.expect("cleanup V1");
    assert_eq!(txt_at(&knot, RECORD).await.1, set(&[V2]));
    solver.cleanup(RECORD, V2).await.expect("cleanup V2");
    assert_eq!(txt_at(&knot, RECORD).await.0, Some(ResponseCode::NXDomain));
    // Cleanup is idempotent: retrying after a lost answer does no harm.
    solver.cleanup(RECORD, V2).await.expect("cleanup again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_format_key_works_and_permissions_are_enforced() {
    let key = keymgr_key("certdx-bind");
    let knot = KnotPrimary::start(&key, &zones()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = bind_format(&key, &key.secret);

    let open = key_file(&dir, "open.key", &text, 0o644);
    let err = TsigKey::from_file(&open).unwrap_err();
    assert!(
        matches!(err, TsigKeyError::Permissions { mode: 0o644, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("chmod 600"), "{message}");
    assert!(!message.contains(&key.secret), "{message}");
    let group = key_file(&dir, "group.key", &text, 0o640);
    assert!(matches!(
        TsigKey::from_file(&group),
        Err(TsigKeyError::Permissions { mode: 0o640, .. })
    ));

    let private = key_file(&dir, "private.key", &text, 0o600);
    let tsig = TsigKey::from_file(&private).expect("0600 BIND key");
    assert!(!format!("{tsig:?}").contains(&key.secret));
    let read_only = key_file(&dir, "readonly.key", &text, 0o400);
    assert!(TsigKey::from_file(&read_only).is_ok());

    let solver = Rfc2136Solver::new(knot.addr, tsig);
    let name = "_acme-challenge.example.test";
    solver.present(name, V1, 60).await.expect("present");
    assert_eq!(txt_at(&knot, name).await.1, set(&[V1]));
    solver.cleanup(name, V1).await.expect("cleanup");
    // The last value gone, the name is gone with it.
    let (rcode, values) = txt_at(&knot, name).await;
    assert_eq!(rcode, Some(ResponseCode::NXDomain));
    assert!(values.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_unknown_key_or_locked_zone_is_a_clear_error() {
    let key = keymgr_key("certdx-auth");
    let knot = KnotPrimary::start(&key, &zones()).await;

    // Same name, another secret: knot knows the key, the signature fails.
    let other = keymgr_key("certdx-auth");
    let wrong = TsigKey::parse(&bind_format(&key, &other.secret)).unwrap();
    let err = Rfc2136Solver::new(knot.addr, wrong)
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    assert!(matches!(err, Rfc2136Error::BadSig { .. }), "{err:?}");
    assert!(err.is_auth_failure());
    let message = err.to_string();
    assert!(
        message.contains("BADSIG") && message.contains("certdx-auth."),
        "{message}"
    );
    assert!(!message.contains(&other.secret) && !message.contains(&key.secret));

    // A key knot has never heard of.
    let stranger = keymgr_key("someone-else");
    let unknown = TsigKey::parse(&stranger.keymgr_output).unwrap();
    let err = Rfc2136Solver::new(knot.addr, unknown)
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    assert!(matches!(err, Rfc2136Error::BadKey { .. }), "{err:?}");
    assert!(err.to_string().contains("someone-else."), "{err}");

    // The right key on a zone whose ACL does not let it update: knot says BADKEY there,
    // other servers REFUSED.
    let right = TsigKey::parse(&key.keymgr_output).unwrap();
    let solver = Rfc2136Solver::new(knot.addr, right);
    let err = solver
        .present("_acme-challenge.locked.test", V1, 60)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Rfc2136Error::BadKey { .. } | Rfc2136Error::Refused { .. }
        ),
        "{err:?}"
    );
    assert!(err.is_auth_failure());
    assert!(err.to_string().contains("locked.test."), "{err}");

    // A name in no zone the server serves.
    let err = solver
        .present("_acme-challenge.elsewhere.invalid", V1, 60)
        .await
        .unwrap_err();
    assert!(matches!(err, Rfc2136Error::ZoneNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("REFUSED"), "{err}");

    // None of the failures left anything behind.
    assert_eq!(txt_at(&knot, RECORD).await.0, Some(ResponseCode::NXDomain));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_silent_servers_fail_within_the_timeout() {
    let key = TsigKey::parse(&keymgr_key("certdx-net").keymgr_output).unwrap();

    // Nothing listens: connection refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = closed.local_addr().unwrap();
    drop(closed);
    let err = Rfc2136Solver::new(addr, key.clone())
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    assert!(matches!(err, Rfc2136Error::Io { .. }), "{err:?}");
    assert!(err.is_transient());

    // A server that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let err = Rfc2136Solver::new(addr, key)
        .with_timeout(Duration::from_millis(300))
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    assert!(matches!(err, Rfc2136Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    holder.abort();
}

/// A one-connection-at-a-time TCP responder answering each update with `respond(request)`:
/// the precise misbehaviour a real primary never shows.
async fn fake_primary(
    respond: fn(&Message) -> Message,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).await.is_err() {
                continue;
            }
            let mut raw = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut raw).await.is_err() {
                continue;
            }
            let request = Message::from_vec(&raw).unwrap();
            let bytes = respond(&request).to_vec().unwrap();
            let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            let _ = stream.write_all(&framed).await;
        }
    });
    (addr, task)
}

/// The answer a primary would give, before any signature.
fn reply(request: &Message) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.add_queries(request.queries.clone());
    // The SOA walk: say every name is the apex of its own zone.
    if request.metadata.op_code == OpCode::Query {
        let q = &request.queries[0];
        response.add_answer(Record::from_rdata(
            q.name().clone(),
            60,
            RData::SOA(SOA::new(
                q.name().clone(),
                q.name().clone(),
                1,
                60,
                60,
                600,
                60,
            )),
        ));
    }
    response
}

#[tokio::test]
async fn unsigned_forged_and_badtime_answers_are_not_believed() {
    let key = TsigKey::parse(&keymgr_key("certdx-fake").keymgr_output).unwrap();

    // NOERROR without a TSIG: nothing proves the server applied the update.
    let (addr, task) = fake_primary(reply).await;
    let err = Rfc2136Solver::new(addr, key.clone())
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Rfc2136Error::UnsignedResponse { .. }),
        "{err:?}"
    );
    task.abort();

    // NOERROR carrying the request's own TSIG: a MAC, but not over this answer.
    let (addr, task) = fake_primary(|request| {
        let mut response = reply(request);
        response.signature = request.signature.clone();
        response
    })
    .await;
    let err = Rfc2136Solver::new(addr, key.clone())
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Rfc2136Error::ResponseSignature { .. }),
        "{err:?}"
    );
    task.abort();

    // BADTIME with the server's clock in Other Data, a day ahead.
    let (addr, task) = fake_primary(|request| {
        let mut response = reply(request);
        if let Some(sig) = &request.signature {
            let mut tsig = sig.data.clone();
            let server_time = tsig.time + 86_400;
            tsig.error = Some(TsigError::BadTime);
            tsig.other = server_time.to_be_bytes()[2..].to_vec();
            tsig.mac = Vec::new();
            response.metadata.response_code = ResponseCode::NotAuth;
            response.signature = Some(Box::new(Record::from_rdata(sig.name.clone(), 0, tsig)));
        }
        response
    })
    .await;
    let err = Rfc2136Solver::new(addr, key)
        .present(RECORD, V1, 60)
        .await
        .unwrap_err();
    match err {
        Rfc2136Error::BadTime {
            our_time,
            server_time,
            ..
        } => assert_eq!(server_time, our_time + 86_400),
        other => panic!("{other:?}"),
    }
    task.abort();
}
