//! The FLASH tier's admission of keys into RAM (the probation queue and its ghosts), played out on a
//! real keyspace over a real RocksDB store, without a server's timing: RAM holds a fixed number of
//! keys, and every read that brings a key back from flash is followed by evictions down to it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::flash::{FlashStore, Fsync};
use meshkv_storage::{Clock, Expiry, Key, Keyspace, LockSet, Policy, Stamp, Value};

struct CountingClock(AtomicU64);

impl Clock for CountingClock {
    fn stamp(&self, _wall_ms: u64) -> Stamp {
        Stamp { hlc: self.0.fetch_add(1, Ordering::SeqCst) + 1, node: 1 }
    }

    fn witness(&self, stamp: Stamp) {
        self.0.fetch_max(stamp.hlc, Ordering::SeqCst);
    }
}

/// The time of every access: LFU counters decay with idle minutes, which these runs never reach.
const NOW: u64 = 1_000_000;
const VALUE: usize = 1000;

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meshkv-probation-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A one-database FLASH keyspace holding keys `0..n`, none of them in RAM (as after a restart),
/// with a probation queue of `queue_bytes` (0: none).
fn keyspace(dir: &std::path::Path, n: usize, queue_bytes: usize) -> Keyspace {
    let flash = FlashStore::open(dir, 1, Fsync::No).unwrap();
    let ks = Keyspace::with_flash(1, Arc::new(CountingClock(AtomicU64::new(0))), flash);
    ks.set_probation_limit(queue_bytes);
    for i in 0..n {
        let key = key(&ks, i);
        let mut set = LockSet::default();
        set.add(&ks, 0, &key);
        let mut txn = ks.lock(&mut set, NOW);
        txn.insert(0, key, Value::Str(Bytes::from(vec![b'v'; VALUE])), Expiry::Persist);
    }
    ks.flash().unwrap().drain();
    fit(&ks, 0);
    ks
}

fn key(ks: &Keyspace, i: usize) -> Key {
    ks.key(Bytes::from(format!("key:{i}")))
}

/// Evicts until RAM holds at most `capacity` keys.
fn fit(ks: &Keyspace, capacity: usize) {
    while ks.ram_keys() > capacity {
        ks.evict_one(Policy::AllKeysLfu, 5, 1, NOW).expect("something to evict");
    }
}

/// Reads key `i` as a GET does (from flash first if it is not in RAM), then makes room; true if
/// it came from flash.
fn read(ks: &Keyspace, capacity: usize, i: usize) -> bool {
    let key = key(ks, i);
    let cold = !ks.in_ram(0, &key);
    let mut passing = Vec::new();
    if cold {
        ks.preload(0, std::slice::from_ref(&key), NOW, &mut passing);
    }
    let mut set = LockSet::default();
    set.add(ks, 0, &key);
    assert!(ks.lock(&mut set, NOW).get(0, &key).is_some(), "key:{i} is lost");
    for (key, stamp) in passing {
        ks.let_go(0, &key, stamp); // as the connection does once its requests have run
    }
    fit(ks, capacity);
    cold
}

/// Rounds of reads: every hot key once, with one key never read before after every ten. Returns
/// how many hot keys came from flash in each round.
fn skewed_rounds(ks: &Keyspace, capacity: usize, hot: usize, rounds: usize) -> Vec<usize> {
    let mut next_cold = hot;
    (0..rounds)
        .map(|_| {
            let mut from_flash = 0;
            for i in 0..hot {
                from_flash += usize::from(read(ks, capacity, i));
                if i % 10 == 9 {
                    read(ks, capacity, next_cold);
                    next_cold += 1;
                }
            }
            from_flash
        })
        .collect()
}

#[test]
fn one_off_reads_leave_a_hot_set_near_capacity_in_ram() {
    const N: usize = 12_000;
    const CAPACITY: usize = 3000;
    const HOT: usize = 2700; // nine tenths of RAM
    const ROUNDS: usize = 20;
    let queue = CAPACITY * (VALUE + 200) / 64; // 1/64 of RAM, as the server sets it
    let mut settled = Vec::new();
    for queue_bytes in [0, queue] {
        let dir = tempdir(&format!("skewed-{queue_bytes}"));
        let ks = keyspace(&dir, N, queue_bytes);
        let from_flash = skewed_rounds(&ks, CAPACITY, HOT, ROUNDS);
        assert!(from_flash[0] > HOT / 2, "the first round reads the hot keys from flash: {from_flash:?}");
        settled.push((from_flash[ROUNDS - 5..].iter().sum::<usize>() / 5, from_flash));
        drop(ks);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (without, with) = (&settled[0], &settled[1]);
    assert!(with.0 < HOT / 50, "with the queue, the hot keys should settle in RAM: {:?}", with.1);
    assert!(
        without.0 > with.0 * 2,
        "the queue should at least halve the hot keys' reads from flash: {:?} without, {:?} with",
        without.1,
        with.1
    );
}
