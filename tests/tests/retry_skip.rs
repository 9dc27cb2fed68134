//! `retry` and `skip_if`, through the real binary, real workers and the
//! `flaky` test guest (which fails or skips until its N-th run).

use promwasm_e2e::{outcomes, Project};
use serde_json::json;

#[test]
fn failing_steps_are_retried_and_retries_can_run_out() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_rounds: 1
defaults:
  retry: { attempts: 3, interval: 10ms }
steps:
  - name: third-time-lucky
    worker: worker1
    module: {guests}
    stage: flaky
    args: { name: lucky, succeed_on: 3 }
  - name: once-is-enough
    worker: worker1
    module: {guests}
    stage: flaky
    args: { name: once, succeed_on: 1 }
  - name: gives-up
    worker: worker2
    module: {guests}
    stage: flaky
    args: { name: unlucky, succeed_on: 9 }
    retry: { attempts: 2, interval: 0 }
"#,
    );
    let run = p.run(&[]);
    run.expect_code(1)
        .expect_output("attempt 1/3 did not succeed (execute: not yet (run 1)); next in 10ms")
        .expect_output("attempt 2/3 did not succeed")
        .expect_output("passed      third-time-lucky@worker1 (")
        .expect_output("3 attempts)")
        .expect_output("attempt 1/2 did not succeed")
        .expect_output(
            "round 1, step `gives-up` (stage `flaky`, worker `worker2`): execute: not yet (run 2)",
        );
    let report = p.report();
    let attempts: Vec<_> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["attempts"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        attempts,
        [
            ("third-time-lucky", 3),
            ("once-is-enough", 1),
            ("gives-up", 2)
        ]
    );
    assert_eq!(report["steps"][0]["detail"], json!({ "run": 3 }));
    let tries = &p.state()["global"]["tries"];
    assert_eq!(
        tries,
        &json!({ "lucky": 3, "once": 1, "unlucky": 2 }),
        "every attempt is a real run of the guest, and no more run than configured"
    );
    assert_eq!(p.state()["last_completed_step"], json!("once-is-enough"));
}

#[test]
fn until_success_polls_a_step_that_skips() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_rounds: 1
steps:
  - name: skip-is-final
    worker: worker1
    module: {guests}
    stage: flaky
    args: { name: plain, succeed_on: 2, skip: true }
    retry: { attempts: 3, interval: 0 }
  - name: poll
    worker: worker1
    module: {guests}
    stage: flaky
    args: { name: poll, succeed_on: 2, skip: true }
    retry: { attempts: 3, interval: 0, until: success }
  - name: poll-in-vain
    worker: worker2
    module: {guests}
    stage: flaky
    args: { name: vain, succeed_on: 5, skip: true }
    retry: { attempts: 2, interval: 0, until: success }
"#,
    );
    p.run(&[]).expect_code(1).expect_output(
        "step `poll-in-vain` (stage `flaky`, worker `worker2`): \
         still skipping after 2 attempts (`until: success`): not yet (run 2)",
    );
    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "skip-is-final".into(), "skipped".into()),
            (1, "poll".into(), "passed".into()),
            (1, "poll-in-vain".into(), "failed".into()),
        ]
    );
    assert_eq!(
        p.state()["global"]["tries"],
        json!({ "plain": 1, "poll": 2, "vain": 2 }),
        "without `until: success` a skip is not retried"
    );
}

#[test]
fn skip_if_rounds_and_store_keys() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_rounds: 3
steps:
  - name: middle-only
    worker: worker1
    module: {guests}
    stage: count-runs
    args: { name: middle }
    skip_if: { round: [first, last] }
  - name: needs-a-count
    worker: worker2
    module: {guests}
    stage: store-get
    args: { key: runs.middle }
    skip_if: { unset: runs.middle }
  - name: not-after-a-run
    worker: worker1
    module: {guests}
    stage: echo
    skip_if: { set: [ran, nothing.here] }
  - name: not-in-round-two
    worker: worker1
    module: {guests}
    stage: echo
    skip_if: { round: 2 }
"#,
    );
    p.run(&[]).expect_code(0);
    let report = p.report();
    assert_eq!(
        report["steps"][0]["attempts"], 0,
        "a step skip_if skips is not run"
    );
    assert_eq!(report["steps"][2]["attempts"], 1);
    let seen: Vec<(u64, &str, &str, String)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let detail = match &s["detail"] {
                serde_json::Value::String(reason) => reason.clone(),
                other => other.to_string(),
            };
            (
                s["round"].as_u64().unwrap(),
                s["step"].as_str().unwrap(),
                s["outcome"].as_str().unwrap(),
                detail,
            )
        })
        .collect();
    let skipped = |round, step, why: &str| (round, step, "skipped", why.to_string());
    let passed = |round, step, detail: &str| (round, step, "passed", detail.to_string());
    assert_eq!(
        seen,
        vec![
            skipped(1, "middle-only", "skip_if: round 1"),
            skipped(1, "needs-a-count", "skip_if: `runs.middle` is unset"),
            passed(1, "not-after-a-run", "{}"),
            passed(1, "not-in-round-two", "{}"),
            passed(2, "middle-only", r#"{"runs":1}"#),
            passed(2, "needs-a-count", "1"),
            // count-runs set the round-scoped `ran` in round 2 only.
            skipped(2, "not-after-a-run", "skip_if: `ran` is set"),
            skipped(2, "not-in-round-two", "skip_if: round 2"),
            skipped(3, "middle-only", "skip_if: round 3"),
            passed(3, "needs-a-count", "1"),
            passed(3, "not-after-a-run", "{}"),
            passed(3, "not-in-round-two", "{}"),
        ]
    );
}

#[test]
fn bad_retry_and_skip_if_are_located() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_rounds: 1
defaults:
  retry: { attempts: 0 }
steps:
  - name: a
    worker: worker1
    module: {guests}
    stage: echo
    retry: { attempts: 2, until: sometimes, intervall: 1s }
    skip_if: { round: [0, middle], unset: [3], when: x }
"#,
    );
    let run = p.run(&[]);
    run.expect_code(2);
    run.expect_errors(&[
        "config.yaml:4:22:",
        "`attempts` in `retry` of `defaults` counts every try, so it is at least 1",
        "config.yaml:10:34:",
        "`until` in `retry` of step `a` must be `done` or `success`, found `sometimes`",
        "unknown key `intervall` in `retry` of step `a`",
        "did you mean `interval`?",
        "config.yaml:11:24:",
        "`round` in `skip_if` of step `a` lists round numbers (from 1), `first` or `last`",
        "`unset` in `skip_if` of step `a` lists runner-store keys (strings)",
        "unknown key `when` in `skip_if` of step `a`",
    ]);
    assert_eq!(
        run.stderr.matches("lists round numbers").count(),
        2,
        "both bad rounds are named: {}",
        run.all()
    );
}
