//! What an allocation really takes: jemalloc's size classes, and buffers that carry their own
//! reference count.
//!
//! jemalloc hands out small memory in size classes: every request is rounded up to the next
//! class, and its statistics (INFO `used_memory`) count the class, not the request. The classes go
//! in steps of 16 bytes up to 128 (after a class of 8), then four to every doubling: 160, 192, 224,
//! 256, 320, 384, ... up to 14 KiB (its default 16-byte quantum and two bits of size class per
//! doubling, which redis-server's jemalloc uses too). Larger requests (a shard's table, a big
//! value) are rounded up to whole 4 KiB pages: the jemalloc 5.3.1 that tikv-jemalloc-sys builds
//! has large size classes off by default (`opt_disable_large_size_classes`), and a shard's table
//! of 8,192 slots (904 KiB) would otherwise take a 1 MiB class. Whatever estimates memory (MEMORY
//! USAGE, eviction's bytes freed) rounds as jemalloc does, and whatever sizes buffers picks sizes
//! that are classes.
//!
//! [`counted_copy`] makes the buffers that keys and values live in: one allocation holding a
//! reference count, a drop function and the bytes, of a size that is a class. `Bytes` made from a
//! `Vec` would need a second allocation for its count once cloned (a consistent cut clones every
//! key), and one made from a `BytesMut` has it from the start.

use bytes::Bytes;

/// What `Bytes::from_owner` puts in front of its owner in the same allocation: the reference
/// count and the owner's drop function.
pub const COUNT_HEADER: usize = 16;

/// The largest small size class; larger requests take whole pages.
const SMALL_MAX: usize = 14 * 1024;

/// jemalloc's page.
const PAGE: usize = 4096;

/// The size jemalloc gives a request of `n` bytes (0 for none: nothing is allocated).
pub const fn size_class(n: usize) -> usize {
    if n == 0 {
        0
    } else if n <= 8 {
        8
    } else if n <= 128 {
        (n + 15) & !15
    } else if n > SMALL_MAX {
        (n + PAGE - 1) & !(PAGE - 1)
    } else {
        // Four classes per doubling: the step is a quarter of the power of two below `n`.
        let step = 1usize << ((usize::BITS - 1 - (n - 1).leading_zeros()) - 2);
        (n + step - 1) & !(step - 1)
    }
}

/// The bytes a buffer made by [`counted_copy`] takes for `len` bytes of content.
pub const fn counted_size(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        size_class(COUNT_HEADER + len)
    }
}

/// The room a counted buffer of `len` bytes gets: the largest content that fits the size class
/// of `len` plus its header (0 for nothing).
const fn rung(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        counted_size(len) - COUNT_HEADER
    }
}

/// The largest content [`counted_copy`] puts in one counted allocation; longer content goes in a
/// `BytesMut`, whose shared header (32 bytes) is at most 3% of it.
pub const COUNTED_MAX: usize = 1008;

/// A buffer of exactly `N` bytes that `Bytes::from_owner` keeps with its count in one allocation.
struct Block<const N: usize>([u8; N]);

impl<const N: usize> AsRef<[u8]> for Block<N> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A `Bytes` of `len` bytes that `fill` writes, in one allocation with its reference count whose
/// size is a jemalloc class (up to [`COUNTED_MAX`] bytes; longer content goes in a `BytesMut`).
/// Clones and slices of it share the allocation and allocate nothing.
pub fn counted_copy(len: usize, fill: impl FnOnce(&mut [u8])) -> Bytes {
    fn block<const N: usize>(len: usize, fill: impl FnOnce(&mut [u8])) -> Bytes {
        let mut block = [0u8; N];
        fill(&mut block[..len]);
        let mut bytes = Bytes::from_owner(Block(block));
        bytes.truncate(len);
        bytes
    }
    // One rung per size class, each the class less the header: no rung wastes room jemalloc
    // would not waste anyway (`rungs_are_size_classes` checks the list).
    match rung(len) {
        0 => Bytes::new(),
        16 => block::<16>(len, fill),
        32 => block::<32>(len, fill),
        48 => block::<48>(len, fill),
        64 => block::<64>(len, fill),
        80 => block::<80>(len, fill),
        96 => block::<96>(len, fill),
        112 => block::<112>(len, fill),
        144 => block::<144>(len, fill),
        176 => block::<176>(len, fill),
        208 => block::<208>(len, fill),
        240 => block::<240>(len, fill),
        304 => block::<304>(len, fill),
        368 => block::<368>(len, fill),
        432 => block::<432>(len, fill),
        496 => block::<496>(len, fill),
        624 => block::<624>(len, fill),
        752 => block::<752>(len, fill),
        880 => block::<880>(len, fill),
        1008 => block::<1008>(len, fill),
        _ if len > COUNTED_MAX => {
            let mut buf = bytes::BytesMut::zeroed(len);
            fill(&mut buf);
            buf.freeze()
        }
        room => unreachable!("no rung of {room} bytes"),
    }
}

/// `bytes` copied into a counted allocation of their own (see [`counted_copy`]).
pub fn counted(bytes: &[u8]) -> Bytes {
    counted_copy(bytes.len(), |buf| buf.copy_from_slice(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_jemallocs() {
        let classes = [8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640];
        let mut expected = classes.iter();
        let mut want = *expected.next().unwrap();
        for n in 1..=640 {
            if n > want {
                want = *expected.next().unwrap();
            }
            assert_eq!(size_class(n), want, "size_class({n})");
        }
        assert_eq!(size_class(0), 0);
        assert_eq!(size_class(14_336), 14_336);
        assert_eq!(size_class(14_337), 16_384);
        assert_eq!(size_class(20_481), 24_576);
        assert_eq!(size_class(925_712), 929_792);
    }

    #[test]
    fn rungs_are_size_classes() {
        for len in 0..=COUNTED_MAX + 1 {
            let bytes = counted_copy(len, |buf| buf.fill(7));
            assert_eq!(bytes.len(), len);
            assert!(bytes.iter().all(|&b| b == 7));
            if (1..=COUNTED_MAX).contains(&len) {
                // The block holds the rung: its allocation is exactly the class of the content.
                let room = rung(len);
                assert!(room >= len && size_class(room + COUNT_HEADER) == room + COUNT_HEADER, "len {len}");
            }
        }
        assert_eq!(rung(COUNTED_MAX), COUNTED_MAX);
        assert_eq!(&counted(b"key:1")[..], b"key:1");
    }
}
