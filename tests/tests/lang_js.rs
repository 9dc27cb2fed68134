//! Steps written in JavaScript: the example's stages in examples/orca/steps-js
//! on the SDK in guest-sdk/js, built by `cargo xtask` with jco's QuickJS
//! backend into `orca_steps_js.wasm`, run by the real promwasm against the
//! real example server — and doing exactly what the Rust stages do.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use promwasm_e2e::{
    example_results, expect_orca_example_passed, guest, inspect, inspected_sha256,
    inspected_stages, orca_example_copy, repo_root, run_command, run_example, Project, RUN_LIMIT,
};

#[test]
fn the_example_task_passes_with_stages_in_javascript() {
    let copy = orca_example_copy();
    let (js, js_report) = run_example(copy.path(), "config-js.yaml");
    js.expect_code(0);
    expect_orca_example_passed(&js_report, &js.all());

    // The Rust stages on the same task: every step ends the same way with the
    // same result. The submissions' signatures are among the results, and
    // ed25519 is deterministic: the JS stages sign byte-identical payloads.
    let (rust, rust_report) = run_example(copy.path(), "config.yaml");
    rust.expect_code(0);
    let (js, rust) = (example_results(&js_report), example_results(&rust_report));
    assert_eq!((js.len(), rust.len()), (3 * 8, 3 * 8));
    for (js, rust) in js.iter().zip(&rust) {
        assert_eq!(js, rust, "JavaScript stage (left) vs Rust stage (right)");
    }
    let submission = &js[2].3;
    assert!(
        submission["signature"]
            .as_str()
            .is_some_and(|s| s.len() > 80),
        "a signed submission: {submission}"
    );
}

#[test]
fn inspect_lists_the_javascript_stages_with_their_descriptions() {
    let js = inspect(&guest("orca_steps_js"));
    assert!(js.contains("targets: promwasm:step@0.1.0"), "{js}");
    let stages = stages_of(&js);
    for (name, description) in [
        ("task", "Run the round's task on the current worker"),
        ("audit", "Audit another worker's submission (args: target)"),
        (
            "post-load",
            "Assign this task's todos to workers round-robin",
        ),
    ] {
        assert_eq!(
            stages.get(name).map(String::as_str),
            Some(description),
            "{js}"
        );
    }
    assert_eq!(
        stages,
        stages_of(&inspect(&guest("orca_steps"))),
        "the same stages as the Rust component, described the same way"
    );
}

#[test]
fn a_second_run_loads_the_javascript_module_from_the_compiled_cache() {
    let p = Project::new();
    p.with_orca_workers("");
    let module = guest("orca_steps_js");
    p.config(&format!(
        "max_rounds: 1\nsteps:\n  - name: round\n    worker: worker1\n    module: {}\n    stage: check-round\n",
        module.display()
    ));
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        p.run_with(&["--reset"], |cmd| {
            cmd.env("PROMWASM_CACHE_DIR", cache.path());
        })
        .expect_code(0)
        .expect_output("passed");
    };

    run();
    let first = compiled(cache.path());
    assert_eq!(first.len(), 1, "{:?}", first.keys());
    let entry = first.keys().next().unwrap();
    let sha = inspected_sha256(&module);
    assert!(
        entry.contains(&sha),
        "keyed by the module's sha256 {sha}: {entry}"
    );

    // Loaded, not recompiled: no new entry, and the entry is the same file
    // (a recompile replaces it with a new one).
    run();
    assert_eq!(compiled(cache.path()), first);
}

#[test]
fn a_thrown_error_fails_the_step_with_its_message_as_in_rust() {
    let p = Project::new();
    p.with_orca_workers("");
    let failure = |module: &str| {
        p.config(&format!(
            "max_rounds: 1\nsteps:\n  - name: tampered\n    worker: worker1\n    module: {module}\n    stage: tamper-task\n"
        ));
        p.run(&["--reset"]).expect_code(1);
        p.report()["steps"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let js = failure(&guest("orca_steps_js").display().to_string());
    assert!(
        js.contains("execute: HTTP 401: signature does not verify for"),
        "the server's refusal, as the stage threw it: {js}"
    );
    assert_eq!(js, failure("{orca}"), "the Rust stage fails the same way");
}

#[test]
fn the_sdk_utf8_matches_text_encoder_and_decoder() {
    // QuickJS has no TextEncoder: the SDK's own UTF-8, checked against node's.
    let mut cmd = std::process::Command::new("node");
    cmd.arg("--test")
        .arg(repo_root().join("guest-sdk/js/utf8.test.js"));
    run_command(&mut cmd, RUN_LIMIT).expect_code(0);
}

/// The compiled entries in a cache folder by name: their bytes, modification
/// time and inode (a rewrite, which goes through a rename, changes it).
fn compiled(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .map(|e| {
            let meta = e.metadata().unwrap();
            let entry = (
                std::fs::read(e.path()).unwrap(),
                meta.modified().unwrap(),
                meta.ino(),
            );
            (e.file_name().to_string_lossy().into_owned(), entry)
        })
        .collect()
}

/// The README's async decision: jco's default QuickJS output (without
/// `--backend-qjs-disable-async`) uses the component-model async ABI, which
/// promwasm does not enable; such a module is refused before anything
/// starts, with the flag to rebuild it with.
#[test]
fn a_component_built_with_the_async_abi_is_refused_with_the_flag_to_use() {
    let jco = repo_root().join(".tools/js/node_modules/.bin/jco");
    assert!(
        jco.exists(),
        "{} not found: run `cargo xtask test`",
        jco.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("async.wasm");
    let root = repo_root();
    let built = run_command(
        std::process::Command::new(&jco)
            .arg("componentize")
            .arg(root.join("examples/orca/steps-js/steps.js"))
            .arg("--wit")
            .arg(root.join("wit"))
            .args(["--world-name", "step", "--backend", "quickjs", "--cwd"])
            .arg(&root)
            .arg("-o")
            .arg(&module),
        RUN_LIMIT,
    );
    built.expect_code(0);
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&format!(
        "max_rounds: 1\nsteps:\n  - name: task\n    worker: worker1\n    module: {}\n    stage: task\n",
        module.display()
    ));
    p.run(&[])
        .expect_code(2)
        .expect_errors(&[
            "async.wasm",
            "does not enable the component-model async feature",
            "--backend-qjs-disable-async",
        ])
        .expect_no_output("started worker");
}

/// The stages `inspect` lists, name → description.
fn stages_of(inspect: &str) -> BTreeMap<String, String> {
    inspected_stages(inspect).into_iter().collect()
}
