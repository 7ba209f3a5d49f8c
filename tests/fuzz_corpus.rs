//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same harness bodies
//! the cargo-fuzz targets run, so every `cargo test` re-checks each input a fuzzer has kept
//! without needing nightly Rust or libFuzzer. A missing or empty corpus fails the test: it must
//! never pass because there was nothing to replay.

use std::path::PathBuf;

use revokd::okta::fuzzing::{exercise_link_header, exercise_okta_json};

/// The corpus files of one fuzz target, sorted; panics if there are none.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a corpus file reads");
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    files
}

/// Runs `exercise` on every file, naming the input that panics.
fn replay(target: &str, minimum: usize, exercise: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= minimum,
        "the {target} corpus shrank to {} files",
        files.len()
    );
    for (path, bytes) in files {
        let outcome = std::panic::catch_unwind(|| exercise(&bytes));
        assert!(outcome.is_ok(), "{} panics", path.display());
    }
}

#[test]
fn every_link_header_corpus_input_is_parsed_without_panicking() {
    replay("link_header", 20, exercise_link_header);
}

#[test]
fn every_okta_json_corpus_input_is_decoded_without_panicking() {
    replay("okta_json", 20, exercise_okta_json);
}
