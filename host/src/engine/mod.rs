//! The wasmtime engine: one per run, with a linker holding every host
//! interface, a disk cache of compiled components, and an epoch ticker that
//! enforces step timeouts even on a guest spinning in a loop.

mod cache;
mod check;

pub use cache::sha256_hex;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::Config;

use crate::bindings::StepPre;
use crate::capabilities::{self, StepState};

pub use check::{wit_version, ComponentInfo};

/// How often the epoch advances; timeouts are rounded up to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The module.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a valid component.
    #[error("{path} is not a WebAssembly component: {reason}")]
    Invalid {
        /// The module.
        path: PathBuf,
        /// wasmtime's reason.
        reason: String,
    },
    /// A component for another contract, or another version of ours.
    #[error(
        "{path} does not target promwasm:step@{}: {reason}",
        crate::bindings::WIT_VERSION
    )]
    Incompatible {
        /// The module.
        path: PathBuf,
        /// What is off.
        reason: String,
    },
}

/// A loaded component, ready to be instantiated many times.
#[derive(Clone)]
pub struct LoadedComponent {
    /// Pre-linked instance factory (saves the linking work per step).
    pub pre: StepPre<StepState>,
    /// What it imports and exports.
    pub info: Arc<ComponentInfo>,
}

/// The engine and its caches.
pub struct Engine {
    engine: wasmtime::Engine,
    linker: Linker<StepState>,
    cache_dir: Option<PathBuf>,
    loaded: Mutex<HashMap<PathBuf, LoadedComponent>>,
    ticking: Arc<AtomicBool>,
}

/// Builds an [`Engine`].
#[derive(Debug, Default)]
pub struct EngineBuilder {
    cache_dir: Option<PathBuf>,
}

impl EngineBuilder {
    /// Cache compiled components in this folder (none: compile every run).
    pub fn cache_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.cache_dir = dir;
        self
    }

    /// Create the engine and start its epoch ticker.
    pub fn build(&self) -> wasmtime::Result<Engine> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker)?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (e, t) = (engine.clone(), ticking.clone());
        std::thread::Builder::new()
            .name("promwasm-epoch".into())
            .spawn(move || {
                while t.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    e.increment_epoch();
                }
            })?;
        Ok(Engine {
            engine,
            linker,
            cache_dir: self.cache_dir.clone(),
            loaded: Mutex::default(),
            ticking,
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl Engine {
    /// Start configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Load (compile or fetch from cache), check and pre-link a component.
    /// Each path is loaded once per engine.
    pub fn load(&self, path: &Path) -> Result<LoadedComponent, LoadError> {
        if let Some(hit) = self.loaded.lock().ok().and_then(|m| m.get(path).cloned()) {
            return Ok(hit);
        }
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
        let component =
            cache::compile(&self.engine, &bytes, self.cache_dir.as_deref()).map_err(|e| {
                LoadError::Invalid {
                    path: path.into(),
                    reason: format!("{e:#}"),
                }
            })?;
        let info = check::inspect(&self.engine, &component, &bytes);
        check::compatible(&info).map_err(|reason| LoadError::Incompatible {
            path: path.into(),
            reason,
        })?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(StepPre::new)
            .map_err(|e| LoadError::Incompatible {
                path: path.into(),
                reason: format!("{e:#}"),
            })?;
        let loaded = LoadedComponent {
            pre,
            info: Arc::new(info),
        };
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(path.to_path_buf(), loaded.clone());
        }
        Ok(loaded)
    }

    /// Compile without checking the contract (for `promwasm inspect`).
    pub fn inspect(&self, path: &Path) -> Result<ComponentInfo, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
        let component: Component = cache::compile(&self.engine, &bytes, self.cache_dir.as_deref())
            .map_err(|e| LoadError::Invalid {
                path: path.into(),
                reason: format!("{e:#}"),
            })?;
        Ok(check::inspect(&self.engine, &component, &bytes))
    }
}
