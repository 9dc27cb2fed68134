//! The worker's local state: one JSON file at `DATABASE_PATH`.
//!
//! A real Orca worker keeps its submissions in a local database so it can hand
//! them over when the task node asks in a later phase of the round. A JSON file
//! is enough for that, and tests can read it (or `GET /state`) directly.
//!
//! Writes go to a temporary file in the same directory that is then renamed
//! over the real one, so a worker killed mid-write (test runners do that)
//! leaves either the old or the new state, never a truncated file. A missing
//! file is simply a fresh worker.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything the worker remembers between requests (and restarts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// This worker's result for each round it worked, keyed by round number.
    #[serde(default)]
    pub rounds: BTreeMap<u64, Value>,
    /// Every audit this worker performed, oldest first.
    #[serde(default)]
    pub audits: Vec<AuditRecord>,
}

/// One audit verdict, kept so tests can see what a worker decided and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub round_number: u64,
    /// Staking key of the auditor who asked for the audit.
    pub auditor: String,
    /// Key the audited submission was (claimed to be) signed with.
    pub submitter_key: String,
    pub valid: bool,
    pub reason: String,
}

/// The state file plus an in-memory copy guarded by a lock.
///
/// Operations are synchronous (small file, plain `std::fs`); async callers
/// run them on the blocking pool. The lock serialises writers, so one temp
/// file name per process is enough.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    state: Mutex<State>,
}

impl Store {
    /// Loads the state at `path`; a missing file is an empty state.
    ///
    /// An unreadable or corrupt file is an error rather than an empty state:
    /// silently forgetting submissions would make a test fail far from the cause.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let state = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("state file {} is not valid JSON", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read state file {}", path.display()))
            }
        };
        Ok(Store {
            path,
            state: Mutex::new(state),
        })
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// The stored result for `round`, if this worker did that round.
    pub fn round(&self, round: u64) -> Option<Value> {
        self.lock().rounds.get(&round).cloned()
    }

    /// Stores (or replaces) this worker's result for `round`.
    pub fn put_round(&self, round: u64, result: Value) -> Result<()> {
        self.update(|s| {
            s.rounds.insert(round, result);
        })
    }

    /// Appends an audit verdict.
    pub fn push_audit(&self, record: AuditRecord) -> Result<()> {
        self.update(|s| s.audits.push(record))
    }

    /// Applies `change` to a copy, persists it, and only then makes it
    /// current, so memory never claims something the file does not have.
    fn update(&self, change: impl FnOnce(&mut State)) -> Result<()> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        change(&mut next);
        write_atomically(&self.path, &next)?;
        *guard = next;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated
        // (see `update`), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes `state` to `path` via temp file + fsync + rename.
fn write_atomically(path: &Path, state: &State) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = path
        .file_name()
        .with_context(|| format!("DATABASE_PATH {} has no file name", path.display()))?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);

    let bytes = serde_json::to_vec_pretty(state).context("cannot serialise state")?;
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("cannot write state file {}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir()
                .join(format!("orca-store-{tag}-{}-{nanos}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn missing_file_is_empty_state() {
        let dir = TempDir::new("missing");
        let store = Store::open(dir.0.join("nope.json")).unwrap();
        assert_eq!(store.snapshot(), State::default());
        assert_eq!(store.round(1), None);
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = TempDir::new("roundtrip");
        // Parent directories are created on first write.
        let path = dir.0.join("nested/deeper/state.json");
        let store = Store::open(&path).unwrap();
        store.put_round(2, json!({"digest": "ab"})).unwrap();
        store
            .push_audit(AuditRecord {
                round_number: 2,
                auditor: "A".into(),
                submitter_key: "S".into(),
                valid: false,
                reason: "digest mismatch".into(),
            })
            .unwrap();

        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.snapshot(), store.snapshot());
        assert_eq!(reopened.round(2), Some(json!({"digest": "ab"})));
        assert_eq!(reopened.snapshot().audits.len(), 1);

        // No temp files left behind.
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("state.json")]);

        // Round keys are plain JSON object keys in the file.
        let on_disk: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk["rounds"]["2"]["digest"], "ab");
        assert_eq!(on_disk["audits"][0]["submitterKey"], "S");
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = TempDir::new("corrupt");
        let path = dir.0.join("state.json");
        fs::write(&path, b"{not json").unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(format!("{err:#}").contains("not valid JSON"), "{err:#}");
    }
}
