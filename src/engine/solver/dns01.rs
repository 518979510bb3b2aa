//! The embedded DNS-01 solver: an authoritative DNS server for a zone delegated to certdx,
//! acme-dns style.
//!
//! The operator delegates a zone (say `acme.example.net`: `NS ns.acme.example.net.` plus glue
//! in `example.net`) to the address certdx listens on, and for each identifier creates once
//! the CNAME [`delegated_name`] prints (`_acme-challenge.www.example.com. CNAME
//! www.example.com.acme.example.net.`). certdx then answers the CA's TXT questions itself:
//! no DNS provider API, no write access to the identifiers' zones, and a value is visible the
//! moment it is set, so there is no propagation to wait for beyond the CNAME's TTL.
//!
//! - [`Dns01Zone`]: the zone's fixed parts (apex, nameservers, TTL).
//! - [`Dns01Server`]: UDP and TCP listeners answering with authority (AA): SOA and NS at the
//!   apex, TXT records, NXDOMAIN or NODATA with the SOA for the rest of the zone, REFUSED
//!   outside it.
//! - [`Dns01Handle`]: the cheap shared handle the engine publishes and withdraws TXT values
//!   through; the SOA serial increases on every change.
//!
//! The server is a hand-written hickory-server `RequestHandler` rather than hickory's
//! `InMemoryZoneHandler` behind a `Catalog`: the engine needs a synchronous handle that adds
//! or removes one value of a multi-valued TXT set from any thread, which the catalog only
//! offers through its asynchronous RFC 2136 update path, and the lookups a zone of TXT sets
//! needs are a few lines (see `answer`).

mod answer;
mod delegation;
mod error;
mod records;
mod server;
mod zone;

pub use delegation::{Delegation, delegated_name};
pub use error::Dns01Error;
pub use records::{Dns01Handle, TxtElsewhere};
pub use server::Dns01Server;
pub use zone::{DEFAULT_TTL, Dns01Zone};
