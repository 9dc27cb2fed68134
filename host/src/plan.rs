//! The validated plan of a run: everything [`crate::config`] read from the user's
//! files, resolved (paths absolute, ports assigned, keys loaded) and checked.
//! Nothing downstream reads config files again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::signing::Keypair;

/// A fully validated task test.
#[derive(Debug)]
pub struct Plan {
    /// The config.yaml this plan came from.
    pub config_file: PathBuf,
    /// The folder holding config.yaml (prometheus-test's `base_dir`).
    pub base_dir: PathBuf,
    /// Where the state file, worker databases and run directories live.
    pub data_dir: PathBuf,
    /// How many run directories `data_dir/runs` keeps (`keep_runs`).
    pub keep_runs: usize,
    /// `task_id` from config.yaml.
    pub task_id: String,
    /// Rounds to run when fixed in config.yaml.
    pub max_rounds: Option<u32>,
    /// Collection whose document count gives the rounds when `max_rounds` is absent.
    pub rounds_collection: Option<String>,
    /// `middle_server_url`, allowed for HTTP.
    pub middle_server_url: Option<String>,
    /// Every top-level value of config.yaml (plus prometheus-test's defaults), readable by steps.
    pub config_values: serde_json::Map<String, serde_json::Value>,
    /// Hosts (`host` or `host:port`) steps may reach besides the workers and the middle server.
    pub allowed_hosts: Vec<String>,
    /// Workers in workers.json order.
    pub workers: Vec<Arc<WorkerPlan>>,
    /// Steps in run order.
    pub steps: Vec<StepPlan>,
    /// MongoDB seeding, when config.yaml has a `mongodb` section.
    pub mongo: Option<MongoPlan>,
    /// The post-load hook, run once after seeding.
    pub post_load: Option<StepPlan>,
    /// Values a `.env` file marks `# secret`, masked in all output.
    pub secrets: Vec<String>,
}

/// One worker server.
#[derive(Debug)]
pub struct WorkerPlan {
    /// Its key in workers.json.
    pub name: String,
    /// Port it listens on (`port`, else `base_port + index`).
    pub port: u16,
    /// Where [`WorkerPlan::port`] came from, for messages that say what to change.
    pub port_from: PortFrom,
    /// Base URL steps use.
    pub url: String,
    /// How to start it, or `None` when it already runs elsewhere (`url` given).
    pub launch: Option<Launch>,
    /// How to tell it is ready.
    pub ready: Readiness,
    /// Env vars mapped by `env_vars` (name → value); also what steps may read.
    pub env: BTreeMap<String, String>,
    /// Loaded keypairs by role (`staking`, `main`).
    pub keys: BTreeMap<String, Arc<Keypair>>,
    /// workers.json fields plus prometheus-test's defaults (`name`, `port`, `url`, ...),
    /// without `env_vars` and `keypairs`.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// `DATABASE_PATH` handed to the server.
    pub database_path: PathBuf,
}

/// Where a worker's port came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortFrom {
    /// `base_port` in config.yaml plus the worker's index in workers.json.
    BasePort {
        /// `base_port`.
        base_port: u16,
        /// The worker's place in workers.json, from 0.
        index: usize,
    },
    /// Its own `port` in workers.json.
    Own,
    /// The port of its `url` (a worker promwasm does not start).
    Url,
}

impl std::fmt::Display for PortFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortFrom::BasePort { base_port, index } => {
                write!(f, "base_port {base_port} + index {index}")
            }
            PortFrom::Own => f.write_str("its `port` in workers.json"),
            PortFrom::Url => f.write_str("its `url` in workers.json"),
        }
    }
}

/// A worker process to start.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Working directory (prometheus-test uses `base_dir`).
    pub cwd: PathBuf,
}

/// When a started worker counts as ready.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// A TCP connect to its port succeeds.
    Tcp {
        /// Give up after this long.
        timeout: Duration,
    },
    /// `GET url + path` answers 2xx.
    Http {
        /// Path such as `/healthz`.
        path: String,
        /// Give up after this long.
        timeout: Duration,
    },
}

/// One step (or the post-load hook).
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Unique name; the resume point refers to it.
    pub name: String,
    /// Shown in logs and reports.
    pub description: String,
    /// Index into [`Plan::workers`] of the worker it runs as.
    pub worker: usize,
    /// Where its component comes from.
    pub module: ModuleSource,
    /// Which exported stage to run.
    pub stage: String,
    /// `args` as JSON text (`{}` when absent).
    pub args: String,
    /// Sandbox limits.
    pub limits: Limits,
    /// Database access granted to the step.
    pub db: DbAccess,
    /// How often it is tried (`retry:`); one try unless configured.
    pub retry: Retry,
    /// When it does not run at all (`skip_if:`).
    pub skip_if: SkipIf,
    /// The steps next to it with the same `group` run at the same time.
    pub group: Option<String>,
    /// Where the step's `module` is written, for errors found when loading it.
    pub origin: Origin,
}

/// The most steps one group may hold: the engine keeps an instance slot per
/// step that can run at once.
pub const MAX_GROUP_STEPS: usize = 256;

/// The steps in batches that run one after another: each batch is one step,
/// or a run of neighbouring steps sharing a `group`, which run at once.
/// (The config checks that a group's steps are neighbours.)
pub fn batches(steps: &[StepPlan]) -> Vec<std::ops::Range<usize>> {
    let mut batches: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match batches.last_mut() {
            Some(last) if step.group.is_some() && steps[last.start].group == step.group => {
                last.end = i + 1
            }
            _ => batches.push(i..i + 1),
        }
    }
    batches
}

/// Where a step's component comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ModuleSource {
    /// A file on disk (resolved against the config's folder).
    File(PathBuf),
    /// A URL, pinned by the sha256 of its bytes (lowercase hex).
    Url {
        /// Where to download it.
        url: String,
        /// Its digest.
        sha256: String,
    },
}

impl std::fmt::Display for ModuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleSource::File(path) => write!(f, "{}", path.display()),
            ModuleSource::Url { url, .. } => f.write_str(url),
        }
    }
}

/// A place in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// Line and column.
    pub pos: Pos,
}

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Per-step sandbox limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for prepare + execute together.
    pub timeout: Duration,
    /// Linear memory cap, bytes.
    pub memory_bytes: usize,
    /// HTTP response body cap, bytes.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(60),
            memory_bytes: 256 << 20,
            max_response_bytes: 16 << 20,
        }
    }
}

/// How often a step is tried (`retry:` on a step or in `defaults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all; 1 means no retry.
    pub attempts: u32,
    /// Pause between tries.
    pub interval: Duration,
    /// `until: success`: a skip is retried too, and a step still skipping after
    /// its last try fails. For steps that poll for something to happen.
    pub until_success: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            interval: Duration::from_secs(1),
            until_success: false,
        }
    }
}

/// When a step is skipped without running (`skip_if:`): any condition that holds skips it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipIf {
    /// Rounds in which it does not run.
    pub rounds: Vec<RoundRef>,
    /// Runner-store keys that, when they have no value, skip it.
    pub unset: Vec<String>,
    /// Runner-store keys that, when they have a value, skip it.
    pub set: Vec<String>,
}

/// A round named in `skip_if.round`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundRef {
    /// Round number, from 1.
    Number(u32),
    /// The first round.
    First,
    /// The last round (known once the round count is).
    Last,
}

impl SkipIf {
    /// Why the step is skipped in `round` of `max_rounds`, if it is;
    /// `has_value` answers whether a runner-store key has a (non-null) value.
    pub fn reason(
        &self,
        round: u32,
        max_rounds: u32,
        has_value: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let in_round = self.rounds.iter().any(|r| match r {
            RoundRef::Number(n) => *n == round,
            RoundRef::First => round == 1,
            RoundRef::Last => round == max_rounds,
        });
        if in_round {
            return Some(format!("skip_if: round {round}"));
        }
        if let Some(key) = self.unset.iter().find(|k| !has_value(k)) {
            return Some(format!("skip_if: `{key}` is unset"));
        }
        if let Some(key) = self.set.iter().find(|k| has_value(k)) {
            return Some(format!("skip_if: `{key}` is set"));
        }
        None
    }
}

/// What a step may do with MongoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbAccess {
    /// No access (the default for steps).
    #[default]
    None,
    /// find and count.
    Read,
    /// Everything (the post-load hook).
    ReadWrite,
}

/// MongoDB seeding.
#[derive(Debug, Clone)]
pub struct MongoPlan {
    /// Database name (`builder247` by default, as prometheus-test).
    pub database: String,
    /// Collections in config order.
    pub collections: Vec<crate::mongo::seed::CollectionSeed>,
    /// `MONGO_URI` from the environment or `.env`; `None` means promwasm manages a server.
    pub uri: Option<String>,
}

impl Plan {
    /// The worker a step runs as.
    pub fn worker_of(&self, step: &StepPlan) -> &Arc<WorkerPlan> {
        &self.workers[step.worker]
    }
}
