//! The small subcommands: keygen, inspect, check.

use std::collections::BTreeMap;
use std::path::Path;

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
fn keygen_for_a_config_creates_every_missing_keypair_and_its_env_var() {
    let p = Project::new();
    // prometheus-test's README layout: keypairs named by env vars.
    p.workers(serde_json::json!({
        "worker1": { "url": "http://127.0.0.1:9", "keypairs": {
            "staking": "WORKER1_STAKING_KEYPAIR", "main": "WORKER1_MAIN_KEYPAIR" } },
        "worker2": { "url": "http://127.0.0.1:9", "keypairs": {
            "staking": "WORKER2_STAKING_KEYPAIR", "main": "WORKER2_MAIN_KEYPAIR" } },
    }));
    p.config("max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {guests}\n    stage: echo\n");
    // One variable names a file that exists, one a file that does not.
    let existing = p.keypair("kept");
    let kept_before = std::fs::read(p.root().join(&existing)).unwrap();
    p.write(
        ".env",
        &format!("WORKER1_STAKING_KEYPAIR={existing}\nWORKER1_MAIN_KEYPAIR=tests/keys/named.json"),
    );
    let check = p.check();
    assert_eq!(check.code, 2, "keys missing before: {}", check.all());

    let keygen = || {
        let out = promwasm()
            .args(["keygen", "--for"])
            .arg(p.tests().join("config.yaml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let said = keygen();
    assert!(said.contains("kept") && said.contains("created"), "{said}");
    assert_eq!(
        std::fs::read(p.root().join(&existing)).unwrap(),
        kept_before,
        "never overwritten"
    );
    assert!(p.root().join("tests/keys/named.json").is_file());
    for role in ["worker2-staking", "worker2-main"] {
        let key = p.root().join(format!("tests/keys/{role}.json"));
        let bytes: Vec<u8> = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
        assert_eq!(bytes.len(), 64, "{role}");
    }
    let env = std::fs::read_to_string(p.tests().join(".env")).unwrap();
    assert!(
        env.contains("\nWORKER2_STAKING_KEYPAIR=tests/keys/worker2-staking.json\n")
            && env.contains("WORKER2_MAIN_KEYPAIR=tests/keys/worker2-main.json\n"),
        "{env}"
    );
    p.check().expect_code(0);

    // A second run has nothing to do and changes nothing.
    let again = keygen();
    assert!(
        !again.contains("created") && !again.contains("added"),
        "{again}"
    );
    assert_eq!(
        std::fs::read_to_string(p.tests().join(".env")).unwrap(),
        env
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
    sha256_of(&guest("orca_steps"));
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
        !p.tests().join("data/test_state.json").exists() && !p.tests().join("data/logs").exists(),
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
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("frobnicate") && err.contains("Usage"),
        "the error names the bad word and shows the usage: {err}"
    );
}

/// The sha256 `promwasm inspect` prints for `module`, checked against sha256sum.
fn sha256_of(module: &Path) -> String {
    let inspect = promwasm().arg("inspect").arg(module).output().unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    let sha = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .unwrap_or_else(|| panic!("inspect prints no sha256: {text}"))
        .trim()
        .to_string();
    let sum = std::process::Command::new("sha256sum")
        .arg(module)
        .output()
        .unwrap();
    assert_eq!(
        sha,
        String::from_utf8_lossy(&sum.stdout)[..64],
        "inspect's sha256 is the file's"
    );
    sha
}

/// The compiled components in `dir`, by file name, with their bytes.
/// The compiled entries in a cache folder (not its key).
fn cache_entries(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.path().is_file() && e.path().extension().is_some_and(|x| x == "cwasm")
                })
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compiled_components_are_cached_by_module_digest() {
    let p = Project::new();
    p.with_orca_workers("");
    let cache = tempfile::tempdir().unwrap();
    let run = |module: &str, args: &[&str]| {
        p.config(&format!(
            "max_rounds: 1\nsteps:\n  - name: a\n    worker: worker1\n    module: {module}\n    stage: {}\n",
            if module == "{guests}" { "echo" } else { "check-round" }
        ));
        p.run_with(&[&["--reset"], args].concat(), |cmd| {
            cmd.env("PROMWASM_CACHE_DIR", cache.path());
        })
        .expect_code(0);
    };
    let guests_sha = sha256_of(&guest("test_guests"));
    let orca_sha = sha256_of(&guest("orca_steps"));

    run("{guests}", &[]);
    let first = cache_entries(cache.path());
    assert_eq!(first.len(), 1, "{:?}", first.keys());
    let (entry, bytes) = first.iter().next().unwrap();
    assert!(
        entry.contains(&guests_sha) && entry.ends_with(".cwasm"),
        "keyed by the module's sha256: {entry}"
    );
    let modified = || {
        std::fs::metadata(cache.path().join(entry))
            .unwrap()
            .modified()
            .unwrap()
    };
    let when = modified();

    // A second run loads it: no new entry, the entry untouched.
    run("{guests}", &[]);
    assert_eq!(cache_entries(cache.path()), first, "no new entry");
    assert_eq!(modified(), when, "not recompiled");

    // Another module gets its own entry.
    run("{orca}", &[]);
    let both = cache_entries(cache.path());
    assert_eq!(both.len(), 2, "{:?}", both.keys());
    let orca_entry = both
        .keys()
        .find(|k| *k != entry)
        .expect("a second entry")
        .clone();
    assert!(orca_entry.contains(&orca_sha), "{orca_entry}");
    assert!(!orca_entry.contains(&guests_sha), "{orca_entry}");

    // --no-cache compiles afresh: it neither reads nor writes the cache.
    // Put orca's compiled code where test_guests' belongs: a run that read
    // the cache would run the wrong component (or, if it notices, replace
    // the entry); --no-cache runs test_guests and leaves the entry alone.
    std::fs::write(cache.path().join(entry), &both[&orca_entry]).unwrap();
    run("{guests}", &["--no-cache"]);
    let after = cache_entries(cache.path());
    assert_eq!(after.len(), 2, "{:?}", after.keys());
    assert_eq!(
        after[entry], both[&orca_entry],
        "--no-cache did not touch the entry"
    );
    assert_eq!(
        p.report()["steps"][0]["detail"],
        serde_json::json!({}),
        "test_guests' echo ran, compiled from the module"
    );
    assert_ne!(&after[entry], bytes);

    // With the cache: the swapped entry does not verify under this name
    // (entries are authenticated, name and bytes), so it is not loaded: the
    // right component runs, and the entry is replaced by a good one.
    run("{guests}", &[]);
    assert_eq!(
        p.report()["steps"][0]["detail"],
        serde_json::json!({}),
        "test_guests' echo ran, not orca's code from the swapped entry"
    );
    let healed = cache_entries(cache.path());
    assert_ne!(
        healed[entry], both[&orca_entry],
        "the bad entry was replaced"
    );
    // The key that authenticates entries is the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache.path().join("key")), 0o600);
    assert_eq!(mode(cache.path()), 0o700);
}
