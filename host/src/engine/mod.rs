//! The wasmtime engine: one per run, with a linker holding every host
//! interface, a disk cache of compiled components, a pool of instance slots
//! sized from the steps' memory caps (a fresh instance per step is cheap),
//! and an epoch ticker that enforces step timeouts even on a guest spinning
//! in a loop.

mod cache;
mod check;
pub mod limits;

pub use cache::{sha256_hex, Cache};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

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
    cache: Option<Cache>,
    loaded: Mutex<HashMap<PathBuf, LoadedComponent>>,
    ticking: Arc<AtomicBool>,
}

/// Instances alive at once, at least: a step runs alone (its instance is
/// dropped before the next starts) unless it is in a group, whose steps
/// each hold one ([`EngineBuilder::concurrency`]).
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Bytes of each memory and table slot kept mapped (and zeroed) between
/// instances: a small guest's hot first pages without a page fault each.
/// Measured with the step_overhead bench: 64 KiB 0.37–0.42×, none 0.48–0.52×,
/// 1 MiB 0.94× (zeroing a whole MiB costs more than the faults it saves).
const KEEP_RESIDENT: usize = 64 << 10;
/// Elements one table may hold (a Python component's function table is large).
const TABLE_ELEMENTS: usize = 100_000;

/// Builds an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    cache_dir: Option<PathBuf>,
    memory_cap: usize,
    concurrency: u32,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            cache_dir: None,
            memory_cap: crate::plan::Limits::default().memory_bytes,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl EngineBuilder {
    /// Cache compiled components in this folder (none: compile every run).
    pub fn cache_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.cache_dir = dir;
        self
    }

    /// The largest `memory` of any step: the size of a pool's memory slot.
    pub fn memory_cap(&mut self, bytes: usize) -> &mut Self {
        self.memory_cap = bytes;
        self
    }

    /// How many step instances may be alive at once.
    pub fn concurrency(&mut self, instances: u32) -> &mut Self {
        self.concurrency = instances.max(1);
        self
    }

    /// Create the engine and start its epoch ticker.
    pub fn build(&self) -> wasmtime::Result<Engine> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(self.pool()));
        let engine = wasmtime::Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker)?;
        let cache = match &self.cache_dir {
            Some(dir) => Some(Cache::open(dir).map_err(|e| {
                wasmtime::Error::msg(format!(
                    "cannot use the compiled-code cache {}: {e} (or run with --no-cache)",
                    dir.display()
                ))
            })?),
            None => None,
        };
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
            cache,
            loaded: Mutex::default(),
            ticking,
        })
    }
}

impl EngineBuilder {
    /// Slots for `concurrency` instances, each within the per-step limits of
    /// [`limits`]: instantiating from a warm slot skips the mmap and page
    /// faults of a fresh allocation.
    fn pool(&self) -> PoolingAllocationConfig {
        let n = self.concurrency;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n * limits::MAX_INSTANCES as u32)
            .total_memories(n * limits::MAX_MEMORIES as u32)
            .total_tables(n * limits::MAX_TABLES as u32)
            .total_stacks(n)
            .max_core_instances_per_component(limits::MAX_INSTANCES as u32)
            .max_memories_per_component(limits::MAX_MEMORIES as u32)
            .max_tables_per_component(limits::MAX_TABLES as u32)
            // Rust components declare a few memories per module (the
            // adapter's); one per module is wasmtime's default and too few.
            .max_memories_per_module(limits::MAX_MEMORIES as u32)
            .max_tables_per_module(limits::MAX_TABLES as u32)
            .max_memory_size(self.memory_cap)
            .table_elements(TABLE_ELEMENTS)
            // Reset a small guest's memory by zeroing it rather than handing
            // the pages back to the kernel and faulting them in again.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
        pool
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
        self.load_bytes(path, &bytes)
    }

    /// Like [`Engine::load`], from bytes already read (and verified) by the
    /// caller; `path` names the module in messages.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<LoadedComponent, LoadError> {
        let component = cache::compile(&self.engine, bytes, self.cache.as_ref()).map_err(|e| {
            LoadError::Invalid {
                path: path.into(),
                reason: check::explain_compile_error(&format!("{e:#}"), bytes),
            }
        })?;
        let info = check::inspect(&self.engine, &component, bytes);
        check::compatible(&info).map_err(|reason| LoadError::Incompatible {
            path: path.into(),
            reason: format!("{reason}; {}", check::rebuild_hint(bytes)),
        })?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(StepPre::new)
            .map_err(|e| LoadError::Incompatible {
                path: path.into(),
                // Built for another world: it imports what the host does not provide.
                reason: format!("{e:#}; {}", check::rebuild_hint(bytes)),
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
        let component: Component = cache::compile(&self.engine, &bytes, self.cache.as_ref())
            .map_err(|e| LoadError::Invalid {
                path: path.into(),
                reason: check::explain_compile_error(&format!("{e:#}"), &bytes),
            })?;
        Ok(check::inspect(&self.engine, &component, &bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_for_the_largest_group_can_be_made() {
        // Every slot is reserved address space up front: the most a config
        // may ask for must still fit, with the largest default memory cap.
        let engine = Engine::builder()
            .concurrency(crate::plan::MAX_GROUP_STEPS as u32)
            .build();
        assert!(engine.is_ok(), "{:?}", engine.err());
    }
}
