//! What a run leaves and shows: its directory under `data_dir/runs` (logs,
//! step logs, reports, `latest`, `keep_runs`), the console piped and on a
//! terminal (live progress, colours, `NO_COLOR`), `--quiet` and `--verbose`.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use promwasm_e2e::{read_json, Project};
use serde_json::json;

/// Two steps on worker1: `hello` passes, `poll` (when `with_poll`) fails
/// twice, two seconds apart.
fn project(extra: &str, with_poll: bool) -> Project {
    let p = Project::new();
    p.with_orca_workers("");
    let poll = "  - name: poll\n    worker: worker1\n    module: {guests}\n    stage: fail\n    args: { message: not yet }\n    retry: { attempts: 2, interval: 2s }\n";
    p.config(&format!(
        "max_rounds: 1\n{extra}\nsteps:\n  - name: hello\n    worker: worker1\n    module: {{guests}}\n    stage: echo\n    args: {{ greeting: hi }}\n{}",
        if with_poll { poll } else { "" }
    ));
    p
}

#[test]
fn each_run_has_a_directory_with_its_logs_and_reports_and_old_ones_go() {
    let p = project("keep_runs: 2", false);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let run = p.run(&["--reset"]);
        run.expect_code(0);
        let id = p.report()["run_id"].as_str().unwrap().to_string();
        let dir = p.data().join("runs").join(&id);
        run.expect_line(&[
            &format!("run {id}: logs and reports in"),
            &dir.display().to_string(),
        ]);
        ids.push(id);
    }
    let runs = p.data().join("runs");
    let mut kept: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    let mut want = vec![ids[1].clone(), ids[2].clone(), "latest".to_string()];
    want.sort();
    assert_eq!(kept, want, "keep_runs: 2 keeps the two newest");
    assert_eq!(
        std::fs::read_link(runs.join("latest")).unwrap(),
        std::path::Path::new(&ids[2])
    );

    let latest = p.run_dir();
    assert!(
        p.worker_log("worker1").contains("listening"),
        "the worker's own log"
    );
    let step_log = std::fs::read_to_string(latest.join("steps/r1-hello.log")).unwrap();
    assert!(
        step_log.starts_with("== round 1 · hello (echo@worker1): passed after "),
        "{step_log}"
    );
    let report = read_json(&latest.join("report.json"));
    assert_eq!(report["run_id"], json!(ids[2]));
    assert_eq!(report["steps"][0]["outcome"], json!("passed"));
    let junit = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testcase name=\"hello (echo@worker1)\""),
        "{junit}"
    );
}

#[test]
fn a_resumed_run_writes_into_the_same_directory() {
    let p = project("", true);
    p.run(&[]).expect_code(1);
    let id = p.report()["run_id"].as_str().unwrap().to_string();
    // Without --reset the run resumes at `poll`, under the same run id.
    p.run(&[]).expect_code(1);
    assert_eq!(p.report()["run_id"], json!(id));
    let dirs = std::fs::read_dir(p.data().join("runs")).unwrap().count();
    assert_eq!(dirs, 2, "one run directory and `latest`");
    let poll = std::fs::read_to_string(p.run_dir().join("steps/r1-poll.log")).unwrap();
    assert_eq!(
        poll.matches("== round 1 · poll (fail@worker1): failed after")
            .count(),
        2,
        "both runs' tries of `poll` are in its log:\n{poll}"
    );
}

#[test]
fn piped_output_is_plain_lines_and_quiet_and_verbose_change_how_many() {
    let p = project("", false);
    let normal = p.run(&[]);
    normal
        .expect_code(0)
        .expect_output("── round 1/1 · hello (echo on worker1)")
        .expect_line(&["✓ passed", "hello@worker1"])
        .expect_output("[worker1]");
    assert!(
        !normal.stdout.contains('\x1b'),
        "no escape codes when piped:\n{}",
        normal.stdout
    );

    let quiet = p.run(&["--reset", "--quiet"]);
    quiet
        .expect_code(0)
        .expect_output("PASSED: 1 rounds; this run: 1 passed")
        .expect_no_output("── round")
        .expect_no_output("✓ passed")
        .expect_no_output("[worker1]");

    let verbose = p.run(&["--reset", "--verbose"]);
    verbose
        .expect_code(0)
        .expect_line(&["✓ passed", "hello@worker1", "→ {\"greeting\":\"hi\"}"])
        .expect_line(&["worker worker1 ready after ", " ms"])
        .expect_output("── round 1 done");
    normal.expect_no_output("worker worker1 ready after");
    p.run(&["--quiet", "--verbose"])
        .expect_code(2)
        .expect_errors(&["--quiet", "--verbose", "cannot be used with"]);
}

/// Run promwasm with stdout and stderr on a pseudo-terminal; all it wrote.
fn on_terminal(p: &Project, envs: &[(&str, &str)]) -> (i32, String) {
    let winsize = nix::pty::Winsize {
        ws_row: 40,
        ws_col: 160,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&winsize, None).unwrap();
    // openpty's descriptors are inherited by default: tests spawning in
    // parallel would keep the terminal open, and the read below would never end.
    for fd in [&pty.master, &pty.slave] {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
    }
    let mut cmd: Command = p.command("run");
    cmd.arg("--reset")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    let mut child = cmd.spawn().unwrap();
    // Only the child may hold the terminal's other end now.
    drop(cmd);
    drop(pty.slave);
    let master: OwnedFd = pty.master;
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux says EIO once every copy of the terminal's other end is closed.
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = child.wait().unwrap();
    let out = reader.join().unwrap();
    (status.code().unwrap_or(-1), out)
}

#[test]
fn on_a_terminal_a_spinner_shows_the_running_step_and_marks_are_coloured() {
    let p = project("", true);
    let (code, out) = on_terminal(&p, &[]);
    assert_eq!(code, 1, "{out}");
    // While `poll` waits between tries, the spinner line says so.
    assert!(
        out.contains("round 1/1 · poll (fail on worker1) · attempt 2/2"),
        "{out}"
    );
    // Green tick for the passed step, red cross for the failed one.
    assert!(out.contains("\x1b[32m✓\x1b[0m"), "{out:?}");
    assert!(
        out.contains("\x1b[31m\x1b[1m✗\x1b[0m") || out.contains("\x1b[1m\x1b[31m✗"),
        "{out:?}"
    );
    assert!(out.contains("FAILED"), "{out}");

    let (code, out) = on_terminal(&p, &[("NO_COLOR", "1")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("round 1/1 · poll (fail on worker1) · attempt 2/2"),
        "NO_COLOR keeps the spinner: {out}"
    );
    assert!(
        !out.contains("\x1b[32m") && !out.contains("\x1b[31m"),
        "no colours with NO_COLOR: {out:?}"
    );
}

#[test]
fn the_summary_and_report_have_per_step_durations_and_http_calls() {
    let p = Project::new();
    let [port, _] = p.with_orca_workers("");
    p.config(&format!(
        "max_rounds: 3\nsteps:\n  - name: probe\n    worker: worker1\n    module: {{guests}}\n    stage: http-probe\n    args: {{ url: \"http://127.0.0.1:{port}/healthz\" }}\n"
    ));
    let run = p.run(&[]);
    run.expect_code(0)
        .expect_line(&[
            "step", "worker", "rounds", "p50", "p95", "http", "http p50", "http p95",
        ])
        .expect_line(&["probe", "worker1", "✓✓✓", " 3 "]);
    let report = p.report();
    for round in 0..3 {
        let http = &report["steps"][round]["http"];
        assert_eq!(http["calls"], json!(1), "{http}");
        assert_eq!(http["failed"], json!(0), "{http}");
        assert!(http["latencies_ms"][0].as_f64().unwrap() > 0.0, "{http}");
    }
    let m = &report["metrics"]["steps"][0];
    assert_eq!(
        (
            m["step"].clone(),
            m["rounds"].clone(),
            m["http_calls"].clone()
        ),
        (json!("probe"), json!(3), json!(3))
    );
    assert!(
        m["p50_ms"].as_f64().unwrap() > 0.0 && m["p95_ms"].as_f64() >= m["p50_ms"].as_f64(),
        "{m}"
    );
    assert!(
        m["http_p95_ms"].as_f64() >= m["http_p50_ms"].as_f64(),
        "{m}"
    );
    // What each worker process used, sampled during the run.
    run.expect_line(&["worker", "cpu", "peak rss"]);
    let workers = report["metrics"]["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{workers:?}");
    for w in workers {
        // CPU time comes in clock ticks (10 ms): an idle server may use none;
        // the sampler's own tests burn CPU to prove it is counted.
        assert!(w["cpu_ms"].as_f64().is_some(), "{w}");
        // A real server process: more than a megabyte resident at its peak.
        assert!(w["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{w}");
    }
}
