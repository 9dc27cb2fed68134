//! The live part of the console on a terminal: one spinner line under the
//! run's output saying what is happening now (workers starting, seeding,
//! round i/N with the running step, its worker, attempt and elapsed time).
//! Lines printed while it shows go above it.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::console::step_title;
use crate::events::Event;

/// The spinner line and what it knows of the run so far.
pub struct Live {
    bars: MultiProgress,
    now: ProgressBar,
    workers_started: usize,
    /// What the running step's message says before its attempt.
    step: String,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

impl Live {
    /// A spinner drawn on stdout (the caller knows it is a terminal).
    pub fn on_stdout() -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let now = bars.add(ProgressBar::new_spinner());
        // The template is a constant: it cannot fail to parse.
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} · {elapsed}") {
            now.set_style(style);
        }
        now.enable_steady_tick(Duration::from_millis(100));
        now.set_message("preparing the run");
        Live {
            bars,
            now,
            workers_started: 0,
            step: String::new(),
        }
    }

    /// Print a line above the spinner.
    pub fn println(&self, line: &str) {
        // The terminal went away: nothing sensible to do with the line.
        let _ = self.bars.println(line);
    }

    /// Move the spinner on to what `event` starts.
    pub fn event(&mut self, event: &Event) {
        let message = match event {
            Event::MongoStarted { .. } => "seeding MongoDB".to_string(),
            Event::WorkerStarted { .. } => {
                self.workers_started += 1;
                format!(
                    "starting workers: {} started, waiting until they answer",
                    self.workers_started
                )
            }
            Event::StepStarted {
                round,
                max_rounds,
                step,
                stage,
                worker,
                ..
            } => {
                self.now.reset_elapsed();
                self.step = step_title(*round, *max_rounds, step, stage, worker);
                self.step.clone()
            }
            Event::StepRetry {
                attempt, attempts, ..
            } => format!("{} · attempt {}/{attempts}", self.step, attempt + 1),
            Event::RunFinished(_) | Event::RunAborted(_) => {
                self.now.finish_and_clear();
                return;
            }
            _ => return,
        };
        self.now.set_message(message);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.now.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spinner_says_round_step_worker_and_attempt() {
        assert_eq!(
            step_title(2, 3, "audit", "audit", "worker2"),
            "round 2/3 · audit (audit on worker2)"
        );
        assert_eq!(
            step_title(0, 3, "post-load", "seed", "worker1"),
            "post-load hook (seed on worker1)"
        );
        let mut live = Live {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            now: ProgressBar::hidden(),
            workers_started: 0,
            step: String::new(),
        };
        live.event(&Event::StepStarted {
            round: 1,
            max_rounds: 2,
            step: "poll".into(),
            stage: "poll".into(),
            worker: "w".into(),
            description: String::new(),
        });
        live.event(&Event::StepRetry {
            round: 1,
            step: "poll".into(),
            worker: "w".into(),
            attempt: 1,
            attempts: 3,
            why: "not yet".into(),
            next_in: Duration::from_secs(1),
        });
        assert_eq!(
            live.now.message(),
            "round 1/2 · poll (poll on w) · attempt 2/3"
        );
    }
}
