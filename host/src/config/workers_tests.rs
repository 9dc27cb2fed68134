//! Tests of `workers`, beside it.
//!
//! (Long by nature: one case per rule.)

use super::*;
use crate::config::diag::Pos;

/// A project root with a `tests` folder (config.yaml's, where workers.json usually is).
struct Fixture {
    root: tempfile::TempDir,
    env: Env,
}

/// What loading a workers.json gave.
struct Loaded {
    workers: Vec<WorkerPlan>,
    diags: Diagnostics,
}

impl Loaded {
    fn worker(&self, name: &str) -> &WorkerPlan {
        self.workers
            .iter()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("no worker `{name}`; errors:\n{}", self.diags))
    }

    /// The one error whose message contains `needle`.
    fn error(&self, needle: &str) -> &Diagnostic {
        self.diags.only(needle)
    }

    fn ok(&self) {
        assert!(self.diags.0.is_empty(), "{}", self.diags);
    }
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("tests/data")).unwrap();
        Fixture {
            root,
            env: Env::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn set(&mut self, var: &str, value: &str) {
        self.env.insert(var.into(), value.into());
    }

    /// A new keypair file at `name` (relative to the project root).
    fn keypair(&self, name: &str) -> Keypair {
        let key = Keypair::generate().unwrap();
        self.write(name, &key.to_solana_json());
        key
    }

    /// Load `json` written as `tests/workers.json`.
    fn load(&self, json: &str) -> Loaded {
        self.load_at("tests/workers.json", json, None)
    }

    fn load_at(&self, name: &str, json: &str, server_entrypoint: Option<&str>) -> Loaded {
        let file = self.write(name, json);
        let base_dir = self.path("tests");
        let data_dir = self.path("tests/data");
        let defaults = Defaults {
            base_port: 5000,
            base_dir: &base_dir,
            project_root: self.root.path(),
            data_dir: &data_dir,
            server_entrypoint,
            env: &self.env,
        };
        let mut diags = Diagnostics::default();
        let workers = load(&file, &defaults, &mut diags);
        Loaded { workers, diags }
    }
}

fn pos(line: usize, column: usize) -> Option<Pos> {
    Some(Pos { line, column })
}

#[test]
fn reads_prometheus_test_workers() {
    let mut f = Fixture::new();
    f.write("server/main.py", "");
    let staking = f.keypair("keys/staking.json");
    let main = f.keypair("keys/main.json");
    f.set("W1_TOKEN", "secret-1");
    f.set("STAKING_KEYPAIR", "keys/staking.json");
    f.set("MAIN_KEYPAIR", &f.path("keys/main.json").to_string_lossy());
    let loaded = f.load_at(
        "tests/workers.json",
        r#"{
  "worker1": {
    "env_vars": { "GITHUB_TOKEN": "W1_TOKEN", "DATA_DIR": "data/worker1" },
    "keypairs": { "staking": "STAKING_KEYPAIR", "main": "MAIN_KEYPAIR" },
    "repo_owner": "alice",
    "extra": { "nested": [1, 2] }
  },
  "worker2": { "port": 6001, "server_entrypoint": "server/main.py" },
  "worker3": {}
}"#,
        Some("server/main.py"),
    );
    loaded.ok();
    let names: Vec<_> = loaded.workers.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["worker1", "worker2", "worker3"]);

    let w1 = loaded.worker("worker1");
    assert_eq!(w1.port, 5000, "base_port + index");
    assert_eq!(w1.url, "http://localhost:5000");
    assert_eq!(loaded.worker("worker2").port, 6001);
    assert_eq!(
        loaded.worker("worker3").port,
        5002,
        "index counts every worker"
    );

    let launch = w1.launch.as_ref().unwrap();
    let entry = f.path("server/main.py").to_string_lossy().into_owned();
    assert_eq!(launch.command, ["python3".to_string(), entry]);
    assert_eq!(launch.cwd, f.path("tests"));
    assert!(matches!(w1.ready, Readiness::Tcp { timeout } if timeout == Duration::from_secs(30)));

    assert_eq!(
        w1.env,
        BTreeMap::from([
            ("DATA_DIR".to_string(), "data/worker1".to_string()),
            ("GITHUB_TOKEN".to_string(), "secret-1".to_string()),
        ]),
        "DATA_DIR is passed literally, the others are looked up"
    );
    assert_eq!(
        w1.keys["staking"].public_key_base58(),
        staking.public_key_base58(),
        "a relative keypair path is resolved against the project root"
    );
    assert_eq!(
        w1.keys["main"].public_key_base58(),
        main.public_key_base58()
    );

    assert_eq!(w1.database_path, f.path("tests/data/database_worker1.db"));
    assert_eq!(w1.fields["repo_owner"], json!("alice"));
    assert_eq!(w1.fields["extra"], json!({"nested": [1, 2]}));
    assert_eq!(w1.fields["name"], json!("worker1"));
    assert_eq!(w1.fields["port"], json!(5000));
    assert_eq!(w1.fields["url"], json!("http://localhost:5000"));
    assert!(
        !w1.fields.contains_key("env_vars") && !w1.fields.contains_key("keypairs"),
        "steps see mapped values and public keys, not where they come from"
    );
}

#[test]
fn entrypoints_that_are_not_python_run_directly() {
    let f = Fixture::new();
    f.write("bin/server", "");
    let loaded = f.load_at("tests/workers.json", r#"{ "w": {} }"#, Some("bin/server"));
    loaded.ok();
    let command = &loaded.worker("w").launch.as_ref().unwrap().command;
    assert_eq!(
        command,
        &[f.path("bin/server").to_string_lossy().into_owned()]
    );
}

#[test]
fn a_missing_entrypoint_is_located() {
    let f = Fixture::new();
    let loaded = f.load("{\n  \"w1\": {},\n  \"w2\": { \"server_entrypoint\": \"nope.py\" }\n}");
    assert!(loaded.workers.is_empty());
    let w1 = loaded.error("server entrypoint of worker `w1` not found");
    assert!(
        w1.message.ends_with("main.py"),
        "main.py is the default: {w1}"
    );
    assert_eq!(w1.pos, pos(2, 9));
    assert!(w1.hint.as_deref().unwrap().contains("`command`"));
    assert_eq!(
        loaded
            .error("server entrypoint of worker `w2` not found")
            .pos,
        pos(3, 32)
    );
}

#[test]
fn comments_of_both_kinds_are_allowed() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"// workers for the e2e test
{
  /* the first worker,
     already running */
  "w1": { "url": "http://example.com:8080" }, // trailing comment
  "w2": { /* inline */ "url": "http://example.com:8081/" }
}"#,
    );
    loaded.ok();
    assert_eq!(loaded.workers.len(), 2);

    // Positions after comments are where an editor shows them.
    let located =
        f.load("{\n  // first\n  \"w\": { /* a */ \"url\": 5 } // end\n  // more\n  , \"v\": 1\n}");
    assert_eq!(located.error("`url` of worker `w`").pos, pos(3, 25));
    assert_eq!(
        located.error("worker `v` must be a mapping").pos,
        pos(5, 10)
    );
}

#[test]
fn url_workers_are_not_launched() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "remote": { "url": "http://10.0.0.5:9000", "port": 9000 },
  "broken": { "url": "not a url" }
}"#,
    );
    let remote = loaded.worker("remote");
    assert!(remote.launch.is_none());
    assert_eq!(remote.url, "http://10.0.0.5:9000");
    assert_eq!(remote.fields["url"], json!("http://10.0.0.5:9000"));
    assert_eq!(loaded.error("`url` of worker `broken`").pos, pos(3, 22));
}

#[test]
fn a_remote_workers_port_is_its_urls() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "remote": { "url": "http://127.0.0.1:5931" },
  "https": { "url": "https://example.org/api" },
  "said": { "url": "http://127.0.0.1:5932", "port": 7000 }
}"#,
    );
    loaded.ok();
    assert_eq!(loaded.worker("remote").port, 5931);
    assert_eq!(loaded.worker("remote").fields["port"], json!(5931));
    assert_eq!(loaded.worker("https").port, 443);
    assert_eq!(loaded.worker("said").port, 7000, "an explicit port wins");
}

#[test]
fn two_local_workers_on_one_port_are_located() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "a": { "command": "srv", "port": 6000 },
  "b": { "command": "srv", "port": 6001 },
  "c": { "command": "srv",
         "port": 6000 },
  "remote": { "url": "http://127.0.0.1:6000" }
}"#,
    );
    let e = loaded.error("workers `a` and `c` both listen on port 6000");
    assert_eq!(e.pos, pos(5, 18));
    assert_eq!(loaded.workers.len(), 3, "c is dropped, the remote one kept");
}

#[test]
fn commands_as_lists_or_strings_resolved_against_workers_json() {
    let f = Fixture::new();
    // workers.json in its own folder, apart from config.yaml's.
    f.write("conf/bin/server", "");
    let loaded = f.load_at(
        "conf/workers.json",
        r#"{
  "list": { "command": ["./bin/server", "--port", "7000"] },
  "string": { "command": "node  server.js --quiet" },
  "absolute": { "command": ["/bin/sh", "-c", "exit 0"] }
}"#,
        None,
    );
    loaded.ok();
    let server = f.path("conf/./bin/server").to_string_lossy().into_owned();
    let list = loaded.worker("list").launch.as_ref().unwrap();
    assert_eq!(list.command, [server.as_str(), "--port", "7000"]);
    assert_eq!(
        list.cwd,
        f.path("tests"),
        "workers run in config.yaml's folder"
    );
    assert_eq!(
        loaded.worker("string").launch.as_ref().unwrap().command,
        ["node", "server.js", "--quiet"],
        "a program without `/` is found on PATH; a string splits at whitespace"
    );
    assert_eq!(
        loaded.worker("absolute").launch.as_ref().unwrap().command[0],
        "/bin/sh"
    );
}

#[test]
fn bad_commands_are_located() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "missing": { "command": ["./not-built/server"] },
  "empty": { "command": "  " },
  "mixed": { "command": ["node", 1] }
}"#,
    );
    assert!(loaded.workers.is_empty());
    let missing = loaded.error("`command` of worker `missing`");
    assert!(missing.message.ends_with("does not exist"), "{missing}");
    assert_eq!(missing.pos, pos(2, 27));
    assert!(missing
        .hint
        .as_deref()
        .unwrap()
        .contains("folder of workers.json"));
    assert_eq!(
        loaded.error("`command` of worker `empty` must be").pos,
        pos(3, 25)
    );
    assert_eq!(
        loaded.error("`command` of worker `mixed` must be").pos,
        pos(4, 25)
    );
}

#[test]
fn readiness_forms() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "default": { "url": "http://localhost:1" },
  "tcp": { "url": "http://localhost:2", "ready": "tcp" },
  "path": { "url": "http://localhost:3", "ready": "/healthz" },
  "http": { "url": "http://localhost:4", "ready": { "http": "/ready", "timeout": "5s" } },
  "slow": { "url": "http://localhost:5", "ready": { "tcp": true, "timeout": 90 } }
}"#,
    );
    loaded.ok();
    let ready = |name| loaded.worker(name).ready.clone();
    let s = Duration::from_secs;
    assert!(matches!(ready("default"), Readiness::Tcp { timeout } if timeout == s(30)));
    assert!(matches!(ready("tcp"), Readiness::Tcp { timeout } if timeout == s(30)));
    assert!(
        matches!(ready("path"), Readiness::Http { path, timeout } if path == "/healthz" && timeout == s(30))
    );
    assert!(
        matches!(ready("http"), Readiness::Http { path, timeout } if path == "/ready" && timeout == s(5))
    );
    assert!(matches!(ready("slow"), Readiness::Tcp { timeout } if timeout == s(90)));
}

#[test]
fn bad_readiness_is_located() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "a": { "url": "http://localhost:1", "ready": "healthz" },
  "b": { "url": "http://localhost:2", "ready": { "http": "healthz" } },
  "c": { "url": "http://localhost:3", "ready": { "htpp": "/x", "timeout": "soon" } },
  "d": { "url": "http://localhost:4", "ready": 5 }
}"#,
    );
    assert!(loaded.workers.is_empty(), "{:?}", loaded.workers);
    let a = loaded.error("`ready` of worker `a` must be `tcp` or an HTTP path");
    assert_eq!(a.pos, pos(2, 48));
    assert_eq!(a.hint.as_deref(), Some("e.g. \"ready\": \"/healthz\""));
    assert_eq!(
        loaded
            .error("`ready.http` of worker `b` must be a path")
            .pos,
        pos(3, 58)
    );
    let htpp = loaded.error("unknown key `htpp`");
    assert_eq!(htpp.pos, pos(4, 50));
    assert_eq!(htpp.hint.as_deref(), Some("did you mean `http`?"));
    assert_eq!(
        loaded.error("`timeout`: expected a duration").pos,
        pos(4, 75)
    );
    assert_eq!(
        loaded
            .error("`ready` of worker `d` must be a mapping, found a number")
            .pos,
        pos(5, 48)
    );
    assert_eq!(loaded.diags.errors(), 5, "{}", loaded.diags);
}

#[test]
fn missing_env_vars_are_located() {
    let mut f = Fixture::new();
    f.set("EMPTY", "");
    let loaded = f.load(
        r#"{
  "w": {
    "url": "http://localhost:1",
    "env_vars": { "TOKEN": "NOT_SET", "OTHER": "EMPTY", "NUM": 5 }
  }
}"#,
    );
    assert!(loaded.workers.is_empty());
    let unset = loaded.error("worker `w` maps `TOKEN` from `NOT_SET`, which is not set");
    assert_eq!(unset.pos, pos(4, 28));
    assert_eq!(
        unset.hint.as_deref(),
        Some("set `NOT_SET` in the environment or in a .env file")
    );
    loaded.error("maps `OTHER` from `EMPTY`, which is not set");
    assert_eq!(
        loaded
            .error("`env_vars.NUM` of worker `w` must name an environment variable")
            .pos,
        pos(4, 64)
    );
    assert_eq!(loaded.diags.errors(), 3, "{}", loaded.diags);
}

#[test]
fn literal_env_values_reach_the_worker_but_not_its_fields() {
    let mut f = Fixture::new();
    f.set("FROM_ENV", "mapped");
    let loaded = f.load(
        r#"{
  "w": {
    "url": "http://localhost:1",
    "env": { "TASK_ID": "task-1", "DEBUG": true, "WORKERS": 3 },
    "env_vars": { "MAPPED": "FROM_ENV" }
  }
}"#,
    );
    loaded.ok();
    let w = loaded.worker("w");
    assert_eq!(w.env["TASK_ID"], "task-1");
    assert_eq!(w.env["DEBUG"], "true");
    assert_eq!(w.env["WORKERS"], "3");
    assert_eq!(w.env["MAPPED"], "mapped");
    assert!(
        w.fields.get("env").is_none(),
        "env values stay out of fields"
    );
}

#[test]
fn bad_literal_env_is_located() {
    let f = Fixture::new();
    let loaded = f.load(
        r#"{
  "w": {
    "url": "http://localhost:1",
    "env": { "LIST": [1], "TWICE": "x" },
    "env_vars": { "TWICE": "X" }
  }
}"#,
    );
    assert_eq!(
        loaded
            .error("`env.LIST` of worker `w` must be a string, number or boolean, not a list")
            .pos,
        pos(4, 22)
    );
    assert_eq!(
        loaded
            .error("worker `w` sets `TWICE` in both `env` and `env_vars`")
            .pos,
        pos(5, 19)
    );
}

#[test]
fn unreadable_keypairs_are_located() {
    let mut f = Fixture::new();
    f.write("keys/short.json", "[1, 2, 3]");
    f.set("SHORT", "keys/short.json");
    f.set("GONE", "keys/gone.json");
    let loaded = f.load(
        r#"{
  "a": { "url": "http://localhost:1", "keypairs": { "staking": "UNSET_VAR" } },
  "b": { "url": "http://localhost:2", "keypairs": { "staking": "GONE", "main": "SHORT" } },
  "c": { "url": "http://localhost:3", "keypairs": { "stakng": "SHORT" } }
}"#,
    );
    assert!(loaded.workers.is_empty());
    let unset = loaded.error("staking keypair path env var `UNSET_VAR` is not set");
    assert_eq!(unset.pos, pos(2, 64));
    assert!(unset.hint.as_deref().unwrap().contains("promwasm keygen"));
    let gone = loaded.error("worker `b`: cannot load staking keypair from `GONE`");
    assert_eq!(gone.pos, pos(3, 64));
    let short = loaded.error("worker `b`: cannot load main keypair from `SHORT`");
    assert_eq!(short.pos, pos(3, 80));
    assert!(short.hint.as_deref().unwrap().contains("64 numbers"));
    let typo = loaded.error("unknown key `stakng` in `keypairs` of worker `c`");
    assert_eq!(typo.hint.as_deref(), Some("did you mean `staking`?"));
    assert_eq!(loaded.diags.errors(), 4, "{}", loaded.diags);
}

#[test]
fn a_bad_worker_is_dropped_and_the_others_kept() {
    let f = Fixture::new();
    let loaded = f.load(
            r#"{ "good": { "url": "http://localhost:1" }, "bad": { "url": "http://localhost:2", "port": "x" }, "odd": 3 }"#,
        );
    assert_eq!(loaded.workers.len(), 1);
    assert_eq!(loaded.workers[0].name, "good");
    loaded.error("`port` in worker `bad` must be a whole number from 0 to 65535");
    loaded.error("worker `odd` must be a mapping, found a number");
}

#[test]
fn file_problems_are_located() {
    let f = Fixture::new();
    let syntax = f.load("{\n  \"w\": { \"port\": 1,, }\n}");
    let d = syntax.error("invalid JSON");
    assert_eq!(d.pos.unwrap().line, 2);
    assert_eq!(d.file, f.path("tests/workers.json"));
    let list = f.load("[1, 2]");
    list.error(
        "workers.json (a mapping of worker names to settings) must be a mapping, found a list",
    );
    let empty = f.load("{}");
    assert_eq!(empty.error("workers.json names no workers").pos, pos(1, 1));

    let mut diags = Diagnostics::default();
    let base = f.path("tests");
    let env = Env::new();
    let defaults = Defaults {
        base_port: 5000,
        base_dir: &base,
        project_root: f.root.path(),
        data_dir: &base,
        server_entrypoint: None,
        env: &env,
    };
    load(&f.path("nowhere.json"), &defaults, &mut diags);
    assert_eq!(diags.0.len(), 1);
    assert!(diags.0[0].message.starts_with("cannot read workers file"));
    assert!(diags.0[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("workers_config"));
}

#[test]
fn ports_past_65535_are_an_error() {
    let f = Fixture::new();
    let file = f.write(
        "tests/workers.json",
        r#"{ "a": { "command": "srv" }, "b": { "command": "srv" } }"#,
    );
    let base = f.path("tests");
    let env = Env::new();
    let defaults = Defaults {
        base_port: 65535,
        base_dir: &base,
        project_root: f.root.path(),
        data_dir: &base,
        server_entrypoint: None,
        env: &env,
    };
    let mut diags = Diagnostics::default();
    let workers = load(&file, &defaults, &mut diags);
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].port, 65535);
    assert_eq!(diags.0.len(), 1, "{diags}");
    assert!(diags.0[0].message.contains("base_port + 1 is past 65535"));
}
