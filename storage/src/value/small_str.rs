//! A short string kept inside its [`Value`](super::Value), as Redis keeps an integer in its object
//! header or a short string in the object's allocation (`embstr`).
//!
//! A `Value` is 40 bytes whatever it holds: a string behind a `Bytes` is 32 of them plus an
//! allocation of at least 32 bytes (its count, then the bytes). A string of up to
//! [`SMALL_STR`] bytes fits in the 39 bytes the variant has past its tag, and costs nothing more
//! than its slot: every integer, and most short tokens and flags.

use std::fmt;
use std::ops::Deref;

/// The longest string a [`SmallStr`] holds: the 40-byte `Value` less its tag and the length.
pub const SMALL_STR: usize = 38;

/// Up to [`SMALL_STR`] bytes, in place.
#[derive(Clone, Copy)]
pub struct SmallStr {
    len: u8,
    bytes: [u8; SMALL_STR],
}

impl SmallStr {
    /// `bytes` in place, or None if they are too long.
    pub fn new(bytes: &[u8]) -> Option<SmallStr> {
        if bytes.len() > SMALL_STR {
            return None;
        }
        let mut small = SmallStr { len: bytes.len() as u8, bytes: [0; SMALL_STR] };
        small.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(small)
    }
}

impl Deref for SmallStr {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", bytes::Bytes::copy_from_slice(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_its_limit() {
        for len in 0..=SMALL_STR {
            let bytes: Vec<u8> = (0..len as u8).collect();
            assert_eq!(&*SmallStr::new(&bytes).unwrap(), &bytes[..]);
        }
        assert!(SmallStr::new(&[7; SMALL_STR + 1]).is_none());
    }
}
