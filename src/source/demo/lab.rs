//! [`DemoLab`]: the demo estate's names, served for real on loopback.
//!
//! With the lab running, every playbook check runs against real sockets and finds what the
//! scenario planted: www.shop.example.com answers 404, blog.example.org redirects to :8443,
//! ns2.example.net lacks the DNS-01 TXT, promo.example.com's CAA set forbids Let's Encrypt,
//! and landing.example.com's solver answers 503. No root, network or cluster needed: all of
//! 127.0.0.0/8 is local on Linux and every port is an ephemeral one (see `ports`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::dns::{DemoDns, Role};
use super::http::{self, demo_sites};
use super::ports::{bind_group, bind_tcp, bind_udp_tcp};
use super::scenario::{self, BLOG_REDIRECT_PORT, Scenario};
use super::zones::demo_zones;
use crate::checks::dns::DnsOptions;
use crate::checks::http01::Http01Options;

/// How long one DNS question may take: everything is in-process, so this only bounds a bug.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one HTTP request may take, for the same reason.
const HTTP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an idle DNS-over-TCP connection is kept.
const DNS_TCP_IDLE: Duration = Duration::from_secs(5);

/// Why the lab could not start. The demo then runs offline and says why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoLabError {
    /// A loopback address could not be bound for a reason another port would not fix
    /// (typically: only 127.0.0.1 exists, as on macOS without aliases).
    #[error("cannot listen on {addr} for the demo's {what}: {source}")]
    Bind {
        /// Which listeners (e.g. "DNS servers").
        what: &'static str,
        /// The address that failed (port 0: any port).
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No port was free on all addresses of a group after several tries.
    #[error(
        "no port free on every address of the demo's {what} after {attempts} tries (last taken: {})",
        last_conflict.map_or_else(|| "none".to_owned(), |a| a.to_string())
    )]
    NoFreePort {
        /// Which listeners.
        what: &'static str,
        /// How many ports were tried.
        attempts: usize,
        /// The last address found taken.
        last_conflict: Option<SocketAddr>,
    },
    /// The embedded demo estate lacks what the lab serves (a build with a broken estate).
    #[error("the demo estate does not fit the demo lab: {0}")]
    Scenario(String),
    /// A bound socket could not be handed to the async runtime (not inside tokio?).
    #[error("cannot register the demo's {what} with the async runtime: {source}")]
    Runtime {
        /// Which listeners.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl DemoLabError {
    /// Whether a listening address could not be bound (the machine lacks the loopback
    /// addresses, or ports are exhausted), as opposed to a broken build.
    pub fn is_bind(&self) -> bool {
        matches!(
            self,
            DemoLabError::Bind { .. } | DemoLabError::NoFreePort { .. }
        )
    }
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerKind {
    /// DNS over UDP and TCP.
    Dns,
    /// Plain HTTP.
    Http,
    /// The HTTPS port: held so nothing else answers there, but no TLS is spoken.
    Https,
}

/// One listening address of the lab, for display and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Who listens: `resolver`, a nameserver's name (`ns2.example.net`), or an ingress.
    pub role: String,
    /// The address and port.
    pub addr: SocketAddr,
    /// The protocol.
    pub kind: ListenerKind,
}

/// The demo's servers, running on loopback until dropped.
///
/// `DnsOptions` and `Http01Options` from [`DemoLab::dns_options`] and
/// [`DemoLab::http_options`] point certdx's checks at them.
#[derive(Debug)]
pub struct DemoLab {
    dns_port: u16,
    http_port: u16,
    https_port: u16,
    listeners: Vec<Listener>,
    /// Every server task; dropping the set aborts them, which closes their sockets.
    tasks: JoinSet<()>,
}

impl DemoLab {
    /// Binds every listener and starts serving. Must be called inside a tokio runtime.
    ///
    /// Fails (never panics) when an address or a port cannot be had; nothing is left
    /// running then.
    pub async fn start() -> Result<DemoLab, DemoLabError> {
        let scenario = Scenario::from_estate()?;
        let zones = Arc::new(demo_zones(&scenario)?);

        // The resolver first: it is the anchor of the DNS group.
        let mut dns_roles: Vec<(String, std::net::Ipv4Addr)> =
            vec![("resolver".to_owned(), scenario::RESOLVER)];
        for zone in zones.iter() {
            for (ns, ip) in &zone.servers {
                dns_roles.push((ns.to_string().trim_end_matches('.').to_owned(), *ip));
            }
        }
        let dns_ips: Vec<_> = dns_roles.iter().map(|(_, ip)| *ip).collect();
        let (dns_port, dns_sockets) = bind_group("DNS servers", &dns_ips, &[], bind_udp_tcp)?;

        let sites = demo_sites();
        let web_ips: Vec<_> = sites.iter().map(|s| s.ip).collect();
        // Never the port the blog redirects to (it must stay one the CA refuses), nor the
        // real web ports a user might mistake the lab for.
        let reserved = [80, 443, BLOG_REDIRECT_PORT];
        let (http_port, http_sockets) = bind_group("web servers", &web_ips, &reserved, bind_tcp)?;
        let mut https_avoid = reserved.to_vec();
        https_avoid.push(http_port);
        let (https_port, https_sockets) =
            bind_group("HTTPS placeholders", &web_ips, &https_avoid, bind_tcp)?;

        let mut lab = DemoLab {
            dns_port,
            http_port,
            https_port,
            listeners: Vec::new(),
            tasks: JoinSet::new(),
        };
        for ((role, ip), (udp, tcp)) in dns_roles.into_iter().zip(dns_sockets) {
            let server_role = if ip == scenario::RESOLVER {
                Role::Resolver
            } else {
                Role::Authoritative(ip)
            };
            lab.spawn_dns(DemoDns::new(zones.clone(), server_role), udp, tcp)?;
            lab.listeners.push(Listener {
                role,
                addr: SocketAddr::from((ip, dns_port)),
                kind: ListenerKind::Dns,
            });
        }
        let thumbprint: Arc<str> = Arc::from(scenario.thumbprint.as_str());
        for ((site, http), https) in sites.into_iter().zip(http_sockets).zip(https_sockets) {
            let to_tokio = |l: std::net::TcpListener| {
                tokio::net::TcpListener::from_std(l).map_err(|source| DemoLabError::Runtime {
                    what: "web servers",
                    source,
                })
            };
            let (http, https) = (to_tokio(http)?, to_tokio(https)?);
            for (kind, port) in [
                (ListenerKind::Http, http_port),
                (ListenerKind::Https, https_port),
            ] {
                lab.listeners.push(Listener {
                    role: site.label.to_owned(),
                    addr: SocketAddr::from((site.ip, port)),
                    kind,
                });
            }
            lab.tasks
                .spawn(http::serve(http, Arc::new(site), thumbprint.clone()));
            lab.tasks.spawn(http::hold(https));
        }
        Ok(lab)
    }

    fn spawn_dns(
        &mut self,
        handler: DemoDns,
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
    ) -> Result<(), DemoLabError> {
        let runtime = |source| DemoLabError::Runtime {
            what: "DNS servers",
            source,
        };
        let udp = tokio::net::UdpSocket::from_std(udp).map_err(runtime)?;
        let tcp = tokio::net::TcpListener::from_std(tcp).map_err(runtime)?;
        let mut server = hickory_server::Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, DNS_TCP_IDLE, 65_535);
        // Aborting this task drops the server, whose own task set then aborts the socket
        // tasks: the sockets close with them.
        self.tasks.spawn(async move {
            let _ = server.block_until_done().await;
        });
        Ok(())
    }

    /// certdx's DNS settings for the lab: its resolver, and its nameservers' port.
    pub fn dns_options(&self) -> DnsOptions {
        DnsOptions {
            resolver: Some(self.resolver()),
            timeout: DNS_TIMEOUT,
            authoritative_port: self.dns_port,
        }
    }

    /// certdx's HTTP-01 settings for the lab: its ports, loopback allowed.
    pub fn http_options(&self) -> Http01Options {
        Http01Options {
            timeout: HTTP_TIMEOUT,
            http_port: self.http_port,
            https_port: self.https_port,
            allow_loopback: true,
            ..Http01Options::default()
        }
    }

    /// The recursive resolver's address.
    pub fn resolver(&self) -> SocketAddr {
        SocketAddr::from((scenario::RESOLVER, self.dns_port))
    }

    /// The port every nameserver of the lab listens on.
    pub fn dns_port(&self) -> u16 {
        self.dns_port
    }

    /// The port the web servers answer HTTP on (the lab's port 80).
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The lab's port 443 (held, no TLS).
    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// Every listening address, resolver first.
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// The address of the nameserver named `name` (`ns2.example.net`, trailing dot optional).
    pub fn nameserver(&self, name: &str) -> Option<SocketAddr> {
        let name = name.trim_end_matches('.');
        self.listeners
            .iter()
            .find(|l| l.kind == ListenerKind::Dns && l.role.eq_ignore_ascii_case(name))
            .map(|l| l.addr)
    }
}

impl Drop for DemoLab {
    /// Stops every server. The sockets close as the runtime drops the aborted tasks, which
    /// happens right away on a running runtime (and with the runtime at the latest).
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}
