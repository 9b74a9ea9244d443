//! How two masters' states of one key become one: the join every merge goes through.
//!
//! Every state a node can hold for a key (a value, or a tombstone) has a *base*: the stamp of the
//! whole write it started from. A plain value's base is its own stamp (every write to it is
//! whole); a tombstone's is the delete's stamp; a [`Counter`]'s is the write that stored its base
//! integer, and a [`DottedSet`]'s the write it started from, however many increments or adds
//! followed. Two states join by their bases: the newer base wins whole, and two states on the same
//! base merge their increments or dots. Ties between kinds on one base are broken by a fixed rank
//! (plain value, then tombstone, then counter, then dotted set, dotted hash, dotted sorted set): a
//! tombstone beats the value it expired with; a plain set, hash or sorted set and the dotted one
//! made from it merge (the dotted one may be only a delta: see [`lifted`]).
//!
//! That order is a join semilattice (commutative, associative, idempotent), which is what lets a
//! peer merge states in any order, any number of times, and end up where every other peer does;
//! `tests::convergence` checks it on random histories. What it means for clients:
//! - plain values are last-writer-wins by stamp, as before;
//! - increments and adds made on different masters on the same base are all kept;
//! - a whole write (SET, a delete, SUNIONSTORE, APPEND on a counter...) replaces the state of every
//!   master whose base is older, increments and adds concurrent with it included.
//!
//! A merged entry's stamp is the greater of the two (the latest change either copy saw), and its
//! expiry is the one of the copy with that stamp: TTLs are last-writer-wins too.

use std::sync::Arc;

use crate::entry::Entry;
use crate::stamp::Stamp;
use crate::value::{DottedHash, DottedSet, DottedZSet, Value};

/// One side of a join: what a node holds for a key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Held<'a> {
    /// A live entry.
    Live(&'a Entry),
    /// A tombstone with the delete's stamp.
    Gone(Stamp),
}

/// What joining an incoming state into the held one gives.
#[derive(Debug)]
pub(crate) enum Joined {
    /// The held state already includes the incoming one: nothing changes.
    Keep,
    /// The incoming state replaces the held one as it is.
    Take,
    /// A new state that includes both.
    Merged(Entry),
}

impl Held<'_> {
    /// `(base, rank)`: the order states join by (see the module's text).
    fn order(self) -> (Stamp, u8) {
        match self {
            Held::Gone(stamp) => (stamp, 1),
            Held::Live(entry) => match &entry.value {
                Value::Counter(c) => (c.reset(), 2),
                Value::DotSet(d) => (d.base(), 3),
                Value::DotHash(d) => (d.base(), 4),
                Value::DotZSet(d) => (d.base(), 5),
                _ => (entry.stamp, 0),
            },
        }
    }
}

/// Joins `incoming` into `held` (`None`: the node holds nothing for the key).
pub(crate) fn join(held: Option<Held<'_>>, incoming: Held<'_>) -> Joined {
    let Some(held) = held else { return Joined::Take };
    // A plain set, hash or sorted set and a dotted one based on it: the dotted one started from
    // it, and may be only a delta (the plain value's elements are not in it), so they merge.
    if let (Held::Live(a), Held::Live(b)) = (held, incoming) {
        if let Some(a) = lifted(a, b) {
            return match join(Some(Held::Live(&a)), incoming) {
                Joined::Keep => Joined::Merged(a),
                joined => joined,
            };
        }
        if let Some(b) = lifted(b, a) {
            return match join(Some(held), Held::Live(&b)) {
                Joined::Take => Joined::Merged(b),
                joined => joined,
            };
        }
    }
    let (mine, theirs) = (held.order(), incoming.order());
    if mine != theirs {
        return if theirs > mine { Joined::Take } else { Joined::Keep };
    }
    let (Held::Live(a), Held::Live(b)) = (held, incoming) else { return Joined::Keep };
    // Same base and kind: merge. The later copy lends its stamp and expiry.
    let later = if b.stamp > a.stamp { b } else { a };
    let (value, changed) = match (&a.value, &b.value) {
        (Value::Counter(x), Value::Counter(y)) => {
            let mut merged = (**x).clone();
            merged.merge(y);
            let changed = !merged.same_state(x);
            (Value::Counter(Arc::new(merged)), changed)
        }
        (Value::DotSet(x), Value::DotSet(y)) => {
            let mut merged = (**x).clone();
            let changed = merged.merge(y);
            (Value::DotSet(Arc::new(merged)), changed)
        }
        (Value::DotHash(x), Value::DotHash(y)) => {
            let mut merged = (**x).clone();
            let changed = merged.merge(y);
            (Value::DotHash(Arc::new(merged)), changed)
        }
        (Value::DotZSet(x), Value::DotZSet(y)) => {
            let mut merged = (**x).clone();
            let changed = merged.merge(y);
            (Value::DotZSet(Arc::new(merged)), changed)
        }
        // Two plain values on one base are one write.
        _ => return if b.stamp > a.stamp { Joined::Take } else { Joined::Keep },
    };
    if !changed && a.stamp >= b.stamp {
        return Joined::Keep;
    }
    let mut entry = Entry::new(value, later.stamp, later.expire_at(), 0);
    entry.access = a.access.clone();
    Joined::Merged(entry)
}

/// [`join`] of two copies of one dotted set, hash or sorted set on the same base, merging `incoming` into
/// `held` where it lies, so that a delta merged into a large set costs no copy of the set. None
/// when the join is anything else. The stamp and expiry are the caller's to update (the later
/// copy's), since the shard keeps expiries indexed. True if the value changed.
pub(crate) fn merge_in_place(held: &mut Value, incoming: &Value) -> Option<bool> {
    match (held, incoming) {
        (Value::DotSet(x), Value::DotSet(y)) if x.base() == y.base() => Some(Arc::make_mut(x).merge(y)),
        (Value::DotHash(x), Value::DotHash(y)) if x.base() == y.base() => Some(Arc::make_mut(x).merge(y)),
        (Value::DotZSet(x), Value::DotZSet(y)) if x.base() == y.base() => Some(Arc::make_mut(x).merge(y)),
        _ => None,
    }
}

/// `plain` as the dotted set, hash or sorted set `dotted` is based on, if it is the plain one that
/// write stored: every node lifts it the same way ([`DottedSet::from_plain`]).
fn lifted(plain: &Entry, dotted: &Entry) -> Option<Entry> {
    let value = match (&plain.value, &dotted.value) {
        (Value::Set(set), Value::DotSet(d)) if d.base() == plain.stamp => {
            Value::DotSet(Arc::new(DottedSet::from_plain(set, plain.stamp)))
        }
        (Value::Hash(hash), Value::DotHash(d)) if d.base() == plain.stamp => {
            Value::DotHash(Arc::new(DottedHash::from_plain(hash, plain.stamp)))
        }
        (Value::ZSet(zset), Value::DotZSet(d)) if d.base() == plain.stamp => {
            Value::DotZSet(Arc::new(DottedZSet::from_plain(zset, plain.stamp)))
        }
        _ => return None,
    };
    let mut entry = Entry::new(value, plain.stamp, plain.expire_at(), 0);
    entry.access = plain.access.clone();
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Counter;
    use bytes::Bytes;

    fn stamp(hlc: u64, node: u64) -> Stamp {
        Stamp { hlc, node }
    }

    fn entry(value: Value, stamp: Stamp) -> Entry {
        Entry::new(value, stamp, None, 0)
    }

    /// What a node holds for one key, in a model of the mesh.
    #[derive(Clone, Debug)]
    enum State {
        Nothing,
        Gone(Stamp),
        Live(Entry),
    }

    impl State {
        fn held(&self) -> Option<Held<'_>> {
            match self {
                State::Nothing => None,
                State::Gone(s) => Some(Held::Gone(*s)),
                State::Live(e) => Some(Held::Live(e)),
            }
        }

        fn merge(&mut self, incoming: &State) {
            let Some(theirs) = incoming.held() else { return };
            match join(self.held(), theirs) {
                Joined::Keep => {}
                Joined::Take => {
                    // As `Txn::merge` keeps a delta it takes: as a state.
                    *self = incoming.clone();
                    if let State::Live(e) = self {
                        e.value.settle_as_state();
                    }
                }
                Joined::Merged(e) => *self = State::Live(e),
            }
        }

        /// What a client reads, and enough of the metadata to tell states apart.
        fn seen(&self) -> String {
            match self {
                State::Nothing => "nothing".into(),
                State::Gone(s) => format!("gone {s:?}"),
                State::Live(e) => match &e.value {
                    Value::Counter(c) => format!("counter {} base {:?} at {:?}", c.total(), c.reset(), e.stamp),
                    Value::DotSet(d) => {
                        let mut m: Vec<_> = d.members().iter().cloned().collect();
                        m.sort();
                        let ctx = d.context().sorted();
                        format!("set {m:?} base {:?} ctx {ctx:?} at {:?}", d.base(), e.stamp)
                    }
                    Value::Str(_) | Value::Small(_) => format!("str {:?} at {:?}", e.value.to_str(), e.stamp),
                    Value::Set(s) => format!("plain set of {} at {:?}", s.len(), e.stamp),
                    Value::DotHash(d) => {
                        let mut fields: Vec<_> =
                            d.iter_dotted().map(|(f, w)| (Bytes::copy_from_slice(f), w.to_vec())).collect();
                        fields.sort();
                        let ctx = d.context().sorted();
                        format!("hash {fields:?} shown {:?} ctx {ctx:?} at {:?}", sorted_pairs(d.fields()), e.stamp)
                    }
                    Value::Hash(h) => format!("plain hash {:?} at {:?}", sorted_pairs(h), e.stamp),
                    Value::DotZSet(d) => {
                        let shown: Vec<(Bytes, f64)> =
                            d.view().iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect();
                        format!("zset {shown:?} ctx {:?} at {:?}", d.context().sorted(), e.stamp)
                    }
                    Value::ZSet(z) => format!("plain zset of {} at {:?}", z.len(), e.stamp),
                    _ => "other".into(),
                },
            }
        }
    }

    fn sorted_pairs(h: &crate::value::HashValue) -> Vec<(Bytes, Bytes)> {
        let mut v: Vec<(Bytes, Bytes)> =
            h.iter().map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))).collect();
        v.sort();
        v
    }

    /// A tiny xorshift, so that a failing seed reproduces.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// One local write on node `node` at clock `hlc`, as the commands make them with replication
    /// on: the new state, and for a write to a dotted set or hash that was dotted already, the
    /// delta peers are sent instead (as `Txn` sends it).
    fn write(state: &State, op: u64, node: u64, hlc: u64, rng: &mut Rng, kind: u64) -> (State, Option<State>) {
        let mut delta = None;
        let state = write_noting(state, op, node, hlc, rng, kind, &mut delta);
        (state, delta)
    }

    fn write_noting(
        state: &State,
        op: u64,
        node: u64,
        hlc: u64,
        rng: &mut Rng,
        kind: u64,
        noted: &mut Option<State>,
    ) -> State {
        let at = stamp(hlc, node);
        let base_of_absent = |s: &State| match s {
            State::Gone(g) => *g,
            _ => Stamp::default(),
        };
        match (kind, op) {
            // Counters: INCRBY, or now and then SET / DEL.
            (0, 0..=6) => {
                let mut c = match state {
                    State::Live(e) => match &e.value {
                        Value::Counter(c) => (**c).clone(),
                        s @ (Value::Str(_) | Value::Small(_)) => Counter::starting_from(
                            std::str::from_utf8(s.as_str().unwrap()).unwrap().parse().unwrap(),
                            e.stamp,
                        ),
                        _ => unreachable!(),
                    },
                    other => Counter::starting_from(0, base_of_absent(other)),
                };
                c.add(1 + rng.below(5) as i64, at);
                State::Live(entry(Value::Counter(Arc::new(c)), at))
            }
            (0, 7..=8) => State::Live(entry(Value::Str(Bytes::from(rng.below(100).to_string())), at)),
            (0, _) => State::Gone(at),
            // Sets: SADD, SREM, or now and then a whole write / DEL.
            (1, 0..=7) => {
                let (mut d, was_dotted) = match state {
                    State::Live(e) => match &e.value {
                        Value::DotSet(d) => ((**d).clone(), true),
                        Value::Set(s) => (DottedSet::from_plain(s, e.stamp), false),
                        _ => unreachable!(),
                    },
                    other => (DottedSet::empty(base_of_absent(other)), false),
                };
                let mut delta = d.delta();
                let k = rng.below(6);
                let member = Bytes::from(format!("m{k}"));
                if op <= 5 {
                    // Now and then two members by one write: both carry its stamp as their dot,
                    // and a later SREM of one must not take the other.
                    if op.is_multiple_of(2) {
                        d.insert_noting(Bytes::from(format!("m{}", (k + 1) % 6)), at, &mut delta);
                    }
                    d.insert_noting(member, at, &mut delta);
                } else {
                    d.remove_noting(&member, &mut delta);
                }
                if was_dotted {
                    *noted = Some(State::Live(entry(Value::DotSet(Arc::new(delta)), at)));
                }
                // Emptied, the set is gone but leaves its ghost (what `Txn` keeps beside the
                // tombstone, and what a node holds for the key when merging).
                State::Live(entry(Value::DotSet(Arc::new(d)), at))
            }
            (1, 8) => {
                let mut plain = crate::value::SetValue::default();
                let k = rng.below(6);
                plain.insert(Bytes::from(format!("m{k}")));
                plain.insert(Bytes::from(format!("m{}", (k + 1) % 6)));
                State::Live(entry(Value::Set(Arc::new(plain)), at))
            }
            // DEL: of a dotted set, its ghost (an observed remove of every member); else a tombstone.
            (1, _) => match state {
                State::Live(Entry { value: Value::DotSet(d), .. }) => {
                    State::Live(entry(Value::DotSet(Arc::new(d.cleared())), at))
                }
                _ => State::Gone(at),
            },
            // Hashes: HSET (the value names its write), HDEL, or now and then a whole write / DEL.
            (2, 0..=7) => {
                let (mut d, was_dotted) = match state {
                    State::Live(e) => match &e.value {
                        Value::DotHash(d) => ((**d).clone(), true),
                        Value::Hash(h) => (DottedHash::from_plain(h, e.stamp), false),
                        _ => unreachable!(),
                    },
                    other => (DottedHash::empty(base_of_absent(other)), false),
                };
                let mut delta = d.delta();
                let k = rng.below(4);
                let field = Bytes::from(format!("f{k}"));
                if op <= 5 {
                    if op.is_multiple_of(2) {
                        d.insert_noting(
                            Bytes::from(format!("f{}", (k + 1) % 4)),
                            Bytes::from(format!("w{hlc}")),
                            at,
                            &mut delta,
                        );
                    }
                    d.insert_noting(field, Bytes::from(format!("v{hlc}")), at, &mut delta);
                } else {
                    d.remove_noting(&field, &mut delta);
                }
                if was_dotted {
                    *noted = Some(State::Live(entry(Value::DotHash(Arc::new(delta)), at)));
                }
                State::Live(entry(Value::DotHash(Arc::new(d)), at))
            }
            (2, 8) => {
                let mut plain = crate::value::HashValue::default();
                plain.insert(Bytes::from(format!("f{}", rng.below(4))), Bytes::from_static(b"whole"));
                State::Live(entry(Value::Hash(Arc::new(plain)), at))
            }
            (2, _) => match state {
                State::Live(Entry { value: Value::DotHash(d), .. }) => {
                    State::Live(entry(Value::DotHash(Arc::new(d.cleared())), at))
                }
                _ => State::Gone(at),
            },
            // Sorted sets: ZADD (two members by one write now and then; the score names the
            // write), ZREM, ZPOPMIN, or now and then a whole write / DEL.
            (3, 0..=7) => {
                let (mut d, was_dotted) = match state {
                    State::Live(e) => match &e.value {
                        Value::DotZSet(d) => ((**d).clone(), true),
                        Value::ZSet(z) => (DottedZSet::from_plain(z, e.stamp), false),
                        _ => unreachable!(),
                    },
                    other => (DottedZSet::empty(base_of_absent(other)), false),
                };
                let mut delta = d.delta();
                let k = rng.below(5);
                let member = Bytes::from(format!("z{k}"));
                match op {
                    0..=4 => {
                        if op.is_multiple_of(2) {
                            d.insert(Bytes::from(format!("z{}", (k + 1) % 5)), hlc as f64 / 3.0, at, Some(&mut delta));
                        }
                        d.insert(member, hlc as f64, at, Some(&mut delta));
                    }
                    5 => {
                        d.pop(false, Some(&mut delta));
                    }
                    _ => {
                        d.remove(&member, Some(&mut delta));
                    }
                }
                if was_dotted {
                    *noted = Some(State::Live(entry(Value::DotZSet(Arc::new(delta)), at)));
                }
                State::Live(entry(Value::DotZSet(Arc::new(d)), at))
            }
            (3, 8) => {
                let mut plain = crate::value::ZSet::default();
                plain.insert(Bytes::from(format!("z{}", rng.below(5))), -1.0);
                State::Live(entry(Value::ZSet(Arc::new(plain)), at))
            }
            (3, _) => match state {
                State::Live(Entry { value: Value::DotZSet(d), .. }) => {
                    State::Live(entry(Value::DotZSet(Arc::new(d.cleared())), at))
                }
                _ => State::Gone(at),
            },
            _ => State::Gone(at),
        }
    }

    /// Three nodes write one key and exchange their states in random orders, with duplicates and
    /// stale redeliveries; once every node has every other's final state, all agree. With only
    /// adds, the result is also exactly what the README's table says: every add kept.
    #[test]
    fn convergence() {
        for seed in 1..=500u64 {
            run(seed, false);
        }
    }

    /// As [`convergence`], but the nodes send each other what `Txn` sends: a write to a dotted
    /// set or hash travels as its delta (now and then also as the whole state, as a full sync
    /// sends it). Once every node has had every message, in its own random order and some twice,
    /// all agree without any whole-state exchange; and then merging any node's whole state into
    /// any other changes nothing: applying deltas and merging states agree.
    #[test]
    fn deltas_converge_and_agree_with_states() {
        for seed in 1..=1000u64 {
            run(seed, true);
        }
    }

    fn run(seed: u64, deltas: bool) {
        {
            // 0: counters with SETs and DELs; 1: sets with removes, whole writes and DELs; 4: hashes
            // with HDELs, whole writes and DELs; 5: sorted sets with ZREMs, pops, whole writes
            // and DELs;
            // 2: adds only; 3: increments only (the last two have a known exact result).
            let mode = seed % 6;
            let mut rng = Rng((seed * 0x9E37_79B9_7F4A_7C15) | 1);
            let mut nodes = [State::Nothing, State::Nothing, State::Nothing];
            let mut sent: Vec<State> = Vec::new();
            let mut past: [Vec<State>; 3] = Default::default();
            let mut expected_total = 0i64;
            let mut expected_members = std::collections::BTreeSet::new();
            for step in 0..60u64 {
                let node = rng.below(3) as usize;
                let hlc = (step + 1) * 10 + node as u64;
                if rng.below(3) == 0 && !sent.is_empty() {
                    let pick = sent[rng.below(sent.len() as u64) as usize].clone();
                    nodes[node].merge(&pick);
                    continue;
                }
                // A node's own earlier state is one it has seen whole: merging it back changes
                // nothing (this is what catches a merge that brings back what a later write
                // replaced, consistently on every node, which convergence alone would not).
                if rng.below(4) == 0 && !past[node].is_empty() {
                    let old = past[node][rng.below(past[node].len() as u64) as usize].clone();
                    let before = nodes[node].seen();
                    nodes[node].merge(&old);
                    assert_eq!(nodes[node].seen(), before, "seed {seed}: merging a node's own past changed it");
                    continue;
                }
                let (op, kind) = match mode {
                    2 => (rng.below(6), 1),
                    3 => (rng.below(7), 0),
                    4 => (rng.below(10), 2),
                    5 => (rng.below(10), 3),
                    _ => (rng.below(10), mode),
                };
                let mut probe = Rng(rng.0);
                match mode {
                    2 => {
                        let k = probe.below(6);
                        expected_members.insert(format!("m{k}"));
                        if op.is_multiple_of(2) {
                            expected_members.insert(format!("m{}", (k + 1) % 6));
                        }
                    }
                    3 => expected_total += 1 + probe.below(5) as i64,
                    _ => {}
                }
                past[node].push(nodes[node].clone());
                let (state, delta) = write(&nodes[node].clone(), op, node as u64 + 1, hlc, &mut rng, kind);
                nodes[node] = state;
                match delta.filter(|_| deltas) {
                    Some(delta) => {
                        sent.push(delta);
                        if rng.below(4) == 0 {
                            sent.push(nodes[node].clone());
                        }
                    }
                    None => sent.push(nodes[node].clone()),
                }
            }
            if deltas {
                for node in nodes.iter_mut() {
                    let mut order: Vec<usize> =
                        (0..sent.len()).chain(0..sent.len() / 3).map(|k| k % sent.len()).collect();
                    for k in (1..order.len()).rev() {
                        order.swap(k, rng.below(k as u64 + 1) as usize);
                    }
                    for k in order {
                        node.merge(&sent[k]);
                    }
                }
                let seen: Vec<String> = nodes.iter().map(State::seen).collect();
                assert!(seen.iter().all(|s| *s == seen[0]), "seed {seed}: nodes disagree after every delta: {seen:#?}");
                for i in 0..3 {
                    for j in 0..3 {
                        let theirs = nodes[j].clone();
                        nodes[i].merge(&theirs);
                        assert_eq!(nodes[i].seen(), seen[0], "seed {seed}: a whole state changed what deltas made");
                    }
                }
            }
            for _ in 0..2 {
                for i in 0..3 {
                    for j in 0..3 {
                        let theirs = nodes[j].clone();
                        nodes[i].merge(&theirs);
                    }
                }
            }
            let seen: Vec<String> = nodes.iter().map(State::seen).collect();
            assert!(seen.iter().all(|s| *s == seen[0]), "seed {seed}: nodes disagree: {seen:#?}");
            if !(mode == 2 || mode == 3) {
                return; // no exact result to compare with: convergence is the check
            }
            let State::Live(e) = &nodes[0] else { panic!("seed {seed}: no deletes, yet the key is gone") };
            if mode == 2 {
                let members: std::collections::BTreeSet<String> =
                    e.value.as_set().unwrap().iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
                assert_eq!(members, expected_members, "seed {seed}: an add was lost");
            }
            if mode == 3 {
                let total: i64 = std::str::from_utf8(e.value.as_str().unwrap()).unwrap().parse().unwrap();
                assert_eq!(total, expected_total, "seed {seed}: an increment was lost");
            }
        }
    }

    #[test]
    fn concurrent_increments_on_one_base_all_count() {
        let base = Counter::starting_from(3, stamp(1, 9));
        let (mut a, mut b) = (base.clone(), base);
        a.add(2, stamp(5, 1));
        b.add(4, stamp(6, 2));
        let (ea, eb) =
            (entry(Value::Counter(Arc::new(a)), stamp(5, 1)), entry(Value::Counter(Arc::new(b)), stamp(6, 2)));
        let Joined::Merged(m) = join(Some(Held::Live(&ea)), Held::Live(&eb)) else { panic!("expected a merge") };
        assert_eq!(m.value.as_str().unwrap(), b"9");
        assert_eq!(m.stamp, stamp(6, 2));
    }

    #[test]
    fn a_newer_whole_write_replaces_a_counter_and_an_older_one_does_not() {
        let mut c = Counter::starting_from(0, stamp(10, 1));
        c.add(1, stamp(30, 2));
        let counter = entry(Value::Counter(Arc::new(c)), stamp(30, 2));
        let newer = entry(Value::Str(Bytes::from_static(b"x")), stamp(20, 3));
        let older = entry(Value::Str(Bytes::from_static(b"y")), stamp(5, 3));
        assert!(matches!(join(Some(Held::Live(&counter)), Held::Live(&newer)), Joined::Take));
        assert!(matches!(join(Some(Held::Live(&counter)), Held::Live(&older)), Joined::Keep));
        assert!(matches!(join(Some(Held::Live(&counter)), Held::Gone(stamp(11, 1))), Joined::Take));
        assert!(matches!(join(Some(Held::Gone(stamp(10, 1))), Held::Live(&counter)), Joined::Take));
    }

    #[test]
    fn a_deleted_sets_ghost_keeps_the_adds_the_delete_did_not_see() {
        let mut set = DottedSet::empty(Stamp::default());
        set.insert(Bytes::from_static(b"seen"), stamp(1, 1));
        let ghost = entry(Value::DotSet(Arc::new(set.cleared())), stamp(5, 2)); // DEL on node 2
        set.insert(Bytes::from_static(b"concurrent"), stamp(6, 1)); // meanwhile on node 1
        let live = entry(Value::DotSet(Arc::new(set)), stamp(6, 1));
        for (held, incoming) in [(&ghost, &live), (&live, &ghost)] {
            let merged = match join(Some(Held::Live(held)), Held::Live(incoming)) {
                Joined::Merged(e) => e,
                Joined::Take => incoming.clone(),
                Joined::Keep => held.clone(),
            };
            let members: Vec<&Bytes> = merged.value.as_set().unwrap().iter().collect();
            assert_eq!(members, [&Bytes::from_static(b"concurrent")]);
        }
    }

    #[test]
    fn a_tombstone_beats_the_value_it_expired_with() {
        let value = entry(Value::Str(Bytes::from_static(b"v")), stamp(7, 1));
        assert!(matches!(join(Some(Held::Live(&value)), Held::Gone(stamp(7, 1))), Joined::Take));
        assert!(matches!(join(Some(Held::Gone(stamp(7, 1))), Held::Live(&value)), Joined::Keep));
    }
}
