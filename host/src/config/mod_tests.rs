//! Tests of `mod`, beside it.

use super::*;

/// A task test in a temporary project: `tests/config.yaml` with one
/// already-running worker, one step, and `collections` under `mongodb`.
struct Project {
    root: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let p = Project { root };
        p.write(
            "tests/workers.json",
            r#"{ "worker1": { "url": "http://localhost:9" } }"#,
        );
        p.write("tests/step.wasm", "\0asm");
        p
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.root.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn load(&self, collections: &str) -> Result<Loaded, Diagnostics> {
        self.write(
                "tests/config.yaml",
                &format!(
                    "steps:\n  - {{ name: a, worker: worker1, module: step.wasm }}\nmongodb:\n  collections:\n{collections}"
                ),
            );
        load(&self.path("tests/config.yaml"), Env::new())
    }
}

#[test]
fn good_data_files_pass() {
    let p = Project::new();
    p.write(
        "tests/data/todos.json",
        r#"[{"title": "one"}, {"title": "two"}]"#,
    );
    p.write("tests/data/issue.json", r#"{"title": "one issue"}"#);
    p.write("tests/data/none.json", "[]");
    let loaded = p
        .load(
            "    todos: { data_file: todos.json, required_count: 2 }
    issues: { data_file: issue.json, required_count: 1 }
    prs: { data_file: none.json, required_count: 0 }
    audits: { data_file: missing.json }
    empty: {}
",
        )
        .unwrap_or_else(|d| panic!("{d}"));
    let mongo = loaded.plan.mongo.unwrap();
    assert_eq!(mongo.collections.len(), 5);
    assert_eq!(
        mongo.collections[0].data_file.as_deref(),
        Some(p.path("tests/data/todos.json").as_path()),
        "data files are relative to `data_dir`"
    );
}

#[test]
fn bad_data_files_are_all_reported_at_their_entries() {
    let p = Project::new();
    p.write("tests/data/bad.json", "[\n  {\"a\": 1},\n  {\"a\": }\n]");
    p.write("tests/data/few.json", r#"[{"a": 1}]"#);
    p.write("tests/data/scalar.json", "42");
    let diags = p
        .load(
            "    todos:
      data_file: nowhere.json
      required_count: 1
    issues:
      data_file: bad.json
    prs:
      required_count: 2
      data_file: few.json
    audits: { required_count: 3 }
    notes: { data_file: scalar.json }
    typo: { data_file: [bad.json], required_count: 1 }
",
        )
        .unwrap_err();
    let config = p.path("tests/config.yaml");
    let at = |needle: &str| {
        let found: Vec<_> = diags
            .0
            .iter()
            .filter(|d| d.message.contains(needle))
            .collect();
        assert_eq!(found.len(), 1, "`{needle}` in:\n{diags}");
        assert_eq!(found[0].file, config, "located in config.yaml");
        let pos = found[0].pos.unwrap();
        (
            (pos.line, pos.column),
            found[0].hint.clone().unwrap_or_default(),
        )
    };
    let (pos, hint) = at("nowhere.json for collection `todos` not found");
    assert_eq!(pos, (6, 18));
    assert!(hint.contains("relative to `data_dir`"), "{hint}");
    let (pos, hint) = at("bad.json:3:9 is not valid JSON: expected value");
    assert_eq!(pos, (9, 18));
    assert!(hint.contains("JSON array of documents"), "{hint}");
    let (pos, hint) = at("holds 1 document, but collection `prs` needs 2");
    assert_eq!(pos, (12, 18), "at the data file, not at required_count");
    assert!(hint.contains("lower `required_count`"), "{hint}");
    let (pos, hint) =
        at("collection `audits` needs 3 documents (required_count) but has no data file");
    assert_eq!(pos, (13, 31));
    assert!(hint.contains("add `data_file"), "{hint}");
    let (pos, _) = at("must hold a JSON array of objects or a single object, found a number");
    assert_eq!(pos, (14, 25));
    // A mistyped entry gets its own error, not a second one about its file.
    at("`data_file` in collection `typo` must be a string, found a list");
    assert_eq!(diags.errors(), 6, "{diags}");
}

#[test]
fn a_misspelt_data_file_key_is_one_error() {
    let p = Project::new();
    let diags = p
        .load("    todos: { data_fle: todos.json, required_count: 1 }\n")
        .unwrap_err();
    assert_eq!(diags.errors(), 1, "{diags}");
    assert_eq!(
        diags.0[0].hint.as_deref(),
        Some("did you mean `data_file`?")
    );
}

#[test]
fn a_post_load_callback_gets_a_warning_pointing_to_post_load() {
    let p = Project::new();
    p.write(
        "tests/config.yaml",
        "max_rounds: 1\npost_load_callback: my_tasks.seed_todos\nsteps:\n  - { name: a, worker: worker1, module: step.wasm }\n",
    );
    let loaded = load(&p.path("tests/config.yaml"), Env::new()).unwrap();
    let [warning] = loaded.warnings.as_slice() else {
        panic!("one warning: {:?}", loaded.warnings);
    };
    assert!(
        warning.message.contains("`post_load_callback`"),
        "{warning:?}"
    );
    assert!(warning
        .hint
        .as_deref()
        .unwrap()
        .contains("post_load: {module, stage, args}"));
    assert_eq!(warning.pos.unwrap().line, 2);
}
