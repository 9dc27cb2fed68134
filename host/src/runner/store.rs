//! The runner store shared by the steps of a run, and its file: every change
//! that marks progress goes through [`StateStore::update`], which writes the
//! file atomically before it returns.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::state::{State, StateError};

/// The state of a run, shared with the steps' `runner` capability, and where it is saved.
#[derive(Debug, Clone)]
pub struct StateStore {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

impl StateStore {
    /// `state`, saved at `path` from now on.
    pub fn new(state: State, path: &Path) -> Self {
        StateStore {
            state: Arc::new(Mutex::new(state)),
            path: path.to_path_buf(),
        }
    }

    /// The shared state, for a step's `runner` capability.
    pub fn shared(&self) -> Arc<Mutex<State>> {
        self.state.clone()
    }

    /// Read something from the state.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Change the state and persist it atomically.
    pub fn update(&self, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut state = self.lock();
        change(&mut state);
        state.save(&self.path)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain data; a panic elsewhere while holding the lock
        // cannot leave it half-written in a way the next save would not show.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
