//! Harness for the end-to-end tests: the real `promwasm` and `orca-server`
//! binaries and the real guest components, all built by `cargo xtask test`
//! (which builds each guest once for every test), driven in throwaway
//! project folders, plus a real MongoDB-compatible server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn built(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} not found at {}: run the tests with `cargo xtask test`, which builds it",
        path.display()
    );
    path
}

/// The `promwasm` binary.
pub fn promwasm_bin() -> PathBuf {
    built(repo_root().join("target/debug/promwasm"), "promwasm")
}

/// The example worker server.
pub fn orca_server_bin() -> PathBuf {
    built(repo_root().join("target/debug/orca-server"), "orca-server")
}

/// A guest component, e.g. `test_guests` or `orca_steps`.
pub fn guest(name: &str) -> PathBuf {
    let dir = std::env::var_os("PROMWASM_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/wasm32-wasip2/guest"));
    built(dir.join(format!("{name}.wasm")), "guest component")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The finished `promwasm` process.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

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
}

/// `promwasm` with the shared compile cache and MongoDB server folder.
pub fn promwasm() -> Command {
    let mut cmd = Command::new(promwasm_bin());
    cmd.env(
        "PROMWASM_CACHE_DIR",
        std::env::var_os("PROMWASM_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target/promwasm-cache")),
    )
    .env(
        "PROMWASM_MONGO_BIN_DIR",
        std::env::var_os("PROMWASM_MONGO_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venv/bin")),
    )
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

    /// config.yaml: `task_id: test-task` plus `body`; `{guests}` and `{orca}`
    /// are replaced by the test guest and example step component paths.
    pub fn config(&self, body: &str) -> &Self {
        let body = body
            .replace("{guests}", &guest("test_guests").to_string_lossy())
            .replace("{orca}", &guest("orca_steps").to_string_lossy());
        self.write("config.yaml", &format!("task_id: test-task\n{body}"))
    }

    /// Run `promwasm run tests/config.yaml` with extra arguments.
    pub fn run(&self, args: &[&str]) -> Run {
        let json = self.tests().join("report.json");
        let out = promwasm()
            .arg("run")
            .arg(self.tests().join("config.yaml"))
            .arg("--json")
            .arg(&json)
            .args(args)
            .output()
            .unwrap();
        Run::from(out)
    }

    /// Spawn `promwasm run` without waiting (for signal tests).
    pub fn spawn(&self, args: &[&str]) -> Child {
        promwasm()
            .arg("run")
            .arg(self.tests().join("config.yaml"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The JSON report of the last run.
    pub fn report(&self) -> Value {
        read_json(&self.tests().join("report.json"))
    }

    /// The persisted state.
    pub fn state(&self) -> Value {
        read_json(&self.tests().join("data/test_state.json"))
    }
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
        .unwrap()
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

/// A MongoDB-compatible server (SecantusDB from `.venv`) started by a test; killed on drop.
pub struct MongoServer {
    child: Child,
    /// `mongodb://127.0.0.1:PORT`.
    pub uri: String,
}

impl MongoServer {
    /// Start one on a free port with in-memory storage.
    pub fn start() -> Self {
        let dir = std::env::var_os("PROMWASM_MONGO_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venv/bin"));
        let bin = built(dir.join("secantusd-py"), "secantusd-py");
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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "secantusd-py did not listen on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
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
