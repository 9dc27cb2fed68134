//! The binary's surface. Being an integration test also makes `cargo test`
//! build the `promwasm` binary, which the end-to-end tests drive.

use std::process::Command;

fn promwasm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_promwasm"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_subcommand() {
    let out = promwasm(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "check", "inspect", "keygen"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
}

#[test]
fn a_missing_config_is_a_located_input_error() {
    let out = promwasm(&["run", "/nonexistent/config.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/config.yaml: cannot read config"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}
