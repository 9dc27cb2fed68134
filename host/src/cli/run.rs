//! `promwasm run` and `promwasm check`.

use std::path::{Path, PathBuf};

use super::exit;
use crate::config;
use crate::events::{Events, Reporter};
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
    /// Resume at this step (for debugging a resumed run): the steps before
    /// it in the round count as done. With a saved state, only the resume
    /// point moves; the store is kept.
    #[arg(long, value_name = "STEP")]
    from_step: Option<String>,
    /// Print only what did not pass, and the summary.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Also print each passed step's result and each round's end.
    #[arg(short, long)]
    verbose: bool,
    /// With --from-step: the round to resume in [default: the saved round, else 1].
    #[arg(long, value_name = "N", requires = "from_step", value_parser = clap::value_parser!(u32).range(1..))]
    round: Option<u32>,
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

pub(super) fn load(path: &Path) -> Result<config::Loaded, u8> {
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

pub(super) fn default_cache_dir() -> Option<PathBuf> {
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

/// Where `--from-step STEP [--round N]` resumes, or why it cannot.
fn resume_point(
    plan: &crate::plan::Plan,
    step: &str,
    round: Option<u32>,
) -> Result<runner::ResumePoint, config::Diagnostic> {
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    match names.iter().position(|n| *n == step) {
        Some(i) => Ok(runner::ResumePoint {
            after_step: i.checked_sub(1).map(|p| names[p].to_string()),
            round,
        }),
        None => {
            let hint = config::did_you_mean(step, &names)
                .unwrap_or_else(|| format!("the steps are: {}", names.join(", ")));
            Err(config::Diagnostic::file(
                &plan.config_file,
                format!("--from-step: there is no step `{step}`"),
            )
            .hint(hint))
        }
    }
}

/// Say why a run could not start.
fn print_error(e: &RunError) {
    match e {
        RunError::Invalid(diags) => eprintln!("{diags}"),
        other => eprintln!("error: {other:#}"),
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
    fn verbosity(&self) -> report::Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => report::Verbosity::Quiet,
            (_, true) => report::Verbosity::Verbose,
            _ => report::Verbosity::Normal,
        }
    }

    /// Run it.
    pub async fn run(self) -> u8 {
        let loaded = match load(&self.config) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let from = match &self.from_step {
            None => None,
            Some(step) => match resume_point(&loaded.plan, step, self.round) {
                Ok(point) => Some(point),
                Err(diag) => {
                    eprintln!("{diag}");
                    return exit::INVALID;
                }
            },
        };
        let opts = RunOptions {
            reset: self.reset,
            from,
            server_dirs: server_dirs(&self.config),
            ..caches(self.cache_dir.clone(), self.no_cache)
        };
        let mut reporters: Vec<Box<dyn Reporter>> = vec![
            Box::new(report::Console::on_stdout(self.verbosity())),
            Box::new(report::RunDirFiles::default()),
        ];
        if let Some(path) = self.junit {
            reporters.push(Box::new(report::JunitFile::new(path)));
        }
        if let Some(path) = self.json {
            reporters.push(Box::new(report::JsonFile::new(path)));
        }
        let events = Events::masked(reporters, crate::mask::Masker::from_plan(&loaded.plan));
        let end = runner::run(loaded, &opts, &events).await;
        if let Err(e) = &end {
            print_error(e);
        }
        let mut code = exit::code(&end);
        for e in events.finish() {
            eprintln!("error: {e:#}");
            code = code.max(exit::SETUP);
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
            print_error(&e);
            return exit::code(&Err(e));
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
