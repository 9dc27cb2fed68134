//! The console: a line per thing that happened, then the summary.

use crate::events::{Event, Reporter, Stream};
use crate::results::{Outcome, RunResult, StepResult};

/// Prints the run to stdout as it happens.
#[derive(Debug, Default)]
pub struct Console;

impl Reporter for Console {
    fn event(&mut self, event: &Event) {
        if let Some(text) = line(event) {
            println!("{text}");
        }
    }
}

/// What the console shows for `event`, if anything.
fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::FreshRun => "Starting a fresh run".into(),
        Event::Resumed { round, after_step } => format!(
            "Resuming round {round} after step {}",
            after_step.as_deref().unwrap_or("(none)")
        ),
        Event::MongoStarted { kind, uri } => format!("MongoDB: started {kind} at {uri} for this run"),
        Event::Seeded {
            collection,
            imported,
            with_task_id,
            task_id,
        } => format!("MongoDB: {collection}: imported {imported}, {with_task_id} with taskId {task_id}"),
        Event::RoundsCounted {
            rounds,
            collection,
            task_id,
        } => format!("{rounds} rounds (documents with taskId {task_id} in `{collection}`)"),
        Event::WorkerStarted { name, port, pid } => {
            format!("started worker {name} on port {port} (pid {pid})")
        }
        Event::WorkerOutput { name, stream, line } => match stream {
            Stream::Stdout => format!("[{name}] {line}"),
            Stream::Stderr => format!("[{name} ERR] {line}"),
        },
        Event::WorkerStopped { name } => format!("stopped worker {name}"),
        Event::StepStarted {
            round,
            max_rounds,
            step,
            stage,
            worker,
            description,
        } => {
            let what = if description.is_empty() {
                String::new()
            } else {
                format!(": {description}")
            };
            if *round == 0 {
                format!("── post-load hook ({stage} on {worker}){what}")
            } else {
                format!("── round {round}/{max_rounds} · {step} ({stage} on {worker}){what}")
            }
        }
        Event::StepLog {
            round,
            step,
            worker,
            line,
        } => format!("[r{round} {step}@{worker}] {line}"),
        Event::StepRetry {
            round,
            step,
            worker,
            attempt,
            attempts,
            why,
            next_in,
        } => format!(
            "[r{round} {step}@{worker}] runner attempt {attempt}/{attempts} did not succeed ({why}); next in {next_in:?}"
        ),
        Event::StepFinished(r) => step_line(r),
        Event::RoundFinished { .. } => return None,
        Event::RunFinished(run) => summary(run),
    })
}

/// One line for a finished step.
pub fn step_line(r: &StepResult) -> String {
    let ms = r.duration.as_millis();
    let took = match r.attempts {
        0 | 1 => format!("{ms} ms"),
        n => format!("{ms} ms, {n} attempts"),
    };
    match &r.outcome {
        Outcome::Passed(_) => format!("   ✓ passed  {}@{} ({took})", r.step, r.worker),
        Outcome::Skipped(why) => format!("   ↷ skipped {}@{} ({took}): {why}", r.step, r.worker),
        Outcome::Failed(why) => format!("   ✗ failed  {}@{} ({took}): {why}", r.step, r.worker),
    }
}

/// The closing summary.
pub fn summary(run: &RunResult) -> String {
    let (passed, failed, skipped) = run.counts();
    let mut out = String::new();
    if let Some((round, Some(step))) = &run.resumed {
        out.push_str(&format!("resumed in round {round} after step {step}\n"));
    }
    for s in &run.steps {
        if let Outcome::Failed(msg) = &s.outcome {
            out.push_str(&format!("FAILED {msg}\n"));
        }
    }
    if let Some(e) = &run.failure {
        out.push_str(&format!("FAILED {e}\n"));
    }
    let verdict = if run.passed() { "PASSED" } else { "FAILED" };
    out.push_str(&format!(
        "{verdict}: {} rounds; this run: {passed} steps passed, {skipped} skipped, {failed} failed",
        run.max_rounds
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunFailure;
    use std::time::Duration;

    fn step(outcome: Outcome, attempts: u32) -> StepResult {
        StepResult {
            round: 2,
            step: "audit".into(),
            worker: "worker1".into(),
            stage: "audit".into(),
            outcome,
            attempts,
            duration: Duration::from_millis(12),
            log: vec![],
        }
    }

    #[test]
    fn step_lines_show_outcome_and_tries() {
        assert_eq!(
            step_line(&step(Outcome::Passed(serde_json::json!(1)), 1)),
            "   ✓ passed  audit@worker1 (12 ms)"
        );
        assert_eq!(
            step_line(&step(Outcome::Failed("boom".into()), 3)),
            "   ✗ failed  audit@worker1 (12 ms, 3 attempts): boom"
        );
        assert_eq!(
            step_line(&step(Outcome::Skipped("later".into()), 0)),
            "   ↷ skipped audit@worker1 (12 ms): later"
        );
    }

    #[test]
    fn summary_names_every_failure_and_counts() {
        let run = RunResult {
            max_rounds: 3,
            steps: vec![
                step(Outcome::Passed(serde_json::json!(null)), 1),
                step(Outcome::Failed("round 2, step `audit`: boom".into()), 1),
            ],
            failure: Some(RunFailure::Interrupted),
            ..Default::default()
        };
        let text = summary(&run);
        assert!(
            text.contains("FAILED round 2, step `audit`: boom\n"),
            "{text}"
        );
        assert!(
            text.contains("FAILED interrupted; the state is saved"),
            "{text}"
        );
        assert!(
            text.ends_with("FAILED: 3 rounds; this run: 1 steps passed, 0 skipped, 1 failed"),
            "{text}"
        );
    }

    #[test]
    fn worker_output_and_headers_are_prefixed() {
        let out = Event::WorkerOutput {
            name: "worker1".into(),
            stream: Stream::Stderr,
            line: "listening".into(),
        };
        assert_eq!(line(&out).unwrap(), "[worker1 ERR] listening");
        let start = Event::StepStarted {
            round: 0,
            max_rounds: 3,
            step: "post-load".into(),
            stage: "post-load".into(),
            worker: "worker1".into(),
            description: String::new(),
        };
        assert_eq!(
            line(&start).unwrap(),
            "── post-load hook (post-load on worker1)"
        );
    }
}
