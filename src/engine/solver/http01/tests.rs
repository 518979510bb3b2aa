use super::*;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn solver(limits: Http01Limits) -> Http01Solver {
    Http01Solver::bind("127.0.0.1:0".parse().unwrap(), limits)
        .await
        .expect("bind 127.0.0.1:0")
}

/// Sends `request` raw and returns everything the server wrote before closing.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the server closes")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: a.test\r\nUser-Agent: test\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn serves_added_tokens_and_404s_the_rest() {
    let s = solver(Http01Limits::default()).await;
    let tokens = s.tokens();
    tokens.add("tok-1_A", "tok-1_A.thumb");
    let addr = s.local_addr();

    let ok = raw(addr, &get("/.well-known/acme-challenge/tok-1_A")).await;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("Content-Type: text/plain\r\n"));
    assert!(ok.ends_with("\r\n\r\ntok-1_A.thumb"), "{ok}");
    assert_eq!(tokens.served(), 1);

    // Absolute-form and a query string reach the same token.
    let abs = raw(
        addr,
        &get("http://a.test/.well-known/acme-challenge/tok-1_A?x=1"),
    )
    .await;
    assert!(abs.ends_with("tok-1_A.thumb"), "{abs}");

    for path in [
        "/.well-known/acme-challenge/other",
        "/.well-known/acme-challenge/",
        "/.well-known/acme-challenge/../etc",
        "/",
    ] {
        let r = raw(addr, &get(path)).await;
        assert!(r.starts_with("HTTP/1.1 404 "), "{path}: {r}");
    }

    assert!(tokens.remove("tok-1_A"));
    assert!(!tokens.remove("tok-1_A"));
    let gone = raw(addr, &get("/.well-known/acme-challenge/tok-1_A")).await;
    assert!(gone.starts_with("HTTP/1.1 404 "), "{gone}");
    assert!(tokens.is_empty());
}

#[tokio::test]
async fn head_has_no_body_and_other_methods_are_refused() {
    let s = solver(Http01Limits::default()).await;
    s.tokens().add("t", "t.k");
    let head = raw(
        s.local_addr(),
        b"HEAD /.well-known/acme-challenge/t HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Length: 3\r\n"));
    assert!(head.ends_with("\r\n\r\n"), "no body after HEAD: {head:?}");
    let post = raw(
        s.local_addr(),
        b"POST /.well-known/acme-challenge/t HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("Allow: GET, HEAD"));
    let junk = raw(s.local_addr(), b"hello\r\n\r\n").await;
    assert!(junk.starts_with("HTTP/1.1 400 "), "{junk}");
}

#[tokio::test]
async fn oversized_heads_get_431_and_silent_clients_are_cut_off() {
    let limits = Http01Limits {
        max_request_bytes: 256,
        read_timeout: Duration::from_millis(300),
        ..Http01Limits::default()
    };
    let s = solver(limits).await;
    let mut big = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 4096));
    big.extend_from_slice(b"\r\n\r\n");
    let r = raw(s.local_addr(), &big).await;
    assert!(r.starts_with("HTTP/1.1 431 "), "{r}");

    let started = Instant::now();
    let silent = raw(s.local_addr(), b"GET / HTTP/1.1\r\n").await;
    assert_eq!(silent, "", "no answer to an unfinished head");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_real_http_client_gets_the_key_authorization() {
    let s = solver(Http01Limits::default()).await;
    s.tokens().add("abc", "abc.xyz");
    let url = format!("http://{}/.well-known/acme-challenge/abc", s.local_addr());
    // reqwest is built without a default crypto provider, even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..3 {
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "abc.xyz");
    }
    assert_eq!(s.tokens().served(), 3);
}

#[tokio::test]
async fn shutdown_releases_the_address_and_drop_stops_serving() {
    let s = solver(Http01Limits::default()).await;
    let addr = s.local_addr();
    // A connection in flight finishes during a graceful shutdown.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /x HTTP/1.1\r\n").await.unwrap();
    let shutdown = tokio::spawn(s.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    slow.write_all(b"\r\n").await.unwrap();
    let mut out = String::new();
    slow.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("shutdown finishes")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    // The address is free again.
    let again = Http01Solver::bind(addr, Http01Limits::default())
        .await
        .unwrap();
    drop(again);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "dropped solver stops listening"
    );
}

#[test]
fn tokens_are_base64url_only() {
    assert_eq!(token_of("/.well-known/acme-challenge/aB-_9"), Some("aB-_9"));
    assert_eq!(token_of("/.well-known/acme-challenge/a%2Fb"), None);
    assert_eq!(token_of("/.well-known/acme-challenge/a/b"), None);
    assert_eq!(token_of("/.well-known/acme-challenge/"), None);
    assert_eq!(token_of("//.well-known/acme-challenge/t"), None);
    assert_eq!(token_of("/other/t"), None);
}

/// Reads until the server closes (or resets); how long that took, or `None` past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok()?;
    Some((started.elapsed(), out))
}

#[tokio::test]
async fn a_client_dripping_its_head_is_cut_off_at_the_read_timeout() {
    let limits = Http01Limits {
        read_timeout: Duration::from_millis(500),
        ..Http01Limits::default()
    };
    let s = solver(limits).await;
    let mut stream = TcpStream::connect(s.local_addr()).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One header line every 50 ms, for longer than the test waits: a slowloris.
    let drip = tokio::spawn(async move {
        for i in 0..200 {
            let line = format!("X-Drip-{i}: x\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let started = Instant::now();
    let mut out = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 256];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    drip.abort();
    let waited = started.elapsed();
    assert!(cut.is_ok(), "a dripping client is never cut off");
    assert!(out.is_empty(), "no answer to an unfinished head: {out:?}");
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let limits = Http01Limits {
        max_connections: 2,
        read_timeout: Duration::from_secs(5),
        ..Http01Limits::default()
    };
    let s = solver(limits).await;
    let addr = s.local_addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /x HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    // Both are accepted (and hold a permit) before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third.write_all(&get("/")).await;
    let (took, out) = closed_within(&mut third, Duration::from_secs(2))
        .await
        .expect("the connection over the cap is closed at once, not served later");
    assert!(out.is_empty(), "no answer over the cap: {out:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The held ones are still served, and free their places.
    for mut c in held {
        c.write_all(b"\r\n").await.unwrap();
        let (_, out) = closed_within(&mut c, Duration::from_secs(5)).await.unwrap();
        assert!(out.starts_with(b"HTTP/1.1 404 "), "{out:?}");
    }
    let mut served = false;
    for _ in 0..50 {
        let r = raw(addr, &get("/")).await;
        if r.starts_with("HTTP/1.1 404 ") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "places come back once connections end");
}

#[tokio::test]
async fn one_request_per_connection_even_when_pipelined() {
    let s = solver(Http01Limits::default()).await;
    s.tokens().add("t", "t.k");
    let mut two = get("/.well-known/acme-challenge/t");
    two.extend(get("/.well-known/acme-challenge/t"));
    let out = raw(s.local_addr(), &two).await;
    assert_eq!(out.matches("HTTP/1.1 ").count(), 1, "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    assert_eq!(s.tokens().served(), 1);
}

#[tokio::test]
async fn any_host_or_none_and_ipv6_loopback_are_served() {
    let addr: SocketAddr = "[::1]:0".parse().unwrap();
    let s = match Http01Solver::bind(addr, Http01Limits::default()).await {
        Ok(s) => s,
        Err(e) => panic!("this test needs ::1: {e}"),
    };
    assert!(s.local_addr().is_ipv6());
    s.tokens().add("v6", "v6.k");
    let path = "/.well-known/acme-challenge/v6";
    for request in [
        format!("GET {path} HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"),
        format!("GET {path} HTTP/1.1\r\nHost: elsewhere.test\r\n\r\n"),
        format!("GET {path} HTTP/1.0\r\n\r\n"),
    ] {
        let r = raw(s.local_addr(), request.as_bytes()).await;
        assert!(
            r.starts_with("HTTP/1.") && r.contains(" 200 OK\r\n"),
            "{request}: {r}"
        );
        assert!(r.ends_with("\r\n\r\nv6.k"), "{r}");
    }
}
