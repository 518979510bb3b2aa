//! The demo's web servers: a few ingress controllers, each answering by Host header the way
//! the scenario needs (a solver, a missing route, a forced-HTTPS redirect, a dead backend).
//!
//! A small hand-written HTTP/1.1 responder rather than hyper: every answer is canned, one
//! request per connection (`Connection: close`, which certdx's probe asks for anyway), and
//! the only parsing needed is the request line and the Host header. That keeps the demo free
//! of a server framework the rest of certdx does not use.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::scenario::{
    API_GATEWAY, BLOG_INGRESS, BLOG_REDIRECT_PORT, INTERNAL_INGRESS, MARKETING_INGRESS,
    SHOP_INGRESS,
};

/// The longest request head read; anything longer is answered 431.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// What ingress-nginx puts in the Server header.
const SERVER: &str = "nginx";
/// The path prefix HTTP-01 tokens live under.
const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

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
    // Host may carry a port and, rarely, the root dot.
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
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
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(answer(stream, site.clone(), thumbprint.clone()));
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

async fn answer(mut stream: TcpStream, site: Arc<Site>, thumbprint: Arc<str>) {
    let reply = match tokio::time::timeout(READ_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => {
            let (method, path, host) = parse_head(&head);
            let mut reply = respond(&site, host.as_deref(), &path, &thumbprint);
            if method == "HEAD" {
                reply.body.clear();
            }
            reply
        }
        Ok(Ok(None)) => Reply::nginx(431),
        // The client went away or was too slow: nobody to answer.
        Ok(Err(_)) | Err(_) => return,
    };
    let _ = stream.write_all(&encode(&reply)).await;
    let _ = stream.shutdown().await;
}

/// Reads up to the blank line ending the request head; `None` when it is too long.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

/// The method, the path (without query) and the Host header of a request head.
fn parse_head(head: &[u8]) -> (String, String, Option<String>) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
    let host = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_owned());
    (method, path, host)
}

fn encode(reply: &Reply) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nServer: {SERVER}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    if let Some(location) = &reply.location {
        out.push_str(&format!("Location: {location}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    out.into_bytes()
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
    fn requests_are_parsed_leniently() {
        let (m, p, h) = parse_head(b"GET /a/b?q=1 HTTP/1.1\r\nhost: x.example:81\r\n\r\n");
        assert_eq!(
            (m.as_str(), p.as_str(), h.as_deref()),
            ("GET", "/a/b", Some("x.example:81"))
        );
        assert_eq!(parse_head(b"\r\n\r\n").2, None);
    }
}
