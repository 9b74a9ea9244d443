//! Snapshot files: what is saved comes back (every type, database, stamp and expiry), a cut is what
//! gets saved even while writes go on, and a damaged file is refused before anything is loaded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::snapshot::{load_snapshot, write_snapshot, SnapshotError};
use meshkv_storage::{Clock, Expiry, KeyHasher, Keyspace, LockSet, Stamp, Value};

struct CountingClock(AtomicU64);

impl Clock for CountingClock {
    fn stamp(&self, _wall_ms: u64) -> Stamp {
        Stamp { hlc: self.0.fetch_add(1, Ordering::SeqCst) + 1, node: 3 }
    }

    fn witness(&self, stamp: Stamp) {
        self.0.fetch_max(stamp.hlc, Ordering::SeqCst);
    }
}

fn keyspace() -> Keyspace {
    Keyspace::new(3, Arc::new(CountingClock(AtomicU64::new(0))), KeyHasher::with_seed(7))
}

const NOW: u64 = 1_000_000;

/// Writes `value` under `key` in `db`, with an optional expiry.
fn put(ks: &Keyspace, db: usize, key: &str, value: Value, expire_at: Option<u64>) {
    let k = ks.key(Bytes::copy_from_slice(key.as_bytes()));
    let mut set = LockSet::default();
    set.add(ks, db, &k);
    let mut txn = ks.lock(&mut set, NOW);
    txn.insert(db, k, value, expire_at.map_or(Expiry::Persist, Expiry::At));
}

/// Every key of every database as text: `db key type stamp expiry value`, sorted.
fn dump(ks: &Keyspace) -> Vec<String> {
    let mut out: Vec<String> = ks
        .cut_all(NOW)
        .dbs
        .iter()
        .flat_map(|(db, cut)| {
            cut.iter()
                .map(|(k, e)| {
                    format!(
                        "{db} {:?} {:?} {:?} {:?} {:?}",
                        bytes::Bytes::copy_from_slice(k),
                        e.value.value_type(),
                        e.stamp,
                        e.expire_at(),
                        e.value
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

fn sample(ks: &Keyspace) {
    put(ks, 0, "s", Value::Str(Bytes::from_static(b"string")), None);
    put(ks, 0, "ttl", Value::Str(Bytes::from_static(b"soon")), Some(NOW + 60_000));
    put(ks, 0, "gone", Value::Str(Bytes::from_static(b"expired")), Some(NOW + 1));
    put(ks, 2, "s", Value::Str(Bytes::from_static(b"other db")), None);
    let mut list = Value::new_list();
    let mut hash = Value::new_hash();
    let mut set = Value::new_set();
    let mut zset = Value::new_zset();
    if let (Value::List(l), Value::Hash(h), Value::Set(s), Value::ZSet(z)) = (&mut list, &mut hash, &mut set, &mut zset)
    {
        Arc::make_mut(l).extend([Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        Arc::make_mut(h).insert(Bytes::from_static(b"f"), Bytes::from_static(b"v"));
        Arc::make_mut(s).insert(Bytes::from_static(b"m"));
        Arc::make_mut(z).insert(Bytes::from_static(b"z"), 2.5);
    }
    put(ks, 1, "list", list, None);
    put(ks, 1, "hash", hash, Some(NOW + 5_000));
    put(ks, 1, "set", set, None);
    put(ks, 1, "zset", zset, None);
}

#[test]
fn what_is_saved_comes_back_and_expired_keys_are_skipped() {
    let dir = tempdir();
    let path = dir.join("dump.msnap");
    let ks = keyspace();
    sample(&ks);
    let saved = write_snapshot(&ks.cut_all(NOW), &path).unwrap();
    assert_eq!(saved.keys, 8);
    assert!(!dir.join("dump.tmp").exists(), "the temporary file was renamed");

    let back = keyspace();
    let loaded = load_snapshot(&path, &back, NOW + 2).unwrap().expect("file exists");
    assert_eq!((loaded.keys, loaded.expired), (7, 1));
    let mut expected = dump(&ks);
    expected.retain(|line| !line.contains("expired"));
    assert_eq!(dump(&back), expected, "types, databases, stamps and expiries survive");
    assert!(load_snapshot(&dir.join("absent"), &back, NOW).unwrap().is_none());
}

#[test]
fn a_snapshot_holds_its_cut_not_later_writes() {
    let dir = tempdir();
    let path = dir.join("dump.msnap");
    let ks = keyspace();
    put(&ks, 0, "a", Value::Str(Bytes::from_static(b"before")), None);
    let cut = ks.cut_all(NOW);
    put(&ks, 0, "a", Value::Str(Bytes::from_static(b"after")), None);
    put(&ks, 0, "b", Value::Str(Bytes::from_static(b"after")), None);
    write_snapshot(&cut, &path).unwrap();
    let back = keyspace();
    load_snapshot(&path, &back, NOW).unwrap();
    let lines = dump(&back);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("before"));
}

#[test]
fn damaged_files_are_refused_before_anything_loads() {
    let dir = tempdir();
    let path = dir.join("dump.msnap");
    let ks = keyspace();
    sample(&ks);
    write_snapshot(&ks.cut_all(NOW), &path).unwrap();
    let good = std::fs::read(&path).unwrap();

    let bad = dir.join("bad.msnap");
    for cut in [0, 5, 11, 30, good.len() / 2, good.len() - 5, good.len() - 1] {
        std::fs::write(&bad, &good[..cut]).unwrap();
        let back = keyspace();
        let err = load_snapshot(&bad, &back, NOW).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt { .. } | SnapshotError::NotASnapshot(_)), "cut {cut}: {err}");
        assert!(dump(&back).is_empty(), "a truncated file loaded keys (cut {cut})");
    }
    for at in [12, good.len() / 2, good.len() - 2] {
        let mut flipped = good.clone();
        flipped[at] ^= 0x40;
        std::fs::write(&bad, &flipped).unwrap();
        let back = keyspace();
        let err = load_snapshot(&bad, &back, NOW).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "byte {at}: {err}");
        assert!(dump(&back).is_empty());
    }
    std::fs::write(&bad, b"REDIS0011\xfa\x09redis-ver\x057.0.15").unwrap();
    assert!(matches!(load_snapshot(&bad, &keyspace(), NOW), Err(SnapshotError::NotASnapshot(_))));

    let small = Keyspace::new(1, Arc::new(CountingClock(AtomicU64::new(0))), KeyHasher::with_seed(7));
    assert!(matches!(load_snapshot(&path, &small, NOW), Err(SnapshotError::Database { db: 1, .. })));
}

/// A fresh directory under the system's temporary directory.
fn tempdir() -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "meshkv-snapshot-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Collects nothing: a change sink that switches replication's bookkeeping on.
struct Nowhere;

impl meshkv_storage::ChangeSink for Nowhere {
    fn record(&self, _group: &[meshkv_storage::Recorded<'_>]) {}
}

#[test]
fn tombstones_and_flush_floors_survive_a_snapshot() {
    let dir = tempdir();
    let path = dir.join("dump.msnap");
    let ks = keyspace();
    ks.start_feed(Arc::new(Nowhere));
    put(&ks, 0, "gone", Value::Str(Bytes::from_static(b"v")), None);
    let k = ks.key(Bytes::from_static(b"gone"));
    let mut set = LockSet::default();
    set.add(&ks, 0, &k);
    assert!(ks.lock(&mut set.clone(), NOW).delete(0, &k));
    let buried = ks.lock(&mut set.clone(), NOW).tombstone(0, &k).unwrap();
    let mut all = LockSet::default();
    all.add_db(2);
    ks.lock(&mut all, NOW).clear_db(2);
    write_snapshot(&ks.cut_all(NOW), &path).unwrap();

    let back = keyspace();
    load_snapshot(&path, &back, NOW).unwrap();
    assert_eq!(back.lock(&mut set, NOW).tombstone(0, &k), Some(buried));
    let floors = back.cut_all(NOW).floors;
    assert_eq!(floors.len(), 1);
    assert_eq!(floors[0].0, 2);
    // An older write from a peer is refused after the restart, as before it.
    let late = meshkv_storage::Effect::Delete(Stamp { hlc: 0, node: 9 });
    assert_eq!(back.merge(0, Bytes::from_static(b"gone"), &late, NOW).unwrap(), meshkv_storage::Merged::Stale);
}

#[test]
fn version_1_files_still_load() {
    let dir = tempdir();
    let path = dir.join("dump.msnap");
    let ks = keyspace();
    sample(&ks);
    write_snapshot(&ks.cut_all(NOW), &path).unwrap();
    // The same bytes as version 1 wrote them (no tombstones, no floors): version byte 1, and the
    // checksum over it.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] = 1;
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let back = keyspace();
    load_snapshot(&path, &back, NOW).unwrap();
    assert_eq!(dump(&back), dump(&ks));
}

#[test]
fn loading_moves_the_clock_past_every_stamp_in_the_file() {
    // In each case the newest stamp in the file is of another kind of record: a live key, a key
    // expired by the time it is loaded (skipped, but peers may still hold it or its tombstone),
    // a tombstone, a flush floor. The file comes from a node whose clock is far ahead.
    fn live(ks: &Keyspace) {
        put(ks, 0, "k", Value::Str(Bytes::from_static(b"v")), None);
    }
    fn expired(ks: &Keyspace) {
        put(ks, 0, "k", Value::Str(Bytes::from_static(b"v")), Some(NOW + 1));
    }
    fn tombstone(ks: &Keyspace) {
        live(ks);
        let k = ks.key(Bytes::from_static(b"k"));
        let mut set = LockSet::default();
        set.add(ks, 0, &k);
        assert!(ks.lock(&mut set, NOW).delete(0, &k));
    }
    fn floor(ks: &Keyspace) {
        let mut all = LockSet::default();
        all.add_db(2);
        ks.lock(&mut all, NOW).clear_db(2);
    }
    /// What the newest record is, and how a keyspace comes to hold it.
    type Case = (&'static str, fn(&Keyspace));
    let cases: [Case; 4] =
        [("live key", live), ("expired key", expired), ("tombstone", tombstone), ("flush floor", floor)];
    for (what, make) in cases {
        let dir = tempdir();
        let path = dir.join("dump.msnap");
        let ahead_clock = Arc::new(CountingClock(AtomicU64::new(1_000_000)));
        let ahead = Keyspace::new(3, ahead_clock.clone(), KeyHasher::with_seed(7));
        ahead.start_feed(Arc::new(Nowhere));
        put(&ahead, 1, "older", Value::Str(Bytes::from_static(b"v")), None);
        make(&ahead);
        let newest = ahead_clock.0.load(Ordering::SeqCst);
        write_snapshot(&ahead.cut_all(NOW), &path).unwrap();

        let clock = Arc::new(CountingClock(AtomicU64::new(0)));
        let back = Keyspace::new(3, clock.clone(), KeyHasher::with_seed(7));
        load_snapshot(&path, &back, NOW + 2).unwrap().expect("file exists");
        let next = clock.stamp(NOW);
        assert!(next.hlc > newest, "{what}: a write after loading ({next:?}) is not newer than {newest}");
    }
}
