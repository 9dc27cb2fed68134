//! `promwasm new step`: each language's project builds with the command its
//! own README.md gives, and `promwasm run` passes its own tests/config.yaml —
//! the worker receiving a payload signed with the generated keypair. Requests
//! that cannot be met exit 2 and leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use promwasm_e2e::{free_port, promwasm, read_json, repo_root, run_command, Run, RUN_LIMIT};
use serde_json::Value;

/// How long a generated project's build may take: a Rust project compiles
/// its dependencies from scratch (about a minute alone on 2 cores, more while
/// other tests build too).
const BUILD_LIMIT: Duration = Duration::from_secs(1200);

/// `promwasm new step <path> <args>`.
fn new_step(path: &Path, args: &[&str]) -> Run {
    let mut cmd = promwasm();
    cmd.args(["new", "step"]).arg(path).args(args);
    run_command(&mut cmd, RUN_LIMIT)
}

/// The build command of a generated README.md: the first `sh` block under `## Build`.
fn build_command(project: &Path) -> String {
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    let build = readme
        .split_once("\n## Build\n")
        .unwrap_or_else(|| panic!("README.md has no `## Build` section:\n{readme}"))
        .1;
    let block = build
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no ```sh block under `## Build`:\n{build}"))
        .0;
    block.to_string()
}

/// Run the README's build command in the project folder, as a user would
/// paste it into a shell, with `env` set; it must succeed.
fn build(project: &Path, env: &[(&str, PathBuf)]) -> Duration {
    let command = build_command(project);
    let mut cmd = Command::new("sh");
    cmd.arg("-ec")
        .arg(&command)
        .current_dir(project)
        // The README's paths assume cargo's default target folder.
        .env_remove("CARGO_TARGET_DIR");
    for (name, value) in env {
        cmd.env(name, value);
    }
    let run = run_command(&mut cmd, BUILD_LIMIT);
    assert_eq!(
        run.code,
        0,
        "the README's build command failed:\n{command}\n{}",
        run.all()
    );
    run.took
}

/// `promwasm run tests/config.yaml` from the project folder passes, and the
/// worker received a payload signed with the project's own keypair: checked
/// here again with ed25519-dalek, from the answer the step stored.
fn run_passes(project: &Path, name: &str) {
    let mut cmd = promwasm();
    cmd.args(["run", "tests/config.yaml"]).current_dir(project);
    let run = run_command(&mut cmd, RUN_LIMIT);
    run.expect_code(0)
        .expect_output("PASSED: 1 rounds; this run: 1 passed");

    let keypair: Vec<u8> = read_json(&project.join("tests/keys/worker1-staking.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let public = bs58::encode(&keypair[32..]).into_string();
    let state = read_json(&project.join("tests/data/test_state.json"));
    let answer = &state["rounds"]["1"][name];
    assert_eq!(
        answer["ok"], true,
        "the step stored the worker's answer: {state:#}"
    );
    assert_eq!(answer["worker"], "worker1", "{answer}");
    let payload = &answer["payload"];
    assert_eq!(payload["stakingKey"], public.as_str(), "{answer}");
    assert_eq!(payload["round"], 1, "{answer}");

    let signed = bs58::decode(answer["signature"].as_str().unwrap())
        .into_vec()
        .unwrap();
    let (signature, message) = signed.split_at(64);
    let key = VerifyingKey::from_bytes(keypair[32..].try_into().unwrap()).unwrap();
    key.verify_strict(message, &Signature::from_slice(signature).unwrap())
        .expect("the worker got a payload signed with the project's staking key");
    assert_eq!(&serde_json::from_slice::<Value>(message).unwrap(), payload);

    let log =
        std::fs::read_to_string(project.join("tests/data/runs/latest/logs/worker1.log")).unwrap();
    assert!(
        log.contains(&format!("verified a payload signed by {public}")),
        "the worker verified it too:\n{log}"
    );
}

/// Create, build as the README says, run: the whole life of a new step.
fn new_build_run(parent: &Path, name: &str, lang: &str, env: &[(&str, PathBuf)]) {
    let project = parent.join(name);
    let port = free_port().to_string();
    new_step(&project, &["--lang", lang, "--port", &port])
        .expect_code(0)
        .expect_output("Created the")
        .expect_output("promwasm run tests/config.yaml");
    let took = build(&project, env);
    eprintln!("{lang}: the README's build command took {took:?}");
    run_passes(&project, name);
}

#[test]
fn a_new_rust_step_builds_and_passes_its_test() {
    // Inside the repository (its target folder, which git ignores): the
    // generated crate must not take itself for a member of our workspace.
    let target = repo_root().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let parent = tempfile::Builder::new()
        .prefix("new-step-")
        .tempdir_in(&target)
        .unwrap();
    new_build_run(parent.path(), "hello-rust", "rust", &[]);
    let built = parent
        .path()
        .join("hello-rust/target/wasm32-wasip2/release/hello_rust.wasm");
    assert!(built.is_file(), "{}", built.display());
}

/// A pinned toolchain `cargo xtask test` installed under `.tools/` when it
/// built the example's guests in that language.
fn tool(rel: &str) -> PathBuf {
    let path = repo_root().join(".tools").join(rel);
    assert!(
        path.exists(),
        "{} not found: run the tests with `cargo xtask test`, which installs it",
        path.display()
    );
    path
}

#[test]
fn a_new_javascript_step_builds_and_passes_its_test() {
    let parent = tempfile::tempdir().unwrap();
    // The jco that xtask installed from the same lockfile the project pins,
    // handed over in `JCO` as the README says (instead of `npm install`).
    let jco = tool("js/node_modules/.bin/jco");
    new_build_run(parent.path(), "hello-js", "js", &[("JCO", jco)]);
    assert!(parent.path().join("hello-js/build/hello-js.wasm").is_file());
    assert!(
        !parent.path().join("hello-js/node_modules").exists(),
        "with JCO set, the build installs nothing"
    );
}

#[test]
fn a_new_python_step_builds_and_passes_its_test() {
    let parent = tempfile::tempdir().unwrap();
    // The componentize-py that xtask installed at the pinned version, handed
    // over in `COMPONENTIZE_PY` as the README says (instead of a new venv).
    let componentize_py = tool("python/bin/componentize-py");
    new_build_run(
        parent.path(),
        "hello-py",
        "python",
        &[("COMPONENTIZE_PY", componentize_py)],
    );
    assert!(parent.path().join("hello-py/build/hello-py.wasm").is_file());
    assert!(
        !parent.path().join("hello-py/.venv").exists(),
        "with COMPONENTIZE_PY set, the build installs nothing"
    );
}

#[test]
fn help_explains_new() {
    let mut cmd = promwasm();
    cmd.args(["new", "--help"]);
    let run = run_command(&mut cmd, RUN_LIMIT);
    run.expect_code(0)
        .expect_output("promwasm new step NAME --lang rust|js|python")
        .expect_output("promwasm run NAME/tests/config.yaml");
    let mut cmd = promwasm();
    cmd.args(["new", "step", "--help"]);
    let run = run_command(&mut cmd, RUN_LIMIT);
    run.expect_code(0)
        .expect_output("--lang <LANG>")
        .expect_output("--sdk <PATH>")
        .expect_output("- js:")
        .expect_output("- python:")
        .expect_output("must not exist");
}

#[test]
fn an_existing_folder_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("mine.txt"), "keep me").unwrap();
    new_step(&taken, &[])
        .expect_code(2)
        .expect_errors(&["refusing to overwrite", "taken"]);
    let left: Vec<_> = std::fs::read_dir(&taken).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "nothing was added");
    assert_eq!(
        std::fs::read_to_string(taken.join("mine.txt")).unwrap(),
        "keep me"
    );

    // A project made once is not made again over itself.
    let project = dir.path().join("twice");
    new_step(&project, &[]).expect_code(0);
    let lib = std::fs::read_to_string(project.join("src/lib.rs")).unwrap();
    std::fs::write(project.join("src/lib.rs"), "// edited").unwrap();
    new_step(&project, &[])
        .expect_code(2)
        .expect_errors(&["refusing to overwrite"]);
    assert_eq!(
        std::fs::read_to_string(project.join("src/lib.rs")).unwrap(),
        "// edited"
    );
    assert!(lib.contains("export_stages!"));
}

#[test]
fn bad_names_languages_and_sdks_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "Bad Name",
            &[],
            &["`Bad Name` cannot name a step", "lowercase letters"],
        ),
        ("9lives", &[], &["starting with a letter"]),
        ("fn", &[], &["Rust keyword"]),
        (
            "go-step",
            &["--lang", "go"],
            &["invalid value 'go'", "possible values"],
        ),
        ("port-step", &["--port", "0"], &["invalid value '0'"]),
        (
            "sdk-step",
            &["--sdk", "/nonexistent/guest-sdk"],
            &["the Rust SDK is not at /nonexistent/guest-sdk", "--sdk"],
        ),
        (
            "js-sdk-step",
            &["--lang", "js", "--sdk", "/somewhere"],
            &["--sdk is for --lang rust"],
        ),
    ];
    for (name, args, errors) in cases {
        new_step(&dir.path().join(name), args)
            .expect_code(2)
            .expect_errors(errors);
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "nothing was written: {left:?}");
}

/// A folder of just the programs build.sh itself needs, to run it on a
/// "machine" without the language's toolchain.
fn bare_path() -> tempfile::TempDir {
    let bin = tempfile::tempdir().unwrap();
    for program in ["sh", "dirname", "mkdir", "env", "mv", "cat"] {
        let found = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(program))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {program} on this machine"));
        std::os::unix::fs::symlink(found, bin.path().join(program)).unwrap();
    }
    bin
}

#[test]
fn a_missing_toolchain_gets_the_install_command_not_a_stack_trace() {
    let parent = tempfile::tempdir().unwrap();
    for (lang, needs) in [
        ("js", "sudo apt install nodejs npm"),
        ("python", "sudo apt install python3 python3-venv"),
    ] {
        let project = parent.path().join(format!("step-{lang}"));
        new_step(&project, &["--lang", lang]).expect_code(0);
        let bin = bare_path();
        let mut cmd = Command::new(bin.path().join("sh"));
        cmd.arg("build.sh")
            .current_dir(&project)
            .env_clear()
            .env("PATH", bin.path());
        let run = run_command(&mut cmd, RUN_LIMIT);
        assert_eq!(run.code, 127, "{lang}: {}", run.all());
        assert!(
            run.stderr.contains(needs) && !run.stderr.contains("not found"),
            "{lang}: {}",
            run.all()
        );
        assert!(
            !project.join("build").exists()
                || std::fs::read_dir(project.join("build"))
                    .unwrap()
                    .next()
                    .is_none()
        );
    }
}
