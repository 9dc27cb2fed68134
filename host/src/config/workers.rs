//! workers.json: prometheus-test's format (`port`, `server_entrypoint`,
//! `env_vars`, `keypairs`, any other field), `//` comments, and promwasm's
//! additions `command`, `ready` and `url`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::checker::Checker;
use super::diag::{Diagnostic, Diagnostics};
use super::env::Env;
use super::tree::{self, Kind, Node};
use super::units;
use crate::plan::{Launch, PortFrom, Readiness, WorkerPlan};
use crate::signing::Keypair;

/// What a worker gets when workers.json leaves a field out.
pub struct Defaults<'a> {
    /// `base_port` from config.yaml; worker *i* gets `base_port + i`.
    pub base_port: u16,
    /// The folder of config.yaml (workers run there).
    pub base_dir: &'a Path,
    /// Its parent, against which `server_entrypoint` is resolved.
    pub project_root: &'a Path,
    /// Where `database_<name>.db` files go.
    pub data_dir: &'a Path,
    /// `server_entrypoint` from config.yaml.
    pub server_entrypoint: Option<&'a str>,
    /// Variables from the process and `.env` files.
    pub env: &'a Env,
}

/// Read and check workers.json.
pub fn load(file: &Path, defaults: &Defaults, diags: &mut Diagnostics) -> Vec<WorkerPlan> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::file(file, format!("cannot read workers file: {e}"))
                    .hint("set `workers_config` in config.yaml (relative to its folder)"),
            );
            return Vec::new();
        }
    };
    let root = match tree::parse_json_with_comments(&text) {
        Ok(root) => root,
        Err(e) => {
            diags.push(
                Diagnostic::at(file, e.pos, format!("invalid JSON: {}", e.message))
                    .hint("workers.json is JSON with optional `//` comments"),
            );
            return Vec::new();
        }
    };
    let mut c = Checker::new(file, diags);
    let Some(root) = c.mapping(
        &root,
        "workers.json (a mapping of worker names to settings)",
    ) else {
        return Vec::new();
    };
    let entries = root.entries().unwrap_or_default();
    if entries.is_empty() {
        c.error(root.pos, "workers.json names no workers", None);
    }
    let mut workers = Vec::new();
    // Ports promwasm starts a server on, and whose it is.
    let mut local_ports: BTreeMap<u16, String> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(plan) = worker(&mut c, i, &e.key, &e.value, defaults) else {
            continue;
        };
        if plan.launch.is_some() {
            if let Some(first) = local_ports.insert(plan.port, plan.name.clone()) {
                let pos = e.value.get("port").map_or(e.value.pos, |n| n.pos);
                c.error(
                    pos,
                    format!(
                        "workers `{first}` and `{}` both listen on port {}",
                        plan.name, plan.port
                    ),
                    Some("give each worker its own `port` (or leave `port` out: worker i gets base_port + i)".into()),
                );
                continue;
            }
        }
        workers.push(plan);
    }
    workers
}

fn worker(
    c: &mut Checker,
    index: usize,
    name: &str,
    node: &Node,
    d: &Defaults,
) -> Option<WorkerPlan> {
    let what = format!("worker `{name}`");
    let node = c.mapping(node, &what)?;
    let errors_before = c.diags.errors();

    let external_url = c.opt_str(node, "url", &what);
    let parsed_url = match external_url.as_deref().map(reqwest::Url::parse) {
        Some(Err(e)) => {
            c.error(
                node.get("url").map_or(node.pos, |n| n.pos),
                format!("`url` of {what}: {e}"),
                Some("e.g. \"url\": \"http://127.0.0.1:5931\"".into()),
            );
            None
        }
        Some(Ok(url)) => Some(url),
        None => None,
    };
    let (port, port_from) = match c.opt_uint(node, "port", &what, u16::MAX as u64) {
        Some(p) => (p as u16, PortFrom::Own),
        // A remote worker's port is its URL's, not base_port + i.
        None if parsed_url.is_some() => (
            parsed_url
                .as_ref()
                .and_then(reqwest::Url::port_or_known_default)
                .unwrap_or(0),
            PortFrom::Url,
        ),
        None => match u16::try_from(d.base_port as usize + index) {
            Ok(p) => (
                p,
                PortFrom::BasePort {
                    base_port: d.base_port,
                    index,
                },
            ),
            Err(_) => {
                c.error(
                    node.pos,
                    format!("{what}: base_port + {index} is past 65535"),
                    None,
                );
                (0, PortFrom::Own)
            }
        },
    };
    let url = external_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{port}"));
    let launch = match external_url {
        Some(_) => None,
        None => launch(c, node, &what, d),
    };
    let ready = readiness(c, node, &what);
    let env = env_vars(c, node, &what, d.env);
    let keys = keypairs(c, node, &what, d);
    let database_path = c
        .opt_str(node, "database_path", &what)
        .map(|p| d.base_dir.join(p))
        .unwrap_or_else(|| d.data_dir.join(format!("database_{name}.db")));

    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert("base_dir".into(), json!(d.base_dir));
    fields.insert("port".into(), json!(port));
    fields.insert("url".into(), json!(url));
    fields.insert("database_path".into(), json!(database_path));
    if let Value::Object(given) = node.to_json() {
        for (k, v) in given {
            // Environment values may be secrets; steps read them with `get-env`.
            if k != "env_vars" && k != "keypairs" && k != "env" {
                fields.insert(k, v);
            }
        }
    }
    // Keep the resolved values authoritative for what promwasm itself uses.
    fields.insert("port".into(), json!(port));
    fields.insert("url".into(), json!(url));

    if c.diags.errors() > errors_before {
        return None;
    }
    Some(WorkerPlan {
        name: name.to_string(),
        port,
        port_from,
        url,
        launch,
        ready,
        env,
        keys,
        fields,
        database_path,
    })
}

fn launch(c: &mut Checker, node: &Node, what: &str, d: &Defaults) -> Option<Launch> {
    let cwd = d.base_dir.to_path_buf();
    if let Some(cmd) = node.get("command") {
        let parts: Vec<String> = match &cmd.kind {
            Kind::Str(s) => s.split_whitespace().map(str::to_string).collect(),
            Kind::Seq(items) if items.iter().all(|i| i.as_str().is_some()) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let Some(program) = parts.first() else {
            c.error(
                cmd.pos,
                format!("`command` of {what} must be a non-empty string or list of strings"),
                Some("e.g. \"command\": [\"node\", \"server.js\"]".into()),
            );
            return None;
        };
        let mut parts = parts.clone();
        if program.contains('/') {
            let path = c.file.parent().unwrap_or(Path::new(".")).join(program);
            if !path.exists() {
                c.error(
                    cmd.pos,
                    format!("`command` of {what}: `{}` does not exist", path.display()),
                    Some("relative paths are resolved against the folder of workers.json; build the server first".into()),
                );
                return None;
            }
            parts[0] = path.to_string_lossy().into_owned();
        }
        return Some(Launch {
            command: parts,
            cwd,
        });
    }
    let own_entry = c.opt_str(node, "server_entrypoint", what);
    let entry = own_entry
        .as_deref()
        .or(d.server_entrypoint)
        .unwrap_or("main.py");
    let path = d.project_root.join(entry);
    if !path.is_file() {
        let pos = node.get("server_entrypoint").map_or(node.pos, |n| n.pos);
        c.error(
            pos,
            format!("server entrypoint of {what} not found at {}", path.display()),
            Some("set `server_entrypoint` (relative to the project root), `command`, or `url` for a worker that already runs".into()),
        );
        return None;
    }
    let path = path.to_string_lossy().into_owned();
    let command = if path.ends_with(".py") {
        vec!["python3".to_string(), path]
    } else {
        vec![path]
    };
    Some(Launch { command, cwd })
}

fn readiness(c: &mut Checker, node: &Node, what: &str) -> Readiness {
    let default_timeout = Duration::from_secs(30);
    let Some(ready) = node.get("ready") else {
        return Readiness::Tcp {
            timeout: default_timeout,
        };
    };
    if let Some(path) = ready.as_str() {
        return match path {
            "tcp" => Readiness::Tcp {
                timeout: default_timeout,
            },
            _ if path.starts_with('/') => Readiness::Http {
                path: path.to_string(),
                timeout: default_timeout,
            },
            // Appended to the worker's URL as it is, `healthz` would ask `http://localhost:5000healthz`.
            _ => {
                c.error(
                    ready.pos,
                    format!("`ready` of {what} must be `tcp` or an HTTP path starting with `/`, found `{path}`"),
                    Some(format!("e.g. \"ready\": \"/{}\"", path.trim_start_matches('/'))),
                );
                Readiness::Tcp {
                    timeout: default_timeout,
                }
            }
        };
    }
    let Some(ready) = c.mapping(ready, &format!("`ready` of {what}")) else {
        return Readiness::Tcp {
            timeout: default_timeout,
        };
    };
    c.no_unknown_keys(
        ready,
        &format!("`ready` of {what}"),
        &["http", "tcp", "timeout"],
    );
    let timeout = c
        .opt_with(ready, "timeout", units::duration)
        .unwrap_or(default_timeout);
    match c.opt_str(ready, "http", what) {
        Some(path) if path.starts_with('/') => Readiness::Http { path, timeout },
        Some(path) => {
            c.error(
                ready.get("http").map_or(ready.pos, |n| n.pos),
                format!("`ready.http` of {what} must be a path starting with `/`, found `{path}`"),
                None,
            );
            Readiness::Tcp { timeout }
        }
        None => Readiness::Tcp { timeout },
    }
}

/// The worker's environment: `env` (literal values, as in prometheus-test's
/// README) and `env_vars` (values taken from the environment or `.env`).
fn env_vars(c: &mut Checker, node: &Node, what: &str, env: &Env) -> BTreeMap<String, String> {
    let mut mapped = literal_env(c, node, what);
    let literal: Vec<String> = mapped.keys().cloned().collect();
    let Some(vars) = node.get("env_vars") else {
        return mapped;
    };
    let Some(vars) = c.mapping(vars, &format!("`env_vars` of {what}")) else {
        return mapped;
    };
    for e in vars.entries().unwrap_or_default() {
        let Some(source) = e.value.as_str() else {
            c.error(
                e.value.pos,
                format!(
                    "`env_vars.{}` of {what} must name an environment variable",
                    e.key
                ),
                None,
            );
            continue;
        };
        if literal.contains(&e.key) {
            c.error(
                e.key_pos,
                format!("{what} sets `{}` in both `env` and `env_vars`", e.key),
                Some(
                    "keep one: `env` holds values, `env_vars` names variables to read them from"
                        .into(),
                ),
            );
            continue;
        }
        // prometheus-test passes DATA_DIR through literally.
        if e.key == "DATA_DIR" {
            mapped.insert(e.key.clone(), source.to_string());
            continue;
        }
        match env.get(source).filter(|v| !v.is_empty()) {
            Some(value) => {
                mapped.insert(e.key.clone(), value.clone());
            }
            None => c.error(
                e.value.pos,
                format!("{what} maps `{}` from `{source}`, which is not set", e.key),
                Some(format!(
                    "set `{source}` in the environment or in a .env file"
                )),
            ),
        }
    }
    mapped
}

/// `env`: `{"NAME": "value"}`; numbers and booleans are written as text.
fn literal_env(c: &mut Checker, node: &Node, what: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let Some(given) = node.get("env") else {
        return vars;
    };
    let Some(given) = c.mapping(given, &format!("`env` of {what}")) else {
        return vars;
    };
    for e in given.entries().unwrap_or_default() {
        let value = match &e.value.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(n) => n.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Bool(b) => b.to_string(),
            _ => {
                c.error(
                    e.value.pos,
                    format!(
                        "`env.{}` of {what} must be a string, number or boolean, not {}",
                        e.key,
                        e.value.type_name()
                    ),
                    None,
                );
                continue;
            }
        };
        vars.insert(e.key.clone(), value);
    }
    vars
}

fn keypairs(
    c: &mut Checker,
    node: &Node,
    what: &str,
    d: &Defaults,
) -> BTreeMap<String, Arc<Keypair>> {
    let mut keys = BTreeMap::new();
    let Some(pairs) = node.get("keypairs") else {
        return keys;
    };
    let Some(pairs) = c.mapping(pairs, &format!("`keypairs` of {what}")) else {
        return keys;
    };
    c.no_unknown_keys(
        pairs,
        &format!("`keypairs` of {what}"),
        &["staking", "main"],
    );
    for e in pairs.entries().unwrap_or_default() {
        if e.key != "staking" && e.key != "main" {
            continue;
        }
        let Some(var) = e.value.as_str() else {
            c.error(
                e.value.pos,
                format!("`keypairs.{}` of {what} must name an environment variable holding a keypair file path", e.key),
                None,
            );
            continue;
        };
        let Some(path) = d.env.get(var).filter(|v| !v.is_empty()) else {
            c.error(
                e.value.pos,
                format!("{what}: {} keypair path env var `{var}` is not set", e.key),
                Some(format!("set `{var}` to a Solana-style keypair file (create one with `promwasm keygen PATH`)")),
            );
            continue;
        };
        let path: PathBuf = d.project_root.join(path);
        match Keypair::from_file(&path) {
            Ok(k) => {
                keys.insert(e.key.clone(), Arc::new(k));
            }
            Err(err) => c.error(
                e.value.pos,
                format!("{what}: cannot load {} keypair from `{var}`: {err}", e.key),
                Some("a keypair file is a JSON array of 64 numbers; `promwasm keygen PATH` writes one".into()),
            ),
        }
    }
    keys
}

#[cfg(test)]
#[path = "workers_tests.rs"]
mod tests;
