//! `cargo xtask bench workers [N] [--runs R]`: N workers (default 200)
//! started to ready by promwasm, against the floor of a plain script that
//! starts the same servers.
//!
//! The server is a small Python HTTP server (a plain socket answering each
//! request with 200) listening on `$PORT`, run by the interpreter `python3`
//! resolves to (`sys.executable`, so a version manager's shim in front of it
//! does not add its own start-up to every server) with `-S` (no `site`: the
//! server needs only the standard library). Kept small on purpose: the less
//! each server costs to start, the more promwasm's own cost shows.
//!
//! - floor: a plain shell script starts the N servers in parallel
//!   (`PORT=… python3 server.py &` in a loop, output to /dev/null) while this
//!   program polls each port until it accepts a TCP connection; the time from
//!   starting the script until the last port accepts.
//! - promwasm: a real `promwasm run --reset` (release build) of a config with
//!   the same N servers as workers (TCP readiness, the default) and one trivial
//!   step; the time from spawning `promwasm run` until its first step's line
//!   appears on its stdout. The step starts only once every worker is ready,
//!   so this covers everything promwasm does before the workers are usable:
//!   its own start, validating the config, loading the step's component from
//!   the compile cache (warmed by an untimed first run), checking the ports,
//!   spawning, output pumps, log files and readiness probes. Stopping the
//!   workers is left out on both sides; the whole run's wall time is shown
//!   too.
//!
//! Runs alternate floor and promwasm, R times each (default 3), and compare
//! the medians; the target is a ratio of at most 1.2.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// promwasm may take this much longer than the floor.
const TARGET: f64 = 1.2;
/// Ports are taken from here up, below the usual ephemeral range (32768+),
/// so no outgoing connection lands on one during the bench.
const PORTS_FROM: u16 = 21_000;
const PORTS_TO: u16 = 32_000;
/// Give up on one measurement after this long.
const LIMIT: Duration = Duration::from_secs(120);

/// A small HTTP server, as a task's worker is; says when it listens.
const SERVER: &str = r#"
import os, socket

port = int(os.environ["PORT"])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(64)
print("listening on", port, flush=True)
while True:
    conn, _ = server.accept()
    try:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        pass
    conn.close()
"#;

/// The floor's script: every server at once, in the background.
const FLOOR: &str = r#"python="$1"; server="$2"; shift 2
for port in "$@"; do
    PORT=$port "$python" -S "$server" >/dev/null 2>&1 &
done
wait
"#;

/// Run it.
pub fn run(args: &[String]) -> crate::Result {
    let opts = Options::parse(args)?;
    crate::run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    let guests = crate::cargo_artifacts(crate::cargo().args([
        "build",
        "--profile",
        "guest",
        "--target",
        "wasm32-wasip2",
        "-p",
        "test-guests",
    ]))?;
    let module = guests.wasm("test_guests")?;
    let built =
        crate::cargo_artifacts(crate::cargo().args(["build", "--release", "-p", "promwasm"]))?;
    let promwasm = built.binary("promwasm")?;

    let python = python()?;
    let dir = std::env::temp_dir().join(format!("promwasm-bench-workers-{}", std::process::id()));
    let result = measure(&opts, &dir, &promwasm, &module, &python);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

struct Options {
    workers: usize,
    runs: usize,
}

impl Options {
    fn parse(args: &[String]) -> crate::Result<Options> {
        let mut opts = Options {
            workers: 200,
            runs: 3,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let number = |what: &str, v: Option<&String>| {
                v.and_then(|v| v.parse::<usize>().ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("{what} takes a positive number"))
            };
            match arg.as_str() {
                "--runs" => opts.runs = number("--runs", it.next())?,
                n => opts.workers = number("N (workers)", Some(&n.to_string()))?,
            }
        }
        Ok(opts)
    }
}

/// The interpreter behind `python3`.
fn python() -> crate::Result<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || path.is_empty() {
        return Err("python3 does not say where its interpreter is".into());
    }
    Ok(PathBuf::from(path))
}

fn measure(
    opts: &Options,
    dir: &Path,
    promwasm: &Path,
    module: &Path,
    python: &Path,
) -> crate::Result {
    let n = opts.workers;
    let ports = free_ports(n)?;
    let project = Project::write(dir, &ports, module, python)?;
    println!(
        "\n{n} workers started to ready ({} -S, a socket server on 127.0.0.1; TCP readiness)",
        python.display()
    );
    // Untimed: compiles the step's component into the cache, and warms the
    // page cache for python3 and promwasm alike.
    project.promwasm(promwasm)?;
    let (mut floors, mut ready, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=opts.runs {
        let f = floor(python, &project.server, &ports)?;
        settle(&ports)?;
        let p = project.promwasm(promwasm)?;
        settle(&ports)?;
        println!(
            "  run {run}: floor {:.3} s · promwasm to ready {:.3} s (its own CPU {:.3} s; whole run {:.3} s)",
            f.as_secs_f64(),
            p.ready.as_secs_f64(),
            p.cpu.as_secs_f64(),
            p.whole.as_secs_f64()
        );
        floors.push(f);
        ready.push(p.ready);
        whole.push(p.whole);
    }
    let (floor, ready, whole) = (median(floors), median(ready), median(whole));
    let ratio = ready.as_secs_f64() / floor.as_secs_f64();
    println!("median of {} runs:", opts.runs);
    println!(
        "  floor (plain spawn + TCP poll)   {:>7.3} s",
        floor.as_secs_f64()
    );
    println!(
        "  promwasm, started to ready       {:>7.3} s",
        ready.as_secs_f64()
    );
    println!(
        "  promwasm, whole run (1 step)     {:>7.3} s",
        whole.as_secs_f64()
    );
    println!(
        "  ratio {ratio:.2}x: target of {TARGET}x {}",
        if ratio <= TARGET { "met" } else { "NOT met" }
    );
    Ok(())
}

/// The bench's task test: a server script, N workers, one trivial step.
struct Project {
    server: PathBuf,
    config: PathBuf,
    workers: usize,
}

impl Project {
    fn write(dir: &Path, ports: &[u16], module: &Path, python: &Path) -> crate::Result<Project> {
        let tests = dir.join("tests");
        std::fs::create_dir_all(&tests).map_err(crate::io(&tests))?;
        let server = tests.join("server.py");
        std::fs::write(&server, SERVER).map_err(crate::io(&server))?;
        let workers: serde_json::Map<String, serde_json::Value> = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let w = serde_json::json!({ "port": port, "command": [python, "-S", server] });
                (format!("w{i}"), w)
            })
            .collect();
        let workers_file = tests.join("workers.json");
        std::fs::write(
            &workers_file,
            serde_json::Value::Object(workers).to_string(),
        )
        .map_err(crate::io(&workers_file))?;
        let config = tests.join("config.yaml");
        let yaml = format!(
            "task_id: bench\nmax_rounds: 1\nsteps:\n  - name: first\n    worker: w0\n    module: {}\n    stage: echo\n",
            module.display()
        );
        std::fs::write(&config, yaml).map_err(crate::io(&config))?;
        Ok(Project {
            server,
            config,
            workers: ports.len(),
        })
    }

    /// One `promwasm run --reset`, timed.
    fn promwasm(&self, promwasm: &Path) -> crate::Result<Timed> {
        let cache = crate::root().join("target/promwasm-cache");
        let started = Instant::now();
        let mut child = Command::new(promwasm)
            .arg("run")
            .arg(&self.config)
            .arg("--reset")
            .env("PROMWASM_CACHE_DIR", cache)
            .env_remove("MONGO_URI")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", promwasm.display()))?;
        let stdout = child.stdout.take().ok_or("stdout is piped")?;
        let mut ready = None;
        let mut started_workers = 0;
        let mut lines = Vec::new();
        // Read to the end: the step's line marks ready, the rest is kept for errors.
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading promwasm's output: {e}"))?;
            if line.starts_with("started worker ") {
                started_workers += 1;
            }
            if ready.is_none() && line.contains("(echo on w0)") {
                ready = Some((started.elapsed(), own_cpu(child.id())));
            }
            if started.elapsed() > LIMIT {
                let _ = child.kill();
                return Err(format!("promwasm ran longer than {LIMIT:?}"));
            }
            lines.push(line);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for promwasm: {e}"))?;
        let whole = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail = |lines: &[String]| lines[lines.len().saturating_sub(20)..].join("\n");
        if !out.status.success() {
            return Err(format!(
                "promwasm run failed ({}):\n{}\n{stderr}",
                out.status,
                tail(&lines)
            ));
        }
        let (ready, cpu) =
            ready.ok_or_else(|| format!("no step line in promwasm's output:\n{}", tail(&lines)))?;
        if started_workers != self.workers {
            return Err(format!(
                "promwasm started {started_workers} workers, not {}",
                self.workers
            ));
        }
        Ok(Timed { ready, cpu, whole })
    }
}

/// One promwasm run: until its first step started, and in all.
struct Timed {
    ready: Duration,
    /// promwasm's own CPU time (user + system, not its workers') until ready.
    cpu: Duration,
    whole: Duration,
}

/// CPU time `pid` itself used so far (Linux reports it in 1/100 s).
fn own_cpu(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat.rsplit_once(')')?.1.to_string();
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse().ok())
                .collect();
            Some(fields.iter().sum::<u64>())
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Start the servers with a plain script, and wait until each accepts.
fn floor(python: &Path, server: &Path, ports: &[u16]) -> crate::Result<Duration> {
    let started = Instant::now();
    let mut script = Command::new("sh")
        .arg("-c")
        .arg(FLOOR)
        .arg("floor")
        .arg(python)
        .arg(server)
        .args(ports.iter().map(u16::to_string))
        .stdin(Stdio::null())
        // Its own group, so one signal stops the script and every server.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let mut pending: Vec<u16> = ports.to_vec();
    let waited = loop {
        pending.retain(|&port| !accepts(port));
        if pending.is_empty() {
            break Ok(started.elapsed());
        }
        if started.elapsed() > LIMIT {
            break Err(format!(
                "{} servers did not listen within {LIMIT:?}",
                pending.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", script.id())])
        .status();
    let _ = script.wait();
    waited
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

/// Wait until every port is free again (the last run's servers are gone).
fn settle(ports: &[u16]) -> crate::Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ports
        .iter()
        .any(|&p| TcpListener::bind(("127.0.0.1", p)).is_err())
    {
        if Instant::now() > deadline {
            return Err("the bench's ports stayed in use after a run".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the machine go quiet: the last run's processes are still being reaped.
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

/// `n` ports nobody listens on, from a pid-derived place in the range.
fn free_ports(n: usize) -> crate::Result<Vec<u16>> {
    let span = usize::from(PORTS_TO - PORTS_FROM);
    let start = std::process::id() as usize % span;
    let ports: Vec<u16> = (0..span)
        .map(|i| PORTS_FROM + ((start + i) % span) as u16)
        .filter(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .take(n)
        .collect();
    if ports.len() < n {
        return Err(format!(
            "only {} free ports in {PORTS_FROM}-{PORTS_TO}",
            ports.len()
        ));
    }
    Ok(ports)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
