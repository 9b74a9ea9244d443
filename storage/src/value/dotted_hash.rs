//! A hash that several masters write at once: fields are an add-wins set, a field's value the
//! last writer's.
//!
//! With replication on, HSET, HMSET, HSETNX, HDEL, HINCRBY and HINCRBYFLOAT turn a hash key into a
//! [`DottedHash`]: the fields of a [`DottedSet`](super::DottedSet), each write of a field tagged
//! with its *dot* (the write's stamp) and carrying the value it wrote. Two copies merge field by
//! field as the set does (a dot one copy lacks survives unless that copy saw it, i.e. removed
//! it), and a field shows the value of its greatest surviving dot. So fields written on
//! different masters at once are all kept, two writes of one field keep the later one's value,
//! and an HDEL removes only the writes it saw: a concurrent HSET of the field survives it.
//!
//! Fields sit in a plain [`HashValue`] holding, for each, the value of its greatest dot, so every
//! read command reads a dotted hash as a plain one ([`DottedHash::fields`]). A field written on
//! two masters at once has two dots until a later write of it sees both; the others, with their
//! values, sit in a side table, empty in the common case.
//!
//! Peers are sent a command's *delta*, as for a dotted set (see its module's text): the fields it
//! wrote with their new values and dots, and in the context the writes it replaced or removed.

use bytes::Bytes;
use smallvec::SmallVec;

use super::causal::{Concurrent, Context, Seen};
use crate::stamp::Stamp;
use crate::value::HashValue;

/// The writes of one field that no copy has seen replaced: each dot with the value it wrote.
pub type Writes = SmallVec<[(Stamp, Bytes); 1]>;

/// An add-wins hash with last-writer-wins values (see the module's text).
#[derive(Clone, Debug, Default)]
pub struct DottedHash {
    /// The stamp of the whole write this hash started from (see `crate::crdt`).
    base: Stamp,
    /// Each field with the value of its greatest dot, as reads see them.
    fields: HashValue,
    /// The greatest dot of each field, at the field's position in `fields`.
    dots: Vec<Stamp>,
    /// The other writes of fields written concurrently on several masters.
    more: Concurrent<Writes>,
    /// For each node, the greatest clock reading of its writes this copy has seen.
    context: Context,
}

impl DottedHash {
    /// An empty hash on `base` that has seen nothing.
    pub fn empty(base: Stamp) -> DottedHash {
        DottedHash { base, ..DottedHash::default() }
    }

    /// A plain hash written whole at `base`, as a dotted hash: every field's write is that
    /// write. Every node turns the same plain hash into the same dotted one.
    pub fn from_plain(hash: &HashValue, base: Stamp) -> DottedHash {
        let mut dotted = DottedHash::empty(base);
        dotted.fields = hash.clone();
        dotted.dots = vec![base; hash.len()];
        if !hash.is_empty() {
            dotted.context.see(base);
        }
        dotted
    }

    /// Rebuilds a hash from its parts (the codec). Dots outside the context widen it (records
    /// written before contexts had clouds).
    pub fn from_parts(base: Stamp, context: Context, fields: impl IntoIterator<Item = (Bytes, Writes)>) -> DottedHash {
        let mut hash = DottedHash { base, context, ..DottedHash::default() };
        for (field, writes) in fields {
            for (dot, _) in &writes {
                if !hash.context.covers(&field, *dot) {
                    hash.context.see(*dot);
                }
            }
            hash.put(field, writes);
        }
        hash
    }

    /// The stamp of the whole write this hash started from.
    pub fn base(&self) -> Stamp {
        self.base
    }

    /// The fields and values, as every read command sees them.
    pub fn fields(&self) -> &HashValue {
        &self.fields
    }

    /// What this copy has seen.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// An empty delta for a command about to write this hash.
    pub fn delta(&self) -> DottedHash {
        DottedHash { base: self.base, context: Context::for_delta(), ..DottedHash::default() }
    }

    /// Drops the delta mark of a delta kept as a node's state (see [`Context::settle_as_state`]).
    pub fn settle_as_state(&mut self) {
        self.context.settle_as_state();
    }

    /// This hash with every field removed: what a delete of it leaves (its ghost).
    pub fn cleared(&self) -> DottedHash {
        DottedHash { base: self.base, context: self.context.clone(), ..DottedHash::default() }
    }

    /// The surviving writes of the field at `index`, its greatest first.
    pub fn writes_at(&self, index: usize) -> Writes {
        let mut writes = Writes::new();
        if let Some(((field, value), &dot)) = self.fields.get_index(index).zip(self.dots.get(index)) {
            writes.push((dot, Bytes::copy_from_slice(value)));
            if let Some(more) = self.more.get(field) {
                writes.extend(more.iter().cloned());
            }
        }
        writes
    }

    /// Every field with its surviving writes.
    pub fn iter_dotted(&self) -> impl Iterator<Item = (&[u8], Writes)> + '_ {
        self.fields.keys().enumerate().map(|(i, f)| (f, self.writes_at(i)))
    }

    /// Writes `value` to `field` as the write stamped `dot`; true if the field is new. The write
    /// sees the field's earlier writes, so they go.
    pub fn insert(&mut self, field: Bytes, value: Bytes, dot: Stamp) -> bool {
        self.context.see(dot);
        match self.fields.get_index_of(&field) {
            Some(index) => {
                self.fields.set_index(index, value);
                self.dots[index] = dot;
                self.more.forget(&field);
                false
            }
            None => {
                self.fields.insert(field, value);
                self.dots.push(dot);
                true
            }
        }
    }

    /// Removes `field`; true if it was there. Its writes stay in the context: seen, and gone.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.fields.swap_remove_full(field) {
            Some(index) => {
                self.dots.swap_remove(index);
                self.more.forget(field);
                true
            }
            None => false,
        }
    }

    /// [`DottedHash::insert`], noting in `delta` what peers need to do the same.
    pub fn insert_noting(&mut self, field: Bytes, value: Bytes, dot: Stamp, delta: &mut DottedHash) -> bool {
        let after = self.context.reading(dot.node);
        delta.context.note(Seen { dot, after });
        for (seen, _) in self.writes_of(&field).into_iter().filter(|(d, _)| *d != dot) {
            delta.context.note_removed(field.clone(), seen);
        }
        delta.remove(&field);
        delta.put(field.clone(), Writes::from_buf([(dot, value.clone())]));
        self.insert(field, value, dot)
    }

    /// [`DottedHash::remove`], noting in `delta` what peers need to do the same.
    pub fn remove_noting(&mut self, field: &[u8], delta: &mut DottedHash) -> bool {
        for (seen, _) in self.writes_of(field) {
            delta.context.note_removed(Bytes::copy_from_slice(field), seen);
        }
        delta.remove(field);
        self.remove(field)
    }

    /// The surviving writes of `field` (none if it is not there).
    fn writes_of(&self, field: &[u8]) -> Writes {
        self.fields.get_index_of(field).map(|index| self.writes_at(index)).unwrap_or_default()
    }

    /// Takes in another copy with the same base (or a delta), field by field as a dotted set
    /// merges members, in place; a field shows the value of its greatest surviving write. True if
    /// anything changed.
    pub fn merge(&mut self, other: &DottedHash) -> bool {
        debug_assert_eq!(self.base, other.base, "hashes of different bases do not merge");
        let has = |writes: &Writes, dot: Stamp| writes.iter().any(|(d, _)| *d == dot);
        let mut changed = false;
        // Fields only this copy has lose the writes the other saw (it removed or replaced them):
        // a delta names the fields it saw go (see `Context`); a whole copy may have seen any go.
        if other.context.is_delta() {
            for gone in other.context.removed().iter().filter(|gone| !other.fields.contains_key(&gone.element)) {
                let mine = self.writes_of(&gone.element);
                if has(&mine, gone.dot) {
                    changed = true;
                    self.remove(&gone.element);
                    let kept: Writes =
                        mine.into_iter().filter(|(d, _)| !other.context.covers(&gone.element, *d)).collect();
                    self.put(gone.element.clone(), kept);
                }
            }
        } else {
            let mut index = 0;
            while let Some((field, _)) = self.fields.get_index(index) {
                let writes = self.writes_at(index);
                if !writes.iter().any(|(d, _)| other.context.covers(field, *d)) || other.fields.contains_key(field) {
                    index += 1;
                    continue;
                }
                changed = true;
                let field = Bytes::copy_from_slice(field);
                self.remove(&field);
                let kept: Writes = writes.into_iter().filter(|(d, _)| !other.context.covers(&field, *d)).collect();
                self.put(field, kept);
            }
        }
        for (index, field) in other.fields.keys().enumerate() {
            let theirs = other.writes_at(index);
            let mine = self.writes_of(field);
            let mut kept: Writes =
                mine.iter().filter(|(d, _)| has(&theirs, *d) || !other.context.covers(field, *d)).cloned().collect();
            kept.extend(theirs.iter().filter(|(d, _)| !has(&mine, *d) && !self.context.covers(field, *d)).cloned());
            if kept.len() == mine.len() && kept.iter().all(|(d, _)| has(&mine, *d)) {
                continue;
            }
            changed = true;
            self.remove(field);
            self.put(Bytes::copy_from_slice(field), kept);
        }
        let before = self.context.clone();
        self.context.join(&other.context);
        changed || self.context != before
    }

    /// Whether two copies hold the same state, whatever order their fields and nodes are in.
    pub fn same_state(&self, other: &DottedHash) -> bool {
        let sorted = |hash: &DottedHash| {
            let context = hash.context.sorted();
            let mut fields: Vec<(Bytes, Vec<(Stamp, Bytes)>)> = hash
                .iter_dotted()
                .map(|(f, writes)| {
                    let mut writes = writes.to_vec();
                    writes.sort();
                    (Bytes::copy_from_slice(f), writes)
                })
                .collect();
            fields.sort();
            (context, fields)
        };
        self.base == other.base && sorted(self) == sorted(other)
    }

    /// Bytes the dots and context take beyond a plain hash's fields (for MEMORY USAGE).
    pub fn overhead(&self) -> usize {
        std::mem::size_of::<DottedHash>() - std::mem::size_of::<HashValue>()
            + self.dots.capacity() * std::mem::size_of::<Stamp>()
            + self.more.values().map(|w| 48 + w.iter().map(|(_, v)| 24 + v.len()).sum::<usize>()).sum::<usize>()
    }

    /// Appends `field` with its surviving `writes` (none: it is not there); the greatest write's
    /// value is the one reads see.
    fn put(&mut self, field: Bytes, mut writes: Writes) {
        if writes.is_empty() || self.fields.contains_key(&field) {
            return;
        }
        writes.sort_by_key(|w| std::cmp::Reverse(w.0));
        writes.dedup_by(|a, b| a.0 == b.0);
        let (dot, value) = writes.remove(0);
        if !writes.is_empty() {
            self.more.insert(field.clone(), writes);
        }
        self.fields.insert(field, value);
        self.dots.push(dot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::testing::{b, dot};

    fn shown(hash: &DottedHash) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = hash
            .fields()
            .iter()
            .map(|(f, v)| (String::from_utf8_lossy(f).into_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        v.sort();
        v
    }

    fn merged(a: &DottedHash, b2: &DottedHash) -> DottedHash {
        let mut m = a.clone();
        m.merge(b2);
        m
    }

    #[test]
    fn fields_written_on_two_masters_are_all_kept_and_one_field_keeps_the_later_value() {
        let (mut a, mut b2) = (DottedHash::empty(Stamp::default()), DottedHash::empty(Stamp::default()));
        a.insert(b("x"), b("from a"), dot(1, 1));
        a.insert(b("same"), b("early"), dot(2, 1));
        b2.insert(b("y"), b("from b"), dot(1, 2));
        b2.insert(b("same"), b("late"), dot(3, 2));
        let (ab, ba) = (merged(&a, &b2), merged(&b2, &a));
        assert!(ab.same_state(&ba));
        assert_eq!(
            shown(&ab),
            [("same".into(), "late".into()), ("x".into(), "from a".into()), ("y".into(), "from b".into())]
        );
    }

    #[test]
    fn an_hdel_takes_only_the_writes_it_saw() {
        let mut a = DottedHash::empty(Stamp::default());
        a.insert(b("f"), b("1"), dot(1, 1));
        let mut b2 = a.clone();
        b2.remove(b"f");
        a.insert(b("f"), b("2"), dot(5, 1)); // concurrent with the HDEL
        assert_eq!(shown(&merged(&b2, &a)), [("f".into(), "2".into())]);
        let mut c = a.clone();
        c.remove(b"f");
        assert!(merged(&a, &c).fields().is_empty(), "an HDEL that saw every write removes the field");
    }

    #[test]
    fn a_field_keeps_the_value_of_its_surviving_write() {
        // Two concurrent writes of f, then an HDEL that saw only the later one.
        let base = DottedHash::empty(Stamp::default());
        let (mut a, mut b2) = (base.clone(), base);
        a.insert(b("f"), b("a"), dot(1, 1));
        b2.insert(b("f"), b("b"), dot(2, 2));
        let mut b_removed = b2.clone();
        b_removed.remove(b"f");
        let all = merged(&merged(&a, &b2), &b_removed);
        assert_eq!(shown(&all), [("f".into(), "a".into())]);
    }
}
