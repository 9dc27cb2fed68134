//! The example task (examples/orca), run exactly as the README's first command runs it.

use promwasm_e2e::{outcomes, promwasm, read_json, repo_root};
use serde_json::json;

#[test]
fn the_example_task_passes_end_to_end() {
    let config = repo_root().join("examples/orca/tests/config.yaml");
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = promwasm()
        .arg("run")
        .arg(&config)
        .arg("--reset")
        .arg("--json")
        .arg(report.path())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
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
