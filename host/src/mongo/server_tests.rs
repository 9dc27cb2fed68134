//! Tests of `server`, beside it.

use super::*;

/// Where the test server binaries live (after PATH): `PROMWASM_MONGO_BIN_DIR`,
/// then the repository's `.venv` (which `cargo xtask test` fills).
pub(crate) fn test_bin_dirs() -> Vec<PathBuf> {
    let mut dirs = bin_dirs_from_env();
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin"));
    dirs
}

/// A server for one test, its log in `dir`.
pub(crate) async fn test_server(dir: &Path) -> ManagedServer {
    ManagedServer::start(
        &test_bin_dirs(),
        &dir.join("mongo.log"),
        &Storage::Temporary,
    )
    .await
    .expect("server starts")
}

#[test]
fn parses_announcements() {
    assert_eq!(
        announced_port(
            "2026-11-22 02:47:56,931 INFO secantus.server: secantus listening on 127.0.0.1:35685\n"
        ),
        Some(35685)
    );
    assert_eq!(announced_port("listening on [::1]:4000."), Some(4000));
    assert_eq!(announced_port("127.0.0.1:27018"), Some(27018));
    assert_eq!(announced_port("mongodb://127.0.0.1:27019"), Some(27019));
    assert_eq!(announced_port("02:47:56,931 starting up"), None);
    assert_eq!(announced_port("listening on 127.0.0.1:0"), None);
}

#[test]
fn kinds_display_as_binary_names() {
    let names: Vec<String> = ServerKind::ALL.iter().map(|k| k.to_string()).collect();
    assert_eq!(names, ["mongod", "secantusd-rs", "secantusd-py"]);
}

#[test]
fn not_found_names_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    let err = find_server(&[empty.path().to_path_buf()]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ServerError::NotFound { .. }));
    assert!(
        msg.contains("python3 -m venv .venv && .venv/bin/pip install SecantusDB==0.7.0b3"),
        "{msg}"
    );
    assert!(msg.contains("MONGO_URI"), "{msg}");
    assert!(msg.contains(&empty.path().display().to_string()), "{msg}");
}

#[test]
fn finder_prefers_mongod_and_skips_non_executables() {
    use std::os::unix::fs::PermissionsExt;
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let make = |dir: &Path, name: &str, mode: u32| {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    let py = make(a.path(), "secantusd-py", 0o755);
    make(a.path(), "mongod", 0o644); // not executable: ignored
    let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
    assert_eq!(find_server(&dirs).unwrap(), (ServerKind::SecantusPy, py));
    let mongod = make(b.path(), "mongod", 0o755);
    assert_eq!(find_server(&dirs).unwrap(), (ServerKind::Mongod, mongod));
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_answers_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = test_server(dir.path()).await;
    assert!(server.uri().starts_with("mongodb://127.0.0.1:"));
    assert!(ping(server.uri()).await);
    let addr = server.uri().trim_start_matches("mongodb://").to_owned();
    let pid = server.process.as_ref().and_then(Process::pid).unwrap();
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "port still open after stop"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process left behind"
    );
    let log = std::fs::read_to_string(dir.path().join("mongo.log")).unwrap();
    assert!(log.contains("listening on"), "log: {log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_storage_survives_a_restart() {
    use mongodb::bson::{doc, Document};
    let dir = tempfile::tempdir().unwrap();
    let keep = Storage::Keep(dir.path().join("mongodb"));
    let log = dir.path().join("mongo.log");
    let server = ManagedServer::start(&test_bin_dirs(), &log, &keep)
        .await
        .unwrap();
    let folder = dir.path().join("mongodb").join(server.kind().binary_name());
    assert!(folder.is_dir(), "{}", folder.display());
    let client = crate::mongo::connect(server.uri(), Duration::from_secs(5))
        .await
        .unwrap();
    let todos = client.database("d").collection::<Document>("todos");
    todos.insert_one(doc! { "kept": true }).await.unwrap();
    server.stop().await;

    let again = ManagedServer::start(&test_bin_dirs(), &log, &keep)
        .await
        .unwrap();
    let client = crate::mongo::connect(again.uri(), Duration::from_secs(5))
        .await
        .unwrap();
    let todos = client.database("d").collection::<Document>("todos");
    assert_eq!(
        todos.count_documents(doc! { "kept": true }).await.unwrap(),
        1
    );
    again.stop().await;
    assert!(folder.is_dir(), "kept storage is not removed at stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_kills_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = test_server(dir.path()).await;
    let addr = server.uri().trim_start_matches("mongodb://").to_owned();
    drop(server);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "port still open after drop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An executable script `name` in `dir` running `body` (`$PY` is the real secantusd-py).
fn wrapper(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let py = search_dirs(&test_bin_dirs())
        .into_iter()
        .map(|d| d.join("secantusd-py"))
        .find(|p| is_executable(p))
        .expect("secantusd-py for tests");
    let path = dir.join(name);
    let script = format!("#!/bin/sh\nPY='{}'\n{body}\n", py.display());
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_build_announces_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    // Stand-in for secantusd-rs: the same server, its log moved to stdout;
    // it checks it was given a real folder for storage (it has no `:memory:`).
    let fake = wrapper(
        dir.path(),
        "secantusd-rs",
        "[ \"$5\" = --storage-path ] && [ -d \"$6\" ] || exit 9\n\
             exec \"$PY\" --host \"$2\" --port \"$4\" --storage-path :memory: 2>&1",
    );
    let server = ManagedServer::start_binary(
        ServerKind::SecantusRs,
        &fake,
        &dir.path().join("log"),
        &Storage::Temporary,
    )
    .await
    .unwrap();
    assert_eq!(server.kind(), ServerKind::SecantusRs);
    let storage = server.temp_dir.clone().unwrap();
    assert!(storage.is_dir());
    assert!(ping(server.uri()).await);
    server.stop().await;
    assert!(!storage.exists(), "temp storage left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn mongod_gets_a_port_and_a_temp_dbpath() {
    let dir = tempfile::tempdir().unwrap();
    // Stand-in for mongod: checks our flags, then serves on the port we picked.
    let fake = wrapper(
            dir.path(),
            "mongod",
            "[ \"$1\" = --port ] && [ \"$3\" = --bind_ip ] && [ \"$5\" = --dbpath ] && [ -d \"$6\" ] || exit 9\n\
             exec \"$PY\" --host \"$4\" --port \"$2\" --storage-path :memory:",
        );
    let server = ManagedServer::start_binary(
        ServerKind::Mongod,
        &fake,
        &dir.path().join("log"),
        &Storage::Temporary,
    )
    .await
    .unwrap();
    let dbpath = server.temp_dir.clone().unwrap();
    assert!(dbpath.is_dir());
    assert!(ping(server.uri()).await);
    server.stop().await;
    assert!(!dbpath.exists(), "temp dbpath left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn early_exit_quotes_the_output() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("secantusd-py");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'bad flag --frobnicate' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = ManagedServer::start_binary(
        ServerKind::SecantusPy,
        &fake,
        &dir.path().join("log"),
        &Storage::Temporary,
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ServerError::ExitedEarly { .. }), "{msg}");
    assert!(msg.contains("bad flag --frobnicate"), "{msg}");
    assert!(msg.contains("secantusd-py"), "{msg}");
}
