//! The workers of this task test: who the step runs as, and the others.
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! # fn demo() -> Result<()> {
//! let me = worker::current();
//! let staking_key = me.staking_key()?;
//! let other = worker::get("worker1")?;
//! let url = other.endpoint("submission"); // "http://localhost:5000/submission"
//! let token = worker::env("API_TOKEN");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::promwasm::step::worker as imp;
use crate::{Context, Result};

/// What a step may know about a worker (never its private keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    /// The worker's name in workers.json, e.g. `worker1`.
    pub name: String,
    /// Base URL, e.g. `http://localhost:5000`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    /// Base58 public keys by role (`main`, `staking`).
    pub public_keys: BTreeMap<String, String>,
    /// Every field of its workers.json entry (without `env_vars` and `keypairs`).
    pub fields: Value,
}

impl From<imp::WorkerInfo> for Worker {
    fn from(info: imp::WorkerInfo) -> Self {
        Worker {
            name: info.name,
            url: info.url,
            port: info.port,
            public_keys: info.public_keys.into_iter().collect(),
            fields: serde_json::from_str(&info.fields).unwrap_or(Value::Null),
        }
    }
}

impl Worker {
    /// The base58 public key for `role`; an error naming the worker and role
    /// when it has none.
    pub fn public_key(&self, role: impl AsRef<str>) -> Result<&str> {
        let role = role.as_ref();
        self.public_keys
            .get(role)
            .map(String::as_str)
            .with_context(|| format!("worker `{}` has no `{role}` public key", self.name))
    }

    /// The `staking` public key.
    pub fn staking_key(&self) -> Result<&str> {
        self.public_key("staking")
    }

    /// The `main` public key.
    pub fn main_key(&self) -> Result<&str> {
        self.public_key("main")
    }

    /// A field of its workers.json entry; `None` when absent or `null`.
    pub fn field<T: DeserializeOwned>(&self, name: impl AsRef<str>) -> Result<Option<T>> {
        let name = name.as_ref();
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .with_context(|| format!("worker `{}`: field `{name}`", self.name)),
        }
    }

    /// `path` under the worker's URL: `endpoint("task")` is `<url>/task`.
    pub fn endpoint(&self, path: impl AsRef<str>) -> String {
        let path = path.as_ref().trim_start_matches('/');
        format!("{}/{path}", self.url.trim_end_matches('/'))
    }
}

/// The worker this step runs as.
pub fn current() -> Worker {
    imp::current().into()
}

/// Another worker by name; an error listing the known names when unknown.
pub fn get(name: impl AsRef<str>) -> Result<Worker> {
    let name = name.as_ref();
    imp::get(name)
        .map(Worker::from)
        .with_context(|| format!("unknown worker `{name}` (workers: {})", names().join(", ")))
}

/// The names of all workers, in workers.json order.
pub fn names() -> Vec<String> {
    imp::names()
}

/// An env var mapped to the current worker in workers.json `env_vars`.
pub fn env(name: impl AsRef<str>) -> Option<String> {
    imp::get_env(name.as_ref())
}
