//! Executing a plan, start to end: check every component, prepare MongoDB and
//! the state (fresh or resumed), start the workers, run the rounds from the
//! resume point persisting the state after every step, and stop everything —
//! also on failure and on Ctrl-C/SIGTERM.

pub mod result;
pub mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::capabilities::db::DbCtx;
use crate::capabilities::http::{AllowList, HttpCtx};
use crate::capabilities::log::LogCtx;
use crate::capabilities::runner::RunnerCtx;
use crate::capabilities::worker::WorkerCtx;
use crate::capabilities::StepCtx;
use crate::config::{Diagnostic, Diagnostics, Loaded};
use crate::engine::{Engine, LoadedComponent};
use crate::mongo;
use crate::plan::{ModuleSource, Plan, StepPlan, WorkerPlan};
use crate::state::State;
use crate::workers::{self, WorkerSet};
pub use result::{Outcome, RunResult, StepResult};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Ignore any saved state and start over (re-seeding MongoDB).
    pub reset: bool,
    /// Where compiled components are cached.
    pub cache_dir: Option<PathBuf>,
    /// Where modules fetched by URL are kept.
    pub module_dir: Option<PathBuf>,
    /// Extra folders to look for a MongoDB-compatible server in.
    pub server_dirs: Vec<PathBuf>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input is wrong (a module, a stage name): fix the files.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The machine could not provide what the run needs (a server, MongoDB, a state file).
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
}

/// Everything a step context is built from, shared by all steps of the run.
struct Shared {
    engine: Engine,
    components: BTreeMap<ModuleSource, LoadedComponent>,
    workers: Arc<[Arc<WorkerPlan>]>,
    config: Arc<serde_json::Map<String, Value>>,
    allow: Arc<AllowList>,
    state: Arc<Mutex<State>>,
    database: Option<mongodb::Database>,
    /// Collections to seed at once on this server.
    collections_at_once: usize,
    run_id: String,
    max_rounds: u32,
}

/// Run a loaded plan.
pub async fn run(loaded: Loaded, opts: &RunOptions) -> Result<RunResult, RunError> {
    let Loaded { plan, env, .. } = loaded;
    // Listen before anything starts, so a Ctrl-C during setup is not lost.
    let mut signals = Signals::new().context("cannot listen for Ctrl-C/SIGTERM")?;
    let engine = engine(opts)?;
    let components = preflight(&engine, &plan, opts.module_dir.as_deref())
        .await
        .map_err(RunError::Invalid)?;

    let state_path = State::path_in(&plan.data_dir);
    let saved = if opts.reset {
        None
    } else {
        State::load(&state_path).map_err(anyhow::Error::from)?
    };
    let log_dir = plan.data_dir.join("logs");

    // MongoDB: the user's (MONGO_URI) or one we manage for this run.
    let mut managed = None;
    let mut database = None;
    let mut worker_env = BTreeMap::new();
    if let Some(m) = &plan.mongo {
        let uri = match &m.uri {
            Some(uri) => uri.clone(),
            None => {
                // Kept with the state, so a resumed run finds what the last one left;
                // a fresh run starts from an empty server.
                let storage = plan.data_dir.join("mongodb");
                if saved.is_none() && storage.exists() {
                    std::fs::remove_dir_all(&storage).with_context(|| {
                        format!(
                            "cannot empty the managed MongoDB folder {}",
                            storage.display()
                        )
                    })?;
                }
                let server = mongo::server::ManagedServer::start(
                    &opts.server_dirs,
                    &log_dir.join("mongodb.log"),
                    &mongo::Storage::Keep(storage),
                )
                .await
                .context("cannot start a local MongoDB-compatible server")?;
                println!(
                    "MongoDB: started {} at {} for this run",
                    server.kind(),
                    server.uri()
                );
                let uri = server.uri().to_string();
                managed = Some(server);
                uri
            }
        };
        let outcome = mongo::client::connect(&uri, Duration::from_secs(5)).await;
        match outcome {
            Ok(client) => database = Some(client.database(&m.database)),
            Err(e) => {
                if let Some(s) = managed {
                    s.stop().await;
                }
                return Err(anyhow::Error::from(e).into());
            }
        }
        worker_env.insert("MONGO_URI".to_string(), uri);
    }

    let shared = Shared {
        engine,
        components,
        workers: plan.workers.iter().cloned().collect(),
        config: Arc::new(plan.config_values.clone()),
        allow: Arc::new(AllowList::from_plan(&plan)),
        state: Arc::new(Mutex::new(State::fresh(String::new(), Default::default()))),
        database,
        // The user's own server (MONGO_URI) is taken to be a real mongod.
        collections_at_once: managed.as_ref().map_or(
            mongo::seed::PARALLEL_COLLECTIONS,
            |s: &mongo::server::ManagedServer| s.kind().collections_at_once(),
        ),
        run_id: String::new(),
        max_rounds: 0,
    };
    let outcome = run_with_services(
        &plan,
        &env,
        &worker_env,
        shared,
        saved,
        &log_dir,
        &mut signals,
    )
    .await;
    if let Some(s) = managed {
        s.stop().await;
    }
    outcome
}

/// What `run` checks before starting anything, without starting anything:
/// every module is fetched (if pinned by URL), loads, targets our WIT
/// version and exports its steps' stages.
pub async fn check(plan: &Plan, opts: &RunOptions) -> Result<(), RunError> {
    let engine = engine(opts)?;
    preflight(&engine, plan, opts.module_dir.as_deref())
        .await
        .map(drop)
        .map_err(RunError::Invalid)
}

fn engine(opts: &RunOptions) -> Result<Engine, RunError> {
    Engine::builder()
        .cache_dir(opts.cache_dir.clone())
        .build()
        .map_err(|e| anyhow::anyhow!("cannot create the WebAssembly engine: {e:#}").into())
}

/// Fetch and load every module once and check each step's stage exists; all problems at once.
async fn preflight(
    engine: &Engine,
    plan: &Plan,
    module_dir: Option<&Path>,
) -> Result<BTreeMap<ModuleSource, LoadedComponent>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut components = BTreeMap::new();
    // One listing per module: many steps usually share one component.
    let mut listed: BTreeMap<ModuleSource, Result<Vec<String>, String>> = BTreeMap::new();
    let mut failed: BTreeSet<ModuleSource> = BTreeSet::new();
    let probe_worker: Arc<[Arc<WorkerPlan>]> = plan.workers.iter().cloned().collect();
    for step in plan.steps.iter().chain(plan.post_load.iter()) {
        let at = |msg: String| Diagnostic::at(&step.origin.file, step.origin.pos, msg);
        if failed.contains(&step.module) {
            continue;
        }
        if !components.contains_key(&step.module) {
            let path = match &step.module {
                ModuleSource::File(path) => path.clone(),
                ModuleSource::Url { url, sha256 } => {
                    match crate::fetch::module(url, sha256, module_dir).await {
                        Ok(path) => path,
                        Err(e) => {
                            diags.push(at(format!("step `{}`: {e}", step.name)).hint(
                                "fix `module.url` or `module.sha256`; a fetched module is kept by its sha256 and not fetched again",
                            ));
                            failed.insert(step.module.clone());
                            continue;
                        }
                    }
                }
            };
            match engine.load(&path) {
                Ok(c) => {
                    components.insert(step.module.clone(), c);
                }
                Err(e) => {
                    diags.push(at(format!("step `{}`: {e}", step.name)).hint(
                        "modules are components built for wasm32-wasip2 against wit/ (e.g. with the promwasm-guest SDK)",
                    ));
                    failed.insert(step.module.clone());
                    continue;
                }
            }
        }
        if !listed.contains_key(&step.module) {
            let ctx = StepCtx::probe(probe_worker.clone(), step.worker);
            let stages = step::stages(engine.wasmtime(), &components[&step.module], ctx)
                .await
                .map(|stages| stages.into_iter().map(|s| s.name).collect())
                .map_err(|e| format!("{e:#}"));
            listed.insert(step.module.clone(), stages);
        }
        match &listed[&step.module] {
            Ok(names) if names.contains(&step.stage) => {}
            Ok(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let hint = crate::config::did_you_mean(&step.stage, &names)
                    .unwrap_or_else(|| format!("it has: {}", names.join(", ")));
                diags.push(
                    at(format!(
                        "step `{}`: module {} has no stage `{}`",
                        step.name, step.module, step.stage
                    ))
                    .hint(hint),
                );
            }
            Err(e) => diags.push(at(format!(
                "step `{}`: module {} failed listing its stages: {e}",
                step.name, step.module
            ))),
        }
    }
    diags.into_result(components)
}

async fn run_with_services(
    plan: &Plan,
    env: &BTreeMap<String, String>,
    worker_env: &BTreeMap<String, String>,
    mut shared: Shared,
    saved: Option<State>,
    log_dir: &Path,
    signals: &mut Signals,
) -> Result<RunResult, RunError> {
    let state_path = State::path_in(&plan.data_dir);
    let mut result = RunResult::default();
    let state = match saved {
        Some(state) => {
            println!(
                "Resuming round {} after step {}",
                state.current_round,
                state.last_completed_step.as_deref().unwrap_or("(none)")
            );
            result.resumed = Some((state.current_round, state.last_completed_step.clone()));
            state
        }
        None => fresh_start(plan, &shared).await?,
    };
    shared.run_id = state.promwasm.run_id.clone();
    result.run_id = shared.run_id.clone();
    let max_rounds = match state.promwasm.max_rounds {
        Some(n) => n,
        None => rounds(plan, &shared).await?,
    };
    result.max_rounds = max_rounds;
    shared.max_rounds = max_rounds;
    *shared
        .state
        .lock()
        .map_err(|_| anyhow::anyhow!("state lock poisoned"))? = state;
    save(&shared, &state_path, |s| {
        s.promwasm.max_rounds = Some(max_rounds)
    })?;

    let mut set = tokio::select! {
        set = workers::start(&plan.workers, env, worker_env, log_dir, None) => set.map_err(anyhow::Error::from)?,
        _ = signals.recv() => {
            // Dropping the half-started set kills what was started.
            result.error = Some("interrupted; the state is saved, run again to resume".into());
            return Ok(result);
        }
    };
    let loop_result = tokio::select! {
        r = rounds_loop(
            plan,
            &shared, &mut set, &state_path, max_rounds, &mut result) => r,
        _ = signals.recv() => {
            result.error = Some("interrupted; the state is saved, run again to resume".into());
            Ok(())
        }
    };
    set.stop().await;
    loop_result?;
    Ok(result)
}

/// Ctrl-C and SIGTERM, registered when created.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// A fresh run: seed MongoDB, run the post-load hook, delete the workers' local databases, new state.
async fn fresh_start(plan: &Plan, shared: &Shared) -> Result<State, RunError> {
    println!("Starting a fresh run");
    let run_id = new_run_id();
    let mut global = plan.config_values.clone();
    global.insert("workers".into(), workers_json(plan));
    let state = State::fresh(run_id, global);
    *shared
        .state
        .lock()
        .map_err(|_| anyhow::anyhow!("state lock poisoned"))? = state;

    if let (Some(m), Some(db)) = (&plan.mongo, &shared.database) {
        let seeded = mongo::seed::seed(
            db,
            &plan.task_id,
            &m.collections,
            shared.collections_at_once,
        )
        .await
        .map_err(|e| anyhow::anyhow!("seeding MongoDB failed: {e}"))?;
        for s in &seeded {
            println!(
                "MongoDB: {}: imported {}, {} with taskId {}",
                s.name, s.imported, s.count_with_task_id, plan.task_id
            );
        }
        if let Some(hook) = &plan.post_load {
            let outcome = run_one(plan, shared, hook, 0).await;
            if let Outcome::Failed(msg) = &outcome.outcome {
                return Err(
                    anyhow::anyhow!("post-load hook ({}) failed: {msg}", hook.module).into(),
                );
            }
        }
    }
    // Like prometheus-test: workers start from empty local databases.
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
            let _ = std::fs::remove_file(&w.database_path);
        }
    }
    let state = shared
        .state
        .lock()
        .map_err(|_| anyhow::anyhow!("state lock poisoned"))?
        .clone();
    Ok(state)
}

/// The number of rounds: `max_rounds`, else the documents with this task's id in `rounds_collection`.
async fn rounds(plan: &Plan, shared: &Shared) -> anyhow::Result<u32> {
    if let Some(n) = plan.max_rounds {
        return Ok(n);
    }
    let (Some(collection), Some(db)) = (&plan.rounds_collection, &shared.database) else {
        anyhow::bail!("set `max_rounds` in config.yaml, or a `mongodb` section and `rounds_collection` to count rounds from");
    };
    // The seed data's docs say the rounds equal the number of documents;
    // prometheus-test's code adds one, which runs a round with no todo. We follow the docs.
    let n = mongo::seed::count_task_documents(db, collection, &plan.task_id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot count rounds: {e}"))?;
    println!(
        "{n} rounds (documents with taskId {} in `{collection}`)",
        plan.task_id
    );
    u32::try_from(n).context("too many rounds")
}

async fn rounds_loop(
    plan: &Plan,
    shared: &Shared,
    set: &mut WorkerSet,
    state_path: &Path,
    max_rounds: u32,
    result: &mut RunResult,
) -> Result<(), RunError> {
    loop {
        let (round, last) = {
            let s = shared
                .state
                .lock()
                .map_err(|_| anyhow::anyhow!("state lock poisoned"))?;
            (s.current_round, s.last_completed_step.clone())
        };
        if round > max_rounds {
            break;
        }
        let start = last
            .and_then(|l| plan.steps.iter().position(|s| s.name == l))
            .map_or(0, |i| i + 1);
        for step in &plan.steps[start..] {
            if let Err(e) = set.check_alive() {
                result.error = Some(e.to_string());
                return Ok(());
            }
            let r = run_one(plan, shared, step, round).await;
            let failed = matches!(r.outcome, Outcome::Failed(_));
            result.steps.push(r);
            save(shared, state_path, |s| {
                if !failed {
                    s.last_completed_step = Some(step.name.clone());
                }
            })?;
            if failed {
                return Ok(());
            }
        }
        if round < max_rounds {
            save(shared, state_path, State::next_round)?;
        } else {
            break;
        }
    }
    Ok(())
}

/// Change the state and persist it atomically.
fn save(shared: &Shared, path: &Path, change: impl FnOnce(&mut State)) -> Result<(), RunError> {
    let mut state = shared
        .state
        .lock()
        .map_err(|_| anyhow::anyhow!("state lock poisoned"))?;
    change(&mut state);
    state.save(path).map_err(anyhow::Error::from)?;
    Ok(())
}

async fn run_one(plan: &Plan, shared: &Shared, step: &StepPlan, round: u32) -> StepResult {
    let worker = plan.worker_of(step);
    let what = if step.description.is_empty() {
        String::new()
    } else {
        format!(": {}", step.description)
    };
    if round == 0 {
        println!(
            "── post-load hook ({} on {}){what}",
            step.stage, worker.name
        );
    } else {
        println!(
            "── round {round}/{} · {} ({} on {}){what}",
            shared.max_rounds, step.name, step.stage, worker.name
        );
    }
    // A poisoned lock is reported by the save after the step; here it just means "run it".
    let skip = shared.state.lock().ok().and_then(|state| {
        step.skip_if
            .reason(round, shared.max_rounds, |key| state.get(key).is_some())
    });
    if let Some(reason) = skip {
        return finish(
            step,
            worker,
            round,
            Outcome::Skipped(reason),
            0, // not run at all
            Duration::ZERO,
            Vec::new(),
        );
    }

    let log = LogCtx::new(format!("[r{round} {}@{}]", step.name, worker.name));
    let started = Instant::now();
    let retry = &step.retry;
    let mut attempt = 1;
    let outcome = loop {
        let run = step::run(
            shared.engine.wasmtime(),
            &shared.components[&step.module],
            step_ctx(shared, step, round, &log),
            &step.limits,
            &step.stage,
            &step.args,
        )
        .await;
        for line in &run.output {
            log.line("guest", line);
        }
        let again = match &run.outcome {
            Outcome::Failed(_) => true,
            Outcome::Skipped(_) => retry.until_success,
            Outcome::Passed(_) => false,
        };
        if !again || attempt >= retry.attempts {
            break match run.outcome {
                Outcome::Skipped(reason) if retry.until_success => Outcome::Failed(format!(
                    "still skipping after {attempt} attempts (`until: success`): {reason}"
                )),
                other => other,
            };
        }
        let why = match &run.outcome {
            Outcome::Failed(msg) | Outcome::Skipped(msg) => msg.as_str(),
            Outcome::Passed(_) => "",
        };
        log.line(
            "runner",
            &format!(
                "attempt {attempt}/{} did not succeed ({why}); next in {:?}",
                retry.attempts, retry.interval
            ),
        );
        tokio::time::sleep(retry.interval).await;
        attempt += 1;
    };
    let lines = log.lines.lock().map(|l| l.clone()).unwrap_or_default();
    let outcome = match outcome {
        Outcome::Failed(msg) => Outcome::Failed(format!(
            "round {round}, step `{}` (stage `{}`, worker `{}`): {msg}",
            step.name, step.stage, worker.name
        )),
        other => other,
    };
    finish(
        step,
        worker,
        round,
        outcome,
        attempt,
        started.elapsed(),
        lines,
    )
}

/// What one try of `step` may reach: a fresh context, with its own HTTP deadline.
fn step_ctx(shared: &Shared, step: &StepPlan, round: u32, log: &LogCtx) -> StepCtx {
    let deadline = Instant::now() + step.limits.timeout;
    StepCtx {
        runner: RunnerCtx {
            state: shared.state.clone(),
            config: shared.config.clone(),
            run_id: shared.run_id.clone(),
            round,
        },
        worker: WorkerCtx {
            workers: shared.workers.clone(),
            me: step.worker,
        },
        http: HttpCtx::new(
            shared.allow.clone(),
            step.limits.max_response_bytes,
            deadline,
        ),
        db: DbCtx {
            db: shared.database.clone(),
            access: step.db,
        },
        log: log.clone(),
    }
}

fn finish(
    step: &StepPlan,
    worker: &WorkerPlan,
    round: u32,
    outcome: Outcome,
    attempts: u32,
    duration: Duration,
    log: Vec<String>,
) -> StepResult {
    let r = StepResult {
        round,
        step: step.name.clone(),
        worker: worker.name.clone(),
        stage: step.stage.clone(),
        outcome,
        attempts,
        duration,
        log,
    };
    println!("{}", crate::report::step_line(&r));
    r
}

fn workers_json(plan: &Plan) -> Value {
    let mut map = serde_json::Map::new();
    for w in &plan.workers {
        map.insert(w.name.clone(), Value::Object(w.fields.clone()));
    }
    json!(map)
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
