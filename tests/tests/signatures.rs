//! Signed payloads against the real example server: good ones are accepted,
//! a tampered one is rejected and the step fails saying why.

use promwasm_e2e::{outcomes, Project};

#[test]
fn a_tampered_signature_is_rejected_by_the_server() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        "max_rounds: 1\nsteps:\n  - name: honest\n    worker: worker1\n    module: {orca}\n    stage: task\n  - name: tampered\n    worker: worker2\n    module: {orca}\n    stage: tamper-task\n",
    );
    let run = p.run(&[]);
    run.expect_code(1)
        .expect_output("round 1, step `tampered` (stage `tamper-task`, worker `worker2`)")
        .expect_output("HTTP 401");
    let text = run.all();
    assert!(
        text.contains("signature"),
        "the server says what was wrong:\n{text}"
    );
    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "honest".into(), "passed".into()),
            (1, "tampered".into(), "failed".into())
        ]
    );
}
