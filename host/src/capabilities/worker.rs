//! `promwasm:step/worker`: what a step may know about the workers.

use std::sync::Arc;

use super::StepCtx;
use crate::bindings::worker::{Host, WorkerInfo};
use crate::plan::WorkerPlan;

/// The workers, and which one the step runs as.
pub struct WorkerCtx {
    /// All workers, in workers.json order.
    pub workers: Arc<[Arc<WorkerPlan>]>,
    /// Index of the executing worker.
    pub me: usize,
}

impl WorkerCtx {
    /// The executing worker (none when only listing stages).
    pub fn current(&self) -> Option<&WorkerPlan> {
        self.workers.get(self.me).map(|w| w.as_ref())
    }
}

fn info(w: &WorkerPlan) -> WorkerInfo {
    WorkerInfo {
        name: w.name.clone(),
        url: w.url.clone(),
        port: w.port,
        public_keys: w
            .keys
            .iter()
            .map(|(role, key)| (role.clone(), key.public_key_base58()))
            .collect(),
        fields: serde_json::Value::Object(w.fields.clone()).to_string(),
    }
}

impl Host for StepCtx {
    fn current(&mut self) -> wasmtime::Result<WorkerInfo> {
        self.worker
            .current()
            .map(info)
            .ok_or_else(|| wasmtime::Error::msg("there is no current worker while listing stages"))
    }

    fn get(&mut self, name: String) -> wasmtime::Result<Option<WorkerInfo>> {
        Ok(self
            .worker
            .workers
            .iter()
            .find(|w| w.name == name)
            .map(|w| info(w)))
    }

    fn names(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.worker.workers.iter().map(|w| w.name.clone()).collect())
    }

    fn get_env(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        // Only what workers.json maps to this worker; never the host environment.
        Ok(self
            .worker
            .current()
            .and_then(|w| w.env.get(&name).cloned()))
    }
}
