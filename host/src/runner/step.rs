//! Running one step: a fresh instance of its component, `prepare` then
//! `execute`, under the step's time and memory limits. Whatever the guest
//! does — trap, spin, exhaust memory, return garbage — ends as an
//! [`Outcome::Failed`] with the guest's own words (or [`Outcome::TimedOut`]);
//! the Store is discarded.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;

use crate::bindings::types;
use crate::capabilities::{StepCtx, StepState};
use crate::engine::limits::{LimitExceeded, StepLimiter};
use crate::engine::LoadedComponent;
use crate::plan::Limits;
use crate::results::Outcome;

/// What running a step produced.
pub struct StepRun {
    /// How it ended.
    pub outcome: Outcome,
    /// Guest stdout/stderr lines.
    pub output: Vec<String>,
    /// Wall-clock time.
    pub duration: Duration,
}

/// A new Store for one instance, with the step's limits.
pub fn new_store(engine: &wasmtime::Engine, ctx: StepCtx, limits: &Limits) -> Store<StepState> {
    let limiter = StepLimiter::new(limits.memory_bytes);
    let mut store = Store::new(engine, StepState::new(ctx, limiter));
    store.limiter(|s| &mut s.limits);
    // Yield to the executor every tick: a spinning guest stays cancellable
    // (timeout, Ctrl-C) instead of holding its thread until it returns.
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    store
}

/// Run `stage` of `component` with `args`.
pub async fn run(
    engine: &wasmtime::Engine,
    component: &LoadedComponent,
    ctx: StepCtx,
    limits: &Limits,
    stage: &str,
    args: &str,
) -> StepRun {
    let started = Instant::now();
    let mut store = new_store(engine, ctx, limits);
    let call = prepare_and_execute(&mut store, component, stage, args);
    // The epoch deadline stops a spinning guest; this stops one blocked in a host call.
    let outcome =
        match tokio::time::timeout(limits.timeout + Duration::from_millis(500), call).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => Outcome::Failed(describe_trap(&e)),
            Err(_) => Outcome::TimedOut(format!(
                "timed out after {:?} (raise `timeout`)",
                limits.timeout
            )),
        };
    // A host call cut short by the deadline makes the guest fail just after
    // it: that is the deadline's doing too.
    let outcome = match outcome {
        Outcome::Failed(msg) if started.elapsed() >= limits.timeout => Outcome::TimedOut(format!(
            "timed out after {:?} (raise `timeout`): {msg}",
            limits.timeout
        )),
        other => other,
    };
    let (stdout, stderr) = store.data().captured_output();
    let mut output: Vec<String> = stdout.lines().map(|l| format!("stdout {l}")).collect();
    output.extend(stderr.lines().map(|l| format!("stderr {l}")));
    let outcome = match outcome {
        // The guest's panic message is on its stderr: put it in the failure.
        Outcome::Failed(msg) if !stderr.trim().is_empty() && msg.starts_with("guest trapped") => {
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Outcome::Failed(format!("{msg}; guest stderr: {}", tail.join(" | ")))
        }
        other => other,
    };
    // The guest chose these words; they must not move the cursor or forge lines.
    let outcome = match outcome {
        Outcome::Failed(msg) => Outcome::Failed(clean_multiline(&msg)),
        Outcome::TimedOut(msg) => Outcome::TimedOut(clean_multiline(&msg)),
        Outcome::Skipped(msg) => Outcome::Skipped(clean_multiline(&msg)),
        other => other,
    };
    StepRun {
        outcome,
        output,
        duration: started.elapsed(),
    }
}

async fn prepare_and_execute(
    store: &mut Store<StepState>,
    component: &LoadedComponent,
    stage: &str,
    args: &str,
) -> wasmtime::Result<Outcome> {
    let (stage, args) = (stage.to_string(), args.to_string());
    let instance = component.pre.instantiate_async(&mut *store).await?;
    let data = match instance.call_prepare(&mut *store, &stage, &args).await? {
        Ok(data) => data,
        Err(e) => return Ok(Outcome::Failed(format!("prepare: {e}"))),
    };
    if let Err(e) = serde_json::from_str::<Value>(&data) {
        return Ok(Outcome::Failed(format!(
            "prepare returned malformed JSON ({e}): {}",
            clip(&data)
        )));
    }
    Ok(
        match instance
            .call_execute(&mut *store, &stage, &args, &data)
            .await?
        {
            Err(e) => Outcome::Failed(format!("execute: {e}")),
            Ok(types::Outcome::Skip(reason)) => Outcome::Skipped(reason),
            Ok(types::Outcome::Success(json)) => match serde_json::from_str(&json) {
                Ok(value) => Outcome::Passed(value),
                Err(e) => Outcome::Failed(format!(
                    "execute returned malformed JSON ({e}): {}",
                    clip(&json)
                )),
            },
        },
    )
}

/// A guest's message, each line cleaned of control characters, on one line.
fn clean_multiline(msg: &str) -> String {
    msg.lines()
        .map(crate::capabilities::log::clean)
        .collect::<Vec<_>>()
        .join(" | ")
}

fn describe_trap(e: &wasmtime::Error) -> String {
    if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
        return format!("guest trapped: {limit}");
    }
    // Say what happened ("call stack exhausted"), not only that it trapped.
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return format!("guest trapped: {trap}");
    }
    let text = format!("{e:#}");
    format!("guest trapped: {}", text.lines().next().unwrap_or(&text))
}

fn clip(s: &str) -> String {
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s.to_string()
    }
}

/// Ask a component for its stages (to check step names before running),
/// outside any step: no worker, no network, a deadline.
pub async fn stages(
    engine: &wasmtime::Engine,
    component: &LoadedComponent,
    timeout: Duration,
) -> Result<Vec<types::StageInfo>, String> {
    let limits = Limits::default();
    let mut store = new_store(engine, StepCtx::probe(), &limits);
    let call = async {
        let instance = component.pre.instantiate_async(&mut store).await?;
        instance.call_stages(&mut store).await
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(stages)) => Ok(stages),
        Ok(Err(e)) => Err(describe_trap(&e)),
        Err(_) => Err(format!("stages() did not return within {timeout:?}")),
    }
}
