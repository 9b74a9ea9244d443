//! The storage half of replication: the change feed of local writes, and the merge of peers'
//! changes by whole-key last-write-wins, with tombstones and flush floors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::{ChangeSink, Clock, Effect, Expiry, KeyHasher, Keyspace, LockSet, Merged, Recorded, Stamp, Value};
use parking_lot::Mutex;

/// A clock that counts: every stamp is one more than the last, on node `node`.
struct CountingClock(AtomicU64, u64);

impl Clock for CountingClock {
    fn stamp(&self, _wall_ms: u64) -> Stamp {
        Stamp { hlc: self.0.fetch_add(1, Ordering::SeqCst) + 1, node: self.1 }
    }

    fn witness(&self, stamp: Stamp) {
        self.0.fetch_max(stamp.hlc, Ordering::SeqCst);
    }
}

/// Collects what the feed reports: every change, and the size of each group.
#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, Vec<u8>, Effect)>>, Mutex<Vec<usize>>);

impl ChangeSink for Recorder {
    fn record(&self, group: &[Recorded<'_>]) {
        let mut changes = self.0.lock();
        for r in group {
            changes.push((r.db, r.key.to_vec(), r.change.to_effect()));
        }
        self.1.lock().push(group.len());
    }
}

fn node(id: u64, start: u64) -> (Keyspace, Arc<Recorder>) {
    let ks = Keyspace::new(2, Arc::new(CountingClock(AtomicU64::new(start), id)), KeyHasher::with_seed(7));
    let recorder = Arc::new(Recorder::default());
    assert!(ks.start_feed(recorder.clone()));
    (ks, recorder)
}

fn set(ks: &Keyspace, key: &str, value: &str) {
    let k = ks.key(Bytes::copy_from_slice(key.as_bytes()));
    let mut locks = LockSet::default();
    locks.add(ks, 0, &k);
    let mut txn = ks.lock(&mut locks, 1_000);
    txn.insert(0, k, Value::Str(Bytes::copy_from_slice(value.as_bytes())), Expiry::Persist);
}

fn del(ks: &Keyspace, key: &str) {
    let k = ks.key(Bytes::copy_from_slice(key.as_bytes()));
    let mut locks = LockSet::default();
    locks.add(ks, 0, &k);
    ks.lock(&mut locks, 1_000).delete(0, &k);
}

fn get(ks: &Keyspace, key: &str) -> Option<String> {
    let k = ks.key(Bytes::copy_from_slice(key.as_bytes()));
    let mut locks = LockSet::default();
    locks.add(ks, 0, &k);
    let mut txn = ks.lock(&mut locks, 1_000);
    txn.value(0, &k).map(|v| String::from_utf8(v.as_str().unwrap().to_vec()).unwrap())
}

/// Replays everything `from` reported into `to`.
fn ship(from: &Recorder, to: &Keyspace) -> Vec<Merged> {
    let changes = std::mem::take(&mut *from.0.lock());
    changes.iter().map(|(db, key, effect)| to.merge(*db, Bytes::copy_from_slice(key), effect, 1_000).unwrap()).collect()
}

#[test]
fn the_feed_reports_writes_and_deletes_with_their_stamps() {
    let (a, feed) = node(1, 0);
    set(&a, "k", "v");
    del(&a, "k");
    del(&a, "never-existed");
    let changes = feed.0.lock().clone();
    assert_eq!(changes.len(), 2, "a delete of nothing changes nothing: {changes:?}");
    let put_stamp = changes[0].2.stamp().unwrap();
    assert!(matches!(changes[0].2, Effect::Put(_)));
    assert!(matches!(changes[1].2, Effect::Delete(s) if s > put_stamp));
}

#[test]
fn the_newer_stamp_wins_in_either_order() {
    let (a, feed_a) = node(1, 0);
    let (b, feed_b) = node(2, 100); // b's clock is ahead: its write is the newer one
    set(&a, "k", "from-a");
    set(&b, "k", "from-b");
    assert_eq!(ship(&feed_a, &b), vec![Merged::Stale]);
    assert_eq!(ship(&feed_b, &a), vec![Merged::Applied]);
    assert_eq!(get(&a, "k").as_deref(), Some("from-b"));
    assert_eq!(get(&b, "k").as_deref(), Some("from-b"));
    // The merged entry keeps the writer's stamp, and merges are not fed back.
    assert!(feed_a.0.lock().is_empty() && feed_b.0.lock().is_empty());
}

#[test]
fn a_tombstone_keeps_an_older_write_from_coming_back() {
    let (a, feed_a) = node(1, 0);
    let (b, _) = node(2, 100);
    set(&a, "k", "old");
    let old = std::mem::take(&mut *feed_a.0.lock());
    set(&b, "k", "new");
    del(&b, "k");
    for (db, key, effect) in &old {
        assert_eq!(b.merge(*db, Bytes::copy_from_slice(key), effect, 1_000).unwrap(), Merged::Stale);
    }
    assert_eq!(get(&b, "k"), None, "the delete is newer than the late write");
    assert_eq!(b.tombstone_count(), 1);
    assert_eq!(b.purge_tombstones(0), 0, "not past the horizon yet");
    assert_eq!(b.purge_tombstones(u64::MAX), 1);
}

#[test]
fn a_flush_removes_only_what_is_older() {
    let (a, feed_a) = node(1, 0);
    let (b, _) = node(2, 50);
    set(&b, "older", "1"); // stamp 51 on b
    set(&a, "x", "1");
    let mut locks = LockSet::default();
    locks.add_db(0);
    a.lock(&mut locks, 1_000).clear_db(0); // stamp 2 on a: older than b's write
    let changes = std::mem::take(&mut *feed_a.0.lock());
    assert!(matches!(changes.last().unwrap().2, Effect::Flush(_)));
    for (db, key, effect) in &changes {
        b.merge(*db, Bytes::copy_from_slice(key), effect, 1_000).unwrap();
    }
    assert_eq!(get(&b, "older").as_deref(), Some("1"), "written after the flush (by stamp): survives");

    let (c, _) = node(3, 0);
    set(&c, "k", "v"); // stamp 1
    let flush = Effect::Flush(Stamp { hlc: 10, node: 1 });
    assert_eq!(c.merge(0, Bytes::new(), &flush, 1_000).unwrap(), Merged::Applied);
    assert_eq!(get(&c, "k"), None);
    let late = Stamp { hlc: 5, node: 9 };
    assert_eq!(c.merge(0, Bytes::from_static(b"k"), &Effect::Delete(late), 1_000).unwrap(), Merged::Stale);
    // The boundary is the one `flush_older` keeps: a change stamped at the flush is not older.
    let at_the_flush = Stamp { hlc: 10, node: 1 };
    assert_eq!(c.merge(0, Bytes::from_static(b"j"), &Effect::Delete(at_the_flush), 1_000).unwrap(), Merged::Applied);
}

#[test]
fn writes_around_a_flush_in_one_transaction_keep_their_order_on_every_node() {
    let (a, feed_a) = node(1, 0);
    let (b, _) = node(2, 0);
    set(&a, "old", "1");
    let key = |name: &'static str| a.key(Bytes::from_static(name.as_bytes()));
    let value = |v: &'static str| Value::Str(Bytes::from_static(v.as_bytes()));
    let mut locks = LockSet::default();
    locks.add_db(0);
    {
        // MULTI, SET before, FLUSHDB, SET after, DEL gone-after, EXEC: one transaction, as EXEC runs it.
        let mut txn = a.lock(&mut locks, 1_000);
        txn.next_command();
        txn.insert(0, key("before"), value("v"), Expiry::Persist);
        txn.next_command();
        txn.clear_db(0);
        txn.next_command();
        txn.insert(0, key("after"), value("v"), Expiry::Persist);
        txn.next_command();
        txn.insert(0, key("gone-after"), value("v"), Expiry::Persist);
        txn.next_command();
        assert!(txn.delete(0, &key("gone-after")));
    }
    let shipped = ship(&feed_a, &b);
    assert!(shipped.iter().all(|m| *m == Merged::Applied), "{shipped:?}");
    for (ks, node) in [(&a, "a"), (&b, "b")] {
        assert_eq!(get(ks, "old"), None, "{node}");
        assert_eq!(get(ks, "before"), None, "{node}: written before the flush");
        assert_eq!(get(ks, "after").as_deref(), Some("v"), "{node}: written after the flush");
        assert_eq!(get(ks, "gone-after"), None, "{node}");
    }
    let k = key("gone-after");
    let mut one = LockSet::default();
    one.add(&b, 0, &k);
    assert!(b.lock(&mut one, 1_000).tombstone(0, &k).is_some(), "the delete after the flush reached b");
}

#[test]
fn expiry_leaves_a_tombstone_with_the_entrys_stamp() {
    let (a, feed) = node(1, 0);
    let k = a.key(Bytes::from_static(b"k"));
    let mut locks = LockSet::default();
    locks.add(&a, 0, &k);
    a.lock(&mut locks.clone(), 1_000).insert(0, k.clone(), Value::Str(Bytes::from_static(b"v")), Expiry::At(1_500));
    let written = feed.0.lock().last().unwrap().2.stamp().unwrap();
    assert!(a.lock(&mut locks.clone(), 2_000).value(0, &k).is_none(), "expired");
    assert_eq!(feed.0.lock().len(), 1, "expiry is not shipped: every node expires keys itself");
    assert_eq!(a.lock(&mut locks, 2_000).tombstone(0, &k), Some(written));
}

#[test]
fn a_full_sync_cut_carries_keys_tombstones_and_floors() {
    let (a, _) = node(1, 0);
    set(&a, "live", "v");
    set(&a, "gone", "v");
    del(&a, "gone");
    let cut = a.replication_cut(1_000);
    let keys: usize = cut.dbs.iter().map(|(_, c)| c.iter().count()).sum();
    assert_eq!(keys, 1);
    assert_eq!(cut.tombstones.len(), 1);
    assert_eq!(&cut.tombstones[0].1[..], b"gone");
    assert!(cut.floors.is_empty());
}

#[test]
fn an_expired_keys_tombstone_is_kept_from_its_expiry_and_flushes_are_forgotten_too() {
    // The clock here stamps at about 0 ms: the last writes are far older than any horizon below,
    // and only the time the keys expired at (100 s) keeps their tombstones.
    let (a, _) = node(1, 0);
    let (lazy, active) = (a.key(Bytes::from_static(b"lazy")), a.key(Bytes::from_static(b"active")));
    let mut locks = LockSet::default();
    locks.add(&a, 0, &lazy);
    locks.add(&a, 0, &active);
    for k in [&lazy, &active] {
        let v = Value::Str(Bytes::from_static(b"v"));
        a.lock(&mut locks.clone(), 1_000).insert(0, k.clone(), v, Expiry::At(100_000));
    }
    assert!(a.lock(&mut locks.clone(), 100_500).value(0, &lazy).is_none(), "expired when read");
    assert_eq!(a.expire_cycle(100_500, 20), 1, "expired by the active cycle");
    assert_eq!(a.tombstone_count(), 2);
    // A horizon of 10 s at 100.5 s: both went at 100 s, later than it.
    assert_eq!(a.purge_tombstones(90_500), 0, "kept from the expiry, not from the last write");
    assert_eq!(a.purge_tombstones(100_001), 2, "and not forever");

    let mut db1 = LockSet::default();
    db1.add_db(1);
    a.lock(&mut db1, 1_000).clear_db(1);
    assert_eq!(a.replication_cut(1_000).floors.len(), 1);
    a.purge_tombstones(1);
    assert!(a.replication_cut(1_000).floors.is_empty(), "a flush older than the horizon is forgotten");
}

/// The keys one transaction writes are reported as one group, and merged as one: a reader on the
/// other node never holds the locks between two of them (here: the group's result is all there
/// after one `merge_group`, and a concurrent reader is tested against real servers).
#[test]
fn a_transactions_changes_are_one_group_and_merge_together() {
    let (a, feed) = node(1, 100);
    let (b, _) = node(2, 0);
    set(&a, "src", "v");
    let (src, dst) = (a.key(Bytes::from_static(b"src")), a.key(Bytes::from_static(b"dst")));
    let mut locks = LockSet::default();
    locks.add(&a, 0, &src);
    locks.add(&a, 0, &dst);
    {
        // A RENAME, as its handler does it: the source removed, the destination written.
        let mut txn = a.lock(&mut locks, 1_000);
        let entry = txn.remove(0, &src).unwrap();
        txn.insert_entry(0, dst.clone(), entry);
    }
    assert_eq!(*feed.1.lock(), vec![1, 2], "SET alone, then the rename's two keys together");
    let changes = std::mem::take(&mut *feed.0.lock());
    let group: Vec<(usize, Bytes, &Effect)> =
        changes.iter().skip(1).map(|(db, key, effect)| (*db, Bytes::copy_from_slice(key), effect)).collect();
    let (first_db, first_key, first) = &changes[0];
    assert_eq!(b.merge(*first_db, Bytes::copy_from_slice(first_key), first, 1_000).unwrap(), Merged::Applied);
    let merged = b.merge_group(&group, 1_000).unwrap();
    assert_eq!(merged.as_slice(), &[Merged::Applied, Merged::Applied]);
    assert_eq!(get(&b, "src"), None);
    assert_eq!(get(&b, "dst").as_deref(), Some("v"));
    // Merged again (a second path in a mesh): stale, nothing changes.
    assert_eq!(b.merge_group(&group, 1_000).unwrap().as_slice(), &[Merged::Stale, Merged::Stale]);
}
