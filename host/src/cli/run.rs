//! `promwasm run` and `promwasm check`.

use std::path::{Path, PathBuf};

use super::exit;
use crate::config;
use crate::report;
use crate::runner::{self, RunError, RunOptions};

/// Run a task test: start workers, run every step of every round, report.
#[derive(Debug, clap::Args)]
pub struct RunCmd {
    /// The task test's config.yaml.
    config: PathBuf,
    /// Ignore saved state: re-seed MongoDB and start from round 1.
    #[arg(long)]
    reset: bool,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Cache compiled components, and modules fetched by URL, here
    /// [default: $PROMWASM_CACHE_DIR, else ~/.cache/promwasm].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component afresh.
    #[arg(long)]
    no_cache: bool,
}

/// Validate a task test and its modules without starting anything.
#[derive(Debug, clap::Args)]
pub struct CheckCmd {
    /// The task test's config.yaml.
    config: PathBuf,
    /// Cache compiled components, and modules fetched by URL, here
    /// [default: $PROMWASM_CACHE_DIR, else ~/.cache/promwasm].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

fn load(path: &Path) -> Result<config::Loaded, u8> {
    match config::load(path, std::env::vars().collect()) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            Ok(loaded)
        }
        Err(diags) => {
            eprintln!("{diags}");
            Err(exit::INVALID)
        }
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PROMWASM_CACHE_DIR") {
        return Some(dir.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("promwasm"))
}

/// Where to look for a MongoDB-compatible server besides PATH:
/// `$PROMWASM_MONGO_BIN_DIR`, then `.venv/bin` in the config's folder and each parent.
fn server_dirs(config: &Path) -> Vec<PathBuf> {
    let mut dirs = crate::mongo::server::bin_dirs_from_env();
    if let Ok(abs) = std::path::absolute(config) {
        dirs.extend(abs.ancestors().skip(1).map(|d| d.join(".venv/bin")));
    }
    dirs
}

/// Print why a run could not start; its exit code.
fn not_started(e: RunError) -> u8 {
    match e {
        RunError::Invalid(diags) => {
            eprintln!("{diags}");
            exit::INVALID
        }
        RunError::Setup(e) => {
            eprintln!("error: {e:#}");
            exit::SETUP
        }
    }
}

/// Where compiled components and fetched modules go.
fn caches(cache_dir: Option<PathBuf>, no_cache: bool) -> RunOptions {
    let cache_dir = cache_dir.or_else(default_cache_dir);
    RunOptions {
        // Fetched modules are kept even with --no-cache: they are inputs, pinned by digest.
        module_dir: cache_dir.as_ref().map(|d| d.join("modules")),
        cache_dir: if no_cache { None } else { cache_dir },
        ..RunOptions::default()
    }
}

impl RunCmd {
    /// Run it.
    pub async fn run(self) -> u8 {
        let loaded = match load(&self.config) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let opts = RunOptions {
            reset: self.reset,
            server_dirs: server_dirs(&self.config),
            ..caches(self.cache_dir.clone(), self.no_cache)
        };
        let result = match runner::run(loaded, &opts).await {
            Ok(r) => r,
            Err(e) => return not_started(e),
        };
        println!("{}", report::summary(&result));
        let mut code = if result.passed() {
            exit::OK
        } else {
            exit::STEP_FAILED
        };
        if result
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted"))
        {
            code = exit::INTERRUPTED;
        }
        if let Some(path) = &self.junit {
            if let Err(e) = report::write_junit(&result, path) {
                eprintln!("error: cannot write JUnit report {}: {e}", path.display());
                code = code.max(exit::SETUP);
            }
        }
        if let Some(path) = &self.json {
            if let Err(e) = report::write_json(&result, path) {
                eprintln!("error: cannot write JSON report {}: {e}", path.display());
                code = code.max(exit::SETUP);
            }
        }
        code
    }
}

impl CheckCmd {
    /// Check it.
    pub async fn run(self) -> u8 {
        let loaded = match load(&self.config) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let p = &loaded.plan;
        if let Err(e) = runner::check(p, &caches(self.cache_dir.clone(), false)).await {
            return not_started(e);
        }
        println!(
            "{}: OK — {} workers, {} steps{}",
            p.config_file.display(),
            p.workers.len(),
            p.steps.len(),
            if p.mongo.is_some() {
                ", MongoDB seeding"
            } else {
                ""
            }
        );
        exit::OK
    }
}
