//! The first step of reading a paste: make it text a classifier can search.
//!
//! What people paste has been through terminals (colour codes, CRLF, tabs), log encoders (Go's
//! `%q` and JSON escapes), HTML error pages and `kubectl describe`'s line wrapping. Each of
//! these is undone here, once, before anything tries to recognise a message.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// Decodes raw input leniently: invalid UTF-8 (a Latin-1 log, a binary paste) becomes U+FFFD
/// instead of an error, so whatever text there is can still be read.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Removes terminal escape sequences and control characters, makes every line end a `\n`.
/// Tabs stay (they separate `kubectl describe` columns).
pub fn clean(text: &str) -> Cow<'_, str> {
    let has_escape = text.contains('\u{1b}');
    let has_control = text
        .bytes()
        .any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f);
    if !has_escape && !has_control {
        return Cow::Borrowed(text);
    }
    // Line ends first: the escape stripper drops a lone CR, which ends a line here.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = if has_escape {
        String::from_utf8_lossy(&strip_ansi_escapes::strip(&text)).into_owned()
    } else {
        text
    };
    Cow::Owned(
        text.chars()
            .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
            .collect(),
    )
}

/// Undoes Go's `%q` and JSON string escaping inside a log line (`err="NS ... for \"x\""`,
/// `\u003c`), so quoted names match the same patterns as in a condition message. A backslash
/// that starts no known escape is kept.
pub fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let rest = chars.as_str();
        match rest.chars().next() {
            Some('"') | Some('\\') | Some('\'') | Some('/') => {
                out.push(rest.chars().next().unwrap_or('\\'));
                chars.next();
            }
            Some('n') | Some('r') => {
                out.push('\n');
                chars.next();
            }
            Some('t') => {
                out.push('\t');
                chars.next();
            }
            Some('u') => match rest
                .get(1..5)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
            {
                Some(decoded) => {
                    out.push(decoded);
                    for _ in 0..5 {
                        chars.next();
                    }
                }
                None => out.push('\\'),
            },
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

static HTML_MARKER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)<!doctype html|<html[\s>]|</title>|<body[\s>]|</h1>|<center>")
        .expect("valid regex")
});
static HTML_TAG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)<(?:script|style)[^>]*>.*?</(?:script|style)>|<[!/]?[A-Za-z][^<>]{0,300}>")
        .expect("valid regex")
});

/// Replaces the tags of an HTML error page by spaces, so its title and heading (`503 Service
/// Temporarily Unavailable`) read like any other message. Only texts that carry an HTML page
/// are touched: `<name>` in a cert-manager message is not a tag.
pub fn strip_html(text: &str) -> Cow<'_, str> {
    if !HTML_MARKER_RE.is_match(text) {
        return Cow::Borrowed(text);
    }
    let stripped = HTML_TAG_RE.replace_all(text, " ");
    Cow::Owned(html_escape::decode_html_entities(&stripped).into_owned())
}

/// Collapses every run of whitespace (line wraps and indentation included) to one space, so a
/// sentence that `kubectl describe` or YAML folding split over lines reads as one.
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_and_crlf_are_removed() {
        let text = "\u{1b}[31mERROR\u{1b}[0m too many\r\nnext\rline\u{0}";
        assert_eq!(clean(text), "ERROR too many\nnext\nline");
    }

    #[test]
    fn go_and_json_escapes_are_undone() {
        assert_eq!(
            unescape(r#"for \"x.com\"\n\tdone \u003chtml\u003e \z"#),
            "for \"x.com\"\n\tdone <html> \\z"
        );
        assert_eq!(unescape(r"\u12"), "\\u12");
    }

    #[test]
    fn html_pages_lose_their_tags_only() {
        let page = "503 : <html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>";
        let text = collapse_whitespace(&strip_html(page));
        assert_eq!(
            text,
            "503 : 503 Service Temporarily Unavailable 503 Service Temporarily Unavailable nginx"
        );
        let plain = "does not advertise a profile with name <p>";
        assert_eq!(strip_html(plain), plain);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(decode(b"caf\xe9 ok"), "caf\u{fffd} ok");
    }
}
