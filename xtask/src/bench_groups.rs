//! `cargo xtask bench groups [--runs N]`: what parallel steps (`group`)
//! save. The same task run twice by promwasm on the same worker servers
//! (`bench/peer/server.py`, which verifies every signed payload): once with
//! every step after the other, once with each round's tasks in one group and
//! its submissions in another, as real nodes do them.
//!
//! The task: 8 workers, 3 rounds; each round a `start` step, every worker's
//! signed `POST /task`, every worker's signed `POST /submission`, an `end`
//! step. Measured: the rounds, from round 1's `start` to round 3's `end` (the
//! `ready` stage reads the wall clock), and the whole run's wall time.
//!
//! Twice over: with servers answering at once (the steps' own cost, signing
//! and verifying, on this machine's cores) and with each `/task` taking
//! 100 ms of server time (`TASK_WORK_MS`; a node's task does real work, so
//! a step mostly waits), where grouping gains the most.

use serde_json::{json, Value};

use crate::bench_peer::{load_average, python_version, write, Bench, Stats, TASK_ID};

/// Workers, each with a task and a submission step per round.
const WORKERS: usize = 8;
const ROUNDS: u32 = 3;
/// Server time per `/task`: none, and a node doing real work.
const WORK_MS: [u32; 2] = [0, 100];

/// Run it.
pub fn run(args: &[String]) -> crate::Result {
    let runs = match args {
        [] => 5,
        [flag, n] if flag == "--runs" => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("--runs takes a positive number, not `{n}`"))?,
        _ => return Err("usage: cargo xtask bench groups [--runs N]".into()),
    };
    let bench = Bench::build()?;
    for ms in WORK_MS {
        write_project(&bench, ms)?;
    }
    let load_before = load_average();
    // Warm the compiled-component cache, as every run after a user's first.
    bench.promwasm_report(&config_name(false, 0), WORKERS)?;
    eprintln!("bench groups: {runs} runs of each, interleaved");
    let mut figures = WORK_MS.map(|_| [Vec::new(), Vec::new()]);
    for _ in 0..runs {
        for (i, ms) in WORK_MS.into_iter().enumerate() {
            for (k, grouped) in [false, true].into_iter().enumerate() {
                let (wall, report) = bench.promwasm_report(&config_name(grouped, ms), WORKERS)?;
                figures[i][k].push((rounds_time(&report)?, wall));
            }
        }
    }
    let load_after = load_average();

    println!();
    println!(
        "bench groups: {WORKERS} workers × {ROUNDS} rounds, each round every worker's task, then \
         every worker's submission ({}), promwasm release",
        python_version(&bench.python)
    );
    println!(
        "median of {runs} runs (min–max); load average before {load_before}, after {load_after}"
    );
    println!();
    println!(
        "{:<22} {:>26} {:>26} {:>10} {:>26} {:>26}",
        "server time per task",
        "rounds, one by one",
        "rounds, grouped",
        "gain",
        "whole run, one by one",
        "whole run, grouped"
    );
    for (i, ms) in WORK_MS.into_iter().enumerate() {
        let [one, grouped] = &figures[i];
        let stats = |xs: &[(f64, f64)], wall: bool| {
            Stats::of(xs.iter().map(|&(r, w)| if wall { w } else { r }).collect())
        };
        let (one_rounds, grouped_rounds) = (stats(one, false), stats(grouped, false));
        println!(
            "{:<22} {:>26} {:>26} {:>9.2}× {:>26} {:>26}",
            format!("{ms} ms"),
            one_rounds.show(),
            grouped_rounds.show(),
            one_rounds.median / grouped_rounds.median,
            stats(one, true).show(),
            stats(grouped, true).show(),
        );
    }
    println!();
    println!(
        "(the rounds: from round 1's first step to round {ROUNDS}'s last; {} steps per round)",
        2 * WORKERS + 2
    );
    Ok(())
}

/// The config of one variant.
fn config_name(grouped: bool, ms: u32) -> String {
    let how = if grouped { "grouped" } else { "one-by-one" };
    format!("groups-{how}-{ms}ms.yaml")
}

/// workers.json with `/task` taking `ms`, and both configs using it.
fn write_project(bench: &Bench, ms: u32) -> crate::Result {
    let tests = bench.project.join("tests");
    let server = crate::root().join("bench/peer/server.py");
    let workers: serde_json::Map<String, Value> = (1..=WORKERS)
        .map(|i| {
            let worker = json!({
                "server_entrypoint": server,
                "env_vars": { "TASK_ID": "TASK_ID" },
                "env": { "TASK_WORK_MS": ms.to_string() },
                "keypairs": { "staking": format!("WORKER{i}_STAKING_KEYPAIR") },
                "ready": { "http": "/healthz", "timeout": "120s" },
            });
            (format!("worker{i}"), worker)
        })
        .collect();
    let text = serde_json::to_string_pretty(&workers).map_err(|e| e.to_string())?;
    let workers_json = format!("workers-groups-{ms}ms.json");
    write(&tests.join(&workers_json), &text)?;
    for grouped in [false, true] {
        let mut config = format!(
            "task_id: {TASK_ID}\nbase_port: {}\nmax_rounds: {ROUNDS}\nworkers_config: {workers_json}\n\
             data_dir: data-groups\ndefaults: {{ timeout: 60s }}\nsteps:\n",
            bench.base_port
        );
        let module = &bench.module;
        config +=
            &format!("  - {{ name: start, worker: worker1, stage: ready, module: {module} }}\n");
        for stage in ["task", "submission"] {
            for i in 1..=WORKERS {
                let group = if grouped {
                    format!(", group: {stage}s")
                } else {
                    String::new()
                };
                config += &format!(
                    "  - {{ name: worker{i}-{stage}, worker: worker{i}, stage: {stage}{group}, module: {module} }}\n"
                );
            }
        }
        config +=
            &format!("  - {{ name: end, worker: worker1, stage: ready, module: {module} }}\n");
        write(&tests.join(config_name(grouped, ms)), &config)?;
    }
    Ok(())
}

/// Seconds from round 1's `start` step to round [`ROUNDS`]'s `end` step.
fn rounds_time(report: &Value) -> crate::Result<f64> {
    let at = |round: u32, step: &str| {
        report["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["round"] == round && s["step"] == step)
            .and_then(|s| s["detail"]["ready_at"].as_f64())
            .ok_or_else(|| format!("the report has no time for round {round}, step `{step}`"))
    };
    Ok(at(ROUNDS, "end")? - at(1, "start")?)
}
