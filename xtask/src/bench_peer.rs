//! `cargo xtask bench peer`: the same scenario run by promwasm and by
//! prometheus-test 0.1.10, side by side, on the same worker servers, beside
//! the floor: a plain script doing only what any runner must.
//!
//! The scenario (`bench/peer/README.md` has it whole): 3 workers running
//! `bench/peer/server.py`, which verifies every signed payload with PyNaCl;
//! 3 rounds × 3 steps (worker1's task, worker1's submission, worker2's audit
//! of it). promwasm runs `bench/peer/steps` (a Rust component);
//! prometheus-test runs `bench/peer/prometheus/steps.py`, the same requests
//! and signatures in Python; `bench/peer/floor.py` is the floor.
//!
//! One invocation measures, and prints with the ratios and targets:
//! - the whole run, wall time from spawn to exit (promwasm, prometheus-test,
//!   the floor);
//! - N workers (3, 50) started to ready: from spawn until the first step
//!   starts (its `ready` stage reads the wall clock), or until the floor has
//!   heard every worker answer;
//! - 10 000 `runner.set` calls inside one step (the step times its loop).
//!
//! promwasm and the floor run `--runs` times (default 9), interleaved; the
//! verdicts compare medians, and the ratios of the best runs show what an
//! idle machine gives. prometheus-test runs once per scenario: its time is
//! dominated by its fixed 3 s sleep per worker.
//!
//! prometheus-test and its two unrequired imports (PyNaCl, base58) are
//! installed, pinned by `bench/peer/requirements.txt`, into `.tools/peer/`,
//! whose Python runs the worker servers for all three. It needs no MongoDB
//! here: with no collections and `max_rounds` set, it never sends a command
//! (pymongo connects lazily).

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::{cargo, cargo_artifacts, io, root};

/// The task id every payload carries (the servers check it).
pub(crate) const TASK_ID: &str = "peer-bench";
/// Workers of the whole run and of the first readiness figure.
const FEW: usize = 3;
/// Workers of the second readiness figure.
const MANY: usize = 50;

/// Targets from the issue.
const WHOLE_VS_PEER: f64 = 40.0;
const WHOLE_VS_FLOOR: f64 = 1.3;
const MANY_VS_PEER: f64 = 50.0;
const SETS_VS_PEER: f64 = 100.0;

/// Run it: `cargo xtask bench peer [--runs N]`.
pub fn run(args: &[String]) -> crate::Result {
    let runs = match args {
        [] => 9,
        [flag, n] if flag == "--runs" => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("--runs takes a positive number, not `{n}`"))?,
        _ => return Err("usage: cargo xtask bench peer [--runs N]".into()),
    };
    Bench::build()?.measure(runs)
}

impl Bench {
    /// Build what the benches run (release promwasm, the steps component,
    /// the venv) and write the project into `target/bench-peer`.
    pub(crate) fn build() -> crate::Result<Bench> {
        crate::run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
        let python = venv()?;
        let promwasm = cargo_artifacts(cargo().args(["build", "--release", "-p", "promwasm"]))?
            .binary("promwasm")?;
        let steps = cargo_artifacts(cargo().args([
            "build",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "-p",
            "peer-steps",
        ]))?
        .wasm("peer_steps")?;
        let target = promwasm
            .ancestors()
            .nth(2)
            .map_or_else(|| root().join("target"), Path::to_path_buf);
        Bench::prepare(&target.join("bench-peer"), python, promwasm, &steps)
    }
}

/// `.tools/peer`: a venv with `bench/peer/requirements.txt`, made once (again
/// when the requirements change). Its Python.
pub(crate) fn venv() -> crate::Result<PathBuf> {
    let venv = root().join(".tools/peer");
    let wanted = root().join("bench/peer/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let python = venv.join("bin/python");
    let text = std::fs::read_to_string(&wanted).map_err(io(&wanted))?;
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&text) {
        return Ok(python);
    }
    crate::run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    crate::run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&wanted),
    )?;
    std::fs::write(&stamp, text).map_err(io(&stamp))?;
    Ok(python)
}

/// What the runs use: the generated project and the programs.
pub(crate) struct Bench {
    /// The project root (`tests/` holds the configs, `.env`, keys).
    pub(crate) project: PathBuf,
    pub(crate) python: PathBuf,
    promwasm: PathBuf,
    /// The steps component, as a YAML (JSON) string.
    pub(crate) module: String,
    /// `PATH` with the venv first: promwasm runs `server_entrypoint` with
    /// `python3`, which must be the venv's, as for the others.
    path: OsString,
    cache: PathBuf,
    pub(crate) base_port: u16,
}

/// One scenario: its steps, rounds and workers.
struct Scenario {
    name: &'static str,
    workers: usize,
    rounds: u32,
    /// promwasm's steps: the inside of each YAML flow mapping, but the module.
    steps: &'static [&'static str],
}

const ORCA: Scenario = Scenario {
    name: "orca",
    workers: FEW,
    rounds: 3,
    steps: &[
        "name: worker1-task, worker: worker1, stage: task",
        "name: worker1-submission, worker: worker1, stage: submission",
        "name: worker2-audits-worker1, worker: worker2, stage: audit, args: { target: worker1 }",
    ],
};
const READY_SETS: Scenario = Scenario {
    name: "ready-sets",
    workers: FEW,
    rounds: 1,
    steps: &[
        "name: ready, worker: worker1, stage: ready",
        "name: sets, worker: worker1, stage: sets, args: { count: 10000 }",
    ],
};
const READY_MANY: Scenario = Scenario {
    name: "ready",
    workers: MANY,
    rounds: 1,
    steps: &["name: ready, worker: worker1, stage: ready"],
};

impl Bench {
    /// Write the project under `dir`: keys (once), `.env`, workers.json for
    /// 3 and 50 workers, and each scenario's config for both runners.
    fn prepare(
        dir: &Path,
        python: PathBuf,
        promwasm: PathBuf,
        steps: &Path,
    ) -> crate::Result<Self> {
        let tests = dir.join("tests");
        let keys = tests.join("keys");
        for d in [
            &keys,
            &tests.join("data-promwasm"),
            &tests.join("data-prometheus"),
        ] {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        let mut env = format!("TASK_ID={TASK_ID}\n");
        for i in 1..=MANY {
            let key = keys.join(format!("worker{i}.json"));
            if !key.exists() {
                let out = Command::new(&promwasm)
                    .arg("keygen")
                    .arg(&key)
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", promwasm.display()))?;
                if !out.status.success() {
                    return Err(format!(
                        "promwasm keygen: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            env += &format!("WORKER{i}_STAKING_KEYPAIR=tests/keys/worker{i}.json\n");
        }
        write(&tests.join(".env"), &env)?;
        let server = root().join("bench/peer/server.py");
        for n in [FEW, MANY] {
            let workers: serde_json::Map<String, Value> = (1..=n)
                .map(|i| {
                    let worker = json!({
                        "server_entrypoint": server,
                        "env_vars": { "TASK_ID": "TASK_ID" },
                        "keypairs": { "staking": format!("WORKER{i}_STAKING_KEYPAIR") },
                        // promwasm's; prometheus-test keeps it as a field.
                        "ready": { "http": "/healthz", "timeout": "120s" },
                    });
                    (format!("worker{i}"), worker)
                })
                .collect();
            let text = serde_json::to_string_pretty(&workers).map_err(|e| e.to_string())?;
            write(&tests.join(format!("workers-{n}.json")), &text)?;
        }
        let base_port = free_ports(MANY)?;
        let module = serde_json::to_string(steps).map_err(|e| e.to_string())?;
        for s in [&ORCA, &READY_SETS, &READY_MANY] {
            let common = format!(
                "task_id: {TASK_ID}\nbase_port: {base_port}\nmax_rounds: {}\nworkers_config: workers-{}.json\n",
                s.rounds, s.workers
            );
            let prometheus = format!("{common}data_dir: data-prometheus\n");
            write(
                &tests.join(format!("prometheus-{}.yaml", s.name)),
                &prometheus,
            )?;
            let mut promwasm =
                format!("{common}data_dir: data-promwasm\ndefaults: {{ timeout: 60s }}\nsteps:\n");
            for step in s.steps {
                promwasm += &format!("  - {{ {step}, module: {module} }}\n");
            }
            write(&tests.join(format!("promwasm-{}.yaml", s.name)), &promwasm)?;
        }
        let mut path = OsString::from(python.parent().ok_or("the venv's python in no folder")?);
        if let Some(rest) = std::env::var_os("PATH") {
            path.push(":");
            path.push(rest);
        }
        Ok(Bench {
            project: dir.to_path_buf(),
            python,
            promwasm,
            module,
            path,
            cache: dir.join("cache"),
            base_port,
        })
    }

    fn measure(&self, runs: usize) -> crate::Result {
        let load_before = load_average();
        // Compile the component into the cache and warm the file cache:
        // every later run loads the compiled copy, as users' runs do.
        self.promwasm(&ORCA, false)?;
        self.floor("orca", FEW)?;

        eprintln!("bench peer: promwasm and the floor, {runs} runs each, interleaved");
        let (mut pw_whole, mut floor_whole) = (Vec::new(), Vec::new());
        let (mut pw_few, mut pw_many, mut pw_sets) = (Vec::new(), Vec::new(), Vec::new());
        let (mut floor_few, mut floor_many) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            pw_whole.push(self.promwasm(&ORCA, false)?.0);
            floor_whole.push(self.floor("orca", FEW)?.0);
            let (_, report) = self.promwasm(&READY_SETS, true)?;
            pw_few.push(report.ready.ok_or("promwasm's ready step gave no time")?);
            pw_sets.push(report.sets.ok_or("promwasm's sets step gave no time")?);
            floor_few.push(self.floor("ready", FEW)?.1);
            let (_, report) = self.promwasm(&READY_MANY, true)?;
            pw_many.push(report.ready.ok_or("promwasm's ready step gave no time")?);
            floor_many.push(self.floor("ready", MANY)?.1);
        }
        eprintln!("bench peer: prometheus-test, once per scenario (about 4 minutes: it sleeps 3 s per worker)");
        let pt_whole = self.prometheus(&ORCA)?.0;
        let (_, pt_few) = self.prometheus(&READY_SETS)?;
        let (_, pt_many) = self.prometheus(&READY_MANY)?;
        let missing = "prometheus-test's ready step printed no READY_AT";
        let (pt_few_ready, pt_many_ready) =
            (pt_few.ready.ok_or(missing)?, pt_many.ready.ok_or(missing)?);
        let load_after = load_average();

        let [pw_whole, floor_whole, pw_few, floor_few, pw_many, floor_many, pw_sets] = [
            pw_whole,
            floor_whole,
            pw_few,
            floor_few,
            pw_many,
            floor_many,
            pw_sets,
        ]
        .map(Stats::of);
        println!();
        println!(
            "bench peer: promwasm (release) vs prometheus-test 0.1.10, same servers (bench/peer/server.py, {})",
            python_version(&self.python)
        );
        println!(
            "promwasm and the floor: median of {runs} runs (min–max); prometheus-test: one run"
        );
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("load average before {load_before}, after {load_after} ({cores} cores)");
        let busiest = [&load_before, &load_after]
            .iter()
            .filter_map(|l| l.parse::<f64>().ok())
            .fold(0.0, f64::max);
        if busiest > cores as f64 {
            println!(
                "warning: other processes kept the machine busy: the servers' start-up, and so every figure, is slower than on an idle machine"
            );
        }
        println!();
        println!(
            "{:<34} {:>15} {:>24} {:>22}",
            "", "prometheus-test", "promwasm", "floor"
        );
        let row = |what: &str, pt: Option<f64>, pw: &Stats, floor: Option<&Stats>| {
            println!(
                "{what:<34} {:>15} {:>24} {:>22}",
                pt.map_or("—".into(), secs),
                pw.show(),
                floor.map_or("—".into(), Stats::show),
            )
        };
        row(
            "whole run (3 workers, 3 × 3 steps)",
            Some(pt_whole),
            &pw_whole,
            Some(&floor_whole),
        );
        row(
            "3 workers started to ready",
            Some(pt_few_ready),
            &pw_few,
            Some(&floor_few),
        );
        row(
            "50 workers started to ready",
            Some(pt_many_ready),
            &pw_many,
            Some(&floor_many),
        );
        let pt_sets = pt_few
            .sets
            .ok_or("prometheus-test's sets step gave no time")?;
        row(
            "10 000 runner.set in one step",
            Some(pt_sets),
            &pw_sets,
            None,
        );

        println!();
        // Each ratio from the medians (the verdict) and from the best runs
        // (what the machine gives when nothing else runs).
        let vs_peer = |pt: f64, pw: &Stats| (pt / pw.median, pt / pw.min);
        let vs_floor = |pw: &Stats, floor: &Stats| (pw.median / floor.median, pw.min / floor.min);
        let checks = [
            (
                "whole run, prometheus-test / promwasm",
                vs_peer(pt_whole, &pw_whole),
                Target::AtLeast(WHOLE_VS_PEER),
            ),
            (
                "whole run, promwasm / floor",
                vs_floor(&pw_whole, &floor_whole),
                Target::AtMost(WHOLE_VS_FLOOR),
            ),
            (
                "3 workers to ready, prometheus-test / promwasm",
                vs_peer(pt_few_ready, &pw_few),
                Target::None,
            ),
            (
                "50 workers to ready, prometheus-test / promwasm",
                vs_peer(pt_many_ready, &pw_many),
                Target::AtLeast(MANY_VS_PEER),
            ),
            (
                "10 000 sets, prometheus-test / promwasm",
                vs_peer(pt_sets, &pw_sets),
                Target::AtLeast(SETS_VS_PEER),
            ),
            (
                "3 workers to ready, promwasm / floor",
                vs_floor(&pw_few, &floor_few),
                Target::None,
            ),
            (
                "50 workers to ready, promwasm / floor",
                vs_floor(&pw_many, &floor_many),
                Target::None,
            ),
            // The most any runner of these servers could reach.
            (
                "whole run, prometheus-test / floor",
                vs_peer(pt_whole, &floor_whole),
                Target::None,
            ),
            (
                "50 workers to ready, prometheus-test / floor",
                vs_peer(pt_many_ready, &floor_many),
                Target::None,
            ),
        ];
        println!("{:<48} {:>10} {:>10}", "ratio", "median", "best runs");
        let mut missed = 0;
        for (what, (ratio, best), target) in checks {
            let verdict = match target {
                Target::AtLeast(t) if ratio >= t => format!("target ≥ {t}×: met"),
                Target::AtLeast(t) => format!("target ≥ {t}×: NOT MET"),
                Target::AtMost(t) if ratio <= t => format!("target ≤ {t}×: met"),
                Target::AtMost(t) => format!("target ≤ {t}×: NOT MET"),
                Target::None => String::new(),
            };
            missed += usize::from(verdict.ends_with("NOT MET"));
            println!("{what:<48} {ratio:>9.2}× {best:>9.2}×   {verdict}");
        }
        println!();
        println!(
            "promwasm over the floor, whole run: {:+.0} ms (median)",
            (pw_whole.median - floor_whole.median) * 1e3
        );
        if missed > 0 {
            return Err(format!("{missed} target(s) not met"));
        }
        Ok(())
    }

    /// `promwasm run --reset` of `config` (under `tests/`) with `workers`
    /// workers; its wall time and JSON report.
    pub(crate) fn promwasm_report(
        &self,
        config: &str,
        workers: usize,
    ) -> crate::Result<(f64, Value)> {
        let json = self.project.join("report.json");
        let mut cmd = Command::new(&self.promwasm);
        cmd.arg("run")
            .arg(self.project.join("tests").join(config))
            .arg("--reset")
            .arg("--json")
            .arg(&json);
        let (wall, _, _) = self.timed(&mut cmd, workers, &format!("promwasm ({config})"))?;
        let text = std::fs::read_to_string(&json).map_err(io(&json))?;
        let doc = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
        Ok((wall, doc))
    }

    /// `promwasm run` of a scenario, `--reset`; wall time, and with `report`
    /// the times its `ready` and `sets` steps gave.
    fn promwasm(&self, s: &Scenario, report: bool) -> crate::Result<(f64, Times)> {
        let config = self.project.join(format!("tests/promwasm-{}.yaml", s.name));
        let json = self.project.join("report.json");
        let mut cmd = Command::new(&self.promwasm);
        cmd.arg("run").arg(&config).arg("--reset");
        if report {
            cmd.arg("--json").arg(&json);
        }
        let (wall, start, _) =
            self.timed(&mut cmd, s.workers, &format!("promwasm ({})", s.name))?;
        if !report {
            return Ok((wall, Times::default()));
        }
        let text = std::fs::read_to_string(&json).map_err(io(&json))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
        let detail = |step: &str| {
            doc["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["step"] == step)
                .map(|s| s["detail"].clone())
        };
        let ready = detail("ready").and_then(|d| d["ready_at"].as_f64());
        let sets = detail("sets").and_then(|d| d["seconds"].as_f64());
        Ok((
            wall,
            Times {
                ready: ready.map(|at| at - start),
                sets,
            },
        ))
    }

    /// prometheus-test's `e2e.py` on a scenario, `--reset`.
    fn prometheus(&self, s: &Scenario) -> crate::Result<(f64, Times)> {
        let config = self
            .project
            .join(format!("tests/prometheus-{}.yaml", s.name));
        let mut cmd = Command::new(&self.python);
        cmd.arg(root().join("bench/peer/prometheus/e2e.py"))
            .arg(&config)
            .arg(s.name)
            .arg("--reset");
        let (wall, start, out) = self.timed(
            &mut cmd,
            s.workers,
            &format!("prometheus-test ({})", s.name),
        )?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ready = marker(&stdout, "READY_AT").map(|at| at - start);
        let sets = marker(&stdout, "SETS_SECONDS");
        Ok((wall, Times { ready, sets }))
    }

    /// `floor.py` with `n` workers: `orca` (wall time) or `ready` (spawn to
    /// every worker answering).
    fn floor(&self, mode: &str, n: usize) -> crate::Result<(f64, f64)> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(root().join("bench/peer/floor.py"))
            .arg(mode)
            .arg(root().join("bench/peer/server.py"))
            .arg(self.base_port.to_string())
            .arg(TASK_ID)
            .args((1..=n).map(|i| format!("tests/keys/worker{i}.json")));
        let (wall, start, out) =
            self.timed(&mut cmd, n, &format!("the floor ({mode}, {n} workers)"))?;
        let ready = marker(&String::from_utf8_lossy(&out.stdout), "READY_AT");
        Ok((wall, ready.map_or(f64::NAN, |at| at - start)))
    }

    /// Run `cmd` in the project, once `workers` ports are free; its wall
    /// time, the wall-clock second it was spawned at, and its output.
    fn timed(
        &self,
        cmd: &mut Command,
        workers: usize,
        what: &str,
    ) -> crate::Result<(f64, f64, Output)> {
        wait_ports_free(self.base_port, workers)?;
        cmd.current_dir(&self.project)
            .env("PATH", &self.path)
            .env("PROMWASM_CACHE_DIR", &self.cache)
            .env_remove("MONGO_URI");
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?;
        let clock = Instant::now();
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        let wall = clock.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "{what} failed ({}):\n{}{}",
                out.status,
                tail(&out.stdout),
                tail(&out.stderr)
            ));
        }
        Ok((wall, start.as_secs_f64(), out))
    }
}

/// What a run's steps measured, in seconds: from spawn to the `ready` step,
/// and the `sets` loop.
#[derive(Default)]
struct Times {
    ready: Option<f64>,
    sets: Option<f64>,
}

enum Target {
    AtLeast(f64),
    AtMost(f64),
    None,
}

/// Median, min and max of some runs, in seconds.
pub(crate) struct Stats {
    pub(crate) median: f64,
    pub(crate) min: f64,
    max: f64,
}

impl Stats {
    pub(crate) fn of(mut xs: Vec<f64>) -> Stats {
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Stats {
            median,
            min: xs[0],
            max: xs[n - 1],
        }
    }

    pub(crate) fn show(&self) -> String {
        format!(
            "{} ({}–{})",
            secs(self.median),
            secs(self.min),
            secs(self.max)
        )
    }
}

/// Seconds, to three significant-ish digits.
fn secs(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 0.1 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

/// The number after `NAME ` on a line of `text`.
fn marker(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

/// A base port with `n` free ports from it, on 127.0.0.1: between 10000
/// and 20000, below the ephemeral range (32768 up) so that no outgoing
/// connection takes one meanwhile, and apart from `bench workers`' ports.
fn free_ports(n: usize) -> crate::Result<u16> {
    let seed = std::process::id() as usize;
    for i in 0..100 {
        let base = 10_000 + ((seed + i * 37) % 100) * 100;
        let base = u16::try_from(base).map_err(|e| e.to_string())?;
        if (0..n).all(|k| TcpListener::bind(("127.0.0.1", base + k as u16)).is_ok()) {
            return Ok(base);
        }
    }
    Err(format!("found no {n} free ports in a row on 127.0.0.1"))
}

/// Wait until the `n` ports from `base` are free again: prometheus-test
/// sends SIGTERM to its workers and exits without waiting for them.
fn wait_ports_free(base: u16, n: usize) -> crate::Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let busy = (0..n).find(|&k| TcpListener::bind(("127.0.0.1", base + k as u16)).is_err());
        match busy {
            None => return Ok(()),
            Some(k) if Instant::now() > deadline => {
                return Err(format!(
                    "port {} is still in use after 30 s",
                    base as usize + k
                ))
            }
            Some(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

pub(crate) fn python_version(python: &Path) -> String {
    Command::new(python)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "Python ?".into())
}

/// The last lines of some output.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(20)..].join("\n");
    out.push('\n');
    out
}

pub(crate) fn write(path: &Path, text: &str) -> crate::Result {
    std::fs::write(path, text).map_err(io(path))
}
