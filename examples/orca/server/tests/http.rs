//! End-to-end check of the real `orca-server` binary over HTTP: synthetic
//! todos (no MONGO_URI), Koii-style signed payloads made here with
//! ed25519-dalek exactly as `namespaceWrapper.payloadSigning` makes them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TASK_ID: &str = "task-e2e";

/// base58(signature ‖ JSON text), Koii's `payloadSigning` format.
fn sign(key: &SigningKey, payload: &Value) -> String {
    let message = serde_json::to_vec(payload).unwrap();
    let mut blob = key.sign(&message).to_bytes().to_vec();
    blob.extend_from_slice(&message);
    bs58::encode(blob).into_string()
}

fn keypair(seed: u8) -> (SigningKey, String) {
    let sk = SigningKey::from_bytes(&[seed; 32]);
    let pk = bs58::encode(sk.verifying_key().as_bytes()).into_string();
    (sk, pk)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The running server; killed on drop, and its logs printed if the test failed.
struct Server {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Server {
    fn start() -> Server {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("orca-http-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // Ask the OS for a free port, then hand it to the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_orca-server"))
            .env("PORT", port.to_string())
            // A directory that does not exist yet: the server must create it.
            .env("DATABASE_PATH", dir.join("db/state.json"))
            .env("WORKER_NAME", "http-test")
            .env("TASK_ID", TASK_ID)
            .env_remove("MONGO_URI")
            .env_remove("MONGO_DB")
            .stdout(Stdio::from(
                fs::File::create(dir.join("stdout.log")).unwrap(),
            ))
            .stderr(Stdio::from(
                fs::File::create(dir.join("stderr.log")).unwrap(),
            ))
            .spawn()
            .expect("start orca-server");
        Server {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Polls /healthz until it answers 200, the process dies, or 30 s pass.
    async fn wait_ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("orca-server exited early with {status}");
            }
            let probe = http.get(format!("{}/healthz", self.base)).send().await;
            if let Ok(response) = probe {
                if response.status() == 200 {
                    assert_eq!(response.json::<Value>().await.unwrap(), json!({"ok": true}));
                    return;
                }
            }
            assert!(Instant::now() < deadline, "orca-server not ready in 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn post(&self, http: &reqwest::Client, path: &str, body: &Value) -> (u16, Value) {
        let response = http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit 10 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "exit after SIGTERM: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- orca-server stdout ---\n{}", self.log("stdout.log"));
            eprintln!("--- orca-server stderr ---\n{}", self.log("stderr.log"));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn tamper(signed: &str) -> String {
    let mut raw = bs58::decode(signed).into_vec().unwrap();
    let last = raw.len() - 2; // inside the JSON text, before the closing brace
    raw[last] ^= 0x01;
    bs58::encode(raw).into_string()
}

fn assert_path_exists(path: &Path) {
    assert!(path.exists(), "{} should exist", path.display());
}

#[tokio::test]
async fn signed_task_submission_and_audit_over_http() {
    let http = reqwest::Client::new();
    let mut server = Server::start();
    server.wait_ready(&http).await;

    let (worker_sk, worker_key) = keypair(1);
    let (_, worker_pub) = keypair(2);
    let (auditor_sk, auditor_key) = keypair(3);
    let round = 1;

    // --- /task, correctly signed ---
    let task_payload = json!({
        "taskId": TASK_ID, "roundNumber": round, "action": "task",
        "stakingKey": worker_key, "pubKey": worker_pub,
    });
    let task_signature = sign(&worker_sk, &task_payload);
    let (status, body) = server
        .post(
            &http,
            "/task",
            &json!({"signature": task_signature, "stakingKey": worker_key, "pubKey": worker_pub}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    let result = body["data"].clone();
    assert_eq!(
        result,
        json!({
            "roundNumber": round,
            "todo": "todo 1",
            "digest": sha256_hex(&format!("{TASK_ID}:1:todo 1")),
            "worker": "http-test",
        })
    );
    assert_path_exists(&server.dir.join("db/state.json"));

    // --- /task, one message byte changed after signing ---
    let (status, body) = server
        .post(
            &http,
            "/task",
            &json!({"signature": tamper(&task_signature), "stakingKey": worker_key, "pubKey": worker_pub}),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(
        body["error"],
        format!("signature does not verify for {worker_key}")
    );

    // --- malformed body ---
    let response = http
        .post(format!("{}/task", server.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid request body"),
        "{body}"
    );

    // --- /submission ---
    let fetch = |r: u64| {
        json!({
            "signature": sign(&auditor_sk, &json!({
                "taskId": TASK_ID, "roundNumber": r, "action": "fetch-submission",
                "stakingKey": auditor_key,
            })),
            "stakingKey": auditor_key,
        })
    };
    let (status, body) = server.post(&http, "/submission", &fetch(round)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "data": {"roundNumber": round, "submission": result}})
    );
    let (status, body) = server.post(&http, "/submission", &fetch(2)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "no submission for round 2");

    // --- /audit ---
    let audit = |submission: &Value| {
        json!({
            "signature": sign(&auditor_sk, &json!({
                "taskId": TASK_ID, "roundNumber": round, "action": "audit",
                "stakingKey": auditor_key,
            })),
            "stakingKey": auditor_key,
            "submission": submission,
            "submitterKey": worker_key,
            "submissionSignature": sign(&worker_sk, submission),
        })
    };
    let (status, body) = server.post(&http, "/audit", &audit(&result)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"valid": true, "reason": "ok"}));

    let mut forged = result.clone();
    forged["digest"] = json!(sha256_hex("something else"));
    let (status, body) = server.post(&http, "/audit", &audit(&forged)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["valid"], false);
    let reason = body["data"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("digest mismatch"), "{reason}");

    // --- /state shows the round and both audits ---
    let state: Value = http
        .get(format!("{}/state", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["rounds"]["1"], result);
    let audits = state["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 2, "{state}");
    assert_eq!(audits[0]["valid"], true);
    assert_eq!(audits[1]["valid"], false);
    assert_eq!(audits[1]["auditor"], auditor_key.as_str());

    server.terminate();
    let stdout = server.log("stdout.log");
    assert!(stdout.contains("POST /task 401"), "{stdout}");
    assert!(server
        .log("stderr.log")
        .contains(&format!("signature does not verify for {worker_key}")));
}
