//! The process's memory as the allocator sees it (INFO memory), and `maxmemory`.
//!
//! meshkv-server runs on jemalloc (declared in `main.rs`), whose statistics tell how many bytes the
//! program holds (`used_memory`, what Redis reports from its own allocator) apart from what the
//! process has resident (which also counts freed pages not yet returned to the system).
//!
//! Reading those statistics means advancing jemalloc's epoch, which merges every arena's counters:
//! far too costly for every command. So a background thread ([`watch`]) reads them every
//! [`REFRESH_MS`] into a [`MemoryGauge`], whose `over` flag is all a command looks at (one relaxed
//! load). The price is that a burst of writes arriving within one refresh window can overshoot
//! `maxmemory` by what it brings before anyone notices. While over the limit, the same thread
//! evicts keys so that memory comes back down without client traffic, and each command that may
//! grow memory first evicts a bounded number of keys itself ([`make_room`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshkv_storage::{Policy, PROBATION_LIMIT_SHIFT};
use tikv_jemalloc_ctl::{epoch, stats};

use crate::server::{unix_ms, Server};

/// How often the background thread reads the allocator while a limit is set.
pub const REFRESH_MS: u64 = 10;

/// Keys a command evicts between two reads of the allocator.
const EVICT_BATCH: usize = 16;
/// Batches a command may evict before it runs anyway (bounded work per command).
const COMMAND_BATCHES: usize = 4;
/// Time the background thread spends evicting per refresh, at most.
const BACKGROUND_BUDGET: Duration = Duration::from_millis(5);

/// Allocator statistics, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryStats {
    /// Bytes in live allocations.
    pub allocated: usize,
    /// Bytes in pages the allocator holds resident (allocated plus its caches and metadata).
    pub resident: usize,
}

/// Reads the allocator's statistics; None where jemalloc is not the allocator in use (unit tests).
///
/// `allocated` leaves out what the threads' caches hold: jemalloc counts a freed object parked in
/// its thread's cache (for that thread's next allocation of the size) as allocated, and with a
/// dozen threads those caches hold one to two megabytes that no key, buffer or structure of the
/// program uses. Redis's `used_memory` counts only live allocations (its own tally of what it
/// allocated), and so does ours; the caches show in `used_memory_rss` like other allocator slack.
pub fn stats() -> Option<MemoryStats> {
    epoch::advance().ok()?;
    // SAFETY: a NUL-terminated name of a `size_t` statistic (4096 is MALLCTL_ARENAS_ALL: every
    // arena merged).
    let cached = unsafe { tikv_jemalloc_ctl::raw::read::<usize>(b"stats.arenas.4096.tcache_bytes\0") }.unwrap_or(0);
    let allocated = stats::allocated::read().ok()?.saturating_sub(cached);
    let resident = stats::resident::read().ok()?;
    (allocated > 0).then_some(MemoryStats { allocated, resident })
}

/// The cached reading of used memory and whether it is over `maxmemory`.
#[derive(Default)]
pub struct MemoryGauge {
    /// Allocated bytes at the last reading (0 while no limit is set and nobody asked).
    pub used: AtomicU64,
    /// True while the last reading exceeded a non-zero `maxmemory`.
    pub over: AtomicBool,
}

impl MemoryGauge {
    /// Reads the allocator and compares with `maxmemory`; returns the new `over`.
    pub fn refresh(&self, maxmemory: u64) -> bool {
        let used = stats().map_or(0, |m| m.allocated as u64);
        self.used.store(used, Ordering::Relaxed);
        let over = maxmemory > 0 && used > maxmemory;
        self.over.store(over, Ordering::Relaxed);
        over
    }

    /// True while over the limit (as of the last reading).
    #[inline]
    pub fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }
}

/// The eviction settings, read once per eviction round.
struct Settings {
    maxmemory: u64,
    policy: Policy,
    samples: usize,
    lfu_decay: u64,
}

fn settings(server: &Server) -> Settings {
    let c = server.config.read();
    let policy = match server.keyspace.flash() {
        Some(_) => c.maxmemory_policy.on_flash(),
        None => c.maxmemory_policy,
    };
    Settings { maxmemory: c.maxmemory, policy, samples: c.maxmemory_samples as usize, lfu_decay: c.lfu_decay_time }
}

/// Evicts up to `n` keys; returns how many went.
fn evict_batch(server: &Server, s: &Settings, n: usize) -> usize {
    let now = unix_ms();
    (0..n).take_while(|_| server.keyspace.evict_one(s.policy, s.samples, s.lfu_decay, now).is_some()).count()
}

/// Called before a command that may grow memory while the gauge says over the limit: evicts
/// keys until under it, or until a bounded amount of work is done. False if the command must be
/// refused: `noeviction`, or nothing could be evicted (as in Redis, a command runs if eviction made
/// progress, even if not yet enough). The gauge is not re-read for a refused command: that would
/// make every refusal pay for an allocator read; it catches up within [`REFRESH_MS`]. Must be
/// called with no shard locked.
pub fn make_room(server: &Server) -> bool {
    let s = settings(server);
    if s.maxmemory == 0 {
        return true;
    }
    // On the FLASH tier, RAM is a cache: a write's value goes to flash whether or not RAM can make
    // room, so nothing is refused; the command still evicts a little first, which keeps RAM near
    // the limit when keys come in (writes, reads from flash) faster than the background thread
    // alone evicts them.
    if server.keyspace.flash().is_some() {
        evict_batch(server, &s, 1);
        return true;
    }
    if s.policy == Policy::NoEviction {
        return false;
    }
    let mut evicted = 0;
    for _ in 0..COMMAND_BATCHES {
        let n = evict_batch(server, &s, EVICT_BATCH);
        evicted += n;
        if n < EVICT_BATCH || !server.memory.refresh(s.maxmemory) {
            break;
        }
    }
    evicted > 0
}

/// FLASH tier: after `loaded` keys came into RAM from flash, evicts as many while over the limit
/// (one for one: evicting more would shrink the cache below `maxmemory` and lose hot keys).
pub fn make_room_for(server: &Server, loaded: usize) {
    let s = settings(server);
    if s.maxmemory > 0 && server.memory.over() {
        evict_batch(server, &s, loaded);
    }
}

/// Sizes the FLASH tier's probation queue (and its ghosts and doorkeeper) for `maxmemory`: at
/// start, before the first client, then on every refresh (CONFIG SET).
pub fn size_probation_queue(server: &Server, maxmemory: u64) {
    server.keyspace.set_probation_limit((maxmemory >> PROBATION_LIMIT_SHIFT) as usize);
}

/// The background thread: refreshes the gauge every [`REFRESH_MS`] while a limit is set and
/// evicts for up to [`BACKGROUND_BUDGET`] per refresh while over it.
pub fn watch(server: Arc<Server>) {
    loop {
        std::thread::sleep(Duration::from_millis(REFRESH_MS));
        let s = settings(&server);
        size_probation_queue(&server, s.maxmemory);
        if s.maxmemory == 0 {
            server.memory.over.store(false, Ordering::Relaxed);
            continue;
        }
        if !server.memory.refresh(s.maxmemory) || s.policy == Policy::NoEviction {
            continue;
        }
        // Evict about the overage (by the evicted entries' estimated sizes), then measure again:
        // reading jemalloc's totals merges every arena's statistics, far dearer than an eviction,
        // so it is done once per round, not once per few keys.
        let started = Instant::now();
        while started.elapsed() < BACKGROUND_BUDGET {
            let over = server.memory.used.load(Ordering::Relaxed).saturating_sub(s.maxmemory) as usize;
            let now = unix_ms();
            let mut freed = 0;
            while freed < over {
                match server.keyspace.evict_one(s.policy, s.samples, s.lfu_decay, now) {
                    Some(evicted) => freed += evicted.bytes,
                    None => break,
                }
            }
            if freed == 0 || !server.memory.refresh(s.maxmemory) {
                break;
            }
        }
    }
}
