//! `module: {url, sha256}`: fetched once over real HTTP into the
//! content-addressed cache, refused on a digest mismatch, kept for later runs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use promwasm_e2e::{
    closed_port, expect_orca_example_passed, guest, orca_example_copy, outcomes, run_example,
    Project,
};

/// A small HTTP server of files by name (`/<name>`); counts the requests for each.
struct ModuleServer {
    port: u16,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl ModuleServer {
    /// Serves `body` as `/test_guests.wasm`.
    fn start(body: Vec<u8>) -> Self {
        Self::serving(vec![("test_guests.wasm".into(), body)])
    }

    fn serving(files: Vec<(String, Vec<u8>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(BTreeMap::new()));
        let counter = hits.clone();
        let files: BTreeMap<String, Vec<u8>> = files.into_iter().collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                // Skip the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let name = request
                    .strip_prefix("GET /")
                    .and_then(|r| r.split(' ').next())
                    .unwrap_or_default();
                let response = match files.get(name) {
                    Some(body) => {
                        *counter.lock().unwrap().entry(name.to_string()).or_insert(0) += 1;
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(body);
                        r
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            }
        });
        ModuleServer { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Requests for `/test_guests.wasm`.
    fn hits(&self) -> usize {
        self.hits_of("test_guests.wasm")
    }

    fn hits_of(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

fn sha256_of(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn a_module_pinned_by_url_is_fetched_once_and_kept() {
    let module = guest("test_guests");
    let sha = sha256_of(&module);
    let server = ModuleServer::start(std::fs::read(&module).unwrap());
    let p = Project::new();
    p.with_orca_workers("");
    p.config(&format!(
        r#"max_rounds: 1
steps:
  - name: one
    worker: worker1
    module: {{ url: "{url}", sha256: {sha} }}
    stage: echo
    args: {{ n: 1 }}
  - name: two
    worker: worker2
    module: {{ url: "{url}", sha256: {upper} }}
    stage: count-runs
"#,
        url = server.url("test_guests.wasm"),
        upper = sha.to_uppercase(),
    ));
    let cache = p.root().join("cache");
    let cache_arg = ["--cache-dir", cache.to_str().unwrap(), "--reset"];
    p.run(&cache_arg).expect_code(0);
    assert_eq!(server.hits(), 1, "two steps, one module, one download");
    let kept = cache.join("modules").join(format!("{sha}.wasm"));
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        std::fs::read(&module).unwrap()
    );
    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "one".into(), "passed".into()),
            (1, "two".into(), "passed".into())
        ]
    );

    p.run(&cache_arg).expect_code(0);
    assert_eq!(server.hits(), 1, "a later run uses the kept module");

    // A damaged copy is not run: it is fetched again.
    std::fs::write(&kept, b"not the module").unwrap();
    p.run(&cache_arg).expect_code(0);
    assert_eq!(server.hits(), 2);
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        std::fs::read(&module).unwrap()
    );
}

#[test]
fn a_wrong_digest_or_an_unreachable_module_is_refused_before_anything_starts() {
    let module = guest("test_guests");
    let sha = sha256_of(&module);
    let server = ModuleServer::start(std::fs::read(&module).unwrap());
    let p = Project::new();
    p.with_orca_workers("");
    let zeros = "0".repeat(64);
    // Nobody listens there: see `closed_port`.
    let closed = format!("http://127.0.0.1:{}/gone.wasm", closed_port());
    p.config(&format!(
        r#"max_rounds: 1
steps:
  - name: pinned-wrong
    worker: worker1
    module: {{ url: "{url}", sha256: "{zeros}" }}
    stage: echo
  - name: not-there
    worker: worker1
    module: {{ url: "{missing}", sha256: {sha} }}
    stage: echo
  - name: nobody-home
    worker: worker1
    module: {{ url: "{closed}", sha256: {sha} }}
    stage: echo
"#,
        url = server.url("test_guests.wasm"),
        missing = server.url("missing.wasm"),
    ));
    let cache = p.root().join("cache");
    let run = p.run(&["--cache-dir", cache.to_str().unwrap()]);
    run.expect_code(2)
        .expect_output(&format!(
            "step `pinned-wrong`: {} has sha256 {sha}, but the config pins {zeros}",
            server.url("test_guests.wasm")
        ))
        .expect_output(&format!(
            "step `not-there`: cannot download {}: the server answered 404 Not Found",
            server.url("missing.wasm")
        ))
        .expect_output(&format!("step `nobody-home`: cannot download {closed}: "))
        .expect_output("Connection refused");
    let kept: Vec<_> = std::fs::read_dir(cache.join("modules"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(kept.is_empty(), "nothing unverified is kept: {kept:?}");
    assert!(
        !p.tests().join("data").join("test_state.json").exists(),
        "no run started"
    );
}

#[test]
fn a_malformed_module_pin_is_located() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config(
        r#"max_rounds: 1
steps:
  - name: a
    worker: worker1
    module: { url: "ftp://example.com/m.wasm", sha256: abc123, size: 3 }
    stage: echo
"#,
    );
    let run = p.run(&[]);
    run.expect_code(2);
    run.expect_errors(&[
        "config.yaml:6:",
        "`url` in `module` of step `a` must start with https:// or http://, found `ftp://example.com/m.wasm`",
        "`sha256` in `module` of step `a` must be 64 hex digits",
        "unknown key `size` in `module` of step `a`",
    ]);
}

/// "Share a step module" as the README shows it: modules built in C, Rust,
/// JavaScript and Python, published on a plain HTTP server and pinned by
/// `{url, sha256}`, run the mixed-language example.
#[test]
fn modules_in_every_language_are_shared_by_url() {
    let names = [
        "orca_steps_c",
        "orca_steps",
        "orca_steps_js",
        "orca_steps_py",
    ];
    let server = ModuleServer::serving(
        names
            .iter()
            .map(|n| (format!("{n}.wasm"), std::fs::read(guest(n)).unwrap()))
            .collect(),
    );
    let copy = orca_example_copy();
    let config = copy.path().join("tests/config-mixed.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    for name in names {
        let path = guest(name).display().to_string();
        let pinned = format!(
            "{{ url: \"{}\", sha256: {} }}",
            server.url(&format!("{name}.wasm")),
            sha256_of(&guest(name))
        );
        assert!(
            text.contains(&format!("{path}\n")),
            "config-mixed.yaml uses {name}"
        );
        text = text.replace(&format!("{path}\n"), &format!("{pinned}\n"));
    }
    assert!(
        !text.contains(".wasm\n"),
        "every module is pinned by URL:\n{text}"
    );
    std::fs::write(&config, text).unwrap();
    let (run, report) = run_example(copy.path(), "config-mixed.yaml");
    run.expect_code(0);
    expect_orca_example_passed(&report, &run.all());
    for name in names {
        // Once, or never when an earlier run left it in the shared cache.
        assert!(server.hits_of(&format!("{name}.wasm")) <= 1, "{name}");
    }
}
