//! The RESP request parser, fed what any client may send: it must never panic, never loop, and
//! never reserve much more than it was given; and the resumable parser, fed the same bytes in
//! pieces (as reads bring them), must see the same requests that parsing them whole sees.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use meshkv::protocol::{parse_request, Parser, RequestLimits};

/// Every request in `data`, until it needs more bytes or finds an error.
fn whole(data: &[u8], limits: &RequestLimits) -> Vec<Vec<Bytes>> {
    let mut buf = BytesMut::from(data);
    let (mut args, mut requests) = (Vec::new(), Vec::new());
    // Each successful parse consumes bytes, so this ends within data.len() + 1 rounds.
    for _ in 0..=data.len() {
        match parse_request(&mut buf, &mut args, limits) {
            Ok(true) => requests.push(std::mem::take(&mut args)),
            Ok(false) | Err(_) => break,
        }
    }
    assert!(buf.capacity() <= data.len().max(64) * 2 + (1 << 20), "the parser reserved {} bytes", buf.capacity());
    requests
}

/// The same, fed to one `Parser` in pieces of `piece` bytes.
fn in_pieces(data: &[u8], piece: usize, limits: &RequestLimits) -> Vec<Vec<Bytes>> {
    let (mut parser, mut buf) = (Parser::default(), BytesMut::new());
    let (mut args, mut requests) = (Vec::new(), Vec::new());
    for chunk in data.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf, &mut args, limits) {
                Ok(true) => requests.push(std::mem::take(&mut args)),
                Ok(false) => break,
                Err(_) => return requests,
            }
        }
    }
    requests
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else { return };
    let limits = RequestLimits {
        max_bulk_len: 1 << 20,
        max_multibulk: 1 << 16,
        max_inline: 64 * 1024,
        unauthenticated: first & 1 == 1,
    };
    let requests = whole(data, &limits);
    let pieces = in_pieces(data, (first as usize >> 1).max(1), &limits);
    // The same requests, in the same order; where one of the two stopped (an error, or a request
    // still incomplete) is not compared.
    let n = requests.len().min(pieces.len());
    assert_eq!(&requests[..n], &pieces[..n], "pieces parsed a request differently");
});
