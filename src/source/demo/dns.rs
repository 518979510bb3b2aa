//! The demo's DNS servers: one hickory-server handler that plays either the recursive
//! resolver (every zone, primary content, RA set, CNAMEs chased across zones) or one
//! authoritative nameserver (only its zones, its own copy of them, AA set, REFUSED for the
//! rest), which is what certdx's checks tell apart.

use std::net::Ipv4Addr;
use std::sync::Arc;

use hickory_net::runtime::Time;
use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::zones::Zone;

/// CNAME hops chased before answering SERVFAIL, as resolvers bound it.
const MAX_CNAME_HOPS: usize = 8;

/// Which server a handler plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The recursive resolver certdx is pointed at.
    Resolver,
    /// The authoritative nameserver at this address.
    Authoritative(Ipv4Addr),
}

/// What a server says to one question.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The response code.
    pub rcode: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the zone's SOA on negative answers).
    pub authorities: Vec<Record>,
}

impl Answer {
    fn refused() -> Answer {
        Answer {
            rcode: ResponseCode::Refused,
            answers: Vec::new(),
            authorities: Vec::new(),
        }
    }
}

/// A demo DNS server.
pub struct DemoDns {
    zones: Arc<Vec<Zone>>,
    role: Role,
}

impl DemoDns {
    /// A server playing `role` over `zones`.
    pub fn new(zones: Arc<Vec<Zone>>, role: Role) -> DemoDns {
        DemoDns { zones, role }
    }

    /// The answer to one question.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> Answer {
        match self.role {
            Role::Resolver => chase(qname, qtype, |name| {
                // The root stand-in holds every name, so this always finds a zone.
                self.zones
                    .iter()
                    .filter(|z| z.origin.zone_of(name))
                    .max_by_key(|z| z.origin.num_labels())
                    .map(|z| (&z.origin, z.primary()))
            }),
            Role::Authoritative(ip) => {
                let served = self
                    .zones
                    .iter()
                    .filter_map(|z| {
                        let i = z.servers.iter().position(|(_, a)| *a == ip)?;
                        Some((&z.origin, z.views.get(i)?.as_slice()))
                    })
                    .filter(|(origin, _)| origin.zone_of(qname))
                    .max_by_key(|(origin, _)| origin.num_labels());
                let Some((origin, records)) = served else {
                    return Answer::refused();
                };
                // An authoritative server only follows a CNAME inside its own zone.
                chase(qname, qtype, |name| {
                    origin.zone_of(name).then_some((origin, records))
                })
            }
        }
    }
}

/// Answers `qname`, following CNAMEs through the zones `zone_for` finds.
fn chase<'a>(
    qname: &Name,
    qtype: RecordType,
    zone_for: impl Fn(&Name) -> Option<(&'a Name, &'a [Record])>,
) -> Answer {
    let mut answers: Vec<Record> = Vec::new();
    let mut name = qname.clone();
    for _ in 0..=MAX_CNAME_HOPS {
        let Some((_, records)) = zone_for(&name) else {
            // The chain left the zones this server may answer for: what it has is the answer.
            return Answer {
                rcode: ResponseCode::NoError,
                answers,
                authorities: Vec::new(),
            };
        };
        let step = lookup(records, &name, qtype);
        let next = match step.answers.as_slice() {
            [only] if qtype != RecordType::CNAME => match &only.data {
                RData::CNAME(target) => Some(target.0.clone()),
                _ => None,
            },
            _ => None,
        };
        answers.extend(step.answers);
        match next {
            Some(target) if !answers.iter().any(|r| r.name == target) => name = target,
            Some(_) => break,
            None => {
                return Answer {
                    rcode: step.rcode,
                    answers,
                    authorities: step.authorities,
                };
            }
        }
    }
    // A loop or an overlong chain: what a resolver says when it gives up.
    Answer {
        rcode: ResponseCode::ServFail,
        answers: Vec::new(),
        authorities: Vec::new(),
    }
}

/// One zone's answer for `qname`: its records of `qtype`, else its CNAME, else NODATA when
/// the name exists (or has names below it), else NXDOMAIN; negative answers carry the SOA.
fn lookup(records: &[Record], qname: &Name, qtype: RecordType) -> Answer {
    let at: Vec<&Record> = records.iter().filter(|r| &r.name == qname).collect();
    let matching: Vec<Record> = at
        .iter()
        .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
        .map(|r| (*r).clone())
        .collect();
    let cname: Vec<Record> = at
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .map(|r| (*r).clone())
        .collect();
    let positive = if matching.is_empty() { cname } else { matching };
    if !positive.is_empty() {
        return Answer {
            rcode: ResponseCode::NoError,
            answers: positive,
            authorities: Vec::new(),
        };
    }
    let exists = records.iter().any(|r| qname.zone_of(&r.name));
    Answer {
        rcode: if exists {
            ResponseCode::NoError
        } else {
            ResponseCode::NXDomain
        },
        answers: Vec::new(),
        authorities: records
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .cloned()
            .collect(),
    }
}

#[async_trait::async_trait]
impl RequestHandler for DemoDns {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let answer = match request.queries.queries().first() {
            Some(q) => self.answer(&q.name().clone().into(), q.query_type()),
            None => Answer {
                rcode: ResponseCode::FormErr,
                ..Answer::refused()
            },
        };
        metadata.response_code = answer.rcode;
        match self.role {
            Role::Resolver => metadata.recursion_available = true,
            Role::Authoritative(_) => {
                metadata.authoritative =
                    matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain);
            }
        }
        let response = MessageResponseBuilder::from_message_request(request).build(
            metadata,
            answer.answers.iter(),
            answer.authorities.iter(),
            std::iter::empty(),
            std::iter::empty(),
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

#[cfg(test)]
mod tests {
    use super::super::scenario::{NS_NET, Scenario};
    use super::super::zones::demo_zones;
    use super::*;

    fn server(role: Role) -> DemoDns {
        let zones = demo_zones(&Scenario::from_estate().unwrap()).unwrap();
        DemoDns::new(Arc::new(zones), role)
    }

    fn ask(s: &DemoDns, name: &str, rtype: RecordType) -> Answer {
        s.answer(&Name::from_ascii(name).unwrap(), rtype)
    }

    #[test]
    fn the_resolver_chases_cnames_and_knows_every_zone() {
        let r = server(Role::Resolver);
        let a = ask(&r, "landing.example.com.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert_eq!(a.answers.len(), 2, "{a:?}");
        assert_eq!(a.answers[1].record_type(), RecordType::A);
        let nx = ask(&r, "nothere.example.org.", RecordType::A);
        assert_eq!(nx.rcode, ResponseCode::NXDomain);
        assert_eq!(nx.authorities.len(), 1);
    }

    #[test]
    fn parents_of_the_demo_zones_answer_sanely() {
        let r = server(Role::Resolver);
        for name in ["com.", "net.", "."] {
            let a = ask(&r, name, RecordType::CAA);
            assert_eq!(a.rcode, ResponseCode::NoError, "{name}");
            assert!(a.answers.is_empty());
        }
        let typo = ask(&r, "exmaple.com.", RecordType::A);
        assert_eq!(typo.rcode, ResponseCode::NXDomain);
        assert_eq!(typo.authorities[0].name, Name::from_ascii("com.").unwrap());
    }

    #[test]
    fn nameservers_answer_only_for_their_zones_from_their_own_copy() {
        let txt = "_acme-challenge.api.example.net.";
        let ns1 = server(Role::Authoritative(NS_NET[0]));
        let ns2 = server(Role::Authoritative(NS_NET[1]));
        assert_eq!(ask(&ns1, txt, RecordType::TXT).answers.len(), 1);
        assert_eq!(
            ask(&ns2, txt, RecordType::TXT).rcode,
            ResponseCode::NXDomain
        );
        let other = ask(&ns1, "shop.example.com.", RecordType::A);
        assert_eq!(other.rcode, ResponseCode::Refused);
    }
}
