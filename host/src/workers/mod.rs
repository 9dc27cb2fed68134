//! Worker server processes: their ports checked free first, then started in
//! parallel under the [`supervisor`](crate::supervisor), each with its env;
//! ready when its port (or HTTP path) answers; output (secrets masked) handed
//! to the caller's sink and kept in a per-worker log file; watched while the
//! run goes on (local ones for exiting, remote ones by probing), their CPU and
//! memory sampled; stopped with SIGTERM to the group, a grace period, then
//! SIGKILL.

mod ports;
mod probe;
mod remote;
mod usage;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mask::Masker;
use crate::plan::{Launch, Readiness, WorkerPlan};
use crate::results::WorkerUsage;
use crate::supervisor::{OutputSink, Process, ProcessBuilder, SpawnError, Stream};

pub use ports::TakenPort;
use probe::Probe;
use remote::RemoteWatch;
use usage::Sampler;

/// Why workers could not be started or kept running.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The program could not be spawned.
    #[error("cannot start worker `{name}` ({command}): {source}")]
    Spawn {
        /// Worker name.
        name: String,
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Its log file could not be opened.
    #[error("cannot open the log of worker `{name}` at {}: {source}", path.display())]
    Log {
        /// Worker name.
        name: String,
        /// The log file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited before it was ready, or while steps ran.
    #[error("worker `{name}` exited ({status}); last lines of its stderr:\n{tail}")]
    Exited {
        /// Worker name.
        name: String,
        /// Exit status.
        status: String,
        /// Its last stderr lines.
        tail: String,
    },
    /// Another process already listens on the port of a worker promwasm was to
    /// start; no worker was started.
    #[error("{}", taken_text(taken))]
    PortsTaken {
        /// Every such worker, in workers.json order.
        taken: Vec<TakenPort>,
    },
    /// A worker promwasm did not start (`url` in workers.json) stopped
    /// answering its probes while the run went on.
    #[error(
        "worker `{name}` at {addr} stopped answering: {failures} probes in a row failed \
         ({probe}; last: {last}); promwasm does not manage it (it has a `url` in \
         workers.json), so check the server that runs it"
    )]
    StoppedAnswering {
        /// Worker name.
        name: String,
        /// `host:port` it was reached at.
        addr: String,
        /// What was probed.
        probe: String,
        /// Probes failed in a row.
        failures: u32,
        /// The last probe's error.
        last: String,
    },
    /// The HTTP client for readiness probes could not be set up.
    #[error("cannot set up HTTP for readiness probes: {0}")]
    HttpClient(String),
    /// It never became ready.
    #[error("worker `{name}` was not ready after {timeout:?} ({probe}); {detail}")]
    NotReady {
        /// Worker name.
        name: String,
        /// The deadline.
        timeout: Duration,
        /// What was probed.
        probe: String,
        /// Its last stderr lines, or, for a worker promwasm did not start,
        /// that it must already be running.
        detail: String,
    },
}

fn taken_text(taken: &[TakenPort]) -> String {
    let lines: Vec<String> = taken.iter().map(TakenPort::to_string).collect();
    match lines.as_slice() {
        [one] => format!("{one}; no worker was started"),
        _ => format!(
            "{} workers' ports are already in use; no worker was started:\n  {}",
            lines.len(),
            lines.join("\n  ")
        ),
    }
}

/// The started workers. Stop them with [`WorkerSet::stop`]; dropping the set
/// kills what is left so nothing is orphaned even on a panic, and stops the
/// background probes and sampling.
pub struct WorkerSet {
    running: Vec<Process>,
    /// Probes of the workers promwasm did not start; empty until all are ready.
    remote: RemoteWatch,
    /// CPU and memory of the started ones.
    usage: Option<Sampler>,
}

/// What [`start`] tells its caller as the workers come up.
pub struct Progress<'a> {
    /// A worker's process was spawned, with this pid.
    pub started: &'a (dyn Fn(&WorkerPlan, u32) + Sync),
    /// A worker answered its readiness probe, this long after the start began.
    pub ready: &'a (dyn Fn(&WorkerPlan, Duration) + Sync),
}

/// Start every worker that has a launch command, in parallel, and wait until all are ready.
///
/// Each output line goes to `output` and to `log_dir/<worker>.log`, with
/// secrets masked; `progress` hears of each process as it is spawned and of
/// each worker as it is ready. Nothing here prints: the caller turns these
/// into events.
pub async fn start(
    workers: &[Arc<WorkerPlan>],
    base_env: &BTreeMap<String, String>,
    extra_env: &BTreeMap<String, String>,
    log_dir: &Path,
    output: OutputSink,
    masker: Arc<Masker>,
    progress: &Progress<'_>,
) -> Result<WorkerSet, WorkerError> {
    let began = Instant::now();
    let taken = ports::taken(workers);
    if !taken.is_empty() {
        return Err(WorkerError::PortsTaken { taken });
    }
    let probes: Vec<Arc<Probe>> = workers.iter().map(|w| Arc::new(Probe::of(w))).collect();
    // One client for every HTTP probe: building one is not free (TLS roots).
    let client = if probes.iter().any(|p| p.is_http()) {
        Some(
            reqwest::Client::builder()
                .connect_timeout(probe::CONNECT_TIMEOUT)
                .build()
                .map_err(|e| WorkerError::HttpClient(crate::error_chain::error_chain(&e)))?,
        )
    } else {
        None
    };
    let mut set = WorkerSet {
        running: Vec::new(),
        remote: RemoteWatch::default(),
        usage: None,
    };
    for w in workers {
        if let Some(launch) = &w.launch {
            let process = spawn(w, launch, base_env, extra_env, log_dir, &output, &masker)?;
            (progress.started)(w, process.pid().unwrap_or(0));
            set.running.push(process);
        }
    }
    // Probe and watch at once: a worker that exits fails the start right away,
    // not when its readiness deadline passes.
    let failure = {
        let pending = AtomicUsize::new(workers.len());
        let ready =
            futures::future::join_all(workers.iter().zip(&probes).map(|(w, probe)| async {
                let ready = wait_ready(w, probe, client.as_ref(), &pending).await;
                if ready.is_ok() {
                    (progress.ready)(w, began.elapsed());
                }
                ready
            }));
        tokio::pin!(ready);
        loop {
            tokio::select! {
                results = &mut ready => break results.into_iter().find_map(Result::err).map(Err),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Err(e) = set.check_alive() {
                        break Some(Ok(e));
                    }
                }
            }
        }
    };
    let Some(failure) = failure else {
        let remote = workers
            .iter()
            .zip(probes)
            .filter(|(w, _)| w.launch.is_none())
            .map(|(w, probe)| (w.name.clone(), probe))
            .collect();
        set.remote = RemoteWatch::start(remote, client);
        // Only now: until every worker is ready, the sampler would compete with
        // them for the CPU, and a set that failed to start reports no usage.
        set.usage = Some(Sampler::start(
            set.running.iter().map(|p| (p.name().to_owned(), p.pid())),
        ));
        return Ok(set);
    };
    for p in &mut set.running {
        if p.try_exit_status().is_some() {
            // Returns at once; lets its last words reach the tail (bounded).
            let _ = p.wait().await;
        }
    }
    // A worker that exited says so more precisely than "not ready".
    let err = match (set.check_alive(), failure) {
        (Err(exited), _) | (Ok(()), Ok(exited)) => exited,
        (Ok(()), Err(not_ready)) => not_ready.into_error(&set),
    };
    set.stop().await;
    Err(err)
}

fn spawn(
    w: &WorkerPlan,
    launch: &Launch,
    base_env: &BTreeMap<String, String>,
    extra_env: &BTreeMap<String, String>,
    log_dir: &Path,
    sink: &OutputSink,
    masker: &Arc<Masker>,
) -> Result<Process, WorkerError> {
    let Some((program, args)) = launch.command.split_first() else {
        return Err(WorkerError::Spawn {
            name: w.name.clone(),
            command: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the command is empty"),
        });
    };
    let mut b = ProcessBuilder::new(&w.name, program);
    b.args(args)
        .current_dir(&launch.cwd)
        // Like prometheus-test: the environment (with .env files), then the
        // worker's mapped variables and its own settings.
        .env_clear()
        .envs(base_env)
        .envs(extra_env)
        .envs(&w.env)
        .env("PORT", w.port.to_string())
        .env("DATABASE_PATH", &w.database_path)
        .env("PYTHONUNBUFFERED", "1")
        .env("WORKER_NAME", &w.name)
        .log_file(log_dir.join(format!("{}.log", w.name)))
        .mask(masker.clone())
        .sink(sink.clone());
    b.spawn().map_err(|e| match e {
        SpawnError::Start { source, .. } => WorkerError::Spawn {
            name: w.name.clone(),
            command: launch.command.join(" "),
            source,
        },
        SpawnError::Log { path, source, .. } => WorkerError::Log {
            name: w.name.clone(),
            path,
            source,
        },
    })
}

fn tail_text(lines: Vec<String>) -> String {
    if lines.is_empty() {
        "  (nothing)".into()
    } else {
        lines
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A worker that missed its readiness deadline; its tail is added once the
/// start has settled (see [`NotReady::into_error`]).
struct NotReady {
    name: String,
    timeout: Duration,
    probe: String,
    /// Started elsewhere (`url` in workers.json): there is no stderr to show.
    remote: bool,
}

impl NotReady {
    fn into_error(self, set: &WorkerSet) -> WorkerError {
        let detail = if self.remote {
            "promwasm does not start it (it has a `url` in workers.json): start it first, or fix the url".to_string()
        } else {
            format!("last lines of its stderr:\n{}", set.stderr_tail(&self.name))
        };
        WorkerError::NotReady {
            detail,
            name: self.name,
            timeout: self.timeout,
            probe: self.probe,
        }
    }
}

/// Probes of a started worker's port, all workers together, stay under about
/// this many a second: each waits this long per worker still pending (within
/// [`PROBE_PAUSE_MIN`]..[`PROBE_PAUSE_MAX`]). A refused connect is cheap but
/// not free, and hundreds of workers starting at once need the CPU; the last
/// few, whose wait the whole start waits on, are probed often.
const PROBE_PAUSE_PER_PENDING: Duration = Duration::from_micros(500);
/// The shortest pause between two probes of one worker.
const PROBE_PAUSE_MIN: Duration = Duration::from_millis(10);
/// The longest pause between two probes of one worker.
const PROBE_PAUSE_MAX: Duration = Duration::from_millis(200);

async fn wait_ready(
    w: &WorkerPlan,
    probe: &Probe,
    client: Option<&reqwest::Client>,
    pending: &AtomicUsize,
) -> Result<(), NotReady> {
    let ready = probe_until_ready(w, probe, client, pending).await;
    pending.fetch_sub(1, Ordering::Relaxed);
    ready
}

async fn probe_until_ready(
    w: &WorkerPlan,
    probe: &Probe,
    client: Option<&reqwest::Client>,
    pending: &AtomicUsize,
) -> Result<(), NotReady> {
    let timeout = match &w.ready {
        Readiness::Tcp { timeout } | Readiness::Http { timeout, .. } => *timeout,
    };
    let deadline = Instant::now() + timeout;
    let mut pause = PROBE_PAUSE_MIN;
    // An HTTP probe waits for the port at a connect's pace (the server sees
    // no request), then asks its path, backing off: each GET is a request
    // the server sees and may log.
    let mut listening = !probe.is_http();
    while Instant::now() < deadline {
        if !listening && probe.connect().await.is_ok() {
            listening = true;
            pause = PROBE_PAUSE_MIN;
        }
        if listening && probe.once(client).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(pause).await;
        pause = if listening && probe.is_http() {
            (pause * 2).min(PROBE_PAUSE_MAX)
        } else {
            let share = PROBE_PAUSE_PER_PENDING
                .saturating_mul(u32::try_from(pending.load(Ordering::Relaxed)).unwrap_or(u32::MAX));
            share.clamp(PROBE_PAUSE_MIN, PROBE_PAUSE_MAX)
        };
    }
    Err(NotReady {
        name: w.name.clone(),
        timeout,
        probe: probe.describe(),
        remote: w.launch.is_none(),
    })
}

impl WorkerSet {
    /// Fail if any started worker has exited, or a worker promwasm did not
    /// start has missed [`remote::FAILURES`] probes in a row (probed every
    /// [`remote::PROBE_EVERY`] in the background; this only reads the result).
    pub fn check_alive(&mut self) -> Result<(), WorkerError> {
        for p in &mut self.running {
            if let Some(status) = p.try_exit_status() {
                return Err(WorkerError::Exited {
                    name: p.name().to_owned(),
                    status: status.to_string(),
                    tail: tail_text(p.tail(Some(Stream::Stderr))),
                });
            }
        }
        self.remote.check()
    }

    /// CPU time and peak memory of each worker promwasm started, in start
    /// order: sampled now, merged with the background samples (every
    /// [`usage::SAMPLE_EVERY`]), so a worker that has exited keeps its last
    /// figures. Reads `/proc` (a few milliseconds); workers promwasm did not
    /// start are not listed.
    pub fn usage(&self) -> Vec<WorkerUsage> {
        self.usage.as_ref().map(Sampler::usage).unwrap_or_default()
    }

    /// SIGTERM every worker's process group, wait up to [`crate::supervisor::GRACE`],
    /// then SIGKILL. The names of the workers stopped.
    pub async fn stop(self) -> Vec<String> {
        let WorkerSet { running, .. } = self;
        let stops = running.into_iter().map(|p| async move {
            let name = p.name().to_owned();
            p.stop().await;
            name
        });
        futures::future::join_all(stops).await
    }

    fn stderr_tail(&self, name: &str) -> String {
        tail_text(
            self.running
                .iter()
                .find(|p| p.name() == name)
                .map(|p| p.tail(Some(Stream::Stderr)))
                .unwrap_or_default(),
        )
    }
}
