//! A stage written in C with no SDK: the example's post-load hook in
//! examples/orca/steps-c, compiled by `cargo xtask` against bindings that
//! wit-bindgen-c generates from wit/ into `orca_steps_c.wasm`, run by the
//! real promwasm on the real example task — the Rust steps then read back
//! from MongoDB what the C hook wrote.

use std::path::Path;

use promwasm_e2e::{
    example_on_free_ports, expect_orca_example_passed, guest, inspect, inspected_stages,
    orca_example_copy, repo_root, run_command, step_of, Run, RUN_LIMIT,
};
use serde_json::{json, Value};

#[test]
fn the_example_task_passes_with_its_post_load_hook_in_c() {
    let copy = orca_example_copy();
    let (c, c_report) = run_example(copy.path(), "config-c.yaml");
    c.expect_code(0)
        .expect_line(&["passed", "post-load@worker1"]);
    expect_orca_example_passed(&c_report, &c.all());
    // todos-seen reads each round's todo back from MongoDB: the C hook gave
    // them to worker1 and worker2 in turn.
    assert_eq!(
        assigned(&c_report),
        ["worker1", "worker2", "worker1"],
        "{}",
        c.all()
    );

    // The Rust hook on the same task leaves the same todos behind.
    let (rust, rust_report) = run_example(copy.path(), "config.yaml");
    rust.expect_code(0);
    assert_eq!(todos_seen(&c_report), todos_seen(&rust_report));
}

#[test]
fn the_c_hook_follows_its_args_and_fails_with_its_own_messages() {
    let copy = orca_example_copy();
    let config = std::fs::read_to_string(copy.path().join("tests/config-c.yaml")).unwrap();
    let with_assign = |name: &str, assign: &str| {
        let text = config.replace("assign: [worker1, worker2]", &format!("assign: {assign}"));
        assert_ne!(
            text, config,
            "config-c.yaml no longer assigns [worker1, worker2]"
        );
        std::fs::write(copy.path().join("tests").join(name), text).unwrap();
        run_example(copy.path(), name)
    };

    let (run, report) = with_assign("config-c-worker2.yaml", "[worker2]");
    run.expect_code(0);
    assert_eq!(assigned(&report), ["worker2"; 3], "{}", run.all());

    // Null (or absent), `assign` means every worker, in workers.json order.
    let (run, report) = with_assign("config-c-all.yaml", "null");
    run.expect_code(0);
    assert_eq!(
        assigned(&report),
        ["worker1", "worker2", "worker1"],
        "{}",
        run.all()
    );

    // Failures are the C code's own messages, in the host's report.
    let (run, report) = with_assign("config-c-none.yaml", "[]");
    run.expect_code(1);
    let hook = step_of(&report, 0, "post-load");
    assert_eq!(hook["outcome"], "failed", "{hook}");
    assert_eq!(
        hook["detail"],
        "post-load hook (stage `post-load`, worker `worker1`): execute: no workers to assign todos to"
    );
    let (run, report) = with_assign("config-c-bad.yaml", "worker1");
    run.expect_code(1);
    assert_eq!(
        step_of(&report, 0, "post-load")["detail"],
        "post-load hook (stage `post-load`, worker `worker1`): prepare: stage `post-load`: \
         args: `assign` must be a list of worker names"
    );
    // Nothing ran after the failed hook.
    assert_eq!(
        report["steps"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
}

#[test]
fn inspect_lists_the_c_stage_with_its_description() {
    let c = inspect(&guest("orca_steps_c"));
    assert!(c.contains("targets: promwasm:step@0.1.0"), "{c}");
    let stages = inspected_stages(&c);
    assert_eq!(
        stages,
        [(
            "post-load".to_string(),
            "Assign this task's todos to workers round-robin".to_string()
        )],
        "{c}"
    );
    // Described as the Rust stage of the same name is.
    let rust = inspected_stages(&inspect(&guest("orca_steps")));
    assert!(rust.contains(&stages[0]), "{rust:?}");
}

#[test]
fn the_json_helper_of_the_c_stage_passes_its_own_tests() {
    // Natively, with the machine's C compiler, under AddressSanitizer and
    // UndefinedBehaviorSanitizer: the parser reads text the host hands over.
    let dir = repo_root().join("examples/orca/steps-c");
    let out = tempfile::tempdir().unwrap();
    let binary = out.path().join("json_test");
    let mut cc = std::process::Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
        .arg(dir.join("tests/json_test.c"))
        .arg(dir.join("json.c"))
        .arg("-o")
        .arg(&binary);
    run_command(&mut cc, RUN_LIMIT).expect_code(0);
    run_command(&mut std::process::Command::new(&binary), RUN_LIMIT)
        .expect_code(0)
        .expect_output(" passed, 0 failed");
}

/// `promwasm run <config> --reset --json <report>` in an example copy, with
/// the workers on free ports rather than the example's 5710 and 5711 (the
/// tests here run at the same time).
fn run_example(dir: &Path, config: &str) -> (Run, Value) {
    example_on_free_ports(dir, &[config]);
    let (run, report) = promwasm_e2e::run_example(dir, config);
    assert!(!report.is_null(), "no report\n{}", run.all());
    (run, report)
}

/// What todos-seen found in each round, without MongoDB's `_id`s (each run
/// seeds afresh).
fn todos_seen(report: &Value) -> Vec<Value> {
    (1..=3)
        .map(|round| {
            let mut detail = step_of(report, round, "todos-seen")["detail"].clone();
            detail["todo"]
                .as_object_mut()
                .and_then(|todo| todo.remove("_id"))
                .unwrap_or_else(|| panic!("round {round}: a todo without `_id`: {detail}"));
            detail
        })
        .collect()
}

/// Whom each round's todo is assigned to, as todos-seen read it.
fn assigned(report: &Value) -> Vec<String> {
    todos_seen(report)
        .iter()
        .map(|seen| {
            assert_eq!(seen["count"], json!(3), "{seen}");
            seen["todo"]["assignedTo"]
                .as_str()
                .unwrap_or_else(|| panic!("an unassigned todo: {seen}"))
                .to_string()
        })
        .collect()
}
