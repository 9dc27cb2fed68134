//! Worker processes: readiness, a worker that dies, and shutdown on signals
//! without orphans.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use promwasm_e2e::{
    free_port, free_ports, orca_server_bin, outcomes, port_open, wait_until, Project,
};
use serde_json::json;

/// The pid promwasm printed for `worker` (`started worker NAME on port P (pid N)`).
fn worker_pid(output: &str, worker: &str) -> u32 {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("started worker {worker} on port ")))
        .and_then(|rest| rest.split("(pid ").nth(1))
        .and_then(|rest| rest.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no pid for {worker} in:\n{output}"))
}

/// Whether process `pid` still runs (a zombie does not count).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn a_worker_that_dies_at_start_fails_the_run_with_its_stderr() {
    let p = Project::new();
    p.write(
        "workers.json",
        &json!({
            "broken": {"command": ["sh", "-c", "echo 'cannot bind: address in use' >&2; exit 3"], "port": free_port()}
        })
        .to_string(),
    );
    p.config("max_rounds: 1\nsteps:\n  - name: s\n    worker: broken\n    module: {guests}\n    stage: echo\n");
    let run = p.run(&[]);
    run.expect_code(3)
        .expect_output("worker `broken` exited")
        .expect_output("cannot bind: address in use");
    // Its readiness deadline is the default 30 s: the exit itself must end the wait.
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);
}

#[test]
fn a_worker_that_never_listens_times_out() {
    let p = Project::new();
    p.write(
        "workers.json",
        &json!({"sleepy": {"command": ["sleep", "30"], "port": free_port(), "ready": {"timeout": "1s"}}}).to_string(),
    );
    p.config("max_rounds: 1\nsteps:\n  - name: s\n    worker: sleepy\n    module: {guests}\n    stage: echo\n");
    let run = p.run(&[]);
    run.expect_code(3)
        .expect_output("worker `sleepy` was not ready after 1s");
    assert!(
        run.took < Duration::from_secs(20),
        "the sleeper was stopped, not waited for: {:?}",
        run.took
    );
    let pid = worker_pid(&run.stdout, "sleepy");
    assert!(!alive(pid), "the sleeper (pid {pid}) was stopped");
    // The reports are written anyway: CI sees a failed run, not a missing report.
    let report = p.report();
    assert_eq!(report["passed"], json!(false));
    assert_eq!(report["error_kind"], json!("machine"));
    let junit = std::fs::read_to_string(p.run_dir().join("junit.xml")).unwrap();
    assert!(
        junit.contains("<error message=\"worker `sleepy` was not ready after 1s"),
        "{junit}"
    );
    assert!(
        !p.tests().join("data/test_state.json").exists()
            || p.state()["last_completed_step"].is_null(),
        "no step ran"
    );
}

#[test]
fn sigterm_stops_workers_saves_state_and_resume_works() {
    let p = Project::new();
    let [w1, w2] = p.with_orca_workers("");
    p.config(
        "max_rounds: 1\ndefaults: { timeout: 60s }\nsteps:\n  - name: first\n    worker: worker1\n    module: {guests}\n    stage: count-runs\n  - name: long\n    worker: worker2\n    module: {guests}\n    stage: spin\n",
    );
    let mut live = p.start(&[]);
    // Wait until the spinning step has started (its header is printed).
    live.wait_for("long (spin on worker2)", Duration::from_secs(60));
    assert!(port_open(w1) && port_open(w2));
    kill(Pid::from_raw(live.pid() as i32), Signal::SIGTERM).unwrap();
    let run = live.finish(Duration::from_secs(30));
    run.expect_code(130)
        .expect_output("stopped worker worker1")
        .expect_output("stopped worker worker2");
    assert!(
        !port_open(w1) && !port_open(w2),
        "workers are stopped with promwasm"
    );
    assert_eq!(p.state()["last_completed_step"], json!("first"));
    // The report says which step the signal cut short.
    let report = p.report();
    assert_eq!(
        outcomes(&report),
        vec![
            (1, "first".to_string(), "passed".to_string()),
            (1, "long".to_string(), "interrupted".to_string())
        ]
    );
    assert_eq!(report["error_kind"], json!("interrupted"));
    run.expect_line(&["■ interrupted", "long@worker2"]);

    // Run again: it resumes at the interrupted step, `first` is not run again.
    p.config(
        "max_rounds: 1\nsteps:\n  - name: first\n    worker: worker1\n    module: {guests}\n    stage: count-runs\n  - name: long\n    worker: worker2\n    module: {guests}\n    stage: echo\n",
    );
    p.run(&[])
        .expect_code(0)
        .expect_output("Resuming round 1 after step first");
    assert_eq!(
        outcomes(&p.report()),
        vec![(1, "long".to_string(), "passed".to_string())]
    );
    assert_eq!(p.state()["global"]["runs"]["count-runs"], json!(1));
}

#[test]
fn a_port_already_in_use_fails_the_run_before_any_worker_starts() {
    let p = Project::new();
    let base = free_ports(2);
    let own = free_port();
    // Another program listens on `second`'s base_port + 1 and on `third`'s own port.
    let _held = [
        std::net::TcpListener::bind(("127.0.0.1", base + 1)).unwrap(),
        std::net::TcpListener::bind(("127.0.0.1", own)).unwrap(),
    ];
    let marker = p.root().join("spawned");
    let command = json!([
        "sh",
        "-c",
        format!("touch '{}'; sleep 30", marker.display())
    ]);
    p.workers(json!({
        "first": { "command": command },
        "second": { "command": command },
        "third": { "command": command, "port": own },
    }));
    p.config(&format!(
        "base_port: {base}\nmax_rounds: 1\nsteps:\n  - name: s\n    worker: first\n    module: {{guests}}\n    stage: echo\n"
    ));
    let run = p.run(&[]);
    run.expect_code(3)
        .expect_line(&[
            &format!("port {} of worker `second`", base + 1),
            &format!("(base_port {base} + index 1)"),
            "already in use",
            "change `base_port` in config.yaml",
            &format!("ss -ltnp 'sport = :{}'", base + 1),
        ])
        .expect_line(&[
            &format!("port {own} of worker `third`"),
            "(its `port` in workers.json)",
            "change the `port` of `third` in workers.json",
        ])
        .expect_output("no worker was started")
        .expect_no_output("worker `first`")
        .expect_no_output("started worker");
    assert!(!marker.exists(), "no worker process ran");
    for w in ["first", "second", "third"] {
        let logs = files_under(&p.data(), &format!("/{w}.log"));
        assert!(logs.is_empty(), "{w}'s log was created: {logs:?}");
    }
}

/// Every file under `dir` (recursively) whose name ends with `suffix`.
fn files_under(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found
}

#[test]
fn forty_workers_all_start_and_the_run_passes() {
    let p = Project::new();
    let base = free_ports(40);
    // A small server: listens on $PORT, says so, answers every connection.
    let server = "import os, socket\n\
        s = socket.socket()\n\
        s.bind(('127.0.0.1', int(os.environ['PORT'])))\n\
        s.listen(8)\n\
        print(os.environ['WORKER_NAME'], 'listening', flush=True)\n\
        while True:\n    s.accept()[0].close()\n";
    p.write("server.py", server);
    let script = p.tests().join("server.py");
    // No `port`: worker i listens on base_port + i.
    let workers: serde_json::Map<String, serde_json::Value> = (0..40)
        .map(|i| {
            (
                format!("w{i}"),
                json!({ "command": ["python3", "-S", script] }),
            )
        })
        .collect();
    p.workers(serde_json::Value::Object(workers));
    p.config(&format!(
        "base_port: {base}\nmax_rounds: 1\nsteps:\n  - name: last\n    worker: w39\n    module: {{guests}}\n    stage: http-fetch\n    args: {{ url: \"http://127.0.0.1:{}/\" }}\n",
        base + 39
    ));
    let run = p.run(&[]);
    run.expect_code(0);
    for i in 0..40u16 {
        let w = format!("w{i}");
        run.expect_output(&format!("started worker {w} on port {} ", base + i))
            .expect_output(&format!("[{w}] {w} listening"))
            .expect_output(&format!("stopped worker {w}\n"));
    }
    assert_eq!(
        outcomes(&p.report()),
        vec![(1, "last".to_string(), "passed".to_string())]
    );
    assert!(
        (0..40).all(|i| !port_open(base + i)),
        "all were stopped with the run"
    );
}

#[test]
fn a_remote_worker_that_stops_answering_fails_the_run_naming_its_address() {
    let p = Project::new();
    let port = free_port();
    // The remote worker: started by the test, not by promwasm.
    let mut remote = std::process::Command::new(orca_server_bin())
        .env("PORT", port.to_string())
        .env("DATABASE_PATH", p.root().join("remote.db"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || port_open(port)));
    p.workers(json!({
        "remote": {
            "url": format!("http://127.0.0.1:{port}"),
            "ready": { "http": "/healthz", "timeout": "10s" }
        }
    }));
    // A step that would run for a minute if nothing stopped it.
    p.config("max_rounds: 1\nsteps:\n  - name: long\n    worker: remote\n    module: {guests}\n    stage: spin\n    timeout: 60s\n");
    let mut live = p.start(&[]);
    live.wait_for("long (spin on remote)", Duration::from_secs(60));
    let killed = std::time::Instant::now();
    remote.kill().unwrap();
    remote.wait().unwrap();
    let run = live.finish(Duration::from_secs(60));
    run.expect_code(1)
        .expect_output(&format!(
            "worker `remote` at 127.0.0.1:{port} stopped answering"
        ))
        .expect_output(&format!(
            "GET http://127.0.0.1:{port}/healthz answering 2xx"
        ))
        .expect_output("promwasm does not manage it");
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "noticed within seconds, not at the step's 60 s timeout: {:?}",
        killed.elapsed()
    );
    assert_eq!(
        outcomes(&p.report()),
        vec![(1, "long".to_string(), "failed".to_string())]
    );
}
