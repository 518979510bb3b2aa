//! The third step, inside one message: ACME clients' own wrappers rewritten into the form the
//! classifiers read, and the identifier taken out of whichever quoting style the client used.
//!
//! The classifiers know cert-manager's shape of a problem (`authorization error for NAME:
//! 403 urn:ietf:params:acme:error:TYPE: detail`). certbot prints `Domain: / Type: / Detail:`
//! blocks or `NAME (http-01): urn:acme:error:TYPE :: title :: detail`, lego `[NAME] acme:
//! error: 403 :: POST :: URL :: urn:...:TYPE :: detail` or a Go `map[NAME:error]`, acme.sh
//! `NAME:Verify error:detail`. Each is mapped onto the one shape so that a class of message is
//! recognised once, whatever client reported it.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::checks::text::challenge_identifier;

/// A DNS name or IP address as clients print them (wildcards included).
const NAME: &str = r"\*?\.?[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?|\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9A-Fa-f:]+:[0-9A-Fa-f:.]+\]?";

/// Rewrites onto the shapes the classifiers read: `authorization error for NAME: ...`, a
/// problem type with its urn.
static REWRITES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // certbot >= 1.x: "Domain: x.com Type: unauthorized Detail: ..."
        (
            format!(r"(?i)\bDomain:\s*({NAME})\s+Type:\s*([A-Za-z]+)\s+Detail:\s*"),
            "authorization error for $1: urn:ietf:params:acme:error:$2: ",
        ),
        // certbot 0.x: "x.com (http-01): urn:acme:error:unauthorized :: ..."
        (
            format!(r"(?i)\b({NAME}) \((?:http|dns|tls-sni|tls-alpn)-0\d\):\s*"),
            "authorization error for $1: ",
        ),
        // lego: "[x.com] acme: error: 403 :: ..." and "[x.com] acme: Error -> ..."
        (
            format!(r"\[({NAME})\]\s*(acme: |time limit exceeded|invalid challenge|error:)"),
            "authorization error for $1: $2",
        ),
        // Go's map of errors by domain (lego, Traefik): "map[x.com:acme: error: ...]"
        (format!(r"\bmap\[({NAME}):"), "authorization error for $1: "),
        // acme.sh: "x.com:Verify error:Invalid response ..."
        (
            format!(r"(?i)(?:^|\s|,)({NAME}):Verify error(?: detail)?:\s*"),
            " authorization error for $1: ",
        ),
        // Problem members printed one per line (win-acme's "[type] ... [detail] ...",
        // certbot's "Type: ... Detail: ..." without a domain): one problem.
        (
            r"(?i)(?:\[type\]|\bType:)\s*(urn:[a-z:]+:error:[A-Za-z]+)\s+(?:\[detail\]|Detail:)\s*".to_owned(),
            "$1 :: ",
        ),
        // The letsencrypt client and certbot 0.x print the type without its urn:
        // "Error: unauthorized :: The client lacks sufficient authorization :: ..."
        (
            r"\bError: (unauthorized|malformed|serverInternal|rateLimited|connection|dns|tls|caa|badNonce|badCSR|rejectedIdentifier|unknownHost|invalidEmail) :: ".to_owned(),
            "Error: urn:acme:error:$1 :: ",
        ),
        // ansible, Posh-ACME and others: "challenge for dns:x.com: ..."
        (
            format!(r"(?i)\bfor (?:dns|ip):({NAME}):\s*"),
            "authorization error for $1: ",
        ),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(&p).expect("valid regex"), r))
    .collect()
});

/// Where a message names its identifier when no problem does, most specific first.
static IDENTIFIER_RES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        format!(r"(?i)authorization error for ({NAME}):"),
        format!(r"(?i)while processing CAA for ({NAME})"),
        format!(r"(?i)_acme-challenge\.({NAME})"),
        format!(r"(?i)https?://({NAME})(?::\d+)?/\.well-known/acme-challenge"),
        format!(r#"(?i)DNS record for \\?["“]?({NAME})"#),
        format!(r"(?i)domains? \[({NAME})\]"),
        format!(r#"(?i)for domains? \[?"?({NAME})"?\]?"#),
        format!(r#"(?i)\bidentifier:? "?({NAME})"?"#),
        format!(r#"(?i)\bdnsName"?[=:] ?"?({NAME})"?"#),
        format!(r#"(?i)\bdomain:? "?({NAME})"?"#),
        format!(r#"(?i)(?:certificate|certificates|cert) for "?({NAME})"?"#),
        format!(r"^\s*\[({NAME})\]"),
        format!(r#"(?i)authori[sz]ation (?:status )?for (?:domain )?"?({NAME})"#),
        format!(r#"(?i)\bdomain:? ["']?({NAME})"#),
        format!(r#"(?i)zone (?:for|with):? "?({NAME})"#),
        format!(r"(?i)\bauthoriz(?:ing|e) (?:\[\w+\] )?({NAME})"),
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid regex"))
    .collect()
});

/// Rewrites client wrappers into cert-manager's shape; returns the text unchanged when none
/// is present.
pub fn canonical(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (re, replacement) in REWRITES.iter() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *replacement).into_owned());
        }
    }
    out
}

/// The identifier a message names around its problems (`for domains "x"`, `identifier x`,
/// `[x]`), for findings whose problem does not name one.
pub fn identifier(text: &str) -> Option<String> {
    IDENTIFIER_RES.iter().find_map(|re| {
        re.captures_iter(text)
            .map(|c| challenge_identifier(&c[1]))
            .find(|n| n.contains('.') || n.contains(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certbot_block_becomes_a_problem() {
        let t = canonical(
            "Domain: www.example.com Type: unauthorized Detail: 1.2.3.4: Invalid response from http://www.example.com/.well-known/acme-challenge/x: 404",
        );
        assert_eq!(
            t,
            "authorization error for www.example.com: urn:ietf:params:acme:error:unauthorized: 1.2.3.4: Invalid response from http://www.example.com/.well-known/acme-challenge/x: 404"
        );
    }

    #[test]
    fn lego_and_map_wrappers() {
        assert!(
            canonical("[a.example.com] acme: error: 403 :: POST :: u :: urn:x")
                .starts_with("authorization error for a.example.com: acme: error")
        );
        assert!(
            canonical("error: map[b.example.com:acme: error: 400]")
                .contains("authorization error for b.example.com: acme: error")
        );
        assert_eq!(
            identifier(r#"Unable to obtain ACME certificate for domains "c.example.com": x"#)
                .as_deref(),
            Some("c.example.com")
        );
    }
}
