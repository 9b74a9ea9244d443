//! What dotted sets and hashes keep beside their elements: the causal context of a copy, and the
//! side table of the elements written concurrently on several masters.

use std::collections::HashMap;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::stamp::Stamp;

/// For each node, the greatest clock reading of its writes a copy has seen. A node's clock only
/// grows and copies travel whole, so "seen the write stamped (n, h)" is "h is at most this
/// node's reading": one number per node is the whole history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context(SmallVec<[Stamp; 1]>);

impl Context {
    /// Whether the copy has seen the write stamped `dot` (and maybe removed what it wrote since).
    pub fn covers(&self, dot: Stamp) -> bool {
        self.0.iter().any(|seen| seen.node == dot.node && seen.hlc >= dot.hlc)
    }

    /// Notes that the copy has seen the write stamped `dot`.
    pub fn see(&mut self, dot: Stamp) {
        match self.0.iter_mut().find(|seen| seen.node == dot.node) {
            Some(seen) => seen.hlc = seen.hlc.max(dot.hlc),
            None => self.0.push(dot),
        }
    }

    /// Takes in everything `other` has seen.
    pub fn join(&mut self, other: &Context) {
        for &seen in &other.0 {
            self.see(seen);
        }
    }

    /// One stamp per node, in the order the nodes were first seen.
    pub fn as_slice(&self) -> &[Stamp] {
        &self.0
    }

    /// One stamp per node, sorted (for comparing two copies).
    pub fn sorted(&self) -> Vec<Stamp> {
        let mut all = self.0.to_vec();
        all.sort();
        all
    }
}

/// The second and later dots of elements written on several masters at once, with whatever each
/// dot carries. Boxed: most collections never have one, and an empty table would cost every one
/// of them its size.
#[derive(Clone, Debug)]
#[allow(clippy::box_collection)] // the point: a pointer, not a table's header, in every collection
pub struct Concurrent<T>(Option<Box<HashMap<Bytes, T, ahash::RandomState>>>);

impl<T> Default for Concurrent<T> {
    fn default() -> Self {
        Concurrent(None)
    }
}

impl<T> Concurrent<T> {
    /// The extra dots of `element`, if it has any.
    pub fn get(&self, element: &[u8]) -> Option<&T> {
        self.0.as_ref().and_then(|table| table.get(element))
    }

    /// Records the extra dots of `element`.
    pub fn insert(&mut self, element: Bytes, extra: T) {
        self.0.get_or_insert_default().insert(element, extra);
    }

    /// Drops the extra dots of `element`, if it had any.
    pub fn forget(&mut self, element: &[u8]) {
        if let Some(table) = &mut self.0 {
            table.remove(element);
            if table.is_empty() {
                self.0 = None;
            }
        }
    }

    /// Every element's extra dots.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.0.iter().flat_map(|table| table.values())
    }
}
