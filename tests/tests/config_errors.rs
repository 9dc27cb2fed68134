//! Bad input: every problem reported at once, located, with a hint, before
//! anything starts; exit code 2.

use promwasm_e2e::{Project, Run};

/// Bad input stops everything before it starts: no worker, no state, no logs.
fn nothing_started(p: &Project, run: &Run) {
    assert!(
        !run.stdout.contains("started worker"),
        "nothing starts on bad input\n{}",
        run.all()
    );
    assert!(!p.tests().join("data/test_state.json").exists());
    assert!(!p.tests().join("data/logs").exists());
}

#[test]
fn malformed_config_yaml_is_located() {
    let p = Project::new();
    p.with_orca_workers("");
    p.write(
        "config.yaml",
        "task_id: x\nsteps:\n  - name: a\n    worker: [unclosed\n",
    );
    let run = p.run(&[]);
    run.expect_code(2)
        .expect_output("config.yaml:")
        .expect_output("invalid YAML");
    assert!(
        run.stderr.contains("config.yaml:4:") || run.stderr.contains("config.yaml:5:"),
        "{}",
        run.all()
    );
    nothing_started(&p, &run);
}

#[test]
fn malformed_workers_json_is_located() {
    let p = Project::new();
    p.write(
        "workers.json",
        "{\n  // a comment is fine\n  \"worker1\": { \"port\": 5000,, }\n}\n",
    );
    p.config("max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n");
    let run = p.run(&[]);
    run.expect_code(2)
        .expect_line(&["workers.json:3:", "invalid JSON"]);
    nothing_started(&p, &run);
}

#[test]
fn every_problem_is_reported_at_once_with_hints() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_round: 2
defaults: { timout: 5s }
steps:
  - name: a
    worker: worker3
    module: {guests}
    stage: echo
  - name: a
    worker: worker1
    module: missing.wasm
    stag: echo
"#,
    );
    let run = p.run(&[]);
    run.expect_code(2);
    run.expect_errors(&[
        "config.yaml:3:13: unknown key `timout` in `defaults`",
        "did you mean `timeout`?",
        "step `a` runs as unknown worker `worker3`",
        "did you mean `worker1`?",
        "config.yaml:9:11: step name `a` is used twice",
        "module of step `a` not found",
        "unknown key `stag` in a step",
        "did you mean `stage`?",
        "the number of rounds is unknown",
        "warning: ",
        "`max_round` is not a promwasm key",
        "nothing was started",
    ]);
    nothing_started(&p, &run);
}

#[test]
fn missing_env_vars_and_bad_keypairs_name_the_worker() {
    let p = Project::new();
    p.write("keys/bad.json", "[1, 2, 3]");
    p.write(
        "workers.json",
        r#"{
  "worker1": {
    "command": ["true"],
    "env_vars": { "API_KEY": "NOT_SET_ANYWHERE" },
    "keypairs": { "staking": "BAD_KEY", "main": "UNSET_KEY" }
  }
}"#,
    );
    p.write(".env", "BAD_KEY=tests/keys/bad.json\n");
    p.config("max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n    stage: echo\n");
    let run = p.run(&[]);
    run.expect_code(2);
    run.expect_errors(&[
        "workers.json:4:30: worker `worker1` maps `API_KEY` from `NOT_SET_ANYWHERE`, which is not set",
        "worker `worker1`: cannot load staking keypair from `BAD_KEY`",
        "worker `worker1`: main keypair path env var `UNSET_KEY` is not set",
        "promwasm keygen",
    ]);
    nothing_started(&p, &run);
}

#[test]
fn a_module_that_is_not_a_component_or_lacks_the_stage_is_refused_before_starting() {
    let p = Project::new();
    p.with_orca_workers("");
    p.write("garbage.wasm", "this is not wasm");
    p.config(
        "max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: garbage.wasm\n  - name: b\n    worker: worker1\n    module: {guests}\n    stage: ecko\n",
    );
    let run = p.run(&[]);
    run.expect_code(2)
        .expect_output("config.yaml:6:13: step `a`")
        .expect_output("is not a WebAssembly component")
        .expect_output("has no stage `ecko`")
        .expect_output("did you mean `echo`?");
    nothing_started(&p, &run);
}
