//! Worker processes: readiness, a worker that dies, and shutdown on signals
//! without orphans.

use std::io::Read;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use promwasm_e2e::{free_port, Project};
use serde_json::json;

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
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
    let started = Instant::now();
    p.run(&[])
        .expect_code(3)
        .expect_output("worker `broken` exited")
        .expect_output("cannot bind: address in use");
    // Its readiness deadline is the default 30 s: the exit itself must end the wait.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_worker_that_never_listens_times_out() {
    let p = Project::new();
    p.write(
        "workers.json",
        &json!({"sleepy": {"command": ["sleep", "30"], "port": free_port(), "ready": {"timeout": "1s"}}}).to_string(),
    );
    p.config("max_rounds: 1\nsteps:\n  - name: s\n    worker: sleepy\n    module: {guests}\n    stage: echo\n");
    let started = Instant::now();
    p.run(&[])
        .expect_code(3)
        .expect_output("worker `sleepy` was not ready after 1s");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the sleeper was stopped, not waited for"
    );
}

#[test]
fn sigterm_stops_workers_saves_state_and_resume_works() {
    let p = Project::new();
    let [w1, w2] = p.with_orca_workers("");
    p.config(
        "max_rounds: 1\ndefaults: { timeout: 60s }\nsteps:\n  - name: first\n    worker: worker1\n    module: {guests}\n    stage: count-runs\n  - name: long\n    worker: worker2\n    module: {guests}\n    stage: spin\n",
    );
    let mut child = p.spawn(&[]);
    // Wait until the spinning step has started (its header is printed).
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    while !seen.contains("long (spin on worker2)") {
        assert!(
            Instant::now() < deadline,
            "the spin step never started:\n{seen}"
        );
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "promwasm ended early:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(port_open(w1) && port_open(w2));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
    assert!(
        !port_open(w1) && !port_open(w2),
        "workers are stopped with promwasm"
    );
    assert_eq!(p.state()["last_completed_step"], json!("first"));
}
