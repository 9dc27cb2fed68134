//! Developer tasks: `cargo xtask <task>`. Each task installs what it needs
//! first (the wasm32-wasip2 target, a local SecantusDB), builds the guest
//! components once into the shared target dir, then does its job.
//!
//! Tasks:
//!   example   build everything and run the example task end to end
//!   test      build everything and run every test
//!   guests    build the guest components only
//!   setup     install the wasm target and the local MongoDB-compatible server
//!   bench     run the benchmarks (step overhead, seeding throughput)

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The SecantusDB release we test against (a beta: pinned).
const SECANTUS: &str = "SecantusDB==0.7.0b3";
/// Guest crates, built for wasm32-wasip2.
const GUESTS: &[&str] = &["orca-steps", "test-guests"];
const EXAMPLE_CONFIG: &str = "examples/orca/tests/config.yaml";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    let result = match task {
        "example" => example(rest),
        "test" => test(rest),
        "guests" => setup().and_then(|_| guests()),
        "setup" => setup(),
        "bench" => bench(),
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

fn guests() -> Result {
    let mut cmd = cargo();
    cmd.args(["build", "--profile", "guest", "--target", "wasm32-wasip2"]);
    for g in GUESTS {
        cmd.args(["-p", g]);
    }
    run(&mut cmd)
}

/// Binaries the tests and the example drive.
fn host_binaries() -> Result {
    run(cargo().args(["build", "-p", "promwasm", "-p", "orca-server"]))
}

/// Environment shared by the example and the tests: where guests, the
/// compiled-component cache and the MongoDB server are.
fn test_env(cmd: &mut Command) -> &mut Command {
    let root = root();
    cmd.env(
        "PROMWASM_GUEST_DIR",
        root.join("target/wasm32-wasip2/guest"),
    )
    .env("PROMWASM_CACHE_DIR", root.join("target/promwasm-cache"))
    .env("PROMWASM_MONGO_BIN_DIR", root.join(".venv/bin"))
}

fn example(args: &[String]) -> Result {
    setup()?;
    guests()?;
    host_binaries()?;
    let mut cmd = Command::new(root().join("target/debug/promwasm"));
    cmd.args(["run", EXAMPLE_CONFIG]);
    if args.is_empty() {
        // The example starts over each time so it always shows a whole run.
        cmd.arg("--reset");
    }
    cmd.args(args);
    run(test_env(&mut cmd))
}

fn test(args: &[String]) -> Result {
    setup()?;
    guests()?;
    // Build every test target first: that is what builds the promwasm and
    // orca-server binaries the end-to-end tests drive (both packages have
    // integration tests), with the tests' own features — so a filtered run
    // (`cargo xtask test --test mongo`) never drives a stale binary, and no
    // separate `cargo build` compiles half the tree twice.
    run(test_env(cargo().args(["test", "--workspace", "--no-run"])))?;
    run(test_env(cargo().args(["test", "--workspace"]).args(args)))
}

fn bench() -> Result {
    setup()?;
    guests()?;
    run(test_env(cargo().args(["bench", "-p", "promwasm"])))
}
