//! The explain corpus (tests/data/explain-corpus/): real messages from public threads and the
//! CAs' and clients' own sources, each with the code a careful SRE would pick. Every entry must
//! come out right: the root code, the other codes it lists, the identifier and the retry-after
//! instant. The test prints the accuracy per file and per wrapper format.

use std::collections::BTreeMap;
use std::path::Path;

use certdx::checks::explain::explain;
use certdx::model::Code;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    source: String,
    year: u16,
    format: String,
    text: String,
    code: String,
    #[serde(default)]
    also: Vec<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    retry_after: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    /// Why certdx still gets this entry wrong: reported, not failed, until it is fixed (and the
    /// test fails if it is right, so the mark is removed then).
    #[serde(default)]
    known_wrong: Option<String>,
}

const FORMATS: &[&str] = &[
    "condition",
    "kubectl-describe",
    "klog",
    "logr",
    "json-log",
    "logfmt",
    "lego",
    "traefik",
    "caddy",
    "certbot",
    "acme.sh",
    "other-client",
    "html",
    "boulder",
    "plain",
];

fn corpus() -> Vec<(String, Entry)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/explain-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).expect("readable corpus file");
        let entries: Vec<Entry> =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.extend(entries.into_iter().map(|e| (name.clone(), e)));
    }
    out
}

/// What is wrong with one entry's result, or `None` when it is right.
fn check(e: &Entry) -> Option<String> {
    let findings = explain(&e.text);
    let Some(first) = findings.first() else {
        return Some("no finding".to_owned());
    };
    let mut wrong = Vec::new();
    if first.code.as_str() != e.code {
        let all: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
        wrong.push(format!("code {} (all: {all:?})", first.code.as_str()));
    }
    for also in &e.also {
        if !findings.iter().any(|f| f.code.as_str() == also) {
            wrong.push(format!("missing {also}"));
        }
    }
    if let Some(want) = &e.identifier {
        let got = findings
            .iter()
            .find(|f| f.code.as_str() == e.code)
            .unwrap_or(first)
            .identifier();
        if !got.is_some_and(|g| g.eq_ignore_ascii_case(want)) {
            wrong.push(format!("identifier {got:?}, want {want}"));
        }
    }
    if let Some(want) = &e.retry_after {
        let want: jiff::Timestamp = want.parse().expect("retry_after is RFC 3339");
        let got = findings
            .iter()
            .find_map(|f| f.rate_limit.as_ref().and_then(|r| r.retry_after));
        if got != Some(want) {
            wrong.push(format!("retry_after {got:?}, want {want}"));
        }
    }
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

#[test]
fn every_corpus_entry_is_classified_right() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 200,
        "the corpus must hold at least 200 messages"
    );
    let mut failures = Vec::new();
    let mut known = Vec::new();
    let mut by_format: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (file, e) in &corpus {
        assert!(
            Code::from_id(&e.code).is_some(),
            "{file}: unknown code {}",
            e.code
        );
        assert!(
            FORMATS.contains(&e.format.as_str()),
            "{file}: unknown format {}",
            e.format
        );
        assert!(
            e.source.starts_with("https://") && (2000..=2030).contains(&e.year),
            "{file}: every entry needs its source URL and year: {}",
            e.source
        );
        let slot = by_format.entry(e.format.as_str()).or_default();
        slot.1 += 1;
        match (check(e), &e.known_wrong) {
            (None, None) => slot.0 += 1,
            (None, Some(_)) => failures.push(format!(
                "{file} {}: right now, remove its known_wrong mark",
                e.source
            )),
            (Some(why), Some(reason)) => {
                known.push(format!("{} ({why}): {reason}", e.source));
            }
            (Some(why), None) => failures.push(format!(
                "{file} {} [{}]: want {}: {why}\n    {}",
                e.source,
                e.format,
                e.code,
                e.text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(160)
                    .collect::<String>()
            )),
        }
    }
    let right = corpus.len() - failures.len() - known.len();
    println!(
        "explain corpus: {right} of {} right ({:.1} %)",
        corpus.len(),
        100.0 * right as f64 / corpus.len() as f64
    );
    for (format, (ok, all)) in &by_format {
        println!("  {format:<16} {ok:>4} / {all}");
    }
    println!("known wrong ({}):", known.len());
    for k in &known {
        println!("  {k}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus entries are wrong:\n{}",
        failures.len(),
        corpus.len(),
        failures.join("\n")
    );
}
