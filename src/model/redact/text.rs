//! Redaction of free text (messages, Events, log lines, pasted errors, debug logs): secrets are
//! found by their shape, since free text has no field names to go by.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret value.
pub const MARK: &str = "[redacted]";

static PEM_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
    .expect("valid regex")
});

/// `name: value` / `name=value` / `"name":"value"` where the name says the value is secret.
/// The names are listed rather than matched by word, because free text says `key` and `token`
/// about public things all the time (an ACME challenge's key authorization, "token" in a
/// cert-manager message); structured objects get the word rule instead (see `tree`).
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    // An ASCII word boundary: a Unicode one keeps the regex off its fast DFA, which on a 10 MB
    // paste cost nearly a second.
    Regex::new(concat!(
        r#"(?i)(?-u:\b)("#,
        r"eab[_-]?hmac[_-]?key|hmac[_-]?key|hmac|key[_-]?secret|secret[_-]?access[_-]?key",
        r"|secret[_-]?key|client[_-]?secret|app(?:lication)?[_-]?secret|api[_-]?secret",
        r"|private[_-]?key|tls\.key|api[_-]?key|api[_-]?token|access[_-]?token|auth[_-]?token",
        r"|refresh[_-]?token|bearer[_-]?token|session[_-]?token|consumer[_-]?key|password",
        r"|passwd|api[_-]?password|credentials?|jwt",
        r#")(["']?\s*[:=]\s*["']?)([A-Za-z0-9+/=_.~\-]{8,})"#,
    ))
    .expect("valid regex")
});

/// An `Authorization: Bearer ...` credential, in a header dump or a curl command line.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)(bearer\s+)([A-Za-z0-9._~+/=\-]{8,})").expect("valid regex")
});

/// A JSON Web Token (three base64url parts, a JSON header first): service account tokens,
/// OIDC tokens, signed API credentials.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
        .expect("valid regex")
});

/// A `"name": "value"` pair of JSON inside text (a request or response body in a trace log, a
/// pasted `kubectl get -o json`). JSON names are exact field names, so the structural rule
/// applies to them (`tree::secret_field`), unlike free text.
static JSON_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""([A-Za-z][A-Za-z0-9_.\-]{0,63})"\s*:\s*"([^"\\]+)""#).expect("valid regex")
});

fn json_secrets(text: &str) -> bool {
    text.contains("\":")
        && JSON_PAIR
            .captures_iter(text)
            .any(|c| super::tree::secret_value(&c[1], &c[2]))
}

/// Whether `text` holds anything [`redact`] would replace.
pub fn needs_redaction(text: &str) -> bool {
    text.contains("PRIVATE KEY")
        || SECRET_FIELD.is_match(text)
        || BEARER.is_match(text)
        || (text.contains("eyJ") && JWT.is_match(text))
        || json_secrets(text)
}

/// An ACME CA's unpause link for a paused account (Boulder's self-service frontend,
/// `sfe/v1/unpause?jwt=...`). Its token is kept: it only lets the holder lift the pause the
/// CA put on this account (it grants no issuance and no access), and without it the link that
/// is the one way out of the pause is useless. The link is public to anyone who can read the
/// Order it came in.
static UNPAUSE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"https://[A-Za-z0-9.\-]+(?::\d+)?/sfe/v1/unpause\?jwt=[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
        .expect("valid regex")
});

/// Replaces private keys, JWTs, bearer credentials and secret-named values in `text` by a
/// marker; a CA's unpause link is kept whole (see [`UNPAUSE_URL`]).
pub fn redact(text: &str) -> String {
    if !needs_redaction(text) {
        return text.to_owned();
    }
    if text.contains("/unpause?jwt=") && UNPAUSE_URL.is_match(text) {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in UNPAUSE_URL.find_iter(text) {
            out.push_str(&redact_all(&text[last..m.start()]));
            out.push_str(m.as_str());
            last = m.end();
        }
        out.push_str(&redact_all(&text[last..]));
        return out;
    }
    redact_all(text)
}

fn redact_all(text: &str) -> String {
    if !needs_redaction(text) {
        return text.to_owned();
    }
    let text = PEM_KEY.replace_all(text, "[private key redacted]");
    // An END line left means the text was cut inside a key (a tail, a truncated paste):
    // everything before it may be key material.
    let text = match text.rfind("PRIVATE KEY-----") {
        Some(i) => std::borrow::Cow::Owned(format!(
            "[private key redacted]{}",
            &text[i + "PRIVATE KEY-----".len()..]
        )),
        None => text,
    };
    let text = JWT.replace_all(&text, "[token redacted]");
    let text = BEARER.replace_all(&text, format!("${{1}}{MARK}"));
    let text = if json_secrets(&text) {
        std::borrow::Cow::Owned(
            JSON_PAIR
                .replace_all(&text, |c: &regex::Captures<'_>| {
                    if super::tree::secret_value(&c[1], &c[2]) {
                        format!("\"{}\":\"{MARK}\"", &c[1])
                    } else {
                        c[0].to_owned()
                    }
                })
                .into_owned(),
        )
    } else {
        text
    };
    SECRET_FIELD
        .replace_all(&text, format!("${{1}}${{2}}{MARK}"))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn removes_pem_keys_and_secret_fields() {
        let t = "x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY----- y";
        assert_eq!(redact(t), "x [private key redacted] y");
        assert_eq!(
            redact("eab hmac_key: c2VjcmV0c2VjcmV0"),
            "eab hmac_key: [redacted]"
        );
        assert_eq!(redact("plain text"), "plain text");
        let cut = "-----BEGIN PRIVATE KEY-----\nMIIEv (truncated";
        assert_eq!(redact(cut), "[private key redacted]");
        let tail = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\ndone";
        assert_eq!(redact(tail), "[private key redacted]\ndone");
    }

    #[test]
    fn a_cas_unpause_link_is_kept_and_other_tokens_around_it_are_not() {
        // The shape of Let's Encrypt's message (Boulder wfe2; the README's section on the 2025-2028 CA changes).
        let url = "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=eyJhbGciOiJIUzI1NiJ9.eyJhcGlWZXJzaW9uIjoidjEifQ.c2lnbmF0dXJlc2ln";
        let t = format!(
            "Please visit: {url} token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlc2ln"
        );
        assert_eq!(
            redact(&t),
            format!("Please visit: {url} token [token redacted]")
        );
        // A JWT elsewhere in a URL is no unpause link.
        assert!(!redact("https://evil.example/x?jwt=eyJhbGciOiJIUzI1NiJ9.eyJhcGlWZXJzaW9uIjoidjEifQ.c2lnbmF0dXJlc2ln").contains("eyJhbGci"));
    }

    /// The shapes a review found the first patterns missed.
    #[test]
    fn removes_the_shapes_the_review_found() {
        for (text, kept) in [
            ("hmac: c2VjcmV0c2VjcmV0", "hmac: "),
            ("keySecret=c2VjcmV0c2VjcmV0", "keySecret="),
            (
                "secretAccessKey: wJalrXUtnFEMI/K7MDENG",
                "secretAccessKey: ",
            ),
            (r#"{"apiKey":"0123456789abcdef"}"#, r#"{"apiKey":""#),
            (
                "Authorization: Bearer abcdef0123456789",
                "Authorization: Bearer ",
            ),
        ] {
            let out = redact(text);
            assert!(
                out.starts_with(kept) && out.contains("[redacted]"),
                "{text} -> {out}"
            );
        }
        let body = r#"{"config":{"applicationKey":"abc123def","endpoint":"ovh-eu","opaque":"9f86d081884c7d659a2feaa0c55ad015a3bf"}}"#;
        assert_eq!(
            redact(body),
            r#"{"config":{"applicationKey":"[redacted]","endpoint":"ovh-eu","opaque":"[redacted]"}}"#
        );
        let jwt = "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlc2ln";
        assert_eq!(redact(jwt), "token [token redacted]");
    }

    /// What cert-manager says about public values stays readable.
    #[test]
    fn leaves_public_words_alone() {
        for text in [
            r#"Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'"#,
            r#"secret "shop-tls" not found"#,
            "Issuing certificate as Secret does not exist",
            r#"key authorization "abc.def" not found"#,
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
