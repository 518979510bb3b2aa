//! [`Dns01Server`]: the zone served over UDP and TCP on one address with hickory-server.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_net::runtime::Time;
use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::answer::Answer;
use super::error::Dns01Error;
use super::records::Dns01Handle;
use super::zone::Dns01Zone;

/// How long an idle TCP connection is kept: resolvers open one per question or two.
const TCP_IDLE: Duration = Duration::from_secs(5);
/// The largest UDP answer sent to an EDNS client: the DNS flag day 2020 size that avoids IP
/// fragmentation. Bigger answers go out truncated and the client retries over TCP.
const MAX_UDP_PAYLOAD: u16 = 1232;
/// How long [`Dns01Server::shutdown`] lets questions in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Tries at finding a port free for both UDP and TCP when port 0 is asked for.
const PORT_TRIES: usize = 16;

/// The embedded authoritative server for the delegated zone. Dropping it stops it at once;
/// [`Dns01Server::shutdown`] stops it gracefully.
pub struct Dns01Server {
    handle: Dns01Handle,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Dns01Server {
    /// Binds UDP and TCP on `addr` (port 0: one free port for both) and serves `zone`, empty
    /// of TXT records. Must be called inside a tokio runtime.
    ///
    /// Without a nameserver in `zone`, the apex NS is `ns.<zone>` at `addr`'s IP.
    pub async fn bind(addr: SocketAddr, zone: Dns01Zone) -> Result<Dns01Server, Dns01Error> {
        let (udp, tcp) = bind_both(addr).await?;
        let local_addr = udp.local_addr().map_err(|source| Dns01Error::Bind {
            addr,
            protocol: "UDP",
            source,
        })?;
        let zone = zone.with_default_nameserver(local_addr.ip())?;
        let handle = Dns01Handle::new(zone);

        let mut server = hickory_server::Server::new(ZoneHandler {
            handle: handle.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 65_535);
        let (stop, stopped) = oneshot::channel::<()>();
        // Aborting this task (on drop) drops the server, whose own task set then aborts the
        // socket tasks: the sockets close with them.
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = server.block_until_done() => {}
                _ = stopped => {
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, server.shutdown_gracefully()).await;
                }
            }
        });
        tracing::debug!(%local_addr, zone = %handle.origin(), "DNS-01 server listening");
        Ok(Dns01Server {
            handle,
            local_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address actually bound, UDP and TCP alike (the port when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The handle that sets and removes TXT records.
    pub fn handle(&self) -> Dns01Handle {
        self.handle.clone()
    }

    /// The zone apex.
    pub fn origin(&self) -> &Name {
        self.handle.origin()
    }

    /// Stops listening, lets questions in flight finish (bounded) and releases the address.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE * 2, task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Dns01Server {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Dns01Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns01Server")
            .field("local_addr", &self.local_addr)
            .field("handle", &self.handle)
            .finish()
    }
}

/// UDP then TCP on the same port. With port 0 the kernel picks the UDP port, which may be
/// taken for TCP: then another one is tried.
async fn bind_both(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Dns01Error> {
    let udp_err = |source| Dns01Error::Bind {
        addr,
        protocol: "UDP",
        source,
    };
    let tcp_err = |source| Dns01Error::Bind {
        addr,
        protocol: "TCP",
        source,
    };
    if addr.port() != 0 {
        let udp = UdpSocket::bind(addr).await.map_err(udp_err)?;
        let tcp = TcpListener::bind(addr).await.map_err(tcp_err)?;
        return Ok((udp, tcp));
    }
    let mut last = None;
    for _ in 0..PORT_TRIES {
        let udp = UdpSocket::bind(addr).await.map_err(udp_err)?;
        let port = udp.local_addr().map_err(udp_err)?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(tcp_err(e)),
        }
    }
    Err(tcp_err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrInUse,
            "no port free for both UDP and TCP",
        )
    })))
}

/// hickory-server's request handler over the shared records.
struct ZoneHandler {
    handle: Dns01Handle,
}

impl ZoneHandler {
    async fn answer(&self, request: &Request) -> Answer {
        if request.metadata.op_code != OpCode::Query {
            // Updates go through the handle, never over the wire.
            return Answer::error(ResponseCode::NotImp);
        }
        let [query] = request.queries.queries() else {
            return Answer::error(ResponseCode::FormErr);
        };
        if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
            return Answer::error(ResponseCode::Refused);
        }
        self.handle
            .answer(&query.name().into(), query.query_type())
            .await
    }
}

#[async_trait::async_trait]
impl RequestHandler for ZoneHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let answer = self.answer(request).await;
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = answer.rcode;
        metadata.authoritative = answer.authoritative;
        metadata.recursion_available = false;

        // Echo EDNS so large TXT sets fit in one UDP answer; without it hickory caps UDP
        // answers at 512 bytes (RFC 1035) and sets TC beyond.
        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            edns.set_version(0);
            edns
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let response = builder.build(
            metadata,
            answer.answers.iter(),
            answer.authorities.iter(),
            std::iter::empty(),
            answer.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            // The client went away; there is nobody to tell.
            Err(_) => ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            }),
        }
    }
}
