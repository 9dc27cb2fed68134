//! The process supervisor end to end: a `promwasm run` killed outright
//! (SIGKILL, no chance to clean up) leaves no worker and no managed database
//! server behind — the kernel's parent-death signal stops them — and the next
//! run starts cleanly on the same ports.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use promwasm_e2e::Project;

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Running and not a zombie (a zombie is dead, only not yet reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Live processes whose command line contains `program` and that belong to
/// the project in `root` (their arguments or working directory are inside it).
fn processes_of(root: &Path, program: &str) -> Vec<u32> {
    let root = root.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            cmdline.contains(program)
                && (cmdline.contains(&root) || cwd.starts_with(&root))
                && alive(pid)
        })
        .collect()
}

/// Poll `done` until it holds or `limit` passes.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The port in the first `127.0.0.1:PORT` after `marker` in `text`.
fn port_after(text: &str, marker: &str) -> Option<u16> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let rest = &rest[rest.find("127.0.0.1:")? + "127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

const TODOS: &str = r#"[{"title": "one"}, {"title": "two"}]"#;

fn config(stage: &str) -> String {
    format!(
        "max_rounds: 1\ndefaults: {{ timeout: 60s }}\n\
         mongodb:\n  database: e2e\n  collections:\n    todos:\n      data_file: todos.json\n      required_count: 1\n\
         steps:\n  - name: long\n    worker: worker2\n    module: {{guests}}\n    stage: {stage}\n"
    )
}

#[test]
fn sigkill_of_promwasm_leaves_no_worker_or_database_server_behind() {
    let p = Project::new();
    let [w1, w2] = p.with_orca_workers("");
    p.write("data/todos.json", TODOS);
    p.config(&config("spin"));
    let mut child = p.spawn(&[]);
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut buf = [0u8; 4096];
    while !seen.contains("(spin on worker") {
        assert!(
            Instant::now() < deadline,
            "the spin step never started:\n{seen}"
        );
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("promwasm ended early:\n{seen}\n--- stderr\n{err}");
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }

    // What is running for this project right now.
    assert!(port_open(w1) && port_open(w2), "workers listen:\n{seen}");
    let workers = processes_of(p.root(), "orca-server");
    assert_eq!(workers.len(), 2, "two workers running: {workers:?}\n{seen}");
    let servers = processes_of(p.root(), "secantusd");
    assert!(
        !servers.is_empty(),
        "the managed server runs with its data in the project:\n{seen}"
    );
    let log = std::fs::read_to_string(p.run_dir().join("logs/mongodb.log")).unwrap_or_default();
    let db_port = port_after(&seen, "mongodb://")
        .or_else(|| port_after(&log, "listening on"))
        .unwrap_or_else(|| panic!("no database port in the output or log:\n{seen}\n{log}"));
    assert!(port_open(db_port));

    // No SIGTERM, no cleanup: only the kernel can stop the children now.
    child.kill().unwrap();
    child.wait().unwrap();
    let limit = Duration::from_secs(5);
    assert!(
        within(limit, || !port_open(w1) && !port_open(w2)),
        "worker ports still open after promwasm was killed"
    );
    assert!(
        within(limit, || workers.iter().all(|&pid| !alive(pid))),
        "workers left behind: {:?}",
        processes_of(p.root(), "orca-server")
    );
    assert!(
        within(limit, || servers.iter().all(|&pid| !alive(pid))),
        "managed database server left behind: {:?}",
        processes_of(p.root(), "secantusd")
    );
    assert!(
        within(limit, || !port_open(db_port)),
        "database port {db_port} still open"
    );

    // The next run gets the same worker ports and a fresh server.
    p.config(&config("echo"));
    p.run(&["--reset"]).expect_code(0);
    assert!(!port_open(w1) && !port_open(w2), "stopped after the run");
    assert!(
        processes_of(p.root(), "secantusd").is_empty(),
        "the second run's server was stopped too"
    );
}
