//! Small text helpers the message classifiers share: cutting, cleaning names, reading Go
//! errors and the instants CAs print. They sit below every classifier and import none.

use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;

/// The first `max` bytes of `text`, cut at a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to `max` bytes with an ellipsis, whitespace kept as it was.
pub fn short_raw(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", prefix(text, max))
}

/// One line of at most about `max` bytes: whitespace runs collapsed, cut with an ellipsis.
pub(crate) fn short(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    let mut last_space = true;
    for ch in text.trim().chars() {
        if out.len() >= max {
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            out.push('…');
            return out;
        }
        if ch.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(ch);
            last_space = false;
        }
    }
    out
}

/// A name as the messages print it, without quotes, brackets, trailing punctuation or the root
/// dot, so `"example.com."` and `example.com` compare equal.
pub(crate) fn clean_identifier(raw: &str) -> String {
    raw.trim()
        .trim_end_matches([':', ',', ';'])
        .trim_matches(|c: char| {
            matches!(
                c,
                '"' | '\'' | '`' | '[' | ']' | '(' | ')' | '<' | '>' | '\\' | '“' | '”'
            )
        })
        .trim_end_matches([':', ',', ';', '.'])
        .trim()
        .to_owned()
}

/// The identifier a challenge name stands for: [`clean_identifier`] without DNS-01's
/// `_acme-challenge.` label.
pub(crate) fn challenge_identifier(raw: &str) -> String {
    let name = clean_identifier(raw);
    match name.strip_prefix("_acme-challenge.") {
        Some(base) => base.to_owned(),
        None => name,
    }
}

/// Compiles one of the classifiers' pattern literals. Every one is exercised by the tests, so
/// a bad pattern is a bug to panic on at first use, never an input error.
pub(crate) fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

/// The useful end of a Go net/http error ("Get \"...\": dial tcp 1.2.3.4:80: connect: connection
/// refused" -> "connection refused").
pub(crate) fn go_error_gist(err: &str) -> String {
    let lower = err.to_ascii_lowercase();
    let known = [
        ("no such host", "the name does not resolve"),
        ("connection refused", "connection refused"),
        ("connection reset by peer", "connection reset by peer"),
        ("i/o timeout", "timed out"),
        ("context deadline exceeded", "timed out"),
        ("client.timeout", "timed out"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network is unreachable"),
        ("stopped after 10 redirects", "too many redirects"),
        ("x509:", "TLS certificate error"),
        ("tls:", "TLS error"),
        ("eof", "the connection was closed (EOF)"),
    ];
    match known.iter().find(|(needle, _)| lower.contains(needle)) {
        Some((_, gist)) => (*gist).to_owned(),
        None => short(err.trim(), 100),
    }
}

/// The instant forms Boulder and cert-manager print: `2025-12-31 04:04:56 UTC` (Go's
/// `2006-01-02 15:04:05 MST` layout), RFC 3339 with `Z`, an offset or fractional seconds, and Go's
/// `time.Time.String()` (`2023-03-02 14:56:29.000000712 +0000 UTC m=+10822.3`).
const TIMESTAMP: &str = r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})\b)?";

static TIMESTAMP_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(TIMESTAMP).expect("valid regex"));

static RETRY_AFTER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)\bretry after:?\s+{TIMESTAMP}")).expect("valid regex")
});

/// Parses the first instant in `text` in any form Boulder or cert-manager prints, as UTC.
///
/// A time without a zone is taken as UTC: Boulder formats every instant in UTC.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let caps = TIMESTAMP_RE.captures(text)?;
    timestamp_from(&caps)
}

/// Builds a timestamp from the eight TIMESTAMP groups (date, time, fraction, zone) by way of
/// RFC 3339, which jiff parses and validates (a 13th month or a 61st minute is rejected).
pub(crate) fn timestamp_from(caps: &regex::Captures<'_>) -> Option<Timestamp> {
    let group = |i: usize| caps.get(i).map(|m| m.as_str());
    let (y, mo, d, h, mi, s) = (
        group(1)?,
        group(2)?,
        group(3)?,
        group(4)?,
        group(5)?,
        group(6)?,
    );
    let frac = group(7).map(|f| &f[..f.len().min(9)]).unwrap_or("");
    let offset = match group(8) {
        None => "Z".to_owned(),
        Some(z)
            if ["z", "utc", "gmt"]
                .iter()
                .any(|u| z.eq_ignore_ascii_case(u)) =>
        {
            "Z".to_owned()
        }
        Some(z) => {
            let digits: String = z.chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            format!("{}{}:{}", &z[..1], &digits[..2], &digits[2..])
        }
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!("{y}-{mo}-{d}T{h}:{mi}:{s}{frac}{offset}")
        .parse()
        .ok()
}

/// The instant after "retry after" (Boulder's wording for every modern limit), if any.
pub fn retry_after(text: &str) -> Option<Timestamp> {
    let caps = RETRY_AFTER_RE.captures(text)?;
    timestamp_from(&caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_respects_char_boundaries() {
        let s = "é".repeat(10);
        assert_eq!(prefix(&s, 5), "éé");
        assert_eq!(short_raw(&s, 3), "é…");
    }

    #[test]
    fn short_collapses_whitespace_and_cuts() {
        assert_eq!(short("  a \n\t b  ", 10), "a b");
        assert_eq!(short("abcdefghij klm", 10), "abcdefghij…");
    }

    #[test]
    fn clean_identifier_strips_decoration() {
        assert_eq!(clean_identifier(" \"example.com.\" "), "example.com");
        assert_eq!(clean_identifier("[*.example.com]:"), "*.example.com");
        assert_eq!(
            challenge_identifier("\"_acme-challenge.a.example.\""),
            "a.example"
        );
    }
}
