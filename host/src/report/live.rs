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
    /// Workers that answered their readiness probe (local and remote).
    workers_ready: usize,
    /// The running steps (more than one in a group), in the order they began.
    running: Vec<Running>,
}

/// A step the spinner shows.
struct Running {
    round: u32,
    max_rounds: u32,
    step: String,
    /// Round, step, stage and worker, for when it runs alone.
    title: String,
    /// `attempt 2/3` once it is retried.
    attempt: Option<String>,
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
            workers_ready: 0,
            running: Vec::new(),
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
                self.workers_message()
            }
            Event::WorkerReady { .. } => {
                self.workers_ready += 1;
                self.workers_message()
            }
            Event::StepStarted {
                round,
                max_rounds,
                step,
                stage,
                worker,
                ..
            } => {
                if self.running.is_empty() {
                    self.now.reset_elapsed();
                }
                self.running.push(Running {
                    round: *round,
                    max_rounds: *max_rounds,
                    step: step.clone(),
                    title: step_title(*round, *max_rounds, step, stage, worker),
                    attempt: None,
                });
                self.running_message()
            }
            Event::StepRetry {
                round,
                step,
                attempt,
                attempts,
                ..
            } => {
                if let Some(r) = self.find(*round, step) {
                    r.attempt = Some(format!("attempt {}/{attempts}", attempt + 1));
                }
                self.running_message()
            }
            Event::StepFinished(r) => {
                self.running
                    .retain(|s| (s.round, s.step.as_str()) != (r.round, r.step.as_str()));
                if self.running.is_empty() {
                    return;
                }
                self.running_message()
            }
            Event::RunFinished(_) | Event::RunAborted(_) => {
                self.now.finish_and_clear();
                return;
            }
            _ => return,
        };
        self.now.set_message(message);
    }

    fn workers_message(&self) -> String {
        format!(
            "starting workers: {} started, {} ready",
            self.workers_started, self.workers_ready
        )
    }

    fn find(&mut self, round: u32, step: &str) -> Option<&mut Running> {
        self.running
            .iter_mut()
            .find(|s| s.round == round && s.step == step)
    }

    /// One running step by its title; several (a group) by name, with the round.
    fn running_message(&self) -> String {
        match self.running.as_slice() {
            [] => String::new(),
            [one] => match &one.attempt {
                Some(attempt) => format!("{} · {attempt}", one.title),
                None => one.title.clone(),
            },
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|s| match &s.attempt {
                        Some(attempt) => format!("{} ({attempt})", s.step),
                        None => s.step.clone(),
                    })
                    .collect();
                format!(
                    "round {}/{} · {} steps at once: {}",
                    many[0].round,
                    many[0].max_rounds,
                    many.len(),
                    names.join(", ")
                )
            }
        }
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

    /// A spinner that draws nowhere.
    fn hidden() -> Live {
        Live {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            now: ProgressBar::hidden(),
            workers_started: 0,
            workers_ready: 0,
            running: Vec::new(),
        }
    }

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
        let mut live = hidden();
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

    fn started(step: &str) -> Event {
        Event::StepStarted {
            round: 2,
            max_rounds: 3,
            step: step.into(),
            stage: step.into(),
            worker: "w".into(),
            description: String::new(),
        }
    }

    #[test]
    fn a_group_shows_every_running_step_until_one_is_left() {
        let mut live = hidden();
        for step in ["a", "b", "c"] {
            live.event(&started(step));
        }
        live.event(&Event::StepRetry {
            round: 2,
            step: "b".into(),
            worker: "w".into(),
            attempt: 1,
            attempts: 2,
            why: "not yet".into(),
            next_in: Duration::from_secs(1),
        });
        assert_eq!(
            live.now.message(),
            "round 2/3 · 3 steps at once: a, b (attempt 2/2), c"
        );
        let finished = |step: &str| {
            Event::StepFinished(crate::results::StepResult {
                round: 2,
                step: step.into(),
                worker: "w".into(),
                stage: step.into(),
                outcome: crate::results::Outcome::Passed(serde_json::Value::Null),
                attempts: 1,
                duration: Duration::ZERO,
                log: Vec::new(),
                http: Default::default(),
            })
        };
        live.event(&finished("a"));
        live.event(&finished("c"));
        assert_eq!(live.now.message(), "round 2/3 · b (b on w) · attempt 2/2");
    }

    #[test]
    fn while_workers_start_the_spinner_counts_started_and_ready() {
        let mut live = hidden();
        for (name, pid) in [("w1", 10), ("w2", 11)] {
            live.event(&Event::WorkerStarted {
                name: name.into(),
                port: 5000,
                pid,
            });
        }
        live.event(&Event::WorkerReady {
            name: "w2".into(),
            after: Duration::from_millis(80),
        });
        assert_eq!(live.now.message(), "starting workers: 2 started, 1 ready");
    }
}
