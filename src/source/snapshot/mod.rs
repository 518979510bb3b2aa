//! Loads saved YAML or JSON: a file or a directory, multi-document streams and `kind: List`
//! alike (what `kubectl get ... -A -o yaml` writes).
//!
//! Large `kind: List` documents are cut into items and parsed on every core.
//!
//! One broken document never stops the rest: it is reported with its file, document index
//! and line, and skipped.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::Inventory;

mod objects;
mod yaml;

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
    // Dumps made with --show-managed-fields carry them; nothing reads them.
    snap.inventory.slim();
    crate::model::redact::redact_structure(&mut snap.inventory);
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
    load_text_splitting_above(text, file, snap, PARALLEL_LIST_BYTES);
}

/// [`load_text`] with another size above which a List is cut into items: the fuzz targets use
/// 0 and `usize::MAX` to drive small inputs down both paths. Not for other callers.
#[doc(hidden)]
pub fn load_text_splitting_above(
    text: &str,
    file: &Path,
    snap: &mut Snapshot,
    parallel_list_bytes: usize,
) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with(['{', '[']) {
        // JSON (kubectl -o json): one value, possibly a List. serde_json is far faster than a
        // YAML parser on the same text.
        match serde_json::from_str::<Value>(text) {
            Ok(v) => {
                for message in objects::add_value(v, snap) {
                    snap.problems.push(LoadProblem {
                        file: file.to_owned(),
                        document: Some(1),
                        line: None,
                        message,
                    });
                }
            }
            Err(e) => snap.problems.push(LoadProblem {
                file: file.to_owned(),
                document: Some(1),
                line: Some(e.line()),
                message: format!("invalid JSON: {e}"),
            }),
        }
        return;
    }
    for (index, (first_line, doc)) in yaml::split_documents(text).into_iter().enumerate() {
        let document = index + 1;
        if doc
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        if doc.len() > parallel_list_bytes
            && let Some(list) = yaml::split_list_items(doc)
            && load_list(list, file, document, first_line, snap)
        {
            continue;
        }
        match yaml::parse_yaml(doc, first_line) {
            Ok(Value::Null) => {}
            Ok(v) => {
                for message in objects::add_value(v, snap) {
                    snap.problems.push(LoadProblem {
                        file: file.to_owned(),
                        document: Some(document),
                        line: None,
                        message,
                    });
                }
            }
            Err((line, message)) => snap.problems.push(LoadProblem {
                file: file.to_owned(),
                document: Some(document),
                line: Some(line),
                message: format!("invalid YAML: {message}"),
            }),
        }
    }
}

/// Lists bigger than this are cut into items and parsed in parallel.
const PARALLEL_LIST_BYTES: usize = 256 * 1024;

/// Parses a List's items on every core. Returns false (nothing added) if the header is not a
/// List after all, so the caller parses the document whole.
fn load_list(
    list: yaml::ListItems,
    file: &Path,
    document: usize,
    first_line: usize,
    snap: &mut Snapshot,
) -> bool {
    let kind = match yaml::parse_yaml(&list.header, first_line) {
        Ok(v) => v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Err(_) => return false,
    };
    if !kind.ends_with("List") {
        return false;
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(list.items.len().max(1));
    let chunk = list.items.len().div_ceil(workers).max(1);
    // Each worker owns its items and frees each one's text once parsed, so the text shrinks
    // while the objects grow instead of both peaking together.
    let mut chunks: Vec<Vec<(usize, String)>> = Vec::with_capacity(workers);
    let mut items = list.items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    let parts: Vec<(Snapshot, Vec<LoadProblem>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(c, items)| {
                scope.spawn(move || {
                    let mut part = Snapshot::default();
                    let mut problems = Vec::new();
                    for (i, (line, text)) in items.into_iter().enumerate() {
                        let item = c * chunk + i + 1;
                        let problem = |line: Option<usize>, message: String| LoadProblem {
                            file: file.to_owned(),
                            document: Some(document),
                            line,
                            message: format!("item {item}: {message}"),
                        };
                        if let Err((line, message)) =
                            objects::add_yaml_object(&text, first_line + line, &mut part)
                        {
                            problems.push(problem(Some(line), message));
                        }
                    }
                    (part, problems)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a parser thread never panics"))
            .collect()
    });
    for (part, problems) in parts {
        snap.inventory.extend(part.inventory);
        for (kind, n) in part.ignored_kinds {
            for _ in 0..n {
                snap.ignore(&kind);
            }
        }
        snap.problems.extend(problems);
    }
    true
}
