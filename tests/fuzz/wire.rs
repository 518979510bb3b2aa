//! Near-valid DNS answers as bytes: a header, a question, answer records of the types the
//! checks read (CAA among them), names plain or compressed (pointers forward, backward, into
//! themselves), lengths right or wrong.

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// Names the answers are about.
const NAMES: &[&str] = &[
    "www.example.com",
    "example.com",
    "com",
    "",
    "_acme-challenge.www.example.com",
    "xn--bcher-kva.example",
    "a.b.c.d.e.f.g.h.example.com",
];

/// CAA tags: the three of RFC 8659, RFC 8657's, and broken ones.
const CAA_TAGS: &[&[u8]] = &[
    b"issue",
    b"issuewild",
    b"iodef",
    b"issuemail",
    b"contactemail",
    b"",
    b"bad-tag",
    b"averyveryverylongtagname",
    b"ISSUE",
    b"\xff\xfe",
];

/// CAA values: domains, parameters, and what breaks a parameter reader.
const CAA_VALUES: &[&[u8]] = &[
    b"letsencrypt.org",
    b"letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1",
    b"letsencrypt.org; validationmethods=dns-01",
    b"letsencrypt.org;validationmethods=http-01,dns-01;accounturi=x",
    b";",
    b"",
    b" ; = ; ",
    b"pki.goog; key=",
    b"letsencrypt.org; =value",
    b"le\xc3\xa9.org",
    b"\xe3\x80\x80letsencrypt.org",
    b"mailto:security@example.com",
    b"letsencrypt.org; validationmethods=",
];

/// A DNS name in wire form.
fn name(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in text.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// One record's owner name: the question's (a pointer to offset 12), written out, or a
/// pointer anywhere (loops included).
fn owner() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => Just(vec![0xc0, 12]),
        2 => prop::sample::select(NAMES).prop_map(name),
        1 => any::<u16>().prop_map(|p| vec![0xc0 | ((p >> 8) as u8 & 0x3f), p as u8]),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
    .boxed()
}

/// Record data for `rtype`, well-formed for its type most of the time.
fn rdata(rtype: u16) -> BoxedStrategy<Vec<u8>> {
    let typed = match rtype {
        1 => any::<[u8; 4]>().prop_map(|a| a.to_vec()).boxed(),
        28 => any::<[u8; 16]>().prop_map(|a| a.to_vec()).boxed(),
        2 | 5 => prop_oneof![
            prop::sample::select(NAMES).prop_map(name),
            Just(vec![0xc0, 12]),
        ]
        .boxed(),
        6 => (prop::sample::select(NAMES), any::<[u32; 5]>())
            .prop_map(|(n, nums)| {
                let mut out = name(n);
                out.extend(name(&format!("hostmaster.{n}")));
                for x in nums {
                    out.extend_from_slice(&x.to_be_bytes());
                }
                out
            })
            .boxed(),
        16 => prop::collection::vec("[ -~]{0,40}|\\PC{0,8}", 0..3)
            .prop_map(|parts| {
                let mut out = Vec::new();
                for p in parts {
                    let b = p.as_bytes();
                    let b = &b[..b.len().min(255)];
                    out.push(b.len() as u8);
                    out.extend_from_slice(b);
                }
                out
            })
            .boxed(),
        _ => (
            prop::sample::select(vec![0u8, 128, 1, 255]),
            prop::sample::select(CAA_TAGS),
            prop::sample::select(CAA_VALUES),
        )
            .prop_map(|(flags, tag, value)| {
                let mut out = vec![flags, tag.len() as u8];
                out.extend_from_slice(tag);
                out.extend_from_slice(value);
                out
            })
            .boxed(),
    };
    prop_oneof![8 => typed, 1 => prop::collection::vec(any::<u8>(), 0..24)].boxed()
}

/// One resource record; its length field right, or off.
fn record(types: &'static [u16]) -> BoxedStrategy<Vec<u8>> {
    prop::sample::select(types)
        .prop_flat_map(|rtype| {
            (
                Just(rtype),
                owner(),
                rdata(rtype),
                any::<u32>(),
                any::<u8>(),
            )
        })
        .prop_map(|(rtype, owner, rdata, ttl, lie)| {
            let mut out = owner;
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            let len = if lie % 8 == 0 {
                u16::from(lie)
            } else {
                rdata.len() as u16
            };
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&rdata);
            out
        })
        .boxed()
}

/// A whole answer: header (rcode, AA, TC), the question, answers and authority records of
/// `types`; the counts right, or off.
pub fn answer(types: &'static [u16]) -> BoxedStrategy<Vec<u8>> {
    (
        prop::sample::select(NAMES),
        prop::sample::select(types),
        prop::collection::vec(record(types), 0..5),
        prop::collection::vec(record(types), 0..2),
        any::<(u8, u8, u8)>(),
    )
        .prop_map(|(q, qtype, answers, authority, (flags, rcode, lie))| {
            let count = |n: usize| {
                if lie % 6 == 0 {
                    u16::from(lie)
                } else {
                    n as u16
                }
            };
            let mut out = vec![0, 0, 0x80 | (flags & 0x07), rcode & 0x0f];
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&count(answers.len()).to_be_bytes());
            out.extend_from_slice(&(authority.len() as u16).to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes());
            out.extend(name(q));
            out.extend_from_slice(&qtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            for r in answers.into_iter().chain(authority) {
                out.extend(r);
            }
            out
        })
        .boxed()
}
