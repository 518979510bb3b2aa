//! What a batch is asked to issue: certificate requests from `--domain` flags or a domains file
//! (one certificate per line, names separated by spaces or commas, `#` comments).

use std::collections::BTreeMap;

/// One certificate to issue: its names in the order given (the first names the files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    /// The names, trimmed, lowercased, without a trailing dot, first as given, duplicates
    /// within the line dropped.
    pub names: Vec<String>,
    /// Where it came from, for messages: `--domain` or `FILE:LINE`.
    pub origin: String,
    /// How many times the same set of names was asked for (identical lines collapse into one
    /// request, so a name listed twice is ordered once).
    pub requested: usize,
}

impl CertRequest {
    /// The name that names the certificate's files (the first one given).
    pub fn first_name(&self) -> &str {
        self.names.first().map_or("", String::as_str)
    }

    /// The names sorted and deduplicated: the request's identity, as the store compares sets.
    pub fn key(&self) -> Vec<String> {
        let mut key = self.names.clone();
        key.sort();
        key.dedup();
        key
    }
}

/// Why the requested names cannot be turned into a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Nothing to issue.
    #[error("no names to issue: give --domain NAME or a --domains-file with at least one name")]
    Empty,
    /// Two different certificates would be written to the same files.
    #[error(
        "{first} and {second} are different certificates that both start with {name}: their \
         files would overwrite each other; put a different name first on one of them"
    )]
    SameFirstName {
        /// The shared first name.
        name: String,
        /// Where the first one came from.
        first: String,
        /// Where the second one came from.
        second: String,
    },
}

/// Parses one SAN group (`a.example b.example,c.example`) into normalised names; `#` starts a
/// comment. Empty when the text holds no name.
pub fn parse_group(text: &str) -> Vec<String> {
    let text = text.split('#').next().unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for raw in text.split(|c: char| c == ',' || c.is_whitespace()) {
        let name = normalize(raw);
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Parses a domains file: one certificate per non-empty line.
pub fn parse_domains_file(text: &str, file_label: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (parse_group(line), format!("{file_label}:{}", i + 1)))
        .filter(|(names, _)| !names.is_empty())
        .collect()
}

/// Turns groups of names (with their origins) into requests: identical sets collapse into one
/// request (counted in `requested`), input order is kept, and two different sets that share a
/// first name are refused because their files would collide.
pub fn collect_requests(
    groups: impl IntoIterator<Item = (Vec<String>, String)>,
) -> Result<Vec<CertRequest>, InputError> {
    let mut requests: Vec<CertRequest> = Vec::new();
    let mut by_key: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut by_first: BTreeMap<String, usize> = BTreeMap::new();
    for (names, origin) in groups {
        if names.is_empty() {
            continue;
        }
        let request = CertRequest {
            names,
            origin,
            requested: 1,
        };
        let key = request.key();
        if let Some(&i) = by_key.get(&key) {
            requests[i].requested += 1;
            continue;
        }
        let first = file_stem(request.first_name());
        if let Some(&i) = by_first.get(&first) {
            return Err(InputError::SameFirstName {
                name: request.first_name().to_owned(),
                first: requests[i].origin.clone(),
                second: request.origin,
            });
        }
        by_key.insert(key, requests.len());
        by_first.insert(first, requests.len());
        requests.push(request);
    }
    if requests.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(requests)
}

/// The file name stem for a certificate named `name`: the name itself, with a wildcard's `*`
/// spelt `_` (a `*` in a file name is a trap for every shell script that touches it).
pub fn file_stem(name: &str) -> String {
    name.replace('*', "_")
}

fn normalize(raw: &str) -> String {
    let name = raw.trim();
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_a_san_group_and_comments_are_ignored() {
        assert_eq!(
            parse_group(" WWW.Example.com., example.com  api.example.com # old: x.example"),
            ["www.example.com", "example.com", "api.example.com"]
        );
        assert!(parse_group("   # only a comment").is_empty());
        assert_eq!(parse_group("a.example,,a.example"), ["a.example"]);
    }

    #[test]
    fn identical_sets_collapse_and_colliding_files_are_refused() {
        let text = "a.example b.example\n\n# c\nb.example,a.example\nc.example\n";
        let requests = collect_requests(parse_domains_file(text, "d.txt")).unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].requested, 2);
        assert_eq!(requests[0].origin, "d.txt:1");
        assert_eq!(requests[0].key(), ["a.example", "b.example"]);
        assert_eq!(requests[1].first_name(), "c.example");

        let clash = collect_requests(parse_domains_file("a.example\na.example b.example", "f"));
        assert!(matches!(clash, Err(InputError::SameFirstName { .. })));
        assert_eq!(
            collect_requests(parse_domains_file("# nothing\n", "f")),
            Err(InputError::Empty)
        );
    }

    #[test]
    fn wildcard_file_names_have_no_star() {
        assert_eq!(file_stem("*.example.com"), "_.example.com");
    }
}
