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
use meshkv_storage::alloc::counted_copy;
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
    /// The client has not authenticated and must (`requirepass`): as in Redis 7, a request of
    /// more than [`UNAUTHENTICATED_MAX_ARGS`] arguments or an argument over
    /// [`UNAUTHENTICATED_MAX_BULK`] bytes is a protocol error, so that a client without the
    /// password cannot make the server hold big requests.
    pub unauthenticated: bool,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk: i32::MAX as u64,
            max_inline: 64 * 1024,
            unauthenticated: false,
        }
    }
}

/// The most arguments a request from a client that must still authenticate may have (Redis 7).
pub const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
/// The largest argument a client that must still authenticate may send (Redis 7: 16 KiB).
pub const UNAUTHENTICATED_MAX_BULK: i64 = 16384;

/// The most room made ahead of an argument's bytes beyond what has arrived: an announced length
/// (`$536870912`) is only a claim, so the buffer grows by at most its size again (or this, for a
/// small buffer) at a time, and a header alone never reserves more than this.
const MAX_RESERVE_AHEAD: usize = 1024 * 1024;

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
    /// More than [`UNAUTHENTICATED_MAX_ARGS`] arguments before AUTH.
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// An argument over [`UNAUTHENTICATED_MAX_BULK`] bytes before AUTH.
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

/// Tries to parse one request from the front of `buf` into `args`, from scratch (see [`Parser`]
/// for a connection's input, which arrives in pieces).
///
/// Returns `Ok(true)` when a request was parsed and consumed (`args` holds it; an empty inline
/// line yields an empty `args`), `Ok(false)` when more bytes are needed.
pub fn parse_request(buf: &mut BytesMut, args: &mut Vec<Bytes>, limits: &RequestLimits) -> Result<bool, ProtocolError> {
    Parser::default().parse(buf, args, limits)
}

/// Parses a connection's requests as their bytes arrive, remembering how far it got in a request
/// that is not complete yet: a request read a byte at a time (or a multibulk of many arguments
/// read in many pieces) costs time linear in its size, not a parse from its first byte at every
/// read. Nothing is consumed from the buffer until a request is complete, and the buffer must
/// only grow at its end in between (the positions kept are offsets into it).
#[derive(Default)]
pub struct Parser {
    /// Multibulk: the arguments the `*` line announced, once it is read.
    count: Option<usize>,
    /// Multibulk: where the next argument's `$` line starts.
    pos: usize,
    /// Multibulk: the argument whose bytes are awaited (start, end), its `$` line read.
    bulk: Option<(usize, usize)>,
    /// Multibulk: the arguments complete so far.
    spans: smallvec::SmallVec<[(usize, usize); 8]>,
    /// How far the search for the end of the line being read has gone without finding it.
    scanned: usize,
}

impl Parser {
    /// Parses the request at the front of `buf` (see [`parse_request`]), going on from where the
    /// last call stopped when it needed more bytes.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &RequestLimits,
    ) -> Result<bool, ProtocolError> {
        args.clear();
        if buf.is_empty() {
            return Ok(false);
        }
        let parsed = if buf[0] == b'*' { self.multibulk(buf, args, limits) } else { self.inline(buf, args, limits) };
        if !matches!(parsed, Ok(false)) {
            self.reset();
        }
        parsed
    }

    /// Forgets the request in progress (it was consumed, or the connection ends).
    fn reset(&mut self) {
        self.count = None;
        self.pos = 0;
        self.bulk = None;
        self.spans.clear();
        self.scanned = 0;
    }

    /// Finds the `\r\n` ending the line that starts at or before `from`, searching only what was
    /// not searched before; returns the index of `\r`.
    fn line_end(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let found = find_crlf(buf, self.scanned.max(from));
        // A `\r` at the very end may yet be followed by `\n`: search it again next time.
        self.scanned = if found.is_some() { 0 } else { buf.len().saturating_sub(1).max(from) };
        found
    }

    fn multibulk(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &RequestLimits,
    ) -> Result<bool, ProtocolError> {
        let count = match self.count {
            Some(count) => count,
            None => {
                let Some(end) = self.line_end(buf, 1) else {
                    if buf.len() > limits.max_inline {
                        return Err(ProtocolError::TooBigMultibulkCount);
                    }
                    return Ok(false);
                };
                let count = parse_len(&buf[1..end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
                if count > limits.max_multibulk as i64 {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                if limits.unauthenticated && count > UNAUTHENTICATED_MAX_ARGS {
                    return Err(ProtocolError::UnauthenticatedMultibulkLength);
                }
                if count <= 0 {
                    buf.advance(end + 2);
                    return Ok(true);
                }
                self.pos = end + 2;
                self.count = Some(count as usize);
                count as usize
            }
        };
        // Check that the whole request is here, validating each argument's header once.
        while self.spans.len() < count {
            let (start, stop) = match self.bulk {
                Some(span) => span,
                None => {
                    let pos = self.pos;
                    let Some(&first) = buf.get(pos) else { return Ok(false) };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedBulk(first as char));
                    }
                    let Some(end) = self.line_end(buf, pos + 1) else {
                        if buf.len() - pos > 32 {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(false);
                    };
                    let len = parse_len(&buf[pos + 1..end]).ok_or(ProtocolError::InvalidBulkLength)?;
                    if len < 0 || len as u64 > limits.max_bulk_len {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if limits.unauthenticated && len > UNAUTHENTICATED_MAX_BULK {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let span = (end + 2, end + 2 + len as usize);
                    self.bulk = Some(span);
                    span
                }
            };
            if buf.len() < stop + 2 {
                // Make room for the argument ahead of its bytes so it is not copied into ever
                // bigger buffers as it comes, but never more than what has arrived (or 1 MiB):
                // the length is the client's claim.
                let missing = stop + 2 - buf.len();
                buf.reserve(missing.min(buf.len().max(MAX_RESERVE_AHEAD)));
                return Ok(false);
            }
            self.spans.push((start, stop));
            self.pos = stop + 2;
            self.bulk = None;
        }
        let spans = &self.spans;
        let pos = self.pos;
        // The command name is never stored: it stays a view of the read buffer, which is unique
        // again (and reused) as soon as the request is done.
        let mut request = buf.split_to(pos).freeze();
        let rest = &spans[1..];
        let small: usize = rest.iter().map(|&(s, e)| e - s).filter(|&n| n < BIG_ARG).sum();
        let block = copy_args(&request, rest, small);
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
            let arg = match (last_small, block.take()) {
                // The last small argument takes the block itself rather than a counted slice of it.
                (true, Some(b)) => b.slice_in_place(offset, offset + e - s),
                (false, Some(b)) => {
                    let arg = b.slice(offset..offset + e - s);
                    block = Some(b);
                    arg
                }
                (_, None) => Bytes::new(), // unreachable: the block outlives every small argument
            };
            args.push(arg);
            offset += e - s;
        }
        Ok(true)
    }

    fn inline(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        limits: &RequestLimits,
    ) -> Result<bool, ProtocolError> {
        let from = self.scanned.min(buf.len());
        let Some(newline) = buf[from..].iter().position(|&b| b == b'\n').map(|at| from + at) else {
            if buf.len() > limits.max_inline {
                return Err(ProtocolError::TooBigInline);
            }
            self.scanned = buf.len();
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

/// Copies the small arguments among `spans` of `request` (`total` bytes) back to back into one
/// allocation that also holds their reference count, sized to a jemalloc class (see
/// `meshkv_storage::alloc`): a SET's 16-byte key and 100-byte value take 160 bytes. Blocks came
/// in six sizes before, from 32 to 256 bytes, and the same key and value took 256.
fn copy_args(request: &[u8], spans: &[(usize, usize)], total: usize) -> Bytes {
    counted_copy(total, |block| {
        let mut at = 0;
        for &(s, e) in spans.iter().filter(|&&(s, e)| e - s < BIG_ARG) {
            block[at..at + e - s].copy_from_slice(&request[s..e]);
            at += e - s;
        }
    })
}

/// Arguments at least this long are not copied out of the read buffer (see the module comment).
const BIG_ARG: usize = 32 * 1024;

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

    /// Feeds `input` to one parser a byte at a time, as a slow client sends it.
    fn parse_bytewise(input: &[u8], limits: &RequestLimits) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = Parser::default();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        let mut requests = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            while parser.parse(&mut buf, &mut args, limits)? {
                requests.push(std::mem::take(&mut args));
            }
        }
        Ok(requests)
    }

    #[test]
    fn requests_arriving_a_byte_at_a_time_parse_as_a_whole() {
        let big = vec![b'b'; BIG_ARG + 3];
        let mut input = request(&[b"SET", b"k", b"v"]);
        input.extend_from_slice(b"*0\r\nPING a\r\n");
        input.extend_from_slice(&request(&[b"RPUSH", b"l", &big, b"x"]));
        input.extend_from_slice(b"*1\r\n$4\r\nPI\rG\r\n");
        let got = parse_bytewise(&input, &RequestLimits::default()).unwrap();
        let want: Vec<Vec<&[u8]>> = vec![
            vec![b"SET", b"k", b"v"],
            vec![],
            vec![b"PING", b"a"],
            vec![b"RPUSH", b"l", &big, b"x"],
            vec![b"PI\rG"],
        ];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.iter().map(|a| a.as_ref()).collect::<Vec<&[u8]>>(), w);
        }
        assert_eq!(parse_bytewise(b"*1\r\n+ok", &RequestLimits::default()), Err(ProtocolError::ExpectedBulk('+')));
    }

    /// A request of many arguments read a byte at a time: each read goes on from where the last
    /// stopped. Parsing it from the start at every byte, as before, took about 10^10 steps here
    /// (minutes); now it is a few million.
    #[test]
    fn parsing_a_request_read_in_pieces_is_linear() {
        let elements: Vec<Vec<u8>> = (0..40_000).map(|i| format!("e{i}").into_bytes()).collect();
        let mut words: Vec<&[u8]> = vec![b"RPUSH", b"l"];
        words.extend(elements.iter().map(|e| &e[..]));
        let input = request(&words);
        let started = std::time::Instant::now();
        let got = parse_bytewise(&input, &RequestLimits::default()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), 40_002);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
        // An inline line too.
        let mut line = vec![b'x'; 60_000];
        line.extend_from_slice(b"\r\n");
        let started = std::time::Instant::now();
        assert_eq!(parse_bytewise(&line, &RequestLimits::default()).unwrap().len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
    }

    #[test]
    fn a_bulk_header_makes_room_only_for_what_arrived() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$536870912\r\nab"[..]);
        let mut args = Vec::new();
        let mut parser = Parser::default();
        assert!(!parser.parse(&mut buf, &mut args, &RequestLimits::default()).unwrap());
        assert!(buf.capacity() <= 2 * MAX_RESERVE_AHEAD, "reserved {} for an argument not sent", buf.capacity());
    }

    #[test]
    fn unauthenticated_clients_get_redis_7_limits() {
        let limits = RequestLimits { unauthenticated: true, ..RequestLimits::default() };
        let parse_with = |input: &[u8]| {
            let mut buf = BytesMut::from(input);
            parse_request(&mut buf, &mut Vec::new(), &limits)
        };
        assert_eq!(parse_with(b"*11\r\n"), Err(ProtocolError::UnauthenticatedMultibulkLength));
        assert_eq!(parse_with(b"*10\r\n"), Ok(false));
        assert_eq!(parse_with(b"*2\r\n$16385\r\n"), Err(ProtocolError::UnauthenticatedBulkLength));
        assert_eq!(parse_with(b"*2\r\n$16384\r\n"), Ok(false));
        // The general limits are checked first, as in Redis.
        assert_eq!(parse_with(b"*99999999999\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_with(b"*1\r\n$-2\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(ProtocolError::UnauthenticatedMultibulkLength.to_string(), "unauthenticated multibulk length");
        assert_eq!(ProtocolError::UnauthenticatedBulkLength.to_string(), "unauthenticated bulk length");
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
