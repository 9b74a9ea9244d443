//! FLASH tier: the probation queue, where keys new to RAM wait to show they are used again, and
//! the ghosts of keys evicted lately, which decide who may skip it.
//!
//! Sampled eviction (see `evict`) finds a bad key only as often as bad keys make up the sample.
//! On the FLASH tier every read of a cold key brings it into RAM, and under a skewed workload most
//! of those keys are read once and never again: to evict them as fast as they come, sampling
//! needs them to be a large share of RAM (with five samples, about a fifth), and that share is
//! taken from the hot keys. Measured on `benches/flash.py`: of about 20,000 keys in RAM, some
//! 3,000-4,000 were one-off reads, and a sixth of the hot keys' reads went to flash.
//!
//! So, as in S3-FIFO (Yang et al., SOSP 2023) and the "window" of W-TinyLFU, keys new to RAM (read
//! back from flash, or written while not in RAM) enter a small FIFO first. While the queue holds
//! more than its limit (1/64 of `maxmemory`), eviction takes its oldest key: gone from RAM if it
//! was not used since it came (it is on flash still), left in RAM for the policy to judge if it
//! was. A one-off read then holds RAM only while 1/64 of `maxmemory` passes through the queue, and
//! its eviction costs one lock instead of a sampling round.
//!
//! A queue that short is no test for a key used again only after many others (a working set read
//! in a loop): each time round it would be evicted unused. So every eviction leaves a ghost, the
//! key's hash and LFU counter, in a table about as long as RAM has keys; a key read back while its
//! ghost is there is coming back, and skips the queue if its counter is at least the "floor": the
//! counter of the best key the policy last found to evict from the rest of RAM. It is then worth
//! as much as what RAM gives up for it. A one-off key comes back with a new key's counter, below
//! the floor while RAM holds keys read more often, so it waits in the queue again; a hot key that
//! the policy evicted comes back with its counter and goes straight in. This is TinyLFU's
//! admission test (admit a candidate only if it is used more than the victim) on Redis's own LFU
//! counters.
//!
//! Who evicts ([`Probation::turn`]): the policy, from the rest of RAM, once for every key that came
//! back past the queue (it took room there); otherwise the queue, but for one eviction in four,
//! where the policy looks at the rest of RAM, sets the floor to what it found, and evicts that only
//! if it was never used since it came or if a key the floor kept out was used as much. Without
//! those looks the rest of RAM would never be judged again, and a floor set long ago could keep
//! out for good keys worth more than keys that stopped being used.
//!
//! Measured, `benches/flash.py`'s skewed GETs (20,000 hot keys, 28 MiB of RAM): reads from flash
//! per request fell from 0.19 to 0.13 (the 0.09 of the uniform tenth of the requests is the
//! floor). `storage/tests/probation.rs` plays out a hot set of nine tenths of RAM read in a loop
//! among one-off reads: 200-300 of its 2,700 keys read from flash per round without the queue,
//! 12-27 with it.
//!
//! A key read back from flash that RAM has not seen lately does not even enter the queue: a
//! doorkeeper (TinyLFU's) remembers, in one bit per hash, the keys read from flash since it was
//! last cleared, and it is cleared after about as many such reads as RAM holds keys. A key's first
//! read in that window is [`Arrival::Passing`]: it comes into RAM for the commands that asked for
//! it and leaves when they are done (the connection lets it go), with no place in the queue and
//! no eviction to pay for; its ghost, if it has one, waits for its next read. Its second read in
//! the window queues it (or lets it return past the queue) as before. The price: a key read twice
//! in quick succession is read from flash twice (the queue alone kept it after the first). On
//! `benches/flash.py`'s skewed GETs, whose uniform tenth reads one-off keys, that took 7% off the
//! server's CPU (2.31 to 2.15 s per million requests; the memory thread's evictions from 0.09 to
//! 0.02 s, the reader's from 0.52 to 0.48 s) and raised throughput by 6%.
//!
//! The queue and the ghosts know a key by its shard and hash, not its bytes: a key's bytes may be a
//! slice of a request's buffer, which they must not keep alive. Finding the key again by its
//! 64-bit hash within one shard could, in theory, pick another key of the same hash; on the FLASH
//! tier that only drops a RAM copy of a key that flash also holds, which is always safe.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;

use crate::entry::Entry;

/// The share of `maxmemory` the queue may hold before eviction takes from it: 1/64.
pub const LIMIT_SHIFT: u32 = 6;

/// Past this many times its limit, the queue lets its oldest keys into the rest of RAM unjudged.
/// That happens only while nothing is evicted (RAM is below `maxmemory`); under pressure,
/// eviction keeps the queue near its limit. The margin is wide because eviction lags: the memory
/// thread reads the allocator every 10 ms, and a burst of reads from flash can bring in thousands
/// of keys between two readings. With a margin of 2, such bursts pushed one-off keys into RAM as
/// if they had been used (and evicting them later cost hot keys).
const OVERFLOW: usize = 16;

/// One ghost per this many bytes of `maxmemory`: about as many ghosts as RAM holds keys of 1 KiB.
/// A ghost is 8 bytes, so they cost under 1% of `maxmemory`.
const BYTES_PER_GHOST: usize = 1024;
/// Ghosts at least, however small `maxmemory`.
const MIN_GHOSTS: usize = 1024;
/// Slots a ghost may take (see `Queue::ghost_set`).
const GHOST_WAYS: usize = 4;
/// Doorkeeper bits per read from flash in its window (about 6% of them set when it is cleared,
/// so about one key in sixteen read for the first time is queued as if read twice).
const DOOR_BITS_PER_READ: usize = 16;

/// A key waiting in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Newcomer {
    /// Its shard (global index).
    pub shard: u32,
    /// Its hash ([`crate::Key::hash`]).
    pub hash: u64,
    /// What it was estimated to cost in RAM when it came.
    pub bytes: usize,
    /// The counter of its ghost, if it came back while that was here and the floor kept it out
    /// (0: no ghost).
    pub turned_away: u8,
}

impl Newcomer {
    /// The LFU counter the ghost of this key keeps when the queue evicts it unused, given the
    /// counter it has in RAM. At least a new key's: a key evicted before its first use still
    /// counts that use to come (a pipeline's read ahead). And one above the ghost that was turned
    /// away, if any: a key that keeps coming back climbs a step each time until it passes the
    /// floor. Without that, a hot key evicted while RAM was full of keys used a little more (a
    /// pass of uniform reads before a skewed workload) came back each time with a new key's
    /// counter, and went round the queue until the floor had sunk to it; TinyLFU counts the
    /// accesses that miss the cache the same way.
    pub fn ghost_counter(&self, counter: u8) -> u8 {
        let returns = if self.turned_away > 0 { self.turned_away.saturating_add(1) } else { 0 };
        counter.max(crate::entry::LFU_INIT as u8).max(returns)
    }
}

#[derive(Default)]
struct Queue {
    keys: VecDeque<Newcomer>,
    /// The sum of `keys`' bytes.
    bytes: usize,
    /// Eviction takes from the queue while it holds more bytes than this; 0: no queue.
    limit: usize,
    /// Ghosts, by hash in sets of [`GHOST_WAYS`]: the hash's high 56 bits and the LFU counter in
    /// the low 8 (0: none). A new ghost takes the place of an old one when its set is full, so
    /// the table remembers recent evictions, most of them, in 8 bytes each and no allocation per
    /// eviction.
    ghosts: Vec<u64>,
    /// The LFU counter of the key the policy last evicted from the rest of RAM, or would have.
    floor: u8,
    /// The highest counter among the ghosts kept out by the floor since the policy's last turn
    /// (0: none).
    knocking: u8,
    /// Keys that came back past the queue and have not yet had a key of the rest of RAM make
    /// room for them: the next evictions are the policy's.
    owed: usize,
    /// The doorkeeper: a bit set for each key read from flash since it was last cleared (the bit
    /// its hash picks: a power-of-two number of bits, so keys may share one).
    door: Vec<u64>,
    /// Reads from flash the doorkeeper saw since it was last cleared, and how many it sees
    /// before it is cleared (as many as there are ghosts: about as many keys as RAM holds).
    door_seen: usize,
    door_window: usize,
}

impl Queue {
    /// The ghost slots `hash` may have: a set of [`GHOST_WAYS`] (so that two keys used in turn
    /// rarely keep pushing out each other's ghost, as one slot each did).
    fn ghost_set(&self, hash: u64) -> std::ops::Range<usize> {
        // The hash's top bits chose the shard; a multiply spreads all of them over the table.
        let sets = self.ghosts.len() / GHOST_WAYS;
        let set = ((u128::from(hash.wrapping_mul(0x9E37_79B9_7F4A_7C15)) * sets as u128) >> 64) as usize;
        set * GHOST_WAYS..(set + 1) * GHOST_WAYS
    }

    /// True if a key of this hash was read from flash since the doorkeeper was last cleared;
    /// remembers it either way.
    fn sighted_before(&mut self, hash: u64) -> bool {
        self.door_seen += 1;
        if self.door_seen > self.door_window {
            self.door.fill(0);
            self.door_seen = 1;
        }
        // The hash's top bits chose the shard; a multiply spreads all of them over the bits.
        let bits = self.door.len() * 64;
        let bit = (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits.trailing_zeros())) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        let before = self.door[word] & mask != 0;
        self.door[word] |= mask;
        before
    }

    /// Takes `hash`'s ghost out of the table: its LFU counter.
    fn take_ghost(&mut self, hash: u64) -> Option<u8> {
        let set = self.ghost_set(hash);
        let slot = self.ghosts[set].iter_mut().find(|g| **g != 0 && **g & !0xff == hash & !0xff)?;
        Some((std::mem::take(slot) & 0xff) as u8)
    }

    /// Leaves `hash`'s ghost: in its own old slot, or an empty one of its set, or in place of
    /// one of the set's ghosts (which one, the hash decides: no order is kept).
    fn put_ghost(&mut self, hash: u64, counter: u8) {
        let set = self.ghost_set(hash);
        let ways = &mut self.ghosts[set];
        let at = ways
            .iter()
            .position(|g| *g != 0 && *g & !0xff == hash & !0xff)
            .or_else(|| ways.iter().position(|g| *g == 0))
            .unwrap_or((hash >> 8) as usize % GHOST_WAYS);
        ways[at] = (hash & !0xff) | u64::from(counter.max(1));
    }
}

/// One eviction in this many goes to the policy even while the queue is over its limit (see
/// [`Probation::turn`]).
const POLICY_EVERY: u32 = 4;

/// The probation queue and ghosts of one keyspace.
#[derive(Default)]
pub(crate) struct Probation {
    queue: Mutex<Queue>,
    /// Evictions so far, for [`Probation::turn`].
    evictions: AtomicU32,
}

/// Who evicts next (see [`Probation::turn`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The queue, its oldest unused key (or the policy, if the queue has none to give).
    Queue,
    /// The policy, from the rest of RAM.
    Policy,
    /// The policy, if what it finds was never used since it came or was used no more than this
    /// counter (the best of the keys the floor kept out); else the queue.
    PolicyFor(u8),
}

/// Where a key coming into RAM goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Into the queue.
    Queued,
    /// Into RAM proper, with this LFU counter (it was evicted lately, and is worth the floor).
    Returning(u8),
    /// Neither: the FLASH tier has no queue (no `maxmemory`).
    Unqueued,
    /// Neither: read from flash, by its first read lately (see the module's comment). It stays in
    /// RAM only while the commands that asked for it run.
    Passing,
}

impl Probation {
    /// Sets how many bytes the queue holds before eviction takes from it (the server passes
    /// `maxmemory >> LIMIT_SHIFT`); 0 turns it off and empties it. The ghost table is sized with
    /// it (and emptied when its size changes).
    pub fn set_limit(&self, limit: usize) {
        let mut q = self.queue.lock();
        if q.limit != limit {
            q.limit = limit;
            if limit == 0 {
                *q = Queue::default();
            } else {
                let ghosts = ((limit << LIMIT_SHIFT) / BYTES_PER_GHOST).max(MIN_GHOSTS);
                q.ghosts = vec![0; ghosts];
                q.door = vec![0; (ghosts * DOOR_BITS_PER_READ).next_power_of_two() / 64];
                (q.door_seen, q.door_window) = (0, ghosts);
            }
        }
    }

    /// A key just came into RAM with LFU counter `counter`. If its ghost is here with a counter
    /// at the floor or above, it returns with the higher of the two; otherwise it is queued. Keys
    /// queued while nothing is evicted would pile up: past [`OVERFLOW`] times the limit the oldest
    /// leave the queue for the rest of RAM, as if they had been used.
    pub fn arrive(&self, newcomer: Newcomer, counter: u8) -> Arrival {
        self.arrive_as(newcomer, counter, false)
    }

    /// A key was just read back from flash with LFU counter `counter`: as [`Probation::arrive`],
    /// except that a key read for the first time since the doorkeeper was last cleared is
    /// [`Arrival::Passing`].
    pub fn arrive_from_flash(&self, newcomer: Newcomer, counter: u8) -> Arrival {
        self.arrive_as(newcomer, counter, true)
    }

    fn arrive_as(&self, mut newcomer: Newcomer, counter: u8, read: bool) -> Arrival {
        let mut q = self.queue.lock();
        if q.limit == 0 {
            return Arrival::Unqueued;
        }
        // The doorkeeper first, even for a key with a ghost (which stays for its next read): a
        // one-off key evicted from the queue before has a ghost too, and asking the ghosts first
        // queued such keys again (0.097 reads from flash per skewed GET instead of 0.090).
        if read && !q.sighted_before(newcomer.hash) {
            return Arrival::Passing;
        }
        if let Some(remembered) = q.take_ghost(newcomer.hash) {
            if remembered >= q.floor {
                q.owed += 1;
                return Arrival::Returning(remembered.max(counter));
            }
            q.knocking = q.knocking.max(remembered);
            newcomer.turned_away = remembered;
        }
        q.bytes += newcomer.bytes;
        q.keys.push_back(newcomer);
        while q.bytes > q.limit * OVERFLOW {
            let Some(oldest) = q.keys.pop_front() else { break };
            q.bytes -= oldest.bytes;
        }
        Arrival::Queued
    }

    /// Leaves the ghost of a key eviction took (from the queue or from the rest of RAM), with the
    /// LFU counter it had; `by_policy`: the policy chose it from the rest of RAM, so its counter
    /// is the new floor.
    pub fn evicted(&self, hash: u64, counter: u8, by_policy: bool) {
        let mut q = self.queue.lock();
        if q.limit == 0 {
            return;
        }
        q.put_ghost(hash, counter);
        if by_policy {
            q.floor = counter;
        }
    }

    /// Whose turn it is to evict (see the module's comment): the policy's for every key that came
    /// back past the queue; the queue's otherwise, but for one eviction in [`POLICY_EVERY`] while
    /// the queue is over its limit, where the policy looks at the rest of RAM and evicts what it
    /// finds only if that was never used since it came, or for the best of the keys the floor
    /// kept out since the last look ([`Turn::PolicyFor`]).
    pub fn turn(&self) -> Turn {
        let mut q = self.queue.lock();
        if q.limit == 0 {
            return Turn::Policy;
        }
        if q.owed > 0 {
            q.owed -= 1;
            return Turn::Policy;
        }
        if self.evictions.fetch_add(1, Ordering::Relaxed) % POLICY_EVERY == POLICY_EVERY - 1 && q.bytes > q.limit {
            return Turn::PolicyFor(std::mem::take(&mut q.knocking));
        }
        Turn::Queue
    }

    /// Sets the floor: the LFU counter of the best key the policy would evict from the rest of RAM.
    pub fn set_floor(&self, counter: u8) {
        self.queue.lock().floor = counter;
    }

    /// The oldest key, taken out of the queue, while the queue holds more than its limit.
    pub fn take_over_limit(&self) -> Option<Newcomer> {
        let mut q = self.queue.lock();
        if q.limit == 0 || q.bytes <= q.limit {
            return None;
        }
        let oldest = q.keys.pop_front()?;
        q.bytes -= oldest.bytes;
        Some(oldest)
    }

    /// Keys and bytes queued (INFO).
    pub fn len(&self) -> (usize, usize) {
        let q = self.queue.lock();
        (q.keys.len(), q.bytes)
    }
}

/// True if `entry`, queued when it came into RAM, was not used since: its LFU counter is where a
/// new key's starts. A write starts a key there; a read back from flash starts it one lower, and
/// the read that brought it back lifts it there (see `Entry::read_back`). The first increment
/// above it is certain, so one more use is always seen.
pub(crate) fn unused_since_admitted(entry: &Entry) -> bool {
    u64::from(entry.frequency()) <= crate::entry::LFU_INIT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newcomer(hash: u64, bytes: usize) -> Newcomer {
        Newcomer { shard: 0, hash, bytes, turned_away: 0 }
    }

    /// Hashes that differ in their high bits, as key hashes do.
    fn hash(i: u64) -> u64 {
        i.wrapping_mul(0xD6E8_FEB8_6659_FD93) | 0xff
    }

    #[test]
    fn a_queue_without_limit_holds_nothing() {
        let p = Probation::default();
        assert_eq!(p.arrive(newcomer(hash(1), 100), 5), Arrival::Unqueued);
        assert_eq!(p.len(), (0, 0));
        assert_eq!(p.take_over_limit(), None);
    }

    #[test]
    fn a_first_read_from_flash_passes_and_a_second_is_queued() {
        let p = Probation::default();
        p.set_limit(1 << 20);
        assert_eq!(p.arrive_from_flash(newcomer(hash(1), 100), 4), Arrival::Passing);
        assert_eq!(p.len(), (0, 0), "a passing key takes no place in the queue");
        assert_eq!(p.arrive_from_flash(newcomer(hash(1), 100), 4), Arrival::Queued);
        assert_eq!(p.arrive(newcomer(hash(2), 100), 4), Arrival::Queued, "a write is queued at once");
        assert_eq!(p.len(), (2, 200));
    }

    #[test]
    fn the_doorkeeper_forgets_after_its_window() {
        let p = Probation::default();
        p.set_limit(1); // the smallest ghost table: MIN_GHOSTS, which is the window
        assert_eq!(p.arrive_from_flash(newcomer(hash(1), 100), 4), Arrival::Passing);
        for i in 2..=MIN_GHOSTS as u64 {
            p.arrive_from_flash(newcomer(hash(i), 100), 4);
        }
        assert_eq!(p.arrive_from_flash(newcomer(hash(1), 100), 4), Arrival::Passing, "cleared: read once again");
    }

    #[test]
    fn a_ghost_waits_for_the_second_read() {
        let p = Probation::default();
        p.set_limit(1 << 20);
        p.evicted(hash(1), 9, true);
        assert_eq!(p.arrive_from_flash(newcomer(hash(1), 100), 4), Arrival::Passing);
        assert_eq!(p.arrive_from_flash(newcomer(hash(1), 100), 4), Arrival::Returning(9), "the ghost stayed");
    }

    #[test]
    fn eviction_takes_the_oldest_only_while_over_the_limit() {
        let p = Probation::default();
        p.set_limit(250);
        for i in 1..=4 {
            assert_eq!(p.arrive(newcomer(hash(i), 100), 4), Arrival::Queued);
        }
        assert_eq!(p.take_over_limit().map(|n| n.hash), Some(hash(1)));
        assert_eq!(p.take_over_limit().map(|n| n.hash), Some(hash(2)));
        assert_eq!(p.take_over_limit(), None, "200 bytes left, within 250");
        assert_eq!(p.len(), (2, 200));
    }

    #[test]
    fn past_the_overflow_the_oldest_leave_unevicted() {
        let p = Probation::default();
        p.set_limit(100);
        for i in 1..=(2 * OVERFLOW as u64 + 1) {
            p.arrive(newcomer(hash(i), 50), 4);
        }
        assert_eq!(p.len(), (2 * OVERFLOW, 100 * OVERFLOW));
        assert_eq!(p.take_over_limit().map(|n| n.hash), Some(hash(2)), "key 1 left the queue for RAM");
        p.set_limit(0);
        assert_eq!(p.len(), (0, 0));
    }

    #[test]
    fn a_ghost_at_the_floor_returns_once_with_its_counter() {
        let p = Probation::default();
        p.set_limit(1000);
        p.evicted(hash(9), 6, true); // the policy's last victim had 6: the floor
        p.evicted(hash(7), 8, true); // now the floor is 8
        assert_eq!(p.arrive(newcomer(hash(7), 100), 4), Arrival::Returning(8));
        assert_eq!(p.len(), (0, 0), "a returning key is not queued");
        assert_eq!(p.arrive(newcomer(hash(7), 100), 4), Arrival::Queued, "its ghost went with it");
    }

    #[test]
    fn a_ghost_below_the_floor_is_queued_again() {
        let p = Probation::default();
        p.set_limit(1000);
        p.evicted(hash(1), 8, true);
        p.evicted(hash(2), 5, false); // a one-off read evicted from the queue
        assert_eq!(p.arrive(newcomer(hash(2), 100), 4), Arrival::Queued);
        // Once the policy evicts keys as little used, the same key would be let in.
        p.evicted(hash(3), 5, true);
        p.evicted(hash(2), 5, false);
        assert_eq!(p.arrive(newcomer(hash(2), 100), 4), Arrival::Returning(5));
    }
}
