//! The demo's web servers: a few ingress controllers, each answering by Host header the way
//! the scenario needs (a solver, a missing route, a forced-HTTPS redirect, a dead backend).
//!
//! HTTP is hyper's server (HTTP/1 only). Every answer is canned and every connection is closed
//! after one (`Connection: close`, which certdx's probe asks for anyway), within the bounds of
//! [`Bounds`]: a head of at most 16 KiB (431 past it), sent within 5 s (closed unanswered
//! after), the whole exchange within 10 s, and at most 256 connections at once per site (more
//! are closed at accept).

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::ext::ReasonPhrase;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::scenario::{
    API_GATEWAY, BLOG_INGRESS, BLOG_REDIRECT_PORT, INTERNAL_INGRESS, MARKETING_INGRESS,
    SHOP_INGRESS,
};

/// What ingress-nginx puts in the Server header.
const SERVER: &str = "nginx";
/// The path prefix HTTP-01 tokens live under.
const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";
/// The smallest read buffer hyper accepts.
const MIN_HYPER_BUFFER: usize = 8 * 1024;

/// How much a demo web server takes from one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    /// The longest request head read; anything longer is answered 431.
    max_head: usize,
    /// How long a client may take to send its request head.
    read_deadline: Duration,
    /// How long the whole exchange may take, the response's write included.
    exchange_deadline: Duration,
    /// Connections served at once; more are closed at accept.
    max_connections: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            max_head: 16 * 1024,
            read_deadline: Duration::from_secs(5),
            exchange_deadline: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// How one host name is answered on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// A working cert-manager solver: `TOKEN.THUMBPRINT` for any challenge token, 404 for
    /// other paths. It answers whatever token it is asked for, so `certdx check` with any
    /// `--token` works against the demo.
    Solver,
    /// The same status for every path (e.g. 503: the solver's Service has no endpoints).
    Status(u16),
    /// nginx's `force-ssl-redirect`: 308 to `https://HOST:PORT/path`.
    RedirectHttps(u16),
}

/// One ingress: an address and how each host name is answered there; other hosts get
/// nginx's default-backend 404.
#[derive(Debug, Clone)]
pub struct Site {
    /// What it is, for the lab's listener list.
    pub label: &'static str,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Host name (lowercase, no port) and its behaviour.
    pub hosts: Vec<(&'static str, Behaviour)>,
}

/// The demo's ingresses.
pub fn demo_sites() -> Vec<Site> {
    vec![
        Site {
            label: "shop ingress",
            ip: SHOP_INGRESS,
            // www.shop.example.com has no solver route (its Ingress has the wrong class):
            // it falls through to the default backend's 404.
            hosts: vec![("shop.example.com", Behaviour::Solver)],
        },
        Site {
            label: "blog ingress",
            ip: BLOG_INGRESS,
            hosts: vec![
                (
                    "blog.example.org",
                    Behaviour::RedirectHttps(BLOG_REDIRECT_PORT),
                ),
                ("www.example.org", Behaviour::Solver),
            ],
        },
        Site {
            label: "marketing ingress",
            ip: MARKETING_INGRESS,
            hosts: vec![
                // Served: promo's problem is CAA, not HTTP.
                ("promo.example.com", Behaviour::Solver),
                // The orphan Challenge's solver pod is gone; its Ingress still routes to it.
                ("landing.example.com", Behaviour::Status(503)),
            ],
        },
        Site {
            label: "api gateway",
            ip: API_GATEWAY,
            hosts: Vec::new(),
        },
        Site {
            label: "internal ingress",
            ip: INTERNAL_INGRESS,
            hosts: vec![("portal.example.com", Behaviour::Solver)],
        },
    ]
}

/// A canned response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The Location header, if any.
    pub location: Option<String>,
    /// The Content-Type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Reply {
    /// nginx's stock error page for `status`.
    fn nginx(status: u16) -> Reply {
        let title = format!("{status} {}", reason(status));
        Reply {
            status,
            location: None,
            content_type: "text/html",
            body: format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            ),
        }
    }
}

/// What `site` answers to `GET path` with this Host header.
pub fn respond(site: &Site, host: Option<&str>, path: &str, thumbprint: &str) -> Reply {
    let Some(host) = host else {
        return Reply::nginx(400);
    };
    // Host may carry a port (after an IPv6 literal's brackets) and, rarely, the root dot.
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let behaviour = site.hosts.iter().find(|(h, _)| *h == host).map(|(_, b)| *b);
    match behaviour {
        None => Reply::nginx(404),
        Some(Behaviour::Status(status)) => Reply::nginx(status),
        Some(Behaviour::RedirectHttps(port)) => Reply {
            location: Some(format!("https://{host}:{port}{path}")),
            ..Reply::nginx(308)
        },
        Some(Behaviour::Solver) => match path.strip_prefix(CHALLENGE_PREFIX) {
            Some(token) if is_token(token) => Reply {
                status: 200,
                location: None,
                content_type: "text/plain",
                body: format!("{token}.{thumbprint}"),
            },
            _ => Reply::nginx(404),
        },
    }
}

/// ACME tokens are base64url; anything else is not a path the solver serves.
fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Serves `site` on `listener` until the task is aborted; aborting also drops (and so
/// aborts) every connection task, so nothing outlives the lab.
pub async fn serve(listener: TcpListener, site: Arc<Site>, thumbprint: Arc<str>) {
    serve_within(listener, site, thumbprint, Bounds::default()).await;
}

async fn serve_within(
    listener: TcpListener,
    site: Arc<Site>,
    thumbprint: Arc<str>,
    bounds: Bounds,
) {
    let permits = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        // Over the cap: closing at once costs less than queueing.
                        drop(stream);
                        continue;
                    };
                    let (site, thumbprint) = (site.clone(), thumbprint.clone());
                    connections.spawn(async move {
                        let _permit = permit;
                        answer(stream, site, thumbprint, bounds).await;
                    });
                }
                // Out of file descriptors or similar: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Holds a port without serving it: the lab speaks no TLS, and an `https://` hop should meet
/// a closed connection, never some other program that happens to listen there.
pub async fn hold(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => drop(stream),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Serves one connection: one request, one canned answer, closed.
async fn answer(stream: TcpStream, site: Arc<Site>, thumbprint: Arc<str>, bounds: Bounds) {
    let service = service_fn(move |request: Request<Incoming>| {
        let response = encode(&request_reply(&request, &site, &thumbprint));
        async move { Ok::<_, Infallible>(response) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.read_deadline)
        .max_header_size(bounds.max_head)
        .max_buf_size(bounds.max_head.max(MIN_HYPER_BUFFER))
        .keep_alive(false)
        // A client may shut its side once the request is sent; it still gets the answer.
        .half_close(true)
        // nginx writes `Content-Type`, not `content-type`.
        .title_case_headers(true)
        .auto_date_header(false);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    // A slow or vanished client has nobody to answer: the outcome does not matter.
    let _ = tokio::time::timeout(bounds.exchange_deadline, connection).await;
}

/// The canned reply to one request: by its Host header (not the request target's authority,
/// as ingress-nginx does) and path.
fn request_reply(request: &Request<Incoming>, site: &Site, thumbprint: &str) -> Reply {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).trim().to_owned());
    respond(site, host.as_deref(), request.uri().path(), thumbprint)
}

/// `reply` as hyper's response, with nginx's reason phrases; HEAD gets the headers only
/// (hyper leaves the body out).
fn encode(reply: &Reply) -> Response<Full<Bytes>> {
    let body = Bytes::from(reply.body.clone());
    let mut response = Response::new(Full::new(body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let phrase = reason(reply.status);
    if !phrase.is_empty() {
        response
            .extensions_mut()
            .insert(ReasonPhrase::from_static(phrase.as_bytes()));
    }
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(SERVER));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Some(location) = reply
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        headers.insert(header::LOCATION, location);
    }
    response
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        503 => "Service Temporarily Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(ip: Ipv4Addr) -> Site {
        demo_sites().into_iter().find(|s| s.ip == ip).unwrap()
    }

    #[test]
    fn the_shop_serves_the_apex_but_not_www() {
        let shop = site(SHOP_INGRESS);
        let path = "/.well-known/acme-challenge/abc_DEF-1";
        let apex = respond(&shop, Some("shop.example.com:8080"), path, "THUMB");
        assert_eq!((apex.status, apex.body.as_str()), (200, "abc_DEF-1.THUMB"));
        assert_eq!(
            respond(&shop, Some("www.shop.example.com"), path, "T").status,
            404
        );
    }

    #[test]
    fn the_blog_redirects_to_a_port_the_ca_refuses() {
        let r = respond(&site(BLOG_INGRESS), Some("Blog.Example.org"), "/x", "T");
        assert_eq!(r.status, 308);
        assert_eq!(
            r.location.as_deref(),
            Some("https://blog.example.org:8443/x")
        );
    }

    #[test]
    fn host_headers_lose_their_port_brackets_and_root_dot() {
        let shop = site(SHOP_INGRESS);
        let path = "/.well-known/acme-challenge/t";
        for host in [
            "shop.example.com.",
            "SHOP.example.com:80",
            "shop.example.com",
        ] {
            assert_eq!(respond(&shop, Some(host), path, "T").status, 200, "{host}");
        }
        for host in ["[::1]:80", "[::1]", "shop.example.com.evil"] {
            assert_eq!(respond(&shop, Some(host), path, "T").status, 404, "{host}");
        }
        assert_eq!(respond(&shop, None, path, "T").status, 400);
    }

    /// A site served on an ephemeral loopback port, stopped when dropped.
    struct Served {
        addr: std::net::SocketAddr,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Served {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn served(ip: Ipv4Addr, listen: &str, bounds: Bounds) -> Served {
        let listener = TcpListener::bind(listen).await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(serve_within(
            listener,
            Arc::new(site(ip)),
            Arc::from("THUMB"),
            bounds,
        ));
        Served { addr, task }
    }

    fn quick() -> Bounds {
        Bounds {
            read_deadline: Duration::from_millis(500),
            exchange_deadline: Duration::from_secs(3),
            ..Bounds::default()
        }
    }

    /// Everything the server writes until it closes, and how long that took; `None` past
    /// `limit`.
    async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, String)> {
        use tokio::io::AsyncReadExt;
        let started = std::time::Instant::now();
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
        Some((
            started.elapsed(),
            String::from_utf8_lossy(&out).into_owned(),
        ))
    }

    async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
        use tokio::io::AsyncWriteExt;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        until_closed(&mut stream, Duration::from_secs(5))
            .await
            .expect("the server closes")
            .1
    }

    #[tokio::test]
    async fn the_wire_looks_like_nginx_and_answers_by_host() {
        let shop = served(SHOP_INGRESS, "127.0.0.1:0", quick()).await;
        let token = "/.well-known/acme-challenge/abc";
        let ok = exchange(
            shop.addr,
            &format!("GET {token}?x=1 HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"),
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        for line in [
            "Server: nginx",
            "Content-Type: text/plain",
            "Connection: close",
        ] {
            assert!(ok.contains(&format!("{line}\r\n")), "{line}: {ok}");
        }
        assert!(ok.ends_with("\r\n\r\nabc.THUMB"), "{ok}");
        let head = exchange(
            shop.addr,
            &format!("HEAD {token} HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"),
        )
        .await;
        assert!(head.contains("Content-Length: 9\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body after HEAD: {head:?}");
        let wrong = exchange(
            shop.addr,
            &format!("GET {token} HTTP/1.1\r\nHost: www.shop.example.com\r\n\r\n"),
        )
        .await;
        assert!(wrong.starts_with("HTTP/1.1 404 Not Found\r\n"), "{wrong}");
        assert!(wrong.contains("<center>nginx</center>"), "{wrong}");
        let no_host = exchange(shop.addr, &format!("GET {token} HTTP/1.0\r\n\r\n")).await;
        assert!(no_host.contains(" 400 Bad Request\r\n"), "{no_host}");

        let marketing = served(MARKETING_INGRESS, "127.0.0.1:0", quick()).await;
        let dead = exchange(
            marketing.addr,
            "GET / HTTP/1.1\r\nHost: landing.example.com\r\n\r\n",
        )
        .await;
        assert!(
            dead.starts_with("HTTP/1.1 503 Service Temporarily Unavailable\r\n"),
            "{dead}"
        );
        let blog = served(BLOG_INGRESS, "[::1]:0", quick()).await;
        let redirect = exchange(
            blog.addr,
            "GET /x HTTP/1.1\r\nHost: blog.example.org\r\n\r\n",
        )
        .await;
        assert!(
            redirect.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"),
            "{redirect}"
        );
        assert!(
            redirect.contains("Location: https://blog.example.org:8443/x\r\n"),
            "{redirect}"
        );
    }

    #[tokio::test]
    async fn an_oversize_head_is_refused_with_431() {
        let shop = served(SHOP_INGRESS, "127.0.0.1:0", quick()).await;
        let pad = "a".repeat(20 * 1024);
        let r = exchange(
            shop.addr,
            &format!("GET / HTTP/1.1\r\nHost: shop.example.com\r\nX-Pad: {pad}\r\n\r\n"),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
        // Just under the bound is still read.
        let pad = "a".repeat(15 * 1024);
        let r = exchange(
            shop.addr,
            &format!("GET / HTTP/1.1\r\nHost: shop.example.com\r\nX-Pad: {pad}\r\n\r\n"),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 404 "), "{r}");
    }

    #[tokio::test]
    async fn a_client_dripping_its_head_is_cut_off() {
        use tokio::io::AsyncWriteExt;
        let shop = served(SHOP_INGRESS, "127.0.0.1:0", quick()).await;
        let stream = TcpStream::connect(shop.addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let drip = tokio::spawn(async move {
            let _ = writer.write_all(b"GET / HTTP/1.1\r\n").await;
            for i in 0..200 {
                let line = format!("X-Drip-{i}: x\r\n");
                if writer.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let started = std::time::Instant::now();
        let cut = tokio::time::timeout(Duration::from_secs(5), async {
            use tokio::io::AsyncReadExt;
            let mut out = Vec::new();
            let _ = reader.read_to_end(&mut out).await;
            out
        })
        .await;
        drip.abort();
        let out = cut.expect("a dripping client is never cut off");
        assert!(out.is_empty(), "no answer to an unfinished head: {out:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_at_once() {
        use tokio::io::AsyncWriteExt;
        let bounds = Bounds {
            max_connections: 2,
            read_deadline: Duration::from_secs(5),
            ..Bounds::default()
        };
        let shop = served(SHOP_INGRESS, "127.0.0.1:0", bounds).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(shop.addr).await.unwrap();
            c.write_all(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\n")
                .await
                .unwrap();
            held.push(c);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut third = TcpStream::connect(shop.addr).await.unwrap();
        let _ = third.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
        let (took, out) = until_closed(&mut third, Duration::from_secs(2))
            .await
            .expect("the connection over the cap is closed at once, not served later");
        assert!(
            out.is_empty() && took < Duration::from_secs(1),
            "{took:?} {out}"
        );
        for mut c in held {
            c.write_all(b"\r\n").await.unwrap();
            let (_, out) = until_closed(&mut c, Duration::from_secs(5)).await.unwrap();
            assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
        }
    }
}
