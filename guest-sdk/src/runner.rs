//! The runner store (state shared between steps and rounds) and config.yaml.
//!
//! Keys use dot notation: `submission.worker1` is the `worker1` field of the
//! `submission` object.
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! # fn demo() -> Result<()> {
//! let task_id: String = runner::config("task_id")?.context("config has no task_id")?;
//! let round = runner::current_round();
//! runner::set("seen", &json!({ "task": task_id, "round": round }))?;
//! let seen: Option<Value> = runner::get("seen.task")?;
//! # Ok(()) }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::promwasm::step::runner as imp;
use crate::json::{from_json, to_json};
use crate::{Error, Result};

/// Look `key` up: the current round first, then the global scope. `None`
/// when it is absent (or `null`); an error when it does not fit `T`.
pub fn get<T: DeserializeOwned>(key: impl AsRef<str>) -> Result<Option<T>> {
    let key = key.as_ref();
    imp::get(key)
        .map(|text| from_json::<Option<T>>(&text, &format!("store key `{key}`")))
        .transpose()
        .map(Option::flatten)
}

/// Store `value` under `key` for the current round (`rounds.<n>.<key>`).
pub fn set<T: Serialize + ?Sized>(key: impl AsRef<str>, value: &T) -> Result<()> {
    set_in(key.as_ref(), value, imp::Scope::Round)
}

/// Store `value` under `key` for every round (`global.<key>`).
pub fn set_global<T: Serialize + ?Sized>(key: impl AsRef<str>, value: &T) -> Result<()> {
    set_in(key.as_ref(), value, imp::Scope::Global)
}

fn set_in<T: Serialize + ?Sized>(key: &str, value: &T, scope: imp::Scope) -> Result<()> {
    let what = format!("store key `{key}`");
    imp::set(key, &to_json(value, &what)?, scope).map_err(|e| Error::msg(format!("{what}: {e}")))
}

/// The round being run, starting at 1.
pub fn current_round() -> u32 {
    imp::current_round()
}

/// A value from config.yaml (including keys promwasm does not know, such as
/// `task_id`). `None` when absent; an error when it does not fit `T`.
pub fn config<T: DeserializeOwned>(key: impl AsRef<str>) -> Result<Option<T>> {
    let key = key.as_ref();
    imp::config(key)
        .map(|text| from_json::<Option<T>>(&text, &format!("config key `{key}`")))
        .transpose()
        .map(Option::flatten)
}

/// A unique id for this run; the same when a run is resumed.
pub fn run_id() -> String {
    imp::run_id()
}
