//! Seeding throughput: promwasm's `seed()` against pymongo's `insert_many`
//! (what prometheus-test's `clear_data` + `load_data` do) on the same managed
//! server, with the same 100,000 documents, in two shapes: one collection of
//! 100k, and four collections of 25k (a task's todos, issues, prs, audits),
//! which prometheus-test seeds one after another and promwasm in parallel.
//!
//! The server is found as `promwasm run` finds it (`PATH`, then
//! `PROMWASM_MONGO_BIN_DIR`, then `<repo>/.venv/bin`), so pointing
//! `PROMWASM_MONGO_BIN_DIR` at a secantusd-rs build measures that server;
//! pymongo runs under `<repo>/.venv/bin/python` (`cargo xtask setup` installs it).
//! Without a server or pymongo there is no comparison: the bench says why
//! and exits non-zero rather than print a result.
//!
//! Timings on these VMs vary by ±20% from run to run, so each side runs
//! `PAIRS` times, interleaved (pymongo first in even pairs, promwasm first in
//! odd ones), and the medians are compared. A warm-up
//! seed goes first because SecantusDB caps its oplog (100,000 entries by
//! default): whichever side ran first would otherwise skip the pruning the
//! other pays for. Every run gets a fresh collection, so clearing is equally
//! cheap for both.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use promwasm::mongo::{connect, seed, CollectionSeed, ManagedServer};

/// The allocator the promwasm binary uses, so seed() runs here as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DOCS: usize = 100_000;
const TASK_ID: &str = "bench-task";
/// Runs of each side per shape.
const PAIRS: usize = 5;

/// prometheus-test's `clear_data` + `load_data`: clear every collection, then
/// for each in turn json.load, tag each document, insert_many; then count.
/// Arguments: uri, task id, then collection name and data file pairs.
const PYMONGO_SCRIPT: &str = r#"
import json, sys, time
import pymongo
uri, task_id, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
pairs = list(zip(rest[0::2], rest[1::2]))
db = pymongo.MongoClient(uri)["bench"]
cpu = time.process_time()
start = time.perf_counter()
for name, _ in pairs:
    db[name].delete_many({})
for name, path in pairs:
    with open(path) as f:
        data = json.load(f)
    for item in data:
        item["taskId"] = task_id
    db[name].insert_many(data)
n = sum(db[name].count_documents({"taskId": task_id}) for name, _ in pairs)
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "count": n}))
"#;

/// One way to lay out the documents.
struct Shape {
    name: &'static str,
    /// Collections, each with `DOCS / collections` documents.
    collections: usize,
}

const SHAPES: [Shape; 2] = [
    Shape {
        name: "1 collection of 100k",
        collections: 1,
    },
    Shape {
        name: "4 collections of 25k",
        collections: 4,
    },
];

/// One timed run.
struct Run {
    wall: Duration,
    /// CPU time the client itself spent.
    cpu: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        DOCS as f64 / self.wall.as_secs_f64()
    }

    fn print(&self, who: &str) {
        println!(
            "  {who}: {:6.2} s = {:7.0} docs/s, client CPU {:5.2} s",
            self.wall.as_secs_f64(),
            self.rate(),
            self.cpu.as_secs_f64()
        );
    }
}

fn main() -> std::process::ExitCode {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Box::<dyn Error>::from)
        .and_then(|runtime| runtime.block_on(run()));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed_throughput: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn venv_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin")
}

/// This process's CPU time so far, from /proc/self/stat (user + system, in USER_HZ = 100 ticks).
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let work = tempfile::tempdir()?;
    let mut server_dirs = promwasm::mongo::server::bin_dirs_from_env();
    server_dirs.push(venv_bin());
    let server = ManagedServer::start(
        &server_dirs,
        &work.path().join("server.log"),
        &promwasm::mongo::Storage::Temporary,
    )
    .await?;
    println!("server: {} at {}", server.kind(), server.uri());
    let client = connect(server.uri(), Duration::from_secs(5)).await?;
    let db = client.database("bench");
    // As `promwasm run` seeds on this server.
    let at_once = server.kind().collections_at_once();
    let python = venv_bin().join("python");
    // Without pymongo there is nothing to compare with: say so before measuring anything.
    if let Err(why) = pymongo_available(&python).await {
        server.stop().await;
        return Err(format!("cannot compare seeding with pymongo: {why}").into());
    }
    let mut summary = Vec::new();
    let mut incomplete = Vec::new();
    for shape in &SHAPES {
        println!("{}:", shape.name);
        let files = write_data(work.path(), shape)?;
        let seed_once = |prefix: String| {
            let db = db.clone();
            let config: Vec<CollectionSeed> = files
                .iter()
                .enumerate()
                .map(|(i, file)| CollectionSeed {
                    name: format!("{prefix}_{i}"),
                    data_file: Some(file.clone()),
                    required_count: (DOCS / files.len()) as u64,
                })
                .collect();
            async move {
                let cpu = own_cpu();
                let started = Instant::now();
                seed(&db, TASK_ID, &config, at_once).await?;
                Ok::<_, Box<dyn Error>>(Run {
                    wall: started.elapsed(),
                    cpu: own_cpu().saturating_sub(cpu),
                })
            }
        };
        seed_once(format!("warmup{}", shape.collections)).await?;

        let mut ours: Vec<Run> = Vec::new();
        let mut theirs: Vec<Run> = Vec::new();
        let mut pymongo_missing = None;
        let order = (0..PAIRS).flat_map(|pair| {
            if pair % 2 == 0 {
                ["pymongo", "promwasm"]
            } else {
                ["promwasm", "pymongo"]
            }
        });
        for (round, side) in order.enumerate() {
            let prefix = format!("{side}{}_{round}", shape.collections);
            if side == "promwasm" {
                let run = seed_once(prefix).await?;
                run.print("promwasm seed()      ");
                ours.push(run);
            } else if pymongo_missing.is_none() {
                match pymongo_run(&python, server.uri(), &files, &prefix).await {
                    Ok(run) => {
                        run.print("pymongo insert_many()");
                        theirs.push(run);
                    }
                    Err(why) => pymongo_missing = Some(why),
                }
            }
        }
        let line = match pymongo_missing {
            Some(why) => {
                incomplete.push(format!("{}: {why}", shape.name));
                format!(
                    "{:21} promwasm {:6.0} docs/s; NO COMPARISON, pymongo failed: {why}",
                    shape.name,
                    median_rate(&ours)
                )
            }
            None => format!(
                "{:21} promwasm {:6.0} docs/s, pymongo {:6.0} docs/s: {:.2}×",
                shape.name,
                median_rate(&ours),
                median_rate(&theirs),
                median_rate(&ours) / median_rate(&theirs)
            ),
        };
        summary.push(line);
    }
    println!("median of {PAIRS} runs each, server {}:", server.kind());
    for line in summary {
        println!("  {line}");
    }
    server.stop().await;
    if !incomplete.is_empty() {
        return Err(format!(
            "cannot compare seeding with pymongo: {}",
            incomplete.join("; ")
        )
        .into());
    }
    Ok(())
}

/// Whether `python` can import pymongo; `Err` says why not.
async fn pymongo_available(python: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new(python)
        .args(["-c", "import pymongo"])
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} cannot import pymongo (`cargo xtask setup` installs it): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The median throughput of `runs`.
fn median_rate(runs: &[Run]) -> f64 {
    let mut rates: Vec<f64> = runs.iter().map(Run::rate).collect();
    rates.sort_by(f64::total_cmp);
    match rates.len() {
        0 => 0.0,
        n if n % 2 == 1 => rates[n / 2],
        n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
    }
}

/// Write `shape`'s data files (the same documents, split over its collections).
fn write_data(dir: &Path, shape: &Shape) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let per = DOCS / shape.collections;
    (0..shape.collections)
        .map(|c| {
            let docs: Vec<serde_json::Value> = (c * per..(c + 1) * per)
                .map(|i| {
                    serde_json::json!({
                        "title": format!("todo {i}"),
                        "n": i,
                        "done": i % 3 == 0,
                        "tags": ["bench", format!("group-{}", i % 10)],
                    })
                })
                .collect();
            let file = dir.join(format!("data_{}_{c}.json", shape.collections));
            std::fs::write(&file, serde_json::to_vec(&docs)?)?;
            Ok(file)
        })
        .collect()
}

/// One run of [`PYMONGO_SCRIPT`]; `Err` says why pymongo could not run.
async fn pymongo_run(
    python: &Path,
    uri: &str,
    files: &[PathBuf],
    prefix: &str,
) -> Result<Run, String> {
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg("-c").arg(PYMONGO_SCRIPT).arg(uri).arg(TASK_ID);
    for (i, file) in files.iter().enumerate() {
        cmd.arg(format!("{prefix}_{i}")).arg(file);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'pymongo'") {
        return Err(format!("pymongo is not installed for {}", python.display()));
    }
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            python.display(),
            out.status,
            stderr.trim()
        ));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected output from {}: {e}", python.display()))?;
    let secs = |key: &str| Duration::from_secs_f64(report[key].as_f64().unwrap_or(0.0).max(0.0));
    if report["count"].as_u64() != Some(DOCS as u64) {
        return Err(format!(
            "pymongo inserted {} documents, not {DOCS}",
            report["count"]
        ));
    }
    Ok(Run {
        wall: secs("wall"),
        cpu: secs("cpu"),
    })
}
