//! Harness for the end-to-end tests: the real `promwasm` and `orca-server`
//! binaries and the real guest components, driven in throwaway project
//! folders, plus a real MongoDB-compatible server and small worker servers.
//!
//! What the tests drive comes from `cargo xtask test`, which builds it and
//! passes the paths cargo reported for what it just built:
//!
//! - `PROMWASM_BIN`: the `promwasm` binary;
//! - `ORCA_SERVER_BIN`: the example worker server;
//! - `PROMWASM_GUEST_DIR`: the folder holding the guest components
//!   (`test_guests.wasm`, `orca_steps.wasm`, `hostile_guests.wasm`,
//!   `hostile_stages.wasm`).
//!
//! Nothing is looked up under `./target`: with `CARGO_TARGET_DIR` set, or
//! after a failed build, that would drive stale builds. Without these
//! variables every test fails saying to run `cargo xtask test` (or to set
//! them, e.g. to a snapshot of the binaries).
//!
//! Ports come from [`free_port`], an allocator that never hands out a port
//! twice in a process and stays out of the kernel's ephemeral range.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root (source files only: built things come from the env vars above).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The path in env var `var`, which `cargo xtask test` sets to what cargo just built.
fn built(var: &str, what: &str) -> PathBuf {
    let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else {
        panic!(
            "{var} is not set: run the end-to-end tests with `cargo xtask test`, which builds \
             {what} and passes its path in {var} (or set {var} yourself to a build you trust)"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.exists(),
        "{var}={} does not exist: run the tests with `cargo xtask test`, which builds {what}",
        path.display()
    );
    path
}

/// The `promwasm` binary (`$PROMWASM_BIN`).
pub fn promwasm_bin() -> PathBuf {
    built("PROMWASM_BIN", "promwasm")
}

/// The example worker server (`$ORCA_SERVER_BIN`).
pub fn orca_server_bin() -> PathBuf {
    built("ORCA_SERVER_BIN", "orca-server")
}

/// A guest component, e.g. `test_guests` or `orca_steps`, from `$PROMWASM_GUEST_DIR`.
pub fn guest(name: &str) -> PathBuf {
    let path = built("PROMWASM_GUEST_DIR", "the guest components").join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest component {} not found: run the tests with `cargo xtask test`, which builds it",
        path.display()
    );
    path
}

/// Where a MongoDB-compatible server and the venv's python are
/// (`$PROMWASM_MONGO_BIN_DIR`, else `<repo>/.venv/bin`, where `cargo xtask setup` installs them).
pub fn mongo_bin_dir() -> PathBuf {
    std::env::var_os("PROMWASM_MONGO_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin"))
}

/// The venv's python, which has pymongo (`cargo xtask setup` installs both).
pub fn venv_python() -> PathBuf {
    let python = mongo_bin_dir().join("python");
    assert!(
        python.exists(),
        "{} not found: `cargo xtask setup` makes the venv with SecantusDB and pymongo",
        python.display()
    );
    python
}

// ---------------------------------------------------------------------------
// Ports

/// The first port the allocator considers, and one past the last.
const PORTS_FROM: u16 = 20_000;
const PORTS_TO: u16 = 32_000;

struct PortAllocator {
    /// Candidate ports, ascending: `PORTS_FROM..PORTS_TO` minus the ephemeral range.
    candidates: Vec<u16>,
    /// Where this process starts in `candidates`.
    start: usize,
    /// How many candidates were taken (handed out or skipped) so far.
    taken: usize,
}

/// The kernel's ephemeral range (outgoing connections and port-0 binds use it).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

impl PortAllocator {
    fn new() -> Self {
        let (lo, hi) = ephemeral_range();
        let outside = |p: &u16| !(lo..=hi).contains(p);
        let mut candidates: Vec<u16> = (PORTS_FROM..PORTS_TO).filter(outside).collect();
        if candidates.len() < 1000 {
            // The ephemeral range covers ours: take what lies outside it anywhere.
            candidates = (1024..=u16::MAX).filter(outside).collect();
        }
        assert!(
            !candidates.is_empty(),
            "no ports outside the ephemeral range {lo}-{hi}"
        );
        // Concurrently running test binaries start far apart.
        let hash = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let start = (hash % candidates.len() as u64) as usize;
        PortAllocator {
            candidates,
            start,
            taken: 0,
        }
    }

    /// The first of `n` consecutive ports, each bindable now, none handed out before.
    fn take(&mut self, n: usize) -> u16 {
        let len = self.candidates.len();
        while self.taken + n <= len {
            let at = (self.start + self.taken) % len;
            let run: Vec<u16> = (0..n).map(|i| self.candidates[(at + i) % len]).collect();
            let consecutive = run.windows(2).all(|w| w[1] == w[0] + 1);
            if consecutive && run.iter().all(|&p| bindable(p)) {
                self.taken += n;
                return run[0];
            }
            // Skipped for good: a port in use now is not handed out later either.
            self.taken += 1;
        }
        panic!("the port allocator ran out of ports");
    }
}

/// Nobody holds `port` on either loopback address, not even a connection
/// in TIME_WAIT: a server that binds without SO_REUSEADDR (Python's plain
/// `socket.bind`) is refused such a port for a minute after another test's
/// server on it closed a connection. (`TcpListener::bind` sets
/// SO_REUSEADDR, so it cannot tell.)
fn bindable(port: u16) -> bool {
    use nix::sys::socket::{AddressFamily, SockaddrIn, SockaddrIn6};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    let v4 = SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    if plain_bind(AddressFamily::Inet, &v4).is_err() {
        return false;
    }
    let v6 = SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0));
    match plain_bind(AddressFamily::Inet6, &v6) {
        Ok(()) => true,
        // No IPv6 on this machine: nothing can listen there either.
        Err(e) => matches!(
            e,
            nix::errno::Errno::EADDRNOTAVAIL | nix::errno::Errno::EAFNOSUPPORT
        ),
    }
}

/// Bind a TCP socket of `family` to `addr` without SO_REUSEADDR, and close it.
fn plain_bind(
    family: nix::sys::socket::AddressFamily,
    addr: &impl nix::sys::socket::SockaddrLike,
) -> nix::Result<()> {
    use nix::sys::socket::{bind, socket, SockFlag, SockType};
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), addr)
}

fn allocator() -> &'static Mutex<PortAllocator> {
    static PORTS: OnceLock<Mutex<PortAllocator>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(PortAllocator::new()))
}

/// A port for a test's server: bindable now, never handed out twice in this
/// process, and outside the kernel's ephemeral range (so no outgoing
/// connection or port-0 bind, e.g. promwasm's managed MongoDB, lands on it).
/// Test binaries running at once start at different, pid-derived offsets.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `n` consecutive ports, as [`free_port`] gives them (for `base_port + index`).
pub fn free_ports(n: usize) -> u16 {
    allocator()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take(n)
}

/// A port nobody listens on, and nobody will during the test: it comes from
/// the same allocator as every other port the tests use, so nothing else in
/// this process is given it, and it is outside the ephemeral range, so no
/// outgoing connection or port-0 bind picks it either.
pub fn closed_port() -> u16 {
    free_port()
}

/// Whether something accepts connections on `127.0.0.1:port`.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .is_ok()
}

// ---------------------------------------------------------------------------
// Running promwasm

/// How long any one promwasm invocation may take before the test fails (and it is killed).
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The finished `promwasm` process.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall-clock time it took.
    pub took: Duration,
}

impl Run {
    /// Both streams, for assertions and failure messages.
    pub fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    /// Assert the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.all());
        self
    }

    /// Assert stderr contains every one of `texts`, naming all that are missing.
    pub fn expect_errors(&self, texts: &[&str]) -> &Self {
        let missing: Vec<&&str> = texts
            .iter()
            .filter(|t| !self.stderr.contains(**t))
            .collect();
        assert!(
            missing.is_empty(),
            "stderr lacks {missing:?}\n{}",
            self.all()
        );
        self
    }

    /// Assert the output contains `text`.
    pub fn expect_output(&self, text: &str) -> &Self {
        assert!(
            self.all().contains(text),
            "output lacks {text:?}\n{}",
            self.all()
        );
        self
    }

    /// Assert the output does not contain `text`.
    pub fn expect_no_output(&self, text: &str) -> &Self {
        assert!(
            !self.all().contains(text),
            "output has {text:?}\n{}",
            self.all()
        );
        self
    }

    /// Assert one line of the output contains every one of `parts` (in any order).
    pub fn expect_line(&self, parts: &[&str]) -> &Self {
        let all = self.all();
        assert!(
            all.lines().any(|l| parts.iter().all(|p| l.contains(p))),
            "no line has all of {parts:?}\n{all}"
        );
        self
    }
}

/// Run `cmd` to the end, failing the test (and killing it) after `limit`.
pub fn run_command(cmd: &mut Command, limit: Duration) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let collect = |stream: Option<Box<dyn Read + Send>>| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        if let Some(mut stream) = stream {
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
        }
        buf
    };
    let out = collect(child.stdout.take().map(|s| Box::new(s) as _));
    let err = collect(child.stderr.take().map(|s| Box::new(s) as _));
    let text = |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().unwrap()).into_owned();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} ran longer than {limit:?}; killed\n--- stdout\n{}\n--- stderr\n{}",
                text(&out),
                text(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The pipes close when promwasm exits (its workers are stopped with it);
    // a straggler holding them must not hang the test.
    let drained = Instant::now() + Duration::from_secs(10);
    while (Arc::strong_count(&out) > 1 || Arc::strong_count(&err) > 1) && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(10));
    }
    Run {
        code: status.code().unwrap_or(-1),
        stdout: text(&out),
        stderr: text(&err),
        took: started.elapsed(),
    }
}

/// `promwasm` with the shared compile cache and MongoDB server folder, and
/// without the caller's `MONGO_URI`.
pub fn promwasm() -> Command {
    let mut cmd = Command::new(promwasm_bin());
    cmd.env(
        "PROMWASM_CACHE_DIR",
        std::env::var_os("PROMWASM_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("promwasm-e2e-cache")),
    )
    .env("PROMWASM_MONGO_BIN_DIR", mongo_bin_dir())
    .env_remove("MONGO_URI")
    .stdin(Stdio::null());
    cmd
}

/// A throwaway task-test project: `<tmp>/tests/{config.yaml,workers.json,.env,keys/}`.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// An empty project.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests/data")).unwrap();
        Project { dir }
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The tests folder (holds config.yaml).
    pub fn tests(&self) -> PathBuf {
        self.root().join("tests")
    }

    /// The default data folder, `tests/data`.
    pub fn data(&self) -> PathBuf {
        self.tests().join("data")
    }

    /// Write a file under the tests folder.
    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let path = self.tests().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    /// Make a keypair with `promwasm keygen`; returns its path relative to the project root.
    pub fn keypair(&self, name: &str) -> String {
        let rel = format!("tests/keys/{name}.json");
        let out = promwasm()
            .arg("keygen")
            .arg(self.root().join(&rel))
            .output()
            .unwrap();
        assert!(out.status.success(), "keygen failed: {out:?}");
        rel
    }

    /// Two orca-server workers (`worker1`, `worker2`) on free ports with keypairs,
    /// plus `extra_env` lines in tests/.env. Returns the workers' ports.
    pub fn with_orca_workers(&self, extra_env: &str) -> [u16; 2] {
        let ports = [free_port(), free_port()];
        let mut env = String::from(extra_env);
        let mut workers = serde_json::Map::new();
        for (i, port) in ports.iter().enumerate() {
            let name = format!("worker{}", i + 1);
            let upper = name.to_uppercase();
            env.push_str(&format!(
                "\n{upper}_STAKING={}\n{upper}_MAIN={}\n",
                self.keypair(&format!("{name}-staking")),
                self.keypair(&format!("{name}-main"))
            ));
            workers.insert(
                name.clone(),
                serde_json::json!({
                    "port": port,
                    "command": [orca_server_bin()],
                    "ready": {"http": "/healthz", "timeout": "20s"},
                    "env_vars": {"TASK_ID": "TASK_ID", "MONGO_DB": "MONGO_DB"},
                    "keypairs": {"staking": format!("{upper}_STAKING"), "main": format!("{upper}_MAIN")},
                }),
            );
        }
        // Tests that seed MongoDB use the database `e2e`.
        env.push_str("TASK_ID=test-task\nMONGO_DB=e2e\n");
        self.write(".env", &env);
        self.write(
            "workers.json",
            &format!(
                "// written by the test harness\n{}",
                serde_json::to_string_pretty(&Value::Object(workers)).unwrap()
            ),
        );
        ports
    }

    /// Write [`PY_WORKER`] at `rel` under the tests folder; returns its absolute path.
    pub fn py_worker(&self, rel: &str) -> PathBuf {
        self.write(rel, PY_WORKER);
        self.tests().join(rel)
    }

    /// workers.json with the given workers (any JSON object).
    pub fn workers(&self, workers: Value) -> &Self {
        self.write(
            "workers.json",
            &serde_json::to_string_pretty(&workers).unwrap(),
        )
    }

    /// config.yaml: `task_id: test-task` plus `body`; `{guests}`, `{orca}`,
    /// `{hostile}` and `{hostile_stages}` are replaced by the component paths
    /// (see [`with_guests`]).
    pub fn config(&self, body: &str) -> &Self {
        self.config_raw(&format!("task_id: test-task\n{body}"))
    }

    /// config.yaml exactly as `body` says (placeholders replaced as in [`with_guests`]).
    pub fn config_raw(&self, body: &str) -> &Self {
        self.write("config.yaml", &with_guests(body))
    }

    /// `promwasm <sub> tests/config.yaml`, to add arguments or env vars to.
    pub fn command(&self, sub: &str) -> Command {
        let mut cmd = promwasm();
        cmd.arg(sub).arg(self.tests().join("config.yaml"));
        cmd
    }

    /// Run `promwasm run tests/config.yaml --json tests/report.json` with extra arguments.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, |_| {})
    }

    /// [`Project::run`], letting `adjust` change the command first (env vars, …).
    pub fn run_with(&self, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Run {
        let json = self.tests().join("report.json");
        // A run that writes no report must not leave the last one's to be read.
        let _ = std::fs::remove_file(&json);
        let mut cmd = self.command("run");
        cmd.arg("--json").arg(&json).args(args);
        adjust(&mut cmd);
        run_command(&mut cmd, RUN_LIMIT)
    }

    /// `promwasm check tests/config.yaml`.
    pub fn check(&self) -> Run {
        run_command(&mut self.command("check"), RUN_LIMIT)
    }

    /// Spawn `promwasm run` without waiting (for signal tests).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command("run")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Start `promwasm run` with the JSON report, reading its output as it comes.
    pub fn start(&self, args: &[&str]) -> Live {
        let json = self.tests().join("report.json");
        let _ = std::fs::remove_file(&json);
        let mut cmd = self.command("run");
        cmd.arg("--json").arg(&json).args(args);
        Live::start(&mut cmd)
    }

    /// The JSON report of the last run (there must be one).
    pub fn report(&self) -> Value {
        read_json(&self.tests().join("report.json"))
    }

    /// The persisted state.
    pub fn state(&self) -> Value {
        read_json(&self.data().join("test_state.json"))
    }

    /// The latest run's directory, `data/runs/latest`.
    pub fn run_dir(&self) -> PathBuf {
        self.data().join("runs/latest")
    }

    /// `data/runs/latest/logs/<worker>.log`.
    pub fn worker_log(&self, worker: &str) -> String {
        let path = self.run_dir().join("logs").join(format!("{worker}.log"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }
}

/// A `promwasm` process in progress; its output is read line by line as it comes.
pub struct Live {
    child: Child,
    lines: std::sync::mpsc::Receiver<(bool, String)>,
    stdout: String,
    stderr: String,
    started: Instant,
}

impl Live {
    /// Spawn `cmd` with both streams read into one channel.
    pub fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for (is_err, stream) in [(false, out), (true, err)] {
            let tx = tx.clone();
            if let Some(stream) = stream {
                std::thread::spawn(move || {
                    use std::io::BufRead;
                    for line in std::io::BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        if tx.send((is_err, line)).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        Live {
            child,
            lines,
            stdout: String::new(),
            stderr: String::new(),
            started: Instant::now(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn take(&mut self, (is_err, line): (bool, String)) -> String {
        let text = if is_err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        text.push_str(&line);
        text.push('\n');
        line
    }

    /// Read output until a line contains `needle`; that line. Fails the test after `limit`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(item) => {
                    let line = self.take(item);
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "no line with {needle:?} within {limit:?} (or the process ended)\n--- stdout\n{}\n--- stderr\n{}",
                        self.stdout, self.stderr
                    );
                }
            }
        }
    }

    /// Wait for it to end (killing it and failing the test after `limit`); the whole run.
    pub fn finish(mut self, limit: Duration) -> Run {
        let deadline = Instant::now() + limit;
        let status = loop {
            while let Ok(item) = self.lines.try_recv() {
                self.take(item);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "still running after {limit:?}; killed\n--- stdout\n{}\n--- stderr\n{}",
                    self.stdout, self.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The rest of the output, until both streams close (bounded: a straggler may hold one).
        let drained = Instant::now() + Duration::from_secs(10);
        while let Ok(item) = self
            .lines
            .recv_timeout(drained.saturating_duration_since(Instant::now()))
        {
            self.take(item);
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
            took: self.started.elapsed(),
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A test that panicked half way leaves nothing running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `body` with `{guests}`, `{orca}`, `{hostile}` and `{hostile_stages}`
/// replaced by the guest component paths.
pub fn with_guests(body: &str) -> String {
    let mut body = body.to_string();
    for (placeholder, name) in [
        ("{guests}", "test_guests"),
        ("{orca}", "orca_steps"),
        ("{hostile}", "hostile_guests"),
        ("{hostile_stages}", "hostile_stages"),
    ] {
        if body.contains(placeholder) {
            body = body.replace(placeholder, &guest(name).to_string_lossy());
        }
    }
    body
}

/// Parse a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Outcomes of the report's steps as `(round, step, outcome)`.
pub fn outcomes(report: &Value) -> Vec<(u64, String, String)> {
    report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no steps: {report}"))
        .iter()
        .map(|s| {
            (
                s["round"].as_u64().unwrap(),
                s["step"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The report entry of `step` in `round`.
pub fn step_of<'a>(report: &'a Value, round: u64, step: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no steps: {report}"))
        .iter()
        .find(|s| s["round"] == round && s["step"] == step)
        .unwrap_or_else(|| panic!("no step {step} in round {round}: {report}"))
}

// ---------------------------------------------------------------------------
// Worker servers and stubs the tests control

/// A small worker server in python3 for tests that need to see what a worker
/// gets and control how it behaves. Settings are `key=value` arguments:
///
/// - `report=PATH`: once listening, write JSON `{env, argv, cwd, started,
///   listening, pid}` there (`started`/`listening` are its own Unix times);
/// - `sleep=SECS`: wait that long before listening;
/// - `unhealthy=SECS`: `/healthz` answers 503 until that long after start.
///
/// It prints `hello from <WORKER_NAME> on stdout`/`… on stderr` at start, and
/// `healthz <code>` for each health check. Routes: `/healthz`, `/env` (its
/// environment as JSON), `/redirect?to=URL` (302), `/write?value=V` (appends
/// a line to `$DATABASE_PATH`), `/read` (that file's text, empty if none),
/// `/big?n=N` (N bytes), `/mongo-insert?db=D&collection=C&value=V` (inserts
/// `{value: V}` with pymongo at `$MONGO_URI`; run it with [`venv_python`]).
pub const PY_WORKER: &str = r#"
import json, os, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

STARTED = time.time()
args = os.environ.get("PY_WORKER_OPTS", "").split() + sys.argv[1:]
opts = dict(a.split("=", 1) for a in args if "=" in a)
name = os.environ.get("WORKER_NAME", "?")
print(f"hello from {name} on stdout", flush=True)
print(f"hello from {name} on stderr", file=sys.stderr, flush=True)
time.sleep(float(opts.get("sleep", "0")))
unhealthy = float(opts.get("unhealthy", "0"))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="text/plain", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        db = os.environ.get("DATABASE_PATH", "")
        if url.path == "/healthz":
            code = 503 if time.time() - STARTED < unhealthy else 200
            print(f"healthz {code}", flush=True)
            return self.reply(code, "ok" if code == 200 else "starting")
        if url.path == "/env":
            return self.reply(200, json.dumps(dict(os.environ)), "application/json")
        if url.path == "/redirect":
            return self.reply(302, "", headers=[("Location", q["to"])])
        if url.path == "/write":
            with open(db, "a") as f:
                f.write(q["value"] + "\n")
            return self.reply(200, "written")
        if url.path == "/read":
            text = open(db).read() if os.path.exists(db) else ""
            return self.reply(200, text)
        if url.path == "/big":
            return self.reply(200, "x" * int(q["n"]))
        if url.path == "/mongo-insert":
            import pymongo
            client = pymongo.MongoClient(os.environ["MONGO_URI"])
            client[q["db"]][q["collection"]].insert_one({"value": q["value"]})
            return self.reply(200, "inserted")
        return self.reply(404, "no route " + url.path)


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
listening = time.time()
if "report" in opts:
    tmp = opts["report"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"env": dict(os.environ), "argv": sys.argv, "cwd": os.getcwd(),
                   "started": STARTED, "listening": listening, "pid": os.getpid()}, f)
    os.replace(tmp, opts["report"])
print(f"{name} listening on {os.environ['PORT']}", flush=True)
server.serve_forever()
"#;

/// A server a test runs itself (not a worker): it counts connections and
/// either answers every request or never answers at all.
pub struct Stub {
    /// Its port on 127.0.0.1.
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl Stub {
    /// Answers every request with `status` and `body`.
    pub fn answering(status: u16, body: &str) -> Self {
        let body = body.to_string();
        Self::start(move |mut stream| {
            read_request(&mut stream);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Stub\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        })
    }

    /// Accepts connections, reads the request, and never answers.
    pub fn silent() -> Self {
        let held = Arc::new(Mutex::new(Vec::new()));
        Self::start(move |mut stream| {
            read_request(&mut stream);
            // Keep it open, unanswered, for as long as the test runs.
            held.lock().unwrap().push(stream);
        })
    }

    fn start(handle: impl Fn(TcpStream) + Send + 'static) -> Self {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                handle(stream);
            }
        });
        Stub { port, hits }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// Connections so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Read an HTTP request's head (enough for test servers).
pub fn read_request(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
}

/// The processes whose command line contains `needle`, as `pid → command line`.
pub fn processes_mentioning(needle: &str) -> BTreeMap<u32, String> {
    let mut found = BTreeMap::new();
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        // A zombie has an empty command line: it is gone for our purposes.
        if line.contains(needle) {
            found.insert(pid, line.trim().to_string());
        }
    }
    found
}

/// Poll `cond` until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// MongoDB

/// A MongoDB-compatible server (SecantusDB from `.venv`) started by a test; killed on drop.
pub struct MongoServer {
    child: Child,
    /// `mongodb://127.0.0.1:PORT`.
    pub uri: String,
}

impl MongoServer {
    /// Start one on a free port with in-memory storage.
    pub fn start() -> Self {
        let bin = mongo_bin_dir().join("secantusd-py");
        assert!(
            bin.exists(),
            "{} not found: `cargo xtask setup` installs SecantusDB in .venv",
            bin.display()
        );
        let port = free_port();
        let child = Command::new(bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--storage-path",
                ":memory:",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(30), || port_open(port)),
            "secantusd-py did not listen on {port}"
        );
        MongoServer {
            child,
            uri: format!("mongodb://127.0.0.1:{port}"),
        }
    }

    /// A database handle (a fresh client each time; tests are short).
    pub async fn db(&self, name: &str) -> mongodb::Database {
        mongodb::Client::with_uri_str(&self.uri)
            .await
            .unwrap()
            .database(name)
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the example's config files name the guest components and the
/// server: `cargo xtask example`'s build under `<repo>/target`.
const EXAMPLE_GUESTS: &str = "../../../target/wasm32-wasip2/guest/";
const EXAMPLE_SERVER: &str = "../../../target/debug/orca-server";

/// Copy `from` into `to`, every file.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// examples/orca's `.env` and `tests/` in a temporary folder, without any
/// state or logs, whose `config*.yaml` and `workers.json` name the guests
/// and server cargo just built (`PROMWASM_GUEST_DIR`, `ORCA_SERVER_BIN`).
pub fn orca_example_copy() -> tempfile::TempDir {
    let example = repo_root().join("examples/orca");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example.join(".env"), dir.path().join(".env")).unwrap();
    let tests = dir.path().join("tests");
    copy_tree(&example.join("tests"), &tests);
    for state in [
        "data/test_state.json",
        "data/logs",
        "data/mongodb",
        "data/runs",
    ] {
        let path = tests.join(state);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir_all(&path);
    }
    let guests = format!("{}/", guest("orca_steps").parent().unwrap().display());
    let server = orca_server_bin().to_string_lossy().into_owned();
    for entry in std::fs::read_dir(&tests).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (from, to) = if name.starts_with("config") && name.ends_with(".yaml") {
            (EXAMPLE_GUESTS, &guests)
        } else if name == "workers.json" {
            (EXAMPLE_SERVER, &server)
        } else {
            continue;
        };
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            text.contains(from),
            "examples/orca/tests/{name} no longer names {from}"
        );
        std::fs::write(entry.path(), text.replace(from, to)).unwrap();
    }
    dir
}

/// What a passing run of the example task reports, whatever language its
/// stages are written in: three rounds of eight steps, each passed (the
/// round-3-only step skipped elsewhere), the audits found the other worker's
/// signed submission valid, and round 2 worked on the second seeded todo.
pub fn expect_orca_example_passed(report: &Value, output: &str) {
    let steps = outcomes(report);
    assert_eq!(
        report["max_rounds"],
        serde_json::json!(3),
        "three todos seeded, three rounds\n{output}"
    );
    assert_eq!(steps.len(), 3 * 8, "{output}");
    for (round, step, outcome) in &steps {
        let expected = if step == "last-round-only" && *round != 3 {
            "skipped"
        } else {
            "passed"
        };
        assert_eq!(outcome, expected, "round {round} {step}\n{output}");
    }
    for s in report["steps"].as_array().unwrap() {
        if s["step"].as_str().unwrap().contains("audits") {
            assert_eq!(s["detail"]["valid"], serde_json::json!(true), "{s}");
        }
    }
    let task = step_of(report, 2, "worker1-task");
    assert_eq!(
        task["detail"]["todo"],
        serde_json::json!("Add a health endpoint"),
        "{task}"
    );
}

/// `promwasm run <dir>/tests/<config> --reset --json <dir>/<config>.report.json`
/// in an example copy: the run, and its report (`null` when none was written).
pub fn run_example(dir: &Path, config: &str) -> (Run, Value) {
    let report = dir.join(format!("{config}.report.json"));
    let run = run_command(
        promwasm()
            .arg("run")
            .arg(dir.join("tests").join(config))
            .arg("--reset")
            .arg("--json")
            .arg(&report),
        RUN_LIMIT,
    );
    let report = if report.exists() {
        read_json(&report)
    } else {
        Value::Null
    };
    (run, report)
}

/// Move an example copy's `configs` from the example's `base_port: 5710` to
/// free ports: tests of one binary run at once, and another run of the
/// example on this machine may hold 5710 and 5711.
pub fn example_on_free_ports(dir: &Path, configs: &[&str]) {
    let base = free_ports(2);
    for config in configs {
        let path = dir.join("tests").join(config);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("base_port: 5710"),
            "{config} no longer has base_port: 5710"
        );
        std::fs::write(
            &path,
            text.replace("base_port: 5710", &format!("base_port: {base}")),
        )
        .unwrap();
    }
}

/// Each step of a report as `(round, step, outcome, detail)`, without
/// MongoDB's `_id`s (each run seeds afresh): what two runs of the example in
/// different languages must agree on.
pub fn example_results(report: &Value) -> Vec<(u64, String, String, Value)> {
    fn without_ids(v: &Value) -> Value {
        match v {
            Value::Object(m) => m
                .iter()
                .filter(|(k, _)| *k != "_id")
                .map(|(k, v)| (k.clone(), without_ids(v)))
                .collect(),
            Value::Array(a) => a.iter().map(without_ids).collect(),
            v => v.clone(),
        }
    }
    // outcomes() checked there is a list of steps.
    let steps = report["steps"].as_array().into_iter().flatten();
    outcomes(report)
        .into_iter()
        .zip(steps)
        .map(|((round, step, outcome), s)| (round, step, outcome, without_ids(&s["detail"])))
        .collect()
}

/// `promwasm inspect MODULE`'s output (it must succeed).
pub fn inspect(module: &Path) -> String {
    let out = promwasm().arg("inspect").arg(module).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The `stages:` section of `inspect`'s output, as (name, description) in order.
pub fn inspected_stages(inspect: &str) -> Vec<(String, String)> {
    inspect
        .lines()
        .skip_while(|l| !l.starts_with("stages:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let (name, description) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            (name.to_string(), description.trim().to_string())
        })
        .collect()
}

/// The sha256 `promwasm inspect` prints for `module`.
pub fn inspected_sha256(module: &Path) -> String {
    inspect(module)
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .expect("inspect prints the sha256")
        .trim()
        .to_string()
}

#[cfg(test)]
mod port_tests {
    use super::*;

    #[test]
    fn a_port_in_time_wait_is_not_handed_out() {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // The server closes first: its side of the connection waits in TIME_WAIT.
        drop(listener.accept().unwrap().0);
        drop(listener);
        std::thread::sleep(Duration::from_millis(100));
        drop(client);
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "SO_REUSEADDR binds over TIME_WAIT"
        );
        assert!(
            !bindable(port),
            "a plain bind (Python's) would fail on port {port}"
        );
    }
}
