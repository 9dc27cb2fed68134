//! The example task (examples/orca), run as `cargo xtask example` runs it —
//! but from a copy whose config.yaml and workers.json name the server and
//! steps cargo just built (`ORCA_SERVER_BIN`, `PROMWASM_GUEST_DIR`), not
//! whatever lies under `./target`.

use std::path::Path;

use promwasm_e2e::{
    guest, orca_server_bin, outcomes, promwasm, read_json, repo_root, run_command, RUN_LIMIT,
};
use serde_json::json;

const SERVER: &str = "../../../target/debug/orca-server";
const STEPS: &str = "../../../target/wasm32-wasip2/guest/orca_steps.wasm";

/// Copy `from` into `to`, every file.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// examples/orca's `.env` and `tests/` in a temporary folder, with the built paths.
fn example_copy() -> tempfile::TempDir {
    let example = repo_root().join("examples/orca");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example.join(".env"), dir.path().join(".env")).unwrap();
    copy_tree(&example.join("tests"), &dir.path().join("tests"));
    for state in ["data/test_state.json", "data/logs", "data/mongodb"] {
        let path = dir.path().join("tests").join(state);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir_all(&path);
    }
    for (file, from, to) in [
        ("config.yaml", STEPS, guest("orca_steps")),
        ("workers.json", SERVER, orca_server_bin()),
    ] {
        let path = dir.path().join("tests").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(from),
            "examples/orca/tests/{file} no longer names {from}"
        );
        std::fs::write(&path, text.replace(from, &to.to_string_lossy())).unwrap();
    }
    dir
}

#[test]
fn the_example_task_passes_end_to_end() {
    let copy = example_copy();
    let config = copy.path().join("tests/config.yaml");
    let report = tempfile::NamedTempFile::new().unwrap();
    let run = run_command(
        promwasm()
            .arg("run")
            .arg(&config)
            .arg("--reset")
            .arg("--json")
            .arg(report.path()),
        RUN_LIMIT,
    );
    let text = run.all();
    run.expect_code(0);
    let report = read_json(report.path());
    let steps = outcomes(&report);
    assert_eq!(
        report["max_rounds"],
        json!(3),
        "three todos seeded, three rounds"
    );
    assert_eq!(steps.len(), 3 * 8);
    for (round, step, outcome) in &steps {
        let expected = if step == "last-round-only" && *round != 3 {
            "skipped"
        } else {
            "passed"
        };
        assert_eq!(outcome, expected, "round {round} {step}\n{text}");
    }
    // The audits really checked signed submissions.
    for s in report["steps"].as_array().unwrap() {
        if s["step"].as_str().unwrap().contains("audits") {
            assert_eq!(s["detail"]["valid"], json!(true), "{s}");
        }
    }
    // Round 2's work came from the second seeded todo.
    let task = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["round"] == json!(2) && s["step"] == json!("worker1-task"))
        .unwrap();
    assert_eq!(
        task["detail"]["todo"],
        json!("Add a health endpoint"),
        "{task}"
    );
    assert!(
        text.contains("MongoDB: started"),
        "a managed server was used:\n{text}"
    );
}
