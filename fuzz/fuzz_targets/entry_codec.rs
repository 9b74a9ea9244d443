//! The entry codec (snapshots, flash records, replication), fed any bytes: decoding never panics,
//! and what decodes encodes to bytes that decode to the same encoding again.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshkv_storage::codec::{decode_entry, encode_entry_bytes, peek_header};

fuzz_target!(|data: &[u8]| {
    let now_ms = 1_700_000_000_000;
    let _ = peek_header(data);
    let Ok(entry) = decode_entry(&Bytes::copy_from_slice(data), now_ms) else { return };
    let once = encode_entry_bytes(&entry);
    let again = decode_entry(&once, now_ms).expect("an encoded entry decodes");
    assert_eq!(encode_entry_bytes(&again), once, "encoding is stable across a round trip");
});
