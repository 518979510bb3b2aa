//! Whether the resolver certdx asks from this machine can be trusted at all. On a laptop
//! behind a VPN, in a split-DNS office or offline, a resolver may answer NXDOMAIN for names
//! that exist: every name check would then say "create the DNS records" about names the CA
//! resolves fine. The root zone exists everywhere, so a resolver that cannot answer for it
//! is not one to judge names by.

use hickory_proto::rr::{Name, RecordType};

use super::dns::Dns;
use crate::model::{Code, Evidence, Finding};

/// A finding when the resolver does not answer the root zone's SOA, or says it does not
/// exist; `None` when it answers.
pub async fn resolver_sanity(dns: &Dns) -> Option<Finding> {
    let answer = dns.query_recursive(&Name::root(), RecordType::SOA).await;
    let resolvers: Vec<String> = dns.resolvers().iter().map(ToString::to_string).collect();
    let which = resolvers.join(", ");
    let what = if let Some(failure) = answer.failure() {
        format!("does not answer for the root zone ({failure})")
    } else if answer.is_nxdomain() {
        "answers NXDOMAIN for the root zone, which exists everywhere".to_owned()
    } else if !answer.has_soa_at(&Name::root()) {
        "answers the root zone's SOA without one".to_owned()
    } else {
        return None;
    };
    Some(
        Finding::new(
            Code::LocalResolverUnreliable,
            format!("The resolver this machine uses ({which}) {what}: no check was run from here"),
        )
        .with_detail("split DNS, a VPN, a filtering or offline resolver: what it says about a name is not what the CA sees")
        .with_evidence(Evidence::Dns(answer.evidence.clone())),
    )
}

/// Where checks through `dns` run from: this host and its resolver. A check from a laptop on a
/// VPN can see another DNS than the cluster does, so every result says where it came from.
pub fn vantage(dns: &Dns) -> String {
    let resolvers: Vec<String> = dns.resolvers().iter().map(ToString::to_string).collect();
    format!("host {}, resolver {}", hostname(), resolvers.join(", "))
}

/// This machine's name, or `unknown`. libc's gethostname: std has no portable call for it.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
