//! The process's memory as the allocator sees it (INFO memory, and later `maxmemory`).
//!
//! meshkv-server runs on jemalloc (declared in `main.rs`), whose statistics tell how many bytes the
//! program holds (`used_memory`, what Redis reports from its own allocator) apart from what the
//! process has resident (which also counts freed pages not yet returned to the system).

use tikv_jemalloc_ctl::{epoch, stats};

/// Allocator statistics, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryStats {
    /// Bytes in live allocations.
    pub allocated: usize,
    /// Bytes in pages the allocator holds resident (allocated plus its caches and metadata).
    pub resident: usize,
}

/// Reads the allocator's statistics; None where jemalloc is not the allocator in use (unit tests).
pub fn stats() -> Option<MemoryStats> {
    epoch::advance().ok()?;
    let allocated = stats::allocated::read().ok()?;
    let resident = stats::resident::read().ok()?;
    (allocated > 0).then_some(MemoryStats { allocated, resident })
}
