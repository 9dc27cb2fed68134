//! Worker server processes: started in parallel, each in its own process
//! group with its env; ready when its port (or HTTP path) answers; output
//! printed with the worker's name and kept in a per-worker log file; stopped
//! with SIGTERM to the group, a grace period, then SIGKILL.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::plan::{Readiness, WorkerPlan};

/// How long a worker gets to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);
/// Lines of stderr kept for error messages.
const TAIL_LINES: usize = 20;

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
    /// It never became ready.
    #[error("worker `{name}` was not ready after {timeout:?} ({probe}); last lines of its stderr:\n{tail}")]
    NotReady {
        /// Worker name.
        name: String,
        /// The deadline.
        timeout: Duration,
        /// What was probed.
        probe: String,
        /// Its last stderr lines.
        tail: String,
    },
}

struct Running {
    name: String,
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// The output readers; awaited so a dead worker's last words are in its tail.
    pumps: Vec<tokio::task::JoinHandle<()>>,
}

/// The started workers. Stop them with [`WorkerSet::stop`]; dropping the set
/// kills what is left so nothing is orphaned even on a panic.
pub struct WorkerSet {
    running: Vec<Running>,
}

/// Start every worker that has a launch command, in parallel, and wait until all are ready.
pub async fn start(
    workers: &[Arc<WorkerPlan>],
    base_env: &BTreeMap<String, String>,
    extra_env: &BTreeMap<String, String>,
    log_dir: &Path,
) -> Result<WorkerSet, WorkerError> {
    let mut set = WorkerSet {
        running: Vec::new(),
    };
    for w in workers {
        if w.launch.is_some() {
            set.running.push(spawn(w, base_env, extra_env, log_dir)?);
        }
    }
    let probes = workers.iter().map(|w| {
        let tail = set
            .running
            .iter()
            .find(|r| r.name == w.name)
            .map(|r| r.tail.clone());
        wait_ready(w, tail)
    });
    let ready = futures::future::join_all(probes);
    tokio::pin!(ready);
    // Probe and watch at once: a worker that exits fails the start right away,
    // not when its readiness deadline passes.
    let failure = loop {
        tokio::select! {
            results = &mut ready => break results.into_iter().find_map(Result::err),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Err(e) = set.check_alive() {
                    break Some(e);
                }
            }
        }
    };
    if let Some(err) = failure {
        for r in &mut set.running {
            if matches!(r.child.try_wait(), Ok(Some(_))) {
                for pump in r.pumps.drain(..) {
                    // Bounded: a grandchild may still hold the pipe open.
                    let _ = tokio::time::timeout(Duration::from_secs(1), pump).await;
                }
            }
        }
        // A worker that exited says so more precisely than "not ready".
        let err = set.check_alive().err().unwrap_or(err);
        set.stop().await;
        return Err(err);
    }
    Ok(set)
}

fn spawn(
    w: &WorkerPlan,
    base_env: &BTreeMap<String, String>,
    extra_env: &BTreeMap<String, String>,
    log_dir: &Path,
) -> Result<Running, WorkerError> {
    let launch = w
        .launch
        .as_ref()
        .expect("only workers with a launch are spawned");
    let mut cmd = Command::new(&launch.command[0]);
    cmd.args(&launch.command[1..])
        .current_dir(&launch.cwd)
        .env_clear()
        // Like prometheus-test: the environment (with .env files), then the
        // worker's mapped variables and its own settings.
        .envs(base_env)
        .envs(extra_env)
        .envs(&w.env)
        .env("PORT", w.port.to_string())
        .env("DATABASE_PATH", &w.database_path)
        .env("PYTHONUNBUFFERED", "1")
        .env("WORKER_NAME", &w.name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so stopping it stops whatever it spawned too.
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec.
    // If promwasm itself is killed outright, the kernel still stops the worker.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let mut child = cmd.spawn().map_err(|source| WorkerError::Spawn {
        name: w.name.clone(),
        command: launch.command.join(" "),
        source,
    })?;
    let log = open_log(log_dir, &w.name);
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(
            out,
            format!("[{}]", w.name),
            log.clone(),
            None,
        )));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(
            err,
            format!("[{} ERR]", w.name),
            log,
            Some(tail.clone()),
        )));
    }
    println!(
        "started worker {} on port {} (pid {})",
        w.name,
        w.port,
        child.id().unwrap_or(0)
    );
    Ok(Running {
        name: w.name.clone(),
        child,
        tail,
        pumps,
    })
}

fn open_log(dir: &Path, name: &str) -> Option<Arc<Mutex<std::fs::File>>> {
    std::fs::create_dir_all(dir).ok()?;
    let path: PathBuf = dir.join(format!("{name}.log"));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
        .map(|f| Arc::new(Mutex::new(f)))
}

async fn pump(
    stream: impl AsyncRead + Unpin,
    prefix: String,
    log: Option<Arc<Mutex<std::fs::File>>>,
    tail: Option<Arc<Mutex<VecDeque<String>>>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("{prefix} {line}");
        if let Some(log) = &log {
            if let Ok(mut f) = log.lock() {
                let _ = writeln!(f, "{prefix} {line}");
            }
        }
        if let Some(tail) = &tail {
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    }
}

fn tail_text(tail: &Option<Arc<Mutex<VecDeque<String>>>>) -> String {
    let lines: Vec<String> = tail
        .as_ref()
        .and_then(|t| t.lock().ok().map(|t| t.iter().cloned().collect()))
        .unwrap_or_default();
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

async fn wait_ready(
    w: &WorkerPlan,
    tail: Option<Arc<Mutex<VecDeque<String>>>>,
) -> Result<(), WorkerError> {
    let (timeout, probe) = match &w.ready {
        Readiness::Tcp { timeout } => (*timeout, format!("TCP connect to port {}", w.port)),
        Readiness::Http { path, timeout } => {
            (*timeout, format!("GET {}{path} answering 2xx", w.url))
        }
    };
    let addr = reqwest::Url::parse(&w.url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| format!("127.0.0.1:{}", w.port));
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
    Err(WorkerError::NotReady {
        name: w.name.clone(),
        timeout,
        probe,
        tail: tail_text(&tail),
    })
}

impl WorkerSet {
    /// Fail if any started worker has exited.
    pub fn check_alive(&mut self) -> Result<(), WorkerError> {
        for r in &mut self.running {
            if let Ok(Some(status)) = r.child.try_wait() {
                return Err(WorkerError::Exited {
                    name: r.name.clone(),
                    status: status.to_string(),
                    tail: tail_text(&Some(r.tail.clone())),
                });
            }
        }
        Ok(())
    }

    /// SIGTERM every worker's process group, wait up to the grace period, then SIGKILL.
    pub async fn stop(mut self) {
        let running = std::mem::take(&mut self.running);
        let stops = running.into_iter().map(|mut r| async move {
            if let Some(pid) = r.child.id() {
                let group = Pid::from_raw(pid as i32);
                let _ = killpg(group, Signal::SIGTERM);
                if tokio::time::timeout(GRACE, r.child.wait()).await.is_err() {
                    let _ = killpg(group, Signal::SIGKILL);
                    let _ = r.child.wait().await;
                }
                // Children of the worker that ignored SIGTERM.
                let _ = killpg(group, Signal::SIGKILL);
                println!("stopped worker {}", r.name);
            }
        });
        futures::future::join_all(stops).await;
    }
}

impl Drop for WorkerSet {
    fn drop(&mut self) {
        for r in &self.running {
            if let Some(pid) = r.child.id() {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}
