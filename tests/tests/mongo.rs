//! MongoDB: seeding as prometheus-test does, rounds from a collection, the
//! post-load hook, read-only step queries, and the managed local server.
//! Against a real server (SecantusDB) started by the test, or by promwasm.

use std::time::{Duration, Instant};

use mongodb::bson::doc;
use promwasm_e2e::{closed_port, MongoServer, Project};
use serde_json::json;

const TODOS: &str = r#"[
  {"title": "one", "roundNumber": 1},
  {"title": "two", "roundNumber": 2},
  {"title": "three", "roundNumber": 3},
  {"title": "four", "roundNumber": 4}
]"#;

fn seeded_project(uri: &str, collections: &str, steps: &str) -> Project {
    let p = Project::new();
    p.with_orca_workers(&format!("MONGO_URI={uri}\n"));
    p.write("data/todos.json", TODOS);
    p.config(&format!(
        "mongodb:\n  database: e2e\n  collections:\n{collections}\nsteps:\n{steps}"
    ));
    p
}

const ECHO: &str = "  - name: s\n    worker: worker1\n    module: {guests}\n    stage: echo\n";
const TODOS_ONLY: &str = "    todos:\n      data_file: todos.json\n      required_count: 1\n";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn seeds_every_document_with_the_task_id_and_counts_rounds() {
    let server = MongoServer::start();
    let p = seeded_project(
        &server.uri,
        &format!("{TODOS_ONLY}    notes:\n      data_file: note.json\n    empty: {{}}\n"),
        ECHO,
    );
    p.write(
        "data/note.json",
        r#"{"text": "a single object is one document"}"#,
    );
    p.run(&[])
        .expect_code(0)
        .expect_output("4 rounds (documents with taskId test-task in `todos`)");
    assert_eq!(
        p.report()["max_rounds"],
        json!(4),
        "rounds = documents (see README)"
    );
    rt().block_on(async {
        let db = server.db("e2e").await;
        let todos = db.collection::<mongodb::bson::Document>("todos");
        assert_eq!(
            todos
                .count_documents(doc! {"taskId": "test-task"})
                .await
                .unwrap(),
            4
        );
        assert_eq!(todos.count_documents(doc! {}).await.unwrap(), 4);
        let notes = db.collection::<mongodb::bson::Document>("notes");
        assert_eq!(
            notes
                .count_documents(doc! {"taskId": "test-task"})
                .await
                .unwrap(),
            1
        );
    });
}

#[test]
fn reset_reseeds_but_a_plain_rerun_does_not() {
    let server = MongoServer::start();
    let p = seeded_project(&server.uri, TODOS_ONLY, ECHO);
    p.run(&[]).expect_code(0);
    let todos = || async {
        server
            .db("e2e")
            .await
            .collection::<mongodb::bson::Document>("todos")
    };
    rt().block_on(async {
        todos()
            .await
            .insert_one(doc! {"title": "added later", "taskId": "test-task"})
            .await
            .unwrap();
    });
    p.run(&[]).expect_code(0);
    let count = || rt().block_on(async { todos().await.count_documents(doc! {}).await.unwrap() });
    assert_eq!(count(), 5, "a resumed run leaves the database alone");
    p.run(&["--reset"])
        .expect_code(0)
        .expect_output("todos: imported 4");
    assert_eq!(count(), 4, "--reset empties and re-imports");
}

/// Bad data files are bad input: exit 2 from `run` and from `check`, which
/// reads the data files too. (Until the exit-code change lands, `run` exits
/// 3 here and `check` does not look at data files.)
fn bad_input(p: &Project, parts: &[&str]) {
    let run = p.run(&[]);
    run.expect_code(2).expect_line(parts);
    assert!(
        !run.stdout.contains("started worker"),
        "nothing starts on bad input\n{}",
        run.all()
    );
    p.check().expect_code(2).expect_line(parts);
}

#[test]
fn a_required_count_the_data_file_cannot_meet_is_bad_input() {
    let server = MongoServer::start();
    let p = seeded_project(
        &server.uri,
        "    todos:\n      data_file: todos.json\n      required_count: 10\n",
        ECHO,
    );
    // The file holds 4 documents; 10 are required.
    bad_input(&p, &["todos", "10", "4"]);
}

#[test]
fn a_missing_data_file_is_bad_input() {
    let server = MongoServer::start();
    let p = seeded_project(
        &server.uri,
        "    todos:\n      data_file: nowhere.json\n      required_count: 1\n",
        ECHO,
    );
    bad_input(&p, &["nowhere.json", "todos"]);
}

#[test]
fn a_malformed_data_file_names_file_and_position() {
    let server = MongoServer::start();
    let p = seeded_project(&server.uri, TODOS_ONLY, ECHO);
    p.write(
        "data/todos.json",
        "[\n  {\"title\": \"ok\"},\n  {\"title\": oops}\n]\n",
    );
    bad_input(&p, &["todos.json:3:"]);
}

#[test]
fn the_post_load_hook_writes_and_the_worker_sees_it() {
    let server = MongoServer::start();
    let p = seeded_project(
        &server.uri,
        TODOS_ONLY,
        "  - name: work\n    worker: worker1\n    module: {orca}\n    stage: task\n",
    );
    let config = std::fs::read_to_string(p.tests().join("config.yaml")).unwrap();
    let orca = promwasm_e2e::guest("orca_steps");
    p.write(
        "config.yaml",
        &format!(
            "{config}post_load:\n  module: {}\n  stage: post-load\n  args: {{ assign: [worker2] }}\nmax_rounds: 1\n",
            orca.display()
        ),
    );
    p.run(&[]).expect_code(0);
    rt().block_on(async {
        let todos = server
            .db("e2e")
            .await
            .collection::<mongodb::bson::Document>("todos");
        assert_eq!(
            todos
                .count_documents(doc! {"assignedTo": "worker2"})
                .await
                .unwrap(),
            4
        );
    });
    let task = &p.report()["steps"][0]["detail"];
    assert_eq!(
        task["assignedTo"],
        json!("worker2"),
        "the worker read the hook's write: {task}"
    );
}

#[test]
fn steps_may_read_the_database_only_when_granted() {
    let server = MongoServer::start();
    let read = "  - name: look\n    worker: worker1\n    module: {orca}\n    stage: todos-seen\n    db: read\n";
    let p = seeded_project(&server.uri, TODOS_ONLY, read);
    p.write(
        "config.yaml",
        &(std::fs::read_to_string(p.tests().join("config.yaml")).unwrap() + "max_rounds: 1\n"),
    );
    p.run(&[]).expect_code(0);
    assert_eq!(
        p.report()["steps"][0]["detail"]["count"],
        json!(4),
        "{}",
        p.report()
    );

    let ungranted =
        "  - name: look\n    worker: worker1\n    module: {orca}\n    stage: todos-seen\n";
    let p = seeded_project(&server.uri, TODOS_ONLY, ungranted);
    p.write(
        "config.yaml",
        &(std::fs::read_to_string(p.tests().join("config.yaml")).unwrap() + "max_rounds: 1\n"),
    );
    p.run(&[]).expect_code(1).expect_output("add `db: read`");

    let writer = "  - name: write\n    worker: worker1\n    module: {orca}\n    stage: post-load\n    db: read\n";
    let p = seeded_project(&server.uri, TODOS_ONLY, writer);
    p.write(
        "config.yaml",
        &(std::fs::read_to_string(p.tests().join("config.yaml")).unwrap() + "max_rounds: 1\n"),
    );
    p.run(&[])
        .expect_code(1)
        .expect_output("steps may only read");
}

#[test]
fn an_unreachable_mongo_uri_fails_fast_and_names_it() {
    // Nobody listens there: see `closed_port`.
    let port = closed_port();
    let p = seeded_project(&format!("mongodb://127.0.0.1:{port}"), TODOS_ONLY, ECHO);
    let started = Instant::now();
    p.run(&[])
        .expect_code(3)
        .expect_output(&format!("127.0.0.1:{port}"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn without_a_server_the_error_says_how_to_install_one() {
    let p = Project::new();
    p.with_orca_workers("");
    p.write("data/todos.json", TODOS);
    p.config(&format!(
        "mongodb:\n  collections:\n{TODOS_ONLY}steps:\n{ECHO}"
    ));
    let empty = tempfile::tempdir().unwrap();
    let out = promwasm_e2e::promwasm()
        .env("PROMWASM_MONGO_BIN_DIR", empty.path())
        .env("PATH", "/usr/bin:/bin")
        .arg("run")
        .arg(p.tests().join("config.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("pip install SecantusDB==0.7.0b3"), "{err}");
    assert!(err.contains("MONGO_URI"), "{err}");
}

#[test]
fn a_resumed_run_finds_the_managed_servers_data() {
    let p = Project::new();
    p.with_orca_workers("");
    p.write("data/todos.json", TODOS);
    let config = |fail: bool| {
        format!(
            "max_rounds: 2\nmongodb:\n  database: e2e\n  collections:\n{TODOS_ONLY}steps:\n\
             - name: look\n  worker: worker1\n  module: {{orca}}\n  stage: todos-seen\n  db: read\n\
             - name: gate\n  worker: worker1\n  module: {{guests}}\n  stage: fail-if\n  args: {{ fail: {fail} }}\n"
        )
    };
    p.config(&config(true));
    p.run(&[])
        .expect_code(1)
        .expect_output("MongoDB: started")
        .expect_output("todos: imported 4");

    // The server is a new process, but its data is kept with the state.
    p.config(&config(false));
    let resumed = p.run(&[]);
    resumed
        .expect_code(0)
        .expect_output("Resuming round 1 after step look");
    assert!(!resumed.stdout.contains("imported"), "{}", resumed.all());
    let report = p.report();
    assert_eq!(report["steps"][1]["step"], json!("look"));
    assert_eq!(
        report["steps"][1]["detail"]["count"],
        json!(4),
        "round 2 sees the documents seeded by the first invocation: {report}"
    );
    let kept = p.tests().join("data/mongodb");
    assert!(kept.is_dir(), "{}", kept.display());

    p.run(&["--reset"])
        .expect_code(0)
        .expect_output("Starting a fresh run")
        .expect_output("todos: imported 4");
    assert_eq!(p.report()["steps"][0]["detail"]["count"], json!(4));
}

#[test]
fn a_managed_server_that_dies_mid_run_fails_the_run_with_an_error_naming_it() {
    let p = Project::new();
    p.with_orca_workers("");
    p.write("data/todos.json", TODOS);
    // The step waits for a key nobody sets: it is still running when the
    // server goes, and only the watch on the server can end it early.
    p.config(&format!(
        "max_rounds: 1\nmongodb:\n  database: e2e\n  collections:\n{TODOS_ONLY}steps:\n\
         - name: wait\n  worker: worker1\n  module: {{guests}}\n  stage: store-script\n  timeout: 60s\n  \
           args: {{ ops: [ {{ wait: [never, true] }} ] }}\n\
         - name: after\n  worker: worker1\n  module: {{guests}}\n  stage: echo\n"
    ));
    let mut live = p.start(&[]);
    live.wait_for("── round 1/1 · wait", Duration::from_secs(60));
    let storage = p.tests().join("data/mongodb").display().to_string();
    let servers = promwasm_e2e::processes_mentioning(&storage);
    assert_eq!(servers.len(), 1, "one managed server: {servers:?}");
    for pid in servers.keys() {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    let started = Instant::now();
    let run = live.finish(Duration::from_secs(60));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the step's 60 s timeout did not end it"
    );
    run.expect_code(1)
        .expect_output("server promwasm started for this run exited")
        .expect_output("(while this step ran)");
    let report = p.report();
    assert_eq!(report["error_kind"], json!("database-died"), "{report:#}");
    assert_eq!(
        promwasm_e2e::outcomes(&report),
        vec![
            (1, "wait".to_string(), "failed".to_string()),
            (1, "after".to_string(), "not-run".to_string()),
        ]
    );
    let junit = std::fs::read_to_string(p.run_dir().join("junit.xml")).unwrap();
    assert!(
        junit.contains("<error") && junit.contains("server promwasm started for this run exited"),
        "{junit}"
    );
}
