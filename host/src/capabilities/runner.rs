//! `promwasm:step/runner`: the runner store. Every key and value is bounded
//! before any work is done, so a hostile step cannot build a structure the
//! state file cannot hold (or the host's stack cannot walk).

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::StepCtx;
use crate::bindings::runner::{Host, Scope};
use crate::state::{self, State};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Most dot-separated parts in a key.
pub const MAX_KEY_PARTS: usize = 16;
/// Largest value one `set` may store, in bytes of JSON.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Deepest nesting of arrays and objects in a value.
pub const MAX_VALUE_DEPTH: usize = 32;

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

/// Why a key cannot be used, if it cannot.
fn check_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "key of {} bytes is longer than the limit of {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if key.split('.').count() > MAX_KEY_PARTS {
        return Err(format!(
            "key `{key}` has more than {MAX_KEY_PARTS} dot-separated parts"
        ));
    }
    Ok(())
}

/// Parse a value, refusing one too large or too deep before building it.
fn parse_value(key: &str, value: &str) -> Result<Value, String> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "value for `{key}` is {} bytes, over the limit of {MAX_VALUE_BYTES}",
            value.len()
        ));
    }
    if nesting(value) > MAX_VALUE_DEPTH {
        return Err(format!(
            "value for `{key}` nests deeper than {MAX_VALUE_DEPTH} levels"
        ));
    }
    serde_json::from_str(value).map_err(|e| format!("value for `{key}` is not JSON: {e}"))
}

/// The deepest bracket nesting of JSON text, counted without parsing
/// (brackets inside strings are skipped), so depth is known before any
/// recursion happens.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

impl Host for StepCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        // No key over the limits was ever stored.
        if check_key(&key).is_err() {
            return Ok(None);
        }
        let state = lock(&self.runner.state)?;
        Ok(state.get(&key).map(|v| v.to_string()))
    }

    fn set(
        &mut self,
        key: String,
        value: String,
        scope: Scope,
    ) -> wasmtime::Result<Result<(), String>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        let value = match parse_value(&key, &value) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
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
        if check_key(&key).is_err() {
            return Ok(None);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_in_bytes_and_parts() {
        assert!(check_key("a.b.c").is_ok());
        let parts = vec!["k"; MAX_KEY_PARTS + 1].join(".");
        assert!(check_key(&parts).unwrap_err().contains("more than 16"));
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(check_key(&long).unwrap_err().contains("limit of 256"));
    }

    #[test]
    fn values_are_bounded_before_parsing() {
        assert_eq!(
            parse_value("k", r#"{"a": [1, {"b": "]]]]"}]}"#).unwrap()["a"][1]["b"],
            "]]]]"
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_value("k", &deep)
            .unwrap_err()
            .contains("deeper than 32"));
        let big = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES));
        assert!(parse_value("k", &big)
            .unwrap_err()
            .contains("over the limit"));
        assert!(parse_value("k", "{nope").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn nesting_skips_brackets_in_strings() {
        assert_eq!(nesting(r#"["[[[", {"\"{": 1}]"#), 2);
        assert_eq!(nesting("1"), 0);
    }
}
