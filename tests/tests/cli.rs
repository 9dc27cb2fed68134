//! The small subcommands: keygen, inspect, check.

use promwasm_e2e::{guest, promwasm, Project};

#[test]
fn keygen_writes_a_solana_keypair_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let out = promwasm().arg("keygen").arg(&path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let public = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let bytes: Vec<u8> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(bytes.len(), 64);
    assert_eq!(
        bs58::encode(&bytes[32..]).into_string(),
        public,
        "the file's second half is the printed key"
    );
    let seed: [u8; 32] = bytes[..32].try_into().unwrap();
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(derived.as_bytes(), &bytes[32..]);

    let again = promwasm().arg("keygen").arg(&path).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"),
        "{again:?}"
    );
}

#[test]
fn inspect_lists_version_stages_and_imports() {
    let out = promwasm()
        .arg("inspect")
        .arg(guest("orca_steps"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("targets: promwasm:step@0.1.0"), "{text}");
    for stage in ["task", "submission", "audit", "post-load"] {
        assert!(
            text.contains(&format!("  {stage} ")),
            "no stage {stage}: {text}"
        );
    }
    assert!(text.contains("promwasm:step/signing@0.1.0"), "{text}");
}

#[test]
fn check_validates_without_starting_anything() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config("max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n    stage: echo\n");
    let out = promwasm()
        .arg("check")
        .arg(p.tests().join("config.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK — 2 workers, 1 steps"));
    assert!(
        !p.tests().join("data/test_state.json").exists(),
        "check starts nothing and writes no state"
    );

    // Modules are checked too, as `run` checks them before starting.
    p.config("max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n    stage: ecko\n");
    let out = promwasm()
        .arg("check")
        .arg(p.tests().join("config.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has no stage `ecko`"), "{err}");
    assert!(err.contains("did you mean `echo`?"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = promwasm().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compiled_components_are_cached_by_digest() {
    let p = Project::new();
    p.with_orca_workers("");
    p.config("max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n    stage: echo\n");
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        let out = promwasm()
            .env("PROMWASM_CACHE_DIR", cache.path())
            .arg("run")
            .arg(p.tests().join("config.yaml"))
            .arg("--reset")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    run();
    let inspect = promwasm()
        .arg("inspect")
        .arg(guest("test_guests"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    let sha = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .unwrap()
        .trim()
        .to_string();
    let entries = || -> Vec<String> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let first = entries();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].starts_with(&sha) && first[0].ends_with(".cwasm"),
        "{first:?}"
    );
    let modified = std::fs::metadata(cache.path().join(&first[0]))
        .unwrap()
        .modified()
        .unwrap();
    run();
    assert_eq!(entries(), first, "the second run reuses the entry");
    let again = std::fs::metadata(cache.path().join(&first[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, again, "and does not recompile");
}
