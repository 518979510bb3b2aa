//! The HTTP-01 check against real listeners on 127.0.1.0/24 and ::1 (tests run as root, so
//! port 80 and 443 are ours). Each test uses its own 127.0.1.X so they run in parallel; the
//! IPv6 tests bind [::1] on a free high port and the IPv4 side on the same port.

#[path = "common/http_lab.rs"]
mod http_lab;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use certdx::checks::http01::{Http01Options, check_http01};
use certdx::checks::{CheckReport, CheckStatus};
use certdx::model::{Code, Evidence, HttpEvidence, Severity};
use http_lab::{FixedLookup, Lab, Reply};

const NAME: &str = "www.certdx.test";
const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const KEY: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
const PATH: &str = "/.well-known/acme-challenge/evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 1, last])
}

fn at(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(ip(last), port)
}

fn opts() -> Http01Options {
    Http01Options {
        timeout: Duration::from_secs(3),
        allow_loopback: true,
        ..Http01Options::default()
    }
}

/// Runs the check with a hard bound, so a hang fails the test instead of stalling the suite.
async fn check_with(
    addresses: &[IpAddr],
    token: Option<&str>,
    key: Option<&str>,
    lookup: &FixedLookup,
    opts: &Http01Options,
) -> CheckReport {
    tokio::time::timeout(
        Duration::from_secs(60),
        check_http01(NAME, addresses, token, key, lookup, opts),
    )
    .await
    .expect("the check must finish within 60 s")
}

async fn check(addresses: &[IpAddr]) -> CheckReport {
    check_with(
        addresses,
        Some(TOKEN),
        Some(KEY),
        &FixedLookup::default(),
        &opts(),
    )
    .await
}

fn codes(r: &CheckReport) -> Vec<Code> {
    r.findings.iter().map(|f| f.code).collect()
}

fn hops(r: &CheckReport, i: usize) -> Vec<HttpEvidence> {
    r.findings[i].http_evidence().cloned().collect()
}

/// Serves the key on the challenge path and 404 elsewhere, like cert-manager's solver.
fn solver(req: &http_lab::Request) -> Reply {
    if req.path == PATH {
        Reply::ok(format!("{KEY}\n")).header("Server", "cm-acme-http-solver")
    } else {
        Reply::status(404, "not found")
    }
}

#[tokio::test]
async fn correct_key_passes() {
    let lab = Lab::http(at(1, 80), solver).await;
    let r = check(&[ip(1)]).await;
    assert_eq!(codes(&r), vec![], "{:#?}", r.findings);
    assert_eq!(r.status, CheckStatus::Passed);
    let reqs = lab.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, PATH);
    assert_eq!(reqs[0].host, NAME);
    assert!(reqs[0].user_agent.starts_with("certdx/"), "{:?}", reqs[0]);
}

#[tokio::test]
async fn not_found_is_wrong_status_with_routing_diagnosis() {
    let _lab = Lab::http(at(2, 80), |_| {
        Reply::status(404, "404 page not found").header("Server", "nginx")
    })
    .await;
    let r = check(&[ip(2)]).await;
    assert_eq!(codes(&r), vec![Code::Http01WrongStatus]);
    assert_eq!(r.status, CheckStatus::Failed);
    let f = &r.findings[0];
    assert!(f.summary.contains("127.0.1.2:80"), "{}", f.summary);
    assert!(f.summary.contains("404"), "{}", f.summary);
    assert!(f.summary.contains("route"), "{}", f.summary);
    assert!(f.detail.contains("ingress class"), "{}", f.detail);
    let h = hops(&r, 0);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].status, Some(404));
    assert_eq!(h[0].server.as_deref(), Some("nginx"));
    assert_eq!(h[0].address, Some(ip(2)));
    assert_eq!(h[0].port, Some(80));
}

#[tokio::test]
async fn other_statuses_name_their_culprits() {
    let _a = Lab::http(at(22, 80), |_| Reply::status(503, "Service Unavailable")).await;
    let _b = Lab::http(at(23, 80), |_| {
        Reply::status(
            400,
            "<html><center>The plain HTTP request was sent to HTTPS port</center></html>",
        )
    })
    .await;
    let _c = Lab::http(at(24, 80), |_| Reply::status(403, "Forbidden by WAF")).await;
    let r = check(&[ip(22), ip(23), ip(24)]).await;
    assert_eq!(codes(&r), vec![Code::Http01WrongStatus; 3]);
    let s: Vec<&str> = r.findings.iter().map(|f| f.summary.as_str()).collect();
    assert!(
        s[0].contains("127.0.1.22") && s[0].contains("solver pod"),
        "{}",
        s[0]
    );
    assert!(
        s[1].contains("127.0.1.23") && s[1].contains("TLS port"),
        "{}",
        s[1]
    );
    assert!(
        s[2].contains("127.0.1.24") && s[2].contains("WAF"),
        "{}",
        s[2]
    );
    assert_eq!(hops(&r, 1)[0].status, Some(400));
    assert!(
        hops(&r, 1)[0]
            .body_excerpt
            .as_deref()
            .unwrap()
            .contains("plain HTTP")
    );
}

#[tokio::test]
async fn wrong_body_is_reported_with_an_excerpt() {
    let _lab = Lab::http(at(3, 80), |_| {
        Reply::ok("<html><body>default backend</body></html>")
    })
    .await;
    let r = check(&[ip(3)]).await;
    assert_eq!(codes(&r), vec![Code::Http01WrongBody]);
    let f = &r.findings[0];
    assert!(f.summary.contains("127.0.1.3:80"), "{}", f.summary);
    assert!(f.summary.contains("HTML"), "{}", f.summary);
    assert!(f.detail.contains(KEY), "{}", f.detail);
    let h = hops(&r, 0);
    assert_eq!(h[0].status, Some(200));
    assert!(
        h[0].body_excerpt
            .as_deref()
            .unwrap()
            .contains("default backend")
    );
}

#[tokio::test]
async fn redirect_to_https_on_443_is_followed_without_certificate_validation() {
    let https_url = format!("https://{NAME}{PATH}");
    let _http = Lab::http(at(4, 80), move |_| Reply::redirect(301, &https_url)).await;
    let tls = Lab::https(at(4, 443), NAME, solver).await;
    let r = check(&[ip(4)]).await;
    assert_eq!(codes(&r), vec![Code::Http01Redirect], "{:#?}", r.findings);
    assert_eq!(r.status, CheckStatus::Passed);
    assert_eq!(r.findings[0].severity, Severity::Info);
    let h = hops(&r, 0);
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].status, Some(301));
    assert_eq!(
        h[0].location.as_deref(),
        Some(format!("https://{NAME}{PATH}").as_str())
    );
    assert!(
        h[1].url.starts_with("https://www.certdx.test/"),
        "{}",
        h[1].url
    );
    assert_eq!(
        (h[1].address, h[1].port, h[1].status),
        (Some(ip(4)), Some(443), Some(200))
    );
    let reqs = tls.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].tls);
    assert_eq!(reqs[0].host, NAME);
}

#[tokio::test]
async fn redirect_to_another_host_goes_through_the_lookup() {
    let _origin = Lab::http(at(5, 80), |_| {
        Reply::redirect(302, "http://cdn.certdx.test/acme/tok")
    })
    .await;
    let cdn = Lab::http(at(6, 80), |req| {
        if req.path == "/acme/tok" {
            Reply::ok(KEY)
        } else {
            Reply::status(404, "")
        }
    })
    .await;
    let lookup = FixedLookup::default().with("cdn.certdx.test", &[ip(6)]);
    let r = check_with(&[ip(5)], Some(TOKEN), Some(KEY), &lookup, &opts()).await;
    assert_eq!(codes(&r), vec![Code::Http01Redirect], "{:#?}", r.findings);
    let h = hops(&r, 0);
    assert_eq!(h[1].address, Some(ip(6)));
    assert_eq!(h[1].url, "http://cdn.certdx.test/acme/tok");
    assert_eq!(cdn.requests()[0].host, "cdn.certdx.test");
}

#[tokio::test]
async fn redirect_to_port_8080_is_not_followed() {
    let loc = format!("http://{NAME}:8080{PATH}");
    let _lab = Lab::http(at(7, 80), move |_| Reply::redirect(302, &loc)).await;
    let on_8080 = Lab::silent(at(7, 8080)).await;
    let r = check(&[ip(7)]).await;
    assert_eq!(codes(&r), vec![Code::Http01BadRedirect]);
    let f = &r.findings[0];
    assert!(f.summary.contains("port 8080"), "{}", f.summary);
    assert!(f.summary.contains("hop 1"), "{}", f.summary);
    let h = hops(&r, 0);
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0].location.as_deref(),
        Some(format!("http://{NAME}:8080{PATH}").as_str())
    );
    assert_eq!(on_8080.connections(), 0, "the CA never dials port 8080");
}

#[tokio::test]
async fn redirect_loop_is_detected() {
    let lab = Lab::http(at(8, 80), |req| match req.path.as_str() {
        "/loop/a" => Reply::redirect(302, "/loop/b"),
        "/loop/b" => Reply::redirect(302, "http://www.certdx.test/loop/a"),
        _ => Reply::redirect(301, "/loop/a"),
    })
    .await;
    let r = check(&[ip(8)]).await;
    assert_eq!(codes(&r), vec![Code::Http01BadRedirect]);
    assert!(
        r.findings[0].summary.contains("loop"),
        "{}",
        r.findings[0].summary
    );
    assert!(
        r.findings[0].summary.contains("hop 3"),
        "{}",
        r.findings[0].summary
    );
    assert_eq!(lab.requests().len(), 3);
    assert_eq!(hops(&r, 0).len(), 3);
}

/// Redirects challenge -> /hop/1 -> ... -> /hop/n, which serves the key.
fn chain(n: usize) -> impl Fn(&http_lab::Request) -> Reply + Send + Sync + 'static {
    move |req| {
        if req.path == PATH {
            return Reply::redirect(302, "/hop/1");
        }
        let i: usize = req
            .path
            .strip_prefix("/hop/")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if i < n {
            Reply::redirect(302, &format!("/hop/{}", i + 1))
        } else {
            Reply::ok(KEY)
        }
    }
}

#[tokio::test]
async fn ten_redirects_are_followed() {
    let lab = Lab::http(at(9, 80), chain(10)).await;
    let r = check(&[ip(9)]).await;
    assert_eq!(codes(&r), vec![Code::Http01Redirect], "{:#?}", r.findings);
    assert!(
        r.findings[0].summary.contains("10 redirects"),
        "{}",
        r.findings[0].summary
    );
    assert_eq!(hops(&r, 0).len(), 11);
    assert_eq!(lab.requests().len(), 11);
}

#[tokio::test]
async fn eleven_redirects_are_too_many() {
    let lab = Lab::http(at(10, 80), chain(11)).await;
    let r = check(&[ip(10)]).await;
    assert_eq!(codes(&r), vec![Code::Http01BadRedirect]);
    let f = &r.findings[0];
    assert!(f.summary.contains("after 10 redirects"), "{}", f.summary);
    assert!(f.summary.contains("/hop/11"), "{}", f.summary);
    // The 11th redirect is refused, so /hop/11 is never requested.
    assert_eq!(lab.requests().len(), 11);
    assert!(lab.requests().iter().all(|q| q.path != "/hop/11"));
}

#[tokio::test]
async fn slow_servers_time_out_as_unreachable() {
    let _hang = Lab::http(at(11, 80), |_| Reply::Hang).await;
    let _stall = Lab::http(at(27, 80), |_| Reply::StallBody).await;
    let opts = Http01Options {
        timeout: Duration::from_secs(1),
        ..opts()
    };
    let started = Instant::now();
    let r = check_with(
        &[ip(11), ip(27)],
        Some(TOKEN),
        Some(KEY),
        &FixedLookup::default(),
        &opts,
    )
    .await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(codes(&r), vec![Code::Http01Unreachable; 2]);
    let f = &r.findings[0];
    assert!(f.summary.contains("127.0.1.11:80"), "{}", f.summary);
    assert!(f.summary.contains("timed out"), "{}", f.summary);
    let stalled = &hops(&r, 1)[0];
    assert_eq!(stalled.status, Some(200), "headers came, the body did not");
    assert!(
        stalled
            .error
            .as_deref()
            .unwrap()
            .contains("reading the body"),
        "{stalled:?}"
    );
    assert_eq!(stalled.body_excerpt.as_deref(), Some("partial"));
}

#[tokio::test]
async fn huge_body_is_cut_and_is_a_wrong_body() {
    const TOTAL: u64 = 100 * 1024 * 1024;
    let lab = Lab::http(at(12, 80), |_| Reply::Stream { total: TOTAL }).await;
    let started = Instant::now();
    let r = check(&[ip(12)]).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(codes(&r), vec![Code::Http01WrongBody]);
    assert!(
        r.findings[0].summary.contains("longer than 128 bytes"),
        "{}",
        r.findings[0].summary
    );
    let excerpt = hops(&r, 0)[0].body_excerpt.clone().unwrap();
    assert!(excerpt.chars().count() <= 200, "{}", excerpt.len());
    // Once the client hangs up the server's writes fail; give it a moment to notice.
    let mut last = lab.streamed();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = lab.streamed();
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        lab.streamed() < TOTAL / 4,
        "the client must stop reading, yet the server sent {} bytes",
        lab.streamed()
    );
}

fn v6() -> IpAddr {
    "::1".parse().unwrap()
}

#[tokio::test]
async fn ipv4_and_ipv6_disagreeing_is_a_mismatch() {
    // The kernel picks a free port on [::1]; the IPv4 side joins it on the same port.
    let v6_lab = Lab::http(SocketAddr::new(v6(), 0), |_| Reply::status(404, "no route")).await;
    let port = v6_lab.addr.port();
    let _v4 = Lab::http(at(13, port), solver).await;
    let opts = Http01Options {
        http_port: port,
        ..opts()
    };
    let v6 = v6();
    let r = check_with(
        &[v6, ip(13)],
        Some(TOKEN),
        Some(KEY),
        &FixedLookup::default(),
        &opts,
    )
    .await;
    assert_eq!(
        codes(&r),
        vec![Code::Http01WrongStatus, Code::Http01AddressMismatch],
        "{:#?}",
        r.findings
    );
    assert!(
        r.findings[0].summary.contains("[::1]"),
        "{}",
        r.findings[0].summary
    );
    let m = &r.findings[1];
    assert!(m.summary.contains("IPv6 answers 404"), "{}", m.summary);
    assert!(
        m.summary
            .contains("IPv4 answers 200 with the key authorization"),
        "{}",
        m.summary
    );
    let addrs: Vec<Option<IpAddr>> = hops(&r, 1).iter().map(|h| h.address).collect();
    assert_eq!(addrs, vec![Some(v6), Some(ip(13))]);
}

#[tokio::test]
async fn ipv4_and_ipv6_agreeing_is_no_mismatch() {
    let v6 = v6();
    let v6_lab = Lab::http(SocketAddr::new(v6, 0), solver).await;
    let port = v6_lab.addr.port();
    let _v4 = Lab::http(at(30, port), solver).await;
    let opts = Http01Options {
        http_port: port,
        ..opts()
    };
    let r = check_with(
        &[v6, ip(30)],
        Some(TOKEN),
        Some(KEY),
        &FixedLookup::default(),
        &opts,
    )
    .await;
    assert_eq!(codes(&r), vec![], "{:#?}", r.findings);
}

#[tokio::test]
async fn malformed_location_is_a_bad_redirect() {
    let _lab = Lab::http(at(14, 80), |_| {
        Reply::redirect(302, "http://exa mple.test/x")
    })
    .await;
    let r = check(&[ip(14)]).await;
    assert_eq!(codes(&r), vec![Code::Http01BadRedirect]);
    assert!(
        r.findings[0].summary.contains("malformed"),
        "{}",
        r.findings[0].summary
    );
    assert_eq!(
        hops(&r, 0)[0].location.as_deref(),
        Some("http://exa mple.test/x")
    );
}

#[tokio::test]
async fn other_schemes_and_ip_literals_are_bad_redirects() {
    let _ftp = Lab::http(at(15, 80), |_| {
        Reply::redirect(302, "ftp://www.certdx.test/x")
    })
    .await;
    let _js = Lab::http(at(16, 80), |_| Reply::redirect(302, "javascript:alert(1)")).await;
    let _ip = Lab::http(at(26, 80), |_| Reply::redirect(302, "http://127.0.1.6/x")).await;
    let r = check(&[ip(15), ip(16), ip(26)]).await;
    assert_eq!(codes(&r), vec![Code::Http01BadRedirect; 3]);
    let s: Vec<&str> = r.findings.iter().map(|f| f.summary.as_str()).collect();
    assert!(
        s[0].contains("127.0.1.15") && s[0].contains("\"ftp\""),
        "{}",
        s[0]
    );
    assert!(
        s[1].contains("127.0.1.16") && s[1].contains("\"javascript\""),
        "{}",
        s[1]
    );
    assert!(
        s[2].contains("127.0.1.26") && s[2].contains("IP address"),
        "{}",
        s[2]
    );
}

#[tokio::test]
async fn unresolvable_redirect_target_is_a_bad_redirect() {
    let _lab = Lab::http(at(25, 80), |_| {
        Reply::redirect(302, "http://gone.certdx.test/x")
    })
    .await;
    let r = check(&[ip(25)]).await;
    assert_eq!(codes(&r), vec![Code::Http01BadRedirect]);
    assert!(
        r.findings[0].summary.contains("NXDOMAIN"),
        "{}",
        r.findings[0].summary
    );
}

#[tokio::test]
async fn redirect_to_a_reserved_address_is_reported_not_followed() {
    let _lab = Lab::http(at(29, 80), |_| {
        Reply::redirect(302, "http://internal.certdx.test/x")
    })
    .await;
    let lookup =
        FixedLookup::default().with("internal.certdx.test", &["10.1.2.3".parse().unwrap()]);
    let r = check_with(&[ip(29)], Some(TOKEN), Some(KEY), &lookup, &opts()).await;
    assert_eq!(codes(&r), vec![Code::Http01ReservedAddress]);
    assert!(
        r.findings[0].summary.contains("10.1.2.3"),
        "{}",
        r.findings[0].summary
    );
    assert_eq!(
        hops(&r, 0).len(),
        1,
        "only the redirecting hop was requested"
    );
}

#[tokio::test]
async fn non_utf8_body_is_a_wrong_body_shown_lossily() {
    let _lab = Lab::http(at(17, 80), |_| {
        Reply::ok(vec![0xff, 0xfe, b'k', b'e', b'y'])
    })
    .await;
    let r = check(&[ip(17)]).await;
    assert_eq!(codes(&r), vec![Code::Http01WrongBody]);
    assert!(
        r.findings[0].summary.contains("not UTF-8"),
        "{}",
        r.findings[0].summary
    );
    let excerpt = hops(&r, 0)[0].body_excerpt.clone().unwrap();
    assert_eq!(excerpt, "\u{FFFD}\u{FFFD}key");
}

#[tokio::test]
async fn garbage_response_is_unreachable() {
    let _lab = Lab::http(at(18, 80), |_| {
        Reply::Raw(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec())
    })
    .await;
    let r = check(&[ip(18)]).await;
    assert_eq!(codes(&r), vec![Code::Http01Unreachable]);
    let h = &hops(&r, 0)[0];
    assert_eq!(h.status, None);
    assert!(h.error.is_some());
    assert!(
        r.findings[0].summary.contains("127.0.1.18:80"),
        "{}",
        r.findings[0].summary
    );
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let r = check(&[ip(19)]).await;
    assert_eq!(codes(&r), vec![Code::Http01Unreachable]);
    let f = &r.findings[0];
    assert!(f.summary.contains("127.0.1.19:80"), "{}", f.summary);
    assert!(
        f.summary.to_lowercase().contains("refused"),
        "{}",
        f.summary
    );
}

#[tokio::test]
async fn reserved_addresses_are_reported_and_never_contacted() {
    let listener = Lab::http(at(20, 80), solver).await;
    let strict = Http01Options {
        allow_loopback: false,
        ..opts()
    };
    let private: IpAddr = "10.0.0.1".parse().unwrap();
    let started = Instant::now();
    let r = check_with(
        &[private, ip(20)],
        Some(TOKEN),
        Some(KEY),
        &FixedLookup::default(),
        &strict,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(codes(&r), vec![Code::Http01ReservedAddress; 2]);
    assert!(
        r.findings[0].summary.contains("10.0.0.1"),
        "{}",
        r.findings[0].summary
    );
    assert!(
        r.findings[0].summary.contains("private"),
        "{}",
        r.findings[0].summary
    );
    assert!(
        r.findings[1].summary.contains("loopback"),
        "{}",
        r.findings[1].summary
    );
    assert!(
        r.findings
            .iter()
            .flat_map(|f| &f.evidence)
            .all(|e| !matches!(e, Evidence::Http(_)))
    );
    assert_eq!(listener.connections(), 0);
    // The same listener is reachable once loopback is allowed: the 0 above is not an accident.
    let r = check(&[ip(20)]).await;
    assert_eq!(codes(&r), vec![]);
    assert_eq!(listener.connections(), 1);
}

#[tokio::test]
async fn no_address_is_reported() {
    let r = check(&[]).await;
    assert_eq!(codes(&r), vec![Code::Http01NoAddress]);
    assert_eq!(r.status, CheckStatus::Failed);
}

#[tokio::test]
async fn without_a_token_only_reachability_and_redirects_count() {
    let quiet = Lab::http(at(21, 80), |_| Reply::status(404, "no such token")).await;
    let _busy = Lab::http(at(28, 80), |_| Reply::status(503, "no endpoints")).await;
    let r = check_with(
        &[ip(21), ip(28)],
        None,
        None,
        &FixedLookup::default(),
        &opts(),
    )
    .await;
    // 404 is what a name answers with no solver running; 503 is worth showing but not a failure.
    assert_eq!(
        codes(&r),
        vec![Code::Http01WrongStatus],
        "{:#?}",
        r.findings
    );
    assert_eq!(r.findings[0].severity, Severity::Info);
    assert!(r.findings[0].summary.contains("127.0.1.28"));
    // Nothing was compared: reachable is all it may claim, never "passed".
    assert_eq!(r.status, CheckStatus::Reachable);
    assert_eq!(r.status.label(), "reachable, token not compared");
    let path = quiet.requests()[0].path.clone();
    let token = path
        .strip_prefix("/.well-known/acme-challenge/")
        .expect(&path);
    assert_eq!(token.len(), 43);
    assert!(
        token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
}
