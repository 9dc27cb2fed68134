//! Steps written in Python: the example's stages in examples/orca/steps-py on
//! the SDK in guest-sdk/python, built by `cargo xtask` with componentize-py
//! into `orca_steps_py.wasm` (about 18 MB), run by the real promwasm against
//! the real example server — and doing exactly what the Rust stages do.
//!
//! Compiling the component takes Cranelift 20–60 s, so every test here goes
//! through [`python_steps`], which loads it once into the shared compiled
//! cache (`PROMWASM_CACHE_DIR`) before any test uses it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use promwasm_e2e::{
    example_on_free_ports, example_results, expect_orca_example_passed, guest, inspect,
    inspected_sha256, inspected_stages, orca_example_copy, read_json, run_example, Project,
};
use serde_json::Value;

#[test]
fn the_example_task_passes_with_stages_in_python() {
    python_steps();
    let copy = orca_example_copy();
    example_on_free_ports(copy.path(), &["config.yaml", "config-py.yaml"]);
    let (py, py_report) = run_example(copy.path(), "config-py.yaml");
    py.expect_code(0);
    expect_orca_example_passed(&py_report, &py.all());
    let py_store = stored(copy.path());

    // The Rust stages on the same task: every step ends the same way with the
    // same result, and the same values are stored. The submissions'
    // signatures are among both, and ed25519 is deterministic: the Python
    // stages sign byte-identical payloads.
    let (rust, rust_report) = run_example(copy.path(), "config.yaml");
    rust.expect_code(0);
    let (py, rust) = (example_results(&py_report), example_results(&rust_report));
    assert_eq!((py.len(), rust.len()), (3 * 8, 3 * 8));
    for (py, rust) in py.iter().zip(&rust) {
        assert_eq!(py, rust, "Python stage (left) vs Rust stage (right)");
    }
    assert_eq!(
        py_store,
        stored(copy.path()),
        "the runner store: Python stages (left) vs Rust stages (right)"
    );
    let submission = &py[2].3;
    assert!(
        submission["signature"]
            .as_str()
            .is_some_and(|s| s.len() > 80),
        "a signed submission: {submission}"
    );
}

#[test]
fn inspect_lists_the_python_stages_with_their_descriptions() {
    let py = inspect(python_steps());
    assert!(py.contains("targets: promwasm:step@0.1.0"), "{py}");
    let stages = stages_of(&py);
    for (name, description) in [
        (
            "post-load",
            "Assign this task's todos to workers round-robin",
        ),
        ("task", "Run the round's task on the current worker"),
        (
            "submission",
            "Fetch the worker's submission and store it signed",
        ),
        ("audit", "Audit another worker's submission (args: target)"),
        (
            "todos-seen",
            "Count this task's todos and read this round's (db: read)",
        ),
        (
            "check-round",
            "Skip unless the round is `skip_unless_round`",
        ),
    ] {
        assert_eq!(
            stages.get(name).map(String::as_str),
            Some(description),
            "{py}"
        );
    }
    assert_eq!(
        stages,
        stages_of(&inspect(&guest("orca_steps"))),
        "the same stages as the Rust component, described the same way"
    );
}

#[test]
fn a_second_run_loads_the_python_module_from_the_compiled_cache() {
    let module = python_steps();
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&format!(
        "max_rounds: 1\nsteps:\n  - name: round\n    worker: worker1\n    module: {}\n    stage: check-round\n",
        module.display()
    ));
    let sha = inspected_sha256(module);
    let entries = || {
        let mut all = compiled(&shared_cache_dir());
        all.retain(|name, _| name.starts_with(&sha));
        all
    };
    let run = || {
        let run = p.run(&["--reset"]);
        run.expect_code(0).expect_output("passed");
        run.took
    };

    run();
    let first = entries();
    assert_eq!(first.len(), 1, "one entry for {sha}: {:?}", first.keys());

    // Loaded, not recompiled: no new entry, the entry is the same file (a
    // recompile replaces it through a rename), and the run takes a fraction
    // of a compile (20–60 s here; loading the entry takes well under 1 s).
    let took = run();
    assert_eq!(entries(), first, "the compiled entry was not rewritten");
    eprintln!("a run loading the Python component from the cache took {took:?}");
    assert!(
        took < Duration::from_secs(20),
        "a cached run took {took:?}: was the component compiled again?"
    );
}

#[test]
fn sdk_errors_fail_the_step_with_the_same_message_as_in_rust() {
    let module = python_steps().display().to_string();
    let p = Project::new();
    p.with_orca_workers("");
    let failure = |module: &str, step: &str| {
        p.config(&format!(
            "max_rounds: 1\nsteps:\n  - name: failing\n    worker: worker1\n    module: {module}\n{step}"
        ));
        p.run(&["--reset"]).expect_code(1);
        p.report()["steps"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // A StepError raised by the stage: the server's refusal.
    let tampered = "    stage: tamper-task\n";
    let py = failure(&module, tampered);
    assert!(
        py.contains("execute: HTTP 401: signature does not verify for"),
        "the server's refusal, as the stage raised it: {py}"
    );
    assert_eq!(
        py,
        failure("{orca}", tampered),
        "the Rust stage fails alike"
    );

    // A missing argument, through the SDK's `args`.
    let no_target = "    stage: audit\n";
    let py = failure(&module, no_target);
    assert!(
        py.contains("stage `audit`: args: missing field `target`"),
        "{py}"
    );
    assert_eq!(
        py,
        failure("{orca}", no_target),
        "the Rust stage fails alike"
    );
}

/// The Python component, compiled into the shared cache before any test uses
/// it: one Cranelift compile for the whole test binary, not one per test.
fn python_steps() -> &'static Path {
    static LOADED: OnceLock<PathBuf> = OnceLock::new();
    LOADED.get_or_init(|| {
        let module = guest("orca_steps_py");
        let started = Instant::now();
        inspect(&module);
        eprintln!(
            "first load of {} ({} bytes): {:?} (a compile unless the cache had it)",
            module.display(),
            std::fs::metadata(&module).unwrap().len(),
            started.elapsed()
        );
        module
    })
}

/// The compiled cache every promwasm of these tests uses (see `promwasm()`).
fn shared_cache_dir() -> PathBuf {
    std::env::var_os("PROMWASM_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("promwasm-e2e-cache"))
}

/// What the stages stored in each round, from the example copy's state file.
fn stored(dir: &Path) -> Value {
    read_json(&dir.join("tests/data/test_state.json"))["rounds"].clone()
}

/// The compiled entries in a cache folder by name: their size, modification
/// time and inode (a rewrite, which goes through a rename, changes them).
fn compiled(dir: &Path) -> BTreeMap<String, (u64, SystemTime, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .map(|e| {
            let meta = e.metadata().unwrap();
            let entry = (meta.len(), meta.modified().unwrap(), meta.ino());
            (e.file_name().to_string_lossy().into_owned(), entry)
        })
        .collect()
}

/// The stages `inspect` lists, name → description.
fn stages_of(inspect: &str) -> BTreeMap<String, String> {
    inspected_stages(inspect).into_iter().collect()
}
