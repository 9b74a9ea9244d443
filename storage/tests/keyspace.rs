//! Conformance tests of the keyspace's contract: locking, lazy and active expiry, stamps, WATCH
//! signals, consistent cuts, SCAN's guarantee, whole-database operations.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::{Clock, Expiry, KeyHasher, Keyspace, LockSet, Stamp, Value};

/// A clock that counts: every stamp is one more than the last.
struct CountingClock(AtomicU64);

impl Clock for CountingClock {
    fn stamp(&self, _wall_ms: u64) -> Stamp {
        Stamp { hlc: self.0.fetch_add(1, Ordering::SeqCst) + 1, node: 1 }
    }

    fn witness(&self, stamp: Stamp) {
        self.0.fetch_max(stamp.hlc, Ordering::SeqCst);
    }
}

fn keyspace() -> Keyspace {
    Keyspace::new(2, Arc::new(CountingClock(AtomicU64::new(0))), KeyHasher::with_seed(42))
}

fn s(v: &str) -> Value {
    Value::Str(Bytes::copy_from_slice(v.as_bytes()))
}

fn str_of(v: Option<&Value>) -> Option<String> {
    v.map(|v| String::from_utf8(v.as_str().unwrap().to_vec()).unwrap())
}

#[test]
fn lazy_expiry_and_stamps() {
    let ks = keyspace();
    let k = ks.key(Bytes::from("k"));
    let mut set = LockSet::default();
    set.add(&ks, 0, &k);
    let mut txn = ks.lock(&mut set.clone(), 1_000);
    txn.insert(0, k.clone(), s("v"), Expiry::At(1_500));
    let first = txn.peek(0, &k).unwrap().stamp;
    drop(txn);

    let mut txn = ks.lock(&mut set.clone(), 1_499);
    assert_eq!(str_of(txn.value(0, &k)), Some("v".into()));
    txn.insert(0, k.clone(), s("w"), Expiry::Keep);
    let second = txn.peek(0, &k).unwrap();
    assert!(second.stamp > first, "a later write carries a greater stamp");
    assert_eq!(second.expire_at(), Some(1_500), "Expiry::Keep keeps the TTL");
    drop(txn);

    let mut txn = ks.lock(&mut set, 1_500);
    assert!(txn.get(0, &k).is_none(), "expired at its deadline");
    drop(txn);
    assert_eq!(ks.db_size(0), (0, 0), "the lazy expiry removed the key and its index entry");
}

#[test]
fn active_expiry_removes_due_keys_only() {
    let ks = keyspace();
    let mut all = LockSet::default();
    all.add_all();
    let mut txn = ks.lock(&mut all.clone(), 0);
    for i in 0..100 {
        let expiry = if i % 2 == 0 { Expiry::At(10) } else { Expiry::At(1_000_000) };
        txn.insert(0, ks.key(Bytes::from(format!("k{i}"))), s("x"), expiry);
    }
    drop(txn);
    assert_eq!(ks.expire_cycle(5, 20), 0);
    assert_eq!(ks.expire_cycle(10, 20), 50);
    assert_eq!(ks.db_size(0), (50, 50));
    assert_eq!(ks.stats.expired_keys.get(), 50);
}

#[test]
fn watch_flags_rise_on_writes_not_reads() {
    let ks = keyspace();
    let k = ks.key(Bytes::from("watched"));
    let flag = Arc::new(AtomicBool::new(false));
    ks.watch(0, k.clone(), flag.clone());
    let mut set = LockSet::default();
    set.add(&ks, 0, &k);
    let mut txn = ks.lock(&mut set.clone(), 0);
    assert!(txn.get(0, &k).is_none());
    drop(txn);
    assert!(!flag.load(Ordering::SeqCst), "a read must not fail a WATCH");
    let mut txn = ks.lock(&mut set, 0);
    txn.insert(0, k.clone(), s("v"), Expiry::Persist);
    drop(txn);
    assert!(flag.load(Ordering::SeqCst), "a write must fail a WATCH");
}

#[test]
fn a_cut_is_not_disturbed_by_later_writes() {
    let ks = keyspace();
    let mut db0 = LockSet::default();
    db0.add_db(0);
    let mut txn = ks.lock(&mut db0.clone(), 0);
    for i in 0..500 {
        txn.insert(0, ks.key(Bytes::from(format!("k{i}"))), Value::new_list(), Expiry::Persist);
        txn.modify(0, &ks.key(Bytes::from(format!("k{i}")))).unwrap().as_list_mut().unwrap().push_back("a".into());
    }
    drop(txn);
    let cut = ks.cut(0, 0);
    let mut txn = ks.lock(&mut db0, 0);
    for i in 0..500 {
        let k = ks.key(Bytes::from(format!("k{i}")));
        txn.modify(0, &k).unwrap().as_list_mut().unwrap().push_back("b".into());
        if i % 10 == 0 {
            txn.remove(0, &k);
        }
    }
    txn.insert(0, ks.key(Bytes::from("new")), s("x"), Expiry::Persist);
    drop(txn);
    assert_eq!(cut.len(), 500);
    for (_, e) in cut.iter() {
        assert_eq!(e.value.as_list().unwrap().len(), 1, "the cut still sees each list as it was");
    }
    assert_eq!(ks.db_size(0).0, 451);
}

#[test]
fn scan_visits_every_stable_key_once() {
    let ks = keyspace();
    let mut db0 = LockSet::default();
    db0.add_db(0);
    let stable: HashSet<Vec<u8>> = (0..2_000).map(|i| format!("stable{i}").into_bytes()).collect();
    let mut txn = ks.lock(&mut db0.clone(), 0);
    for k in &stable {
        txn.insert(0, ks.key(Bytes::from(k.clone())), s("x"), Expiry::Persist);
    }
    drop(txn);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
        let txn = ks.lock(&mut db0.clone(), 0);
        cursor = txn.scan(0, cursor, 7, |k, _| seen.push(k.to_vec()));
        drop(txn);
        // Churn between calls: keys come and go, the stable ones stay.
        let mut txn = ks.lock(&mut db0.clone(), 0);
        txn.insert(0, ks.key(Bytes::from(format!("churn{round}"))), s("y"), Expiry::Persist);
        if round > 3 {
            txn.remove(0, &ks.key(Bytes::from(format!("churn{}", round - 3))));
        }
        drop(txn);
        round += 1;
        if cursor == 0 {
            break;
        }
    }
    let stable_seen: Vec<_> = seen.iter().filter(|k| k.starts_with(b"stable")).collect();
    let unique: HashSet<_> = stable_seen.iter().collect();
    assert_eq!(unique.len(), stable.len(), "every stable key is returned");
    assert_eq!(stable_seen.len(), stable.len(), "and only once");
}

#[test]
fn swap_and_clear_databases() {
    let ks = keyspace();
    let mut all = LockSet::default();
    all.add_all();
    let mut txn = ks.lock(&mut all.clone(), 0);
    txn.insert(0, ks.key(Bytes::from("a")), s("0"), Expiry::Persist);
    txn.insert(1, ks.key(Bytes::from("b")), s("1"), Expiry::Persist);
    txn.swap_dbs(0, 1);
    assert!(txn.exists(0, &ks.key(Bytes::from("b"))));
    assert!(txn.exists(1, &ks.key(Bytes::from("a"))));
    assert_eq!(txn.clear_db(1), 1);
    assert_eq!(txn.db_len(1), 0);
    assert_eq!(txn.db_len(0), 1);
}

#[test]
fn shard_locks_serialise_writers() {
    let ks = Arc::new(keyspace());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let ks = ks.clone();
            std::thread::spawn(move || {
                let k = ks.key(Bytes::from("counter"));
                for _ in 0..2_000 {
                    let mut set = LockSet::default();
                    set.add(&ks, 0, &k);
                    let mut txn = ks.lock(&mut set, 0);
                    let n: i64 = txn
                        .peek(0, &k)
                        .map(|e| std::str::from_utf8(e.value.as_str().unwrap()).unwrap().parse().unwrap())
                        .unwrap_or(0);
                    txn.insert(0, k.clone(), Value::Str(Bytes::from((n + 1).to_string())), Expiry::Keep);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let k = ks.key(Bytes::from("counter"));
    let mut set = LockSet::default();
    set.add(&ks, 0, &k);
    let mut txn = ks.lock(&mut set, 0);
    assert_eq!(str_of(txn.value(0, &k)), Some("8000".into()));
}

#[test]
fn modify_or_insert_refuses_other_types_without_writing() {
    let ks = keyspace();
    let k = ks.key(Bytes::from("k"));
    let flag = Arc::new(AtomicBool::new(false));
    let mut set = LockSet::default();
    set.add(&ks, 0, &k);
    let mut txn = ks.lock(&mut set, 0);
    txn.insert(0, k.clone(), s("str"), Expiry::Persist);
    txn.watch(0, &k, flag.clone());
    assert!(txn.modify_or_insert(0, &k, meshkv_storage::ValueType::List).is_err());
    assert!(!flag.load(Ordering::SeqCst), "a refused write signals nobody");
    assert_eq!(str_of(txn.value(0, &k)), Some("str".into()));
}

/// Counts are read without a lock: a transaction holding shards asks for them through its view
/// and sees its own shards as they are now, the others as they were when last released; asking
/// never waits (a command holding a shard once counted keys by locking every shard, itself
/// included, and waited forever).
#[test]
fn counts_come_without_locks_and_see_the_transactions_own_writes() {
    let ks = keyspace();
    let (a, b) = (ks.key(Bytes::from("a")), ks.key(Bytes::from("b")));
    let mut set = LockSet::default();
    set.add(&ks, 0, &a);
    let mut txn = ks.lock(&mut set.clone(), 1_000);
    txn.insert(0, a.clone(), s("1"), Expiry::At(5_000));
    assert_eq!(txn.view().db_size(0), (1, 1), "the view counts the transaction's own shard live");
    assert_eq!(ks.db_size(0), (0, 0), "others see the last released state");
    drop(txn);
    assert_eq!(ks.db_size(0), (1, 1), "published on release");

    // A transaction over every shard, and one over a single shard beside it: counting through
    // the first while the second holds its shard does not wait.
    let mut other = LockSet::default();
    other.add(&ks, 1, &b);
    let mut small = ks.lock(&mut other.clone(), 1_000);
    small.insert(1, b.clone(), s("2"), Expiry::Persist);
    assert_eq!(ks.db_size(1), (0, 0));
    assert_eq!(ks.ram_keys(), 1);
    drop(small);
    let all = ks.lock_all(1_000);
    let view = all.view();
    assert_eq!((view.db_size(0), view.db_size(1), view.ram_keys()), ((1, 1), (1, 0), 2));
}
