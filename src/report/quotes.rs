//! cert-manager copies one error up the chain: the Challenge's reason becomes the Order's,
//! the CertificateRequest's condition and the Certificate's, each time wrapped in a little
//! more text. A report quotes it once; the other copies are named, not repeated.

use crate::diagnose::ChainNode;
use crate::model::Evidence;

/// For each evidence entry, the index of an earlier text entry that already quotes it (the
/// same text, or one containing it or contained in it); `None` for the first quote.
pub fn repeats(evidence: &[Evidence]) -> Vec<Option<usize>> {
    let mut out = Vec::with_capacity(evidence.len());
    for (i, e) in evidence.iter().enumerate() {
        let Evidence::Text { text, .. } = e else {
            out.push(None);
            continue;
        };
        let earlier = evidence[..i].iter().enumerate().position(|(j, prior)| {
            out[j].is_none()
                && matches!(prior, Evidence::Text { text: p, .. }
                    if p == text || (p.len() >= 20 && text.contains(p.as_str()))
                        || (text.len() >= 20 && p.contains(text.as_str())))
        });
        out.push(earlier);
    }
    out
}

/// The part of a chain node's reason before the text it quotes from a node below, when it
/// quotes one: the Certificate's "...: Failed to create Order: 429 ..." shown as its prefix.
pub fn quoting_prefix<'a>(reason: &'a str, below: &[&str]) -> Option<&'a str> {
    below
        .iter()
        .filter(|b| b.len() >= 20)
        .find_map(|b| reason.find(*b))
        .map(|at| reason[..at].trim_end())
}

/// A chain node's reason as a report shows it: when it quotes the reason of an object below,
/// only its own words and a pointer to that object.
pub fn chain_reason(node: &ChainNode) -> String {
    let mut below: Vec<(&str, String)> = Vec::new();
    collect(node, &mut below, true);
    let reasons: Vec<&str> = below.iter().map(|(r, _)| *r).collect();
    match quoting_prefix(&node.status.reason, &reasons) {
        Some(prefix) => {
            let object = below
                .iter()
                .find(|(r, _)| node.status.reason.contains(*r))
                .map(|(_, o)| o.clone())
                .unwrap_or_default();
            format!("{prefix} … (quoting {object}, below)")
        }
        None => node.status.reason.clone(),
    }
}

fn collect<'a>(node: &'a ChainNode, out: &mut Vec<(&'a str, String)>, top: bool) {
    if !top {
        out.push((node.status.reason.as_str(), node.object.to_string()));
    }
    for c in &node.children {
        collect(c, out, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Evidence {
        Evidence::Text {
            source: "s".into(),
            text: t.into(),
            at: None,
        }
    }

    #[test]
    fn copies_up_the_chain_are_quoted_once() {
        let inner = "429 urn:ietf:params:acme:error:rateLimited: too many";
        let ev = [
            text(inner),
            text(&format!("Failed to create Order: {inner}")),
            text("something else entirely, long enough"),
        ];
        assert_eq!(repeats(&ev), vec![None, Some(0), None]);
        assert_eq!(
            quoting_prefix(&format!("Failed to create Order: {inner}"), &[inner]),
            Some("Failed to create Order:")
        );
    }
}
