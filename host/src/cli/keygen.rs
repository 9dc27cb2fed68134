//! `promwasm keygen`: write a Solana-style keypair file, or (`--for
//! CONFIG`) every keypair file a task test's workers.json names that does
//! not exist yet — prometheus-test's "generate wallets" wish.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::exit;
use crate::config::{env, tree, Diagnostics, Env};
use crate::signing;

/// Write a new Solana-style keypair file (a JSON array of 64 bytes) and print
/// its base58 public key; or, with `--for CONFIG`, create every keypair that
/// the task test's workers.json names and that is missing.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["path", "for_config"]))]
pub struct KeygenCmd {
    /// Where to write the keypair.
    path: Option<PathBuf>,
    /// A config.yaml: for each `keypairs` entry of its workers.json, create
    /// the file its env var names when that file is missing; when the env var
    /// is not set, create `<tests>/keys/<worker>-<role>.json` and add the
    /// variable to the tests folder's `.env`. Existing keys are never touched.
    #[arg(long = "for", value_name = "CONFIG")]
    for_config: Option<PathBuf>,
    /// Overwrite an existing file (not with --for).
    #[arg(long, conflicts_with = "for_config")]
    force: bool,
}

impl KeygenCmd {
    /// Write it.
    pub fn run(self) -> u8 {
        if let Some(config) = &self.for_config {
            return match for_config(config) {
                Ok(done) => {
                    for line in done {
                        println!("{line}");
                    }
                    exit::OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::INVALID
                }
            };
        }
        let Some(path) = &self.path else {
            return exit::INVALID;
        };
        match signing::write_new_keypair(path, self.force) {
            Ok(key) => {
                println!("{}", key.public_key_base58());
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::INVALID
            }
        }
    }
}

/// Create the missing keypairs of `config`'s workers; what was done, a line each.
fn for_config(config: &Path) -> Result<Vec<String>, String> {
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let tests = config.parent().unwrap_or(Path::new("/")).to_path_buf();
    let root = tests.parent().unwrap_or(&tests).to_path_buf();
    let yaml = read(&config)?;
    let parsed = tree::parse_yaml(&yaml).map_err(|e| located(&config, e))?;
    let workers_file = tests.join(
        parsed
            .get("workers_config")
            .and_then(tree::Node::as_str)
            .unwrap_or("workers.json"),
    );
    let workers = tree::parse_json_with_comments(&read(&workers_file)?)
        .map_err(|e| located(&workers_file, e))?;
    let mut diags = Diagnostics::default();
    let process: Env = std::env::vars().collect();
    let vars = env::layered(&root, &tests, process, &mut diags).vars;
    if !diags.is_empty() {
        return Err(diags.to_string());
    }
    // How the tests folder is written in .env, relative to the project root
    // (where keypair paths are resolved, as in prometheus-test).
    let tests_rel = tests
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| tests.clone());
    let dotenv = tests.join(".env");
    let mut done = Vec::new();
    let mut seen = BTreeSet::new();
    for worker in workers.entries().unwrap_or_default() {
        let Some(pairs) = worker.value.get("keypairs").and_then(tree::Node::entries) else {
            continue;
        };
        for pair in pairs {
            let Some(var) = pair.value.as_str() else {
                continue;
            };
            if !seen.insert(var.to_string()) {
                continue;
            }
            match vars.get(var).filter(|v| !v.is_empty()) {
                Some(named) => done.push(ensure_keypair(&root.join(named), var)?),
                None => {
                    let rel = tests_rel
                        .join("keys")
                        .join(format!("{}-{}.json", worker.key, pair.key));
                    done.push(ensure_keypair(&root.join(&rel), var)?);
                    append_var(&dotenv, var, &rel)?;
                    done.push(format!(
                        "added {var}={} to {}",
                        rel.display(),
                        dotenv.display()
                    ));
                }
            }
        }
    }
    if done.is_empty() {
        done.push(format!("{} names no keypairs", workers_file.display()));
    }
    Ok(done)
}

/// Keep the keypair at `path` (named by `var`), or create it there; what was done.
fn ensure_keypair(path: &Path, var: &str) -> Result<String, String> {
    if path.exists() {
        return Ok(format!("kept {} ({var})", path.display()));
    }
    let key = signing::write_new_keypair(path, false).map_err(|e| e.to_string())?;
    Ok(format!(
        "created {} ({var}), public key {}",
        path.display(),
        key.public_key_base58()
    ))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn located(file: &Path, e: tree::SyntaxError) -> String {
    format!(
        "{}:{}:{}: {}",
        file.display(),
        e.pos.line,
        e.pos.column,
        e.message
    )
}

/// Add `var=value` as a line of `.env`, after whatever is there.
fn append_var(dotenv: &Path, var: &str, value: &Path) -> Result<(), String> {
    let existing = std::fs::read_to_string(dotenv).unwrap_or_default();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dotenv)
        .map_err(|e| format!("cannot write {}: {e}", dotenv.display()))?;
    let sep = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{sep}{var}={}", value.display())
        .map_err(|e| format!("cannot write {}: {e}", dotenv.display()))
}
