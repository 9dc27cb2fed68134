//! What a run produced, as plain data. Only the report and the state writer read it.

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

/// One step of one round.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Round number.
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

/// A whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    /// The run id (kept across resumes).
    pub run_id: String,
    /// Rounds in this task test.
    pub max_rounds: u32,
    /// Where this invocation started: round and the step it resumed after.
    pub resumed: Option<(u32, Option<String>)>,
    /// The steps run by this invocation, in order.
    pub steps: Vec<StepResult>,
    /// A failure outside any step (a worker died, MongoDB failed, interrupted).
    pub error: Option<String>,
}

impl RunResult {
    /// Every step passed or was skipped and nothing else failed.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && !self
                .steps
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
