//! One run mixing four languages (examples/orca/tests/config-mixed.yaml):
//! the post-load hook in C, the tasks in Rust, the submissions in
//! JavaScript and the audits in Python, on the same worker servers — so a
//! Python audit checks what a JavaScript stage signed, and the Rust
//! `todos-seen` step checks what the C hook wrote to MongoDB.

use promwasm_e2e::{expect_orca_example_passed, orca_example_copy, run_example};

#[test]
fn one_run_mixes_c_rust_javascript_and_python_stages() {
    let copy = orca_example_copy();
    let config = copy.path().join("tests/config-mixed.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    for module in [
        "orca_steps_c.wasm",
        "orca_steps.wasm",
        "orca_steps_js.wasm",
        "orca_steps_py.wasm",
    ] {
        assert!(text.contains(module), "config-mixed.yaml uses {module}");
    }
    let (run, report) = run_example(copy.path(), "config-mixed.yaml");
    run.expect_code(0);
    expect_orca_example_passed(&report, &run.all());
    // Passing means the Rust `todos-seen` step found the todos the C hook
    // assigned, and each Python audit found a valid submission signed in
    // JavaScript; every module loaded, or nothing would have started.
}
