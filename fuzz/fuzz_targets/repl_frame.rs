//! The replication frame decoder, fed what a peer may send: a header, then a payload, as the link
//! reads them; a change's record is decoded as the merge decodes it. Nothing may panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshkv_replication::frame::{decode, header, Frame, HEADER};
use meshkv_storage::codec::decode_entry;
use meshkv_storage::Effect;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<HEADER>() else { return };
    let Ok((tag, len)) = header(*head) else { return };
    let payload = Bytes::copy_from_slice(&rest[..rest.len().min(len as usize)]);
    let item = match decode(tag, payload) {
        Ok(Frame::Change { item, .. }) | Ok(Frame::Entry(item)) => item,
        _ => return,
    };
    if let Effect::Put(record) = &item.effect {
        let _ = decode_entry(record, 1_700_000_000_000);
    }
});
