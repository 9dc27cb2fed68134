//! The runner store and its persistence: `data_dir/test_state.json` in
//! prometheus-test's layout (`rounds`, `global`, `current_round`,
//! `last_completed_step`), written atomically so a kill at any instant leaves
//! either the old or the new state, never half of one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json_kind::json_kind;

/// Where a value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The current round only.
    Round,
    /// Every round.
    Global,
}

/// Errors reading, writing or changing the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but cannot be read or parsed.
    #[error(
        "cannot read state file {path}: {reason}\n\
         It was not changed. Choices:\n  \
         promwasm run CONFIG --reset    start over (re-seeds MongoDB, deletes the workers' databases)\n  \
         promwasm state show CONFIG     see what can be read of it\n  \
         or restore the file from a backup and run again to resume"
    )]
    Read {
        /// The state file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing failed.
    #[error("cannot write state file {path}: {source}")]
    Write {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `set` could not be applied.
    #[error("cannot set `{key}`: {reason}")]
    Set {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The run's state, as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Round-scoped values by round number (as a string key, like prometheus-test).
    pub rounds: Map<String, Value>,
    /// Global values; starts with the config values and `workers`.
    pub global: Map<String, Value>,
    /// The round being run (1-based).
    pub current_round: u32,
    /// The last step that finished in `current_round`; the resume point.
    pub last_completed_step: Option<String>,
    /// promwasm's own bookkeeping; prometheus-test ignores it.
    #[serde(default)]
    pub promwasm: Meta,
    /// How many bytes of JSON the store holds, counted on the first `set`.
    #[serde(skip)]
    stored: StoredBytes,
}

/// The most JSON the store (global and every round together) may hold: the
/// state file is read whole on every resume, so it must stay loadable.
pub const MAX_STORE_BYTES: usize = 64 << 20;

/// A running count kept by `set`; bookkeeping, not state, so two states
/// compare equal whatever it holds.
#[derive(Debug, Clone, Default)]
struct StoredBytes(Option<usize>);

impl PartialEq for StoredBytes {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The length of `value` as compact JSON, without building the text.
fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and a `Value` always serialises.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// promwasm's additions to the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Stays the same when a run resumes.
    pub run_id: String,
    /// Rounds settled at the start of the run (from config or MongoDB).
    pub max_rounds: Option<u32>,
    /// The steps of the group after `last_completed_step` that finished:
    /// a resumed run runs only the group's others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_done: Vec<String>,
}

impl State {
    /// A fresh state at round 1.
    pub fn fresh(run_id: String, global: Map<String, Value>) -> Self {
        State {
            rounds: Map::new(),
            global,
            current_round: 1,
            last_completed_step: None,
            promwasm: Meta {
                run_id,
                ..Meta::default()
            },
            stored: StoredBytes::default(),
        }
    }

    /// The state file of a data dir.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("test_state.json")
    }

    /// Load the state, or `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StateError::Read {
                    path: path.into(),
                    reason: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError::Read {
                path: path.into(),
                reason: e.to_string(),
            })
    }

    /// Write the state atomically: temp file, fsync, rename, fsync the folder.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let err = |source| StateError::Write {
            path: path.into(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| err(e.into()))?;
        let mut file = File::create(&tmp).map_err(err)?;
        file.write_all(&text).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(err)?;
        // Make the rename itself durable.
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(())
    }

    /// Look a key up like prometheus-test's `runner.get`: `current_round` and
    /// `last_completed_step` are the execution state; otherwise the current
    /// round first, then global; dot notation walks nested objects.
    pub fn get(&self, key: &str) -> Option<Value> {
        match key {
            "current_round" => return Some(Value::from(self.current_round)),
            "last_completed_step" => return Some(self.last_completed_step.clone().into()),
            _ => {}
        }
        let round = self.rounds.get(&self.current_round.to_string());
        let found = round
            .and_then(|r| walk(r, key))
            .or_else(|| walk_map(&self.global, key));
        found.filter(|v| !v.is_null()).cloned()
    }

    /// Store a value; dot notation creates nested objects.
    pub fn set(&mut self, key: &str, value: Value, scope: Scope) -> Result<(), StateError> {
        self.set_capped(key, value, scope, MAX_STORE_BYTES)
    }

    /// `set`, with the store's size limit given.
    fn set_capped(
        &mut self,
        key: &str,
        value: Value,
        scope: Scope,
        max_bytes: usize,
    ) -> Result<(), StateError> {
        let fail = |reason: String| StateError::Set {
            key: key.to_string(),
            reason,
        };
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(fail("keys are non-empty names separated by dots".into()));
        }
        let (rounds, global) = (&self.rounds, &self.global);
        let total = *self
            .stored
            .0
            .get_or_insert_with(|| json_len(rounds) + json_len(global));
        let replaced = match scope {
            Scope::Global => walk_map(&self.global, key),
            Scope::Round => self
                .rounds
                .get(&self.current_round.to_string())
                .and_then(|r| walk(r, key)),
        };
        let after = (total + key.len() + json_len(&value))
            .saturating_sub(replaced.map_or(0, |old| key.len() + json_len(old)));
        if after > max_bytes {
            return Err(fail(format!(
                "the store would hold {after} bytes, over the limit of {max_bytes} per run"
            )));
        }
        let target = match scope {
            Scope::Global => &mut self.global,
            Scope::Round => {
                let round = self
                    .rounds
                    .entry(self.current_round.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                match round {
                    Value::Object(m) => m,
                    _ => return Err(fail("the round's state is not an object".into())),
                }
            }
        };
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or(key);
        let mut current = target;
        for (i, part) in parts.iter().enumerate() {
            let next = current
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            current = match next {
                Value::Object(m) => m,
                other => {
                    return Err(fail(format!(
                        "`{}` holds {}, not an object",
                        parts[..=i].join("."),
                        json_kind(other)
                    )))
                }
            };
        }
        current.insert(last.to_string(), value);
        self.stored.0 = Some(after);
        Ok(())
    }

    /// Move to the next round (prometheus-test's `next_round`).
    pub fn next_round(&mut self) {
        self.current_round += 1;
        self.last_completed_step = None;
        self.promwasm.group_done.clear();
    }

    /// Record that `step` finished, one of `batch` (the steps run at once
    /// with it, in order): once every step of the batch has, the batch's
    /// last step becomes the resume point.
    pub fn step_done(&mut self, step: &str, batch: &[&str]) {
        let done = &mut self.promwasm.group_done;
        if !done.iter().any(|d| d == step) {
            done.push(step.to_string());
            // In step order, whichever finished first.
            done.sort_by_key(|d| batch.iter().position(|b| b == d));
        }
        if batch.iter().all(|b| done.iter().any(|d| d == b)) {
            self.last_completed_step = batch.last().map(|b| b.to_string());
            done.clear();
        }
    }
}

fn walk<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object(m) => walk_map(m, key),
        _ => None,
    }
}

fn walk_map<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    let mut parts = key.split('.');
    let mut value = map.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> State {
        let mut global = Map::new();
        global.insert("task_id".into(), json!("t1"));
        State::fresh("run".into(), global)
    }

    #[test]
    fn round_scope_shadows_global_and_dots_nest() {
        let mut s = state();
        s.set("a.b", json!(1), Scope::Global).unwrap();
        s.set("a.b", json!(2), Scope::Round).unwrap();
        assert_eq!(s.get("a.b"), Some(json!(2)));
        assert_eq!(s.get("task_id"), Some(json!("t1")));
        s.next_round();
        assert_eq!(
            s.get("a.b"),
            Some(json!(1)),
            "round 2 sees only the global value"
        );
        assert_eq!(s.get("current_round"), Some(json!(2)));
        assert_eq!(s.get("missing.key"), None);
    }

    #[test]
    fn the_store_as_a_whole_is_capped_and_overwrites_do_not_count_twice() {
        const CAP: usize = 64 << 10;
        let mut s = state();
        let kib = json!("x".repeat(1024 - 2)); // 1 KiB of JSON with its quotes
        let set = |s: &mut State, key: &str, value: &Value, scope| {
            s.set_capped(key, value.clone(), scope, CAP)
        };
        // Rewriting one key forever stays far under the cap.
        for _ in 0..1000 {
            set(&mut s, "same", &kib, Scope::Global).unwrap();
        }
        // New keys add up, across rounds too, until the cap.
        let mut stored = 0;
        let err = loop {
            match set(&mut s, &format!("k{stored}"), &kib, Scope::Round) {
                Ok(()) => stored += 1,
                Err(e) => break e,
            }
            if stored % 10 == 0 {
                s.next_round();
            }
            assert!(stored < 100, "no cap");
        };
        assert_eq!(stored, 62, "64 KiB holds `same` and 62 more: {err}");
        assert!(err.to_string().contains("limit of 65536 per run"), "{err}");
        // Freeing room (a small value over a big one) lets sets through again.
        set(&mut s, "same", &json!(1), Scope::Global).unwrap();
        set(&mut s, "again", &kib, Scope::Round).unwrap();
        // The count follows what the state really holds (keys' punctuation aside).
        let real = json_len(&s.rounds) + json_len(&s.global);
        let counted = s.stored.0.unwrap();
        assert!(
            counted <= real && real - counted < 1024,
            "{counted} vs {real}"
        );
        // The real limit is the documented one.
        assert_eq!(MAX_STORE_BYTES, 64 << 20);
    }

    #[test]
    fn setting_through_a_non_object_is_an_error() {
        let mut s = state();
        s.set("a", json!(5), Scope::Global).unwrap();
        let err = s.set("a.b", json!(1), Scope::Global).unwrap_err();
        assert!(err.to_string().contains("`a` holds a number"), "{err}");
        assert!(s.set("a..b", json!(1), Scope::Global).is_err());
    }

    #[test]
    fn save_and_load_round_trip_in_prometheus_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = State::path_in(dir.path());
        assert_eq!(State::load(&path).unwrap(), None);
        let mut s = state();
        s.set("x", json!({"y": [1, 2]}), Scope::Round).unwrap();
        s.last_completed_step = Some("task".into());
        s.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let raw: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(raw["rounds"]["1"]["x"]["y"], json!([1, 2]));
        assert_eq!(raw["current_round"], json!(1));
        assert_eq!(raw["last_completed_step"], json!("task"));
        assert_eq!(State::load(&path).unwrap(), Some(s));
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_says_how_to_recover() {
        let dir = tempfile::tempdir().unwrap();
        let path = State::path_in(dir.path());
        std::fs::write(&path, "{ not json").unwrap();
        let err = State::load(&path).unwrap_err().to_string();
        assert!(err.contains("--reset"), "{err}");
    }
}
