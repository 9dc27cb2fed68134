//! Parallel steps (`group`), through the real binary and real workers: the
//! steps of a group run at once and share the store, a failure lets the
//! group finish, and a resume runs only the group's unfinished steps.

use promwasm_e2e::{outcomes, Project};
use serde_json::json;

/// `first`, then the group `swap` (a handoff through the store that only
/// steps running at once can complete, and a step failing unless told
/// otherwise), then `last`.
fn steps(fail_c: bool) -> String {
    format!(
        r#"max_rounds: 1
defaults: {{ timeout: 20s }}
steps:
  - name: first
    worker: worker1
    module: {{guests}}
    stage: count-runs
    args: {{ name: first }}
  # a hands x to b and waits for b's answer; b waits for a, then answers.
  # Run one after the other, a would wait for b until its timeout.
  - name: a
    group: swap
    worker: worker1
    module: {{guests}}
    stage: store-script
    args: {{ ops: [ {{ set: [x, from-a] }}, {{ wait: [x, from-b] }} ] }}
  - name: b
    group: swap
    worker: worker2
    module: {{guests}}
    stage: store-script
    args: {{ ops: [ {{ wait: [x, from-a] }}, {{ set: [x, from-b] }} ] }}
  - name: c
    group: swap
    worker: worker2
    module: {{guests}}
    stage: fail-if
    args: {{ fail: {fail_c}, message: "c is not ready yet" }}
  - name: last
    worker: worker1
    module: {{guests}}
    stage: count-runs
    args: {{ name: last }}
"#
    )
}

#[test]
fn a_group_runs_at_once_shares_the_store_and_a_resume_runs_only_its_unfinished_steps() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&steps(true));

    let first = p.run(&[]);
    first
        .expect_code(1)
        .expect_output("── round 1/1 · group swap: 3 steps at once (a, b, c)")
        .expect_output(
            "round 1, step `c` (stage `fail-if`, worker `worker2`): execute: c is not ready yet",
        );
    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "first".into(), "passed".into()),
            (1, "a".into(), "passed".into()),
            (1, "b".into(), "passed".into()),
            (1, "c".into(), "failed".into()),
            (1, "last".into(), "not-run".into()),
        ],
        "a and b completed the handoff at once; c's failure stopped the run after the group"
    );
    let state = p.state();
    assert_eq!(
        state["global"]["x"],
        json!("from-b"),
        "concurrent sets of one key: the last one applied (b's answer) wins"
    );
    assert_eq!(state["last_completed_step"], json!("first"));
    assert_eq!(
        state["promwasm"]["group_done"],
        json!(["a", "b"]),
        "the state records which steps of the group finished"
    );
    // Each step of the group keeps its own log, interleaved as they ran.
    let log_a = std::fs::read_to_string(p.run_dir().join("steps/r1-a.log")).unwrap();
    let log_b = std::fs::read_to_string(p.run_dir().join("steps/r1-b.log")).unwrap();
    assert!(
        log_a.contains("set x = \"from-a\"") && log_a.contains("saw x = \"from-b\""),
        "{log_a}"
    );
    assert!(
        log_b.contains("saw x = \"from-a\"") && log_b.contains("set x = \"from-b\""),
        "{log_b}"
    );
    assert!(
        !log_b.contains("set x = \"from-a\""),
        "a's lines stay out of b's log:\n{log_b}"
    );
    assert!(
        !log_a.contains("wait for x = \"from-a\""),
        "b's lines stay out of a's log:\n{log_a}"
    );

    // Rerunning a would hang until its timeout (x is from-b already), and
    // rerunning b would too: the resume runs c alone, then goes on.
    p.config(&steps(false));
    let second = p.run(&[]);
    second
        .expect_code(0)
        .expect_output(
            "Resuming round 1 after step first; of the group after it, a, b finished already",
        )
        .expect_output("── round 1/1 · group swap: 1 step at once (c)");
    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "c".into(), "passed".into()),
            (1, "last".into(), "passed".into()),
        ]
    );
    let state = p.state();
    assert_eq!(state["last_completed_step"], json!("last"));
    assert_eq!(
        state["promwasm"].get("group_done"),
        None,
        "cleared once the group is done"
    );
    assert_eq!(state["global"]["runs"]["first"], json!(1), "first ran once");
}

#[test]
fn a_group_whose_steps_are_not_neighbours_is_refused_before_anything_starts() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        "max_rounds: 1
steps:
  - { name: a, worker: worker1, module: '{guests}', stage: echo, group: g }
  - { name: b, worker: worker1, module: '{guests}', stage: echo }
  - { name: c, worker: worker2, module: '{guests}', stage: echo, group: g }
",
    );
    for run in [p.check(), p.run(&[])] {
        run.expect_code(2)
            .expect_errors(&[
                "config.yaml:6:",
                "step `c` is in group `g`, whose other steps are not next to it",
            ])
            .expect_output("the group begins with step `a` at line 4")
            .expect_no_output("started worker");
    }
}

#[test]
fn from_step_naming_a_later_step_of_a_group_runs_the_group_from_it() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        "max_rounds: 1
steps:
  - { name: a, worker: worker1, module: '{guests}', stage: count-runs, args: { name: a }, group: g }
  - { name: b, worker: worker2, module: '{guests}', stage: count-runs, args: { name: b }, group: g }
  - { name: c, worker: worker1, module: '{guests}', stage: count-runs, args: { name: c }, group: g }
  - { name: d, worker: worker2, module: '{guests}', stage: count-runs, args: { name: d } }
",
    );
    p.run(&[]).expect_code(0);
    p.run(&["--from-step", "b"])
        .expect_code(0)
        .expect_output("── round 1/1 · group g: 2 steps at once (b, c)");
    let names: Vec<String> = outcomes(&p.report()).into_iter().map(|o| o.1).collect();
    assert_eq!(names, ["b", "c", "d"]);
    let runs = &p.state()["global"]["runs"];
    assert_eq!(
        [&runs["a"], &runs["b"], &runs["c"], &runs["d"]],
        [&json!(1), &json!(2), &json!(2), &json!(2)]
    );
}

#[test]
fn every_step_of_a_large_group_is_alive_at_once() {
    let p = Project::new();
    p.with_orca_workers("");
    // Eleven steps wait for `go`, which the twelfth sets: all twelve hold an
    // instance at the same moment (the engine's pool has a slot for each).
    let mut config = String::from("max_rounds: 1\ndefaults: { timeout: 20s }\nsteps:\n");
    for i in 1..=12 {
        let ops = if i == 12 {
            "[ { set: [go, true] } ]"
        } else {
            "[ { wait: [go, true] } ]"
        };
        config += &format!(
            "  - {{ name: s{i}, worker: worker{}, module: '{{guests}}', stage: store-script, \
             group: all, args: {{ ops: {ops} }} }}\n",
            1 + i % 2
        );
    }
    p.config(&config);
    p.run(&[])
        .expect_code(0)
        .expect_output("group all: 12 steps at once");
    let report = p.report();
    assert_eq!(outcomes(&report).len(), 12);
    assert!(
        outcomes(&report).iter().all(|o| o.2 == "passed"),
        "{report:#}"
    );
}
