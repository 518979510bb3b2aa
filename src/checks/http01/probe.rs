//! Walks the challenge URL from one address to its final answer, hop by hop, the way the CA's
//! validation does: at most [`MAX_REDIRECTS`] redirects, each checked against the CA's rules
//! before it is followed.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use reqwest::Url;

use crate::checks::AddressLookup;
use crate::model::HttpEvidence;

use super::Http01Options;
use super::fetch::{Fetched, fetch};
use super::redirect::{self, is_followed_redirect, normalise_host};
use super::reserved::reserved_reason;

/// Boulder's `maxRedirect`: the 11th redirect fails validation.
pub const MAX_REDIRECTS: usize = 10;

/// What one address's walk ended with.
#[derive(Debug)]
pub enum End {
    /// A final (non-followed) response.
    Response(Fetched),
    /// Connecting, sending or reading failed.
    Unreachable(String),
    /// A redirect the CA would not follow; the text says which rule broke.
    BadRedirect(String),
    /// A redirect to a host whose addresses are all reserved.
    ReservedTarget(String),
}

/// One address's walk.
#[derive(Debug)]
pub struct Probe {
    /// The address of the name this walk started from.
    pub address: IpAddr,
    /// Every request made, in order.
    pub hops: Vec<HttpEvidence>,
    /// How many redirects were followed.
    pub redirects: usize,
    /// How it ended.
    pub end: End,
}

/// Requests `start` (whose host is the name being validated) from `address`, following
/// redirects. Hops back to the name stay on `address`, so each address is judged on its own;
/// other hosts are resolved through `lookup`, preferring `address`'s family.
pub async fn walk(
    start: Url,
    address: IpAddr,
    lookup: &dyn AddressLookup,
    opts: &Http01Options,
) -> Probe {
    let mut probe = Probe {
        address,
        hops: Vec::new(),
        redirects: 0,
        end: End::Unreachable("no request made".to_owned()),
    };
    let mut pinned: HashMap<String, IpAddr> = HashMap::new();
    if let Some(host) = start.host_str() {
        pinned.insert(normalise_host(host), address);
    }
    let mut visited: HashSet<String> = HashSet::new();
    let mut url = start;
    let mut connect_to = address;
    loop {
        visited.insert(url.to_string());
        let port = url.port_or_known_default().unwrap_or(opts.http_port);
        let (evidence, result) = fetch(&url, connect_to, port, opts).await;
        probe.hops.push(evidence);
        let hop = probe.hops.len();
        let fetched = match result {
            Ok(f) => f,
            Err(e) => {
                probe.end = End::Unreachable(e);
                return probe;
            }
        };
        if !is_followed_redirect(fetched.status) {
            probe.end = End::Response(fetched);
            return probe;
        }
        let location = match (&fetched.location, fetched.location_garbled) {
            (Some(l), _) => l.clone(),
            (None, true) => {
                probe.end = End::BadRedirect(format!(
                    "hop {hop}: {url} answered {} with a Location header that is not valid UTF-8",
                    fetched.status
                ));
                return probe;
            }
            // Go's client (and so the CA) treats a redirect status without Location as final.
            (None, false) => {
                probe.end = End::Response(fetched);
                return probe;
            }
        };
        let target = match redirect::follow(&url, &location, opts.http_port, opts.https_port) {
            Ok(t) => t,
            Err(why) => {
                probe.end = End::BadRedirect(format!(
                    "hop {hop}: {url} answered {}: {why}",
                    fetched.status
                ));
                return probe;
            }
        };
        if visited.contains(target.url.as_str()) {
            probe.end = End::BadRedirect(format!(
                "hop {hop}: {url} redirects to {}, which was already requested: a redirect loop",
                target.url
            ));
            return probe;
        }
        if probe.redirects == MAX_REDIRECTS {
            probe.end = End::BadRedirect(format!(
                "hop {hop}: {url} redirects to {} after {MAX_REDIRECTS} redirects already; the CA gives up after {MAX_REDIRECTS}",
                target.url
            ));
            return probe;
        }
        connect_to = match pinned.get(&target.host) {
            Some(a) => *a,
            None => match resolve(&target.host, address, lookup, opts).await {
                Ok(a) => {
                    pinned.insert(target.host.clone(), a);
                    a
                }
                Err(end) => {
                    probe.end = match end {
                        Unresolved::Failed(why) => End::BadRedirect(format!(
                            "hop {hop}: {url} redirects to {}, but {why}",
                            target.url
                        )),
                        Unresolved::Reserved(why) => End::ReservedTarget(format!(
                            "hop {hop}: {url} redirects to {}, but {why}",
                            target.url
                        )),
                    };
                    return probe;
                }
            },
        };
        probe.redirects += 1;
        url = target.url;
    }
}

enum Unresolved {
    Failed(String),
    Reserved(String),
}

/// Picks the address a redirect's host is dialled at: a public one of the same family as
/// the address under test when there is one, so an IPv6 walk stays IPv6 where it can.
async fn resolve(
    host: &str,
    origin: IpAddr,
    lookup: &dyn AddressLookup,
    opts: &Http01Options,
) -> Result<IpAddr, Unresolved> {
    let found = match tokio::time::timeout(opts.timeout, lookup.addresses(host)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(Unresolved::Failed(format!("resolving it failed: {e}"))),
        Err(_) => {
            return Err(Unresolved::Failed(format!(
                "resolving {host} timed out after {} ms",
                opts.timeout.as_millis()
            )));
        }
    };
    if found.is_empty() {
        return Err(Unresolved::Failed(format!(
            "{host} has no A or AAAA record"
        )));
    }
    let usable: Vec<IpAddr> = found
        .iter()
        .copied()
        .filter(|a| reserved_reason(*a, opts.allow_loopback).is_none())
        .collect();
    if usable.is_empty() {
        let listed: Vec<String> = found
            .iter()
            .map(|a| {
                format!(
                    "{a} ({})",
                    reserved_reason(*a, opts.allow_loopback).unwrap_or("reserved")
                )
            })
            .collect();
        return Err(Unresolved::Reserved(format!(
            "{host} resolves only to reserved addresses: {}",
            listed.join(", ")
        )));
    }
    Ok(usable
        .iter()
        .copied()
        .find(|a| a.is_ipv4() == origin.is_ipv4())
        .unwrap_or(usable[0]))
}
