//! What a run produced, as plain data. The runner writes it; reporters and
//! the exit code read it. Neither side imports the other: both import this.

use std::time::Duration;

use serde_json::Value;

/// How one step ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It did its work; its result.
    Passed(Value),
    /// It chose not to run, and why. Counts as passing.
    Skipped(String),
    /// It failed; the message names what went wrong.
    Failed(String),
}

/// One step of one round (round 0: the post-load hook).
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Round number; 0 for the post-load hook.
    pub round: u32,
    /// Step name.
    pub step: String,
    /// Worker it ran as.
    pub worker: String,
    /// Stage it ran.
    pub stage: String,
    /// How it ended (its last try, when retried).
    pub outcome: Outcome,
    /// Tries it took: 1 unless `retry` made more, 0 when `skip_if` skipped it.
    pub attempts: u32,
    /// Wall-clock time of prepare + execute, over all tries.
    pub duration: Duration,
    /// Its log lines and captured stdout/stderr.
    pub log: Vec<String>,
}

/// Why a run stopped early, outside any one step's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFailure {
    /// A worker exited while steps ran; the message has its stderr tail.
    WorkerDied(String),
    /// Ctrl-C or SIGTERM; the state is saved.
    Interrupted,
    /// The machine failed us mid-run (the state file could not be written,
    /// MongoDB went away while seeding).
    Machine(String),
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunFailure::WorkerDied(msg) | RunFailure::Machine(msg) => f.write_str(msg),
            RunFailure::Interrupted => {
                f.write_str("interrupted; the state is saved, run again to resume")
            }
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    /// The run id (kept across resumes).
    pub run_id: String,
    /// Rounds in this task test.
    pub max_rounds: u32,
    /// Where this invocation started: round and the step it resumed after.
    pub resumed: Option<(u32, Option<String>)>,
    /// The steps run by this invocation, in order (the post-load hook first, as round 0).
    pub steps: Vec<StepResult>,
    /// Why the run stopped early, outside any step.
    pub failure: Option<RunFailure>,
}

impl RunResult {
    /// Every step passed or was skipped and nothing else failed.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && !self.any_step_failed()
    }

    /// Whether some step failed.
    pub fn any_step_failed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed(_)))
    }

    /// (passed, failed, skipped) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in &self.steps {
            match s.outcome {
                Outcome::Passed(_) => c.0 += 1,
                Outcome::Failed(_) => c.1 += 1,
                Outcome::Skipped(_) => c.2 += 1,
            }
        }
        c
    }
}

/// What one local worker process used during the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerUsage {
    /// Worker name.
    pub name: String,
    /// CPU time (user + system) of its process and the children it waited for.
    pub cpu: Duration,
    /// Peak resident set size, in bytes, when the system reports it.
    pub peak_rss_bytes: Option<u64>,
}
