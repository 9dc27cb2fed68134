//! Fuzzing the input readers: config.yaml, workers.json, the steps file,
//! `.env` and a seed data file, each seeded from the example's own files
//! (examples/orca) and mutated byte-wise (deletions, insertions of syntax
//! tokens and raw bytes, duplicated ranges that nest deep or grow long,
//! truncations). Loading a project must never panic, and must either give a
//! plan or errors that are *located*: each names one of the project's files,
//! says what is wrong, and points at a line that exists in that file.
//!
//! The seeds are checked to load cleanly first, so mutations start from a
//! valid project and reach past the first parser into the checks behind it.
//! A short run is part of the test suite (`PROPTEST_CASES` sets how many
//! cases per reader; 300 by default); for a long run:
//! `PROPTEST_CASES=100000 cargo test -p promwasm --test fuzz_inputs --release`.

use std::path::{Path, PathBuf};

use promwasm::config::{self, Diagnostics, Env};
use proptest::prelude::*;
use proptest::sample::Index;

/// The readers' inputs, by their path in the project.
const CONFIG: &str = "tests/config.yaml";
const WORKERS: &str = "tests/workers.json";
const STEPS: &str = "tests/steps.yaml";
const TESTS_ENV: &str = "tests/.env";
const ROOT_ENV: &str = ".env";
const DATA: &str = "tests/data/todos.json";

fn example(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/orca")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The example project, with its steps moved to a steps file and the paths
/// of its module and server pointing at files inside the project.
fn seed_files() -> Vec<(&'static str, Vec<u8>)> {
    let config = example("tests/config.yaml").replace(
        "../../../target/wasm32-wasip2/guest/orca_steps.wasm",
        "steps.wasm",
    );
    let (head, steps) = config
        .split_once("\nsteps:\n")
        .expect("the example's config.yaml has `steps:`");
    // The anchor `&steps` stays in config.yaml: the steps file names the module.
    let steps = steps.replace("*steps", "steps.wasm");
    let workers =
        example("tests/workers.json").replace("../../../target/debug/orca-server", "server");
    vec![
        (
            CONFIG,
            format!("{head}\nsteps_file: steps.yaml\n").into_bytes(),
        ),
        (STEPS, steps.as_bytes().to_vec()),
        (WORKERS, workers.into_bytes()),
        (TESTS_ENV, example("tests/.env").into_bytes()),
        (ROOT_ENV, example(".env").into_bytes()),
        (DATA, example("tests/data/todos.json").into_bytes()),
    ]
}

/// Write the project with `files` into `dir`; the config.yaml's path.
fn write_project(dir: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    std::fs::create_dir_all(dir.join("tests/data")).unwrap();
    std::fs::create_dir_all(dir.join("tests/keys")).unwrap();
    for key in [
        "worker1-staking",
        "worker1-main",
        "worker2-staking",
        "worker2-main",
    ] {
        let rel = format!("tests/keys/{key}.json");
        std::fs::write(dir.join(&rel), example(&rel)).unwrap();
    }
    // Only their existence is checked when loading.
    std::fs::write(dir.join("tests/steps.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join("tests/server"), b"#!/bin/sh\n").unwrap();
    for (rel, bytes) in files {
        std::fs::write(dir.join(rel), bytes).unwrap();
    }
    dir.join(CONFIG)
}

fn load(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<config::Loaded, Diagnostics> {
    let config_file = write_project(dir, files);
    config::load(&config_file, Env::new())
}

/// Every error names a project file, says something, and points at a line
/// of that file (or at the file as a whole); rendering them works.
fn assert_located(dir: &Path, diags: &Diagnostics) {
    assert!(diags.errors() > 0, "an Err without errors: {diags}");
    let dir = std::fs::canonicalize(dir).unwrap();
    for d in &diags.0 {
        let file = std::fs::canonicalize(&d.file).unwrap_or_else(|_| d.file.clone());
        assert!(
            file.starts_with(&dir),
            "error names a file outside the project: {}: {}",
            d.file.display(),
            d.message
        );
        assert!(
            !d.message.trim().is_empty(),
            "an empty message at {}",
            d.file.display()
        );
        if let Some(pos) = d.pos {
            let lines = std::fs::read(&d.file)
                .map(|b| b.split(|&c| c == b'\n').count())
                .unwrap_or(0);
            assert!(
                pos.line >= 1 && pos.line <= lines.max(1) && pos.column >= 1,
                "{}:{}:{} is not in the file ({lines} lines): {}",
                d.file.display(),
                pos.line,
                pos.column,
                d.message
            );
        }
    }
    let _ = diags.to_string();
}

/// One change to a file's bytes; positions are indexes into its length.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    /// Repeat a range `times` times in place: deep nesting, long keys.
    Repeat(Index, usize, usize),
    Truncate(Index),
}

/// Pieces of syntax of every format read, and bytes none of them expects.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "'",
    "\n",
    "  ",
    "\t",
    "#",
    "//",
    "/*",
    "*/",
    "=",
    "- ",
    "&a ",
    "*a",
    "!!binary ",
    "? ",
    "|\n",
    ">\n",
    "null",
    "~",
    "true",
    "1e999",
    "-1",
    "99999999999999999999",
    "0x1f",
    "\\u0000",
    "\\",
    "${X}",
    "export ",
    "$",
    "---\n",
    "...\n",
    "<<: *a\n",
    "9999999h",
    "1.5GiB",
    "\u{feff}",
    "é",
    "\u{202e}",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = prop_oneof![
        prop::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        1 => (any::<Index>(), 1usize..40).prop_map(|(at, n)| Mutation::Delete(at, n)),
        4 => (any::<Index>(), bytes).prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => (any::<Index>(), 1usize..12, 2usize..300).prop_map(|(at, n, t)| Mutation::Repeat(at, n, t)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    match m {
        Mutation::Delete(i, n) => {
            let start = at(i, bytes.len()).min(bytes.len());
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Insert(i, b) => {
            let pos = at(i, bytes.len());
            bytes.splice(pos..pos, b.iter().copied());
        }
        Mutation::Repeat(i, n, times) => {
            let start = at(i, bytes.len()).min(bytes.len());
            let end = (start + n).min(bytes.len());
            let piece = bytes[start..end].to_vec();
            let copies: Vec<u8> = piece
                .iter()
                .copied()
                .cycle()
                .take(piece.len() * times)
                .collect();
            bytes.splice(end..end, copies);
        }
        Mutation::Truncate(i) => {
            let pos = at(i, bytes.len()).min(bytes.len());
            bytes.truncate(pos);
        }
    }
}

/// Load the seed project with `target` mutated; no panic, and errors located.
fn fuzz_one(target: &str, mutations: &[Mutation]) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = seed_files();
    let (_, bytes) = files.iter_mut().find(|(rel, _)| *rel == target).unwrap();
    for m in mutations {
        apply(bytes, m);
    }
    if let Err(diags) = load(dir.path(), &files) {
        assert_located(dir.path(), &diags);
    }
}

fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        // A failure is printed, shrunk, with the input: no regression files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn the_seed_project_loads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    match load(dir.path(), &seed_files()) {
        Ok(loaded) => {
            assert_eq!(loaded.plan.steps.len(), 8);
            assert_eq!(loaded.plan.workers.len(), 2);
            assert!(loaded.plan.mongo.is_some());
        }
        Err(diags) => panic!("the seed project does not load:\n{diags}"),
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn config_yaml(m in prop::collection::vec(mutation(), 1..5)) {
        fuzz_one(CONFIG, &m);
    }

    #[test]
    fn workers_json(m in prop::collection::vec(mutation(), 1..5)) {
        fuzz_one(WORKERS, &m);
    }

    #[test]
    fn steps_file(m in prop::collection::vec(mutation(), 1..5)) {
        fuzz_one(STEPS, &m);
    }

    #[test]
    fn dotenv_files(m in prop::collection::vec(mutation(), 1..5), root in any::<bool>()) {
        fuzz_one(if root { ROOT_ENV } else { TESTS_ENV }, &m);
    }

    #[test]
    fn data_file(m in prop::collection::vec(mutation(), 1..5)) {
        fuzz_one(DATA, &m);
    }
}
