//! What one step's instance may allocate: every linear memory and every
//! table of the step counted together (a component may declare many), and
//! small limits on how many instances, tables and memories it may create.
//! Refusals are errors the step's failure message names, not silent.

use wasmtime::ResourceLimiter;

/// Core instances one step may create (a Python component needs about a dozen).
pub const MAX_INSTANCES: usize = 64;
/// Tables one step may create.
pub const MAX_TABLES: usize = 64;
/// Linear memories one step may create.
pub const MAX_MEMORIES: usize = 16;
/// Table elements over all of a step's tables. Elements live in host memory
/// (a pointer each), so this bounds what a table-growing guest costs the host.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// A step went over one of its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// All memories together would exceed the step's `memory`.
    #[error("memory limit of {} MiB exceeded (all of the step's memories together; raise `memory`)", .cap >> 20)]
    Memory {
        /// The cap in bytes.
        cap: usize,
    },
    /// All tables together would exceed [`MAX_TABLE_ELEMENTS`].
    #[error(
        "table limit of {MAX_TABLE_ELEMENTS} elements exceeded (all of the step's tables together)"
    )]
    Tables,
}

/// Counts one step's memories and tables against its caps.
#[derive(Debug)]
pub struct StepLimiter {
    memory_cap: usize,
    memory_used: usize,
    table_elements_used: usize,
}

impl StepLimiter {
    /// A limiter allowing `memory_cap` bytes over all memories.
    pub fn new(memory_cap: usize) -> Self {
        StepLimiter {
            memory_cap,
            memory_used: 0,
            table_elements_used: 0,
        }
    }

    /// Bytes of linear memory allocated so far, over all memories.
    pub fn memory_used(&self) -> usize {
        self.memory_used
    }
}

impl ResourceLimiter for StepLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_used
            .saturating_add(desired.saturating_sub(current));
        if total > self.memory_cap {
            // An error, not `Ok(false)`: the guest traps with our message
            // instead of seeing -1 from memory.grow and aborting vaguely.
            return Err(LimitExceeded::Memory {
                cap: self.memory_cap,
            }
            .into());
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .table_elements_used
            .saturating_add(desired.saturating_sub(current));
        if total > MAX_TABLE_ELEMENTS {
            return Err(LimitExceeded::Tables.into());
        }
        self.table_elements_used = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_count_together() {
        let mut l = StepLimiter::new(10 << 20);
        assert!(l.memory_growing(0, 6 << 20, None).unwrap());
        // A second memory of 6 MiB goes over 10 MiB in all, though it alone would not.
        let err = l.memory_growing(0, 6 << 20, None).unwrap_err();
        assert_eq!(
            err.downcast_ref::<LimitExceeded>(),
            Some(&LimitExceeded::Memory { cap: 10 << 20 })
        );
        // Growing the first by 4 MiB still fits.
        assert!(l.memory_growing(6 << 20, 10 << 20, None).unwrap());
        assert_eq!(l.memory_used(), 10 << 20);
    }

    #[test]
    fn tables_count_together() {
        let mut l = StepLimiter::new(0);
        assert!(l.table_growing(0, MAX_TABLE_ELEMENTS - 1, None).unwrap());
        assert!(l.table_growing(0, 2, None).is_err());
    }
}
