//! The explain corpus (tests/data/explain-corpus/): real messages users posted, with their
//! sources. Read by the explain benchmark and the fuzz targets to build pastes from.

use std::path::Path;

/// Every corpus message's text, files in name order.
pub fn corpus_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/explain-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut texts = Vec::new();
    for f in files {
        let entries: Vec<serde_json::Value> =
            serde_norway::from_str(&std::fs::read_to_string(&f).expect("read corpus"))
                .expect("corpus YAML");
        texts.extend(
            entries
                .iter()
                .filter_map(|e| e["text"].as_str().map(str::to_owned)),
        );
    }
    texts
}
