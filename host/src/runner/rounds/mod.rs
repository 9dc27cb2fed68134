//! The round loop: from the resume point, each round's steps in order, the
//! steps of a `group` at once. A step is skipped (`skip_if`) or tried
//! (`retry`), its result recorded and the state saved; a failed (or
//! timed-out) step ends the run once its group is done, the steps it leaves
//! are recorded as not run, and the next run resumes at it (in a group, at
//! the group's unfinished steps). Ctrl-C ends the running steps as
//! interrupted. How one try runs is the caller's
//! ([`Attempts`]), so this loop is tested without processes or components.

use std::cell::Cell;
use std::ops::Range;
use std::time::Duration;

use futures::future::join_all;

// tokio's clock, so tests with paused time see the durations they waited.
use tokio::time::Instant;

use crate::capabilities::http::{HttpMeter, RunSamples};
use crate::capabilities::log::{LogCtx, RunLog};
use crate::events::{Event, Events};
use crate::plan::{batches, StepPlan};
use crate::results::{Outcome, RunFailure, RunResult, StepResult};
use crate::state::{State, StateError};

use super::interrupt::Interrupt;
use super::store::StateStore;

/// Running one try of a step, and watching what steps depend on.
pub trait Attempts {
    /// One try of `step` in `round`; its log goes to `log`, its HTTP calls
    /// are counted by `http`.
    async fn attempt(&self, step: &StepPlan, round: u32, log: &LogCtx, http: &HttpMeter)
        -> Outcome;

    /// Fails when a process the run depends on (a worker, the managed
    /// database server) has died; asked before every step.
    fn check_run(&mut self) -> Result<(), RunFailure>;
}

/// The steps of every round, and where their progress is kept.
pub struct RoundLoop<'a> {
    /// Steps in run order.
    pub steps: &'a [StepPlan],
    /// Worker names by index (a step names its worker by index).
    pub workers: &'a [String],
    /// Rounds in all.
    pub max_rounds: u32,
    /// The state, saved after every step.
    pub store: &'a StateStore,
    /// Where progress is reported.
    pub events: &'a Events,
    /// Log kept by the run's steps so far (bounded per run).
    pub run_log: &'a RunLog,
    /// HTTP latencies kept by the run's steps so far (bounded per run).
    pub http_samples: &'a RunSamples,
    /// Set by Ctrl-C or SIGTERM.
    pub interrupt: &'a Interrupt,
}

impl RoundLoop<'_> {
    /// Run every round from the resume point, adding each step's result to
    /// `result`. Returns early when a step fails (its result says so) or with
    /// the run-level failure that stopped it; either way the steps left are
    /// added as not run.
    pub async fn run(
        &self,
        attempts: &mut impl Attempts,
        result: &mut RunResult,
    ) -> Result<(), RunFailure> {
        let batches = batches(self.steps);
        loop {
            let (round, from, done) = self.resume_point(&batches)?;
            if round > self.max_rounds {
                return Ok(());
            }
            for batch in batches.iter().filter(|b| b.start >= from) {
                // Only the group the run resumes in has steps done already.
                let done: &[String] = if batch.start == from { &done } else { &[] };
                if self.interrupt.is_set() {
                    let why = "the run was interrupted before it";
                    self.not_run(result, round, batch.start, done, why);
                    return Err(RunFailure::Interrupted);
                }
                if let Err(death) = attempts.check_run() {
                    self.not_run(result, round, batch.start, done, died_before(&death));
                    return Err(death);
                }
                let finished = self.batch(&*attempts, batch.clone(), done, round).await;
                let mut saved = Ok(());
                let (mut failed, mut interrupted) = (None, false);
                for (r, save) in finished {
                    saved = saved.and(save);
                    if r.outcome == Outcome::Interrupted {
                        interrupted = true;
                    } else if r.outcome.is_failure() && failed.is_none() {
                        failed = Some(r.step.clone());
                    }
                    result.steps.push(r);
                }
                saved.map_err(machine)?;
                if interrupted {
                    self.not_run(result, round, batch.end, &[], "the run was interrupted");
                    return Err(RunFailure::Interrupted);
                }
                if let Some(step) = failed {
                    // A step that failed because a worker or the database went
                    // away: the run failed, not only the step.
                    if let Err(death) = attempts.check_run() {
                        self.not_run(result, round, batch.end, &[], died_before(&death));
                        return Err(death);
                    }
                    let why = format!("round {round}, step `{step}` did not pass");
                    self.not_run(result, round, batch.end, &[], &why);
                    return Ok(());
                }
            }
            self.events.emit(Event::RoundFinished { round });
            if round >= self.max_rounds {
                return Ok(());
            }
            self.store.update(State::next_round).map_err(machine)?;
        }
    }

    /// The round to run, the index of the first batch to run in it, and
    /// the steps of that batch already done. A resume point inside a group
    /// (`--from-step` naming one of its later steps) becomes the group's
    /// start, with the steps before it counted as done.
    fn resume_point(
        &self,
        batches: &[Range<usize>],
    ) -> Result<(u32, usize, Vec<String>), RunFailure> {
        let (round, last, mut done) = self.store.read(|s| {
            (
                s.current_round,
                s.last_completed_step.clone(),
                s.promwasm.group_done.clone(),
            )
        });
        let from = resume_index(self.steps, last.as_deref());
        let Some(batch) = batches.iter().find(|b| b.contains(&from) && b.start < from) else {
            return Ok((round, from, done));
        };
        for step in &self.steps[batch.start..from] {
            if !done.contains(&step.name) {
                done.push(step.name.clone());
            }
        }
        let before = batch
            .start
            .checked_sub(1)
            .map(|i| self.steps[i].name.clone());
        self.store
            .update(|s| {
                s.last_completed_step = before;
                s.promwasm.group_done = done.clone();
            })
            .map_err(machine)?;
        Ok((round, batch.start, done))
    }

    /// Run the steps of `batch` not yet `done`, at once when they are a
    /// group, each one's progress saved as it finishes. Their results in
    /// step order, each with how saving it went.
    async fn batch(
        &self,
        attempts: &impl Attempts,
        batch: Range<usize>,
        done: &[String],
        round: u32,
    ) -> Vec<(StepResult, Result<(), StateError>)> {
        let all = &self.steps[batch];
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        let members: Vec<&StepPlan> = all.iter().filter(|s| !done.contains(&s.name)).collect();
        if let Some(group) = &all[0].group {
            self.events.emit(Event::GroupStarted {
                round,
                max_rounds: self.max_rounds,
                group: group.clone(),
                steps: members.iter().map(|s| s.name.clone()).collect(),
            });
        }
        // One task, so the steps share the runner's borrowed parts; they
        // take turns at every host call and epoch tick (`step::new_store`),
        // and wait on workers and the database together.
        join_all(members.iter().map(|step| {
            let names = &names;
            async move {
                let r = self.step(attempts, step, round).await;
                // Saved either way: what the step wrote to the store is kept;
                // only a step that did its work moves the resume point.
                let worked = !r.outcome.is_failure() && r.outcome != Outcome::Interrupted;
                let saved = self.store.update(|s| {
                    if worked {
                        s.step_done(&step.name, names);
                    }
                });
                (r, saved)
            }
        }))
        .await
    }

    /// Record every step from `steps[index]` in `round` to the last round's
    /// last as not run, because of `why`, but those in `done` (finished in
    /// `round` by an earlier run). They are in the reports, not in the event
    /// stream: nothing happened to them.
    fn not_run(
        &self,
        result: &mut RunResult,
        round: u32,
        index: usize,
        done: &[String],
        why: &str,
    ) {
        let rest = self
            .steps
            .iter()
            .skip(index)
            .filter(|s| !done.contains(&s.name))
            .map(|s| (round, s));
        let later =
            (round + 1..=self.max_rounds).flat_map(|r| self.steps.iter().map(move |s| (r, s)));
        for (round, step) in rest.chain(later) {
            result.steps.push(StepResult {
                round,
                step: step.name.clone(),
                worker: self.worker_name(step).to_string(),
                stage: step.stage.clone(),
                outcome: Outcome::NotRun(why.to_string()),
                attempts: 0,
                duration: Duration::ZERO,
                log: Vec::new(),
                http: Default::default(),
            });
        }
    }

    fn worker_name(&self, step: &StepPlan) -> &str {
        self.workers.get(step.worker).map_or("?", String::as_str)
    }

    /// Run one step in `round` (0: the post-load hook): skip it, or try it
    /// as often as its `retry` says. Emits its start and its result.
    pub async fn step(&self, attempts: &impl Attempts, step: &StepPlan, round: u32) -> StepResult {
        let worker = self.worker_name(step);
        self.events.emit(Event::StepStarted {
            round,
            max_rounds: self.max_rounds,
            step: step.name.clone(),
            stage: step.stage.clone(),
            worker: worker.to_string(),
            description: step.description.clone(),
        });
        let skip = self.store.read(|state| {
            step.skip_if
                .reason(round, self.max_rounds, |key| state.get(key).is_some())
        });
        let log = LogCtx::new(self.events.clone(), self.run_log, round, &step.name, worker);
        let started = Instant::now();
        let tried = Cell::new(0);
        let http = HttpMeter::new(self.http_samples);
        let (outcome, tries) = match skip {
            Some(reason) => (Outcome::Skipped(reason), 0),
            None => tokio::select! {
                biased;
                done = self.tries(attempts, step, round, worker, (&log, &http), &tried) => done,
                _ = self.interrupt.wait() => (Outcome::Interrupted, tried.get()),
            },
        };
        let outcome = match outcome {
            Outcome::Failed(msg) => Outcome::Failed(locate(step, worker, round, &msg)),
            Outcome::TimedOut(msg) => Outcome::TimedOut(locate(step, worker, round, &msg)),
            other => other,
        };
        let r = StepResult {
            round,
            step: step.name.clone(),
            worker: worker.to_string(),
            stage: step.stage.clone(),
            outcome,
            attempts: tries,
            duration: if tries == 0 {
                Duration::ZERO
            } else {
                started.elapsed()
            },
            log: log.lines(),
            http: http.calls(),
        };
        self.events.emit(Event::StepFinished(r.clone()));
        r
    }

    /// Try until the step succeeds or its tries are used up; the last
    /// outcome and how many tries it took (also kept in `tried`, for when
    /// the tries are cut short).
    async fn tries(
        &self,
        attempts: &impl Attempts,
        step: &StepPlan,
        round: u32,
        worker: &str,
        (log, http): (&LogCtx, &HttpMeter),
        tried: &Cell<u32>,
    ) -> (Outcome, u32) {
        let retry = &step.retry;
        let mut attempt = 1;
        loop {
            tried.set(attempt);
            let outcome = attempts.attempt(step, round, log, http).await;
            let why = match &outcome {
                Outcome::Failed(why) | Outcome::TimedOut(why) => why.clone(),
                Outcome::Skipped(why) if retry.until_success => why.clone(),
                _ => return (outcome, attempt),
            };
            if attempt >= retry.attempts {
                return match outcome {
                    Outcome::Skipped(reason) => (
                        Outcome::Failed(format!(
                            "still skipping after {attempt} attempts (`until: success`): {reason}"
                        )),
                        attempt,
                    ),
                    other => (other, attempt),
                };
            }
            self.events.emit(Event::StepRetry {
                round,
                step: step.name.clone(),
                worker: worker.to_string(),
                attempt,
                attempts: retry.attempts,
                why,
                next_in: retry.interval,
            });
            tokio::time::sleep(retry.interval).await;
            attempt += 1;
        }
    }
}

/// Where in `steps` to start: after the last completed one. A name no longer
/// in the steps (the config changed) starts the round over.
fn resume_index(steps: &[StepPlan], last_completed: Option<&str>) -> usize {
    last_completed
        .and_then(|l| steps.iter().position(|s| s.name == l))
        .map_or(0, |i| i + 1)
}

/// Why the steps left by a run-level failure did not run.
fn died_before(death: &RunFailure) -> &'static str {
    match death {
        RunFailure::DatabaseDied(_) => "the database server died before it",
        _ => "a worker died before it",
    }
}

/// A failure message that names where it happened.
fn locate(step: &StepPlan, worker: &str, round: u32, msg: &str) -> String {
    if round == 0 {
        format!(
            "post-load hook (stage `{}`, worker `{worker}`): {msg}",
            step.stage
        )
    } else {
        format!(
            "round {round}, step `{}` (stage `{}`, worker `{worker}`): {msg}",
            step.name, step.stage
        )
    }
}

fn machine(e: StateError) -> RunFailure {
    RunFailure::Machine(e.to_string())
}

#[cfg(test)]
mod tests;
