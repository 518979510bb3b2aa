//! The fuzz targets over certdx's parsers and the runner that drives them; included by the
//! benchmark (`tests/benches/fuzz.rs`, a million inputs per target) and the smoke test
//! (`tests/fuzz_smoke.rs`, a few thousand).

#![allow(dead_code)] // each includer uses a part

pub mod harness;
pub mod mutate;
pub mod text_targets;
pub mod wire;
pub mod wire_targets;

use std::sync::OnceLock;

use harness::Target;

/// Every target, by name, in the order they run. The DNS target starts a server on loopback,
/// which stops when the returned box is dropped.
pub fn targets() -> Vec<Box<dyn Target>> {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    let corpus = CORPUS.get_or_init(text_targets::corpus).as_slice();
    vec![
        Box::new(text_targets::Snapshot),
        Box::new(text_targets::Explain::new(corpus)),
        Box::new(text_targets::AcmeProblem::new(corpus)),
        Box::new(text_targets::Tsig),
        Box::new(wire_targets::Caa),
        Box::new(wire_targets::DnsAnswers::new()),
        Box::new(wire_targets::AcmeResponses),
    ]
}
