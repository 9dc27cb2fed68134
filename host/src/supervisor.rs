//! The one supervisor for every process promwasm starts: worker servers and
//! the managed database server alike.
//!
//! A [`Process`] runs in its own process group (so stopping it stops whatever
//! it started too) and gets SIGKILL from the kernel if promwasm dies, so a
//! killed run leaves nothing behind. Its output is read line by line and goes
//! to the caller's sinks, to a log file and to a short in-memory tail for error
//! messages. [`Process::stop`] sends SIGTERM to the group, waits [`GRACE`],
//! then SIGKILL; dropping a process that was not stopped kills its group.
//!
//! (Longer than most modules: spawning, output pumps, tail, announcements
//! and stopping are one lifecycle, kept in one place on purpose.)

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::mask::Masker;

/// How long a process gets to exit after SIGTERM before its group gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
/// Lines of each stream kept in the tail quoted by error messages.
pub const TAIL_LINES: usize = 20;
/// Longer output lines are cut to this many bytes before they reach sinks, log
/// or tail, so one endless line cannot eat memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Longer lines are cut to this many bytes in the tail: it is quoted in error messages.
pub const TAIL_LINE_BYTES: usize = 2 * 1024;
/// How long [`Process::stop`] and [`Process::wait`] wait for the last output
/// after the process exited (a grandchild outside the group may hold the pipes).
const PUMP_DRAIN: Duration = Duration::from_secs(1);

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line a supervised process wrote, without its line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// The process's name, as given to [`ProcessBuilder::new`].
    pub name: String,
    /// Which stream it came from.
    pub stream: Stream,
    /// The text (invalid UTF-8 replaced; cut at [`MAX_LINE_BYTES`] with a note).
    pub line: String,
}

/// Shown as in the log files: `[worker1] text` for stdout, `[worker1 ERR] text` for stderr.
impl fmt::Display for OutputLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stream {
            Stream::Stdout => write!(f, "[{}] {}", self.name, self.line),
            Stream::Stderr => write!(f, "[{} ERR] {}", self.name, self.line),
        }
    }
}

/// Receives every output line as it is read; called from the output readers,
/// so it should be quick (print, send on a channel).
pub type OutputSink = Arc<dyn Fn(&OutputLine) + Send + Sync>;

/// Why a process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The program could not be executed.
    #[error("cannot start {name} ({command}): {source}")]
    Start {
        /// The process's name.
        name: String,
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Its log file could not be opened.
    #[error("cannot open the log of {name} ({command}) at {}: {source}", path.display())]
    Log {
        /// The process's name.
        name: String,
        /// The command line.
        command: String,
        /// The log file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What to start and where its output goes; [`ProcessBuilder::spawn`] starts it.
///
/// Setters take `&mut self`; the environment is inherited unless
/// [`ProcessBuilder::env_clear`] is called.
pub struct ProcessBuilder {
    name: String,
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env_clear: bool,
    env: Vec<(OsString, OsString)>,
    log_file: Option<PathBuf>,
    sinks: Vec<OutputSink>,
    masker: Option<Arc<Masker>>,
    grace: Duration,
}

impl ProcessBuilder {
    /// A process called `name` (in messages and log prefixes) running `program`.
    pub fn new(name: impl Into<String>, program: impl AsRef<OsStr>) -> Self {
        ProcessBuilder {
            name: name.into(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env_clear: false,
            env: Vec::new(),
            log_file: None,
            sinks: Vec::new(),
            masker: None,
            grace: GRACE,
        }
    }

    /// Add one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Run in `dir` instead of promwasm's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Start from an empty environment instead of promwasm's.
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self
    }

    /// Set one environment variable (a later setting of the same name wins).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Set environment variables (a later setting of the same name wins).
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Append every output line, prefixed as [`OutputLine`] displays, to `path`
    /// (created with its folder if missing).
    pub fn log_file(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.log_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Replace the secrets `masker` knows in every output line, before it
    /// reaches sinks, the log file or the tail.
    pub fn mask(&mut self, masker: Arc<Masker>) -> &mut Self {
        self.masker = Some(masker);
        self
    }

    /// Send every output line to `sink` too.
    pub fn sink(&mut self, sink: OutputSink) -> &mut Self {
        self.sinks.push(sink);
        self
    }

    /// Watch `stream` for the first line `find` accepts, e.g. a server announcing
    /// its port. The receiver gets `find`'s answer, or an error once the process's
    /// output ends without one (it is exiting).
    pub fn watch<T, F>(&mut self, stream: Stream, find: F) -> oneshot::Receiver<T>
    where
        T: Send + 'static,
        F: FnMut(&str) -> Option<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // Dropped with the sinks when both streams end, which closes `rx`.
        let pending = Mutex::new(Some((find, tx)));
        self.sink(Arc::new(move |line: &OutputLine| {
            if line.stream != stream {
                return;
            }
            let Ok(mut pending) = pending.lock() else {
                return;
            };
            let found = pending.as_mut().and_then(|(find, _)| find(&line.line));
            if let (Some(value), Some((_, tx))) = (found, pending.take()) {
                let _ = tx.send(value);
            }
        }));
        rx
    }

    /// How long [`Process::stop`] waits after SIGTERM; [`GRACE`] unless set.
    pub fn grace(&mut self, grace: Duration) -> &mut Self {
        self.grace = grace;
        self
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Start the process, its stdin empty and its output read by this runtime.
    ///
    /// Call it from a task on the async runtime, never inside `spawn_blocking`:
    /// the kernel sends the parent-death SIGKILL when the *thread* that spawned
    /// the process ends, and blocking-pool threads end when idle.
    pub fn spawn(self) -> Result<Process, SpawnError> {
        let command = self.command_line();
        let log = match &self.log_file {
            Some(path) => Some(open_log(path).map_err(|source| SpawnError::Log {
                name: self.name.clone(),
                command: command.clone(),
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if self.env_clear {
            cmd.env_clear();
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so signals reach whatever it starts too.
            .process_group(0)
            .kill_on_drop(true);
        let parent = Pid::this();
        // SAFETY: runs in the child between fork and exec, and does only
        // async-signal-safe things: two syscalls, no allocation.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                // We died before the line above: the signal will never come.
                if nix::unistd::getppid() != parent {
                    return Err(nix::errno::Errno::ESRCH.into());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| SpawnError::Start {
            name: self.name.clone(),
            command: command.clone(),
            source,
        })?;
        let pid = child.id();
        let tail = Arc::new(Mutex::new(Tail::default()));
        let output = Arc::new(Output {
            name: self.name.clone(),
            sinks: self.sinks,
            masker: self.masker,
            log: log.map(Mutex::new),
            tail: tail.clone(),
        });
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(out, Stream::Stdout, output.clone())));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, Stream::Stderr, output)));
        }
        Ok(Process {
            name: self.name,
            command,
            child,
            pid,
            tail,
            pumps,
            grace: self.grace,
            stopped: false,
        })
    }
}

/// A started process. Stop it with [`Process::stop`]; dropping it unstopped
/// kills its whole group at once, so nothing is orphaned even on a panic.
pub struct Process {
    name: String,
    command: String,
    child: Child,
    /// Also its process group id; `None` only if it could not be read at spawn.
    pid: Option<u32>,
    tail: Arc<Mutex<Tail>>,
    /// The output readers; awaited so a dead process's last words are in the tail.
    pumps: Vec<JoinHandle<()>>,
    grace: Duration,
    /// Set once [`Process::stop`] finished: the group is gone, Drop has nothing to do.
    stopped: bool,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("pid", &self.pid)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl Process {
    /// The name given to [`ProcessBuilder::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> &str {
        &self.command
    }

    /// The process id it was started with (also its process group id); kept after it exits.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// How it exited, or `None` while it runs (or if its status cannot be read).
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Wait until it exits, then (up to 1 s) for its last output to reach sinks,
    /// log and tail. Cancel-safe: it may be raced in a `select!` and called again.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.drain_output().await;
        status
    }

    /// Its last [`TAIL_LINES`] lines of `only` one stream, or of both interleaved
    /// as written when `None`; each cut at [`TAIL_LINE_BYTES`].
    pub fn tail(&self, only: Option<Stream>) -> Vec<String> {
        let Ok(tail) = self.tail.lock() else {
            return Vec::new();
        };
        match only {
            Some(Stream::Stdout) => tail.stdout.iter().map(|(_, l)| l.clone()).collect(),
            Some(Stream::Stderr) => tail.stderr.iter().map(|(_, l)| l.clone()).collect(),
            None => {
                let mut both: Vec<&(u64, String)> =
                    tail.stdout.iter().chain(&tail.stderr).collect();
                both.sort_by_key(|(seq, _)| *seq);
                let skip = both.len().saturating_sub(TAIL_LINES);
                both.into_iter()
                    .skip(skip)
                    .map(|(_, l)| l.clone())
                    .collect()
            }
        }
    }

    /// SIGTERM to its group, up to the grace period ([`GRACE`] unless set) for
    /// it to exit, then SIGKILL; then SIGKILL to the group again for anything it
    /// started that ignored SIGTERM or outlived it; then up to 1 s for the last
    /// output. Returns how it exited, if known.
    pub async fn stop(mut self) -> Option<ExitStatus> {
        let mut status = self.try_exit_status();
        if let Some(group) = self.group() {
            if status.is_none() {
                // Errors only mean the group is already gone.
                let _ = killpg(group, Signal::SIGTERM);
                status = match tokio::time::timeout(self.grace, self.child.wait()).await {
                    Ok(s) => s.ok(),
                    Err(_) => {
                        let _ = killpg(group, Signal::SIGKILL);
                        // Bounded: a process stuck in the kernel ignores even SIGKILL for a while.
                        tokio::time::timeout(self.grace, self.child.wait())
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                };
            }
            let _ = killpg(group, Signal::SIGKILL);
        }
        self.drain_output().await;
        for pump in &self.pumps {
            pump.abort();
        }
        self.stopped = true;
        status
    }

    fn group(&self) -> Option<Pid> {
        // Never 0 or negative: killpg(0) would signal promwasm's own group.
        self.pid
            .and_then(|p| i32::try_from(p).ok())
            .filter(|&p| p > 0)
            .map(Pid::from_raw)
    }

    async fn drain_output(&mut self) {
        let deadline = tokio::time::Instant::now() + PUMP_DRAIN;
        let mut i = 0;
        while i < self.pumps.len() {
            // A handle that completed must never be polled again, even if this
            // future is dropped half way (`wait` in a `select!`): remove it
            // before the next await.
            if tokio::time::timeout_at(deadline, &mut self.pumps[i])
                .await
                .is_ok()
            {
                self.pumps.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        // Also when the leader has exited already: what it started may still run.
        // The group id cannot be reused while any member lives.
        if let Some(group) = self.group() {
            let _ = killpg(group, Signal::SIGKILL);
        }
        // kill_on_drop then has tokio reap the leader in the background.
    }
}

/// The last lines of each stream, numbered in the order they were read.
#[derive(Debug, Default)]
struct Tail {
    next: u64,
    stdout: std::collections::VecDeque<(u64, String)>,
    stderr: std::collections::VecDeque<(u64, String)>,
}

impl Tail {
    fn push(&mut self, stream: Stream, line: String) {
        let lines = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back((self.next, line));
        self.next += 1;
    }
}

/// Where the output readers deliver; dropped when both streams have ended.
struct Output {
    name: String,
    sinks: Vec<OutputSink>,
    masker: Option<Arc<Masker>>,
    log: Option<Mutex<std::fs::File>>,
    tail: Arc<Mutex<Tail>>,
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

async fn pump(stream: impl AsyncRead + Unpin, kind: Stream, output: Arc<Output>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    while let Ok(Some(dropped)) = read_line_capped(&mut reader, &mut buf, MAX_LINE_BYTES).await {
        let mut text = String::from_utf8_lossy(&buf);
        if let Some(m) = &output.masker {
            if let std::borrow::Cow::Owned(masked) = m.mask(&text) {
                text = std::borrow::Cow::Owned(masked);
            }
        }
        // Tail and log first: an error message quoting the tail may follow at once.
        if let Ok(mut tail) = output.tail.lock() {
            tail.push(kind, cut(&text, TAIL_LINE_BYTES, dropped));
        }
        let line = OutputLine {
            name: output.name.clone(),
            stream: kind,
            line: cut(&text, MAX_LINE_BYTES, dropped),
        };
        if let Some(log) = &output.log {
            if let Ok(mut f) = log.lock() {
                // Plain blocking write: one line to a local file is quick. A failed
                // write must not stop us draining the pipe.
                let _ = writeln!(f, "{line}");
            }
        }
        for sink in &output.sinks {
            // A panicking sink must not stop the pipe being drained (the process
            // would block writing), nor take the other sinks down.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&line)));
        }
    }
}

/// Read one line into `buf` without its `\n` (or `\r\n`), keeping at most `cap`
/// bytes and skipping the rest. `Ok(None)` at the end of the stream, else
/// `Ok(Some(bytes skipped))`.
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<usize>> {
    buf.clear();
    let mut dropped = 0;
    let mut read_any = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            // End of stream: a last line without a line break still counts.
            return Ok(read_any.then_some(dropped));
        }
        read_any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        let keep = part.len().min(cap.saturating_sub(buf.len()));
        buf.extend_from_slice(&part[..keep]);
        dropped += part.len() - keep;
        let used = newline.map_or(chunk.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            if dropped == 0 && buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(dropped));
        }
    }
}

/// `line`, cut to at most `max` bytes at a character boundary, with a note
/// when it (or the `dropped` bytes already skipped after it) is cut.
fn cut(line: &str, max: usize, dropped: usize) -> String {
    let mut end = line.len().min(max);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = dropped + line.len() - end;
    if dropped == 0 {
        line.to_owned()
    } else {
        format!("{} … [{dropped} more bytes cut]", &line[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(name: &str, script: &str) -> ProcessBuilder {
        let mut b = ProcessBuilder::new(name, "sh");
        b.arg("-c").arg(script);
        b
    }

    fn collecting() -> (OutputSink, Arc<Mutex<Vec<OutputLine>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink: OutputSink = Arc::new(move |l: &OutputLine| seen.lock().unwrap().push(l.clone()));
        (sink, lines)
    }

    fn alive(pid: u32) -> bool {
        // A zombie still has a /proc entry; it is dead for our purposes.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    async fn gone_within(pid: u32, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while alive(pid) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Waits for `path` to hold a pid written by the test script.
    async fn read_pid(path: &Path) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(path) {
                if let Ok(pid) = text.trim().parse() {
                    return pid;
                }
            }
            assert!(Instant::now() < deadline, "no pid in {}", path.display());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn output_reaches_sink_log_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/w1.log");
        let (sink, lines) = collecting();
        let mut b = sh("w1", "echo out1; echo err1 >&2; printf 'no newline'");
        b.log_file(&log).sink(sink);
        let mut p = b.spawn().unwrap();
        assert!(p.wait().await.unwrap().success());
        let lines = lines.lock().unwrap().clone();
        let line = |stream, text: &str| OutputLine {
            name: "w1".into(),
            stream,
            line: text.into(),
        };
        assert!(lines.contains(&line(Stream::Stdout, "out1")), "{lines:?}");
        assert!(lines.contains(&line(Stream::Stderr, "err1")), "{lines:?}");
        assert!(
            lines.contains(&line(Stream::Stdout, "no newline")),
            "{lines:?}"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("[w1] out1\n"), "{text}");
        assert!(text.contains("[w1 ERR] err1\n"), "{text}");
        assert!(text.contains("[w1] no newline\n"), "{text}");
        assert_eq!(p.tail(Some(Stream::Stderr)), ["err1"]);
        assert_eq!(p.tail(Some(Stream::Stdout)), ["out1", "no newline"]);
        assert_eq!(p.tail(None).len(), 3);
        assert!(p.try_exit_status().is_some());
        p.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn env_is_cleared_or_inherited_and_cwd_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = ProcessBuilder::new("env", "/bin/sh");
        b.args(["-c", "echo \"A=$A HOME=${HOME:-unset} PWD=$(pwd)\""])
            .env_clear()
            .envs([("A", "1"), ("A", "2")])
            .current_dir(dir.path());
        let mut p = b.spawn().unwrap();
        p.wait().await.unwrap();
        let want = format!(
            "A=2 HOME=unset PWD={}",
            dir.path().canonicalize().unwrap().display()
        );
        assert_eq!(p.tail(Some(Stream::Stdout)), [want]);

        // Inherited unless cleared.
        let mut b = sh("env", "echo ${PATH:+has-path}");
        b.env("X", "y");
        let mut p = b.spawn().unwrap();
        p.wait().await.unwrap();
        assert_eq!(p.tail(Some(Stream::Stdout)), ["has-path"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn tail_keeps_the_last_lines_and_cuts_long_ones() {
        // 30 short lines, then one of 200 KB on stderr.
        let mut p = sh(
            "long",
            "i=0; while [ $i -lt 30 ]; do echo line$i; i=$((i+1)); done; \
             head -c 200000 /dev/zero | tr '\\0' x >&2; echo >&2",
        )
        .spawn()
        .unwrap();
        p.wait().await.unwrap();
        let out = p.tail(Some(Stream::Stdout));
        assert_eq!(out.len(), TAIL_LINES);
        assert_eq!(out.first().map(String::as_str), Some("line10"));
        assert_eq!(out.last().map(String::as_str), Some("line29"));
        let err = p.tail(Some(Stream::Stderr));
        assert_eq!(err.len(), 1);
        assert!(err[0].len() < TAIL_LINE_BYTES + 100, "{}", err[0].len());
        assert!(err[0].starts_with("xxxx"));
        assert!(
            err[0].ends_with("more bytes cut]"),
            "{}",
            &err[0][TAIL_LINE_BYTES..]
        );
        // Both streams, in order: the long line is the last.
        let both = p.tail(None);
        assert_eq!(both.len(), TAIL_LINES);
        assert!(both[TAIL_LINES - 1].starts_with("xxxx"));
        assert_eq!(both[TAIL_LINES - 2], "line29");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sinks_and_logs_get_long_lines_cut_too() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, lines) = collecting();
        let mut b = sh(
            "long",
            "head -c 300000 /dev/zero | tr '\\0' y; echo; echo after",
        );
        b.sink(sink).log_file(dir.path().join("long.log"));
        let mut p = b.spawn().unwrap();
        p.wait().await.unwrap();
        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 2);
        let cut_note = format!(" … [{} more bytes cut]", 300_000 - MAX_LINE_BYTES);
        assert_eq!(lines[0].line.len(), MAX_LINE_BYTES + cut_note.len());
        assert!(lines[0].line.ends_with(&cut_note));
        assert_eq!(lines[1].line, "after");
        let log = std::fs::read_to_string(dir.path().join("long.log")).unwrap();
        assert!(log.len() < MAX_LINE_BYTES + 200, "{}", log.len());
        assert!(log.ends_with("[long] after\n"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn watch_finds_an_announcement_or_reports_the_end() {
        let mut b = sh(
            "srv",
            "echo 'listening on 127.0.0.1:4242' ; echo 'port 99' >&2; sleep 30",
        );
        let on_stderr = b.watch(Stream::Stderr, |l| {
            l.strip_prefix("port ").map(str::to_owned)
        });
        let p = b.spawn().unwrap();
        let port = tokio::time::timeout(Duration::from_secs(5), on_stderr)
            .await
            .expect("announced in time")
            .expect("found");
        assert_eq!(port, "99");
        p.stop().await;

        // Output ends without the line: the receiver says so instead of hanging.
        let mut b = sh("quiet", "echo nothing here");
        let never = b.watch(Stream::Stdout, |l| {
            l.strip_prefix("port ").map(str::to_owned)
        });
        let _p = b.spawn().unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), never)
            .await
            .expect("closed in time");
        assert!(got.is_err());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn wait_can_be_cancelled_and_called_again() {
        // The leader exits at once; a background child keeps stderr (not
        // stdout) open a while, so one reader finishes well before the other.
        let mut p = sh(
            "racy",
            "echo one; sleep 0.05; echo two >&2; sleep 0.3 >/dev/null &",
        )
        .spawn()
        .unwrap();
        // Cut short at every stage: while running, while draining, after.
        let until = Instant::now() + Duration::from_millis(600);
        while Instant::now() < until {
            let _ = tokio::time::timeout(Duration::from_micros(700), p.wait()).await;
        }
        assert!(p.wait().await.unwrap().success());
        assert_eq!(p.tail(None), ["one", "two"]);
        p.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stop_kills_what_ignores_sigterm_and_the_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        // The shell ignores SIGTERM, and so does its background grandchild.
        let script = format!(
            "trap '' TERM; sleep 300 & echo $! > '{}'; while :; do sleep 1; done",
            pidfile.display()
        );
        let mut b = sh("stubborn", &script);
        b.grace(Duration::from_millis(300));
        let p = b.spawn().unwrap();
        let leader = p.pid().unwrap();
        let grandchild = read_pid(&pidfile).await;
        assert!(alive(leader) && alive(grandchild));
        let started = Instant::now();
        let status = p.stop().await.expect("status known");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "waited the grace period"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::SIGKILL as i32), "{status}");
        assert!(!alive(leader));
        assert!(
            gone_within(grandchild, Duration::from_secs(3)).await,
            "grandchild {grandchild} left"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stop_is_quick_for_a_process_that_obeys_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        let mut p = sh(
            "polite",
            &format!("sleep 300 & echo $! > '{}'; wait", pidfile.display()),
        )
        .spawn()
        .unwrap();
        let grandchild = read_pid(&pidfile).await;
        assert!(p.try_exit_status().is_none());
        let started = Instant::now();
        p.stop().await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(gone_within(grandchild, Duration::from_secs(3)).await);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stop_after_exit_still_kills_the_leftover_grandchild() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        // The leader exits at once, leaving a grandchild that ignores SIGTERM.
        let mut p = sh(
            "leaver",
            &format!(
                "trap '' TERM; sleep 300 & echo $! > '{}'",
                pidfile.display()
            ),
        )
        .spawn()
        .unwrap();
        let grandchild = read_pid(&pidfile).await;
        let status = tokio::time::timeout(Duration::from_secs(5), p.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success());
        assert!(alive(grandchild));
        p.stop().await;
        assert!(gone_within(grandchild, Duration::from_secs(3)).await);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn drop_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        let p = sh(
            "dropped",
            &format!(
                "trap '' TERM; sleep 300 & echo $! > '{}'; wait",
                pidfile.display()
            ),
        )
        .spawn()
        .unwrap();
        let leader = p.pid().unwrap();
        let grandchild = read_pid(&pidfile).await;
        drop(p);
        assert!(
            gone_within(leader, Duration::from_secs(3)).await,
            "leader left"
        );
        assert!(
            gone_within(grandchild, Duration::from_secs(3)).await,
            "grandchild left"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_child_runs_in_its_own_group() {
        let p = sh("group", "sleep 30").spawn().unwrap();
        let pid = p.pid().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name: state ppid pgrp ...
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        assert_eq!(fields[2], pid.to_string(), "own process group");
        p.stop().await;
    }

    #[test]
    fn the_child_dies_with_the_thread_that_spawned_it() {
        // A runtime on a thread of its own spawns a process and leaks it (no
        // Drop, no stop); only the parent-death signal can end it when the
        // thread ends. tests/tests/supervisor.rs kills all of promwasm instead.
        let pid = std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let p = sh("orphan", "exec sleep 300").spawn().unwrap();
                let pid = p.pid().unwrap();
                std::mem::forget(p);
                pid
            })
        })
        .join()
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) {
            assert!(
                Instant::now() < deadline,
                "{pid} outlived its parent thread"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_missing_program_names_the_process_and_command() {
        let mut b = ProcessBuilder::new("ghost", "/nonexistent/server");
        b.arg("--port").arg("1");
        let err = b.spawn().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SpawnError::Start { .. }), "{msg}");
        assert!(
            msg.contains("cannot start ghost (/nonexistent/server --port 1)"),
            "{msg}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unwritable_log_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let mut b = sh("w", "true");
        b.log_file(blocker.join("w.log"));
        let err = b.spawn().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SpawnError::Log { .. }), "{msg}");
        assert!(msg.contains(&blocker.display().to_string()), "{msg}");
    }

    #[test]
    fn cut_respects_character_boundaries() {
        assert_eq!(cut("short", 10, 0), "short");
        assert_eq!(cut("short", 10, 7), "short … [7 more bytes cut]");
        assert_eq!(cut("ééé", 3, 0), "é … [4 more bytes cut]");
        assert_eq!(cut("ééé", 3, 10), "é … [14 more bytes cut]");
    }
}
