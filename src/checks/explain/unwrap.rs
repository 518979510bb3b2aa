//! The second step: take each line's message out of the log format it came in.
//!
//! cert-manager has logged in three shapes over its life (klog text, logr's `"msg"="..."`
//! pairs, JSON), other clients have their own (logfmt in Traefik, JSON in Caddy, certbot's and
//! acme.sh's prefixes, Go's `log` timestamps in lego), and `kubectl describe` adds its field
//! names and Events table. A line that carries such a wrapper is a record: it starts a message
//! of its own. Everything else is plain text, which the splitter groups.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::normalise::unescape;

/// The wrapper a line came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// No wrapper recognised: free text, or the continuation of a wrapped message.
    Plain,
    /// A log record (klog, logr pairs, JSON, logfmt, a client's prefixed line).
    Log,
    /// A `kubectl describe` field (`Reason:`, `Message:`) or Events row.
    Describe,
}

/// One line, its message taken out of the wrapper.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    /// The line as it was pasted (after cleaning).
    pub raw: &'a str,
    /// The message it carries.
    pub text: Cow<'a, str>,
    /// How it was wrapped.
    pub wrapper: Wrapper,
    /// A name the record carries in a field of its own (`dnsName`, `identifier`, `domain`).
    pub identifier: Option<String>,
    /// Leading whitespace, in characters (tabs count as one).
    pub indent: usize,
}

/// klog's header: severity, date, time, thread id, file:line.
static KLOG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[IWEF]\d{4}\s+\d{2}:\d{2}:\d{2}\.\d+\s+\d+\s+[^\]\s]+\]\s?").expect("valid regex")
});
/// certbot's log file header: `2021-03-01 12:00:00,123:DEBUG:acme.client:`.
static CERTBOT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}:[A-Z]+:[\w.]+:\s?")
        .expect("valid regex")
});
/// acme.sh's header: `[Tue Mar  1 12:00:00 UTC 2022] `.
static ACMESH_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [^\]]{8,40}\]\s?").expect("valid regex")
});
/// syslog / journald: `Mar  1 12:00:00 host prog[123]: `.
static SYSLOG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+ [^:\s\[]+(?:\[\d+\])?:\s")
        .expect("valid regex")
});
/// A leading timestamp (Go's `log`, `kubectl logs --timestamps`, Caddy v1, lego) with an
/// optional `[LEVEL]` or `level:` after it.
static TIMESTAMP_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?\s+(?:\[[A-Za-z]+\]\s+|(?:INFO|WARN|WARNING|ERROR|ERRO|DEBUG|error|info|warn)\s+)?")
        .expect("valid regex")
});
/// A bracketed level word at the start of a line.
static LEVEL_MARK_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[(?:EROR|ERROR|WARN|WARNING|INFO|DBUG|DEBUG|VERB)\]\s*").expect("valid regex")
});
/// A `kubectl describe` field whose value is a message.
static DESCRIBE_FIELD_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:Reason|Message|Status Reason):\s+(\S.*)$").expect("valid regex")
});
/// A row of `kubectl get challenges`: name, state, domain, reason, age.
static CHALLENGE_ROW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\S+\s+(?:pending|processing|valid|invalid|errored|expired|ready)\s+(\S+\.\S+)\s+(\S.*?)\s+\S+$")
        .expect("valid regex")
});
/// A row of `kubectl describe`'s Events table: type, reason, age, from, message.
static EVENT_ROW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:Normal|Warning)\s+\S+\s+.+?\s{2,}\S+\s{2,}(\S.*)$").expect("valid regex")
});

/// Keys whose value is the record's message, in the order they are read.
const MESSAGE_KEYS: &[&str] = &["msg", "message", "M"];
/// Keys whose value is the error the record reports.
const ERROR_KEYS: &[&str] = &["error", "err", "E", "reason", "detail", "problem"];
/// Keys whose value names the identifier.
const IDENTIFIER_KEYS: &[&str] = &["dnsName", "identifier", "domain", "domains"];

/// Takes one cleaned line apart.
pub fn unwrap_line(raw: &str) -> Line<'_> {
    let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
    // A quoted paste (Markdown, e-mail): "> " before every line.
    let trimmed = raw.trim();
    let trimmed = trimmed
        .strip_prefix('>')
        .filter(|rest| !rest.starts_with(['>', '=']))
        .map_or(trimmed, str::trim_start);
    // win-acme and other Windows clients mark the level, not a record: "[EROR] ...".
    let trimmed = LEVEL_MARK_RE
        .find(trimmed)
        .map_or(trimmed, |m| &trimmed[m.end()..]);
    let mut wrapper = Wrapper::Plain;
    let mut rest = trimmed;
    // Prefixes nest (a timestamp before a klog header, `kubectl logs --timestamps`).
    for _ in 0..3 {
        let stripped = [
            &*KLOG_RE,
            &*CERTBOT_RE,
            &*ACMESH_RE,
            &*SYSLOG_RE,
            &*TIMESTAMP_RE,
        ]
        .iter()
        .find_map(|re| re.find(rest).map(|m| &rest[m.end()..]));
        match stripped {
            Some(after) => {
                wrapper = Wrapper::Log;
                rest = after.trim_start();
            }
            None => break,
        }
    }
    if let Some(fields) = json_fields(rest)
        .or_else(|| pair_fields(rest))
        .or_else(|| trailing_json(rest))
    {
        return Line {
            raw,
            text: Cow::Owned(fields.text),
            wrapper: Wrapper::Log,
            identifier: fields.identifier,
            indent,
        };
    }
    if wrapper == Wrapper::Plain
        && let Some(c) = CHALLENGE_ROW_RE.captures(raw)
    {
        return Line {
            raw,
            text: Cow::Owned(c[2].to_owned()),
            wrapper: Wrapper::Describe,
            identifier: Some(c[1].to_owned()),
            indent,
        };
    }
    if wrapper == Wrapper::Plain
        && let Some(c) = EVENT_ROW_RE
            .captures(raw)
            .or_else(|| DESCRIBE_FIELD_RE.captures(raw))
    {
        let m = c.get(1).map_or(rest, |m| m.as_str());
        return Line {
            raw,
            text: Cow::Borrowed(m),
            wrapper: Wrapper::Describe,
            identifier: None,
            indent,
        };
    }
    Line {
        raw,
        text: if wrapper == Wrapper::Log {
            unescape(rest)
        } else {
            Cow::Borrowed(rest)
        },
        wrapper,
        identifier: None,
        indent,
    }
}

/// What a structured record says.
struct Fields {
    text: String,
    identifier: Option<String>,
}

impl Fields {
    /// Joins the message and the error (`propagation check failed: wrong status code ...`), or
    /// returns `None` when the record carries neither.
    fn from_lookup<'k>(get: impl Fn(&str) -> Option<Cow<'k, str>>) -> Option<Fields> {
        let msg = MESSAGE_KEYS.iter().find_map(|k| get(k));
        let errors: Vec<Cow<'_, str>> = ERROR_KEYS.iter().filter_map(|k| get(k)).collect();
        if msg.is_none() && errors.is_empty() {
            return None;
        }
        let mut text = msg.map(Cow::into_owned).unwrap_or_default();
        for e in errors {
            if e.trim().is_empty() || text.contains(e.as_ref()) {
                continue;
            }
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&e);
        }
        let identifier = IDENTIFIER_KEYS
            .iter()
            .find_map(|k| get(k))
            .map(|v| {
                v.trim_matches(|c: char| c == '[' || c == ']' || c == '"')
                    .to_owned()
            })
            .filter(|v| !v.is_empty() && !v.contains(' '));
        if let Some(name) = &identifier {
            // Kept in the text too, in the field form the classifiers read for a name.
            text.push_str(&format!(" dnsName=\"{name}\""));
        }
        Some(Fields { text, identifier })
    }
}

/// A JSON log record (cert-manager's JSON format, Caddy, Traefik's JSON format).
fn json_fields(rest: &str) -> Option<Fields> {
    if !rest.starts_with('{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(rest).ok()?;
    let object = value.as_object()?;
    Fields::from_lookup(|k| match object.get(k)? {
        serde_json::Value::String(s) => Some(Cow::Owned(s.clone())),
        serde_json::Value::Array(items) => Some(Cow::Owned(
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )),
        other if !other.is_null() => Some(Cow::Owned(other.to_string())),
        _ => None,
    })
}

/// Text followed by a JSON object of fields (Caddy's console format: `ERROR tls.obtain could
/// not get certificate from issuer {"identifier": "x", "error": "..."}`).
fn trailing_json(rest: &str) -> Option<Fields> {
    let start = rest.find("{\"")?;
    if !rest.trim_end().ends_with('}') {
        return None;
    }
    let mut fields = json_fields(&rest[start..])?;
    let lead = rest[..start].trim();
    if !lead.is_empty() {
        fields.text = format!("{lead}: {}", fields.text);
    }
    Some(fields)
}

/// `key=value` pairs: logfmt (`level=error msg="..."`), logr (`"msg"="..." "error"="..."`) and
/// klog's structured form (`"propagation check failed" err="..."`, the message first).
///
/// Hand-written because the logfmt crates read neither logr's quoted keys nor klog's leading
/// quoted message.
fn pair_fields(rest: &str) -> Option<Fields> {
    let (lead, pairs, clean) = parse_pairs(rest);
    if !clean {
        // Free text between pairs: the quoting is broken (Traefik writes unescaped quotes
        // inside msg="..."), so the pairs cannot be trusted; the line is read as plain text.
        return None;
    }
    let known = |k: &str| {
        MESSAGE_KEYS
            .iter()
            .chain(ERROR_KEYS)
            .any(|m| m.eq_ignore_ascii_case(k))
    };
    if !pairs.iter().any(|(k, _)| known(k)) {
        return None;
    }
    let mut fields = Fields::from_lookup(|k| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| Cow::Owned(v.clone()))
    })?;
    if !pairs
        .iter()
        .any(|(k, _)| MESSAGE_KEYS.contains(&k.as_str()))
        && !lead.is_empty()
    {
        fields.text = format!("{lead}: {}", fields.text);
    }
    Some(fields)
}

/// Splits `text` into a leading free-text part (klog's quoted message, a logger name) and its
/// `key=value` pairs, values unquoted and unescaped; the flag is false when free text follows
/// a pair.
fn parse_pairs(text: &str) -> (String, Vec<(String, String)>, bool) {
    let mut clean = true;
    let mut lead = String::new();
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some((key, value, after)) = one_pair(rest) {
            pairs.push((key, value));
            rest = after.trim_start();
            continue;
        }
        // Free text up to the next space (a quoted leading message is taken whole).
        let (word, after) = match rest.strip_prefix('"').and_then(quoted_end) {
            Some(end) if pairs.is_empty() => {
                // `end` counts from after the opening quote.
                let inner = &rest[1..1 + end];
                (unescape(inner).into_owned(), &rest[end + 2..])
            }
            _ => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_owned(), &rest[end..])
            }
        };
        if pairs.is_empty() {
            if !lead.is_empty() {
                lead.push(' ');
            }
            lead.push_str(&word);
        } else {
            clean = false;
        }
        rest = after.trim_start();
    }
    (lead, pairs, clean)
}

/// One `key=value` or `"key"="value"` at the start of `text`.
fn one_pair(text: &str) -> Option<(String, String, &str)> {
    let (key, after_key) = if let Some(inner) = text.strip_prefix('"') {
        let end = quoted_end(inner)?;
        (&inner[..end], &inner[end + 1..])
    } else {
        let end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .unwrap_or(text.len());
        (&text[..end], &text[end..])
    };
    if key.is_empty() || key.contains(' ') || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value_text = after_key.strip_prefix('=')?;
    if let Some(inner) = value_text.strip_prefix('"') {
        let end = quoted_end(inner)?;
        return Some((
            key.to_owned(),
            unescape(&inner[..end]).into_owned(),
            &inner[end + 1..],
        ));
    }
    let end = value_text
        .find(char::is_whitespace)
        .unwrap_or(value_text.len());
    Some((
        key.to_owned(),
        value_text[..end].to_owned(),
        &value_text[end..],
    ))
}

/// The index of the closing quote of a string whose opening quote was just consumed.
fn quoted_end(inner: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klog_logr_pairs() {
        let l = unwrap_line(
            r#"E0105 14:20:08.488171       1 sync.go:186] cert-manager/controller/challenges "msg"="propagation check failed" "error"="wrong status code '404', expected '200'" "dnsName"="dp.example.com" "type"="HTTP-01""#,
        );
        assert_eq!(l.wrapper, Wrapper::Log);
        assert_eq!(
            l.text,
            "propagation check failed: wrong status code '404', expected '200' dnsName=\"dp.example.com\""
        );
        assert_eq!(l.identifier.as_deref(), Some("dp.example.com"));
    }

    #[test]
    fn klog_structured_leading_message() {
        let l = unwrap_line(
            r#"E0828 12:00:00.000000       1 sync.go:190] "propagation check failed" err="NS ns1.example.:53 returned REFUSED for _acme-challenge.a.example." dnsName="a.example""#,
        );
        assert_eq!(
            l.text,
            "propagation check failed: NS ns1.example.:53 returned REFUSED for _acme-challenge.a.example. dnsName=\"a.example\""
        );
    }

    #[test]
    fn json_and_logfmt() {
        let l = unwrap_line(
            r#"{"level":"error","ts":1700000000.1,"logger":"tls.obtain","msg":"could not get certificate from issuer","identifier":"x.example","error":"HTTP 429 urn:ietf:params:acme:error:rateLimited - too many"}"#,
        );
        assert_eq!(
            l.text,
            "could not get certificate from issuer: HTTP 429 urn:ietf:params:acme:error:rateLimited - too many dnsName=\"x.example\""
        );
        assert_eq!(l.identifier.as_deref(), Some("x.example"));
        let l = unwrap_line(
            r#"time="2020-01-01T00:00:00Z" level=error msg="Unable to obtain ACME certificate for domains \"a.example\"" providerName=le.acme"#,
        );
        assert_eq!(
            l.text,
            "Unable to obtain ACME certificate for domains \"a.example\""
        );
    }

    #[test]
    fn client_prefixes_and_describe() {
        assert_eq!(
            unwrap_line("2021-03-01 12:00:00,123:DEBUG:acme.client:Received response").text,
            "Received response"
        );
        assert_eq!(
            unwrap_line("[Tue Mar  1 12:00:00 UTC 2022] a.example:Verify error:x").text,
            "a.example:Verify error:x"
        );
        let row = unwrap_line(
            "  Warning  Failed     2m (x3 over 5m)  cert-manager-challenges  Accepting challenge authorization failed: x",
        );
        assert_eq!(row.wrapper, Wrapper::Describe);
        assert_eq!(row.text, "Accepting challenge authorization failed: x");
        assert_eq!(
            unwrap_line("    Reason:      Waiting for HTTP-01 challenge propagation").text,
            "Waiting for HTTP-01 challenge propagation"
        );
    }

    #[test]
    fn empty_and_unterminated_quotes_do_not_panic() {
        for line in [
            r#""" a="b""#,
            r#"" "#,
            r#""abc"#,
            r#"msg="unterminated"#,
            r#""k"="#,
        ] {
            let _ = unwrap_line(line);
        }
        assert_eq!(unwrap_line(r#""" msg="x""#).text, "x");
    }

    #[test]
    fn plain_text_with_equals_is_plain() {
        let l = unwrap_line("Please visit: https://portal.example/unpause?jwt=abc");
        assert_eq!(l.wrapper, Wrapper::Plain);
    }
}
