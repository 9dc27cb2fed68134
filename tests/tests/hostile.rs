//! Hostile guests, end to end: the real `promwasm` against real workers,
//! running `tests/hostile` (package `hostile-guests`) and
//! `tests/hostile-stages`. Each attempt to escape the sandbox or overwhelm
//! the host must be contained: the step fails (or its output is cut) with a
//! message naming the round, step and worker, in bounded time; the runner
//! exits 1 (2 for bad modules), never crashes; the state file stays JSON;
//! no worker is left running; nothing a guest wrote reaches the terminal raw;
//! and mapped secrets show as `***` wherever promwasm writes text.
//!
//! Network traffic goes to 127.0.0.1 only. URLs naming other addresses
//! (169.254.169.254, evil.example) must be refused before any connection;
//! the tests assert the refusal and never connect there themselves.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use promwasm_e2e::{
    free_port, guest, outcomes, port_open, processes_mentioning, promwasm, run_command, step_of,
    wait_until, Project, Run, Stub,
};
use serde_json::{json, Value};

/// The worker hostile steps run as.
const WORKER: &str = "worker1";
/// Any one run here must end well within this (the slowest waits out a 2 s timeout).
const RUN_BOUND: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Helpers

/// A step as YAML: `echo` comes from the test guests, every other stage from
/// the hostile guest; `args` is a YAML flow mapping, `more` extra lines.
fn step(name: &str, stage: &str, args: &str, more: &str) -> String {
    let module = if stage == "echo" {
        "{guests}"
    } else {
        "{hostile}"
    };
    let mut s = format!(
        "  - name: {name}\n    worker: {WORKER}\n    module: {module}\n    stage: {stage}\n    args: {args}\n"
    );
    for line in more.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str(&format!("    {line}\n"));
    }
    s
}

/// The step that must not run after a failure (or must, after a contained flood).
fn after() -> String {
    step("after", "echo", "{ ran: true }", "")
}

/// config.yaml: one round, `extra` top-level lines, then `steps`.
fn config(p: &Project, extra: &str, steps: &[String]) {
    p.config(&format!(
        "max_rounds: 1\n{extra}\nsteps:\n{}",
        steps.concat()
    ));
}

/// `promwasm run --reset` with the JSON report.
fn run(p: &Project) -> Run {
    p.run(&["--reset"])
}

/// The workers' ports closed: promwasm left no worker behind.
fn assert_workers_gone(ports: [u16; 2], run: &Run) {
    assert!(
        wait_until(Duration::from_secs(5), || ports
            .iter()
            .all(|&port| !port_open(port))),
        "a worker still listens after promwasm exited ({ports:?})\n{}",
        run.all()
    );
}

/// How the run must have ended: `passed` steps passed in order (an entry
/// `name=skipped` skipped instead), then
/// `failed` (if any) failed with a message naming round 1, the step, its
/// stage and [`WORKER`] and containing every one of `texts`, and nothing
/// else ran. The exit code says so (1 for a failed step, 0 otherwise), the
/// run ended within [`RUN_BOUND`], the state file is JSON and records the
/// last passed step, and no worker is left. The failed step's report entry.
fn assert_contained(
    p: &Project,
    run: &Run,
    ports: [u16; 2],
    passed: &[&str],
    failed: Option<(&str, &str)>,
    texts: &[&str],
) -> Value {
    run.expect_code(if failed.is_some() { 1 } else { 0 });
    assert!(
        run.took < RUN_BOUND,
        "the run took {:?}\n{}",
        run.took,
        run.all()
    );
    let report = p.report();
    let mut expected: Vec<(u64, String, String)> = passed
        .iter()
        .map(|s| match s.split_once('=') {
            Some((name, outcome)) => (1, name.to_string(), outcome.to_string()),
            None => (1, s.to_string(), "passed".to_string()),
        })
        .collect();
    let mut entry = Value::Null;
    if let Some((name, stage)) = failed {
        // A step stopped at its deadline is reported as timed out.
        let status = if texts.iter().any(|t| t.starts_with("timed out")) {
            "timed-out"
        } else {
            "failed"
        };
        expected.push((1, name.to_string(), status.to_string()));
        let head = format!("round 1, step `{name}` (stage `{stage}`, worker `{WORKER}`)");
        let mut parts = vec![head.as_str()];
        parts.extend_from_slice(texts);
        run.expect_line(&parts);
        entry = step_of(&report, 1, name).clone();
        let detail = entry["detail"].as_str().unwrap_or_default();
        for text in texts {
            assert!(
                detail.contains(text),
                "report detail lacks {text:?}: {detail}"
            );
        }
    }
    // Steps a failure leaves are reported as not run, after everything that ran.
    let all = outcomes(&report);
    let ran = all.iter().take_while(|(_, _, o)| o != "not-run").count();
    assert!(all[ran..].iter().all(|(_, _, o)| o == "not-run"), "{all:?}");
    assert_eq!(all[..ran].to_vec(), expected, "{}", run.all());
    // The state file survived and is JSON (`state()` parses it).
    let state = p.state();
    let last = passed
        .last()
        .map_or(Value::Null, |s| json!(s.split('=').next()));
    if failed.is_some() {
        assert_eq!(
            state["last_completed_step"], last,
            "the state records the last step that passed"
        );
    }
    assert_workers_gone(ports, run);
    entry
}

/// The `(round 1) name` entry's log lines in the JSON report.
fn log_of(p: &Project, name: &str) -> Vec<String> {
    step_of(&p.report(), 1, name)["log"]
        .as_array()
        .unwrap_or_else(|| panic!("step {name} has no log in the report"))
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The segment about `url` of the `http` stage's outcome list (`GET url: ...`, joined by ` | `).
fn outcome_for<'a>(detail: &'a str, url: &str) -> &'a str {
    let needle = format!("GET {url}: ");
    detail
        .split(" | ")
        .find_map(|s| s.find(&needle).map(|at| &s[at + needle.len()..]))
        .unwrap_or_else(|| panic!("no outcome for {url} in {detail}"))
}

/// A server on 127.0.0.1 that answers every request with a redirect to
/// `location`; counts the requests it got.
fn redirector(location: &str) -> (u16, Arc<AtomicUsize>) {
    let location = location.to_string();
    serve(move |mut stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    })
}

/// A server on 127.0.0.1 whose answer never ends: 200, no length, then
/// 64 KiB chunks until the client goes away (or 512 MiB, a bound for a broken
/// client). Counts bytes sent.
fn endless() -> (u16, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let (port, _) = serve(move |mut stream| {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(20)));
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
        let chunk = vec![b'x'; 64 << 10];
        while counter.load(Ordering::SeqCst) < 512 << 20 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
            counter.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });
    (port, sent)
}

/// Serve each connection with `handle` (after reading the request head) on a
/// free port; counts connections.
fn serve(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> (u16, Arc<AtomicUsize>) {
    let port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let handle = handle.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                promwasm_e2e::read_request(&mut stream);
                handle(stream);
            });
        }
    });
    (port, hits)
}

/// A name other than `localhost` that /etc/hosts maps to a 127.x address
/// (so resolving it needs no network), if there is one.
fn loopback_alias() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|line| {
        let line = line.split('#').next()?;
        let mut words = line.split_whitespace();
        let addr = words.next()?;
        if !addr.starts_with("127.") {
            return None;
        }
        words
            .find(|n| !n.eq_ignore_ascii_case("localhost") && !n.contains("localhost"))
            .map(str::to_string)
    })
}

// ---------------------------------------------------------------------------
// No filesystem, no environment, no sockets

#[test]
fn files_environment_and_sockets_are_out_of_reach() {
    let p = Project::new();
    let secret = "leaky-secret-value-5150";
    let ports = p.with_orca_workers(&format!("LEAKY_SECRET={secret}\n"));
    // Something listening that a leaky host would let the guest reach.
    let stub = Stub::answering(200, "reached");
    config(
        &p,
        "",
        &[
            step("files", "probe-files", "{}", ""),
            step("env", "probe-env", "{}", ""),
            step(
                "socket-worker",
                "probe-socket",
                &format!("{{ port: {} }}", ports[1]),
                "",
            ),
            step(
                "socket-stub",
                "probe-socket",
                &format!("{{ port: {} }}", stub.port),
                "",
            ),
            after(),
        ],
    );
    let run = p.run_with(&["--reset"], |cmd| {
        cmd.env("LEAKY_SECRET", secret);
    });
    assert_contained(
        &p,
        &run,
        ports,
        &["files", "env", "socket-worker", "socket-stub", "after"],
        None,
        &[],
    );
    let report = p.report();

    // Files: every attempt was made, and every one was refused with an error.
    let files = &step_of(&report, 1, "files")["detail"];
    assert_eq!(files["any_ok"], json!(false), "{files}");
    for probe in ["read_passwd", "read_dir_root", "read_dir_cwd", "create_tmp"] {
        let p = &files["probes"][probe];
        assert_eq!(p["ok"], json!(false), "{probe}: {files}");
        assert!(
            !p["error"].as_str().unwrap_or_default().is_empty(),
            "{probe} failed with an error text: {files}"
        );
    }

    // Environment: none of the host's, no arguments, not the host's directory.
    let env = &step_of(&report, 1, "env")["detail"];
    assert_eq!(env["vars"], json!({}), "the guest sees no environment");
    assert_eq!(env["args"], json!([]), "the guest sees no arguments");
    // wasi-libc reports "/" when the host gives no directory; never the host's.
    assert!(
        env["cwd"]["ok"] == json!(false) || env["cwd"]["value"] == json!("/"),
        "the guest sees no host directory: {env}"
    );
    let text = report.to_string();
    assert!(!text.contains(secret), "LEAKY_SECRET leaked: {env}");
    assert!(
        !text.contains("LEAKY_SECRET"),
        "LEAKY_SECRET's name leaked: {env}"
    );

    // Sockets: TCP to an open worker port and to a listening stub, by
    // address and by name, and a UDP bind: all refused.
    for name in ["socket-worker", "socket-stub"] {
        let d = &step_of(&report, 1, name)["detail"];
        assert_eq!(d["connected"], json!(false), "{name}: {d}");
        for probe in ["tcp_ip", "tcp_name", "udp_bind"] {
            assert_eq!(
                d["probes"][probe]["ok"],
                json!(false),
                "{name}/{probe}: {d}"
            );
            assert!(
                !d["probes"][probe]["error"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{name}/{probe} failed with an error text: {d}"
            );
        }
    }
    assert_eq!(stub.hits(), 0, "the stub saw no connection");
}

// ---------------------------------------------------------------------------
// HTTP

#[test]
fn http_tricks_and_redirects_are_refused_before_any_connection() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    // A listener no URL here may reach; every trick below aims at it.
    let target = Stub::answering(200, "reached");
    let t = target.port;
    let (to_target, to_target_hits) = redirector(&format!("http://127.0.0.1:{t}/x"));
    let (to_metadata, to_metadata_hits) = redirector("http://169.254.169.254/latest/meta-data/");
    let worker = format!("http://127.0.0.1:{}/healthz", ports[0]);
    let cases: Vec<(String, String)> = vec![
        (worker.clone(), "status 200".into()),
        (
            format!("http://localhost:{}@evil.example/", ports[0]),
            "URLs with a user name or password are not allowed".into(),
        ),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "169.254.169.254:80 is not on the allow-list".into(),
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{t}/"),
            "not on the allow-list".into(),
        ),
        (
            // 127.0.0.1 as one decimal number.
            format!("http://2130706433:{t}/"),
            format!("127.0.0.1:{t} is not on the allow-list"),
        ),
        (
            format!("http://127.0.0.1:{t}/"),
            format!("127.0.0.1:{t} is not on the allow-list"),
        ),
        (
            "http://evil.example/".into(),
            "evil.example:80 is not on the allow-list".into(),
        ),
        (
            format!("http://127.0.0.1:{to_target}/"),
            format!("redirect to http://127.0.0.1:{t}/x is not on the allow-list"),
        ),
        (
            format!("http://127.0.0.1:{to_metadata}/"),
            "redirect to http://169.254.169.254/latest/meta-data/ is not on the allow-list".into(),
        ),
    ];
    let urls: Vec<String> = cases.iter().map(|(u, _)| format!("\"{u}\"")).collect();
    config(
        &p,
        &format!("allowed_hosts: [\"127.0.0.1:{to_target}\", \"127.0.0.1:{to_metadata}\"]"),
        &[
            step("ok", "http", &format!("{{ url: \"{worker}\" }}"), ""),
            step(
                "tricks",
                "http",
                &format!("{{ urls: [{}] }}", urls.join(", ")),
                "timeout: 20s",
            ),
            after(),
        ],
    );
    let run = run(&p);
    let entry = assert_contained(
        &p,
        &run,
        ports,
        &["ok"],
        Some(("tricks", "http")),
        &["execute: GET "],
    );
    let detail = entry["detail"].as_str().unwrap();
    for (url, expected) in &cases {
        let got = outcome_for(detail, url);
        assert!(
            got.contains(expected.as_str()),
            "GET {url}: expected {expected:?}, got {got:?}"
        );
    }
    assert_eq!(target.hits(), 0, "no trick reached the target");
    assert_eq!(to_target_hits.load(Ordering::SeqCst), 1);
    assert_eq!(to_metadata_hits.load(Ordering::SeqCst), 1);
}

#[test]
fn names_allowed_without_a_port_do_not_reach_loopback() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    let target = Stub::answering(200, "reached");
    let t = target.port;
    let mut cases = vec![(
        format!("http://localhost:{t}/"),
        "localhost is a loopback, private or link-local address; list it with its port".to_string(),
    )];
    let mut allowed = vec!["localhost".to_string()];
    // A name that reaches loopback only once resolved: refused by the
    // resolver's check, before the connection.
    match loopback_alias() {
        Some(alias) => {
            cases.push((
                format!("http://{alias}:{t}/"),
                format!("{alias} resolves to 127."),
            ));
            allowed.push(alias);
        }
        None => eprintln!("note: /etc/hosts names no loopback alias; only `localhost` is tried"),
    }
    let urls: Vec<String> = cases.iter().map(|(u, _)| format!("\"{u}\"")).collect();
    config(
        &p,
        &format!("allowed_hosts: [{}]", allowed.join(", ")),
        &[
            step(
                "names",
                "http",
                &format!("{{ urls: [{}] }}", urls.join(", ")),
                "timeout: 20s",
            ),
            after(),
        ],
    );
    let run = run(&p);
    let entry = assert_contained(&p, &run, ports, &[], Some(("names", "http")), &[]);
    let detail = entry["detail"].as_str().unwrap();
    for (url, expected) in &cases {
        let got = outcome_for(detail, url);
        assert!(
            got.contains(expected.as_str()),
            "GET {url}: expected {expected:?}, got {got:?}"
        );
    }
    assert_eq!(target.hits(), 0, "the server saw no connection");
}

#[test]
fn an_endless_response_is_cut_at_max_response_bytes() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    let (port, sent) = endless();
    let url = format!("http://127.0.0.1:{port}/");
    config(
        &p,
        &format!("allowed_hosts: [\"127.0.0.1:{port}\"]"),
        &[
            step(
                "huge",
                "http",
                &format!("{{ url: \"{url}\" }}"),
                "max_response_bytes: 64KiB\ntimeout: 30s",
            ),
            after(),
        ],
    );
    let run = run(&p);
    let entry = assert_contained(
        &p,
        &run,
        ports,
        &[],
        Some(("huge", "http")),
        &[&format!(
            "response too large: response from {url} is larger than 65536 bytes"
        )],
    );
    assert!(
        entry["duration_ms"].as_u64().unwrap() < 10_000,
        "stopped reading at the cap, not at the step's timeout: {entry}"
    );
    // The host hung up: the server stops well short of its own 512 MiB bound.
    assert!(
        wait_until(Duration::from_secs(20), || {
            let a = sent.load(Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            a == sent.load(Ordering::SeqCst)
        }),
        "the server is still sending"
    );
    let total = sent.load(Ordering::SeqCst);
    assert!(
        total < 64 << 20,
        "the host kept reading: {total} bytes sent"
    );
}

// ---------------------------------------------------------------------------
// Time, memory, stack, traps, malformed results

/// Run `stage` alone (then `after`) with `more` step lines; it must fail with `texts`.
fn fails_alone(stage: &str, args: &str, more: &str, texts: &[&str]) -> (Project, Run, Value) {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    config(
        &p,
        "",
        &[
            step("before", "echo", "{}", ""),
            step("hostile", stage, args, more),
            after(),
        ],
    );
    let run = run(&p);
    let entry = assert_contained(
        &p,
        &run,
        ports,
        &["before"],
        Some(("hostile", stage)),
        texts,
    );
    (p, run, entry)
}

#[test]
fn a_spinning_guest_is_stopped_at_its_timeout() {
    let (_, _, entry) = fails_alone("spin", "{}", "timeout: 2s", &["timed out after 2s"]);
    let ms = entry["duration_ms"].as_u64().unwrap();
    assert!((1_900..10_000).contains(&ms), "stopped at 2 s: {ms} ms");
}

#[test]
fn a_panicking_guest_fails_its_step_with_its_message() {
    fails_alone(
        "trap",
        "{}",
        "",
        &["guest trapped", "hostile guest panicked on purpose"],
    );
}

#[test]
fn unbounded_recursion_fails_its_step() {
    let (_, run, entry) = fails_alone("stack-overflow", "{}", "", &["guest trapped"]);
    // The failure says what happened (wasmtime's trap: "call stack
    // exhausted"), not only that the guest trapped.
    let detail = entry["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("call stack exhausted") || detail.contains("stack overflow"),
        "the failure does not say the stack ran out: {detail}\n{}",
        run.all()
    );
}

#[test]
fn a_greedy_guest_hits_the_memory_cap() {
    fails_alone(
        "grow",
        "{ mib: 512 }",
        "memory: 32MiB",
        &["guest trapped: memory limit of 32 MiB exceeded"],
    );
}

#[test]
fn malformed_json_from_prepare_fails_its_step() {
    fails_alone(
        "malformed",
        "{}",
        "",
        &["prepare returned malformed JSON", r#"{"hostile": [1, 2"#],
    );
}

#[test]
fn a_find_over_a_big_collection_stops_at_max_response_bytes() {
    // 400 documents of ~1 KiB: about 400 KiB of JSON against a 64 KiB cap.
    let docs: Vec<Value> = (0..400)
        .map(|i| json!({ "n": i, "text": "x".repeat(1000) }))
        .collect();
    let p = Project::new();
    let ports = p.with_orca_workers("");
    p.write("data/big.json", &Value::Array(docs).to_string());
    config(
        &p,
        "mongodb:\n  database: hostile_find\n  collections:\n    big:\n      data_file: big.json\n      required_count: 400",
        &[
            step("small", "find-all", "{ collection: big }", "db: read\nmax_response_bytes: 1MiB"),
            step("hostile", "find-all", "{ collection: big }", "db: read\nmax_response_bytes: 64KiB"),
            after(),
        ],
    );
    let run = run(&p);
    assert_contained(
        &p,
        &run,
        ports,
        &["small"],
        Some(("hostile", "find-all")),
        &[
            "find on collection `big` returned more than 65536 bytes",
            "max_response_bytes",
        ],
    );
    assert_eq!(
        step_of(&p.report(), 1, "small")["detail"]["documents"],
        json!(400)
    );
}

#[test]
fn a_huge_insert_many_is_cut_at_the_hooks_deadline() {
    // One insert-many of 300 000 documents (about 27 MB of JSON): more than
    // the managed server stores in the hook's 2 s. The deadline reaches the
    // call in flight; nothing after the hook runs.
    let p = Project::new();
    let ports = p.with_orca_workers("");
    p.write("data/todos.json", r#"[{"title": "one"}]"#);
    p.config(&format!(
        "max_rounds: 1\nmongodb:\n  database: hostile_insert\n  collections:\n    todos:\n      \
         data_file: todos.json\n      required_count: 1\n\
         post_load:\n  module: {{hostile}}\n  stage: insert-flood\n  timeout: 2s\n  \
         args: {{ collection: flood, count: 300000, size: 64 }}\n\
         steps:\n{}",
        after()
    ));
    let run = run(&p);
    run.expect_code(1).expect_output(
        "post-load hook (stage `insert-flood`, worker `worker1`): timed out after 2s",
    );
    let report = p.report();
    assert_eq!(
        promwasm_e2e::outcomes(&report),
        vec![(0, "post-load".to_string(), "timed-out".to_string())],
        "the hook timed out and no step ran: {report:#}"
    );
    let log = std::fs::read_to_string(p.run_dir().join("steps/post-load.log")).unwrap();
    assert!(
        log.contains("built 300000 documents; inserting"),
        "cut in the host call, not in the guest's own work: {log}\n{report:#}"
    );
    assert_workers_gone(ports, &run);
}

// ---------------------------------------------------------------------------
// Bounded host calls: signing, store keys and values

/// For each case, a run of `[ok step at the limit, over-limit step, after]`:
/// the over-limit step fails with `text` well within its timeout, the step
/// at the limit passed (none when `at_limit` is empty).
fn limit_cases(cases: &[(&str, &str, &str, &str)]) {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    for (stage, at_limit, over_limit, text) in cases {
        let mut steps = Vec::new();
        let mut passed = Vec::new();
        if !at_limit.is_empty() {
            steps.push(step("at-limit", stage, at_limit, ""));
            passed.push("at-limit");
        }
        steps.push(step("over-limit", stage, over_limit, "timeout: 30s"));
        steps.push(after());
        config(&p, "", &steps);
        let run = run(&p);
        let entry = assert_contained(
            &p,
            &run,
            ports,
            &passed,
            Some(("over-limit", stage)),
            &[text],
        );
        // Refused up front, well within the step's 30 s.
        let ms = entry["duration_ms"].as_u64().unwrap();
        assert!(ms < 5_000, "{stage} {over_limit}: took {ms} ms");
    }
}

#[test]
fn signing_payloads_are_bounded() {
    limit_cases(&[
        (
            "big-sign",
            "{ bytes: 16384 }",
            "{ bytes: 16385 }",
            "signing limit of 16384 bytes",
        ),
        (
            "big-sign",
            "{ bytes: 16000, how: json }",
            "{ bytes: 100000, how: json }",
            "signing limit of 16384 bytes",
        ),
        (
            "big-sign",
            "{ bytes: 16384, how: detached }",
            "{ bytes: 8388608, how: detached }",
            "signing limit of 16384 bytes",
        ),
    ]);
}

#[test]
fn store_keys_and_values_are_bounded() {
    limit_cases(&[
        (
            "deep-key",
            "{ parts: 16 }",
            "{ parts: 17 }",
            "more than 16 dot-separated parts",
        ),
        (
            "deep-key",
            "{ parts: 1, part_bytes: 256 }",
            "{ parts: 1, part_bytes: 257 }",
            "longer than the limit of 256",
        ),
        (
            "deep-value",
            "{ levels: 32 }",
            "{ levels: 100000 }",
            "nests deeper than 32 levels",
        ),
        (
            "big-value",
            "{ bytes: 1048576 }",
            "{ bytes: 1048577 }",
            "over the limit of 1048576",
        ),
        (
            "big-value",
            "",
            "{ bytes: 67108864 }",
            "over the limit of 1048576",
        ),
    ]);
}

#[test]
fn the_store_as_a_whole_is_capped_at_64_mib_per_run() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    // 60 values of 1 MB fit; 70 more (the first 60 overwritten, so counted
    // once) pass the 64 MiB a run's store may hold.
    config(
        &p,
        "",
        &[
            step("fits", "fill-store", "{ values: 60, bytes: 1000000 }", ""),
            step(
                "overflows",
                "fill-store",
                "{ values: 70, bytes: 1000000 }",
                "timeout: 60s",
            ),
            after(),
        ],
    );
    let run = run(&p);
    assert_contained(
        &p,
        &run,
        ports,
        &["fits"],
        Some(("overflows", "fill-store")),
        &[
            "after 67 values",
            "cannot set `fill.67`",
            "over the limit of 67108864 per run",
        ],
    );
    // What was stored before the refused set is kept, and stays loadable.
    let state = p.state();
    assert_eq!(state["global"]["fill"].as_object().unwrap().len(), 67);
    let size = std::fs::metadata(p.data().join("test_state.json"))
        .unwrap()
        .len();
    assert!(size < 70_000_000, "state file of {size} bytes");
}

// ---------------------------------------------------------------------------
// Logs and output

/// Lines of the step log per step, at most: 1 MiB at ≥ 64 bytes a line, plus the notice.
const MAX_LOG_LINES: usize = (1 << 20) / 64 + 16;
const LOG_LIMIT: &str = "log limit of 1048576 bytes reached; further lines dropped";

#[test]
fn log_floods_newline_bombs_and_stdout_floods_are_cut() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    config(
        &p,
        "",
        &[
            // 100 MB of log in 1 KB lines.
            step(
                "flood",
                "log-flood",
                "{ lines: 100000, bytes: 1000 }",
                "timeout: 30s",
            ),
            // 500 lines of 100 KB: each cut at 4096 bytes.
            step(
                "long",
                "log-flood",
                "{ lines: 500, bytes: 100000 }",
                "timeout: 30s",
            ),
            // One call, ten million empty lines.
            step(
                "bomb",
                "newline-bomb",
                "{ newlines: 10000000 }",
                "timeout: 30s",
            ),
            // 16 MiB on stdout and as much on stderr.
            step("stdout", "stdout-flood", "{ mib: 16 }", "timeout: 30s"),
            after(),
        ],
    );
    let run = run(&p);
    assert_contained(
        &p,
        &run,
        ports,
        &["flood", "long", "bomb", "stdout", "after"],
        None,
        &[],
    );
    let report = p.report();
    for name in ["flood", "long", "bomb", "stdout"] {
        // Well within the step's 30 s: dropped lines cost next to nothing.
        let ms = step_of(&report, 1, name)["duration_ms"].as_u64().unwrap();
        assert!(ms < 10_000, "{name} took {ms} ms");
        let log = log_of(&p, name);
        assert!(
            log.len() <= MAX_LOG_LINES,
            "{name}: {} lines kept",
            log.len()
        );
        assert!(
            log.last().is_some_and(|l| l.contains(LOG_LIMIT)),
            "{name}: the log ends saying it was cut: {:?}",
            log.last()
        );
        assert_eq!(
            log.iter().filter(|l| l.contains(LOG_LIMIT)).count(),
            1,
            "{name}: the notice comes once"
        );
        let bytes: usize = log.iter().map(String::len).sum();
        assert!(bytes <= (1 << 20) + 8192, "{name}: {bytes} bytes kept");
        // The console shows the same, bounded.
        let prefix = format!("[r1 {name}@{WORKER}]");
        let shown = run
            .stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count();
        assert!(shown <= MAX_LOG_LINES, "{name}: {shown} lines printed");
        run.expect_line(&[&prefix, LOG_LIMIT]);
    }
    let bomb = log_of(&p, "bomb");
    assert!(
        bomb.len() > MAX_LOG_LINES - 32,
        "empty lines count 64 bytes each, so about 16384 are kept: {}",
        bomb.len()
    );
    for line in log_of(&p, "long").iter().filter(|l| !l.contains(LOG_LIMIT)) {
        assert!(
            line.len() <= 4096 + 16 && line.ends_with('…'),
            "a long line is cut at 4096 bytes with …: {} bytes",
            line.len()
        );
    }
    let stdout = step_of(&p.report(), 1, "stdout")["detail"].clone();
    for stream in ["stdout_accepted", "stderr_accepted"] {
        let n = stdout[stream].as_u64().unwrap();
        assert!(
            n <= 1 << 20,
            "{stream}: at most 1 MiB per stream is kept, {n} bytes accepted"
        );
    }
}

#[test]
fn guests_cannot_write_escapes_or_forge_lines_on_the_terminal() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    config(
        &p,
        "",
        &[
            step("forge-skip", "forge", "{ end: skip }", ""),
            step("forge-pass", "forge", "{ end: pass }", ""),
            step("forge-fail", "forge", "{ end: fail }", ""),
            after(),
        ],
    );
    let run = run(&p);
    assert_contained(
        &p,
        &run,
        ports,
        &["forge-skip=skipped", "forge-pass"],
        Some(("forge-fail", "forge")),
        &["forged end"],
    );
    // Every offending line on either stream, before asserting, so one
    // failure shows them all (Debug-escaped).
    let mut bad: Vec<String> = Vec::new();
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        for line in text.split('\n') {
            let raw = ['\x1b', '\r', '\x07', '\x08', '\0', '\u{9b}', '\x7f'];
            if line.contains(raw) {
                bad.push(format!("{stream}: raw control character in {line:?}"));
            }
            if line.starts_with("   ✓ ") && line.contains("forged@") {
                bad.push(format!("{stream}: forged line {line:?}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "guest text reached the terminal raw: {bad:#?}"
    );
    // What the guest wrote is shown, made harmless.
    run.expect_line(&["[r1 forge-pass@worker1]", "innocent\u{fffd}"]);
}

// ---------------------------------------------------------------------------
// Secrets

/// A python3 worker that prints its API_TOKEN at start and on every request,
/// and its PLAIN_SETTING at start.
const TOKEN_WORKER: &str = r#"
import os, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
tok = os.environ.get("API_TOKEN", "<unset>")
print(f"worker token is {tok}", flush=True)
print(f"worker stderr token is {tok}", file=sys.stderr, flush=True)
print(f"worker setting is {os.environ.get('PLAIN_SETTING', '<unset>')}", flush=True)

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        print(f"serving with token {tok}", flush=True)
        body = f"token {tok}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

#[test]
fn mapped_secrets_are_masked_on_the_console_in_logs_and_reports() {
    let token = "tok-very-secret-123";
    // A variable whose name says nothing, marked secret in .env.
    let marked = "mk-plain-named-456";
    let p = Project::new();
    p.write("token_worker.py", TOKEN_WORKER);
    let script = p.tests().join("token_worker.py");
    let ports = [free_port(), free_port()];
    let worker = |port: u16| {
        json!({
            "port": port,
            "command": ["python3", script],
            "env_vars": { "API_TOKEN": "API_TOKEN", "PLAIN_SETTING": "PLAIN_SETTING" },
        })
    };
    p.workers(json!({ "worker1": worker(ports[0]), "worker2": worker(ports[1]) }));
    p.write(
        ".env",
        &format!("API_TOKEN={token}\nPLAIN_SETTING={marked}  # secret\n"),
    );
    let url = format!("http://127.0.0.1:{}/", ports[0]);
    config(
        &p,
        "",
        &[
            step("leak", "leak-env", "{ name: API_TOKEN }", ""),
            step("leak-marked", "leak-env", "{ name: PLAIN_SETTING }", ""),
            step("fetch", "http", &format!("{{ url: \"{url}\" }}"), ""),
            step("leak-fail", "leak-env-fail", "{ name: API_TOKEN }", ""),
            after(),
        ],
    );
    let junit = p.tests().join("report.xml");
    let run = p.run_with(&["--reset", "--junit", junit.to_str().unwrap()], |_| {});
    assert_contained(
        &p,
        &run,
        ports,
        &["leak", "leak-marked", "fetch"],
        Some(("leak-fail", "leak-env-fail")),
        &["refusing to go on; API_TOKEN is ***"],
    );
    // The guest did get the values (they are masked, not missing).
    for step in ["leak", "leak-marked"] {
        assert_eq!(
            step_of(&p.report(), 1, step)["detail"]["value"],
            json!("***")
        );
    }
    run.expect_line(&[
        "[r1 leak-marked@worker1]",
        "the value of PLAIN_SETTING is ***",
    ]);
    run.expect_line(&["[r1 leak@worker1]", "the value of API_TOKEN is ***"]);
    run.expect_output("worker token is");
    let script_name = script.display().to_string();
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(
            &script_name
        )
        .is_empty()),
        "python workers left behind: {:?}",
        processes_mentioning(&script_name)
    );

    // Every place promwasm writes text, checked before asserting, so one
    // failure lists every place the token shows.
    let lines_with_token = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(token) || l.contains(marked))
            .map(str::to_string)
            .collect()
    };
    let mut leaks: Vec<(String, Vec<String>)> = Vec::new();
    let mut check = |place: &str, text: &str| {
        let found = lines_with_token(text);
        if !found.is_empty() {
            leaks.push((place.to_string(), found));
        }
    };
    check("console stdout", &run.stdout);
    check("console stderr", &run.stderr);
    check(
        "report.json",
        &std::fs::read_to_string(p.tests().join("report.json")).unwrap(),
    );
    check("report.xml", &std::fs::read_to_string(&junit).unwrap());
    // Worker log files: masking them may land separately from the console's.
    for w in ["worker1", "worker2"] {
        let log = p.worker_log(w);
        assert!(
            log.contains("worker token is") && log.contains("worker setting is ***"),
            "{w}.log has the worker's output:\n{log}"
        );
        check(&format!("runs/latest/logs/{w}.log"), &log);
    }
    // The run directory: each step's log and both reports.
    let run_dir = p.run_dir();
    let steps = std::fs::read_dir(run_dir.join("steps")).unwrap();
    let mut step_logs = 0;
    for entry in steps.flatten() {
        step_logs += 1;
        let text = std::fs::read_to_string(entry.path()).unwrap();
        check(&entry.path().display().to_string(), &text);
    }
    assert!(step_logs > 0, "no step logs in {}", run_dir.display());
    for report in ["report.json", "junit.xml"] {
        check(
            report,
            &std::fs::read_to_string(run_dir.join(report)).unwrap(),
        );
    }
    assert!(
        leaks.is_empty(),
        "the token shows unmasked in: {leaks:#?}\n{}",
        run.all()
    );
}

// ---------------------------------------------------------------------------
// Modules: another contract version, and stages() that never returns

/// `module` with every `promwasm:step/...@0.1.0` import renamed to `@0.2.0`
/// (same length, so the component stays well-formed).
fn as_version_0_2(module: &[u8]) -> Vec<u8> {
    let mut bytes = module.to_vec();
    let mut renamed = 0;
    for iface in ["types", "runner", "worker", "signing", "http", "log", "db"] {
        let from = format!("promwasm:step/{iface}@0.1.0");
        let to = format!("promwasm:step/{iface}@0.2.0");
        let mut at = 0;
        while let Some(i) = find(&bytes[at..], from.as_bytes()) {
            bytes[at + i..at + i + to.len()].copy_from_slice(to.as_bytes());
            at += i + to.len();
            renamed += 1;
        }
    }
    assert!(
        renamed > 0,
        "the module names no promwasm:step@0.1.0 interface"
    );
    bytes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_module_for_another_contract_version_is_refused() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    let module = p.tests().join("v0_2.wasm");
    std::fs::write(
        &module,
        as_version_0_2(&std::fs::read(guest("hostile_guests")).unwrap()),
    )
    .unwrap();
    p.config(&format!(
        "max_rounds: 1\nsteps:\n  - name: newer\n    worker: {WORKER}\n    module: {}\n    stage: probe-env\n",
        module.display()
    ));
    let expect = |run: &Run| {
        run.expect_code(2).expect_errors(&[
            "does not target promwasm:step@0.1.0",
            "@0.2.0",
            "rebuild the step against this version",
        ]);
    };
    expect(&p.check());
    let run = run(&p);
    expect(&run);
    assert!(
        !p.data().join("test_state.json").exists(),
        "nothing started, no state written"
    );
    assert_workers_gone(ports, &run);
    let inspect = run_command(promwasm().arg("inspect").arg(&module), RUN_BOUND);
    inspect.expect_output("targets: promwasm:step@0.2.0");
    assert_ne!(inspect.code, 0, "{}", inspect.all());
}

#[test]
fn stages_that_never_return_are_given_up_on() {
    let p = Project::new();
    let ports = p.with_orca_workers("");
    p.config(&format!(
        "max_rounds: 1\nsteps:\n  - name: stuck\n    worker: {WORKER}\n    module: {{hostile_stages}}\n    stage: anything\n"
    ));
    // The deadline is 10 s (each of check, run and inspect takes about that
    // long); loading the component and a busy machine add a little.
    let bound = Duration::from_secs(20);
    let check = run_command(&mut p.command("check"), RUN_BOUND);
    check
        .expect_code(2)
        .expect_errors(&["stages() did not return within 10s"]);
    assert!(check.took < bound, "check took {:?}", check.took);

    let run = run(&p);
    run.expect_code(2)
        .expect_errors(&["stages() did not return within 10s"]);
    assert!(run.took < bound, "run took {:?}", run.took);
    assert!(
        !p.data().join("test_state.json").exists(),
        "no state written"
    );
    assert_workers_gone(ports, &run);

    let inspect = run_command(
        promwasm().arg("inspect").arg(guest("hostile_stages")),
        RUN_BOUND,
    );
    assert_ne!(inspect.code, 0, "{}", inspect.all());
    inspect.expect_errors(&["stages() did not return within 10s"]);
    assert!(inspect.took < bound, "inspect took {:?}", inspect.took);
}
