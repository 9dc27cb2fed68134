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
    /// It was still running when its `timeout` passed; the message says so.
    TimedOut(String),
    /// It never started: an earlier step failed or the run stopped; why.
    NotRun(String),
    /// Ctrl-C or SIGTERM arrived while it ran.
    Interrupted,
}

impl Outcome {
    /// Whether it makes the run fail (failed or timed out).
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::TimedOut(_))
    }

    /// Its name in reports: `passed`, `skipped`, `failed`, `timed out`,
    /// `not run`, `interrupted`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Passed(_) => "passed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
            Outcome::TimedOut(_) => "timed out",
            Outcome::NotRun(_) => "not run",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// What it says besides its status (a reason or an error), if anything.
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Skipped(m)
            | Outcome::Failed(m)
            | Outcome::TimedOut(m)
            | Outcome::NotRun(m) => Some(m),
            Outcome::Passed(_) | Outcome::Interrupted => None,
        }
    }
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
    /// The HTTP calls it made, over all tries.
    pub http: HttpCalls,
}

/// HTTP calls a step made and how long each took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCalls {
    /// Calls made.
    pub count: u64,
    /// Calls that got no answer (not allowed, refused, timed out, too large).
    pub failed: u64,
    /// Each call's latency, for the first [`HttpCalls::MAX_SAMPLES`] calls
    /// (fewer once the run as a whole has kept its share).
    pub latencies: Vec<Duration>,
}

impl HttpCalls {
    /// Latencies kept per step: enough for percentiles, bounded for a
    /// step that calls in a loop.
    pub const MAX_SAMPLES: usize = 10_000;

    /// Whether another latency would be kept.
    pub fn has_room(&self) -> bool {
        self.latencies.len() < Self::MAX_SAMPLES
    }

    /// Count one call; keep its latency when given and there is room.
    pub fn record(&mut self, latency: Option<Duration>, answered: bool) {
        self.count += 1;
        if !answered {
            self.failed += 1;
        }
        if let Some(latency) = latency.filter(|_| self.has_room()) {
            self.latencies.push(latency);
        }
    }
}

/// The `p`-th percentile (0–100) of `samples` by nearest rank; `None` when empty.
pub fn percentile(samples: &[Duration], p: u32) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (p.min(100) as usize * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Why a run stopped early, outside any one step's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFailure {
    /// A worker exited while steps ran; the message has its stderr tail.
    WorkerDied(String),
    /// The database server promwasm started for the run exited while steps
    /// ran; the message has its log's tail.
    DatabaseDied(String),
    /// Ctrl-C or SIGTERM; the state is saved.
    Interrupted,
    /// The machine failed us (a worker or MongoDB could not start, the
    /// state file could not be written).
    Machine(String),
    /// The input is wrong (a module, a data file, the state file): nothing ran.
    Invalid(String),
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunFailure::WorkerDied(msg)
            | RunFailure::DatabaseDied(msg)
            | RunFailure::Machine(msg)
            | RunFailure::Invalid(msg) => f.write_str(msg),
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
    /// What each local worker process used, sampled during the run.
    pub workers: Vec<WorkerUsage>,
}

impl RunResult {
    /// Every step passed or was skipped and nothing else failed.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && !self.any_step_failed()
    }

    /// Whether some step failed or timed out.
    pub fn any_step_failed(&self) -> bool {
        self.steps.iter().any(|s| s.outcome.is_failure())
    }

    /// How many steps ended each way.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.steps {
            *match s.outcome {
                Outcome::Passed(_) => &mut c.passed,
                Outcome::Skipped(_) => &mut c.skipped,
                Outcome::Failed(_) => &mut c.failed,
                Outcome::TimedOut(_) => &mut c.timed_out,
                Outcome::NotRun(_) => &mut c.not_run,
                Outcome::Interrupted => &mut c.interrupted,
            } += 1;
        }
        c
    }
}

/// Steps of a run by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// Skipped by `skip_if` or by the step itself.
    pub skipped: usize,
    /// Failed.
    pub failed: usize,
    /// Timed out.
    pub timed_out: usize,
    /// Not run, after a failure or an interruption.
    pub not_run: usize,
    /// Running when the run was interrupted.
    pub interrupted: usize,
}

impl std::fmt::Display for Counts {
    /// `3 passed, 1 skipped, 1 failed`: zero counts left out, except `passed`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed", self.passed)?;
        for (n, what) in [
            (self.skipped, "skipped"),
            (self.failed, "failed"),
            (self.timed_out, "timed out"),
            (self.not_run, "not run"),
            (self.interrupted, "interrupted"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let samples = ms(&[50, 10, 40, 20, 30]);
        assert_eq!(percentile(&samples, 50), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&samples, 95), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&ms(&[7]), 95), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 50), None);
        let hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&hundred, 95), Some(Duration::from_millis(95)));
    }

    #[test]
    fn http_samples_are_bounded_but_every_call_counts() {
        let mut calls = HttpCalls::default();
        for i in 0..HttpCalls::MAX_SAMPLES + 5 {
            calls.record(Some(Duration::from_micros(i as u64)), i % 2 == 0);
        }
        assert_eq!(calls.count, HttpCalls::MAX_SAMPLES as u64 + 5);
        assert_eq!(calls.failed, (HttpCalls::MAX_SAMPLES as u64 + 5) / 2);
        assert_eq!(calls.latencies.len(), HttpCalls::MAX_SAMPLES);
    }
}
