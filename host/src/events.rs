//! The run's event stream. The runner says what happened; reporters decide
//! how it looks (the console, the JSON and JUnit files, later a live
//! progress display). Nothing in the runner prints.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::mask::Masker;
use crate::results::{Outcome, RunFailure, RunResult, StepResult};

pub use crate::supervisor::Stream;

/// One thing that happened during a run, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The run has its id and its directory (`data_dir/runs/<run id>`);
    /// a resumed run keeps both.
    RunStarted {
        /// The run id.
        run_id: String,
        /// Its directory, for logs and reports.
        dir: std::path::PathBuf,
    },
    /// A fresh run begins (no saved state, or `--reset`).
    FreshRun,
    /// A saved run resumes.
    Resumed {
        /// The round it resumes in.
        round: u32,
        /// The last step that finished in that round.
        after_step: Option<String>,
        /// Steps of the group after it that finished too (not run again).
        group_done: Vec<String>,
    },
    /// promwasm started a local MongoDB-compatible server for this run.
    MongoStarted {
        /// Which server binary.
        kind: String,
        /// Its connection string.
        uri: String,
    },
    /// A collection was seeded from its data file.
    Seeded {
        /// Collection name.
        collection: String,
        /// Documents imported.
        imported: u64,
        /// Documents with the task's id after seeding.
        with_task_id: u64,
        /// The task id.
        task_id: String,
    },
    /// The number of rounds was counted from the rounds collection.
    RoundsCounted {
        /// Rounds.
        rounds: u32,
        /// The collection counted.
        collection: String,
        /// The task id counted.
        task_id: String,
    },
    /// A worker process was started.
    WorkerStarted {
        /// Worker name.
        name: String,
        /// Its port.
        port: u16,
        /// Its process id.
        pid: u32,
    },
    /// A worker answered its readiness probe.
    WorkerReady {
        /// Worker name.
        name: String,
        /// How long after the workers' start began.
        after: Duration,
    },
    /// A line of a worker's output.
    WorkerOutput {
        /// Worker name.
        name: String,
        /// Which stream.
        stream: Stream,
        /// The line, without its newline.
        line: String,
    },
    /// A worker process was stopped.
    WorkerStopped {
        /// Worker name.
        name: String,
    },
    /// The steps of a `group` begin, all at once; each then has its own
    /// [`Event::StepStarted`].
    GroupStarted {
        /// Round number.
        round: u32,
        /// Rounds in all.
        max_rounds: u32,
        /// The group's name.
        group: String,
        /// Its steps that run now, in step order.
        steps: Vec<String>,
    },
    /// A step begins (round 0: the post-load hook).
    StepStarted {
        /// Round number.
        round: u32,
        /// Rounds in all.
        max_rounds: u32,
        /// Step name.
        step: String,
        /// Stage it runs.
        stage: String,
        /// Worker it runs as.
        worker: String,
        /// Its description (may be empty).
        description: String,
    },
    /// A line a step logged (through `log`, or on stdout/stderr).
    StepLog {
        /// Round number.
        round: u32,
        /// Step name.
        step: String,
        /// Worker it runs as.
        worker: String,
        /// The step's log line, with its level.
        line: String,
    },
    /// A try of a step did not succeed and another follows.
    StepRetry {
        /// Round number.
        round: u32,
        /// Step name.
        step: String,
        /// Worker it runs as.
        worker: String,
        /// The try that did not succeed (from 1).
        attempt: u32,
        /// Tries in all.
        attempts: u32,
        /// Why it did not succeed.
        why: String,
        /// The pause before the next try.
        next_in: Duration,
    },
    /// A step finished, however it ended.
    StepFinished(StepResult),
    /// Every step of a round finished.
    RoundFinished {
        /// Round number.
        round: u32,
    },
    /// The run is over; what it produced.
    RunFinished(RunResult),
    /// The run could not start, or stopped on an error that is not a step's
    /// (printed by the caller); what it produced, with `failure` set. Files
    /// are still written, so CI sees a failed run, never a missing report.
    RunAborted(RunResult),
}

impl Event {
    /// Replace every secret in the event's text.
    pub fn mask(&mut self, m: &Masker) {
        match self {
            Event::RunStarted { .. }
            | Event::FreshRun
            | Event::Resumed { .. }
            | Event::MongoStarted { .. }
            | Event::Seeded { .. }
            | Event::RoundsCounted { .. }
            | Event::WorkerStarted { .. }
            | Event::WorkerReady { .. }
            | Event::WorkerStopped { .. }
            | Event::GroupStarted { .. }
            | Event::StepStarted { .. }
            | Event::RoundFinished { .. } => {}
            Event::WorkerOutput { line, .. } | Event::StepLog { line, .. } => m.mask_in_place(line),
            Event::StepRetry { why, .. } => m.mask_in_place(why),
            Event::StepFinished(r) => mask_step(r, m),
            Event::RunFinished(run) | Event::RunAborted(run) => {
                run.steps.iter_mut().for_each(|r| mask_step(r, m));
                if let Some(
                    RunFailure::WorkerDied(msg)
                    | RunFailure::DatabaseDied(msg)
                    | RunFailure::Machine(msg)
                    | RunFailure::Invalid(msg),
                ) = &mut run.failure
                {
                    m.mask_in_place(msg);
                }
            }
        }
    }
}

fn mask_step(r: &mut StepResult, m: &Masker) {
    match &mut r.outcome {
        Outcome::Failed(msg)
        | Outcome::Skipped(msg)
        | Outcome::TimedOut(msg)
        | Outcome::NotRun(msg) => m.mask_in_place(msg),
        Outcome::Interrupted => {}
        Outcome::Passed(value) => {
            let text = value.to_string();
            if let std::borrow::Cow::Owned(masked) = m.mask(&text) {
                // Masking can cut through JSON syntax; keep it readable as text.
                *value = serde_json::from_str(&masked).unwrap_or(serde_json::Value::String(masked));
            }
        }
    }
    r.log.iter_mut().for_each(|l| m.mask_in_place(l));
}

/// Something that reads the event stream.
pub trait Reporter: Send {
    /// One event, in order.
    fn event(&mut self, event: &Event);

    /// After the run: a reporter that writes a file says here if it could not.
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The sending side of the event stream: cheap to clone, shared by
/// everything that has something to say (the round loop, the step log,
/// worker output pumps).
#[derive(Clone, Default)]
pub struct Events {
    reporters: Arc<Mutex<Vec<Box<dyn Reporter>>>>,
    masker: Arc<Masker>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// A stream read by `reporters`, in order.
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self::masked(reporters, Masker::default())
    }

    /// A stream read by `reporters`, which never see what `masker` masks.
    pub fn masked(reporters: Vec<Box<dyn Reporter>>, masker: Masker) -> Self {
        Events {
            reporters: Arc::new(Mutex::new(reporters)),
            masker: Arc::new(masker),
        }
    }

    /// A stream nobody reads (checks, benches).
    pub fn none() -> Self {
        Self::default()
    }

    /// Tell every reporter.
    pub fn emit(&self, mut event: Event) {
        if !self.masker.is_empty() {
            event.mask(&self.masker);
        }
        for r in self.lock().iter_mut() {
            r.event(&event);
        }
    }

    /// Let every reporter finish; the errors of those that could not.
    pub fn finish(&self) -> Vec<anyhow::Error> {
        self.lock()
            .iter_mut()
            .filter_map(|r| r.finish().err())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Box<dyn Reporter>>> {
        // A reporter that panicked mid-event leaves nothing half-done that
        // matters more than the rest of the run's output.
        self.reporters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A reporter that keeps every event (for tests).
#[derive(Debug, Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for Recorder {
    fn event(&mut self, event: &Event) {
        if let Ok(mut e) = self.0.lock() {
            e.push(event.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporters_never_see_secrets() {
        let rec = Recorder::default();
        let events = Events::masked(
            vec![Box::new(rec.clone())],
            Masker::new(["s3cr3t-token".to_string()]),
        );
        events.emit(Event::WorkerOutput {
            name: "w".into(),
            stream: Stream::Stdout,
            line: "token=s3cr3t-token".into(),
        });
        let step = StepResult {
            round: 1,
            step: "s".into(),
            worker: "w".into(),
            stage: "s".into(),
            outcome: Outcome::Passed(serde_json::json!({"echo": "s3cr3t-token"})),
            attempts: 1,
            duration: Default::default(),
            log: vec!["info got s3cr3t-token".into()],
            http: Default::default(),
        };
        events.emit(Event::StepFinished(step));
        let seen = format!("{:?}", rec.events());
        assert!(!seen.contains("s3cr3t"), "{seen}");
        assert!(seen.contains("token=***"), "{seen}");
    }
}
