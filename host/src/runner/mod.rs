//! Executing a plan, start to end: prepare it into a locked run (every
//! component checked and compiled), open the database, load or start the
//! state, seed and run the post-load hook on a fresh run, start the workers,
//! run the rounds, stop everything — also on failure and on Ctrl-C/SIGTERM.
//! What happens is told to the event stream; nothing here prints.

mod database;
mod interrupt;
mod lock;
mod prepare;
mod rounds;
mod run_dir;
pub mod step;
mod store;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use crate::capabilities::http::{HttpMeter, RunSamples};
use crate::capabilities::log::{LogCtx, RunLog};
use crate::config::{Diagnostics, Loaded};
use crate::events::{Event, Events};
use crate::plan::{Plan, StepPlan};
use crate::results::{Outcome, RunFailure, RunResult};
use crate::state::{State, StateError};
use crate::supervisor::{OutputLine, OutputSink};
use crate::workers::{self, WorkerSet};

use database::RunDatabase;
use interrupt::{Interrupt, Signals};
pub use prepare::{LockedRun, ResumePoint, RunOptions, Session, STAGES_TIMEOUT};
use rounds::{Attempts, RoundLoop};
use store::StateStore;

/// Why a run could not start, or stopped before its steps could say anything.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input is wrong (a module, a stage name): fix the files.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The state file cannot be read: it says how to start over.
    #[error(transparent)]
    State(StateError),
    /// The machine could not provide what the run needs (a worker, MongoDB,
    /// the state file's folder).
    #[error(transparent)]
    Machine(#[from] anyhow::Error),
}

/// Run a loaded plan, telling `events` what happens. However it ends, the
/// last event is [`Event::RunFinished`] or [`Event::RunAborted`].
pub async fn run(
    loaded: Loaded,
    opts: &RunOptions,
    events: &Events,
) -> Result<RunResult, RunError> {
    let mut result = RunResult::default();
    match execute(loaded, opts, events, &mut result).await {
        Ok(()) => {
            events.emit(Event::RunFinished(result.clone()));
            Ok(result)
        }
        Err(e) => {
            result.failure = Some(match &e {
                RunError::Invalid(diags) => RunFailure::Invalid(diags.to_string()),
                RunError::State(e) => RunFailure::Invalid(e.to_string()),
                RunError::Machine(e) => RunFailure::Machine(format!("{e:#}")),
            });
            events.emit(Event::RunAborted(result));
            Err(e)
        }
    }
}

async fn execute(
    loaded: Loaded,
    opts: &RunOptions,
    events: &Events,
    result: &mut RunResult,
) -> Result<(), RunError> {
    let Loaded { plan, env, .. } = loaded;
    // Listen before anything starts, so a Ctrl-C during setup is not lost.
    let signals = Signals::listen().context("cannot listen for Ctrl-C/SIGTERM")?;
    let _one_run = lock::RunLock::acquire(&plan.data_dir)?;
    let locked = LockedRun::prepare(&plan, opts).await?;
    let state_path = State::path_in(&plan.data_dir);
    let saved = if opts.reset {
        None
    } else {
        State::load(&state_path).map_err(RunError::State)?
    };
    let run_id = match &saved {
        Some(state) => state.promwasm.run_id.clone(),
        None => new_run_id(),
    };
    let run_dir = run_dir::RunDir::open(&plan.data_dir, &run_id, plan.keep_runs)?;
    events.emit(Event::RunStarted {
        run_id: run_id.clone(),
        dir: run_dir.path().to_path_buf(),
    });
    let log_dir = run_dir.logs();
    let database = RunDatabase::open(&plan, saved.is_none(), opts, &log_dir, events).await?;
    let ran = Run {
        plan: &plan,
        from: opts.from.as_ref(),
        env: &env,
        locked: &locked,
        database: database.as_ref(),
        events,
        log_dir: &log_dir,
        run_log: RunLog::default(),
        http_samples: RunSamples::default(),
    }
    .go(saved, run_id, &state_path, &signals.interrupt(), result)
    .await;
    if let Some(db) = database {
        db.stop().await;
    }
    ran
}

/// What `run` checks before starting anything, without starting anything:
/// every module is fetched (if pinned by URL), loads, targets our WIT
/// version and exports its steps' stages.
pub async fn check(plan: &Plan, opts: &RunOptions) -> Result<(), RunError> {
    LockedRun::prepare(plan, opts).await.map(drop)
}

/// One run's parts, for the phases after preparing.
struct Run<'a> {
    plan: &'a Plan,
    from: Option<&'a ResumePoint>,
    env: &'a BTreeMap<String, String>,
    locked: &'a LockedRun,
    database: Option<&'a RunDatabase>,
    events: &'a Events,
    log_dir: &'a Path,
    run_log: RunLog,
    http_samples: RunSamples,
}

impl Run<'_> {
    async fn go(
        &self,
        saved: Option<State>,
        run_id: String,
        state_path: &Path,
        interrupt: &Interrupt,
        result: &mut RunResult,
    ) -> Result<(), RunError> {
        let fresh = saved.is_none();
        let mut state = match saved {
            Some(state) => state,
            None => {
                self.events.emit(Event::FreshRun);
                State::fresh(run_id, self.global_values())
            }
        };
        if let Some(from) = self.from {
            state.current_round = from.round.unwrap_or(state.current_round);
            state.last_completed_step = from.after_step.clone();
            state.promwasm.group_done.clear();
        }
        if !fresh || self.from.is_some() {
            self.events.emit(Event::Resumed {
                round: state.current_round,
                after_step: state.last_completed_step.clone(),
                group_done: state.promwasm.group_done.clone(),
            });
            result.resumed = Some((state.current_round, state.last_completed_step.clone()));
        }
        let store = StateStore::new(state, state_path);
        let run_id = store.read(|s| s.promwasm.run_id.clone());
        result.run_id = run_id.clone();
        let session = Session {
            store: &store,
            run_id: &run_id,
            database: self.database.map(|d| &d.database),
        };
        let worker_names: Vec<String> = self.plan.workers.iter().map(|w| w.name.clone()).collect();

        if fresh {
            let prepared = interrupt
                .guard(self.fresh_start(&session, &worker_names, interrupt))
                .await;
            match prepared {
                None => {
                    result.failure = Some(RunFailure::Interrupted);
                    return Ok(());
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(Some(hook))) => {
                    // A failing post-load hook is a step failure; the state is
                    // not saved, so the next run starts fresh again.
                    if hook.outcome == Outcome::Interrupted {
                        result.failure = Some(RunFailure::Interrupted);
                    }
                    result.steps.push(hook);
                    return Ok(());
                }
                Some(Ok(None)) => {}
            }
        }
        let max_rounds = match store.read(|s| s.promwasm.max_rounds) {
            Some(n) => n,
            None => self.count_rounds().await?,
        };
        result.max_rounds = max_rounds;
        store
            .update(|s| s.promwasm.max_rounds = Some(max_rounds))
            .map_err(|e| RunError::Machine(e.into()))?;

        let mut worker_env = BTreeMap::new();
        // Lets a task keep each run's data apart; the same across a resume.
        worker_env.insert("PROMWASM_RUN_ID".to_string(), run_id.clone());
        if let Some(db) = self.database {
            worker_env.insert("MONGO_URI".to_string(), db.uri.clone());
        }
        let events = self.events.clone();
        let output: OutputSink = Arc::new(move |l: &OutputLine| {
            events.emit(Event::WorkerOutput {
                name: l.name.clone(),
                stream: l.stream,
                line: l.line.clone(),
            })
        });
        let progress = workers::Progress {
            started: &|w, pid| {
                self.events.emit(Event::WorkerStarted {
                    name: w.name.clone(),
                    port: w.port,
                    pid,
                })
            },
            ready: &|w, after| {
                self.events.emit(Event::WorkerReady {
                    name: w.name.clone(),
                    after,
                })
            },
        };
        let started = workers::start(
            &self.plan.workers,
            self.env,
            &worker_env,
            self.log_dir,
            output,
            // Secrets stay out of the log files and error tails too, not only the console.
            Arc::new(crate::mask::Masker::from_plan(self.plan)),
            &progress,
        );
        let mut set = match interrupt.guard(started).await {
            None => {
                // Dropping the half-started set kills what was started.
                result.failure = Some(RunFailure::Interrupted);
                return Ok(());
            }
            Some(set) => set.map_err(|e| RunError::Machine(e.into()))?,
        };
        let rounds = RoundLoop {
            steps: &self.plan.steps,
            workers: &worker_names,
            max_rounds,
            store: &store,
            events: self.events,
            run_log: &self.run_log,
            http_samples: &self.http_samples,
            interrupt,
        };
        let mut sandbox = Sandbox {
            locked: self.locked,
            session: &session,
            workers: Some(Mutex::new(&mut set)),
            database: self.database,
        };
        let looped = rounds.run(&mut sandbox, result).await;
        // The sandbox borrows the set; it must be done with it before stopping.
        let Sandbox { .. } = sandbox;
        // Sampled last, just before they are stopped.
        result.workers = set.usage();
        for name in set.stop().await {
            self.events.emit(Event::WorkerStopped { name });
        }
        result.failure = looped.err();
        Ok(())
    }

    /// A fresh run: seed MongoDB, run the post-load hook, delete the workers'
    /// local databases. The hook's result when it did not pass.
    async fn fresh_start(
        &self,
        session: &Session<'_>,
        worker_names: &[String],
        interrupt: &Interrupt,
    ) -> Result<Option<crate::results::StepResult>, RunError> {
        if let Some(db) = self.database {
            db.seed(self.plan, self.events).await?;
            if let Some(hook) = &self.plan.post_load {
                let rounds = RoundLoop {
                    steps: &[],
                    workers: worker_names,
                    max_rounds: 0,
                    store: session.store,
                    events: self.events,
                    run_log: &self.run_log,
                    http_samples: &self.http_samples,
                    interrupt,
                };
                let sandbox = Sandbox {
                    locked: self.locked,
                    session,
                    workers: None,
                    database: self.database,
                };
                let r = rounds.step(&sandbox, hook, 0).await;
                if r.outcome.is_failure() || r.outcome == Outcome::Interrupted {
                    return Ok(Some(r));
                }
            }
        }
        delete_worker_databases(self.plan)?;
        Ok(None)
    }

    /// `max_rounds`, else the documents with this task's id in `rounds_collection`.
    async fn count_rounds(&self) -> Result<u32, RunError> {
        if let Some(n) = self.plan.max_rounds {
            return Ok(n);
        }
        match (&self.plan.rounds_collection, self.database) {
            (Some(collection), Some(db)) => Ok(db.count_rounds(self.plan, collection, self.events).await?),
            // config::load requires one or the other.
            _ => Err(RunError::Machine(anyhow::anyhow!(
                "set `max_rounds` in config.yaml, or a `mongodb` section and `rounds_collection` to count rounds from"
            ))),
        }
    }

    /// What prometheus-test keeps in the state's global scope at the start.
    fn global_values(&self) -> serde_json::Map<String, Value> {
        let mut global = self.plan.config_values.clone();
        let workers: serde_json::Map<String, Value> = self
            .plan
            .workers
            .iter()
            .map(|w| (w.name.clone(), Value::Object(w.fields.clone())))
            .collect();
        global.insert("workers".into(), json!(workers));
        global
    }
}

/// How often the workers are checked while a step runs.
const WORKER_WATCH: Duration = Duration::from_millis(50);

/// Runs step tries in the sandbox, and watches the workers: between steps,
/// and while a step runs (a worker that dies then fails that step, with its
/// death as the cause, instead of leaving the step to time out).
struct Sandbox<'a, 's> {
    locked: &'a LockedRun,
    session: &'a Session<'s>,
    workers: Option<Mutex<&'a mut WorkerSet>>,
    database: Option<&'a RunDatabase>,
}

impl Sandbox<'_, '_> {
    /// A process the run depends on that has died: a worker, or the
    /// database server promwasm started.
    fn death(&self) -> Option<RunFailure> {
        if let Some(workers) = &self.workers {
            let mut set = workers.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = set.check_alive() {
                return Some(RunFailure::WorkerDied(e.to_string()));
            }
        }
        self.database?.died().map(RunFailure::DatabaseDied)
    }

    /// Resolves when a process the run depends on has died; never when
    /// there are none to watch.
    async fn watch(&self) -> RunFailure {
        let managed_db = self.database.is_some_and(RunDatabase::is_managed);
        if self.workers.is_none() && !managed_db {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(WORKER_WATCH).await;
            if let Some(death) = self.death() {
                return death;
            }
        }
    }
}

impl Attempts for Sandbox<'_, '_> {
    async fn attempt(
        &self,
        step: &StepPlan,
        round: u32,
        log: &LogCtx,
        http: &HttpMeter,
    ) -> Outcome {
        let ctx = self.locked.step_ctx(step, round, self.session, log, http);
        let run = step::run(
            self.locked.engine().wasmtime(),
            self.locked.component(step),
            ctx,
            &step.limits,
            &step.stage,
            &step.args,
        );
        tokio::select! {
            run = run => {
                for line in &run.output {
                    log.line("guest", line);
                }
                run.outcome
            }
            death = self.watch() => Outcome::Failed(format!("{death}\n(while this step ran)")),
        }
    }

    fn check_run(&mut self) -> Result<(), RunFailure> {
        self.death().map_or(Ok(()), Err)
    }
}

/// Like prometheus-test: workers start from empty local databases.
fn delete_worker_databases(plan: &Plan) -> Result<(), RunError> {
    if let Ok(entries) = std::fs::read_dir(&plan.data_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "db") && path.is_file() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot delete {}", path.display()))?;
            }
        }
    }
    for w in &plan.workers {
        if w.database_path.extension().is_some_and(|e| e == "db") {
            // Already gone when it lives in data_dir; elsewhere it may not exist.
            let _ = std::fs::remove_file(&w.database_path);
        }
    }
    Ok(())
}

fn new_run_id() -> String {
    let mut bytes = [0u8; 8];
    // Uniqueness matters, not secrecy: fall back to the clock if the OS RNG fails.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (nanos as u64).to_le_bytes();
    }
    hex::encode(bytes)
}
