//! Worker server processes: their ports checked free first, then started in
//! parallel under the [`supervisor`](crate::supervisor), each with its env;
//! ready when its port (or HTTP path) answers; output (secrets masked) handed to the caller's sink
//! and kept in a per-worker log file; stopped with SIGTERM
//! to the group, a grace period, then SIGKILL.

mod ports;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mask::Masker;
use crate::plan::{Launch, Readiness, WorkerPlan};
use crate::supervisor::{OutputSink, Process, ProcessBuilder, SpawnError, Stream};

pub use ports::TakenPort;

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
/// kills what is left so nothing is orphaned even on a panic.
pub struct WorkerSet {
    running: Vec<Process>,
}

/// Start every worker that has a launch command, in parallel, and wait until all are ready.
///
/// Each output line goes to `output` and to `log_dir/<worker>.log`, with
/// secrets masked; `started` hears of each process as it is spawned. Nothing
/// here prints: the caller turns these into events.
pub async fn start(
    workers: &[Arc<WorkerPlan>],
    base_env: &BTreeMap<String, String>,
    extra_env: &BTreeMap<String, String>,
    log_dir: &Path,
    output: OutputSink,
    masker: Arc<Masker>,
    started: &(dyn Fn(&WorkerPlan, u32) + Sync),
) -> Result<WorkerSet, WorkerError> {
    let taken = ports::taken(workers);
    if !taken.is_empty() {
        return Err(WorkerError::PortsTaken { taken });
    }
    let sink = output;
    let mut set = WorkerSet {
        running: Vec::new(),
    };
    for w in workers {
        if let Some(launch) = &w.launch {
            let process = spawn(w, launch, base_env, extra_env, log_dir, &sink, &masker)?;
            started(w, process.pid().unwrap_or(0));
            set.running.push(process);
        }
    }
    let ready = futures::future::join_all(workers.iter().map(|w| wait_ready(w)));
    tokio::pin!(ready);
    // Probe and watch at once: a worker that exits fails the start right away,
    // not when its readiness deadline passes.
    let failure = loop {
        tokio::select! {
            results = &mut ready => break results.into_iter().find_map(Result::err).map(Err),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Err(e) = set.check_alive() {
                    break Some(Ok(e));
                }
            }
        }
    };
    let Some(failure) = failure else {
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

async fn wait_ready(w: &WorkerPlan) -> Result<(), NotReady> {
    let addr = reqwest::Url::parse(&w.url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| format!("127.0.0.1:{}", w.port));
    let (timeout, probe) = match &w.ready {
        Readiness::Tcp { timeout } => (*timeout, format!("TCP connect to {addr}")),
        Readiness::Http { path, timeout } => {
            (*timeout, format!("GET {}{path} answering 2xx", w.url))
        }
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    while Instant::now() < deadline {
        let ready = match &w.ready {
            Readiness::Tcp { .. } => tokio::net::TcpStream::connect(&addr).await.is_ok(),
            Readiness::Http { path, .. } => client
                .get(format!("{}{path}", w.url.trim_end_matches('/')))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
        };
        if ready {
            return Ok(());
        }
        // Back off gently: quick for fast servers, cheap for slow ones.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
    Err(NotReady {
        name: w.name.clone(),
        timeout,
        probe,
        remote: w.launch.is_none(),
    })
}

impl WorkerSet {
    /// Fail if any started worker has exited.
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
        Ok(())
    }

    /// SIGTERM every worker's process group, wait up to [`crate::supervisor::GRACE`],
    /// then SIGKILL. The names of the workers stopped.
    pub async fn stop(self) -> Vec<String> {
        let stops = self.running.into_iter().map(|p| async move {
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
