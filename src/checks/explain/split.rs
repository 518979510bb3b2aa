//! The fourth step: group a paste's lines into messages.
//!
//! A log record or a `kubectl describe` field starts a message of its own. Plain lines are
//! harder: a long message arrives wrapped over several lines, and several short messages
//! arrive one per line. A plain line continues the message before it when it is indented
//! deeper, when the message visibly goes on (it ends in a separator, leaves a bracket open, or
//! was cut mid-sentence at a fixed width), when it says nothing recognisable on its own, or
//! when the message so far says nothing recognisable; otherwise it starts a new one. A blank
//! line always ends a message.

use std::sync::LazyLock;

use regex::Regex;

use super::unwrap::{Line, Wrapper};

/// Longest message, in bytes: Kubernetes caps a condition message at 32 KiB, so anything
/// longer is several messages run together (or not a message at all).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// One message found in a paste.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// The message text, lines joined with newlines (whitespace is collapsed later).
    pub text: String,
    /// The lines as pasted, for evidence.
    pub raw: String,
    /// A name a log record carried in a field of its own.
    pub identifier: Option<String>,
    /// Whether the first line was a log record or describe field.
    structured: bool,
    indent: usize,
    /// Whether the text so far is recognisable on its own (cached: deciding costs a scan).
    recognised: bool,
}

/// Groups `lines` into messages; `recognisable` says whether a text alone names a problem.
pub fn split<'a>(
    lines: impl IntoIterator<Item = Line<'a>>,
    mut recognisable: impl FnMut(&str) -> bool,
) -> Vec<Message> {
    let mut out = Vec::new();
    let mut current: Option<Message> = None;
    for line in lines {
        if line.raw.trim().is_empty() {
            out.extend(current.take());
            continue;
        }
        let starts_new = match &current {
            None => true,
            Some(m) if m.structured && LOGR_PAIR_RE.is_match(line.raw) => false,
            Some(_) if line.wrapper != Wrapper::Plain => true,
            Some(m) if m.text.len() + line.text.len() > MAX_MESSAGE_BYTES => true,
            Some(m) if line.indent > m.indent => false,
            Some(m)
                if unfinished(&m.text) || continues(&line.text) || wrapped(&m.text, &line.text) =>
            {
                false
            }
            Some(m) if !m.recognised => false,
            Some(_) => recognisable(&line.text),
        };
        if starts_new {
            out.extend(current.take());
            let recognised = recognisable(&line.text);
            current = Some(Message {
                text: line.text.into_owned(),
                raw: line.raw.to_owned(),
                identifier: line.identifier,
                structured: line.wrapper != Wrapper::Plain,
                indent: line.indent,
                recognised,
            });
        } else if let Some(m) = current.as_mut() {
            m.text.push('\n');
            m.text.push_str(&line.text);
            m.raw.push('\n');
            m.raw.push_str(line.raw);
            if m.identifier.is_none() {
                m.identifier = line.identifier;
            }
            if !m.recognised {
                m.recognised = recognisable(&m.text);
            }
        }
    }
    out.extend(current);
    out
}

/// Whether a message so far visibly goes on: it ends in a separator (`:`, `::`, `,`, an
/// opening bracket) or leaves a JSON object or array open.
fn unfinished(text: &str) -> bool {
    let end = text.trim_end();
    if end.ends_with([':', ',', '{', '[', '(', '-', '|']) {
        return true;
    }
    let open = text.bytes().filter(|&b| b == b'{' || b == b'[').count();
    let close = text.bytes().filter(|&b| b == b'}' || b == b']').count();
    open > close
}

/// Whether a line is the rest of a sentence that was wrapped at a fixed width (YAML folding, a
/// terminal): the line before is long and ends mid-sentence, and this one goes on in lower
/// case. Separate messages start with a capital letter nearly always.
fn wrapped(before: &str, line: &str) -> bool {
    let last = before.rsplit('\n').next().unwrap_or(before).trim_end();
    last.chars().count() >= 60
        && !last.ends_with(['.', '!', '?', '"', '\'', ')', ']', '}'])
        && line.trim_start().starts_with(|c: char| c.is_lowercase())
}

/// Whether a line can only be the rest of something: a JSON member, a closing bracket, lego's
/// `::` separator.
fn continues(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(['}', ']', ')'])
        || t.starts_with("::")
        || (t.starts_with('"') && t.contains("\":"))
        || PROBLEM_FIELD_RE.is_match(t)
}

/// A problem document's member printed on a line of its own (`[detail] ...`, `detail: ...`).
static PROBLEM_FIELD_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\[(?:detail|status|type|instance)\]|(?:detail|status|instance|subproblems)\s*[:=])")
        .expect("valid regex")
});

/// A logr pair alone on its line: a record that a paste broke over several lines.
static LOGR_PAIR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*"[A-Za-z_]+"="#).expect("valid regex"));

#[cfg(test)]
mod tests {
    use super::super::unwrap::unwrap_line;
    use super::*;

    fn texts(input: &str, known: &[&str]) -> Vec<String> {
        split(input.lines().map(unwrap_line), |t| {
            known.iter().any(|k| t.contains(k))
        })
        .into_iter()
        .map(|m| m.text)
        .collect()
    }

    #[test]
    fn wrapped_message_is_joined_and_distinct_ones_are_not() {
        let input = "error A happened for\n  x.example\nerror B\n\nerror A again";
        assert_eq!(
            texts(input, &["error A", "error B"]),
            vec![
                "error A happened for\nx.example",
                "error B",
                "error A again"
            ]
        );
    }

    #[test]
    fn preamble_joins_the_first_message() {
        let input = "kubectl describe challenge x\nerror A";
        assert_eq!(
            texts(input, &["error A"]),
            vec!["kubectl describe challenge x\nerror A"]
        );
    }

    #[test]
    fn log_records_are_separate() {
        let input =
            "E0101 00:00:00.000000 1 a.go:1] error A\nE0101 00:00:00.000000 1 a.go:1] error A";
        assert_eq!(texts(input, &["error A"]).len(), 2);
    }
}
