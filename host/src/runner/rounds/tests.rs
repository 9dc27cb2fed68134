//! The round loop with scripted outcomes: no processes, no components.

use super::*;
use crate::events::Recorder;
use crate::plan::{DbAccess, Limits, ModuleSource, Origin, Retry, RoundRef, SkipIf};
use crate::runner::interrupt::Interrupt;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;

fn step(name: &str) -> StepPlan {
    StepPlan {
        name: name.into(),
        description: String::new(),
        worker: 0,
        module: ModuleSource::File("m.wasm".into()),
        stage: name.into(),
        args: "{}".into(),
        limits: Limits::default(),
        db: DbAccess::None,
        retry: Retry::default(),
        skip_if: SkipIf::default(),
        group: None,
        origin: Origin {
            file: "config.yaml".into(),
            pos: Default::default(),
        },
    }
}

fn grouped(name: &str, group: &str) -> StepPlan {
    StepPlan {
        group: Some(group.into()),
        ..step(name)
    }
}

/// Scripted outcomes per step name (the last one repeats); records every try.
#[derive(Default)]
struct Script {
    outcomes: HashMap<String, Vec<Outcome>>,
    /// How long a try of a step takes (none: no time).
    takes: HashMap<String, Duration>,
    tried: RefCell<Vec<(u32, String)>>,
    /// Each try's (round, step) when it ended, in the order they ended.
    ended: RefCell<Vec<(u32, String)>>,
    dead_after: Option<usize>,
    /// What dies then (default: a worker).
    death: Option<RunFailure>,
    /// This step never returns (until the run is interrupted).
    hangs: Option<String>,
}

impl Script {
    fn with(mut self, step: &str, outcomes: Vec<Outcome>) -> Self {
        self.outcomes.insert(step.into(), outcomes);
        self
    }
    fn takes(mut self, step: &str, time: Duration) -> Self {
        self.takes.insert(step.into(), time);
        self
    }
    fn tried(&self) -> Vec<(u32, String)> {
        self.tried.borrow().clone()
    }
    fn ended(&self) -> Vec<String> {
        self.ended
            .borrow()
            .iter()
            .map(|(r, s)| format!("{r}{s}"))
            .collect()
    }
}

impl Attempts for Script {
    async fn attempt(
        &self,
        step: &StepPlan,
        round: u32,
        log: &LogCtx,
        _http: &HttpMeter,
    ) -> Outcome {
        let n = self
            .tried
            .borrow()
            .iter()
            .filter(|(r, s)| *r == round && *s == step.name)
            .count();
        self.tried.borrow_mut().push((round, step.name.clone()));
        log.line("info", &format!("try {}", n + 1));
        if self.hangs.as_deref() == Some(step.name.as_str()) {
            std::future::pending::<()>().await;
        }
        if let Some(time) = self.takes.get(&step.name) {
            tokio::time::sleep(*time).await;
        }
        self.ended.borrow_mut().push((round, step.name.clone()));
        match self.outcomes.get(&step.name) {
            Some(list) => list[n.min(list.len() - 1)].clone(),
            None => Outcome::Passed(json!(null)),
        }
    }

    fn check_run(&mut self) -> Result<(), RunFailure> {
        match self.dead_after {
            Some(n) if self.tried.borrow().len() >= n => Err(self
                .death
                .clone()
                .unwrap_or_else(|| RunFailure::WorkerDied("worker `w` exited".into()))),
            _ => Ok(()),
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: StateStore,
    path: std::path::PathBuf,
    events: Events,
    recorder: Recorder,
    workers: Vec<String>,
    run_log: crate::capabilities::log::RunLog,
    http_samples: crate::capabilities::http::RunSamples,
    interrupt: Interrupt,
}

fn fixture(state: State) -> Fixture {
    fixture_with(state, Interrupt::never())
}

fn fixture_with(state: State, interrupt: Interrupt) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = State::path_in(dir.path());
    let recorder = Recorder::default();
    Fixture {
        store: StateStore::new(state, &path),
        path,
        events: Events::new(vec![Box::new(recorder.clone())]),
        recorder,
        workers: vec!["w".into()],
        run_log: Default::default(),
        http_samples: Default::default(),
        interrupt,
        _dir: dir,
    }
}

impl Fixture {
    fn looped<'a>(&'a self, steps: &'a [StepPlan], max_rounds: u32) -> RoundLoop<'a> {
        RoundLoop {
            steps,
            workers: &self.workers,
            max_rounds,
            store: &self.store,
            events: &self.events,
            run_log: &self.run_log,
            http_samples: &self.http_samples,
            interrupt: &self.interrupt,
        }
    }
    fn saved(&self) -> State {
        State::load(&self.path).unwrap().unwrap()
    }
}

fn fresh() -> State {
    State::fresh("run".into(), Default::default())
}

async fn run(
    f: &Fixture,
    steps: &[StepPlan],
    rounds: u32,
    script: &mut Script,
) -> (RunResult, Result<(), RunFailure>) {
    let mut result = RunResult::default();
    let end = f.looped(steps, rounds).run(script, &mut result).await;
    (result, end)
}

#[tokio::test]
async fn every_round_runs_every_step_in_order_and_saves_progress() {
    let f = fixture(fresh());
    let steps = [step("a"), step("b")];
    let mut script = Script::default();
    let (result, end) = run(&f, &steps, 2, &mut script).await;
    assert_eq!(end, Ok(()));
    let order: Vec<(u32, String)> = vec![
        (1, "a".into()),
        (1, "b".into()),
        (2, "a".into()),
        (2, "b".into()),
    ];
    assert_eq!(script.tried(), order);
    assert!(result.passed());
    let saved = f.saved();
    assert_eq!(
        (saved.current_round, saved.last_completed_step.as_deref()),
        (2, Some("b"))
    );
    let rounds: Vec<u32> = f
        .recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::RoundFinished { round } => Some(*round),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, [1, 2]);
}

#[tokio::test]
async fn a_resumed_run_starts_after_the_last_completed_step() {
    let mut state = fresh();
    state.next_round();
    state.last_completed_step = Some("a".into());
    let f = fixture(state);
    let steps = [step("a"), step("b"), step("c")];
    let mut script = Script::default();
    run(&f, &steps, 3, &mut script).await.1.unwrap();
    let tried: Vec<String> = script
        .tried()
        .iter()
        .map(|(r, s)| format!("{r}{s}"))
        .collect();
    assert_eq!(tried, ["2b", "2c", "3a", "3b", "3c"]);
}

#[test]
fn an_unknown_resume_point_starts_the_round_over() {
    let steps = [step("a"), step("b")];
    assert_eq!(resume_index(&steps, None), 0);
    assert_eq!(resume_index(&steps, Some("a")), 1);
    assert_eq!(resume_index(&steps, Some("b")), 2);
    assert_eq!(resume_index(&steps, Some("renamed")), 0);
}

#[tokio::test]
async fn a_failed_step_stops_the_run_and_stays_the_resume_point() {
    let f = fixture(fresh());
    let steps = [step("a"), step("b"), step("c")];
    let mut script = Script::default().with("b", vec![Outcome::Failed("boom".into())]);
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Ok(()));
    assert_eq!(script.tried().len(), 2, "c never ran");
    assert!(!result.passed());
    assert_eq!(
        result.steps[1].outcome,
        Outcome::Failed("round 1, step `b` (stage `b`, worker `w`): boom".into())
    );
    assert_eq!(
        result.steps[2].outcome,
        Outcome::NotRun("round 1, step `b` did not pass".into())
    );
    assert_eq!(f.saved().last_completed_step.as_deref(), Some("a"));
}

/// (round, step, status) of each result.
fn statuses(result: &RunResult) -> Vec<(u32, String, &'static str)> {
    result
        .steps
        .iter()
        .map(|r| (r.round, r.step.clone(), r.outcome.status()))
        .collect()
}

#[tokio::test]
async fn the_steps_a_failure_leaves_are_not_run_in_this_and_later_rounds() {
    let f = fixture(fresh());
    let steps = [step("a"), step("b")];
    let mut script =
        Script::default().with("b", vec![Outcome::TimedOut("timed out after 1s".into())]);
    let (result, end) = run(&f, &steps, 3, &mut script).await;
    assert_eq!(end, Ok(()));
    let want: Vec<(u32, String, &str)> = [
        (1, "a", "passed"),
        (1, "b", "timed out"),
        (2, "a", "not run"),
        (2, "b", "not run"),
        (3, "a", "not run"),
        (3, "b", "not run"),
    ]
    .map(|(r, s, o)| (r, s.to_string(), o))
    .into();
    assert_eq!(statuses(&result), want);
    assert!(!result.passed(), "a timed-out step fails the run");
    assert_eq!(
        result.steps[1].outcome,
        Outcome::TimedOut("round 1, step `b` (stage `b`, worker `w`): timed out after 1s".into())
    );
    assert_eq!(
        result.steps[2].outcome,
        Outcome::NotRun("round 1, step `b` did not pass".into())
    );
    assert_eq!(
        (f.saved().current_round, f.saved().last_completed_step),
        (1, Some("a".to_string())),
        "a timed-out step is the resume point"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_try_is_retried_like_a_failed_one() {
    let f = fixture(fresh());
    let mut s = step("slow");
    s.retry.attempts = 2;
    let steps = [s];
    let mut script = Script::default().with(
        "slow",
        vec![
            Outcome::TimedOut("timed out".into()),
            Outcome::Passed(json!(2)),
        ],
    );
    let (result, _) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(result.steps[0].outcome, Outcome::Passed(json!(2)));
    assert_eq!(result.steps[0].attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_ends_the_running_step_as_interrupted_and_the_rest_as_not_run() {
    let (interrupt_now, interrupt) = Interrupt::manual();
    let f = fixture_with(fresh(), interrupt);
    let steps = [step("a"), step("b"), step("c")];
    let mut script = Script {
        hangs: Some("b".into()),
        ..Default::default()
    };
    let ((result, end), ()) = tokio::join!(run(&f, &steps, 2, &mut script), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        interrupt_now();
    });
    assert_eq!(end, Err(RunFailure::Interrupted));
    let want: Vec<(u32, String, &str)> = [
        (1, "a", "passed"),
        (1, "b", "interrupted"),
        (1, "c", "not run"),
        (2, "a", "not run"),
        (2, "b", "not run"),
        (2, "c", "not run"),
    ]
    .map(|(r, s, o)| (r, s.to_string(), o))
    .into();
    assert_eq!(statuses(&result), want);
    let b = &result.steps[1];
    assert_eq!((b.attempts, b.duration), (1, Duration::from_secs(5)));
    assert_eq!(b.log, [" info try 1"], "its log so far is kept");
    assert_eq!(f.saved().last_completed_step.as_deref(), Some("a"));
    // The interrupted step ends in the event stream like any other.
    let finished = f
        .recorder
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::StepFinished(r) if r.outcome == Outcome::Interrupted))
        .count();
    assert_eq!(finished, 1);
}

#[tokio::test]
async fn an_interrupt_between_steps_runs_nothing_more() {
    let (interrupt_now, interrupt) = Interrupt::manual();
    interrupt_now();
    let f = fixture_with(fresh(), interrupt);
    let steps = [step("a")];
    let mut script = Script::default();
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Err(RunFailure::Interrupted));
    assert!(script.tried().is_empty());
    assert_eq!(
        result.steps[0].outcome,
        Outcome::NotRun("the run was interrupted before it".into())
    );
}

#[tokio::test(start_paused = true)]
async fn retries_until_success_with_the_interval_between_tries() {
    let f = fixture(fresh());
    let mut flaky = step("flaky");
    flaky.retry = Retry {
        attempts: 3,
        interval: Duration::from_secs(7),
        until_success: false,
    };
    let steps = [flaky];
    let mut script = Script::default().with(
        "flaky",
        vec![
            Outcome::Failed("1".into()),
            Outcome::Failed("2".into()),
            Outcome::Passed(json!(3)),
        ],
    );
    let started = tokio::time::Instant::now();
    let (result, _) = run(&f, &steps, 1, &mut script).await;
    // Paused time: exactly two pauses of the interval passed.
    assert_eq!(started.elapsed(), Duration::from_secs(14));
    assert_eq!(result.steps[0].attempts, 3);
    assert_eq!(result.steps[0].outcome, Outcome::Passed(json!(3)));
    // The log keeps every try's lines.
    assert_eq!(
        result.steps[0].log,
        [" info try 1", " info try 2", " info try 3"]
    );
    let retries: Vec<u32> = f
        .recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::StepRetry { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_step_still_failing_after_its_tries_fails() {
    let f = fixture(fresh());
    let mut s = step("s");
    s.retry.attempts = 2;
    let steps = [s];
    let mut script = Script::default().with("s", vec![Outcome::Failed("no".into())]);
    let (result, _) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(result.steps[0].attempts, 2);
    assert!(matches!(&result.steps[0].outcome, Outcome::Failed(m) if m.ends_with(": no")));
}

#[tokio::test(start_paused = true)]
async fn until_success_retries_skips_and_fails_a_step_still_skipping() {
    let f = fixture(fresh());
    let mut s = step("poll");
    s.retry = Retry {
        attempts: 2,
        interval: Duration::from_millis(1),
        until_success: true,
    };
    let steps = [s.clone()];
    let mut script = Script::default().with("poll", vec![Outcome::Skipped("not yet".into())]);
    let (result, _) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(
            result.steps[0].outcome,
            Outcome::Failed(
                "round 1, step `poll` (stage `poll`, worker `w`): still skipping after 2 attempts (`until: success`): not yet"
                    .into()
            )
        );
    // Without `until: success` a skip is an outcome like any other.
    s.retry.until_success = false;
    let f = fixture(fresh());
    let steps = [s];
    let mut script = Script::default().with("poll", vec![Outcome::Skipped("not yet".into())]);
    let (result, _) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(result.steps[0].outcome, Outcome::Skipped("not yet".into()));
    assert_eq!(result.steps[0].attempts, 1);
}

#[tokio::test]
async fn skip_if_skips_without_trying() {
    let mut state = fresh();
    state
        .set("pr_url", json!("https://x"), crate::state::Scope::Global)
        .unwrap();
    let f = fixture(state);
    let mut first_only = step("first-only");
    first_only.skip_if.rounds = vec![RoundRef::Number(2), RoundRef::Last];
    let mut needs_pr = step("needs-missing");
    needs_pr.skip_if.unset = vec!["missing".into()];
    let mut unless_pr = step("unless-pr");
    unless_pr.skip_if.set = vec!["pr_url".into()];
    let steps = [first_only, needs_pr, unless_pr];
    let mut script = Script::default();
    let (result, _) = run(&f, &steps, 3, &mut script).await;
    let tried: Vec<String> = script
        .tried()
        .iter()
        .map(|(r, s)| format!("{r}{s}"))
        .collect();
    assert_eq!(tried, ["1first-only"]);
    let skipped: Vec<(u32, &str, u32)> = result
        .steps
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Skipped(why) => Some((r.round, why.as_str(), r.attempts)),
            _ => None,
        })
        .collect();
    assert!(skipped.contains(&(2, "skip_if: round 2", 0)), "{skipped:?}");
    assert!(skipped.contains(&(3, "skip_if: round 3", 0)), "{skipped:?}");
    assert!(
        skipped.contains(&(1, "skip_if: `missing` is unset", 0)),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&(1, "skip_if: `pr_url` is set", 0)),
        "{skipped:?}"
    );
    assert!(result.passed());
}

#[tokio::test]
async fn a_dead_worker_stops_the_run_before_the_next_step() {
    let f = fixture(fresh());
    let steps = [step("a"), step("b")];
    let mut script = Script {
        dead_after: Some(1),
        ..Default::default()
    };
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Err(RunFailure::WorkerDied("worker `w` exited".into())));
    assert_eq!(result.steps.len(), 2);
    assert_eq!(
        result.steps[1].outcome,
        Outcome::NotRun("a worker died before it".into())
    );
    assert_eq!(f.saved().last_completed_step.as_deref(), Some("a"));
}

#[tokio::test]
async fn the_post_load_hook_is_named_as_such() {
    let f = fixture(fresh());
    let hook = step("post-load");
    let script = Script::default().with("post-load", vec![Outcome::Failed("bad".into())]);
    let r = f.looped(&[], 1).step(&script, &hook, 0).await;
    assert_eq!(
        r.outcome,
        Outcome::Failed("post-load hook (stage `post-load`, worker `w`): bad".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_group_runs_at_once_and_the_groups_after_it_wait_for_all_of_it() {
    let f = fixture(fresh());
    let steps = [
        step("task"),
        grouped("submit1", "submit"),
        grouped("submit2", "submit"),
        grouped("submit3", "submit"),
        grouped("audit1", "audit"),
        grouped("audit2", "audit"),
        step("end"),
    ];
    let second = Duration::from_secs(1);
    let mut script = Script::default()
        .takes("submit1", 3 * second)
        .takes("submit2", second)
        .takes("submit3", 2 * second)
        .takes("audit1", second)
        .takes("audit2", 2 * second);
    let started = Instant::now();
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Ok(()));
    assert_eq!(
        started.elapsed(),
        5 * second,
        "each group takes as long as its slowest step (3 s + 2 s), not the sum (6 s + 3 s)"
    );
    assert_eq!(
        script.ended(),
        ["1task", "1submit2", "1submit3", "1submit1", "1audit1", "1audit2", "1end"],
        "steps of a group end in their own time; no audit before every submission"
    );
    let names: Vec<&str> = result.steps.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(
        names,
        ["task", "submit1", "submit2", "submit3", "audit1", "audit2", "end"],
        "results are in step order, whatever order the steps ended in"
    );
    assert_eq!(result.steps[1].duration, 3 * second);
    let groups: Vec<(String, Vec<String>)> = f
        .recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::GroupStarted { group, steps, .. } => Some((group, steps)),
            _ => None,
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                "submit".into(),
                vec!["submit1".into(), "submit2".into(), "submit3".into()]
            ),
            ("audit".into(), vec!["audit1".into(), "audit2".into()]),
        ]
    );
    let saved = f.saved();
    assert_eq!(saved.last_completed_step.as_deref(), Some("end"));
    assert!(saved.promwasm.group_done.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failure_in_a_group_lets_the_group_finish_and_a_resume_reruns_only_the_unfinished() {
    let f = fixture(fresh());
    let steps = [
        step("task"),
        grouped("a", "g"),
        grouped("b", "g"),
        grouped("c", "g"),
        step("end"),
    ];
    let mut script = Script::default()
        .with("b", vec![Outcome::Failed("boom".into())])
        .takes("c", Duration::from_secs(2));
    let (result, end) = run(&f, &steps, 2, &mut script).await;
    assert_eq!(end, Ok(()));
    assert_eq!(
        statuses(&result),
        [
            (1, "task".into(), "passed"),
            (1, "a".into(), "passed"),
            (1, "b".into(), "failed"),
            (1, "c".into(), "passed"),
            (1, "end".into(), "not run"),
            (2, "task".into(), "not run"),
            (2, "a".into(), "not run"),
            (2, "b".into(), "not run"),
            (2, "c".into(), "not run"),
            (2, "end".into(), "not run"),
        ],
        "c, still running when b failed, finished; end did not start"
    );
    let saved = f.saved();
    assert_eq!(saved.last_completed_step.as_deref(), Some("task"));
    assert_eq!(saved.promwasm.group_done, ["a", "c"]);

    // The next run resumes with b alone, then goes on.
    let f = fixture(saved);
    let mut script = Script::default();
    let (result, end) = run(&f, &steps, 2, &mut script).await;
    assert_eq!(end, Ok(()));
    let tried: Vec<String> = script
        .tried()
        .iter()
        .map(|(r, s)| format!("{r}{s}"))
        .collect();
    assert_eq!(tried, ["1b", "1end", "2task", "2a", "2b", "2c", "2end"]);
    assert!(result.passed());
    let groups: Vec<Vec<String>> = f
        .recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::GroupStarted {
                round: 1, steps, ..
            } => Some(steps),
            _ => None,
        })
        .collect();
    assert_eq!(groups, [vec!["b".to_string()]]);
}

#[tokio::test]
async fn a_failure_in_a_resumed_group_leaves_only_its_unfinished_steps_not_run() {
    let mut state = fresh();
    state.last_completed_step = Some("task".into());
    state.promwasm.group_done = vec!["a".into()];
    let f = fixture(state);
    let steps = [step("task"), grouped("a", "g"), grouped("b", "g")];
    let mut script = Script {
        dead_after: Some(0),
        ..Script::default()
    };
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert!(matches!(end, Err(RunFailure::WorkerDied(_))), "{end:?}");
    assert_eq!(statuses(&result), [(1, "b".into(), "not run")]);
}

#[tokio::test]
async fn from_step_inside_a_group_runs_the_group_from_that_step() {
    let mut state = fresh();
    // What `--from-step b` sets: the step before it.
    state.last_completed_step = Some("a".into());
    let f = fixture(state);
    let steps = [
        step("task"),
        grouped("a", "g"),
        grouped("b", "g"),
        grouped("c", "g"),
        step("end"),
    ];
    let mut script = Script::default();
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Ok(()));
    let names: Vec<&str> = result.steps.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(names, ["b", "c", "end"]);
    assert_eq!(f.saved().last_completed_step.as_deref(), Some("end"));
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_interrupts_every_running_step_of_a_group() {
    let (interrupt_now, interrupt) = Interrupt::manual();
    let f = fixture_with(fresh(), interrupt);
    let steps = [grouped("a", "g"), grouped("b", "g"), step("end")];
    let mut script = Script {
        hangs: Some("a".into()),
        ..Script::default()
    }
    .takes("b", Duration::from_secs(5));
    let ((result, end), ()) = tokio::join!(run(&f, &steps, 1, &mut script), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        interrupt_now();
    });
    assert_eq!(end, Err(RunFailure::Interrupted));
    assert_eq!(
        statuses(&result),
        [
            (1, "a".into(), "interrupted"),
            (1, "b".into(), "interrupted"),
            (1, "end".into(), "not run"),
        ]
    );
    let saved = f.saved();
    assert_eq!(saved.last_completed_step, None);
    assert!(saved.promwasm.group_done.is_empty());
}

#[tokio::test]
async fn a_dead_database_server_stops_the_run_before_the_next_step() {
    let f = fixture(fresh());
    let steps = [step("a"), step("b")];
    let died = RunFailure::DatabaseDied("the mongod server exited".into());
    let mut script = Script {
        dead_after: Some(1),
        death: Some(died.clone()),
        ..Script::default()
    };
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Err(died));
    assert_eq!(
        result.steps[1].outcome,
        Outcome::NotRun("the database server died before it".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_of_a_group_retries_on_its_own_while_the_others_run() {
    let f = fixture(fresh());
    let mut flaky = grouped("flaky", "g");
    flaky.retry = Retry {
        attempts: 2,
        interval: Duration::from_secs(1),
        until_success: false,
    };
    let steps = [flaky, grouped("slow", "g")];
    let mut script = Script::default()
        .with(
            "flaky",
            vec![Outcome::Failed("not yet".into()), Outcome::Passed(json!(2))],
        )
        .takes("slow", Duration::from_secs(3));
    let started = Instant::now();
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Ok(()));
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(3),
        "flaky's retry and its pause happened while slow ran"
    );
    assert_eq!(script.ended(), ["1flaky", "1flaky", "1slow"]);
    assert_eq!(
        (result.steps[0].attempts, result.steps[0].duration),
        (2, Duration::from_secs(1)),
        "each step has its own tries and its own duration"
    );
    assert_eq!(result.steps[0].log, [" info try 1", " info try 2"]);
    assert_eq!(result.steps[1].log, [" info try 1"], "logs kept apart");
}

#[tokio::test]
async fn a_step_failed_by_a_death_fails_the_run_not_only_the_step() {
    let f = fixture(fresh());
    let steps = [step("a"), step("b")];
    // `a` fails because its worker died while it ran (the sandbox says so).
    let mut script = Script {
        dead_after: Some(1),
        ..Script::default()
    }
    .with("a", vec![Outcome::Failed("worker `w` exited".into())]);
    let (result, end) = run(&f, &steps, 1, &mut script).await;
    assert_eq!(end, Err(RunFailure::WorkerDied("worker `w` exited".into())));
    assert_eq!(
        statuses(&result),
        [(1, "a".into(), "failed"), (1, "b".into(), "not run")]
    );
    assert_eq!(
        result.steps[1].outcome,
        Outcome::NotRun("a worker died before it".into())
    );
}
