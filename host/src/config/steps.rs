//! The step list (`steps:` in config.yaml, or a `steps_file`) and the
//! post-load hook.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::checker::Checker;
use super::diag::{did_you_mean, Diagnostic, Diagnostics, Pos};
use super::tree::{self, Kind, Node};
use super::units;
use crate::plan::{
    DbAccess, Limits, ModuleSource, Origin, Retry, RoundRef, SkipIf, StepPlan, WorkerPlan,
};

const STEP_KEYS: &[&str] = &[
    "name",
    "description",
    "worker",
    "module",
    "stage",
    "args",
    "timeout",
    "memory",
    "max_response_bytes",
    "db",
    "retry",
    "skip_if",
    "group",
];

const POST_LOAD_KEYS: &[&str] = &[
    "module",
    "stage",
    "args",
    "worker",
    "timeout",
    "memory",
    "max_response_bytes",
];

/// What every step starts from (`defaults:`); a step's own keys override it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepDefaults {
    /// Sandbox limits (the post-load hook starts from these too).
    pub limits: Limits,
    /// Retry policy.
    pub retry: Retry,
}

/// Read `defaults:`.
pub fn defaults(c: &mut Checker, config: &Node) -> StepDefaults {
    let mut defaults = StepDefaults::default();
    if let Some(node) = config.get("defaults") {
        if let Some(node) = c.mapping(node, "`defaults`") {
            c.no_unknown_keys(
                node,
                "`defaults`",
                &["timeout", "memory", "max_response_bytes", "retry"],
            );
            apply_limits(c, node, &mut defaults.limits);
            apply_retry(c, node, "`defaults`", &mut defaults.retry);
        }
    }
    defaults
}

/// Read `retry: {attempts, interval, until}` over `retry`.
fn apply_retry(c: &mut Checker, node: &Node, what: &str, retry: &mut Retry) {
    let Some(node) = node.get("retry") else {
        return;
    };
    let what = format!("`retry` of {what}");
    let Some(node) = c.mapping(node, &what) else {
        return;
    };
    c.no_unknown_keys(node, &what, &["attempts", "interval", "until"]);
    match c.opt_uint(node, "attempts", &what, 1000) {
        Some(0) => c.error(
            node.get("attempts").map_or(node.pos, |n| n.pos),
            format!("`attempts` in {what} counts every try, so it is at least 1"),
            Some("`attempts: 1` means no retry".into()),
        ),
        Some(n) => retry.attempts = n as u32,
        None => {}
    }
    if let Some(interval) = c.opt_with(node, "interval", units::duration) {
        retry.interval = interval;
    }
    match c.opt_str(node, "until", &what).as_deref() {
        None => {}
        Some("done") => retry.until_success = false,
        Some("success") => retry.until_success = true,
        Some(other) => c.error(
            node.get("until").map_or(node.pos, |n| n.pos),
            format!("`until` in {what} must be `done` or `success`, found `{other}`"),
            Some("`done` retries failures; `success` also retries a step that skipped".into()),
        ),
    }
}

/// Read `skip_if: {round, unset, set}`.
fn skip_if(c: &mut Checker, node: &Node, what: &str) -> SkipIf {
    let mut skip = SkipIf::default();
    let Some(node) = node.get("skip_if") else {
        return skip;
    };
    let what = format!("`skip_if` of {what}");
    let Some(node) = c.mapping(node, &what) else {
        return skip;
    };
    c.no_unknown_keys(node, &what, &["round", "unset", "set"]);
    for item in one_or_many(node.get("round")) {
        match &item.kind {
            Kind::Int(n) if *n >= 1 && *n <= i64::from(u32::MAX) => {
                skip.rounds.push(RoundRef::Number(*n as u32))
            }
            Kind::Str(s) if s == "first" => skip.rounds.push(RoundRef::First),
            Kind::Str(s) if s == "last" => skip.rounds.push(RoundRef::Last),
            _ => c.error(
                item.pos,
                format!("`round` in {what} lists round numbers (from 1), `first` or `last`"),
                Some("e.g. `round: [1, last]`".into()),
            ),
        }
    }
    for (key, list) in [("unset", &mut skip.unset), ("set", &mut skip.set)] {
        for item in one_or_many(node.get(key)) {
            match item.as_str() {
                Some(k) if !k.is_empty() => list.push(k.to_owned()),
                _ => c.error(
                    item.pos,
                    format!("`{key}` in {what} lists runner-store keys (strings)"),
                    Some(format!(
                        "e.g. `{key}: pr_url` or `{key}: [pr_url, audit.done]`"
                    )),
                ),
            }
        }
    }
    skip
}

/// A scalar or a list of them, as a slice of nodes.
fn one_or_many(node: Option<&Node>) -> &[Node] {
    match node {
        None => &[],
        Some(Node {
            kind: Kind::Seq(items),
            ..
        }) => items,
        Some(one) => std::slice::from_ref(one),
    }
}

fn apply_limits(c: &mut Checker, node: &Node, limits: &mut Limits) {
    if let Some(t) = c.opt_with(node, "timeout", units::duration) {
        limits.timeout = t;
    }
    if let Some(m) = c.opt_with(node, "memory", units::size) {
        limits.memory_bytes = m;
    }
    if let Some(m) = c.opt_with(node, "max_response_bytes", units::size) {
        limits.max_response_bytes = m;
    }
}

/// Read the steps from config.yaml (`steps:`) or the file `steps_file` names.
pub fn load(
    config_file: &Path,
    config: &Node,
    workers: &[Arc<WorkerPlan>],
    defaults: StepDefaults,
    diags: &mut Diagnostics,
) -> Vec<StepPlan> {
    let base_dir = config_file.parent().unwrap_or(Path::new("."));
    let (file, list) = match (config.get("steps"), config.get("steps_file")) {
        (Some(_), Some(f)) => {
            diags.push(
                Diagnostic::at(config_file, f.pos, "both `steps` and `steps_file` are set")
                    .hint("keep one of them"),
            );
            return Vec::new();
        }
        (Some(list), None) => (config_file.to_path_buf(), list.clone()),
        (None, Some(f)) => {
            let Some(name) = f.as_str() else {
                diags.push(Diagnostic::at(
                    config_file,
                    f.pos,
                    "`steps_file` must be a path",
                ));
                return Vec::new();
            };
            let path = base_dir.join(name);
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| {
                    Diagnostic::at(
                        config_file,
                        f.pos,
                        format!("cannot read steps file {}: {e}", path.display()),
                    )
                })
                .and_then(|text| {
                    tree::parse_yaml(&text).map_err(|e| {
                        Diagnostic::at(&path, e.pos, format!("invalid YAML: {}", e.message))
                    })
                });
            match parsed {
                // The file is either the list itself or a mapping with `steps:`.
                Ok(root) => match root.get("steps") {
                    Some(list) => (path, list.clone()),
                    None => (path, root),
                },
                Err(d) => {
                    diags.push(d);
                    return Vec::new();
                }
            }
        }
        (None, None) => {
            diags.push(
                Diagnostic::at(
                    config_file,
                    config.pos,
                    "no steps: config.yaml has neither `steps` nor `steps_file`",
                )
                .hint("add `steps:` with a list of {name, worker, module}"),
            );
            return Vec::new();
        }
    };
    let mut c = Checker::new(&file, diags);
    let Kind::Seq(items) = &list.kind else {
        c.error(
            list.pos,
            format!("`steps` must be a list, found {}", list.type_name()),
            (file != config_file)
                .then(|| "a steps file holds the list itself, or a mapping with `steps:`".into()),
        );
        return Vec::new();
    };
    let module_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut groups = super::groups::GroupChecker::default();
    let mut steps = Vec::new();
    for item in items {
        let Some(item) = c.mapping(item, "a step") else {
            continue;
        };
        c.no_unknown_keys(item, "a step", STEP_KEYS);
        let name = c.req_str(item, "name", "a step");
        if let Some(name) = &name {
            let pos = item.get("name").map_or(item.pos, |n| n.pos);
            match seen.get(name) {
                Some(first) => c.error(
                    pos,
                    format!("step name `{name}` is used twice"),
                    Some(format!(
                        "the first is at line {}; the resume point needs unique names",
                        first.line
                    )),
                ),
                // Later uses are all compared with the first.
                None => {
                    seen.insert(name.clone(), pos);
                }
            }
        }
        let what = format!("step `{}`", name.as_deref().unwrap_or("?"));
        let db = match c.opt_str(item, "db", &what).as_deref() {
            None | Some("none") => DbAccess::None,
            Some("read") => DbAccess::Read,
            Some(other) => {
                c.error(
                    item.get("db").map_or(item.pos, |n| n.pos),
                    format!("`db` of {what} must be `read` or `none`, found `{other}`"),
                    Some("only the post-load hook may write to the database".into()),
                );
                DbAccess::None
            }
        };
        let mut limits = defaults.limits;
        apply_limits(&mut c, item, &mut limits);
        let mut retry = defaults.retry;
        apply_retry(&mut c, item, &what, &mut retry);
        let skip_if = skip_if(&mut c, item, &what);
        let worker = worker_index(&mut c, item, &what, workers, true);
        let module = module_path(&mut c, item, &what, &module_dir);
        // Read before giving up on the step, so their problems are reported too.
        let description = c.opt_str(item, "description", &what).unwrap_or_default();
        let stage = c.opt_str(item, "stage", &what);
        let group = groups.next(&mut c, item, &what, name.as_deref());
        let (Some(name), Some(worker), Some((module, origin))) = (name, worker, module) else {
            continue;
        };
        steps.push(StepPlan {
            description,
            stage: stage.unwrap_or_else(|| name.clone()),
            args: args_json(item),
            name,
            worker,
            module,
            limits,
            db,
            retry,
            skip_if,
            group,
            origin,
        });
    }
    if items.is_empty() {
        c.error(list.pos, "the step list is empty", None);
    }
    steps
}

/// Read `post_load:`, the hook that runs once after seeding with write access to the database.
pub fn post_load(
    config_file: &Path,
    config: &Node,
    workers: &[Arc<WorkerPlan>],
    limits: Limits,
    diags: &mut Diagnostics,
) -> Option<StepPlan> {
    let node = config.get("post_load")?;
    let mut c = Checker::new(config_file, diags);
    let node = c.mapping(node, "`post_load`")?;
    c.no_unknown_keys(node, "`post_load`", POST_LOAD_KEYS);
    let mut limits = limits;
    apply_limits(&mut c, node, &mut limits);
    let dir = config_file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let worker = match node.get("worker") {
        Some(_) => worker_index(&mut c, node, "`post_load`", workers, true),
        None => Some(0),
    };
    // Every part is checked before giving up, so all problems are reported.
    let module = module_path(&mut c, node, "`post_load`", &dir);
    let stage = c.opt_str(node, "stage", "`post_load`");
    let (worker, (module, origin)) = (worker?, module?);
    Some(StepPlan {
        name: "post-load".into(),
        description: "post-load hook".into(),
        worker,
        module,
        stage: stage.unwrap_or_else(|| "post-load".into()),
        args: args_json(node),
        limits,
        db: DbAccess::ReadWrite,
        // Its writes are not idempotent: run it once, always.
        retry: Retry::default(),
        skip_if: SkipIf::default(),
        group: None,
        origin,
    })
}

fn args_json(node: &Node) -> String {
    match node.get("args") {
        None => "{}".into(),
        Some(args) => args.to_json().to_string(),
    }
}

fn worker_index(
    c: &mut Checker,
    node: &Node,
    what: &str,
    workers: &[Arc<WorkerPlan>],
    required: bool,
) -> Option<usize> {
    let name = if required {
        c.req_str(node, "worker", what)?
    } else {
        c.opt_str(node, "worker", what)?
    };
    match workers.iter().position(|w| w.name == name) {
        Some(i) => Some(i),
        None => {
            let names: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
            // An empty list means workers.json itself failed; that is reported already.
            if !names.is_empty() {
                let hint = did_you_mean(&name, &names)
                    .unwrap_or_else(|| format!("workers.json defines: {}", names.join(", ")));
                c.error(
                    node.get("worker").map_or(node.pos, |n| n.pos),
                    format!("{what} runs as unknown worker `{name}`"),
                    Some(hint),
                );
            }
            None
        }
    }
}

fn module_path(
    c: &mut Checker,
    node: &Node,
    what: &str,
    dir: &Path,
) -> Option<(ModuleSource, Origin)> {
    let Some(value) = node.get("module") else {
        c.req_str(node, "module", what)?;
        return None;
    };
    let pos = value.pos;
    let origin = Origin {
        file: c.file.clone(),
        pos,
    };
    if let Kind::Map(_) = value.kind {
        let what = format!("`module` of {what}");
        c.no_unknown_keys(value, &what, &["url", "sha256"]);
        let url = c.req_str(value, "url", &what);
        let sha256 = c.req_str(value, "sha256", &what);
        let (url, sha256) = (url?, sha256?);
        let mut ok = true;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            c.error(
                value.get("url").map_or(pos, |n| n.pos),
                format!("`url` in {what} must start with https:// or http://, found `{url}`"),
                None,
            );
            ok = false;
        }
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.error(
                value.get("sha256").map_or(pos, |n| n.pos),
                format!("`sha256` in {what} must be 64 hex digits"),
                Some("`promwasm inspect MODULE` prints a module's sha256".into()),
            );
            ok = false;
        }
        let sha256 = sha256.to_ascii_lowercase();
        return ok.then_some((ModuleSource::Url { url, sha256 }, origin));
    }
    let rel = c.opt_str(node, "module", what)?;
    let path = dir.join(&rel);
    if !path.is_file() {
        c.error(
            pos,
            format!("module of {what} not found: {}", path.display()),
            Some(format!(
                "paths are relative to {}; build the component first (e.g. `cargo xtask guests`)",
                dir.display()
            )),
        );
        return None;
    }
    Some((ModuleSource::File(path), origin))
}

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;
