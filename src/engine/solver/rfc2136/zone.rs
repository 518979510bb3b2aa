//! Finding the zone an update goes to: the SOA walk nsupdate does, asking the update server
//! itself (recursion off) from the record name up.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::error::Rfc2136Error;
use super::wire::exchange;
use crate::checks::dns::rcode_name;

/// The zone holding `name` on `server`: the owner of the SOA the server returns for `name`
/// or, failing that, for the nearest parent that yields one. An answer with an SOA in the
/// authority section (NXDOMAIN or NODATA) names the zone in one question.
pub(super) async fn find_zone(
    server: SocketAddr,
    name: &Name,
    timeout: Duration,
) -> Result<Name, Rfc2136Error> {
    let mut candidate = name.clone();
    loop {
        let response = soa_query(server, &candidate, timeout).await?;
        let rcode = response.metadata.response_code;
        if matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain)
            && let Some(zone) = soa_owner(&response, &candidate)
        {
            return Ok(zone);
        }
        // A server refusing a name may still serve a parent (it holds only some zones), so
        // the walk goes on up to the TLD; the root is never a zone certdx updates.
        if candidate.num_labels() <= 1 {
            return Err(Rfc2136Error::ZoneNotFound {
                name: name.to_string(),
                server,
                last_rcode: rcode_name(rcode),
            });
        }
        candidate = candidate.base_name();
    }
}

/// The SOA owner in the answer (the candidate is an apex) or the authority section (a
/// negative answer from inside a zone), when it is the candidate or one of its parents.
fn soa_owner(response: &Message, candidate: &Name) -> Option<Name> {
    response
        .answers
        .iter()
        .chain(response.authorities.iter())
        .find(|r| matches!(r.data, RData::SOA(_)) && r.name.zone_of(candidate))
        .map(|r| r.name.to_lowercase())
}

async fn soa_query(
    server: SocketAddr,
    name: &Name,
    timeout: Duration,
) -> Result<Message, Rfc2136Error> {
    let mut query = Message::query();
    query.add_query(Query::query(name.clone(), RecordType::SOA));
    query.metadata.recursion_desired = false;
    let id = query.metadata.id;
    let bytes = query.to_vec().map_err(|e| Rfc2136Error::Malformed {
        server,
        reason: format!("cannot build the SOA question: {e}"),
    })?;
    let raw = exchange(server, &bytes, id, timeout).await?;
    Message::from_vec(&raw).map_err(|e| Rfc2136Error::Malformed {
        server,
        reason: e.to_string(),
    })
}
