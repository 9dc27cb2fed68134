//! The example task (examples/orca), run as `cargo xtask example` runs it —
//! but from a copy whose config.yaml and workers.json name the server and
//! steps cargo just built (`ORCA_SERVER_BIN`, `PROMWASM_GUEST_DIR`), not
//! whatever lies under `./target`.

use promwasm_e2e::{
    expect_orca_example_passed, orca_example_copy, promwasm, read_json, run_command, RUN_LIMIT,
};

#[test]
fn the_example_task_passes_end_to_end() {
    let copy = orca_example_copy();
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
    expect_orca_example_passed(&report, &text);
    assert!(
        text.contains("MongoDB: started"),
        "a managed server was used:\n{text}"
    );
    for round in 1..=3 {
        for group in [
            "submissions: 2 steps at once (worker1-submission, worker2-submission)",
            "audits: 2 steps at once (worker2-audits-worker1, worker1-audits-worker2)",
        ] {
            let line = format!("── round {round}/3 · group {group}");
            assert!(
                text.contains(&line),
                "the workers {group}: no `{line}`\n{text}"
            );
        }
    }
}
