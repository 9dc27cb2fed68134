//! Kill-and-resume trials: `promwasm run` is SIGKILLed at pseudo-random
//! moments (a fixed seed) and run again, without `--reset`, until a run
//! finishes by itself.
//!
//! After every kill: the state file, if there is one, parses and sits at a
//! step of the step list, never behind where it was; the store holds exactly
//! what the completed steps wrote; no worker outlives the killed promwasm; and
//! the workers saw exactly the completed steps plus at most the one step in
//! flight. At the end every step of every round ran, and a step ran twice
//! only because a kill interrupted it after its worker saw it and before the
//! state was saved: at most one extra run per kill.
//!
//! The steps are the test guest's `record` stage: it checks the store before
//! it runs (round `count`, global `total`, `done.r<round>.<step>`), POSTs
//! `{round, step, run_id}` to its worker, and writes those keys. The workers
//! are a small python3 server that appends one fsync'd line per POST to its
//! own file, with the number of the promwasm invocation that started it.
//!
//! When: a first run, not killed, measures how long startup and a whole run
//! take here; each kill then comes after a delay drawn from zero to about
//! how long a run with the steps left takes (covering startup, the steps and
//! stopping), or, one time in three, 0–3 ms after one of the run's steps
//! printed that it passed, which it does just before the state is saved (so
//! some kills land between writing the temp file and renaming it). A run
//! with every step completed is left to finish. A project runs its 16 steps
//! in about a second, so 30 kills take several projects ("trials"), each
//! run from scratch to its end.
//!
//! `KILL_RESUME_SEED=N` replays other kill moments.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use promwasm_e2e::{
    free_port, port_open, processes_mentioning, wait_until, Live, Project, Run, RUN_LIMIT,
};
use serde_json::{json, Value};

/// Rounds per trial.
const ROUNDS: usize = 4;
/// Each round's steps and the index of the worker each runs at.
const STEPS: [(&str, usize); 4] = [
    ("announce", 0),
    ("submit", 1),
    ("audit", 0),
    ("distribute", 1),
];
const WORKERS: [&str; 2] = ["worker1", "worker2"];
/// Steps in a whole trial.
const TOTAL: usize = ROUNDS * STEPS.len();
/// Kills in all, over as many trials as that takes.
const MIN_KILLS: usize = 30;
/// Runs in all before the test gives up.
const MAX_RUNS: usize = 200;
/// Kill delays are drawn from zero to as long as a run with the steps left
/// takes on this machine (see [`Timing`]); never less than this.
const MIN_DELAY_RANGE: Duration = Duration::from_millis(100);
/// What the worker does per POST: sleep, append and fsync its line, sleep, answer
/// (milliseconds), so a step lasts long enough to be killed in, before and after
/// its worker has seen it.
const WORKER_PAUSES_MS: (u64, u64) = (20, 20);
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// The worker: `python3 recorder.py RECORD_FILE PRE_MS POST_MS`. `POST /record`
/// with `{round, step, run_id}` appends `round,step,run_id,invocation,time` to
/// RECORD_FILE (invocation: `$KILL_TRIAL_RUN`, set on promwasm by the test and
/// inherited by its workers), fsyncs it, and answers 200.
const RECORDER: &str = r#"
import json, os, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

record, pre, post = sys.argv[1], float(sys.argv[2]) / 1000, float(sys.argv[3]) / 1000
invocation = os.environ["KILL_TRIAL_RUN"]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        if self.path != "/record":
            return self.answer(404, b"no route")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        time.sleep(pre)
        line = f"{body['round']},{body['step']},{body['run_id']},{invocation},{time.time():.6f}\n"
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        time.sleep(post)
        self.answer(200, b"recorded")

    def answer(self, code, data):
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// xorshift64: the kill delays, reproducible from the seed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// A number in `0..=max`.
    fn up_to(&mut self, max: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % (max + 1)
    }
}

/// One project run from scratch to its end.
struct Trial {
    project: Project,
    ports: [u16; 2],
    records: [PathBuf; 2],
}

impl Trial {
    fn new() -> Self {
        let project = Project::new();
        let script = project.tests().join("recorder.py");
        project.write("recorder.py", RECORDER);
        let ports = [free_port(), free_port()];
        let records = WORKERS.map(|w| project.tests().join(format!("records/{w}.csv")));
        std::fs::create_dir_all(records[0].parent().unwrap()).unwrap();
        let mut workers = serde_json::Map::new();
        for (i, name) in WORKERS.iter().enumerate() {
            workers.insert(
                name.to_string(),
                json!({
                    "port": ports[i],
                    "command": [
                        "python3",
                        script,
                        records[i],
                        WORKER_PAUSES_MS.0.to_string(),
                        WORKER_PAUSES_MS.1.to_string(),
                    ],
                }),
            );
        }
        project.workers(Value::Object(workers));
        let mut config = format!("max_rounds: {ROUNDS}\nsteps:\n");
        for (index, (step, worker)) in STEPS.iter().enumerate() {
            config.push_str(&format!(
                "  - name: {step}\n    worker: {}\n    module: {{guests}}\n    stage: record\n    \
                 args: {{ url: \"http://127.0.0.1:{}/record\", step: {step}, index: {index}, steps_per_round: {} }}\n",
                WORKERS[*worker],
                ports[*worker],
                STEPS.len()
            ));
        }
        project.config(&config);
        Trial {
            project,
            ports,
            records,
        }
    }

    fn state_file(&self) -> PathBuf {
        self.project.data().join("test_state.json")
    }

    /// `promwasm run`, its workers told they belong to invocation `n`.
    fn start(&self, n: usize) -> Live {
        let mut cmd = self.project.command("run");
        cmd.env("KILL_TRIAL_RUN", n.to_string());
        Live::start(&mut cmd)
    }

    /// No worker of this trial is alive and listening: both ports closed, and
    /// no process mentions the project folder.
    fn no_orphans(&self, limit: Duration) -> Result<(), String> {
        let closed = wait_until(limit, || self.ports.iter().all(|&p| !port_open(p)));
        let root = self.project.root().to_string_lossy().into_owned();
        let gone = wait_until(limit, || processes_mentioning(&root).is_empty());
        if closed && gone {
            return Ok(());
        }
        Err(format!(
            "orphans {limit:?} after promwasm ended: ports {:?} open: {:?}; processes: {:?}",
            self.ports,
            self.ports.map(port_open),
            processes_mentioning(&root)
        ))
    }

    /// The state file, checked; `None` when there is none.
    fn state(&self) -> Result<Option<Progress>, String> {
        let text = match std::fs::read_to_string(self.state_file()) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read the state file: {e}")),
        };
        let state: Value = serde_json::from_str(&text)
            .map_err(|e| format!("the state file is not JSON ({e}):\n{text}"))?;
        check_state(&state)
            .map(Some)
            .map_err(|e| format!("{e}\nstate: {state:#}"))
    }

    /// Every line the workers recorded.
    fn records(&self) -> Result<Vec<Record>, String> {
        let mut all = Vec::new();
        for (worker, path) in self.records.iter().enumerate() {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            };
            for line in text.lines() {
                all.push(
                    Record::parse(line, worker)
                        .ok_or_else(|| format!("bad line {line:?} in {}", path.display()))?,
                );
            }
        }
        Ok(all)
    }
}

/// Where the state file says the trial is.
#[derive(Debug, Clone, PartialEq)]
struct Progress {
    /// Steps completed (the resume point as a position in the whole trial).
    done: usize,
    run_id: String,
}

/// Checks a parsed state file: the resume point is a step of the list, and
/// the store holds exactly what the steps before it wrote.
fn check_state(state: &Value) -> Result<Progress, String> {
    let round = state["current_round"]
        .as_u64()
        .filter(|r| (1..=ROUNDS as u64).contains(r))
        .ok_or_else(|| format!("current_round is not in 1..={ROUNDS}"))? as usize;
    let in_round = match &state["last_completed_step"] {
        Value::Null => 0,
        Value::String(s) => {
            STEPS
                .iter()
                .position(|(name, _)| name == s)
                .ok_or_else(|| format!("last_completed_step `{s}` is not a step"))?
                + 1
        }
        other => return Err(format!("last_completed_step is {other}")),
    };
    if state["promwasm"]["max_rounds"] != json!(ROUNDS) {
        return Err(format!("promwasm.max_rounds is not {ROUNDS}"));
    }
    let run_id = state["promwasm"]["run_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or("promwasm.run_id is missing")?
        .to_string();
    let done = (round - 1) * STEPS.len() + in_round;
    // What the steps wrote: each completed one, and nothing of the others.
    let or_null = |n: usize| if n == 0 { Value::Null } else { json!(n) };
    if state["global"]["total"] != or_null(done) {
        return Err(format!(
            "global `total` is {}, but {done} steps completed",
            state["global"]["total"]
        ));
    }
    for r in 1..=ROUNDS {
        let first = (r - 1) * STEPS.len();
        let count = done.saturating_sub(first).min(STEPS.len());
        let scope = &state["rounds"][r.to_string()];
        if scope["count"] != or_null(count) {
            return Err(format!(
                "round {r}'s `count` is {}, but {count} of its steps completed",
                scope["count"]
            ));
        }
        for (i, (step, _)) in STEPS.iter().enumerate() {
            let completed = first + i < done;
            let mark = &state["global"]["done"][format!("r{r}")][step];
            let chain = &scope["chain"][step];
            let (want_mark, want_chain) = if completed {
                (json!(true), json!(format!("r{r}:{step}")))
            } else {
                (Value::Null, Value::Null)
            };
            if *mark != want_mark || *chain != want_chain {
                return Err(format!(
                    "round {r}, step {step} ({}): done.r{r}.{step} is {mark}, round {r}'s chain.{step} is {chain}",
                    if completed { "completed" } else { "not completed" }
                ));
            }
        }
    }
    Ok(Progress { done, run_id })
}

/// One line of a worker's record.
#[derive(Debug, Clone)]
struct Record {
    /// Position of (round, step) in the trial.
    at: usize,
    run_id: String,
    /// The test's number of the promwasm run that started the worker.
    invocation: usize,
}

impl Record {
    fn parse(line: &str, worker: usize) -> Option<Record> {
        let mut parts = line.split(',');
        let round: usize = parts.next()?.parse().ok()?;
        let step = parts.next()?;
        let run_id = parts.next()?.to_string();
        let invocation = parts.next()?.parse().ok()?;
        parts.next()?.parse::<f64>().ok()?;
        let index = STEPS
            .iter()
            .position(|(name, w)| *name == step && *w == worker)?;
        ((1..=ROUNDS).contains(&round)).then(|| Record {
            at: (round - 1) * STEPS.len() + index,
            run_id,
            invocation,
        })
    }
}

/// `(round, step)` of a position.
fn name(at: usize) -> String {
    format!(
        "round {}, step {}",
        at / STEPS.len() + 1,
        STEPS[at % STEPS.len()].0
    )
}

/// Checks the records against the state: every completed step was seen by
/// its worker; nothing beyond the step in flight was; steps completed in
/// order; a step ran more than once only in runs that were killed, at most
/// one such step per run. Returns the wasted runs (records of a step that
/// did not complete in that run).
fn check_records(
    records: &[Record],
    progress: Option<&Progress>,
    killed: &BTreeSet<usize>,
) -> Result<Vec<Record>, String> {
    let Some(progress) = progress else {
        // The state is saved before the workers start: no state, no step ran.
        return match records.first() {
            None => Ok(Vec::new()),
            Some(r) => Err(format!(
                "run {} ran {} but there is no state file",
                r.invocation,
                name(r.at)
            )),
        };
    };
    let done = progress.done;
    let mut by_step: BTreeMap<usize, Vec<&Record>> = BTreeMap::new();
    for r in records {
        if r.run_id != progress.run_id {
            return Err(format!(
                "run {} recorded {} with run id {}, the state's is {}",
                r.invocation,
                name(r.at),
                r.run_id,
                progress.run_id
            ));
        }
        if r.at > done {
            return Err(format!(
                "run {} ran {} while the state says {done} steps completed: \
                 it ran ahead of the step in flight, or a completed step was lost",
                r.invocation,
                name(r.at)
            ));
        }
        by_step.entry(r.at).or_default().push(r);
    }
    let mut wasted = Vec::new();
    // The run that completed each completed step (its last run: the records
    // of one step are all in one worker's file, in the order they ran).
    let mut completers: Vec<usize> = Vec::new();
    for at in 0..=done.min(TOTAL - 1) {
        let runs = by_step.get(&at).map(Vec::as_slice).unwrap_or_default();
        if at < done && runs.is_empty() {
            return Err(format!(
                "{} completed, but its worker never saw it",
                name(at)
            ));
        }
        if runs.windows(2).any(|w| w[0].invocation >= w[1].invocation) {
            return Err(format!(
                "{} ran in runs out of order, or twice in one run: {runs:?}",
                name(at)
            ));
        }
        // A completed step: its last run completed it; a step in flight: none did.
        let completing = usize::from(at < done);
        wasted.extend(runs[..runs.len() - completing].iter().map(|r| (*r).clone()));
        if at < done {
            let by = runs[runs.len() - 1].invocation;
            if let Some(&before) = completers.last().filter(|&&before| before > by) {
                return Err(format!(
                    "run {by} completed {}, but run {before}, a later one, completed the step \
                     before it: a step ran again after it completed",
                    name(at)
                ));
            }
            // Runs are numbered in the order they ran: with the order within a
            // step, a run that left a step unfinished completed nothing later.
            completers.push(by);
        }
    }
    let mut per_run: BTreeMap<usize, usize> = BTreeMap::new();
    for r in &wasted {
        if !killed.contains(&r.invocation) {
            return Err(format!(
                "{} ran again after run {}, which was not killed, ran it",
                name(r.at),
                r.invocation
            ));
        }
        *per_run.entry(r.invocation).or_default() += 1;
    }
    if let Some((run, n)) = per_run.iter().find(|(_, n)| **n > 1) {
        return Err(format!(
            "killed run {run} left {n} steps to run again (at most the one in flight)"
        ));
    }
    Ok(wasted)
}

/// Where the kill landed, from what the killed run printed and the state.
fn phase(run: &Run, progress: Option<&Progress>) -> &'static str {
    let last = run
        .stdout
        .lines()
        .rfind(|l| l.contains("── round") || l.contains("✓ passed"));
    match last {
        None => "startup",
        Some(l) if l.contains("── round") => "in a step",
        Some(_) if progress.is_some_and(|p| p.done == TOTAL) => "after the last step",
        Some(_) => "between steps",
    }
}

#[derive(Default)]
struct Tally {
    trials: usize,
    runs: usize,
    kills: usize,
    /// Kills by phase.
    phases: BTreeMap<&'static str, usize>,
    /// Kills aimed at the saving after a step.
    aimed: usize,
    /// Kills that left a new `test_state.json.tmp` (between writing it and
    /// renaming it over the state file).
    mid_save: usize,
    /// Steps run again because a kill came after their worker saw them and
    /// before the state was saved.
    duplicates: usize,
}

/// When to kill a run.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// This long after it started.
    After(Duration),
    /// This long after its `n`-th step passed (when the state is being saved).
    AfterStep(usize, Duration),
}

impl Aim {
    /// A moment anywhere in the time a run with `remaining` steps takes, or,
    /// one time in three, aimed at the saving after one of those steps (0–3 ms
    /// after the step printed that it passed, which it does just before saving).
    fn draw(rng: &mut XorShift, timing: &Timing, remaining: usize) -> Aim {
        if rng.up_to(2) == 0 {
            let nth = 1 + rng.up_to(remaining as u64 - 1) as usize;
            Aim::AfterStep(nth, Duration::from_micros(rng.up_to(3000)))
        } else {
            let range = timing.range(remaining).as_millis() as u64;
            Aim::After(Duration::from_millis(rng.up_to(range)))
        }
    }
}

/// How long runs take on this machine, measured with a run that is not killed.
struct Timing {
    /// From start to the first step: loading, loading (or compiling) the
    /// components, starting the workers.
    startup: Duration,
    /// The whole run: startup, every step, stopping.
    whole: Duration,
}

impl Timing {
    /// About how long a run with `remaining` steps left takes.
    fn range(&self, remaining: usize) -> Duration {
        let steps = self.whole.saturating_sub(self.startup);
        (self.startup + steps.mul_f64(remaining as f64 / TOTAL as f64)).max(MIN_DELAY_RANGE)
    }
}

impl std::fmt::Display for Aim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Aim::After(delay) => write!(f, "after {delay:?}"),
            Aim::AfterStep(nth, delay) => write!(f, "{delay:?} after its step {nth} passed"),
        }
    }
}

/// Run one trial to its end, killing runs while the tally wants kills.
fn trial(rng: &mut XorShift, timing: &Timing, tally: &mut Tally, seed: u64) {
    tally.trials += 1;
    let t = Trial::new();
    let tmp = t.state_file().with_extension("json.tmp");
    let mut killed = BTreeSet::new();
    let mut last: Option<Progress> = None;
    loop {
        tally.runs += 1;
        let n = tally.runs;
        assert!(
            n <= MAX_RUNS,
            "seed {seed}: no run finished by itself in {MAX_RUNS} runs ({} kills): \
             the resumed runs do not converge",
            tally.kills
        );
        let tmp_before = std::fs::read(&tmp).ok();
        let mut live = t.start(n);
        let remaining = TOTAL - last.as_ref().map_or(0, |p| p.done);
        // Once every step completed, the next run is left to finish the trial.
        let aim =
            (tally.kills < MIN_KILLS && remaining > 0).then(|| Aim::draw(rng, timing, remaining));
        match aim {
            Some(Aim::After(delay)) => std::thread::sleep(delay),
            Some(Aim::AfterStep(nth, delay)) => {
                for _ in 0..nth {
                    live.wait_for("✓ passed", RUN_LIMIT);
                }
                std::thread::sleep(delay);
            }
            None => {}
        }
        if aim.is_some() {
            // Not yet waited for: the pid is ours even if it has exited.
            kill(Pid::from_raw(live.pid() as i32), Signal::SIGKILL).expect("SIGKILL promwasm");
        }
        let run = live.finish(RUN_LIMIT);
        let trial = tally.trials;
        let when = aim.map_or("not killed".to_string(), |a| format!("killed {a}"));
        let at = format!("seed {seed}, trial {trial}, run {n} ({when})");
        let fail = |msg: String| -> ! { panic!("{at}: {msg}\n{}", run.all()) };
        // A run killed by a signal has no exit code.
        if aim.is_none() || run.code != -1 {
            println!(
                "run {n} (trial {trial}): finished by itself in {:?}{}",
                run.took,
                aim.map_or(String::new(), |a| format!(" (the kill {a} came late)"))
            );
            if run.code != 0 {
                fail(format!("a resumed run exited with {}", run.code));
            }
            finish(&t, &killed, tally).unwrap_or_else(|e| fail(e));
            return;
        }
        killed.insert(n);
        tally.kills += 1;
        let progress = t.state();
        let landed = phase(&run, progress.as_ref().ok().and_then(Option::as_ref));
        *tally.phases.entry(landed).or_default() += 1;
        if matches!(aim, Some(Aim::AfterStep(..))) {
            tally.aimed += 1;
        }
        let tmp_after = std::fs::read(&tmp).ok();
        if tmp_after.is_some() && tmp_after != tmp_before {
            tally.mid_save += 1;
        }
        println!(
            "run {n} (trial {trial}): {when}, {landed}; state: {}",
            match &progress {
                Ok(Some(p)) => format!("{} of {TOTAL} steps completed", p.done),
                Ok(None) => "none".into(),
                Err(_) => "bad".into(),
            }
        );
        if run.stdout.contains("✗ failed") {
            fail("a step failed before the kill".into());
        }
        t.no_orphans(Duration::from_secs(5))
            .unwrap_or_else(|e| fail(e));
        let progress = progress.unwrap_or_else(|e| fail(e));
        match (&last, &progress) {
            (Some(_), None) => fail("the state file is gone".into()),
            (Some(before), Some(now)) if now.done < before.done || now.run_id != before.run_id => {
                fail(format!(
                    "the state went back: {before:?} before this run, {now:?} after it"
                ))
            }
            _ => {}
        }
        let records = t.records().unwrap_or_else(|e| fail(e));
        check_records(&records, progress.as_ref(), &killed).unwrap_or_else(|e| fail(e));
        last = progress;
    }
}

/// After the run that finished by itself: workers stopped, every step of every
/// round completed and recorded, the store complete, duplicates only from kills.
fn finish(t: &Trial, killed: &BTreeSet<usize>, tally: &mut Tally) -> Result<(), String> {
    t.no_orphans(Duration::from_secs(10))?;
    let progress = t.state()?.ok_or("no state file after a finished run")?;
    if progress.done != TOTAL {
        return Err(format!(
            "the run finished with {} of {TOTAL} steps completed",
            progress.done
        ));
    }
    let records = t.records()?;
    let wasted = check_records(&records, Some(&progress), killed)?;
    let duplicates = records.len() - TOTAL;
    if duplicates != wasted.len() || duplicates > killed.len() {
        return Err(format!(
            "{duplicates} steps ran more than once ({} runs wasted) with {} kills",
            wasted.len(),
            killed.len()
        ));
    }
    tally.duplicates += duplicates;
    Ok(())
}

/// How long runs take here: two whole trials, not killed, checked like the
/// others; the second one is measured (the first may compile the components).
fn calibrate() -> Timing {
    let mut timing = None;
    for _ in 0..2 {
        let t = Trial::new();
        let started = Instant::now();
        let mut live = t.start(0);
        live.wait_for("── round 1/", RUN_LIMIT);
        let startup = started.elapsed();
        let run = live.finish(RUN_LIMIT);
        run.expect_code(0);
        let mut tally = Tally::default();
        finish(&t, &BTreeSet::new(), &mut tally)
            .unwrap_or_else(|e| panic!("a run that was not killed: {e}\n{}", run.all()));
        assert_eq!(tally.duplicates, 0, "no kill, no step run twice");
        timing = Some(Timing {
            startup,
            whole: run.took,
        });
    }
    timing.unwrap()
}

#[test]
fn killed_at_random_moments_a_run_resumes_at_the_right_step_and_loses_nothing() {
    let seed = std::env::var("KILL_RESUME_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let started = Instant::now();
    let timing = calibrate();
    println!(
        "a run that is not killed: {} ms to its first step, {} ms in all",
        timing.startup.as_millis(),
        timing.whole.as_millis()
    );
    let mut rng = XorShift::new(seed);
    let mut tally = Tally::default();
    while tally.kills < MIN_KILLS {
        trial(&mut rng, &timing, &mut tally, seed);
    }
    let phases: Vec<String> = tally
        .phases
        .iter()
        .map(|(phase, n)| format!("{n} {phase}"))
        .collect();
    let summary = format!(
        "kill_resume: seed {seed}: {} kills ({}; {} aimed at a save, {} left a new temp state \
         file) over {} runs in {} trials, {} duplicate step runs, kill delays up to {} ms, {:.1}s",
        tally.kills,
        phases.join(", "),
        tally.aimed,
        tally.mid_save,
        tally.runs,
        tally.trials,
        tally.duplicates,
        timing.range(TOTAL).as_millis(),
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    // Also past the test harness's capture, so it shows when the test passes.
    let _ = writeln!(std::io::stderr(), "{summary}");
    let in_steps = tally.phases.get("in a step").copied().unwrap_or(0)
        + tally.phases.get("between steps").copied().unwrap_or(0);
    assert!(
        in_steps >= MIN_KILLS / 4,
        "only {in_steps} of {} kills landed among the steps: the kill delays do not fit this machine",
        tally.kills
    );
}

/// The state a trial has after `done` steps, as promwasm writes it.
fn state_after(done: usize) -> Value {
    let round = if done == 0 {
        1
    } else {
        (done - 1) / STEPS.len() + 1
    };
    let in_round = done - (round - 1) * STEPS.len();
    let mut state = json!({
        "rounds": {},
        "global": { "task_id": "test-task" },
        "current_round": round,
        "last_completed_step": in_round.checked_sub(1).map(|i| STEPS[i].0),
        "promwasm": { "run_id": "run-1", "max_rounds": ROUNDS },
    });
    for at in 0..done {
        let (r, step) = (at / STEPS.len() + 1, STEPS[at % STEPS.len()].0);
        state["global"]["total"] = json!(at + 1);
        state["global"]["done"][format!("r{r}")][step] = json!(true);
        let scope = &mut state["rounds"][r.to_string()];
        scope["count"] = json!(at % STEPS.len() + 1);
        scope["chain"][step] = json!(format!("r{r}:{step}"));
    }
    state
}

fn record(at: usize, invocation: usize) -> Record {
    Record {
        at,
        run_id: "run-1".into(),
        invocation,
    }
}

#[test]
fn the_checks_catch_lost_values_wrong_resume_points_and_extra_runs() {
    for done in [0, 1, 4, 5, TOTAL] {
        let state = state_after(done);
        assert_eq!(check_state(&state).map(|p| p.done), Ok(done), "{state:#}");
    }
    // A value a completed step wrote is lost, or one of a step that did not complete is there.
    let mut lost = state_after(6);
    lost["rounds"]["2"]["chain"]
        .as_object_mut()
        .unwrap()
        .remove("announce");
    assert!(check_state(&lost).is_err());
    let mut early = state_after(6);
    early["global"]["done"]["r2"]["audit"] = json!(true);
    assert!(check_state(&early).is_err());
    let mut total = state_after(6);
    total["global"]["total"] = json!(7);
    assert!(check_state(&total).is_err());
    let mut unknown = state_after(6);
    unknown["last_completed_step"] = json!("renamed");
    assert!(check_state(&unknown).is_err());

    let progress = check_state(&state_after(3)).unwrap();
    let killed: BTreeSet<usize> = [2, 3].into();
    // Run 1 completed steps 0 and 1, run 2 step 2, and was killed in step 3.
    let fine = [record(0, 1), record(1, 1), record(2, 2), record(3, 2)];
    assert_eq!(
        check_records(&fine, Some(&progress), &killed)
            .unwrap()
            .len(),
        1
    );
    // Run 3 ran step 1 again after run 2 had completed step 2: resumed at the wrong step.
    let mut again = fine.to_vec();
    again.push(record(1, 3));
    let all_killed: BTreeSet<usize> = [1, 2, 3].into();
    assert!(check_records(&again, Some(&progress), &all_killed).is_err());
    // A step beyond the one in flight ran.
    let ahead = [record(0, 1), record(1, 1), record(2, 2), record(4, 2)];
    assert!(check_records(&ahead, Some(&progress), &killed).is_err());
    // A completed step its worker never saw.
    let unseen = [record(0, 1), record(2, 2)];
    assert!(check_records(&unseen, Some(&progress), &killed).is_err());
    // Run 1 was not killed, yet its run of step 0 was wasted.
    let unkilled = [record(0, 1), record(0, 2), record(1, 2), record(2, 2)];
    assert!(check_records(&unkilled, Some(&progress), &killed).is_err());
    // Steps ran with no state file.
    assert!(check_records(&[record(0, 2)], None, &killed).is_err());
}
