//! Seeding throughput: promwasm's `seed()` against pymongo's `insert_many`
//! (what prometheus-test's `clear_data` + `load_data` do) on the same managed
//! server, with the same 100,000-document JSON file.
//!
//! Server binaries come from `PROMWASM_MONGO_BIN_DIR`, else `<repo>/.venv/bin`
//! (after `PATH`); pymongo runs under that directory's `python`.
//!
//! The machine may be shared, so each side runs twice in the order
//! pymongo, promwasm, promwasm, pymongo and the better run counts. A warm-up
//! seed goes first because SecantusDB caps its oplog (100,000 entries by
//! default): whichever side ran first would otherwise skip the pruning the
//! other pays for. Every run gets a fresh collection, so clearing is equally
//! cheap for both.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use promwasm::mongo::{connect, seed, CollectionSeed, ManagedServer};

const DOCS: usize = 100_000;
const TASK_ID: &str = "bench-task";

/// prometheus-test's steps for one collection: clear, json.load, tag each document, insert_many.
const PYMONGO_SCRIPT: &str = r#"
import json, sys, time
import pymongo
uri, path, coll_name, task_id = sys.argv[1:5]
coll = pymongo.MongoClient(uri)["bench"][coll_name]
cpu = time.process_time()
start = time.perf_counter()
coll.delete_many({})
with open(path) as f:
    data = json.load(f)
for item in data:
    item["taskId"] = task_id
coll.insert_many(data)
n = coll.count_documents({"taskId": task_id})
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "count": n}))
"#;

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
}

fn main() -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

fn bin_dir() -> PathBuf {
    promwasm::mongo::server::bin_dirs_from_env()
        .into_iter()
        .next()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin"))
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
    let bin_dir = bin_dir();
    let server = ManagedServer::start(
        std::slice::from_ref(&bin_dir),
        &work.path().join("server.log"),
    )
    .await?;
    println!("server: {} at {}", server.kind(), server.uri());

    let data_file = work.path().join("todos.json");
    let docs: Vec<serde_json::Value> = (0..DOCS)
        .map(|i| {
            serde_json::json!({
                "title": format!("todo {i}"),
                "n": i,
                "done": i % 3 == 0,
                "tags": ["bench", format!("group-{}", i % 10)],
            })
        })
        .collect();
    std::fs::write(&data_file, serde_json::to_vec(&docs)?)?;
    drop(docs);
    println!(
        "data: {DOCS} documents, {} bytes of JSON",
        std::fs::metadata(&data_file)?.len()
    );

    let client = connect(server.uri(), Duration::from_secs(5)).await?;
    let db = client.database("bench");
    let seed_once = |collection: String| {
        let db = db.clone();
        let data_file = data_file.clone();
        async move {
            let config = [CollectionSeed {
                name: collection,
                data_file: Some(data_file),
                required_count: DOCS as u64,
            }];
            let cpu = own_cpu();
            let started = Instant::now();
            seed(&db, TASK_ID, &config).await?;
            Ok::<_, Box<dyn Error>>(Run {
                wall: started.elapsed(),
                cpu: own_cpu().saturating_sub(cpu),
            })
        }
    };

    seed_once("warmup".to_owned()).await?;

    let python = bin_dir.join("python");
    let mut ours: Vec<Run> = Vec::new();
    let mut theirs: Vec<Run> = Vec::new();
    let mut pymongo_missing = None;
    for (round, side) in ["pymongo", "promwasm", "promwasm", "pymongo"]
        .iter()
        .enumerate()
    {
        let collection = format!("todos_{side}_{round}");
        if *side == "promwasm" {
            let run = seed_once(collection).await?;
            println!(
                "  promwasm seed():       {:6.2} s = {:7.0} docs/s, client CPU {:5.2} s",
                run.wall.as_secs_f64(),
                run.rate(),
                run.cpu.as_secs_f64()
            );
            ours.push(run);
        } else if pymongo_missing.is_none() {
            match pymongo_run(&python, server.uri(), &data_file, &collection).await {
                Ok(run) => {
                    println!(
                        "  pymongo insert_many(): {:6.2} s = {:7.0} docs/s, client CPU {:5.2} s",
                        run.wall.as_secs_f64(),
                        run.rate(),
                        run.cpu.as_secs_f64()
                    );
                    theirs.push(run);
                }
                Err(why) => pymongo_missing = Some(why),
            }
        }
    }

    let best = |runs: &[Run]| runs.iter().map(Run::rate).fold(0.0_f64, f64::max);
    println!(
        "promwasm seed():        {:8.0} docs/s (best of {})",
        best(&ours),
        ours.len()
    );
    match pymongo_missing {
        Some(why) => println!("pymongo comparison skipped: {why}"),
        None => {
            println!(
                "pymongo insert_many():  {:8.0} docs/s (best of {})",
                best(&theirs),
                theirs.len()
            );
            println!("promwasm/pymongo = {:.2}×", best(&ours) / best(&theirs));
        }
    }

    server.stop().await;
    Ok(())
}

/// One run of [`PYMONGO_SCRIPT`]; `Err` says why pymongo could not run.
async fn pymongo_run(
    python: &Path,
    uri: &str,
    data_file: &Path,
    collection: &str,
) -> Result<Run, String> {
    let out = tokio::process::Command::new(python)
        .arg("-c")
        .arg(PYMONGO_SCRIPT)
        .arg(uri)
        .arg(data_file)
        .arg(collection)
        .arg(TASK_ID)
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
