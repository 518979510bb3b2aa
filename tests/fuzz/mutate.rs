//! Mutations on top of the near-valid inputs the targets build: what turns a well-formed
//! document into the hostile one a parser meets (a byte flipped, a piece cut or repeated, a
//! token that breaks offsets or quoting inserted).

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// Tokens that break parsers written for ASCII, quotes or sane numbers: multi-byte spaces and
/// characters, escapes, quoting, YAML and JSON structure, numbers at the edges.
pub const TOKENS: &[&str] = &[
    "\u{a0}",
    "\u{3000}",
    "\u{2028}",
    "\u{feff}",
    "\u{200b}",
    "é",
    "€",
    "😀",
    "\u{fffd}",
    "\t",
    "\r",
    "\r\n",
    "\n",
    "\n\n",
    "\0",
    "\u{1b}[31m",
    "\u{1b}]8;;x\u{7}",
    " ",
    "  ",
    "- ",
    "-",
    ":",
    ": ",
    "---\n",
    "...\n",
    "--- ",
    "#",
    "&a ",
    "*a",
    "!!binary ",
    "|",
    ">-",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "\\",
    "\\\"",
    "\\u",
    "\\u00",
    "\\ud800",
    "\\x",
    "=",
    "\"=\"",
    ";",
    ",",
    "<",
    ">",
    "<html>",
    "</title>",
    "&amp;",
    "&#",
    "urn:ietf:params:acme:error:",
    "retry after ",
    "2026-13-45 25:61:61 UTC",
    "9999-12-31T23:59:59Z",
    "0",
    "-1",
    "65535",
    "65536",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e300",
    "-1e300",
    "NaN",
    "inf",
    "null",
    "true",
    "items:",
    "kind: List",
    "key",
    "secret",
    "algorithm",
    "{\"",
];

/// One edit: which, where (a fraction of the length, as a u32), how long, which token, which
/// byte.
type Edit = (u8, u32, u16, u16, u8);

/// `base` with up to `max_edits` random edits applied, or as it is.
pub fn mutated(base: BoxedStrategy<Vec<u8>>, max_edits: usize) -> BoxedStrategy<Vec<u8>> {
    (base, prop::collection::vec(any::<Edit>(), 0..=max_edits))
        .prop_map(|(mut bytes, edits)| {
            for edit in edits {
                apply(&mut bytes, edit);
            }
            bytes
        })
        .boxed()
}

/// Arbitrary bytes up to `max` long, mostly short.
pub fn raw_bytes(max: usize) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(any::<u8>(), 0..=max),
    ]
    .boxed()
}

/// Arbitrary text built from the tokens and printable ASCII, up to `max` pieces.
pub fn token_soup(max: usize) -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
            "[ -~]{0,12}".prop_map(String::into_bytes),
        ],
        0..=max,
    )
    .prop_map(|pieces| pieces.concat())
    .boxed()
}

fn apply(bytes: &mut Vec<u8>, (op, at, len, token, byte): Edit) {
    let pos = |n: usize| ((u64::from(at) * (n as u64 + 1)) >> 32) as usize;
    let n = bytes.len();
    let start = pos(n).min(n);
    let end = (start + usize::from(len % 64) + 1).min(n);
    match op % 8 {
        // Insert a token: the most productive edit.
        0..=2 => {
            let t = TOKENS[usize::from(token) % TOKENS.len()].as_bytes();
            bytes.splice(start..start, t.iter().copied());
        }
        3 => {
            if start < n {
                bytes[start] = byte;
            }
        }
        4 => {
            bytes.drain(start..end);
        }
        5 => {
            let piece = bytes[start..end].to_vec();
            bytes.splice(end..end, piece);
        }
        6 => {
            // Replace a run by a token (a space indentation by U+3000, a quote by a brace).
            let t = TOKENS[usize::from(token) % TOKENS.len()].as_bytes();
            bytes.splice(start..end.min(start + 1), t.iter().copied());
        }
        _ => {
            bytes.truncate(start);
        }
    }
}
