//! Building one signed UPDATE (add or delete one TXT RR) and judging the server's answer.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigVerifier};

use super::error::Rfc2136Error;
use super::key::{FUDGE_SECS, TsigKey};
use crate::checks::dns::rcode_name;

/// What an update does to the TXT RRset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Add one RR with this TTL (RFC 2136 section 2.5.1: a duplicate is silently ignored).
    Add(u32),
    /// Delete the RR with exactly this data (section 2.5.4: class NONE, TTL 0; a missing RR
    /// is silently ignored, so cleanup is idempotent).
    Delete,
}

/// A signed UPDATE ready to send, with what is needed to check its answer.
pub(super) struct SignedUpdate {
    /// The wire bytes.
    pub(super) bytes: Vec<u8>,
    /// The message id.
    pub(super) id: u16,
    /// When it was signed (Unix seconds).
    pub(super) signed_at: u64,
    verifier: TSigVerifier,
}

/// The UPDATE for `change` of `value` at `name` in `zone`, signed with `key`.
pub(super) fn signed_update(
    server: SocketAddr,
    key: &TsigKey,
    zone: &Name,
    name: &Name,
    value: &str,
    change: Change,
) -> Result<SignedUpdate, Rfc2136Error> {
    let mut message = Message::query();
    message.metadata.op_code = OpCode::Update;
    message.metadata.recursion_desired = false;
    // RFC 2136 section 2.3: the question section is the zone section, SOA in the zone's class.
    message.add_query(Query::query(zone.clone(), RecordType::SOA));
    let mut record = Record::from_rdata(
        name.clone(),
        0,
        RData::TXT(TXT::new(vec![value.to_owned()])),
    );
    match change {
        Change::Add(ttl) => record.ttl = ttl,
        Change::Delete => record.dns_class = DNSClass::NONE,
    }
    // The update section travels in the authority section's place.
    message.add_authority(record);

    let signed_at = unix_now();
    let encode = |reason: String| Rfc2136Error::Malformed {
        server,
        reason: format!("cannot build the update: {reason}"),
    };
    let verifier = message
        .finalize(key.signer(), signed_at)
        .map_err(|e| encode(e.to_string()))?
        .ok_or_else(|| encode("hickory returned no TSIG verifier".to_owned()))?;
    let bytes = message.to_vec().map_err(|e| encode(e.to_string()))?;
    Ok(SignedUpdate {
        bytes,
        id: message.metadata.id,
        signed_at,
        verifier,
    })
}

/// What the server's answer means: `Ok` only for a NOERROR whose TSIG verifies.
pub(super) struct Context<'a> {
    pub(super) server: SocketAddr,
    pub(super) key: &'a TsigKey,
    pub(super) zone: &'a Name,
    pub(super) name: &'a Name,
}

impl SignedUpdate {
    /// Judges `raw`, the server's answer.
    pub(super) fn check_answer(mut self, cx: &Context<'_>, raw: &[u8]) -> Result<(), Rfc2136Error> {
        let server = cx.server;
        let response = Message::from_vec(raw).map_err(|e| Rfc2136Error::Malformed {
            server,
            reason: e.to_string(),
        })?;
        let rcode = response.metadata.response_code;
        match response.signature() {
            Some(tsig) => match tsig.data.error {
                // BADSIG and BADKEY answers are unsigned by design (RFC 8945 section 5.2):
                // there is nothing to verify, and they are failures anyway.
                Some(TsigError::BadSig) => {
                    return Err(Rfc2136Error::BadSig {
                        server,
                        key: cx.key.name().to_string(),
                    });
                }
                Some(TsigError::BadKey) => {
                    return Err(Rfc2136Error::BadKey {
                        server,
                        key: cx.key.name().to_string(),
                        algorithm: cx.key.algorithm().to_string(),
                        zone: cx.zone.to_string(),
                    });
                }
                Some(TsigError::BadTime) => {
                    return Err(Rfc2136Error::BadTime {
                        server,
                        our_time: self.signed_at,
                        server_time: server_time(&tsig.data.other).unwrap_or(tsig.data.time),
                        fudge: FUDGE_SECS,
                    });
                }
                Some(other) => {
                    return Err(Rfc2136Error::TsigRejected {
                        server,
                        code: u16::from(other),
                    });
                }
                None => {
                    self.verifier
                        .verify(raw)
                        .map_err(|e| Rfc2136Error::ResponseSignature {
                            server,
                            key: cx.key.name().to_string(),
                            reason: e.to_string(),
                        })?;
                }
            },
            // An unsigned error is still an error; only an unsigned success is worthless.
            None if rcode == ResponseCode::NoError => {
                return Err(Rfc2136Error::UnsignedResponse {
                    server,
                    rcode: rcode_name(rcode),
                });
            }
            None => {}
        }
        match rcode {
            ResponseCode::NoError => Ok(()),
            ResponseCode::Refused => Err(Rfc2136Error::Refused {
                server,
                zone: cx.zone.to_string(),
                name: cx.name.to_string(),
                key: cx.key.name().to_string(),
            }),
            ResponseCode::NotAuth => Err(Rfc2136Error::NotAuth {
                server,
                zone: cx.zone.to_string(),
            }),
            other => Err(Rfc2136Error::Rcode {
                server,
                zone: cx.zone.to_string(),
                name: cx.name.to_string(),
                rcode: rcode_name(other),
            }),
        }
    }
}

/// The server's clock from a BADTIME answer's Other Data: a 48-bit count of seconds.
fn server_time(other: &[u8]) -> Option<u64> {
    let bytes: [u8; 6] = other.try_into().ok()?;
    Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "iA+ZtUh5pM+RSa5lCQBO8i1LdNc8WNyCvu0QejQ7z78=";

    #[test]
    fn the_update_has_the_zone_section_one_rr_and_a_tsig() {
        let key = TsigKey::parse(&format!("hmac-sha256:certdx:{SECRET}")).unwrap();
        let zone = Name::from_ascii("example.test.").unwrap();
        let name = Name::from_ascii("_acme-challenge.www.example.test.").unwrap();
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        for (change, class, ttl) in [
            (Change::Add(60), DNSClass::IN, 60),
            (Change::Delete, DNSClass::NONE, 0),
        ] {
            let u = signed_update(server, &key, &zone, &name, "v", change).unwrap();
            let m = Message::from_vec(&u.bytes).unwrap();
            assert_eq!(m.metadata.op_code, OpCode::Update);
            assert_eq!(m.metadata.id, u.id);
            assert_eq!(m.queries[0].name(), &zone);
            assert_eq!(m.queries[0].query_type(), RecordType::SOA);
            assert_eq!(m.authorities.len(), 1);
            assert_eq!(m.authorities[0].dns_class, class);
            assert_eq!(m.authorities[0].ttl, ttl);
            let tsig = m.signature().expect("signed");
            assert_eq!(tsig.name.to_string(), "certdx.");
            assert_eq!(tsig.data.mac.len(), 32);
            assert_eq!(tsig.data.fudge, FUDGE_SECS);
        }
    }

    #[test]
    fn server_time_is_48_bits() {
        assert_eq!(server_time(&[0, 0, 0x65, 0, 0, 1]), Some(0x6500_0001));
        assert_eq!(server_time(&[1, 2]), None);
    }
}
