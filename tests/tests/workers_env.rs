//! What the README promises about worker processes, checked against real
//! worker processes (a small python3 server written by each test, see
//! `PY_WORKER`) started by the real binary: their environment, ports,
//! readiness, parallel start, output, and the ways to say how to start one.

use std::path::Path;

use mongodb::bson::doc;
use promwasm_e2e::{
    closed_port, free_port, free_ports, read_json, step_of, MongoServer, Project, Stub, PY_WORKER,
};
use serde_json::{json, Value};

/// A python worker's `report=` file.
fn report_arg(path: &Path) -> String {
    format!("report={}", path.display())
}

/// `{port, command: [python3, worker.py, args…]}` plus `extra` fields.
fn py_worker(p: &Project, port: u16, args: &[&str], extra: Value) -> Value {
    let script = p.py_worker("worker.py");
    let mut command = vec![json!("python3"), json!(script)];
    command.extend(args.iter().map(|a| json!(a)));
    let mut worker = json!({ "port": port, "command": command });
    if let Value::Object(extra) = extra {
        worker.as_object_mut().unwrap().extend(extra);
    }
    worker
}

fn env_of(report: &Value) -> &serde_json::Map<String, Value> {
    report["env"]
        .as_object()
        .expect("the worker reports its env")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

const ONE_ECHO: &str =
    "steps:\n  - name: s\n    worker: w1\n    module: {guests}\n    stage: echo\n";

#[test]
fn a_worker_gets_the_environment_mapped_and_literal_vars_port_database_path_name_mongo_uri_and_run_id(
) {
    let server = MongoServer::start();
    let p = Project::new();
    let port = free_port();
    let report = p.root().join("w1.json");
    p.workers(json!({
        "w1": py_worker(&p, port, &[&report_arg(&report)], json!({
            "env_vars": {
                "API_KEY": "E2E_API_KEY",
                "FROM_PROCESS": "E2E_FROM_PROCESS",
                "FROM_ROOT": "E2E_ROOT_ONLY",
                // prometheus-test passes DATA_DIR literally: no variable of that name exists.
                "DATA_DIR": "literal/data/dir",
            },
            // Literal values, as in prometheus-test's README.
            "env": { "LITERAL": "as written", "WORKERS": 3 },
        }))
    }));
    // The project root's .env fills gaps; tests/.env overrides it.
    std::fs::write(
        p.root().join(".env"),
        "E2E_API_KEY=from-root-env\nE2E_ROOT_ONLY=root-only\n",
    )
    .unwrap();
    p.write(
        ".env",
        &format!("E2E_API_KEY=from-tests-env\nMONGO_URI={}\n", server.uri),
    );
    p.config(&format!(
        "max_rounds: 1\nmongodb:\n  database: e2e\n{ONE_ECHO}"
    ));
    p.run_with(&[], |cmd| {
        cmd.env("E2E_FROM_PROCESS", "from-process")
            .env("E2E_PLAIN", "not mapped, inherited");
    })
    .expect_code(0);
    let run_id = p.report()["run_id"].as_str().unwrap().to_string();

    let report = read_json(&report);
    let env = env_of(&report);
    let expect = [
        ("LITERAL", "as written".to_string()),
        ("WORKERS", "3".to_string()),
        ("PROMWASM_RUN_ID", run_id),
        ("WORKER_NAME", "w1".to_string()),
        ("DATA_DIR", "literal/data/dir".to_string()),
        ("API_KEY", "from-tests-env".to_string()),
        ("FROM_PROCESS", "from-process".to_string()),
        ("FROM_ROOT", "root-only".to_string()),
        ("E2E_PLAIN", "not mapped, inherited".to_string()),
        ("PORT", port.to_string()),
        (
            "DATABASE_PATH",
            p.data().join("database_w1.db").display().to_string(),
        ),
        ("MONGO_URI", server.uri.clone()),
    ];
    let wrong: Vec<_> = expect
        .iter()
        .filter(|(k, v)| env.get(*k).and_then(Value::as_str) != Some(v.as_str()))
        .map(|(k, v)| format!("{k}: expected {v:?}, got {:?}", env.get(*k)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn mongo_uri_from_the_environment_is_used_for_seeding_and_handed_to_workers() {
    let server = MongoServer::start();
    let p = Project::new();
    let report = p.root().join("w1.json");
    p.workers(json!({ "w1": py_worker(&p, free_port(), &[&report_arg(&report)], json!({})) }));
    p.write("data/todos.json", r#"[{"title": "a"}, {"title": "b"}]"#);
    p.config(&format!(
        "mongodb:\n  database: e2e\n  collections:\n    todos:\n      data_file: todos.json\n      required_count: 2\n{ONE_ECHO}"
    ));
    // No .env names it: only the environment of `promwasm run`.
    let run = p.run_with(&[], |cmd| {
        cmd.env("MONGO_URI", &server.uri);
    });
    run.expect_code(0)
        .expect_no_output("MongoDB: started")
        .expect_output("2 rounds (documents with taskId test-task in `todos`)");
    let seeded = rt().block_on(async {
        server
            .db("e2e")
            .await
            .collection::<mongodb::bson::Document>("todos")
            .count_documents(doc! {"taskId": "test-task"})
            .await
            .unwrap()
    });
    assert_eq!(seeded, 2, "seeded into the server MONGO_URI names");
    assert_eq!(
        env_of(&read_json(&report))["MONGO_URI"],
        json!(server.uri),
        "and the workers get the same URI"
    );
}

#[test]
fn defaults_task_id_base_port_plus_index_and_database_builder247() {
    let server = MongoServer::start();
    let p = Project::new();
    let base = free_ports(2);
    let [first, second] = [p.root().join("first.json"), p.root().join("second.json")];
    // No `port`: each worker gets base_port + its index.
    let mut workers = serde_json::Map::new();
    for (name, report) in [("first", &first), ("second", &second)] {
        let mut w = py_worker(&p, 0, &[&report_arg(report)], json!({}));
        w.as_object_mut().unwrap().remove("port");
        workers.insert(name.into(), w);
    }
    p.workers(Value::Object(workers));
    p.write(".env", &format!("MONGO_URI={}\n", server.uri));
    p.write("data/todos.json", r#"[{"title": "a"}, {"title": "b"}]"#);
    // No task_id, no mongodb.database, no max_rounds: rounds are counted
    // from the documents with the default task id in the default database.
    p.config_raw(&format!(
        "base_port: {base}\nmongodb:\n  collections:\n    todos:\n      data_file: todos.json\n      required_count: 2\n\
         steps:\n  - name: look\n    worker: second\n    module: {{guests}}\n    stage: introspect\n    args: {{ config_key: task_id }}\n"
    ));
    let run = p.run(&[]);
    run.expect_code(0)
        .expect_output(&format!("started worker first on port {base} "))
        .expect_output(&format!("started worker second on port {} ", base + 1))
        .expect_output("2 rounds (documents with taskId test-task-123 in `todos`)");
    assert_eq!(env_of(&read_json(&first))["PORT"], json!(base.to_string()));
    assert_eq!(
        env_of(&read_json(&second))["PORT"],
        json!((base + 1).to_string())
    );
    let report = p.report();
    let look = step_of(&report, 1, "look");
    assert_eq!(look["detail"]["config"], json!("test-task-123"), "{look}");
    assert_eq!(look["detail"]["worker"]["port"], json!(base + 1), "{look}");
    assert_eq!(report["max_rounds"], json!(2));
    let (default_db, other) = rt().block_on(async {
        let count = |db: &'static str| {
            let server = &server;
            async move {
                server
                    .db(db)
                    .await
                    .collection::<mongodb::bson::Document>("todos")
                    .count_documents(doc! {"taskId": "test-task-123"})
                    .await
                    .unwrap()
            }
        };
        (count("builder247").await, count("e2e").await)
    });
    assert_eq!(
        (default_db, other),
        (2, 0),
        "seeded into `builder247` with taskId test-task-123"
    );

    // A `url` worker's port is its URL's, not base_port + index: a step
    // that builds its URL from `port` reaches the worker.
    let stub = Stub::answering(200, "ok");
    p.workers(json!({
        "a": { "url": stub.url("") },
        "b": { "url": stub.url("") },
    }));
    p.config_raw(
        "max_rounds: 1\nsteps:\n  - name: look\n    worker: b\n    module: {guests}\n    stage: introspect\n",
    );
    p.run(&["--reset"]).expect_code(0);
    let report = p.report();
    let d = &step_of(&report, 1, "look")["detail"];
    assert_eq!(d["worker"]["port"], json!(stub.port), "{d}");
}

#[test]
fn workers_start_in_parallel() {
    let p = Project::new();
    let reports = [p.root().join("slow1.json"), p.root().join("slow2.json")];
    // Each sleeps 2 s before it listens: one after the other would take 4 s or more.
    p.workers(json!({
        "slow1": py_worker(&p, free_port(), &[&report_arg(&reports[0]), "sleep=2"], json!({})),
        "slow2": py_worker(&p, free_port(), &[&report_arg(&reports[1]), "sleep=2"], json!({})),
    }));
    p.config("max_rounds: 1\nsteps:\n  - name: s\n    worker: slow2\n    module: {guests}\n    stage: echo\n");
    p.run(&[]).expect_code(0);
    // Their own clocks: when each process started and when it listened.
    let times: Vec<(f64, f64)> = reports
        .iter()
        .map(|r| {
            let r = read_json(r);
            (
                r["started"].as_f64().unwrap(),
                r["listening"].as_f64().unwrap(),
            )
        })
        .collect();
    for (started, listening) in &times {
        assert!(listening - started >= 1.9, "each slept first: {times:?}");
    }
    let first_start = times.iter().map(|t| t.0).fold(f64::MAX, f64::min);
    let last_ready = times.iter().map(|t| t.1).fold(f64::MIN, f64::max);
    assert!(
        (times[0].0 - times[1].0).abs() < 1.0,
        "both started at once: {times:?}"
    );
    assert!(
        last_ready - first_start < 3.5,
        "both ready in well under 4 s: {times:?}"
    );
}

#[test]
fn http_readiness_waits_for_2xx_while_tcp_readiness_does_not() {
    let probe = |p: &Project, port: u16| {
        p.config(&format!(
            "max_rounds: 1\nsteps:\n  - name: first\n    worker: w1\n    module: {{guests}}\n    stage: http-fetch\n    args: {{ url: \"http://127.0.0.1:{port}/healthz\" }}\n"
        ));
    };

    // Listens at once, but its health check answers 503 for its first second.
    let p = Project::new();
    let port = free_port();
    p.workers(json!({
        "w1": py_worker(&p, port, &["unhealthy=1"], json!({
            "ready": { "http": "/healthz", "timeout": "20s" }
        }))
    }));
    probe(&p, port);
    p.run(&[]).expect_code(0);
    let report = p.report();
    assert_eq!(
        step_of(&report, 1, "first")["detail"]["status"],
        json!(200),
        "the first step runs only once /healthz answers 2xx"
    );
    let log = p.worker_log("w1");
    assert!(
        log.contains("healthz 503") && log.contains("healthz 200"),
        "readiness polled through the 503s:\n{log}"
    );

    // The default, a TCP connect, does not wait for the HTTP answer.
    let p = Project::new();
    let port = free_port();
    p.workers(json!({ "w1": py_worker(&p, port, &["unhealthy=60"], json!({})) }));
    probe(&p, port);
    p.run(&[]).expect_code(0);
    let report = p.report();
    assert_eq!(
        step_of(&report, 1, "first")["detail"]["status"],
        json!(503),
        "TCP readiness: ready as soon as the port accepts"
    );
    let log = p.worker_log("w1");
    assert_eq!(
        log.matches("healthz").count(),
        1,
        "nothing but the step asked /healthz:\n{log}"
    );
}

#[test]
fn worker_output_is_prefixed_on_the_console_and_kept_in_its_log() {
    let p = Project::new();
    p.workers(json!({
        "w1": py_worker(&p, free_port(), &[], json!({})),
        "w2": py_worker(&p, free_port(), &[], json!({})),
    }));
    p.config("max_rounds: 1\nsteps:\n  - name: s\n    worker: w1\n    module: {guests}\n    stage: echo\n");
    let run = p.run(&[]);
    run.expect_code(0);
    for w in ["w1", "w2"] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l == format!("[{w}] hello from {w} on stdout")),
            "stdout lines are prefixed `[{w}]`\n{}",
            run.all()
        );
        assert!(
            run.stdout.lines().any(|l| l.starts_with(&format!("[{w}"))
                && l.ends_with(&format!("hello from {w} on stderr"))),
            "so are stderr lines\n{}",
            run.all()
        );
        let log = p.worker_log(w);
        for line in [
            format!("hello from {w} on stdout"),
            format!("hello from {w} on stderr"),
            format!("{w} listening on"),
        ] {
            assert!(log.contains(&line), "{w}.log lacks {line:?}:\n{log}");
        }
        let other = if w == "w1" { "w2" } else { "w1" };
        assert!(
            !log.contains(&format!("hello from {other}")) && !log.contains("round 1"),
            "{w}.log holds {w}'s output only:\n{log}"
        );
    }
}

#[test]
fn command_as_a_string_is_split_and_its_program_is_relative_to_workers_json() {
    let p = Project::new();
    let report = p.root().join("w.json");
    // workers.json lives in a subfolder, named by `workers_config`; a decoy
    // at the default place would make the step's worker unknown.
    p.write(
        "workers.json",
        r#"{"decoy": {"url": "http://127.0.0.1:9"}}"#,
    );
    p.write("cluster/worker.py", PY_WORKER);
    p.write(
        "cluster/start.sh",
        "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/worker.py\" \"$@\"\n",
    );
    std::fs::set_permissions(
        p.tests().join("cluster/start.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    p.write(
        "cluster/workers.json",
        &json!({
            "w": {
                "port": free_port(),
                "command": format!("./start.sh {} second=2", report_arg(&report)),
            }
        })
        .to_string(),
    );
    p.config("max_rounds: 1\nworkers_config: cluster/workers.json\nsteps:\n  - name: s\n    worker: w\n    module: {guests}\n    stage: echo\n");
    p.run(&[]).expect_code(0);
    let argv = read_json(&report)["argv"].clone();
    assert_eq!(
        argv.as_array().map(|a| &a[1..]),
        Some(&[json!(report_arg(&report)), json!("second=2")][..]),
        "the string was split on spaces"
    );
    let script = std::fs::canonicalize(argv[0].as_str().unwrap()).unwrap();
    assert_eq!(
        script,
        std::fs::canonicalize(p.tests().join("cluster/worker.py")).unwrap(),
        "./start.sh was found beside workers.json"
    );
}

#[test]
fn server_entrypoint_is_a_python_file_relative_to_the_project_root() {
    let p = Project::new();
    let [a, b] = [p.root().join("a.json"), p.root().join("b.json")];
    // Neither file is executable: they must be run with python3.
    for rel in ["servers/main.py", "other/b.py"] {
        let path = p.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, PY_WORKER).unwrap();
    }
    p.write(
        ".env",
        &format!("A_OPTS={}\nB_OPTS={}\n", report_arg(&a), report_arg(&b)),
    );
    p.workers(json!({
        // From config.yaml's server_entrypoint.
        "a": { "port": free_port(), "env_vars": { "PY_WORKER_OPTS": "A_OPTS" } },
        // Its own, in workers.json.
        "b": {
            "port": free_port(),
            "server_entrypoint": "other/b.py",
            "env_vars": { "PY_WORKER_OPTS": "B_OPTS" }
        },
    }));
    p.config("max_rounds: 1\nserver_entrypoint: servers/main.py\nsteps:\n  - name: s\n    worker: b\n    module: {guests}\n    stage: echo\n");
    p.run(&[]).expect_code(0);
    assert_eq!(
        read_json(&a)["argv"],
        json!([p.root().join("servers/main.py")])
    );
    assert_eq!(read_json(&b)["argv"], json!([p.root().join("other/b.py")]));
}

#[test]
fn a_url_worker_is_used_but_not_started() {
    let elsewhere = Stub::answering(200, "already running");
    let p = Project::new();
    p.workers(json!({ "ext": { "url": elsewhere.url("") } }));
    p.config(&format!(
        "max_rounds: 1\nsteps:\n  - name: call\n    worker: ext\n    module: {{guests}}\n    stage: http-fetch\n    args: {{ url: \"{}\" }}\n",
        elsewhere.url("task")
    ));
    let run = p.run(&[]);
    run.expect_code(0)
        .expect_no_output("started worker ext")
        .expect_no_output("stopped worker ext");
    let report = p.report();
    assert_eq!(
        step_of(&report, 1, "call")["detail"],
        json!({ "status": 200, "body": "already running" }),
        "its URL is on the allow-list"
    );
    assert!(elsewhere.hits() >= 1);
    assert!(
        !p.run_dir().join("logs/ext.log").exists(),
        "no process, so no log"
    );
}

#[test]
fn local_and_remote_workers_mix_and_a_remote_one_that_is_down_is_named_by_its_url() {
    // A remote worker on a port far from base_port + index: steps are told
    // its URL's port, and a step that builds its URL from it reaches it.
    let remote = Stub::answering(200, "remote answered");
    let p = Project::new();
    let local_port = free_port();
    p.workers(json!({
        "local": py_worker(&p, local_port, &[], json!({})),
        "remote": { "url": format!("http://127.0.0.1:{}", remote.port) },
    }));
    p.config(
        "max_rounds: 1\nsteps:\n  - name: look\n    worker: remote\n    module: {guests}\n    stage: introspect\n  - name: local-echo\n    worker: local\n    module: {guests}\n    stage: echo\n",
    );
    let run = p.run(&["--reset"]);
    run.expect_code(0)
        .expect_output(&format!("started worker local on port {local_port}"))
        .expect_no_output("started worker remote");
    let report = p.report();
    let look = &step_of(&report, 1, "look")["detail"];
    assert_eq!(look["worker"]["port"], json!(remote.port), "{look}");

    // The remote server is down: the error names its address and says
    // promwasm does not start it, instead of an empty stderr tail.
    let down = closed_port();
    p.workers(json!({
        "local": py_worker(&p, local_port, &[], json!({})),
        "remote": { "url": format!("http://127.0.0.1:{down}"), "ready": { "timeout": "1s" } },
    }));
    let run = p.run(&["--reset"]);
    run.expect_code(3)
        .expect_output(&format!(
            "worker `remote` was not ready after 1s (TCP connect to 127.0.0.1:{down})"
        ))
        .expect_output("promwasm does not start it (it has a `url` in workers.json)")
        .expect_no_output("last lines of its stderr");
}

#[test]
fn a_worker_that_exits_while_a_step_runs_fails_that_step_at_once() {
    // Listens, then exits 3 s after it started: during the first step, which
    // waits 5 s on a server that never answers.
    let silent = Stub::silent();
    let p = Project::new();
    p.workers(json!({
        "brief": {
            "port": free_port(),
            "command": ["sh", "-c", "python3 -c 'import socket,os,time; s=socket.socket(); s.bind((\"127.0.0.1\", int(os.environ[\"PORT\"]))); s.listen(); time.sleep(3)'; echo 'worker gave up' >&2; exit 4"],
        }
    }));
    p.config(&format!(
        "max_rounds: 1\nallowed_hosts: [\"127.0.0.1:{}\"]\nsteps:\n  - name: wait\n    worker: brief\n    module: {{guests}}\n    stage: http-fetch\n    args: {{ url: \"{}\", timeout_ms: 5000 }}\n  - name: after\n    worker: brief\n    module: {{guests}}\n    stage: echo\n",
        silent.port,
        silent.url("wait")
    ));
    let run = p.run(&[]);
    run.expect_code(1)
        .expect_output("worker `brief` exited")
        .expect_output("worker gave up")
        .expect_output("(while this step ran)");
    let report = p.report();
    assert_eq!(
        promwasm_e2e::outcomes(&report),
        vec![
            (1, "wait".to_string(), "failed".to_string()),
            (1, "after".to_string(), "not-run".to_string())
        ],
        "the step its worker died under fails, with the death as its cause; `after` never runs"
    );
    assert_eq!(
        report["error_kind"],
        json!("worker-died"),
        "the run failed too, not only the step (JUnit: an <error>)"
    );
    let detail = step_of(&report, 1, "wait")["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("worker `brief` exited") && detail.contains("worker gave up"),
        "{detail}"
    );
    assert_eq!(p.state()["last_completed_step"], json!(null));
}
