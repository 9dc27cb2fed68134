//! Developer tasks: `cargo xtask <task>`. Each task installs what it needs
//! first (the wasm32-wasip2 target, a local SecantusDB), builds the guest
//! components once into the shared target dir, then does its job.
//!
//! Tasks:
//!   example   build everything and run the example task end to end
//!   test      build everything and run every test
//!   guests    build the guest components only
//!   setup     install the wasm target and the local MongoDB-compatible server
//!   bench     run the benchmarks (step overhead, seeding throughput, load times)
//!   bench peer     promwasm side by side with prometheus-test 0.1.10
//!   bench workers  many workers started to ready, against a plain script's floor
//!   bench groups   what parallel steps (`group`) save, against the same steps one by one
//!
//! `test` hands the end-to-end tests what cargo reported building (from
//! `--message-format=json-render-diagnostics`), never paths guessed under
//! `./target`:
//!   PROMWASM_BIN        the promwasm binary
//!   ORCA_SERVER_BIN     the example worker server
//!   PROMWASM_GUEST_DIR  the folder of the guest components (`<crate>.wasm`)
//! plus PROMWASM_CACHE_DIR (compiled components, under the target dir) and
//! PROMWASM_MONGO_BIN_DIR (`.venv/bin`). To run the tests against other
//! builds, run `cargo test -p promwasm-e2e` with these set yourself.
//! Extra arguments go to the test run only; the build step always builds the
//! default (debug) profile.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

mod bench_groups;
mod bench_peer;
mod bench_workers;
mod langs;

/// The SecantusDB release we test against (a beta: pinned).
const SECANTUS: &str = "SecantusDB==0.7.0b3";
/// Guest crates, built for wasm32-wasip2.
const GUESTS: &[&str] = &[
    "orca-steps",
    "test-guests",
    "hostile-guests",
    "hostile-stages",
];
const EXAMPLE_CONFIG: &str = "examples/orca/tests/config.yaml";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    let result = match task {
        "example" => example(rest),
        "test" => test(rest),
        "guests" => setup().and_then(|_| guests()).map(drop),
        "setup" => setup(),
        "bench" => match rest.first().map(String::as_str) {
            Some("peer") => bench_peer::run(&rest[1..]),
            Some("workers") => bench_workers::run(&rest[1..]),
            Some("groups") => bench_groups::run(&rest[1..]),
            None => bench(),
            Some(other) => Err(format!(
                "unknown bench `{other}`: try `peer`, `workers` or `groups`"
            )),
        },
        _ => {
            eprintln!("usage: cargo xtask <example|test|guests|setup|bench> [args]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result {
    eprintln!("+ {}", describe(cmd));
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The wasm target (RUSTUP_AUTO_INSTALL=0 means rust-toolchain.toml alone
/// does not install it) and SecantusDB in `.venv` unless a server is on PATH.
fn setup() -> Result {
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    let venv = root().join(".venv");
    if on_path("mongod") || on_path("secantusd-rs") || on_path("secantusd-py") {
        return Ok(());
    }
    if !venv.join("bin/secantusd-py").exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SECANTUS,
            "pymongo",
        ]))?;
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// What cargo reported building: the `compiler-artifact` messages of
/// `--message-format=json-render-diagnostics` (diagnostics still go to the
/// terminal, rendered).
struct Artifacts(Vec<serde_json::Value>);

impl Artifacts {
    /// The executable of binary target `name` (not a test harness of it).
    fn binary(&self, name: &str) -> Result<PathBuf> {
        self.0
            .iter()
            .filter(|m| m["target"]["name"] == name && m["profile"]["test"] == false)
            .filter(|m| {
                m["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .find_map(|m| m["executable"].as_str())
            .map(PathBuf::from)
            .ok_or_else(|| format!("cargo reported no binary `{name}`"))
    }

    /// The `.wasm` file of library target `name` (a guest component).
    fn wasm(&self, name: &str) -> Result<PathBuf> {
        self.0
            .iter()
            .filter(|m| m["target"]["name"] == name)
            .flat_map(|m| m["filenames"].as_array().into_iter().flatten())
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"))
            .map(PathBuf::from)
            .ok_or_else(|| format!("cargo reported no component for `{name}`"))
    }
}

/// Run a cargo build command with JSON messages; what it built.
fn cargo_artifacts(cmd: &mut Command) -> Result<Artifacts> {
    cmd.arg("--message-format=json-render-diagnostics")
        .current_dir(root())
        .stdout(Stdio::piped());
    eprintln!("+ {}", describe(cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", describe(cmd)))?;
    let mut artifacts = Vec::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(m) if m["reason"] == "compiler-artifact" => artifacts.push(m),
            Ok(_) => {}
            // Not a message (a build script's output): show it.
            Err(_) => println!("{line}"),
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {}: {e}", describe(cmd)))?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", describe(cmd)));
    }
    Ok(Artifacts(artifacts))
}

/// Build the guest components; their `.wasm` files by crate name.
fn guests() -> Result<Vec<(String, PathBuf)>> {
    let mut cmd = cargo();
    cmd.args(["build", "--profile", "guest", "--target", "wasm32-wasip2"]);
    for g in GUESTS {
        cmd.args(["-p", g]);
    }
    let built = cargo_artifacts(&mut cmd)?;
    let mut guests = GUESTS
        .iter()
        .map(|g| {
            let lib = g.replace('-', "_");
            Ok((lib.clone(), built.wasm(&lib)?))
        })
        .collect::<Result<Vec<_>>>()?;
    // The other languages' components go next to the Rust ones.
    let dir = guests[0]
        .1
        .parent()
        .ok_or("a guest component in no folder")?
        .to_path_buf();
    guests.extend(langs::build(&dir)?);
    Ok(guests)
}

/// What the tests and the example drive, as cargo just built it.
struct Built {
    promwasm: PathBuf,
    orca_server: PathBuf,
    guests: Vec<(String, PathBuf)>,
}

impl Built {
    /// The one folder holding every guest component (the tests take a folder).
    fn guest_dir(&self) -> Result<PathBuf> {
        let mut dirs: Vec<&Path> = self.guests.iter().filter_map(|(_, p)| p.parent()).collect();
        dirs.dedup();
        match dirs.as_slice() {
            [one] => Ok(one.to_path_buf()),
            _ => Err(format!("guest components are in several folders: {dirs:?}")),
        }
    }

    /// The target directory cargo used (`<target>/debug/promwasm`).
    fn target_dir(&self) -> PathBuf {
        self.promwasm
            .ancestors()
            .nth(2)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root().join("target"))
    }

    /// Environment of the example and the tests: the built binaries and
    /// guests, the compiled-component cache and the MongoDB server folder.
    fn env<'c>(&self, cmd: &'c mut Command) -> Result<&'c mut Command> {
        Ok(cmd
            .env("PROMWASM_BIN", &self.promwasm)
            .env("ORCA_SERVER_BIN", &self.orca_server)
            .env("PROMWASM_GUEST_DIR", self.guest_dir()?)
            .env(
                "PROMWASM_CACHE_DIR",
                self.target_dir().join("promwasm-cache"),
            )
            .env("PROMWASM_MONGO_BIN_DIR", root().join(".venv/bin")))
    }
}

fn example(args: &[String]) -> Result {
    setup()?;
    let guests = guests()?;
    let host = cargo_artifacts(cargo().args(["build", "-p", "promwasm", "-p", "orca-server"]))?;
    let built = Built {
        promwasm: host.binary("promwasm")?,
        orca_server: host.binary("orca-server")?,
        guests,
    };
    let config = example_config(&built)?;
    let mut cmd = Command::new(&built.promwasm);
    cmd.arg("run").arg(&config);
    if args.is_empty() {
        // The example starts over each time so it always shows a whole run.
        cmd.arg("--reset");
    }
    cmd.args(args);
    run(built.env(&mut cmd)?)
}

/// The example's config.yaml. Its config.yaml and workers.json name the
/// server and steps under `<repo>/target`; when cargo built them elsewhere
/// (`CARGO_TARGET_DIR`), the example runs from a copy in
/// `<target>/xtask-example/` whose files name what was just built (its state
/// and logs stay there too).
fn example_config(built: &Built) -> Result<PathBuf> {
    const SERVER: &str = "../../../target/debug/orca-server";
    const STEPS: &str = "../../../target/wasm32-wasip2/guest/orca_steps.wasm";
    let example = root().join("examples/orca");
    let tests = example.join("tests");
    let steps = built
        .guests
        .iter()
        .find(|(name, _)| name == "orca_steps")
        .map(|(_, p)| p.clone())
        .ok_or("orca_steps was not built")?;
    let same = |named: &str, built: &Path| {
        std::fs::canonicalize(tests.join(named)).ok() == std::fs::canonicalize(built).ok()
    };
    if same(SERVER, &built.orca_server) && same(STEPS, &steps) {
        return Ok(root().join(EXAMPLE_CONFIG));
    }
    let copy = built.target_dir().join("xtask-example");
    eprintln!(
        "note: the example names its server and steps under {}; running a copy in {} that names what cargo built",
        root().join("target").display(),
        copy.display()
    );
    for rel in [".env", "tests/.env", "tests/data/todos.json"] {
        let to = copy.join(rel);
        std::fs::create_dir_all(to.parent().expect("a file in a folder")).map_err(io(&to))?;
        std::fs::copy(example.join(rel), &to).map_err(io(&to))?;
    }
    let keys = tests.join("keys");
    std::fs::create_dir_all(copy.join("tests/keys")).map_err(io(&copy))?;
    for key in std::fs::read_dir(&keys).map_err(io(&keys))? {
        let key = key.map_err(io(&keys))?.path();
        let to = copy
            .join("tests/keys")
            .join(key.file_name().expect("a file"));
        std::fs::copy(&key, &to).map_err(io(&to))?;
    }
    for (file, from, to) in [
        ("config.yaml", STEPS, &steps),
        ("workers.json", SERVER, &built.orca_server),
    ] {
        let text = std::fs::read_to_string(tests.join(file)).map_err(io(&tests.join(file)))?;
        if !text.contains(from) {
            return Err(format!("examples/orca/tests/{file} no longer names {from}"));
        }
        let text = text.replace(from, &to.to_string_lossy());
        std::fs::write(copy.join("tests").join(file), text).map_err(io(&copy))?;
    }
    Ok(copy.join("tests/config.yaml"))
}

/// An I/O error, naming the file.
fn io(what: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", what.display())
}

fn test(args: &[String]) -> Result {
    setup()?;
    let guests = guests()?;
    // Build every target of every package first, benches included (in the
    // test profile, not run) so they cannot rot: that is also what builds the
    // promwasm and orca-server binaries the end-to-end tests drive, with the
    // tests' own features. Their paths, as cargo reports them, go to the test
    // run, so a filtered run (`cargo xtask test --test mongo`) or a
    // CARGO_TARGET_DIR never drives a stale binary.
    let host = cargo_artifacts(cargo().args(["test", "--workspace", "--all-targets", "--no-run"]))?;
    let built = Built {
        promwasm: host.binary("promwasm")?,
        orca_server: host.binary("orca-server")?,
        guests,
    };
    run(built.env(cargo().args(["test", "--workspace"]).args(args))?)
}

fn bench() -> Result {
    setup()?;
    let guests = guests()?;
    let dir = guests
        .iter()
        .find(|(name, _)| name == "test_guests")
        .and_then(|(_, p)| p.parent())
        .ok_or("test_guests was not built")?;
    run(cargo()
        .args(["bench", "-p", "promwasm"])
        .env("PROMWASM_GUEST_DIR", dir)
        .env("PROMWASM_MONGO_BIN_DIR", root().join(".venv/bin")))?;
    load_times(&guests)
}

/// First and second load of each language's example stages with a release
/// `promwasm inspect`: the first compiles to native code, the second must
/// come from the compiled cache.
fn load_times(guests: &[(String, PathBuf)]) -> Result {
    let built = cargo_artifacts(cargo().args(["build", "--release", "-p", "promwasm"]))?;
    let promwasm = built.binary("promwasm")?;
    let cache = std::env::temp_dir().join(format!("promwasm-bench-cache-{}", std::process::id()));
    let timed = |module: &Path| -> Result<f64> {
        let start = std::time::Instant::now();
        let out = Command::new(&promwasm)
            .arg("inspect")
            .arg(module)
            .env("PROMWASM_CACHE_DIR", &cache)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", promwasm.display()))?;
        if !out.status.success() {
            return Err(format!(
                "promwasm inspect {} failed: {}",
                module.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(start.elapsed().as_secs_f64())
    };
    println!("\nload time of the example's stages (promwasm inspect, release build):");
    println!(
        "{:<12} {:>10} {:>12} {:>12} {:>8}",
        "language", "size", "first run", "second run", "ratio"
    );
    for (lang, name) in [
        ("Rust", "orca_steps"),
        ("JavaScript", "orca_steps_js"),
        ("Python", "orca_steps_py"),
        ("C", "orca_steps_c"),
    ] {
        let Some((_, module)) = guests.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let size = std::fs::metadata(module).map_err(io(module))?.len();
        let (first, second) = (timed(module)?, timed(module)?);
        println!(
            "{lang:<12} {:>8.1}MB {:>10.3} s {:>10.3} s {:>7.0}x",
            size as f64 / 1e6,
            first,
            second,
            first / second
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}
