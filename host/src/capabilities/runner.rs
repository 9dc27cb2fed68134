//! `promwasm:step/runner`: the runner store.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::StepCtx;
use crate::bindings::runner::{Host, Scope};
use crate::state::{self, State};

/// The store as one step sees it.
pub struct RunnerCtx {
    /// Shared with the runner, which persists it after the step.
    pub state: Arc<Mutex<State>>,
    /// config.yaml's values.
    pub config: Arc<Map<String, Value>>,
    /// This run's id.
    pub run_id: String,
    /// The round being run.
    pub round: u32,
}

impl Host for StepCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let state = lock(&self.runner.state)?;
        Ok(state.get(&key).map(|v| v.to_string()))
    }

    fn set(
        &mut self,
        key: String,
        value: String,
        scope: Scope,
    ) -> wasmtime::Result<Result<(), String>> {
        let value: Value = match serde_json::from_str(&value) {
            Ok(v) => v,
            Err(e) => return Ok(Err(format!("value for `{key}` is not JSON: {e}"))),
        };
        let scope = match scope {
            Scope::Round => state::Scope::Round,
            Scope::Global => state::Scope::Global,
        };
        let mut state = lock(&self.runner.state)?;
        Ok(state.set(&key, value, scope).map_err(|e| e.to_string()))
    }

    fn current_round(&mut self) -> wasmtime::Result<u32> {
        Ok(self.runner.round)
    }

    fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let mut parts = key.split('.');
        let mut value = parts.next().and_then(|k| self.runner.config.get(k));
        for part in parts {
            value = value.and_then(|v| v.get(part));
        }
        Ok(value.filter(|v| !v.is_null()).map(Value::to_string))
    }

    fn run_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.runner.run_id.clone())
    }
}

fn lock(state: &Mutex<State>) -> wasmtime::Result<std::sync::MutexGuard<'_, State>> {
    state
        .lock()
        .map_err(|_| wasmtime::Error::msg("runner store is poisoned"))
}
