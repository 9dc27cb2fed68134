//! README claims about a run — fresh and resumed runs, config.yaml keys,
//! per-step limits, retries, the post-load hook, the managed MongoDB, the
//! sandbox — each checked through the real binary with real worker
//! processes (small python3 servers written by each test, see `PY_WORKER`).

use std::time::Duration;

use promwasm_e2e::{
    closed_port, free_port, guest, outcomes, port_open, processes_mentioning, read_json, step_of,
    venv_python, MongoServer, Project, Stub,
};
use serde_json::json;

/// workers.json with one python worker `w1` on `port` (more `args` for it).
fn one_py_worker(p: &Project, port: u16, args: &[&str]) {
    let script = p.py_worker("worker.py");
    let mut command = vec![json!("python3"), json!(script)];
    command.extend(args.iter().map(|a| json!(a)));
    p.workers(json!({ "w1": { "port": port, "command": command } }));
}

/// A step of the test guest as YAML (`args` is a YAML flow mapping, `more` extra lines).
fn step(name: &str, stage: &str, args: &str, more: &str) -> String {
    let mut s = format!(
        "  - name: {name}\n    worker: w1\n    module: {{guests}}\n    stage: {stage}\n    args: {args}\n"
    );
    for line in more.lines().filter(|l| !l.is_empty()) {
        s.push_str(&format!("    {line}\n"));
    }
    s
}

fn fetch(url: &str) -> String {
    format!("{{ url: \"{url}\" }}")
}

fn read(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[test]
fn a_fresh_run_deletes_the_workers_db_files_and_a_resumed_run_keeps_what_they_wrote() {
    let p = Project::new();
    let port = free_port();
    one_py_worker(&p, port, &[]);
    let data = p.data();
    std::fs::write(data.join("database_w1.db"), "stale\n").unwrap();
    std::fs::write(data.join("other.db"), "another worker's\n").unwrap();
    std::fs::write(data.join("notes.txt"), "not a database\n").unwrap();
    let config = |fail: bool| {
        p.config(&format!(
            "max_rounds: 1\nsteps:\n{}{}{}",
            step(
                "write",
                "http-fetch",
                &fetch(&format!("http://127.0.0.1:{port}/write?value=fresh")),
                ""
            ),
            step("gate", "fail-if", &format!("{{ fail: {fail} }}"), ""),
            step(
                "read",
                "http-fetch",
                &fetch(&format!("http://127.0.0.1:{port}/read")),
                ""
            ),
        ));
    };

    config(true);
    p.run(&[]).expect_code(1);
    assert_eq!(
        read(&data.join("database_w1.db")).as_deref(),
        Some("fresh\n"),
        "deleted before the worker started, then written by it"
    );
    assert!(
        !data.join("other.db").exists(),
        "every *.db in data_dir goes"
    );
    assert!(data.join("notes.txt").exists(), "other files stay");

    std::fs::write(data.join("added.db"), "left alone\n").unwrap();
    config(false);
    p.run(&[])
        .expect_code(0)
        .expect_output("Resuming round 1 after step write");
    let report = p.report();
    assert_eq!(
        step_of(&report, 1, "read")["detail"],
        json!({ "status": 200, "body": "fresh\n" }),
        "the resumed run's worker reads what the first run's worker wrote"
    );
    assert!(
        data.join("added.db").exists(),
        "a resumed run deletes nothing"
    );

    p.run(&["--reset"]).expect_code(0);
    let report = p.report();
    assert_eq!(
        step_of(&report, 1, "read")["detail"]["body"],
        json!("fresh\n"),
        "--reset starts the worker from an empty file again"
    );
    assert!(!data.join("added.db").exists());
}

#[test]
fn a_resumed_run_sees_what_a_worker_wrote_to_the_managed_mongodb() {
    let p = Project::new();
    let port = free_port();
    let script = p.py_worker("worker.py");
    // The venv's python has pymongo.
    p.workers(json!({ "w1": { "port": port, "command": [venv_python(), script] } }));
    let config = |fail: bool| {
        p.config(&format!(
            "max_rounds: 1\nmongodb:\n  database: e2e\nsteps:\n{}{}{}",
            step(
                "insert",
                "http-fetch",
                &fetch(&format!(
                    "http://127.0.0.1:{port}/mongo-insert?db=e2e&collection=notes&value=v1"
                )),
                ""
            ),
            step("gate", "fail-if", &format!("{{ fail: {fail} }}"), ""),
            step("count", "db-count", "{ collection: notes }", "db: read"),
        ));
    };
    config(true);
    let first = p.run(&[]);
    first.expect_code(1).expect_output("MongoDB: started");
    assert_eq!(
        step_of(&p.report(), 1, "insert")["detail"],
        json!({ "status": 200, "body": "inserted" })
    );

    config(false);
    let resumed = p.run(&[]);
    resumed
        .expect_code(0)
        .expect_output("MongoDB: started")
        .expect_output("Resuming round 1 after step insert");
    assert_eq!(
        step_of(&p.report(), 1, "count")["detail"],
        json!({ "count": 1 }),
        "a new server process, the same data"
    );
}

#[test]
fn data_dir_and_steps_file_are_honoured_and_stage_defaults_to_the_step_name() {
    let p = Project::new();
    let report = p.root().join("w1.json");
    one_py_worker(&p, free_port(), &[&format!("report={}", report.display())]);
    // Relative to config.yaml's folder.
    p.config("max_rounds: 2\ndata_dir: ../run-data\nsteps_file: steps/list.yaml\n");
    p.write(
        "steps/list.yaml",
        &promwasm_e2e::with_guests(
            "- name: echo\n  worker: w1\n  module: {guests}\n  args: { from: list }\n",
        ),
    );
    p.run(&[]).expect_code(0);
    let data = p.root().join("run-data");
    let state = read_json(&data.join("test_state.json"));
    assert_eq!(state["current_round"], json!(2));
    assert_eq!(state["last_completed_step"], json!("echo"));
    assert!(
        data.join("runs/latest/logs/w1.log").is_file(),
        "logs live in data_dir/runs/<run id>/logs"
    );
    assert!(!p.data().join("test_state.json").exists());
    let db = std::path::PathBuf::from(read_json(&report)["env"]["DATABASE_PATH"].as_str().unwrap());
    assert_eq!(
        (
            std::fs::canonicalize(db.parent().unwrap()).unwrap(),
            db.file_name()
        ),
        (
            std::fs::canonicalize(&data).unwrap(),
            Some(std::ffi::OsStr::new("database_w1.db"))
        ),
        "the workers' database files live in data_dir"
    );
    let r = p.report();
    assert_eq!(
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["stage"].clone(), s["detail"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!("echo"), json!({ "from": "list" })),
            (json!("echo"), json!({ "from": "list" }))
        ],
        "no `stage`: the step's name is the stage"
    );

    // A steps file may also be a mapping with `steps:`.
    p.config("max_rounds: 1\ndata_dir: ../run-data\nsteps_file: steps/mapping.yaml\n");
    p.write(
        "steps/mapping.yaml",
        &promwasm_e2e::with_guests(
            "steps:\n  - name: echo\n    worker: w1\n    module: {guests}\n    args: { from: mapping }\n",
        ),
    );
    p.run(&["--reset"]).expect_code(0);
    assert_eq!(
        outcomes(&p.report()),
        vec![(1, "echo".to_string(), "passed".to_string())]
    );
    assert_eq!(
        p.report()["steps"][0]["detail"],
        json!({ "from": "mapping" })
    );
}

#[test]
fn middle_server_url_is_on_the_allow_list() {
    let middle = Stub::answering(200, "middle server");
    let p = Project::new();
    one_py_worker(&p, free_port(), &[]);
    let other = closed_port();
    p.config(&format!(
        "max_rounds: 1\nmiddle_server_url: {}\nsteps:\n{}{}{}",
        middle.url(""),
        step("middle", "http-fetch", &fetch(&middle.url("api/ping")), ""),
        step(
            "elsewhere",
            "http-fetch",
            &fetch(&format!("http://127.0.0.1:{other}/")),
            ""
        ),
        step(
            "config",
            "introspect",
            "{ config_key: middle_server_url }",
            ""
        ),
    ));
    p.run(&[]).expect_code(0);
    let report = p.report();
    assert_eq!(
        step_of(&report, 1, "middle")["detail"],
        json!({ "status": 200, "body": "middle server" })
    );
    assert!(middle.hits() >= 1);
    let denied = step_of(&report, 1, "elsewhere")["detail"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        denied.contains("not on the allow-list"),
        "only the middle server's port is allowed: {denied}"
    );
    assert_eq!(
        step_of(&report, 1, "config")["detail"]["config"],
        json!(middle.url("")),
        "and steps can read it"
    );
}

#[test]
fn per_step_timeout_memory_and_max_response_bytes_override_the_defaults() {
    let p = Project::new();
    let port = free_port();
    one_py_worker(&p, port, &[]);
    let big = fetch(&format!("http://127.0.0.1:{port}/big?n=1000"));
    let defaults = "defaults: { timeout: 1s, memory: 16MiB, max_response_bytes: 100 }\n";
    p.config(&format!(
        "max_rounds: 1\n{defaults}steps:\n{}{}{}{}",
        step("big-default", "http-fetch", &big, ""),
        step(
            "big-allowed",
            "http-fetch",
            &big,
            "max_response_bytes: 4KiB"
        ),
        step("grow-allowed", "grow", "{ mib: 24 }", "memory: 64MiB"),
        step("slow-allowed", "spin", "{}", "timeout: 3s"),
    ));
    p.run(&[]).expect_code(1).expect_output(
        "round 1, step `slow-allowed` (stage `spin`, worker `w1`): timed out after 3s",
    );
    let report = p.report();
    let error = step_of(&report, 1, "big-default")["detail"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("larger than 100 bytes"), "{error}");
    let allowed = &step_of(&report, 1, "big-allowed")["detail"];
    assert_eq!(allowed["status"], json!(200), "{allowed}");
    assert_eq!(allowed["body"].as_str().map(str::len), Some(1000));
    assert_eq!(
        step_of(&report, 1, "grow-allowed")["detail"],
        json!({ "allocated_mib": 24 })
    );
    let slow = step_of(&report, 1, "slow-allowed");
    assert!(
        slow["duration_ms"].as_u64().unwrap() >= 2900,
        "it ran for its own 3 s, not the default 1 s: {slow}"
    );

    // The same allocation under the default memory cap fails.
    p.config(&format!(
        "max_rounds: 1\n{defaults}steps:\n{}",
        step("grow-default", "grow", "{ mib: 24 }", "")
    ));
    p.run(&["--reset"])
        .expect_code(1)
        .expect_output("memory limit of 16 MiB exceeded");
}

#[test]
fn the_retry_interval_is_the_pause_between_tries() {
    let p = Project::new();
    one_py_worker(&p, free_port(), &[]);
    p.config(&format!(
        "max_rounds: 1\nsteps:\n{}{}{}",
        step(
            "paced",
            "flaky",
            "{ name: paced, succeed_on: 3 }",
            "retry: { attempts: 3, interval: 1500ms }"
        ),
        step(
            "default-pace",
            "flaky",
            "{ name: default, succeed_on: 2 }",
            "retry: { attempts: 2 }"
        ),
        step(
            "no-pause",
            "flaky",
            "{ name: quick, succeed_on: 3 }",
            "retry: { attempts: 3, interval: 0 }"
        ),
    ));
    p.run(&[]).expect_code(0);
    // When each try ran, by the guest's own clock.
    let state = p.state();
    let gaps = |name: &str| -> Vec<u64> {
        let at: Vec<u64> = serde_json::from_value(state["global"]["tries_at"][name].clone())
            .unwrap_or_else(|e| panic!("no tries_at.{name}: {e}: {state}"));
        at.windows(2).map(|w| w[1] - w[0]).collect()
    };
    let paced = gaps("paced");
    assert_eq!(paced.len(), 2, "{paced:?}");
    assert!(
        paced.iter().all(|&g| (1500..4000).contains(&g)),
        "1500ms between tries: {paced:?}"
    );
    let default = gaps("default");
    assert!(
        default.len() == 1 && (1000..3500).contains(&default[0]),
        "1s by default: {default:?}"
    );
    let quick = gaps("quick");
    assert!(
        quick.len() == 2 && quick.iter().all(|&g| g < 900),
        "no pause with interval 0: {quick:?}"
    );
}

#[test]
fn the_post_load_hook_is_never_retried() {
    let server = MongoServer::start();
    let p = Project::new();
    one_py_worker(&p, free_port(), &[]);
    p.write(".env", &format!("MONGO_URI={}\n", server.uri));
    // Every step may try three times; the hook would pass on its second try.
    p.config(&format!(
        "max_rounds: 1\nmongodb:\n  database: e2e\ndefaults:\n  retry: {{ attempts: 3, interval: 10ms }}\n\
         post_load:\n  module: {}\n  stage: flaky\n  args: {{ name: hook, succeed_on: 2 }}\nsteps:\n{}",
        guest("test_guests").display(),
        step("s", "echo", "{}", "")
    ));
    let run = p.run(&[]);
    run.expect_output("post-load")
        .expect_output("not yet (run 1)")
        .expect_no_output("not yet (run 2)")
        .expect_no_output("attempt 1/")
        .expect_no_output("passed      s@w1");
    // A failing hook is a failed step (exit 1), not a machine problem (3).
    run.expect_code(1);
}

#[test]
fn the_managed_mongodb_server_is_stopped_at_the_end() {
    let p = Project::new();
    one_py_worker(&p, free_port(), &[]);
    p.config(&format!(
        "max_rounds: 1\nmongodb:\n  database: e2e\nsteps:\n{}",
        step("hold", "spin", "{}", "timeout: 3s")
    ));
    // Its storage folder, on its command line, names this test's server alone.
    let storage = p.data().join("mongodb");
    let needle = storage.display().to_string();
    let mut live = p.start(&[]);
    let started = live.wait_for("MongoDB: started", Duration::from_secs(120));
    let port: u16 = started
        .split("mongodb://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no port in {started:?}"));
    live.wait_for("hold (spin on w1)", Duration::from_secs(120));
    // While a step runs, the server is there.
    assert!(
        port_open(port),
        "the server listens on {port} during the run"
    );
    let during = processes_mentioning(&needle);
    assert!(!during.is_empty(), "no process runs with {needle}");

    let run = live.finish(Duration::from_secs(120));
    run.expect_code(1).expect_output("timed out after 3s");
    assert!(!port_open(port), "port {port} is closed after the run");
    let after = processes_mentioning(&needle);
    assert!(
        after.is_empty(),
        "the server process is gone (was {during:?}); still running: {after:?}"
    );
}

#[test]
fn redirects_are_checked_against_the_allow_list_again() {
    let outside = Stub::answering(200, "should not be reached");
    let p = Project::new();
    let port = free_port();
    one_py_worker(&p, port, &[]);
    let redirect = |to: &str| fetch(&format!("http://127.0.0.1:{port}/redirect?to={to}"));
    p.config(&format!(
        "max_rounds: 1\nsteps:\n{}{}",
        step(
            "to-outside",
            "http-fetch",
            &redirect(&outside.url("secret")),
            ""
        ),
        step(
            "to-itself",
            "http-fetch",
            &redirect(&format!("http://127.0.0.1:{port}/healthz")),
            ""
        ),
    ));
    p.run(&[]).expect_code(0);
    let report = p.report();
    let error = step_of(&report, 1, "to-outside")["detail"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains(&format!(
            "redirect to {} is not on the allow-list",
            outside.url("secret")
        )),
        "{error}"
    );
    assert_eq!(outside.hits(), 0, "the redirect was not followed");
    assert_eq!(
        step_of(&report, 1, "to-itself")["detail"],
        json!({ "status": 200, "body": "ok" }),
        "a redirect to an allowed host is followed"
    );
}

#[test]
fn malformed_json_from_a_guest_fails_its_step_naming_it() {
    for (stage, part) in [
        ("malformed-execute", "execute"),
        ("malformed-prepare", "prepare"),
    ] {
        let p = Project::new();
        one_py_worker(&p, free_port(), &[]);
        p.config(&format!(
            "max_rounds: 1\nsteps:\n{}{}{}",
            step("before", "echo", "{ n: 1 }", ""),
            step("bad", stage, "{}", ""),
            step("after", "echo", "{}", ""),
        ));
        let run = p.run(&[]);
        run.expect_code(1).expect_line(&[
            &format!("round 1, step `bad` (stage `{stage}`, worker `w1`)"),
            &format!("{part} returned malformed JSON"),
            r#"{"half": [1, 2"#,
        ]);
        let report = p.report();
        assert_eq!(
            outcomes(&report),
            vec![
                (1, "before".to_string(), "passed".to_string()),
                (1, "bad".to_string(), "failed".to_string()),
                (1, "after".to_string(), "not-run".to_string())
            ]
        );
        assert_eq!(
            p.state()["last_completed_step"],
            json!("before"),
            "the state file survives"
        );
    }
}

#[test]
fn a_guest_blocked_in_a_host_call_is_timed_out() {
    let silent = Stub::silent();
    let p = Project::new();
    one_py_worker(&p, free_port(), &[]);
    // No timeout of its own on the call: only the step's 2 s deadline ends it.
    p.config(&format!(
        "max_rounds: 1\nallowed_hosts: [\"127.0.0.1:{}\"]\nsteps:\n{}{}",
        silent.port,
        step(
            "blocked",
            "http-fetch",
            &fetch(&silent.url("never")),
            "timeout: 2s"
        ),
        step("after", "echo", "{}", ""),
    ));
    let run = p.run(&[]);
    assert!(silent.hits() >= 1, "the call was made\n{}", run.all());
    let report = p.report();
    let blocked = step_of(&report, 1, "blocked");
    let ms = blocked["duration_ms"].as_u64().unwrap();
    assert!(
        (1900..8000).contains(&ms),
        "ended at its deadline, not before and not much after: {blocked}"
    );
    // Either the host ends the call at the deadline and the guest sees a
    // timeout, or the step itself is stopped: both keep the run going.
    let timed_out = match blocked["outcome"].as_str() {
        Some("timed-out") => blocked["detail"]
            .as_str()
            .is_some_and(|d| d.contains("timed out after 2s")),
        Some("passed") => blocked["detail"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out") && e.contains(&silent.url("never"))),
        _ => false,
    };
    assert!(timed_out, "{blocked}\n{}", run.all());
    if blocked["outcome"] == "passed" {
        run.expect_code(0);
        assert_eq!(step_of(&report, 1, "after")["outcome"], json!("passed"));
    } else {
        run.expect_code(1);
    }
}
