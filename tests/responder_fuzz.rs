//! Random and mutated request bytes at the engine's HTTP-01 responder, over a real socket on
//! 127.0.0.1. For every case the responder must not panic, must answer or close within its
//! bound, and must serve a key authorization only for a GET or HEAD whose path is exactly
//! `/.well-known/acme-challenge/<token>` of a published token (and serve it for every
//! well-formed such request).
//!
//! Under `cargo test` it runs a short smoke of 300 cases; `CERTDX_FUZZ_CASES=N` raises the
//! count for a long run (`CERTDX_FUZZ_CASES=100000 cargo test --test responder_fuzz -- --nocapture`
//! prints the count, the time and what the responder answered).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use certdx::engine::solver::http01::{CHALLENGE_PREFIX, Http01Limits, Http01Solver};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The tokens published for the whole run, with their key authorizations.
const TOKENS: [(&str, &str); 3] = [
    ("tok-A_1", "tok-A_1.thumb"),
    ("b", "b.thumb"),
    ("Zz9-x_Y", "Zz9-x_Y.thumb"),
];
const SMOKE_CASES: u32 = 300;
/// Panics seen anywhere in the process (the responder's tasks run on other threads).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// One exchange: the bytes sent, whether the client then shuts its side, and whether the
/// bytes are a well-formed request for a published token (which must then be served).
#[derive(Debug, Clone)]
struct Case {
    bytes: Vec<u8>,
    half_close: bool,
    must_serve: Option<&'static str>,
}

fn limits() -> Http01Limits {
    Http01Limits {
        max_request_bytes: 2048,
        read_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(700),
        max_connections: 64,
        ..Http01Limits::default()
    }
}

/// How long any case may take to be answered or closed: the responder's whole-exchange bound
/// and a margin for a loaded machine.
fn bound() -> Duration {
    let l = limits();
    l.read_timeout + l.write_timeout + Duration::from_secs(2)
}

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(TOKENS.iter().map(|(t, _)| *t).collect::<Vec<_>>())
}

/// Request targets around the real ones: exact, near misses, other forms, junk.
fn target() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        4 => token().prop_map(|t| (format!("{CHALLENGE_PREFIX}{t}"), true)),
        1 => (token(), "[a-z]{1,3}=[a-z0-9]{0,4}")
            .prop_map(|(t, q)| (format!("{CHALLENGE_PREFIX}{t}?{q}"), true)),
        1 => token().prop_map(|t| (format!("http://a.test{CHALLENGE_PREFIX}{t}"), true)),
        4 => (token(), near_miss()).prop_map(|(t, edit)| {
            let path = format!("{CHALLENGE_PREFIX}{}", edit.apply(t));
            let exact = token_at(&path).is_some();
            (path, exact)
        }),
        1 => token().prop_map(|t| (format!("/.well-known/ACME-challenge/{t}"), false)),
        1 => token().prop_map(|t| (format!("/{CHALLENGE_PREFIX}{t}"), false)),
        1 => Just((CHALLENGE_PREFIX.to_owned(), false)),
        1 => "[ -~]{0,60}".prop_map(|s| (s, false)),
    ]
}

/// One small edit of a token: what a path that is almost a token's looks like.
#[derive(Debug, Clone)]
enum Edit {
    Append(&'static str),
    Prepend(&'static str),
    DropLast,
    DropFirst,
    SwapCase,
}

impl Edit {
    fn apply(&self, token: &str) -> String {
        let mut chars: Vec<char> = token.chars().collect();
        match self {
            Edit::Append(s) => return format!("{token}{s}"),
            Edit::Prepend(s) => return format!("{s}{token}"),
            Edit::DropLast => {
                chars.pop();
            }
            Edit::DropFirst => {
                if !chars.is_empty() {
                    chars.remove(0);
                }
            }
            Edit::SwapCase => {
                for c in &mut chars {
                    *c = if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    };
                }
            }
        }
        chars.into_iter().collect()
    }
}

fn near_miss() -> impl Strategy<Value = Edit> {
    let piece = prop::sample::select(vec![".", "/", "%2F", "x", "-", "/..", "%00"]);
    prop_oneof![
        3 => piece.clone().prop_map(Edit::Append),
        2 => piece.prop_map(Edit::Prepend),
        1 => Just(Edit::DropLast),
        1 => Just(Edit::DropFirst),
        1 => Just(Edit::SwapCase),
    ]
}

/// A request line and headers, well-formed or not.
fn structured() -> impl Strategy<Value = Case> {
    let method = prop_oneof![
        6 => Just("GET".to_owned()),
        2 => Just("HEAD".to_owned()),
        1 => Just("POST".to_owned()),
        1 => Just("get".to_owned()),
        1 => "[A-Z]{1,8}",
    ];
    let version = prop_oneof![
        6 => Just(("HTTP/1.1", true)),
        2 => Just(("HTTP/1.0", true)),
        1 => Just(("HTTP/2.0", false)),
        1 => Just(("HTTP/1.1 extra", false)),
    ];
    let headers = prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,40}"), 0..6);
    let line_end = prop_oneof![4 => Just("\r\n"), 1 => Just("\n")];
    (
        method,
        target(),
        version,
        headers,
        line_end,
        any::<bool>(),
        0..10u8,
    )
        .prop_map(
            |(method, (target, exact), (version, version_ok), headers, eol, host, close)| {
                let mut text = format!("{method} {target} {version}{eol}");
                if host {
                    text.push_str(&format!("Host: a.test{eol}"));
                }
                for (name, value) in &headers {
                    text.push_str(&format!("{name}: {value}{eol}"));
                }
                text.push_str(eol);
                let method_ok = method == "GET" || method == "HEAD";
                let must_serve = (method_ok && version_ok && exact)
                    .then(|| token_at(&path_of(target.as_bytes())?))
                    .flatten();
                Case {
                    bytes: text.into_bytes(),
                    half_close: close != 0,
                    must_serve,
                }
            },
        )
}

/// The published token whose exact path `path` is.
fn token_at(path: &str) -> Option<&'static str> {
    TOKENS
        .iter()
        .map(|(t, _)| *t)
        .find(|t| path.strip_prefix(CHALLENGE_PREFIX) == Some(t))
}

/// Byte-level damage: flips, insertions, deletions, truncation.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..4000usize).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *m {
        Mutation::Set(i, b) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes[i] = b;
        }
        Mutation::Insert(i, b) => {
            let i = at(i, bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Remove(i) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes.remove(i);
        }
        Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len() + 1)),
        Mutation::Repeat(i, n) if !bytes.is_empty() => {
            let b = bytes[at(i, bytes.len())];
            let i = at(i, bytes.len());
            bytes.splice(i..i, std::iter::repeat_n(b, n));
        }
        _ => {}
    }
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        3 => structured(),
        4 => (structured(), prop::collection::vec(mutation(), 1..4)).prop_map(|(mut c, ms)| {
            let before = c.bytes.clone();
            for m in &ms {
                mutate(&mut c.bytes, m);
            }
            if c.bytes != before {
                c.must_serve = None;
            }
            c
        }),
        2 => (prop::collection::vec(any::<u8>(), 0..3000), 0..10u8).prop_map(|(bytes, close)| Case {
            bytes,
            half_close: close != 0,
            must_serve: None,
        }),
    ]
}

/// The method and path a request line asks for, read independently of the responder: the
/// first line (after the blank lines HTTP/1.1 lets a server skip), `METHOD SP TARGET SP
/// VERSION`, the target's path without query or fragment.
fn method_and_path(request: &[u8]) -> Option<(&[u8], String)> {
    let start = request.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = request[start..].split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (parts.next()?, parts.next()?);
    Some((method, path_of(target)?))
}

fn path_of(target: &[u8]) -> Option<String> {
    let target = std::str::from_utf8(target).ok()?;
    let path = if target.starts_with('/') {
        target
    } else {
        let after = &target[target.find("://")? + 3..];
        &after[after.find('/')?..]
    };
    Some(path.split(['?', '#']).next().unwrap_or(path).to_owned())
}

/// Sends one case and judges what came back: the status, `None` when closed unanswered.
async fn exchange(addr: SocketAddr, case: &Case) -> Result<Option<u16>, String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The responder may close before taking everything (431, 400): a failed write is fine.
    let _ = stream.write_all(&case.bytes).await;
    if case.half_close {
        let _ = stream.shutdown().await;
    }
    let mut out = Vec::new();
    let read = tokio::time::timeout(bound(), async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return Err(format!("neither answered nor closed within {:?}", bound()));
    }
    let took = started.elapsed();
    if out.is_empty() {
        return match case.must_serve {
            Some(t) => Err(format!("closed without serving {t} after {took:?}")),
            None => Ok(None),
        };
    }
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP/1 status line: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    if status == 200 {
        let (method, path) = method_and_path(&case.bytes)
            .ok_or_else(|| format!("200 for a request that asks for no path: {text:?}"))?;
        if method != b"GET" && method != b"HEAD" {
            return Err(format!(
                "200 for method {:?}",
                String::from_utf8_lossy(method)
            ));
        }
        let token =
            token_at(&path).ok_or_else(|| format!("200 for {path:?}, no token's exact path"))?;
        let key = TOKENS.iter().find(|(t, _)| *t == token).map(|(_, k)| *k);
        let expected = if method == b"HEAD" { Some("") } else { key };
        if Some(body) != expected {
            return Err(format!("200 for {token} with body {body:?}"));
        }
    } else if let Some(t) = case.must_serve {
        return Err(format!("{status} instead of serving {t}: {text:?}"));
    }
    Ok(Some(status))
}

fn cases() -> u32 {
    std::env::var("CERTDX_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SMOKE_CASES)
}

#[test]
fn random_and_mutated_requests_never_break_the_responder() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Dropped at the end of the test, or when it fails: the listener stops with it.
    let solver = runtime
        .block_on(Http01Solver::bind("127.0.0.1:0".parse().unwrap(), limits()))
        .expect("bind 127.0.0.1:0");
    for (t, k) in TOKENS {
        solver.tokens().add(t, k);
    }
    let addr = solver.local_addr();
    let count = cases();
    let mut runner = TestRunner::new(Config {
        cases: count,
        failure_persistence: None,
        ..Config::default()
    });
    let outcomes = Mutex::new(BTreeMap::<String, u32>::new());
    let started = Instant::now();
    let result = runner.run(&case(), |case| {
        let outcome = runtime
            .block_on(exchange(addr, &case))
            .map_err(TestCaseError::fail)?;
        let name = outcome.map_or("closed".to_owned(), |s| s.to_string());
        *outcomes.lock().unwrap().entry(name).or_default() += 1;
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic in the responder");
        Ok(())
    });
    let elapsed = started.elapsed();
    let outcomes = outcomes.into_inner().unwrap();
    eprintln!("responder fuzz: {count} cases in {elapsed:.1?}: {outcomes:?}");
    let served_before = solver.tokens().served();
    // Still serving after everything it was sent.
    let alive = runtime.block_on(exchange(
        addr,
        &Case {
            bytes: format!("GET {CHALLENGE_PREFIX}b HTTP/1.1\r\nHost: a.test\r\n\r\n").into_bytes(),
            half_close: false,
            must_serve: Some("b"),
        },
    ));
    drop(solver);
    drop(runtime);
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(alive, Ok(Some(200)));
    assert!(served_before > 0, "the run served no token at all");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}
