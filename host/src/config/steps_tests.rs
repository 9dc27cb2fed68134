//! Tests of `steps`, beside it.
//!
//! (Long by nature: one case per rule.)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::plan::Readiness;

fn worker(name: &str) -> Arc<WorkerPlan> {
    Arc::new(WorkerPlan {
        name: name.into(),
        port: 5000,
        port_from: crate::plan::PortFrom::Own,
        url: "http://localhost:5000".into(),
        launch: None,
        ready: Readiness::Tcp {
            timeout: Duration::from_secs(1),
        },
        env: BTreeMap::new(),
        keys: BTreeMap::new(),
        fields: serde_json::Map::new(),
        database_path: PathBuf::from("database.db"),
    })
}

/// A tests folder holding a module file `step.wasm` and, once loaded, config.yaml.
struct Fixture {
    dir: tempfile::TempDir,
}

/// What loading the steps of a config.yaml gave.
struct Loaded {
    steps: Vec<StepPlan>,
    post_load: Option<StepPlan>,
    diags: Diagnostics,
}

impl Loaded {
    fn step(&self, name: &str) -> &StepPlan {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no step `{name}`; errors:\n{}", self.diags))
    }

    /// The one error whose message contains `needle`.
    fn error(&self, needle: &str) -> &Diagnostic {
        self.diags.only(needle)
    }

    fn ok(&self) {
        assert!(self.diags.0.is_empty(), "{}", self.diags);
    }
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("step.wasm"), b"\0asm").unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Load the steps and post-load hook of config.yaml `yaml`, as `config::load` does.
    fn load(&self, yaml: &str) -> Loaded {
        self.write("config.yaml", yaml);
        let config = self.path("config.yaml");
        let root = tree::parse_yaml(yaml).unwrap();
        let workers = [worker("worker1"), worker("worker2")];
        let mut diags = Diagnostics::default();
        let defaults = defaults(&mut Checker::new(&config, &mut diags), &root);
        let steps = load(&config, &root, &workers, defaults, &mut diags);
        let post_load = post_load(&config, &root, &workers, defaults.limits, &mut diags);
        Loaded {
            steps,
            post_load,
            diags,
        }
    }
}

fn pos(line: usize, column: usize) -> Option<Pos> {
    Some(Pos { line, column })
}

#[test]
fn defaults_apply_and_each_step_overrides_them() {
    let f = Fixture::new();
    let loaded = f.load(
        "defaults:
  timeout: 10s
  memory: 64MiB
  max_response_bytes: 1MiB
  retry: { attempts: 3, interval: 500ms, until: success }
steps:
  - name: plain
    worker: worker1
    module: step.wasm
  - name: own
    worker: worker2
    module: step.wasm
    timeout: 2m
    memory: 1GiB
    max_response_bytes: 2048
    retry: { attempts: 1, until: done }
",
    );
    loaded.ok();
    let plain = loaded.step("plain");
    assert_eq!(
        plain.limits,
        Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 64 << 20,
            max_response_bytes: 1 << 20,
        }
    );
    assert_eq!(
        plain.retry,
        Retry {
            attempts: 3,
            interval: Duration::from_millis(500),
            until_success: true,
        }
    );
    let own = loaded.step("own");
    assert_eq!(
        own.limits,
        Limits {
            timeout: Duration::from_secs(120),
            memory_bytes: 1 << 30,
            max_response_bytes: 2048,
        }
    );
    assert_eq!(
        own.retry,
        Retry {
            attempts: 1,
            interval: Duration::from_millis(500),
            until_success: false,
        },
        "a step's `retry` overrides only the keys it sets"
    );
    assert_eq!(own.worker, 1);
}

#[test]
fn without_defaults_steps_get_the_built_in_limits_and_one_try() {
    let f = Fixture::new();
    let loaded = f.load("steps:\n  - name: a\n    worker: worker1\n    module: step.wasm\n");
    loaded.ok();
    let a = loaded.step("a");
    assert_eq!(a.limits, Limits::default());
    assert_eq!(a.retry, Retry::default());
    assert_eq!(a.db, DbAccess::None);
    assert_eq!(a.skip_if, SkipIf::default());
    assert_eq!(a.description, "");
    assert!(loaded.post_load.is_none());
}

#[test]
fn stage_defaults_to_the_name_and_args_become_json_text() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - name: submit
    description: worker1 submits
    worker: worker1
    module: step.wasm
  - name: audit-1
    worker: worker2
    module: step.wasm
    stage: audit
    args: { target: worker1, round: 2, ids: [1, '2'], deep: { ok: true, none: ~ } }
",
    );
    loaded.ok();
    let submit = loaded.step("submit");
    assert_eq!(submit.stage, "submit");
    assert_eq!(submit.args, "{}", "no args is an empty object");
    assert_eq!(submit.description, "worker1 submits");
    let audit = loaded.step("audit-1");
    assert_eq!(audit.stage, "audit");
    let args: serde_json::Value = serde_json::from_str(&audit.args).unwrap();
    assert_eq!(
        args,
        serde_json::json!({"target": "worker1", "round": 2, "ids": [1, "2"], "deep": {"ok": true, "none": null}})
    );
    assert_eq!(
        loaded.steps.iter().map(|s| &s.name).collect::<Vec<_>>(),
        ["submit", "audit-1"],
        "steps keep their order"
    );
}

#[test]
fn db_grants_read_or_none_and_refuses_more() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: r, worker: worker1, module: step.wasm, db: read }
  - { name: n, worker: worker1, module: step.wasm, db: none }
  - { name: w, worker: worker1, module: step.wasm, db: write }
",
    );
    assert_eq!(loaded.step("r").db, DbAccess::Read);
    assert_eq!(loaded.step("n").db, DbAccess::None);
    let err = loaded.error("`db` of step `w` must be `read` or `none`, found `write`");
    assert_eq!(err.pos, pos(4, 56));
    assert!(err.hint.as_deref().unwrap().contains("post-load hook"));
    assert_eq!(loaded.diags.errors(), 1, "{}", loaded.diags);
}

#[test]
fn skip_if_takes_rounds_and_store_keys_one_or_many() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - name: one
    worker: worker1
    module: step.wasm
    skip_if: { round: 3, unset: pr_url, set: audit.done }
  - name: many
    worker: worker1
    module: step.wasm
    skip_if:
      round: [first, 2, last]
      unset: [a, b.c]
      set: []
",
    );
    loaded.ok();
    assert_eq!(
        loaded.step("one").skip_if,
        SkipIf {
            rounds: vec![RoundRef::Number(3)],
            unset: vec!["pr_url".into()],
            set: vec!["audit.done".into()],
        }
    );
    assert_eq!(
        loaded.step("many").skip_if,
        SkipIf {
            rounds: vec![RoundRef::First, RoundRef::Number(2), RoundRef::Last],
            unset: vec!["a".into(), "b.c".into()],
            set: vec![],
        }
    );
}

#[test]
fn bad_skip_if_and_retry_values_are_located() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - name: a
    worker: worker1
    module: step.wasm
    skip_if:
      round: [0, middle]
      unset: 5
      sett: x
    retry:
      atempts: 2
      attempts: 0
      interval: soon
      until: forever
",
    );
    let rounds: Vec<_> = loaded
        .diags
        .0
        .iter()
        .filter(|d| d.message.contains("`round` in `skip_if` of step `a`"))
        .map(|d| d.pos)
        .collect();
    assert_eq!(rounds, [pos(6, 15), pos(6, 18)]);
    assert_eq!(
        loaded
            .error("`unset` in `skip_if` of step `a` lists runner-store keys")
            .pos,
        pos(7, 14)
    );
    let sett = loaded.error("unknown key `sett` in `skip_if` of step `a`");
    assert_eq!(sett.pos, pos(8, 7));
    assert_eq!(sett.hint.as_deref(), Some("did you mean `set`?"));
    let atempts = loaded.error("unknown key `atempts` in `retry` of step `a`");
    assert_eq!(atempts.pos, pos(10, 7));
    assert_eq!(atempts.hint.as_deref(), Some("did you mean `attempts`?"));
    assert_eq!(
        loaded.error("counts every try, so it is at least 1").pos,
        pos(11, 17)
    );
    assert_eq!(
        loaded.error("`interval`: expected a duration").pos,
        pos(12, 17)
    );
    assert_eq!(
        loaded
            .error("`until` in `retry` of step `a` must be `done` or `success`, found `forever`")
            .pos,
        pos(13, 14)
    );
    assert_eq!(loaded.diags.errors(), 8, "{}", loaded.diags);
}

#[test]
fn bad_limits_are_located() {
    let f = Fixture::new();
    let loaded = f.load(
        "defaults: { memory: lots }
steps:
  - name: a
    worker: worker1
    module: step.wasm
    timeout: 1e30
    max_response_bytes: 0
",
    );
    assert_eq!(loaded.error("`memory`: expected a size").pos, pos(1, 21));
    assert_eq!(
        loaded.error("`timeout`: expected a duration").pos,
        pos(6, 14)
    );
    assert_eq!(
        loaded.error("`max_response_bytes`: expected a size").pos,
        pos(7, 25)
    );
    assert_eq!(loaded.diags.errors(), 3, "{}", loaded.diags);
}

#[test]
fn modules_are_paths_or_urls_pinned_by_sha256() {
    let f = Fixture::new();
    f.write("guests/other.wasm", "\0asm");
    let digest = "3F5A".repeat(16);
    let loaded = f.load(&format!(
        "steps:
  - name: local
    worker: worker1
    module: guests/other.wasm
  - name: shared
    worker: worker1
    module: {{ url: https://example.com/steps.wasm, sha256: {digest} }}
"
    ));
    loaded.ok();
    let local = loaded.step("local");
    assert_eq!(
        local.module,
        ModuleSource::File(f.path("guests/other.wasm"))
    );
    assert_eq!(local.origin.file, f.path("config.yaml"));
    assert_eq!(
        local.origin.pos,
        Pos {
            line: 4,
            column: 13
        }
    );
    assert_eq!(
        loaded.step("shared").module,
        ModuleSource::Url {
            url: "https://example.com/steps.wasm".into(),
            sha256: digest.to_ascii_lowercase(),
        }
    );
}

#[test]
fn bad_modules_are_located() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - name: missing
    worker: worker1
    module: nowhere.wasm
  - name: badurl
    worker: worker1
    module: { url: ftp://example.com/x.wasm, sha256: abc }
  - name: partial
    worker: worker1
    module: { url: https://example.com/x.wasm, sha: abc }
  - name: none
    worker: worker1
",
    );
    assert!(loaded.steps.is_empty(), "no step has a usable module");
    let missing = loaded.error("module of step `missing` not found");
    assert_eq!(missing.pos, pos(4, 13));
    assert!(missing
        .hint
        .as_deref()
        .unwrap()
        .contains("paths are relative to"));
    assert_eq!(
        loaded.error("must start with https:// or http://").pos,
        pos(7, 20)
    );
    assert_eq!(loaded.error("must be 64 hex digits").pos, pos(7, 54));
    let sha = loaded.error("unknown key `sha` in `module` of step `partial`");
    assert_eq!(sha.hint.as_deref(), Some("known keys: url, sha256"));
    assert_eq!(
        loaded
            .error("`module` of step `partial` has no `sha256`")
            .pos,
        pos(10, 13)
    );
    assert_eq!(loaded.error("step `none` has no `module`").pos, pos(11, 5));
    assert_eq!(loaded.diags.errors(), 6, "{}", loaded.diags);
}

#[test]
fn duplicate_names_point_at_the_first_use() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: a, worker: worker1, module: step.wasm }
  - { name: a, worker: worker1, module: step.wasm }
  - { name: b, worker: worker1, module: step.wasm }
  - { name: a, worker: worker2, module: step.wasm }
",
    );
    let twice: Vec<_> = loaded
        .diags
        .0
        .iter()
        .filter(|d| d.message == "step name `a` is used twice")
        .collect();
    assert_eq!(twice.len(), 2, "{}", loaded.diags);
    assert_eq!(twice[0].pos, pos(3, 13));
    assert_eq!(twice[1].pos, pos(5, 13));
    for d in twice {
        assert_eq!(
            d.hint.as_deref(),
            Some("the first is at line 2; the resume point needs unique names"),
            "every repeat points at the first use"
        );
    }
}

#[test]
fn unknown_workers_get_a_suggestion_or_the_list() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: a, worker: worker3, module: step.wasm }
  - { name: b, worker: auditor, module: step.wasm }
",
    );
    let near = loaded.error("step `a` runs as unknown worker `worker3`");
    assert_eq!(near.pos, pos(2, 24));
    assert!(
        near.hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean `worker"),
        "{near}"
    );
    let far = loaded.error("step `b` runs as unknown worker `auditor`");
    assert_eq!(
        far.hint.as_deref(),
        Some("workers.json defines: worker1, worker2")
    );
}

#[test]
fn unknown_step_keys_are_located_with_a_suggestion() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - name: a
    worker: worker1
    module: step.wasm
    timout: 5s
    frobnicate: 1
",
    );
    let timout = loaded.error("unknown key `timout` in a step");
    assert_eq!(timout.pos, pos(5, 5));
    assert_eq!(timout.hint.as_deref(), Some("did you mean `timeout`?"));
    let other = loaded.error("unknown key `frobnicate` in a step");
    assert!(other
        .hint
        .as_deref()
        .unwrap()
        .starts_with("known keys: name, "));
}

#[test]
fn every_problem_of_a_step_is_reported_not_only_the_first() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - name: a
    worker: nobody
    module: nowhere.wasm
    stage: [audit]
    description: { text: x }
",
    );
    loaded.error("unknown worker `nobody`");
    loaded.error("module of step `a` not found");
    assert_eq!(
        loaded
            .error("`stage` in step `a` must be a string, found a list")
            .pos,
        pos(5, 12)
    );
    loaded.error("`description` in step `a` must be a string, found a mapping");
    assert_eq!(loaded.diags.errors(), 4, "{}", loaded.diags);
}

#[test]
fn a_step_list_must_exist_be_a_list_and_hold_steps() {
    let f = Fixture::new();
    let none = f.load("task_id: x\n");
    assert!(none
        .error("config.yaml has neither `steps` nor `steps_file`")
        .hint
        .is_some());
    let empty = f.load("steps: []\n");
    assert_eq!(empty.error("the step list is empty").pos, pos(1, 8));
    let mapping = f.load("steps: { a: 1 }\n");
    assert_eq!(
        mapping.error("`steps` must be a list, found a mapping").pos,
        pos(1, 8)
    );
    let both = f.load("steps: []\nsteps_file: steps.yaml\n");
    assert_eq!(
        both.error("both `steps` and `steps_file` are set").pos,
        pos(2, 13)
    );
    let entry = f.load("steps:\n  - just-a-name\n");
    assert_eq!(
        entry.error("a step must be a mapping, found a string").pos,
        pos(2, 5)
    );
}

#[test]
fn steps_file_holds_a_list_with_modules_relative_to_it() {
    let f = Fixture::new();
    f.write("more/guest.wasm", "\0asm");
    f.write(
            "more/steps.yaml",
            "- { name: a, worker: worker1, module: guest.wasm }\n- { name: b, worker: worker2, module: guest.wasm }\n",
        );
    let loaded = f.load("steps_file: more/steps.yaml\n");
    loaded.ok();
    assert_eq!(loaded.steps.len(), 2);
    assert_eq!(
        loaded.step("a").module,
        ModuleSource::File(f.path("more/guest.wasm")),
        "modules are relative to the steps file"
    );
    assert_eq!(loaded.step("b").origin.file, f.path("more/steps.yaml"));
}

#[test]
fn steps_file_may_be_a_mapping_with_steps() {
    let f = Fixture::new();
    f.write(
            "steps.yaml",
            "# shared by several configs\nsteps:\n  - name: a\n    worker: worker1\n    module: step.wasm\n",
        );
    let loaded = f.load("steps_file: steps.yaml\n");
    loaded.ok();
    assert_eq!(loaded.step("a").stage, "a");
}

#[test]
fn steps_file_problems_are_located_in_the_right_file() {
    let f = Fixture::new();
    let missing = f.load("steps_file: nowhere.yaml\n");
    let d = missing.error("cannot read steps file");
    assert_eq!((d.file.clone(), d.pos), (f.path("config.yaml"), pos(1, 13)));

    f.write(
        "steps.yaml",
        "- name: a\n  worker: worker9\n  module: step.wasm\n",
    );
    let unknown = f.load("steps_file: steps.yaml\n");
    let d = unknown.error("unknown worker `worker9`");
    assert_eq!((d.file.clone(), d.pos), (f.path("steps.yaml"), pos(2, 11)));

    f.write("broken.yaml", "- name: a\n  worker: [unclosed\n");
    let broken = f.load("steps_file: broken.yaml\n");
    let d = broken.error("invalid YAML");
    assert_eq!(d.file, f.path("broken.yaml"));
    assert!(d.pos.is_some());

    f.write("other.yaml", "step:\n  - name: a\n");
    let typo = f.load("steps_file: other.yaml\n");
    let d = typo.error("`steps` must be a list, found a mapping");
    assert_eq!((d.file.clone(), d.pos), (f.path("other.yaml"), pos(1, 1)));
    assert!(d
        .hint
        .as_deref()
        .unwrap()
        .contains("a mapping with `steps:`"));

    let not_path = f.load("steps_file: [a, b]\n");
    assert_eq!(
        not_path.error("`steps_file` must be a path").pos,
        pos(1, 13)
    );
}

#[test]
fn the_post_load_hook_writes_runs_once_and_defaults_to_the_first_worker() {
    let f = Fixture::new();
    let loaded = f.load(
        "defaults: { timeout: 5s, retry: { attempts: 4 } }
steps:
  - { name: a, worker: worker1, module: step.wasm }
post_load:
  module: step.wasm
  args: { assign: [worker2] }
  memory: 32MiB
",
    );
    loaded.ok();
    let hook = loaded.post_load.as_ref().unwrap();
    assert_eq!(hook.name, "post-load");
    assert_eq!(hook.stage, "post-load");
    assert_eq!(hook.worker, 0);
    assert_eq!(hook.db, DbAccess::ReadWrite);
    assert_eq!(hook.retry, Retry::default(), "its writes are not retried");
    assert_eq!(hook.limits.timeout, Duration::from_secs(5));
    assert_eq!(hook.limits.memory_bytes, 32 << 20);
    assert_eq!(hook.args, r#"{"assign":["worker2"]}"#);
}

#[test]
fn every_problem_of_the_post_load_hook_is_reported() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: a, worker: worker1, module: step.wasm }
post_load:
  worker: worker7
  module: nowhere.wasm
  db: read
",
    );
    assert!(loaded.post_load.is_none());
    assert_eq!(
        loaded
            .error("`post_load` runs as unknown worker `worker7`")
            .pos,
        pos(4, 11)
    );
    assert_eq!(
        loaded.error("module of `post_load` not found").pos,
        pos(5, 11)
    );
    assert_eq!(
        loaded.error("unknown key `db` in `post_load`").pos,
        pos(6, 3)
    );
    assert_eq!(loaded.diags.errors(), 3, "{}", loaded.diags);
}

#[test]
fn neighbouring_steps_of_a_group_make_one_batch_and_order_is_kept() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: task, worker: worker1, module: step.wasm }
  - { name: submit1, worker: worker1, module: step.wasm, group: submit }
  - { name: submit2, worker: worker2, module: step.wasm, group: submit }
  - { name: audit1, worker: worker2, module: step.wasm, group: audit }
  - { name: audit2, worker: worker1, module: step.wasm, group: audit }
  - { name: done, worker: worker1, module: step.wasm }
  - { name: end, worker: worker1, module: step.wasm }
",
    );
    loaded.ok();
    assert_eq!(loaded.step("submit2").group.as_deref(), Some("submit"));
    assert_eq!(loaded.step("task").group, None);
    assert_eq!(
        crate::plan::batches(&loaded.steps),
        vec![0..1, 1..3, 3..5, 5..6, 6..7],
        "a group is one batch; steps without a group are one each, in order"
    );
}

#[test]
fn a_group_split_by_other_steps_or_empty_is_located() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: a, worker: worker1, module: step.wasm, group: g }
  - { name: b, worker: worker1, module: step.wasm }
  - { name: c, worker: worker1, module: step.wasm, group: g }
  - { name: d, worker: worker1, module: step.wasm, group: '' }
  - { name: e, worker: worker1, module: step.wasm, group: [x] }
",
    );
    let split = loaded.error("step `c` is in group `g`, whose other steps are not next to it");
    assert_eq!(split.pos, pos(4, 59));
    assert_eq!(
        split.hint.as_deref(),
        Some(
            "the group begins with step `a` at line 2; a group's steps run at once, \
             so list them one after another"
        )
    );
    assert_eq!(loaded.error("`group` of step `d` is empty").pos, pos(5, 59));
    loaded.error("`group` in step `e` must be a string, found a list");
    assert_eq!(loaded.diags.0.len(), 3, "{}", loaded.diags);
}

#[test]
fn the_post_load_hook_has_no_group() {
    let f = Fixture::new();
    let loaded = f.load(
        "steps:
  - { name: a, worker: worker1, module: step.wasm }
post_load: { module: step.wasm, group: g }
",
    );
    loaded.error("unknown key `group` in `post_load`");
}

#[test]
fn a_group_holds_at_most_max_group_steps() {
    let f = Fixture::new();
    let mut yaml = String::from("steps:\n");
    for i in 0..=crate::plan::MAX_GROUP_STEPS {
        yaml += &format!("  - {{ name: s{i}, worker: worker1, module: step.wasm, group: big }}\n");
    }
    let loaded = f.load(&yaml);
    let error = loaded.error("group `big` has more than 256 steps; step `s256` is one too many");
    assert_eq!(error.pos.map(|p| p.line), Some(258));
    assert_eq!(loaded.diags.0.len(), 1, "{}", loaded.diags);
}
