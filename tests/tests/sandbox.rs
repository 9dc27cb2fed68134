//! The sandbox: guests that trap, spin or exhaust memory fail their own step
//! and nothing else; HTTP is allow-listed; the environment and private keys
//! stay in the host; signatures verify.

use ed25519_dalek::{Signature, VerifyingKey};
use promwasm_e2e::{outcomes, Project};
use serde_json::{json, Value};

fn one_step(p: &Project, stage: &str, args: &str, extra: &str) {
    p.config(&format!(
        "max_rounds: 1\n{extra}\nsteps:\n  - name: probe\n    worker: worker1\n    module: {{guests}}\n    stage: {stage}\n    args: {args}\n  - name: after\n    worker: worker1\n    module: {{guests}}\n    stage: echo\n"
    ));
}

#[test]
fn a_trapping_guest_fails_its_step_only() {
    let p = Project::new();
    p.with_orca_workers("");
    one_step(&p, "trap", "{}", "");
    let run = p.run(&[]);
    run.expect_code(1)
        .expect_output("round 1, step `probe` (stage `trap`, worker `worker1`): guest trapped")
        .expect_output("guest panicked on purpose");
    only_probe_failed(&p);
    // The runner survived: the state is intact and the next run retries the step.
    assert_eq!(p.state()["last_completed_step"], Value::Null);
    p.run(&[])
        .expect_code(1)
        .expect_output("Resuming round 1 after step (none)")
        .expect_output("guest panicked on purpose");
    only_probe_failed(&p);
}

/// The report shows `probe` failed (or timed out) and `after` did not run.
fn only_probe_failed(p: &Project) {
    only_probe_ended(p, "failed")
}

fn only_probe_ended(p: &Project, status: &str) {
    assert_eq!(
        outcomes(&p.report()),
        vec![
            (1, "probe".to_string(), status.to_string()),
            (1, "after".to_string(), "not-run".to_string())
        ]
    );
}

#[test]
fn a_spinning_guest_times_out() {
    let p = Project::new();
    p.with_orca_workers("");
    one_step(&p, "spin", "{}", "defaults: { timeout: 1s }");
    let junit = p.tests().join("junit.xml");
    let run = p.run(&["--junit", junit.to_str().unwrap()]);
    run.expect_code(1)
        .expect_output(
            "TIMED OUT round 1, step `probe` (stage `spin`, worker `worker1`): timed out after 1s",
        )
        .expect_line(&["⏱ timed out", "probe@worker1"])
        .expect_output("this run: 0 passed, 1 timed out, 1 not run");
    assert!(run.took < std::time::Duration::from_secs(60));
    only_probe_ended(&p, "timed-out");
    // CI reads the JUnit file: a failure of type "timed out", the rest skipped as not run.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("type=\"timed out\""), "{xml}");
    assert!(
        xml.contains("<skipped message=\"not run: round 1, step `probe` did not pass\""),
        "{xml}"
    );
    let ms = p.report()["steps"][0]["duration_ms"].as_u64().unwrap();
    assert!(
        (900..10_000).contains(&ms),
        "stopped at its deadline: {ms} ms"
    );
}

#[test]
fn a_greedy_guest_hits_the_memory_cap() {
    let p = Project::new();
    p.with_orca_workers("");
    one_step(&p, "grow", "{ mib: 512 }", "defaults: { memory: 32MiB }");
    p.run(&[]).expect_code(1).expect_output(
        "round 1, step `probe` (stage `grow`, worker `worker1`): guest trapped: memory limit of 32 MiB exceeded",
    );
    only_probe_failed(&p);
}

#[test]
fn http_reaches_workers_but_nothing_else() {
    let p = Project::new();
    let [port, _] = p.with_orca_workers("");
    one_step(
        &p,
        "http-probe",
        &format!("{{ url: \"http://127.0.0.1:{port}/healthz\" }}"),
        "",
    );
    p.run(&[]).expect_code(0);
    assert_eq!(p.report()["steps"][0]["detail"], json!({"status": 200}));

    // Nobody listens there, and it is not on the allow-list.
    let other = promwasm_e2e::closed_port();
    one_step(
        &p,
        "http-probe",
        &format!("{{ url: \"http://127.0.0.1:{other}/\" }}"),
        "",
    );
    p.run(&["--reset"]).expect_code(0);
    let detail = &p.report()["steps"][0]["detail"];
    assert!(
        detail["error"]
            .as_str()
            .unwrap()
            .contains("not on the allow-list"),
        "{detail}"
    );

    // allowed_hosts opens more.
    one_step(
        &p,
        "http-probe",
        &format!("{{ url: \"http://127.0.0.1:{other}/\" }}"),
        &format!("allowed_hosts: [\"localhost:{other}\"]"),
    );
    p.run(&["--reset"]).expect_code(0);
    let detail = &p.report()["steps"][0]["detail"];
    let error = detail["error"].as_str().unwrap_or("");
    assert!(
        !error.contains("allow-list") && error.contains("onnect"),
        "allowed, but nobody listens: {detail}"
    );
}

#[test]
fn guests_see_mapped_env_config_and_public_keys_only() {
    let p = Project::new();
    p.with_orca_workers("SECRET_HOST_VALUE=hidden\n");
    one_step(
        &p,
        "introspect",
        r#"{ env: TASK_ID, config_key: custom.nested, sign: { b: 2, a: "é" } }"#,
        "custom: { nested: 42 }",
    );
    let run = p.run(&[]);
    run.expect_code(0);
    let d = &p.report()["steps"][0]["detail"];
    assert_eq!(d["worker"]["name"], json!("worker1"));
    assert_eq!(d["names"], json!(["worker1", "worker2"]));
    assert_eq!(
        d["env"],
        json!("test-task"),
        "TASK_ID is mapped in workers.json"
    );
    assert_eq!(
        d["config"],
        json!(42),
        "unknown top-level keys are readable"
    );
    assert_eq!(d["round"], json!(1));
    let text = d.to_string();
    assert!(!text.contains("hidden"), "host env leaked: {text}");

    // The signature is Koii's format: base58(sig ‖ json.dumps(payload, sort_keys=True)).
    let signed = bs58::decode(d["signed"]["signature"].as_str().unwrap())
        .into_vec()
        .unwrap();
    let key = bs58::decode(d["signed"]["public_key"].as_str().unwrap())
        .into_vec()
        .unwrap();
    let (sig, msg) = signed.split_at(64);
    assert_eq!(msg, br#"{"a": "\u00e9", "b": 2}"#);
    let key = VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    key.verify_strict(msg, &Signature::from_slice(sig).unwrap())
        .unwrap();

    // The private key's bytes never appear in anything the guest returned.
    let keyfile: Vec<u8> = serde_json::from_str(
        &std::fs::read_to_string(p.root().join("tests/keys/worker1-staking.json")).unwrap(),
    )
    .unwrap();
    assert!(!text.contains(&bs58::encode(&keyfile[..32]).into_string()));
}

#[test]
fn guest_stdout_and_stderr_go_to_the_step_log() {
    let p = Project::new();
    p.with_orca_workers("");
    one_step(&p, "stdout", "{}", "");
    p.run(&[])
        .expect_code(0)
        .expect_output("[r1 probe@worker1]")
        .expect_output("stdout hello from stdout")
        .expect_output("stderr hello from stderr");
    assert_eq!(outcomes(&p.report())[0].2, "passed");
}
