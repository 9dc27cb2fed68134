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
    run.expect_code(1).expect_line(&[
        "round 1, step `tampered` (stage `tamper-task`, worker `worker2`)",
        "HTTP 401",
        "signature",
    ]);
    let report = p.report();
    let failure = report["steps"][1]["detail"].as_str().unwrap_or_default();
    assert!(
        failure.contains("HTTP 401") && failure.contains("signature"),
        "the step fails with the server's own words on the signature: {failure}"
    );

    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "honest".into(), "passed".into()),
            (1, "tampered".into(), "failed".into())
        ]
    );
}
