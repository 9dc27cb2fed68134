//! Tools for debugging a resumed run: `promwasm state show`, `run
//! --from-step NAME [--round N]`, and a state file that cannot be read,
//! which is never reset silently.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use promwasm_e2e::{outcomes, Project};
use serde_json::json;

/// Two rounds of `a` and `b`, both counting their runs in the store.
fn counting_project() -> Project {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        "max_rounds: 2\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n    stage: count-runs\n    args: { name: a }\n  - name: b\n    worker: worker2\n    module: {guests}\n    stage: count-runs\n    args: { name: b }\n",
    );
    p
}

#[test]
fn state_show_prints_the_resume_point_and_the_store() {
    let p = counting_project();
    let none = p.state_show();
    none.expect_code(0).expect_output("no saved state");

    p.run(&[]).expect_code(0);
    let run_id = p.report()["run_id"].as_str().unwrap().to_string();
    let shown = p.state_show();
    shown
        .expect_code(0)
        .expect_line(&["run id:", &run_id])
        .expect_line(&["round:", "2 of 2"])
        .expect_line(&["last step:", "b"])
        .expect_output("\"runs\": {");
    // The store printed is the saved one: both steps ran twice.
    assert_eq!(p.state()["global"]["runs"], json!({"a": 2, "b": 2}));
    assert!(
        shown.stdout.contains("\"a\": 2") && shown.stdout.contains("\"b\": 2"),
        "{}",
        shown.all()
    );
}

#[test]
fn a_second_run_on_the_same_data_folder_is_refused_while_the_first_runs() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        "max_rounds: 1\ndefaults: { timeout: 60s }\nsteps:\n  - name: first\n    worker: worker1\n    module: {guests}\n    stage: count-runs\n  - name: long\n    worker: worker2\n    module: {guests}\n    stage: spin\n",
    );
    let mut live = p.start(&[]);
    live.wait_for("long (spin on worker2)", Duration::from_secs(60));
    let before = std::fs::read(p.data().join("test_state.json")).unwrap();
    // Neither a resume nor a reset may touch the running one's state.
    for args in [&[][..], &["--reset"][..]] {
        p.run(args)
            .expect_code(3)
            .expect_errors(&["another promwasm run", &format!("pid {}", live.pid())]);
    }
    assert_eq!(
        std::fs::read(p.data().join("test_state.json")).unwrap(),
        before,
        "the refused runs left the state alone"
    );
    kill(Pid::from_raw(live.pid() as i32), Signal::SIGTERM).unwrap();
    live.finish(Duration::from_secs(30)).expect_code(130);
    // The folder is free again once the first run has ended.
    assert_eq!(p.state()["last_completed_step"], json!("first"));
    p.config("max_rounds: 1\nsteps:\n  - name: first\n    worker: worker1\n    module: {guests}\n    stage: count-runs\n");
    p.run(&["--reset"]).expect_code(0);
}

#[test]
fn from_step_moves_the_resume_point_and_keeps_the_store() {
    let p = counting_project();
    p.run(&[]).expect_code(0);
    // Re-run only `b` of round 2: the steps before it count as done.
    p.run(&["--from-step", "b", "--round", "2"])
        .expect_code(0)
        .expect_output("Resuming round 2 after step a");
    assert_eq!(
        outcomes(&p.report()),
        [(2, "b".to_string(), "passed".to_string())]
    );
    assert_eq!(p.state()["global"]["runs"], json!({"a": 2, "b": 3}));
    // From the first step of a round: the whole round again.
    p.run(&["--from-step", "a", "--round", "1"]).expect_code(0);
    let ran: Vec<(u64, String)> = outcomes(&p.report())
        .into_iter()
        .map(|(r, s, _)| (r, s))
        .collect();
    assert_eq!(
        ran,
        [
            (1, "a".into()),
            (1, "b".into()),
            (2, "a".into()),
            (2, "b".into())
        ]
    );
}

#[test]
fn from_step_names_an_unknown_step() {
    let p = counting_project();
    p.run(&["--from-step", "bb"])
        .expect_code(2)
        .expect_errors(&["--from-step: there is no step `bb`", "did you mean `b`?"]);
    p.run(&["--round", "2"])
        .expect_code(2)
        .expect_errors(&["--from-step"]);
}

#[test]
fn an_unreadable_state_file_is_never_reset_silently() {
    let p = counting_project();
    p.run(&[]).expect_code(0);
    let path = p.data().join("test_state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let truncated = &text[..text.len() / 2];
    std::fs::write(&path, truncated).unwrap();

    let run = p.run(&[]);
    run.expect_code(2).expect_errors(&[
        "cannot read state file",
        "test_state.json",
        "--reset",
        "promwasm state show",
    ]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        truncated,
        "the file was not changed"
    );
    p.state_show()
        .expect_code(2)
        .expect_errors(&["cannot read state file"]);
    // The choice it offers works.
    p.run(&["--reset"]).expect_code(0);
    assert_eq!(p.state()["global"]["runs"], json!({"a": 2, "b": 2}));
}

trait StateShow {
    fn state_show(&self) -> promwasm_e2e::Run;
}

impl StateShow for Project {
    fn state_show(&self) -> promwasm_e2e::Run {
        let mut cmd = promwasm_e2e::promwasm();
        cmd.args(["state", "show"])
            .arg(self.tests().join("config.yaml"));
        promwasm_e2e::run_command(&mut cmd, std::time::Duration::from_secs(60))
    }
}
