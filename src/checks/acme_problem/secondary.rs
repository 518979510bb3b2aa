//! "During secondary validation": the CA's remote vantage points (multi-perspective
//! validation) failed where its primary passed. One finding per text, naming the addresses the
//! CA reached from there.

use std::sync::LazyLock;

use regex::Regex;

use crate::checks::text::short;
use crate::model::{Code, Finding};

/// Where a problem detail starts its remote vantage points' part.
pub(super) static SECONDARY_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)during secondary validation:?\s*").expect("valid regex"));

/// Adds the multi-perspective finding once when a problem's detail says its remote vantage
/// points failed; the problem itself keeps its own classification.
pub(super) fn push_secondary(out: &mut Vec<Finding>, detail: &str, identifier: Option<&str>) {
    let Some(m) = SECONDARY_RE.find(detail) else {
        return;
    };
    if out.iter().any(|f| f.code == Code::AcmeSecondaryValidation) {
        return;
    }
    let for_ident = identifier.map(|i| format!(" for {i}")).unwrap_or_default();
    let remote = &detail[m.end()..];
    let addresses = named_addresses(remote);
    let reached = match addresses.as_slice() {
        [] => String::new(),
        list => format!(
            " (from other regions the CA reached {}: look at what answers there)",
            list.join(", ")
        ),
    };
    let mut f = Finding::new(
        Code::AcmeSecondaryValidation,
        format!(
            "The CA's remote vantage points failed{for_ident} where its primary passed{reached}: {}",
            short(remote, 120)
        ),
    )
    .with_detail(short(&detail[m.start()..], 600));
    if !addresses.is_empty() {
        f.evidence.push(crate::model::Evidence::Fact {
            subject: "addresses the CA named".to_owned(),
            detail: addresses.join(", "),
        });
    }
    f.target = identifier.map(str::to_owned);
    out.push(f);
}

/// The IP addresses a remote problem names: Boulder prefixes the address it connected to
/// (`2a06:98c1:3121::1: Invalid response from ...`), and DNS problems may name resolvers.
fn named_addresses(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        // `2001:db8::1:` and `192.0.2.9:` end with the separator; `[::1]:80` is bracketed.
        let w = word.trim_matches(|c: char| c == '[' || c == ']' || c == '(' || c == ')');
        let w = w.strip_suffix(':').unwrap_or(w);
        let ip = w
            .parse::<std::net::IpAddr>()
            .ok()
            .or_else(|| w.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()));
        if let Some(ip) = ip {
            let ip = ip.to_string();
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}
