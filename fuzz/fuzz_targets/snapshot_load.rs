//! The snapshot loader, fed any file: it refuses a damaged one with an error, loads nothing from
//! it, and never panics.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use meshkv_storage::snapshot::load_snapshot;
use meshkv_storage::{Clock, KeyHasher, Keyspace, Stamp};

/// A clock that stamps by the wall clock alone (loading only witnesses stamps; nothing writes).
struct Fixed;

impl Clock for Fixed {
    fn stamp(&self, wall_ms: u64) -> Stamp {
        Stamp { hlc: wall_ms << Stamp::LOGICAL_BITS, node: 1 }
    }

    fn witness(&self, _stamp: Stamp) {}
}

/// One keyspace for every input, emptied after each one that loaded something: building one
/// (every shard of two databases) cost more than loading a small file.
static KEYSPACE: OnceLock<Keyspace> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("meshkv-fuzz-{}.snapshot", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let keyspace = KEYSPACE.get_or_init(|| Keyspace::new(2, Arc::new(Fixed), KeyHasher::with_seed(7)));
    match load_snapshot(&path, keyspace, 1_700_000_000_000) {
        Err(_) => assert_eq!(keyspace.ram_keys(), 0, "a refused snapshot loads nothing"),
        Ok(_) => {
            let mut txn = keyspace.lock_all(0);
            for db in 0..keyspace.databases() {
                txn.wipe_db(db);
            }
        }
    }
});
