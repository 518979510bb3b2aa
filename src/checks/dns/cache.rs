//! The answers of one run, each question asked once.
//!
//! A thousand Challenges under one zone share its SOA walk, its NS set and their addresses,
//! the CAA climb above the names, and often their A/AAAA: asked per Challenge, the resolver
//! would see the same question hundreds of times at once, and that burst is what made it miss
//! the time budget. The first asker sends the question; everyone asking the same while it is
//! in flight, or later in the run, gets the same answer.
//!
//! Why not hickory-resolver's cache (a dependency already, with its own de-duplication of
//! identical requests in flight): it hands back records, not the answer as it came (rcode, AA
//! and TC bits, raw bytes, which server and how long), turns NXDOMAIN and SERVFAIL into
//! errors, and keeps answers for their TTL across runs, which would hide exactly the staleness
//! a re-check is meant to see. This cache lives for one run and keys authoritative questions
//! by server address, so each server's answer stays its own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use hickory_proto::rr::{Name, RecordType};

use super::DnsAnswer;

/// Who a cached question was asked of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Asked {
    /// The recursive resolver(s), whichever answered.
    Recursive,
    /// One authoritative server address, with the label its evidence carries.
    Authoritative(String, SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    asked: Asked,
    name: Name,
    rtype: RecordType,
}

type Pending = Shared<BoxFuture<'static, DnsAnswer>>;

/// One run's questions and their answers (or the answers on their way).
#[derive(Default)]
pub(super) struct Questions {
    map: Mutex<HashMap<Key, Pending>>,
}

impl std::fmt::Debug for Questions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map_or(0, |m| m.len());
        write!(f, "Questions({n} asked)")
    }
}

impl Questions {
    /// The answer to `(asked, name, rtype)`: the one already given or on its way, or the
    /// one `ask` produces, shared with everyone who asks the same during the run.
    pub(super) async fn get_or_ask(
        &self,
        asked: Asked,
        name: &Name,
        rtype: RecordType,
        ask: impl FnOnce() -> BoxFuture<'static, DnsAnswer>,
    ) -> DnsAnswer {
        let key = Key {
            asked,
            // Name compares case-insensitively, but its Hash must agree: lower-case it.
            name: name.to_lowercase(),
            rtype,
        };
        let pending = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key).or_insert_with(|| ask().shared()).clone()
        };
        let mut answer = pending.await;
        // Kept as this asker spelled it: the checks compare owners with it.
        answer.name = name.clone();
        answer
    }

    /// How many distinct questions were asked (for tests).
    pub(super) fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }
}
