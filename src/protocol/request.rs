//! Parsing client requests: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline commands
//! (`GET k\r\n`, as telnet and redis-cli's raw mode send).
//!
//! A request is parsed only once it is complete in the buffer; until then nothing is consumed, so
//! the caller simply reads more and tries again. Every length is checked against the configured
//! limits before anything is allocated.
//!
//! The arguments of one request (but its name) are copied out of the read buffer into one
//! allocation of their own, which they share. Values the keyspace stores then keep alive only
//! their own request's bytes, never a whole read buffer (whose other requests may be long gone),
//! and the read buffer is reused for the next read instead of being reallocated. Only an argument
//! of `BIG_ARG` bytes or more is split off the read buffer without a copy: it is most of that
//! buffer anyway (Redis makes the same exception for big bulk arguments).

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// Limits on what a client may send, from the config.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk_len: u64,
    /// Largest number of arguments in one multibulk request (Redis 7: INT_MAX).
    pub max_multibulk: u64,
    /// Largest inline request line (Redis: 64 KiB).
    pub max_inline: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits { max_bulk_len: 512 * 1024 * 1024, max_multibulk: i32::MAX as u64, max_inline: 64 * 1024 }
    }
}

/// A request the server cannot parse; the client gets `-ERR Protocol error: ...` and is closed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// A multibulk count that is not a number or is out of range.
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// A bulk length that is not a number or is out of range.
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// Something other than `$` where a bulk string must start.
    #[error("expected '$', got '{0}'")]
    ExpectedBulk(char),
    /// A multibulk count line longer than any valid count.
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    /// A bulk length line longer than any valid length.
    #[error("too big bulk count string")]
    TooBigBulkCount,
    /// An inline request longer than the limit.
    #[error("too big inline request")]
    TooBigInline,
    /// An inline request with an unterminated quote.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
}

/// Tries to parse one request from the front of `buf` into `args`.
///
/// Returns `Ok(true)` when a request was parsed and consumed (`args` holds it; an empty inline
/// line yields an empty `args`), `Ok(false)` when more bytes are needed.
pub fn parse_request(buf: &mut BytesMut, args: &mut Vec<Bytes>, limits: &RequestLimits) -> Result<bool, ProtocolError> {
    args.clear();
    if buf.is_empty() {
        return Ok(false);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, args, limits)
    } else {
        parse_inline(buf, args, limits)
    }
}

/// Finds `\r\n` at or after `from`; returns the index of `\r`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = buf.get(i..)?.iter().position(|&b| b == b'\r') {
        let at = i + off;
        match buf.get(at + 1) {
            Some(b'\n') => return Some(at),
            Some(_) => i = at + 1,
            None => return None,
        }
    }
    None
}

/// Parses a decimal integer the way Redis's `string2ll` does (no sign for lengths we accept).
fn parse_len(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let (neg, digits) = match digits[0] {
        b'-' => (true, &digits[1..]),
        _ => (false, digits),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    Some(if neg { -v } else { v })
}

fn parse_multibulk(buf: &mut BytesMut, args: &mut Vec<Bytes>, limits: &RequestLimits) -> Result<bool, ProtocolError> {
    let Some(end) = find_crlf(buf, 1) else {
        if buf.len() > limits.max_inline {
            return Err(ProtocolError::TooBigMultibulkCount);
        }
        return Ok(false);
    };
    let count = parse_len(&buf[1..end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count > limits.max_multibulk as i64 {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    let mut pos = end + 2;
    if count <= 0 {
        buf.advance(pos);
        return Ok(true);
    }
    // First pass: check that the whole request is here, validating as we go.
    let mut spans: smallvec::SmallVec<[(usize, usize); 8]> = smallvec::SmallVec::new();
    for _ in 0..count {
        let Some(&first) = buf.get(pos) else { return Ok(false) };
        if first != b'$' {
            return Err(ProtocolError::ExpectedBulk(first as char));
        }
        let Some(end) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > 32 {
                return Err(ProtocolError::TooBigBulkCount);
            }
            return Ok(false);
        };
        let len = parse_len(&buf[pos + 1..end]).ok_or(ProtocolError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.max_bulk_len {
            return Err(ProtocolError::InvalidBulkLength);
        }
        let start = end + 2;
        let stop = start + len as usize;
        if buf.len() < stop + 2 {
            // Make room for the whole argument at once instead of growing the buffer piecemeal.
            buf.reserve(stop + 2 - buf.len());
            return Ok(false);
        }
        spans.push((start, stop));
        pos = stop + 2;
    }
    // The command name is never stored: it stays a view of the read buffer, which is unique
    // again (and reused) as soon as the request is done.
    let mut request = buf.split_to(pos).freeze();
    let rest = &spans[1..];
    let small: usize = rest.iter().map(|&(s, e)| e - s).filter(|&n| n < BIG_ARG).sum();
    let block = ArgBlock::copy(&request, rest, small);
    let (name_start, name_end) = spans[0];
    let name = if rest.iter().any(|&(s, e)| e - s >= BIG_ARG) {
        request.slice(name_start..name_end)
    } else {
        // No argument needs the request any more: it becomes the name (no reference-count
        // traffic for a slice and a drop).
        std::mem::take(&mut request).slice_in_place(name_start, name_end)
    };
    args.push(name);
    let mut offset = 0;
    let mut block = Some(block);
    for (i, &(s, e)) in rest.iter().enumerate() {
        if e - s >= BIG_ARG {
            args.push(request.slice(s..e));
            continue;
        }
        let last_small = rest[i + 1..].iter().all(|&(s, e)| e - s >= BIG_ARG);
        let arg = if last_small {
            // The last small argument takes the block itself rather than a counted slice of it.
            block.take().expect("the block outlives every small argument").slice_in_place(offset, offset + e - s)
        } else {
            block.as_ref().expect("the block outlives every small argument").slice(offset..offset + e - s)
        };
        args.push(arg);
        offset += e - s;
    }
    Ok(true)
}

/// Narrowing a `Bytes` to a range without cloning it.
trait SliceInPlace {
    fn slice_in_place(self, start: usize, end: usize) -> Self;
}

impl SliceInPlace for Bytes {
    fn slice_in_place(mut self, start: usize, end: usize) -> Bytes {
        self.truncate(end);
        self.advance(start);
        self
    }
}

/// One request's arguments (but the name), back to back, with the reference count in the same
/// allocation: one allocation per request, sized to jemalloc's size classes (16 bytes of count and
/// drop function, then the bytes).
struct ArgBlock<const N: usize>([u8; N]);

impl<const N: usize> AsRef<[u8]> for ArgBlock<N> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl ArgBlock<0> {
    /// Copies the small arguments among `spans` of `request` (`total` bytes) into one block.
    fn copy(request: &[u8], spans: &[(usize, usize)], total: usize) -> Bytes {
        fn fill<const N: usize>(request: &[u8], spans: &[(usize, usize)]) -> Bytes {
            let mut block = [0u8; N];
            let mut at = 0;
            for &(s, e) in spans.iter().filter(|&&(s, e)| e - s < BIG_ARG) {
                block[at..at + e - s].copy_from_slice(&request[s..e]);
                at += e - s;
            }
            Bytes::from_owner(ArgBlock(block))
        }
        match total {
            0 => Bytes::new(),
            1..=16 => fill::<16>(request, spans),
            17..=32 => fill::<32>(request, spans),
            33..=48 => fill::<48>(request, spans),
            49..=64 => fill::<64>(request, spans),
            65..=112 => fill::<112>(request, spans),
            113..=240 => fill::<240>(request, spans),
            _ => {
                let mut block = BytesMut::with_capacity(total);
                for &(s, e) in spans.iter().filter(|&&(s, e)| e - s < BIG_ARG) {
                    block.extend_from_slice(&request[s..e]);
                }
                block.freeze()
            }
        }
    }
}

/// Arguments at least this long are not copied out of the read buffer (see the module comment).
const BIG_ARG: usize = 32 * 1024;

fn parse_inline(buf: &mut BytesMut, args: &mut Vec<Bytes>, limits: &RequestLimits) -> Result<bool, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(false);
    };
    let line = buf.split_to(newline + 1);
    let mut line = &line[..newline];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    split_args(line, args)?;
    Ok(true)
}

/// Splits an inline line into arguments like Redis's `sdssplitargs`: whitespace separates,
/// "double quotes" understand `\n \r \t \b \a \\ \" \xHH`, 'single quotes' only `\'`, and a closing
/// quote must be followed by whitespace or the end.
pub fn split_args(line: &[u8], args: &mut Vec<Bytes>) -> Result<(), ProtocolError> {
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Ok(());
        }
        let mut arg = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            if in_dq {
                let Some(&c) = line.get(i) else { return Err(ProtocolError::UnbalancedQuotes) };
                if c == b'\\' && line.get(i + 1) == Some(&b'x') && hex_pair(line.get(i + 2..i + 4)).is_some() {
                    arg.push(hex_pair(line.get(i + 2..i + 4)).unwrap_or_default());
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    arg.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    arg.push(c);
                }
            } else if in_sq {
                let Some(&c) = line.get(i) else { return Err(ProtocolError::UnbalancedQuotes) };
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    arg.push(b'\'');
                } else if c == b'\'' {
                    if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    arg.push(c);
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(&c) => arg.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(arg));
    }
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = pair?;
    let hex = |c: u8| (c as char).to_digit(16);
    Some((hex(pair[0])? * 16 + hex(pair[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut args = Vec::new();
        Ok(parse_request(&mut buf, &mut args, &RequestLimits::default())?.then_some(args))
    }

    #[test]
    fn multibulk_complete_partial_and_pipelined() {
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap().unwrap(), ["GET", "k"]);
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\n").unwrap(), None);
        assert_eq!(parse(b"*2\r\n$3\r\nGE").unwrap(), None);
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"[..]);
        let mut args = Vec::new();
        assert!(parse_request(&mut buf, &mut args, &RequestLimits::default()).unwrap());
        assert!(parse_request(&mut buf, &mut args, &RequestLimits::default()).unwrap());
        assert!(buf.is_empty());
    }

    #[test]
    fn multibulk_errors_match_redis() {
        assert_eq!(parse(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse(b"*1\r\n+ok\r\n"), Err(ProtocolError::ExpectedBulk('+')));
        assert_eq!(parse(b"*1\r\n$-5\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse(b"*1\r\n$999999999999\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse(b"*99999999999\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse(b"*-1\r\n").unwrap().unwrap().len(), 0);
    }

    #[test]
    fn inline_with_quotes() {
        assert_eq!(parse(b"set k \"a b\\x41\\n\"\r\n").unwrap().unwrap(), ["set", "k", "a bA\n"]);
        assert_eq!(parse(b"echo 'it\\'s'\n").unwrap().unwrap(), ["echo", "it's"]);
        assert_eq!(parse(b"\r\n").unwrap().unwrap().len(), 0);
        assert_eq!(parse(b"echo \"abc\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse(b"echo \"a\"b\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse(b"PING").unwrap(), None);
    }

    /// Builds a multibulk request of `args`.
    fn request(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn arguments_of_every_size_come_back_intact() {
        let big = vec![b'b'; BIG_ARG + 5];
        let mid = vec![b'm'; 300]; // more than the largest inline block
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![b"PING"],
            vec![b"SET", b"k", b""],
            vec![b"SET", b"key:000000000001", b"0123456789abcdef"],
            vec![b"SET", &big, b"v"],
            vec![b"RPUSH", b"k", &big, b"x", &mid, &big],
            vec![b"MSET", &mid, &mid, b"a", b"b"],
        ];
        for case in cases {
            let mut buf = BytesMut::from(&request(&case)[..]);
            buf.extend_from_slice(&request(&[b"PING"]));
            let mut args = Vec::new();
            assert!(parse_request(&mut buf, &mut args, &RequestLimits::default()).unwrap());
            let got: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
            assert_eq!(got, case);
            assert!(parse_request(&mut buf, &mut args, &RequestLimits::default()).unwrap());
            assert_eq!(args, vec![Bytes::from_static(b"PING")]);
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut seed = 0x1234_5678_u64;
        for _ in 0..20_000 {
            let len = (seed % 24) as usize;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(b"*$\r\n0123-x \"'\\"[(seed % 14) as usize]);
            }
            let _ = parse(&bytes);
        }
    }
}
