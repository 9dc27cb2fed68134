//! A MongoDB-compatible server started for one run: real `mongod` when
//! installed, otherwise SecantusDB (`secantusd-rs`, then `secantusd-py`).
//! Storage is temporary or kept with the run's state; the process runs under
//! the [`supervisor`](crate::supervisor) (its own process group, killed with
//! promwasm, output to a log file, SIGTERM, a grace period, then SIGKILL).
//!
//! (A little over the usual length: one type per server kind would split
//! one start-up sequence across files.)

use std::fmt;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::supervisor::{Process, ProcessBuilder, SpawnError, Stream};

use super::client;

/// How long a server gets to announce its address (SecantusDB) and to answer `ping`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The command that installs the fallback server, quoted in [`ServerError::NotFound`].
pub const INSTALL_COMMAND: &str =
    "python3 -m venv .venv && .venv/bin/pip install SecantusDB==0.7.0b3";

/// Which server binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// MongoDB's own `mongod`.
    Mongod,
    /// SecantusDB's Rust build, `secantusd-rs`.
    SecantusRs,
    /// SecantusDB's Python build, `secantusd-py`.
    SecantusPy,
}

impl ServerKind {
    /// Every kind, in order of preference.
    pub const ALL: [ServerKind; 3] = [Self::Mongod, Self::SecantusRs, Self::SecantusPy];

    /// The executable's file name.
    pub fn binary_name(self) -> &'static str {
        match self {
            Self::Mongod => "mongod",
            Self::SecantusRs => "secantusd-rs",
            Self::SecantusPy => "secantusd-py",
        }
    }

    /// How many collections to seed at once on this server.
    ///
    /// SecantusDB's Python build runs each insert as a transaction that also
    /// writes the shared oplog, so inserts into different collections conflict
    /// and are retried: seeding two collections at once took twice as long as
    /// one after the other, four took six times as long. The others gain from
    /// parallel collections (secantusd-rs: 1.5× for four).
    pub fn collections_at_once(self) -> usize {
        match self {
            Self::SecantusPy => 1,
            Self::Mongod | Self::SecantusRs => super::seed::PARALLEL_COLLECTIONS,
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary_name())
    }
}

/// Why a managed server could not be found or started.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// None of the server binaries is installed where we looked.
    #[error(
        "no MongoDB-compatible server found: looked for mongod, secantusd-rs and secantusd-py in {}.\n\
         Install SecantusDB with:\n    {INSTALL_COMMAND}\n\
         or, if you have your own MongoDB, set MONGO_URI to its connection string instead.",
        display_dirs(searched)
    )]
    NotFound {
        /// The directories searched, in order.
        searched: Vec<PathBuf>,
    },
    /// The server's log file could not be created or written.
    #[error("cannot write server log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Temporary storage or a free port could not be set up.
    #[error("cannot prepare {what} for {kind}: {source}")]
    Prepare {
        /// Which server.
        kind: ServerKind,
        /// What was being prepared.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The binary could not be spawned.
    #[error("cannot start {kind} ({binary}): {source}")]
    Spawn {
        /// Which server.
        kind: ServerKind,
        /// The executable.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server exited while starting.
    #[error("{kind} exited while starting ({status}); last lines of its output:\n{tail}")]
    ExitedEarly {
        /// Which server.
        kind: ServerKind,
        /// How it exited.
        status: String,
        /// The end of its output.
        tail: String,
    },
    /// The server did not announce its address in time.
    #[error(
        "{kind} did not announce its address within {timeout:?}; last lines of its output:\n{tail}"
    )]
    NoAddress {
        /// Which server.
        kind: ServerKind,
        /// How long we waited.
        timeout: Duration,
        /// The end of its output.
        tail: String,
    },
    /// The server did not answer `ping` in time.
    #[error("{kind} at {uri} did not answer ping within {timeout:?} ({reason}); last lines of its output:\n{tail}")]
    NotReady {
        /// Which server.
        kind: ServerKind,
        /// Where it should be listening.
        uri: String,
        /// How long we waited.
        timeout: Duration,
        /// The last connection error.
        reason: String,
        /// The end of its output.
        tail: String,
    },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directories (PATH is empty)".to_owned();
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    list.join(", ")
}

/// Extra folders to look for a server in, from `PROMWASM_MONGO_BIN_DIR` (a PATH-style list).
pub fn bin_dirs_from_env() -> Vec<PathBuf> {
    std::env::var_os("PROMWASM_MONGO_BIN_DIR")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default()
}

/// The directories [`ManagedServer::start`] searches: each entry of `PATH`, then `extra_bin_dirs`.
pub fn search_dirs(extra_bin_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(extra_bin_dirs.iter().cloned());
    dirs
}

/// The first server binary found, by preference (mongod, secantusd-rs, secantusd-py), each looked up in `dirs` in order.
pub fn find_server(dirs: &[PathBuf]) -> Result<(ServerKind, PathBuf), ServerError> {
    ServerKind::ALL
        .iter()
        .find_map(|&kind| {
            dirs.iter()
                .map(|dir| dir.join(kind.binary_name()))
                .find(|candidate| is_executable(candidate))
                .map(|path| (kind, path))
        })
        .ok_or_else(|| ServerError::NotFound {
            searched: dirs.to_vec(),
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Where a managed server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Gone when the server stops: in memory where the server can, else a temporary folder.
    Temporary,
    /// Kept in `<dir>/<binary name>` across runs, so a resumed run finds the
    /// seeded data and what the workers wrote (one folder per kind: their
    /// files are not interchangeable).
    Keep(PathBuf),
}

/// A MongoDB-compatible server promwasm started for this run; stopped on `stop()` or drop (kill, never orphaned).
#[derive(Debug)]
pub struct ManagedServer {
    kind: ServerKind,
    uri: String,
    log_file: PathBuf,
    /// `None` once stopped.
    process: Option<Process>,
    /// [`Storage::Temporary`] folder removed at stop (mongod, secantusd-rs).
    temp_dir: Option<PathBuf>,
}

impl ManagedServer {
    /// Find the first available of mongod, secantusd-rs, secantusd-py: on PATH, then in each of `extra_bin_dirs`.
    ///
    /// Preference goes by kind (a `mongod` anywhere beats SecantusDB), then by directory order.
    /// None found → [`ServerError::NotFound`], whose message gives the install command
    /// (and says a user with their own MongoDB can set `MONGO_URI` instead).
    pub async fn start(
        extra_bin_dirs: &[PathBuf],
        log_file: &Path,
        storage: &Storage,
    ) -> Result<Self, ServerError> {
        let (kind, binary) = find_server(&search_dirs(extra_bin_dirs))?;
        Self::start_binary(kind, &binary, log_file, storage).await
    }

    /// Start `binary` as a server of `kind` keeping its data in `storage`, its output going to `log_file`,
    /// and return once it answers `ping`.
    pub async fn start_binary(
        kind: ServerKind,
        binary: &Path,
        log_file: &Path,
        storage: &Storage,
    ) -> Result<Self, ServerError> {
        let log_err = |source| ServerError::Log {
            path: log_file.to_path_buf(),
            source,
        };
        if let Some(parent) = log_file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(log_err)?;
        }
        // Truncate once: the log is this run's; the supervisor appends to it.
        std::fs::File::create(log_file).map_err(log_err)?;

        let mut cmd = ProcessBuilder::new(kind.binary_name(), binary);
        cmd.log_file(log_file);
        // mongod announces nothing usable, so we pick its port; SecantusDB picks
        // one itself and announces it (secantusd-rs on stdout, secantusd-py on stderr).
        let mut announced = None;
        let mut port = None;
        let storage_flag = match kind {
            ServerKind::Mongod => {
                let p = free_port().map_err(|source| ServerError::Prepare {
                    kind,
                    what: "a free port",
                    source,
                })?;
                cmd.arg("--port")
                    .arg(p.to_string())
                    .arg("--bind_ip")
                    .arg("127.0.0.1");
                port = Some(p);
                "--dbpath"
            }
            ServerKind::SecantusRs | ServerKind::SecantusPy => {
                let stream = if kind == ServerKind::SecantusRs {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                announced = Some(cmd.watch(stream, announced_port));
                cmd.args(["--host", "127.0.0.1", "--port", "0"]);
                "--storage-path"
            }
        };
        // Storage last: once the log is open nothing else can fail and leave a temp dir behind.
        let prepare = |what| move |source| ServerError::Prepare { kind, what, source };
        let mut temp_dir = None;
        match (storage, kind) {
            (Storage::Temporary, ServerKind::SecantusPy) => {
                cmd.arg(storage_flag).arg(":memory:");
            }
            // mongod, and secantusd-rs, which has no in-memory mode (given
            // `:memory:` it makes a folder of that name in the cwd).
            (Storage::Temporary, _) => {
                let dir = make_temp_dir().map_err(prepare("a temporary storage folder"))?;
                cmd.arg(storage_flag).arg(&dir);
                temp_dir = Some(dir);
            }
            (Storage::Keep(dir), _) => {
                let dir = dir.join(kind.binary_name());
                std::fs::create_dir_all(&dir).map_err(prepare("its storage folder"))?;
                cmd.arg(storage_flag).arg(&dir);
            }
        }

        let process = match cmd.spawn() {
            Ok(process) => process,
            Err(e) => {
                if let Some(dir) = &temp_dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
                return Err(match e {
                    SpawnError::Start { source, .. } => ServerError::Spawn {
                        kind,
                        binary: binary.to_path_buf(),
                        source,
                    },
                    SpawnError::Log { path, source, .. } => ServerError::Log { path, source },
                });
            }
        };

        // From here on, dropping `server` kills the process and removes temporary storage.
        let mut server = ManagedServer {
            kind,
            uri: String::new(),
            log_file: log_file.to_path_buf(),
            process: Some(process),
            temp_dir,
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;

        if let Some(rx) = announced {
            port = Some(server.wait_for_announcement(rx, deadline).await?);
        }
        let Some(port) = port else {
            // Unreachable by construction: every kind sets a port or an announcement.
            return Err(server.no_address());
        };
        server.uri = format!("mongodb://127.0.0.1:{port}");
        server.wait_for_ping(deadline).await?;
        Ok(server)
    }

    /// The connection string, `mongodb://127.0.0.1:PORT`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Which server binary runs.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Where the server's output goes.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// Why it is gone, if it has exited: its status, its log, the log's
    /// last lines.
    pub fn exited_mid_run(&mut self) -> Option<String> {
        let process = self.process.as_mut()?;
        let status = process.try_exit_status()?;
        let tail: Vec<String> = process
            .tail(None)
            .iter()
            .map(|l| format!("  {l}"))
            .collect();
        Some(format!(
            "the {} server promwasm started for this run exited ({status}); its log is {}; last lines:\n{}",
            self.kind,
            self.log_file.display(),
            if tail.is_empty() { "  (nothing)".to_string() } else { tail.join("\n") }
        ))
    }

    /// Stop the server: SIGTERM to its process group, the supervisor's grace
    /// period ([`crate::supervisor::GRACE`]), then SIGKILL; then remove its temporary storage.
    pub async fn stop(mut self) {
        if let Some(process) = self.process.take() {
            process.stop().await;
        }
        if let Some(dir) = self.temp_dir.take() {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
    }

    async fn wait_for_announcement(
        &mut self,
        rx: oneshot::Receiver<u16>,
        deadline: tokio::time::Instant,
    ) -> Result<u16, ServerError> {
        enum Outcome {
            Port(u16),
            StreamClosed,
            Exited(Option<ExitStatus>),
            TimedOut,
        }
        let Some(process) = self.process.as_mut() else {
            return Err(self.no_address());
        };
        let outcome = tokio::select! {
            port = rx => port.map_or(Outcome::StreamClosed, Outcome::Port),
            status = process.wait() => Outcome::Exited(status.ok()),
            _ = tokio::time::sleep_until(deadline) => Outcome::TimedOut,
        };
        match outcome {
            Outcome::Port(port) => Ok(port),
            Outcome::StreamClosed => {
                // The stream closed without an address: the server is exiting.
                let status = tokio::time::timeout(Duration::from_secs(2), process.wait()).await;
                Err(self.exited(status.ok().and_then(Result::ok)).await)
            }
            Outcome::Exited(status) => Err(self.exited(status).await),
            Outcome::TimedOut => Err(self.no_address()),
        }
    }

    async fn wait_for_ping(&mut self, deadline: tokio::time::Instant) -> Result<(), ServerError> {
        let mut reason = String::from("not tried");
        loop {
            if let Some(status) = self.process.as_mut().and_then(Process::try_exit_status) {
                return Err(self.exited(Some(status)).await);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(ServerError::NotReady {
                    kind: self.kind,
                    uri: self.uri.clone(),
                    timeout: START_TIMEOUT,
                    reason,
                    tail: self.tail(),
                });
            }
            // Short attempts so an early exit is noticed quickly.
            match client::connect(&self.uri, left.min(Duration::from_secs(2))).await {
                Ok(_) => return Ok(()),
                Err(e) => reason = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100).min(left)).await;
        }
    }

    async fn exited(&mut self, status: Option<ExitStatus>) -> ServerError {
        // With the status known, wait() returns at once and lets the last
        // output lines reach the tail (bounded by the supervisor).
        if let (Some(_), Some(process)) = (status, self.process.as_mut()) {
            let _ = tokio::time::timeout(Duration::from_secs(2), process.wait()).await;
        }
        ServerError::ExitedEarly {
            kind: self.kind,
            status: status.map_or_else(|| "exit status unknown".to_owned(), |s| s.to_string()),
            tail: self.tail(),
        }
    }

    fn no_address(&self) -> ServerError {
        ServerError::NoAddress {
            kind: self.kind,
            timeout: START_TIMEOUT,
            tail: self.tail(),
        }
    }

    fn tail(&self) -> String {
        let lines = self
            .process
            .as_ref()
            .map(|p| p.tail(None))
            .unwrap_or_default();
        if lines.is_empty() {
            "(no output)".to_owned()
        } else {
            lines.join("\n")
        }
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        // Kill first (the supervisor's drop kills the group), then remove its storage.
        drop(self.process.take());
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The port in a line like `... secantus listening on 127.0.0.1:35685`.
fn announced_port(line: &str) -> Option<u16> {
    // Prefer what follows "listening on"; otherwise any `IP:PORT` token on the line.
    let rest = line
        .find("listening on")
        .map_or(line, |i| &line[i + "listening on".len()..]);
    rest.split_whitespace().find_map(|token| {
        let token = token.split_once("://").map_or(token, |(_, t)| t);
        let token = token.trim_end_matches(|c: char| !c.is_ascii_digit());
        let (host, port) = token.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host_ok = host == "localhost" || host.parse::<IpAddr>().is_ok();
        let port: u16 = port.parse().ok()?;
        (host_ok && port != 0).then_some(port)
    })
}

/// A port nobody listens on right now (mongod cannot be told to pick one).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn make_temp_dir() -> std::io::Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir =
        std::env::temp_dir().join(format!("promwasm-mongo-{}-{nanos:09}", std::process::id()));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// Whether `uri` answers `ping`; used by tests of other modules too.
#[cfg(test)]
pub(crate) async fn ping(uri: &str) -> bool {
    client::connect(uri, Duration::from_secs(5)).await.is_ok()
}

#[cfg(test)]
#[path = "server_tests.rs"]
pub(crate) mod tests;
