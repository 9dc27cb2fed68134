//! Reading a task test: `.env` files, config.yaml, workers.json and the step
//! list, validated together into a [`Plan`]. Every problem is reported at
//! once, each at file:line:column with a hint, before anything starts.

mod checker;
mod diag;
pub mod env;
mod groups;
mod steps;
pub mod tree;
mod units;
mod workers;

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

pub use diag::{did_you_mean, Diagnostic, Diagnostics, Pos};
pub use env::Env;

use crate::mongo::seed::{self, CollectionSeed, SeedError};
use crate::plan::{MongoPlan, Plan};
use checker::Checker;

/// config.yaml keys prometheus-test knows, plus promwasm's own.
const KNOWN_KEYS: &[&str] = &[
    "task_id",
    "base_port",
    "max_rounds",
    "rounds_collection",
    "data_dir",
    "workers_config",
    "server_entrypoint",
    "middle_server_url",
    "mongodb",
    "post_load_callback",
    "steps",
    "steps_file",
    "allowed_hosts",
    "defaults",
    "post_load",
    "keep_runs",
];

/// Run directories kept under `data_dir/runs` when config.yaml does not say.
pub const DEFAULT_KEEP_RUNS: usize = 10;

/// A plan, the environment workers inherit, and notes that are not errors.
#[derive(Debug)]
pub struct Loaded {
    /// The validated plan.
    pub plan: Plan,
    /// The process environment with `.env` files layered on top.
    pub env: Env,
    /// Things worth a look that do not stop the run (e.g. a likely typo in a top-level key).
    pub warnings: Vec<Diagnostic>,
}

/// Read and validate everything `config_file` refers to.
pub fn load(config_file: &Path, process_env: Env) -> Result<Loaded, Diagnostics> {
    let config_file =
        std::path::absolute(config_file).unwrap_or_else(|_| config_file.to_path_buf());
    let base_dir = config_file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let project_root = base_dir.parent().unwrap_or(&base_dir).to_path_buf();
    let mut diags = Diagnostics::default();

    let text = std::fs::read_to_string(&config_file).map_err(|e| {
        Diagnostics(vec![Diagnostic::file(
            &config_file,
            format!("cannot read config: {e}"),
        )
        .hint("pass the path of your task test's config.yaml")])
    })?;
    let root = tree::parse_yaml(&text).map_err(|e| {
        Diagnostics(vec![Diagnostic::at(
            &config_file,
            e.pos,
            format!("invalid YAML: {}", e.message),
        )])
    })?;
    let empty = tree::Node {
        pos: Pos { line: 1, column: 1 },
        kind: tree::Kind::Map(Vec::new()),
    };
    let root = if root.kind == tree::Kind::Null {
        empty
    } else {
        root
    };

    let layered = env::layered(&project_root, &base_dir, process_env, &mut diags);
    let secrets = layered.secret_values();
    let env = layered.vars;
    let mut warnings = Vec::new();

    let mut c = Checker::new(&config_file, &mut diags);
    if c.mapping(&root, "config.yaml").is_none() {
        return Err(diags);
    }
    for e in root.entries().unwrap_or_default() {
        if e.key == "post_load_callback" && !matches!(e.value.kind, tree::Kind::Null) {
            // prometheus-test passes a Python callable through `config_overrides`.
            warnings.push(
                Diagnostic::at(
                    &config_file,
                    e.key_pos,
                    "`post_load_callback` is prometheus-test's Python callback and is not run",
                )
                .hint("write the hook as a step module and name it in `post_load: {module, stage, args}`"),
            );
        }
        if KNOWN_KEYS.contains(&e.key.as_str()) {
            continue;
        }
        // Unknown top-level keys are the user's own settings, readable by
        // steps; only a near miss of a known key is worth a word.
        if let Some(hint) = did_you_mean(&e.key, KNOWN_KEYS) {
            warnings.push(
                Diagnostic::at(
                    &config_file,
                    e.key_pos,
                    format!("`{}` is not a promwasm key; steps can read it", e.key),
                )
                .hint(hint),
            );
        }
    }
    let task_id = c
        .opt_str(&root, "task_id", "config.yaml")
        .unwrap_or_else(|| "test-task-123".into());
    let base_port = c
        .opt_uint(&root, "base_port", "config.yaml", u16::MAX as u64)
        .unwrap_or(5000) as u16;
    let max_rounds = c
        .opt_uint(&root, "max_rounds", "config.yaml", u32::MAX as u64)
        .map(|n| n as u32);
    let rounds_collection = match root.get("rounds_collection") {
        None => Some("todos".to_string()),
        Some(_) => c.opt_str(&root, "rounds_collection", "config.yaml"),
    };
    let data_dir = c
        .opt_str(&root, "data_dir", "config.yaml")
        .map(|d| base_dir.join(d))
        .unwrap_or_else(|| base_dir.join("data"));
    let keep_runs = match c.opt_uint(&root, "keep_runs", "config.yaml", u32::MAX as u64) {
        Some(0) => {
            let pos = root.get("keep_runs").map(|n| n.pos).unwrap_or_default();
            c.error(
                pos,
                "`keep_runs` must be at least 1: the run in progress keeps its directory",
                None,
            );
            DEFAULT_KEEP_RUNS
        }
        Some(n) => n as usize,
        None => DEFAULT_KEEP_RUNS,
    };
    let workers_file = base_dir.join(
        c.opt_str(&root, "workers_config", "config.yaml")
            .unwrap_or_else(|| "workers.json".into()),
    );
    let server_entrypoint = c.opt_str(&root, "server_entrypoint", "config.yaml");
    let middle_server_url = c.opt_str(&root, "middle_server_url", "config.yaml");
    if let (Some(url), Some(node)) = (&middle_server_url, root.get("middle_server_url")) {
        if let Err(e) = reqwest::Url::parse(url) {
            c.error(
                node.pos,
                format!("`middle_server_url` is not a URL: {e}"),
                None,
            );
        }
    }
    let allowed_hosts = allowed_hosts(&mut c, &root);
    let defaults = steps::defaults(&mut c, &root);
    let mongo = mongo(&mut c, &root, &env, &data_dir);
    drop(c);

    let worker_defaults = workers::Defaults {
        base_port,
        base_dir: &base_dir,
        project_root: &project_root,
        data_dir: &data_dir,
        server_entrypoint: server_entrypoint.as_deref(),
        env: &env,
    };
    let workers: Vec<_> = workers::load(&workers_file, &worker_defaults, &mut diags)
        .into_iter()
        .map(Arc::new)
        .collect();
    let steps = steps::load(&config_file, &root, &workers, defaults, &mut diags);
    let post_load = steps::post_load(&config_file, &root, &workers, defaults.limits, &mut diags);
    if post_load.is_some() && mongo.is_none() {
        let pos = root
            .entries()
            .unwrap_or_default()
            .iter()
            .find(|e| e.key == "post_load")
            .map(|e| e.key_pos);
        diags.push(
            Diagnostic::at(
                &config_file,
                pos.unwrap_or_default(),
                "`post_load` needs a `mongodb` section",
            )
            .hint("the hook runs after MongoDB is seeded"),
        );
    }

    if max_rounds.is_none() && mongo.is_none() {
        diags.push(
            Diagnostic::at(&config_file, Pos { line: 1, column: 1 }, "the number of rounds is unknown")
                .hint("set `max_rounds`, or add a `mongodb` section so rounds are counted from `rounds_collection`"),
        );
    }

    // What prometheus-test stores in the state's global scope, so steps find the same values.
    let mut config_values = serde_json::Map::new();
    config_values.insert("base_dir".into(), json!(base_dir));
    config_values.insert("data_dir".into(), json!(data_dir));
    config_values.insert("workers_config".into(), json!(workers_file));
    config_values.insert("task_id".into(), json!(task_id));
    config_values.insert("base_port".into(), json!(base_port));
    config_values.insert("middle_server_url".into(), json!(middle_server_url));
    config_values.insert(
        "server_entrypoint".into(),
        json!(server_entrypoint.as_ref().map(|s| project_root.join(s))),
    );
    config_values.insert("max_rounds".into(), json!(max_rounds));
    config_values.insert("rounds_collection".into(), json!(rounds_collection));
    config_values.insert("post_load_callback".into(), Value::Null);
    if let Value::Object(all) = root.to_json() {
        for (k, v) in all {
            if !KNOWN_KEYS.contains(&k.as_str()) || k == "mongodb" {
                config_values.insert(k, v);
            }
        }
    }

    let plan = Plan {
        config_file,
        base_dir,
        data_dir,
        keep_runs,
        task_id,
        max_rounds,
        rounds_collection,
        middle_server_url,
        config_values,
        allowed_hosts,
        workers,
        steps,
        mongo,
        post_load,
        secrets,
    };
    if !diags.is_empty() {
        // Shown beside the errors: a mistyped key is often why one is missing.
        diags
            .0
            .extend(warnings.into_iter().map(Diagnostic::warning));
        return Err(diags);
    }
    Ok(Loaded {
        plan,
        env,
        warnings,
    })
}

fn allowed_hosts(c: &mut Checker, root: &tree::Node) -> Vec<String> {
    let Some(node) = root.get("allowed_hosts") else {
        return Vec::new();
    };
    match &node.kind {
        tree::Kind::Seq(items) => items
            .iter()
            .filter_map(|i| match i.as_str() {
                Some(h) => Some(h.to_string()),
                None => {
                    c.error(i.pos, "`allowed_hosts` entries are host names like `api.example.com` or `localhost:8080`", None);
                    None
                }
            })
            .collect(),
        _ => {
            c.error(node.pos, "`allowed_hosts` must be a list of host names", None);
            Vec::new()
        }
    }
}

fn mongo(c: &mut Checker, root: &tree::Node, env: &Env, data_dir: &Path) -> Option<MongoPlan> {
    let node = root.get("mongodb")?;
    let node = c.mapping(node, "`mongodb`")?;
    c.no_unknown_keys(node, "`mongodb`", &["database", "collections"]);
    let database = c
        .opt_str(node, "database", "`mongodb`")
        .unwrap_or_else(|| "builder247".into());
    let mut collections = Vec::new();
    if let Some(cols) = node.get("collections") {
        if let Some(cols) = c.mapping(cols, "`mongodb.collections`") {
            for e in cols.entries().unwrap_or_default() {
                let what = format!("collection `{}`", e.key);
                let Some(col) = c.mapping(&e.value, &what) else {
                    continue;
                };
                let errors_before = c.diags.errors();
                c.no_unknown_keys(col, &what, &["data_file", "required_count"]);
                let collection = CollectionSeed {
                    name: e.key.clone(),
                    // prometheus-test reads data files from `data_dir`.
                    data_file: c.opt_str(col, "data_file", &what).map(|f| data_dir.join(f)),
                    required_count: c
                        .opt_uint(col, "required_count", &what, u64::MAX >> 1)
                        .unwrap_or(0),
                };
                // A mistyped entry is reported already; its file would be judged wrongly.
                if c.diags.errors() == errors_before {
                    check_collection_data(c, col, &collection, data_dir);
                }
                collections.push(collection);
            }
        }
    }
    Some(MongoPlan {
        database,
        collections,
        uri: env.get("MONGO_URI").filter(|u| !u.is_empty()).cloned(),
    })
}

/// The data file of a collection is bad input too: found now, at its entry in
/// config.yaml, rather than while seeding after the servers started.
fn check_collection_data(
    c: &mut Checker,
    col: &tree::Node,
    collection: &CollectionSeed,
    data_dir: &Path,
) {
    let Err(e) = seed::check_data_file(collection) else {
        return;
    };
    let at = |key| col.get(key).map(|n| n.pos);
    let pos = at("data_file").or(at("required_count")).unwrap_or(col.pos);
    let shape = "a data file is a JSON array of documents (objects), or a single document";
    let hint = match &e {
        SeedError::MissingDataFile { .. } => format!(
            "`data_file` is relative to `data_dir` ({}); with `required_count: 0` a missing file is skipped",
            data_dir.display()
        ),
        SeedError::TooFewInFile { .. } => {
            "add documents to the file, or lower `required_count`".into()
        }
        SeedError::NoDataFile { .. } => {
            "add `data_file: <file>.json` (relative to `data_dir`), or remove `required_count`"
                .into()
        }
        SeedError::Malformed { .. } | SeedError::WrongShape { .. } | SeedError::NotAnObject { .. } => {
            shape.into()
        }
        _ => "check that the file is readable".into(),
    };
    c.error(pos, e.to_string(), Some(hint));
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
