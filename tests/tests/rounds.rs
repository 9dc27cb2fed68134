//! Rounds, resume, reset and outcomes, through the real binary and real workers.

use promwasm_e2e::{outcomes, Project};
use serde_json::json;

fn steps(fail_b: bool) -> String {
    format!(
        r#"max_rounds: 2
steps:
  - name: a
    worker: worker1
    module: {{guests}}
    stage: count-runs
    args: {{ name: a }}
  - name: b
    worker: worker2
    module: {{guests}}
    stage: fail-if
    args: {{ fail: {fail_b}, message: "b is not ready yet" }}
  - name: c
    worker: worker1
    module: {{guests}}
    stage: count-runs
    args: {{ name: c }}
"#
    )
}

#[test]
fn a_failed_step_resumes_at_that_step_keeping_earlier_work() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&steps(true));

    let first = p.run(&[]);
    first.expect_code(1).expect_output(
        "round 1, step `b` (stage `fail-if`, worker `worker2`): execute: b is not ready yet",
    );
    let state = p.state();
    assert_eq!(state["current_round"], json!(1));
    assert_eq!(
        state["last_completed_step"],
        json!("a"),
        "the resume point is the last finished step"
    );
    assert_eq!(state["global"]["runs"]["a"], json!(1));

    p.config(&steps(false));
    let second = p.run(&[]);
    second
        .expect_code(0)
        .expect_output("Resuming round 1 after step a");
    let ran = outcomes(&p.report());
    assert_eq!(
        ran,
        vec![
            (1, "b".into(), "passed".into()),
            (1, "c".into(), "passed".into()),
            (2, "a".into(), "passed".into()),
            (2, "b".into(), "passed".into()),
            (2, "c".into(), "passed".into()),
        ],
        "step a of round 1 is not run again"
    );
    let state = p.state();
    assert_eq!(
        state["global"]["runs"]["a"],
        json!(2),
        "one run of `a` per round, store kept"
    );
    assert_eq!(state["global"]["runs"]["c"], json!(2));
    assert_eq!(state["rounds"]["1"]["ran"], json!(true));
    assert_eq!(state["current_round"], json!(2));
    assert_eq!(state["last_completed_step"], json!("c"));
}

#[test]
fn a_finished_run_does_nothing_again_until_reset() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&steps(false));
    p.run(&[]).expect_code(0);
    assert_eq!(outcomes(&p.report()).len(), 6);

    p.run(&[]).expect_code(0);
    assert_eq!(outcomes(&p.report()), vec![], "nothing is left to run");

    p.run(&["--reset"])
        .expect_code(0)
        .expect_output("Starting a fresh run");
    assert_eq!(outcomes(&p.report()).len(), 6);
    assert_eq!(
        p.state()["global"]["runs"]["a"],
        json!(2),
        "reset starts from an empty store"
    );
}

#[test]
fn skips_pass_and_say_why() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_rounds: 1
steps:
  - name: maybe
    worker: worker1
    module: {guests}
    stage: skip
    args: { reason: "nothing to audit this round" }
  - name: after
    worker: worker1
    module: {guests}
    stage: echo
    args: { hello: world }
"#,
    );
    p.run(&[])
        .expect_code(0)
        .expect_output("skipped     maybe@worker1")
        .expect_output("nothing to audit this round");
    let report = p.report();
    assert_eq!(report["steps"][0]["outcome"], json!("skipped"));
    assert_eq!(report["steps"][1]["detail"], json!({"hello": "world"}));
    assert_eq!(p.state()["last_completed_step"], json!("after"));
}

#[test]
fn junit_report_has_a_case_per_step() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&steps(true));
    let junit = p.tests().join("junit.xml");
    p.run(&["--junit", junit.to_str().unwrap()]).expect_code(1);
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains("<testsuite name=\"round 1\""), "{xml}");
    assert!(xml.contains("a (count-runs@worker1)"), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("b is not ready yet"), "{xml}");
}
