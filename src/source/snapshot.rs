//! Loads saved YAML or JSON: a file or a directory, multi-document streams and `kind: List`
//! alike (what `kubectl get ... -A -o yaml` writes).
//!
//! One broken document never stops the rest: it is reported with its file, document index
//! and line, and skipped.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::Inventory;

/// Files larger than this are refused: a snapshot of a very large estate stays well below it,
/// and reading more would risk the memory of the machine certdx runs on.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Why a snapshot could not be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The path does not exist.
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    /// Reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A directory without a single .yaml, .yml or .json file.
    #[error("{}: the directory holds no .yaml, .yml or .json files", .0.display())]
    EmptyDirectory(PathBuf),
    /// Nothing usable was found; the problems say why for each file.
    #[error("{}: no cert-manager objects could be loaded{}", path.display(), summarize(problems))]
    NothingLoaded {
        /// The path given.
        path: PathBuf,
        /// Every problem met.
        problems: Vec<LoadProblem>,
    },
}

fn summarize(problems: &[LoadProblem]) -> String {
    let mut s = String::new();
    for p in problems.iter().take(10) {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    if problems.len() > 10 {
        s.push_str(&format!("\n  ... and {} more", problems.len() - 10));
    }
    s
}

/// A document or file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadProblem {
    /// The file.
    pub file: PathBuf,
    /// 1-based document index in the file, if the problem is about one document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line in the file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(doc) = self.document {
            write!(f, " (document {doc})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a load produced: the objects and everything that was skipped.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The objects.
    pub inventory: Inventory,
    /// Skipped documents and files.
    pub problems: Vec<LoadProblem>,
    /// Objects of kinds certdx does not use (Secrets, Deployments, ...), by kind, in order seen.
    pub ignored_kinds: Vec<(String, usize)>,
    /// Number of files read.
    pub files: usize,
}

impl Snapshot {
    fn ignore(&mut self, kind: &str) {
        match self.ignored_kinds.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += 1,
            None => self.ignored_kinds.push((kind.to_owned(), 1)),
        }
    }
}

/// Loads a file or a directory (recursively: its .yaml, .yml and .json files, in name order).
pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SnapshotError::NotFound(path.to_owned()),
        _ => SnapshotError::Io {
            path: path.to_owned(),
            source: e,
        },
    })?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        if files.is_empty() {
            return Err(SnapshotError::EmptyDirectory(path.to_owned()));
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut snap = Snapshot::default();
    for file in &files {
        snap.files += 1;
        match read_text(file) {
            Ok(text) => load_text(&text, file, &mut snap),
            Err(message) => snap.problems.push(LoadProblem {
                file: file.clone(),
                document: None,
                line: None,
                message,
            }),
        }
    }
    if snap.inventory.is_empty() {
        let mut problems = std::mem::take(&mut snap.problems);
        if problems.is_empty() {
            let message = if snap.ignored_kinds.is_empty() {
                "no Kubernetes objects found (empty file?)".to_owned()
            } else {
                format!(
                    "only objects of other kinds: {}",
                    ignored_summary(&snap.ignored_kinds)
                )
            };
            problems.push(LoadProblem {
                file: path.to_owned(),
                document: None,
                line: None,
                message,
            });
        }
        return Err(SnapshotError::NothingLoaded {
            path: path.to_owned(),
            problems,
        });
    }
    Ok(snap)
}

/// `Secret x2, Deployment x1` style list of ignored kinds.
pub fn ignored_summary(kinds: &[(String, usize)]) -> String {
    kinds
        .iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SnapshotError> {
    let io = |e| SnapshotError::Io {
        path: dir.to_owned(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type().map_err(io)?;
        if file_type.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn read_text(file: &Path) -> Result<String, String> {
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} MiB, more than the {} MiB certdx reads; split the dump (e.g. one file per kind)",
            size / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {}): is this really a YAML or JSON dump?",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Loads the objects in `text` (read from `file`) into `snap`.
pub fn load_text(text: &str, file: &Path, snap: &mut Snapshot) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with(['{', '[']) {
        // JSON (kubectl -o json): one value, possibly a List. serde_json is far faster than a
        // YAML parser on the same text.
        match serde_json::from_str::<Value>(text) {
            Ok(v) => add_value(v, file, 1, snap),
            Err(e) => snap.problems.push(LoadProblem {
                file: file.to_owned(),
                document: Some(1),
                line: Some(e.line()),
                message: format!("invalid JSON: {e}"),
            }),
        }
        return;
    }
    for (index, (first_line, doc)) in split_documents(text).into_iter().enumerate() {
        let document = index + 1;
        if doc
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        match parse_yaml(doc) {
            Ok(Value::Null) => {}
            Ok(v) => add_value(v, file, document, snap),
            Err((line, message)) => snap.problems.push(LoadProblem {
                file: file.to_owned(),
                document: Some(document),
                line: Some(first_line + line.unwrap_or(1) - 1),
                message: format!("invalid YAML: {message}"),
            }),
        }
    }
}

/// Splits a YAML stream at `---` / `...` marker lines, returning each document with the
/// 1-based line it starts on. Splitting by hand (instead of the parser's own multi-document
/// mode) is what lets a syntax error in one document leave the others loadable.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
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

fn parse_yaml(doc: &str) -> Result<Value, (Option<usize>, String)> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only: `namespace: n` or `name: no` are names, not `false`.
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    if let Some(budget) = options.budget.as_mut() {
        // The default budget guards against hostile input; a real `kind: List` of tens of
        // thousands of objects is far larger, so scale the limits with the input size while
        // keeping alias limits (the actual amplification vector) as they are.
        let scaled = doc.len().max(1_000_000);
        budget.max_events = budget.max_events.max(scaled);
        budget.max_nodes = budget.max_nodes.max(scaled);
        budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(doc.len());
        budget.max_reader_input_bytes = None;
    }
    serde_saphyr::from_str_with_options::<Value>(doc, options).map_err(|e| {
        let line = e.location().map(|l| l.line() as usize).filter(|&l| l > 0);
        (line, first_line_of(&e.to_string()))
    })
}

fn first_line_of(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_owned()
}

fn add_value(v: Value, file: &Path, document: usize, snap: &mut Snapshot) {
    let problem = |message: String| LoadProblem {
        file: file.to_owned(),
        document: Some(document),
        line: None,
        message,
    };
    let Value::Object(map) = v else {
        snap.problems.push(problem(format!(
            "not a Kubernetes object but {}",
            type_name(&v)
        )));
        return;
    };
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if kind.is_empty() {
        snap.problems.push(problem(
            "no `kind` field: not a Kubernetes object".to_owned(),
        ));
        return;
    }
    if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
        let mut map = map;
        let Some(Value::Array(items)) = map.remove("items") else {
            return;
        };
        for (i, item) in items.into_iter().enumerate() {
            if let Err(message) = add_object(item, snap) {
                snap.problems
                    .push(problem(format!("item {}: {message}", i + 1)));
            }
        }
        return;
    }
    if let Err(message) = add_object(Value::Object(map), snap) {
        snap.problems.push(problem(message));
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Adds one object to the inventory by its kind and API group.
fn add_object(mut v: Value, snap: &mut Snapshot) -> Result<(), String> {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let api_version = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_owned();
    if kind.is_empty() {
        return Err("no `kind` field: not a Kubernetes object".to_owned());
    }
    let label = || format!("{kind} {name:?}");
    if group.is_empty() && kind == "Secret" {
        // Never even parsed: certdx does not read Secret data.
        snap.ignore(&kind);
        return Ok(());
    }
    crate::model::redact::redact_value(&mut v);
    let inv = &mut snap.inventory;
    match (group, kind.as_str()) {
        ("cert-manager.io", "Certificate") => inv.certificates.push(typed(v, label)?),
        ("cert-manager.io", "CertificateRequest") => inv.requests.push(typed(v, label)?),
        ("cert-manager.io", "Issuer") => inv.issuers.push(typed(v, label)?),
        ("cert-manager.io", "ClusterIssuer") => inv.cluster_issuers.push(typed(v, label)?),
        ("acme.cert-manager.io", "Order") => inv.orders.push(typed(v, label)?),
        ("acme.cert-manager.io", "Challenge") => inv.challenges.push(typed(v, label)?),
        ("", "Event") => inv.events.push(typed(v, label)?),
        ("events.k8s.io", "Event") => inv.events.push(typed(events_v1_to_core(v), label)?),
        (
            _,
            "Certificate" | "CertificateRequest" | "Issuer" | "ClusterIssuer" | "Order"
            | "Challenge",
        ) if group.is_empty() || !group.ends_with("cert-manager.io") => {
            // e.g. GKE's networking.gke.io ManagedCertificate or a typo'd apiVersion.
            return Err(format!(
                "{} has apiVersion {api_version:?}, not cert-manager's; skipped",
                label()
            ));
        }
        _ => snap.ignore(&kind),
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(v: Value, label: impl Fn() -> String) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("{}: {inner}", label())
        } else {
            format!("{}: field {path}: {inner}", label())
        }
    })
}

/// Maps an events.k8s.io/v1 Event onto the core v1 shape certdx reads.
fn events_v1_to_core(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        if let Some(regarding) = map.remove("regarding") {
            map.insert("involvedObject".into(), regarding);
        }
        if let Some(note) = map.remove("note") {
            map.insert("message".into(), note);
        }
        if let Some(t) = map.remove("deprecatedLastTimestamp") {
            map.insert("lastTimestamp".into(), t);
        }
        if let Some(t) = map.remove("deprecatedFirstTimestamp") {
            map.insert("firstTimestamp".into(), t);
        }
        if let Some(n) = map.remove("deprecatedCount") {
            map.insert("count".into(), n);
        }
        map.insert("apiVersion".into(), Value::String("v1".into()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

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
