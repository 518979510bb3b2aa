//! YAML plumbing: splitting streams into documents and Lists into items, parsing with
//! positions.

use serde_json::Value;

/// Splits a YAML stream at `---` / `...` marker lines, returning each document with the
/// 1-based line it starts on. Splitting by hand (instead of the parser's own multi-document
/// mode) is what lets a syntax error in one document leave the others loadable.
pub(super) fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        let is_marker = trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "...";
        if is_marker {
            docs.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = i + 2;
            // `--- {inline}` starts a document on the marker line itself.
            if let Some(rest) = trimmed.strip_prefix("--- ")
                && !rest.trim().is_empty()
                && !rest.trim_start().starts_with('#')
            {
                start = offset + 4;
                start_line = i + 1;
            }
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs
}

/// Parses one YAML document that starts on line `first_line` (1-based) of its file. On error,
/// returns the file line and a message whose positions are file lines too.
pub(super) fn parse_yaml(doc: &str, first_line: usize) -> Result<Value, (usize, String)> {
    serde_norway::from_str::<Value>(doc).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line().max(1)) + first_line - 1;
        let text = first_line_of(&e.to_string());
        let message = LINE_REF.replace_all(&text, |c: &regex::Captures| {
            // The message may quote the document, so "line N" may be any number at all.
            let n: usize = c[1].parse().unwrap_or(1);
            format!("line {}", n.saturating_add(first_line - 1))
        });
        (line, message.into_owned())
    })
}

static LINE_REF: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"line (\d+)").expect("valid regex"));

/// A `kind: List` document cut into its items, so they can be parsed one by one (in parallel,
/// without ever holding the whole tree in memory) and a broken item costs only itself.
pub(super) struct ListItems {
    /// The document without its items: must say `kind: ...List`.
    pub header: String,
    /// Each item, de-indented to a document of its own, with its 0-based first line in the
    /// document.
    pub items: Vec<(usize, String)>,
}

/// Cuts `doc` into its List items, if it has the block shape kubectl writes: a top-level
/// `items:` key followed by `- ` entries. Anything else (flow style, anchors shared between
/// items, no `items:`) returns `None` and is parsed whole.
pub(super) fn split_list_items(doc: &str) -> Option<ListItems> {
    let lines: Vec<&str> = doc.lines().collect();
    let items_at = lines.iter().position(|l| l.trim_end() == "items:")?;
    // The dash indentation of the entries: kubectl writes them at column 0, others indent.
    let first = lines[items_at + 1..]
        .iter()
        .find(|l| !is_blank_or_comment(l))?;
    let indent = indentation(first);
    if !first[indent..].starts_with("- ") && first[indent..].trim_end() != "-" {
        return None;
    }
    let body_indent = indent + 2;
    let mut header = String::new();
    let mut items: Vec<(usize, String)> = Vec::new();
    let mut in_items = true;
    for (n, line) in lines.iter().enumerate() {
        if n < items_at {
            header.push_str(line);
            header.push('\n');
            continue;
        }
        if n == items_at {
            continue;
        }
        let line_indent = indentation(line);
        if in_items
            && line_indent == indent
            && (line[indent..].starts_with("- ") || line[indent..].trim_end() == "-")
        {
            let rest = line[indent + 1..].trim_start();
            items.push((n, format!("{rest}\n")));
            continue;
        }
        // Deeper than the dashes: the item's own (a line indented less than its siblings is
        // the item's to report as broken, not the header's).
        if in_items && (is_blank_or_comment(line) || line_indent > indent) {
            match items.last_mut() {
                Some((_, text)) => {
                    text.push_str(if line_indent > indent {
                        &line[line_indent.min(body_indent)..]
                    } else {
                        line.trim_start()
                    });
                    text.push('\n');
                }
                None => return None,
            }
            continue;
        }
        in_items = false;
        header.push_str(line);
        header.push('\n');
    }
    if items
        .iter()
        .any(|(_, t)| t.contains('*') && t.contains('&'))
    {
        // Possibly anchors and aliases across items: only a whole-document parse is correct.
        return None;
    }
    Some(ListItems { header, items })
}

/// The indentation of a line in bytes: YAML indents with spaces only (tabs and Unicode
/// spaces are content to it), and counting only ASCII spaces keeps every offset derived from
/// it on a character boundary.
fn indentation(line: &str) -> usize {
    line.bytes().take_while(|&b| b == b' ').count()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    t.trim_end_matches([' ', '\t', '\r']).is_empty() || t.starts_with('#')
}

fn first_line_of(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_list_items_in_kubectl_and_indented_style() {
        let kubectl = "apiVersion: v1\nitems:\n- apiVersion: a\n  kind: X\n  spec:\n    k: |\n      text\n# note\n- kind: Y\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let l = split_list_items(kubectl).unwrap();
        assert_eq!(l.items.len(), 2);
        assert_eq!(
            l.items[0],
            (
                2,
                "apiVersion: a\nkind: X\nspec:\n  k: |\n    text\n# note\n".to_owned()
            )
        );
        assert_eq!(l.items[1], (8, "kind: Y\n".to_owned()));
        assert!(l.header.contains("kind: List") && l.header.contains("resourceVersion"));
        let indented = "kind: List\nitems:\n  - kind: X\n    a: 1\n  - kind: Y\n";
        let l = split_list_items(indented).unwrap();
        assert_eq!(
            l.items,
            vec![
                (2, "kind: X\na: 1\n".to_owned()),
                (4, "kind: Y\n".to_owned())
            ]
        );
        assert!(split_list_items("kind: List\nitems: []\n").is_none());
    }

    #[test]
    fn unicode_spaces_are_content_not_indentation() {
        // U+3000 is three bytes and U+00A0 two: YAML indents with ASCII spaces only, and an
        // offset counted through them once landed inside a character.
        let doc = "items:\n- kind: X\n \u{3000}a: 1\n \u{a0}b: 2\n  c: 3\n- kind: Y\n\u{3000}\nkind: List\n";
        let l = split_list_items(doc).unwrap();
        assert_eq!(
            l.items,
            vec![
                (1, "kind: X\n\u{3000}a: 1\n\u{a0}b: 2\nc: 3\n".to_owned()),
                (5, "kind: Y\n".to_owned())
            ]
        );
        assert_eq!(l.header, "\u{3000}\nkind: List\n");
    }

    #[test]
    fn splits_documents_with_line_numbers() {
        let text = "a: 1\n---\nb: 2\nc: 3\n--- {d: 4}\n...\n";
        let docs = split_documents(text);
        assert_eq!(docs[0], (1, "a: 1\n"));
        assert_eq!(docs[1], (3, "b: 2\nc: 3\n"));
        assert_eq!(docs[2].0, 5);
        assert!(docs[2].1.starts_with("{d: 4}"));
    }
}
