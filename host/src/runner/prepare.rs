//! Prepare, then run: the plan becomes a locked run before anything starts.
//! Every component is fetched, compiled (or loaded from the cache), checked
//! against the contract and pre-linked; the engine, the allow-list and one
//! HTTP client are made once. The round loop then gets a step context from
//! here for every try.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::step;
use crate::capabilities::db::DbCtx;
use crate::capabilities::http::{AllowList, HttpClient, HttpCtx, HttpMeter};
use crate::capabilities::log::LogCtx;
use crate::capabilities::runner::RunnerCtx;
use crate::capabilities::worker::WorkerCtx;
use crate::capabilities::StepCtx;
use crate::config::{Diagnostic, Diagnostics};
use crate::engine::{Engine, LoadedComponent};
use crate::plan::{ModuleSource, Plan, StepPlan, WorkerPlan};

use super::store::StateStore;
use super::RunError;

/// Listing a module's stages must not take longer than this.
pub const STAGES_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Where to resume instead of the saved point (`--from-step`).
    pub from: Option<ResumePoint>,
}

/// A resume point chosen on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// The step before the one to run first (`None`: the round's first step).
    pub after_step: Option<String>,
    /// The round to run it in (`None`: the saved round, or 1).
    pub round: Option<u32>,
}

/// A plan made ready to run: nothing in it is checked again, nothing is a placeholder.
pub struct LockedRun {
    engine: Engine,
    components: BTreeMap<ModuleSource, LoadedComponent>,
    workers: Arc<[Arc<WorkerPlan>]>,
    config: Arc<Map<String, Value>>,
    http: HttpClient,
}

/// What a step context needs from the running session (not from the plan).
pub struct Session<'a> {
    /// The runner store.
    pub store: &'a StateStore,
    /// This run's id.
    pub run_id: &'a str,
    /// The database, when the run has one.
    pub database: Option<&'a mongodb::Database>,
}

impl LockedRun {
    /// Check and compile everything `plan` names; every problem at once.
    pub async fn prepare(plan: &Plan, opts: &RunOptions) -> Result<Self, RunError> {
        let engine = engine(plan, opts)?;
        let components = components(&engine, plan, opts).await?;
        let http = HttpClient::new(AllowList::from_plan(plan))
            .map_err(|e| RunError::Machine(anyhow::anyhow!("cannot set up HTTP: {e}")))?;
        Ok(LockedRun {
            engine,
            components,
            workers: plan.workers.iter().cloned().collect(),
            config: Arc::new(plan.config_values.clone()),
            http,
        })
    }

    /// The engine every step runs in.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The loaded component of `step`.
    pub fn component(&self, step: &StepPlan) -> &LoadedComponent {
        // prepare() loaded every step's module or failed.
        &self.components[&step.module]
    }

    /// What one try of `step` in `round` may reach, with its own deadline.
    pub fn step_ctx(
        &self,
        step: &StepPlan,
        round: u32,
        session: &Session,
        log: &LogCtx,
        http: &HttpMeter,
    ) -> StepCtx {
        let deadline = Instant::now() + step.limits.timeout;
        StepCtx {
            runner: RunnerCtx {
                state: session.store.shared(),
                config: self.config.clone(),
                run_id: session.run_id.to_string(),
                round,
            },
            worker: WorkerCtx {
                workers: self.workers.clone(),
                me: step.worker,
            },
            http: HttpCtx::new(
                self.http.clone(),
                step.limits.max_response_bytes,
                deadline,
                http.clone(),
            ),
            db: DbCtx {
                db: session.database.cloned(),
                access: step.db,
                max_result_bytes: step.limits.max_response_bytes,
            },
            log: log.clone(),
        }
    }
}

/// The engine, its pool sized for the largest memory cap of any step.
fn engine(plan: &Plan, opts: &RunOptions) -> Result<Engine, RunError> {
    let memory_cap = plan
        .steps
        .iter()
        .chain(plan.post_load.iter())
        .map(|s| s.limits.memory_bytes)
        .chain([crate::plan::Limits::default().memory_bytes])
        .max()
        .unwrap_or_default();
    // A slot for every step of the largest group: they are alive at once.
    let largest_group = crate::plan::batches(&plan.steps)
        .iter()
        .map(|b| b.len() as u32)
        .max()
        .unwrap_or(1);
    Engine::builder()
        .cache_dir(opts.cache_dir.clone())
        .memory_cap(memory_cap)
        .concurrency(largest_group.max(crate::engine::DEFAULT_CONCURRENCY))
        .build()
        .map_err(|e| {
            RunError::Machine(anyhow::anyhow!(
                "cannot create the WebAssembly engine: {e:#}"
            ))
        })
}

/// Fetch and load every module once and check each step's stage exists.
async fn components(
    engine: &Engine,
    plan: &Plan,
    opts: &RunOptions,
) -> Result<BTreeMap<ModuleSource, LoadedComponent>, RunError> {
    let mut diags = Diagnostics::default();
    let mut components = BTreeMap::new();
    // One listing per module: many steps usually share one component.
    let mut listed: BTreeMap<ModuleSource, Result<Vec<String>, String>> = BTreeMap::new();
    let mut failed: BTreeSet<ModuleSource> = BTreeSet::new();
    for step in plan.steps.iter().chain(plan.post_load.iter()) {
        let at = |msg: String| Diagnostic::at(&step.origin.file, step.origin.pos, msg);
        if failed.contains(&step.module) {
            continue;
        }
        if !components.contains_key(&step.module) {
            let loaded = match &step.module {
                ModuleSource::File(path) => engine.load(path),
                ModuleSource::Url { url, sha256 } => {
                    match crate::fetch::module(url, sha256, opts.module_dir.as_deref()).await {
                        Ok(fetched) => engine.load_bytes(&fetched.path, &fetched.bytes),
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
            match loaded {
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
            let stages = step::stages(engine.wasmtime(), &components[&step.module], STAGES_TIMEOUT)
                .await
                .map(|stages| stages.into_iter().map(|s| s.name).collect());
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
    diags.into_result(components).map_err(RunError::Invalid)
}
