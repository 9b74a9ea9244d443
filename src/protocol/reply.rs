//! Writing replies straight into the connection's output buffer.
//!
//! There is no intermediate reply tree: a command appends its reply as it computes it, and the
//! connection writes the buffer once per batch of pipelined requests. The writer knows the client's
//! protocol (RESP2 or RESP3) and picks each type's encoding: a map is `%n` in RESP3 and a flat
//! array of 2n in RESP2, a null is `_` or `$-1`, a double is `,` or a bulk string, and so on.

use bytes::{BufMut, BytesMut};

/// The reply buffer of one connection. Room is made when a pipeline starts ([`Reply::prepare`]),
/// as much as the last pipeline's replies took, so that replies are not copied into ever bigger
/// buffers as they are written; once written, a buffer over [`KEEP_REPLY`] is freed
/// ([`Reply::release`]), so a connection holds at most that between pipelines.
pub struct Reply {
    buf: BytesMut,
    /// The room to make for the next pipeline's replies.
    hint: usize,
    resp3: bool,
    /// The buffered size at which the client is over its output limit (see
    /// [`Reply::over_limit`]); `usize::MAX` until the connection sets one.
    limit: usize,
    /// Set once the buffer reached `limit`: the connection closes the client unwritten.
    over: bool,
}

/// The least room made for a pipeline's replies.
const MIN_REPLY: usize = 512;
/// A reply buffer up to this size is kept between pipelines; a bigger one is freed.
const KEEP_REPLY: usize = 4 * 1024;
/// The most room made ahead of need (bigger replies grow the buffer as they are written).
const MAX_REPLY_HINT: usize = 1024 * 1024;

impl Reply {
    /// An empty buffer speaking RESP2.
    pub fn new() -> Reply {
        Reply { buf: BytesMut::new(), hint: MIN_REPLY, resp3: false, limit: usize::MAX, over: false }
    }

    /// Sets the buffered size at which the client's replies are over its output limit (its
    /// `client-output-buffer-limit` hard limit, or the reply size cap).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// True once the buffered replies reached the client's output limit. A handler whose reply
    /// grows with a client's number rather than with the data (ZRANDMEMBER, HRANDFIELD and
    /// SRANDMEMBER with a negative count repeat members) asks this as it goes and stops: the
    /// client is closed without its reply, as Redis's loops stop at `CLIENT_CLOSE_ASAP`, so no
    /// count can make the server build a reply without bound.
    #[inline]
    pub fn over_limit(&mut self) -> bool {
        if self.buf.len() >= self.limit {
            self.over = true;
        }
        self.over
    }

    /// True if a handler found the replies over the limit (see [`Reply::over_limit`]).
    pub fn is_over(&self) -> bool {
        self.over
    }

    /// Makes room for a pipeline's replies.
    pub fn prepare(&mut self) {
        self.buf.reserve(self.hint);
    }

    /// Empties the buffer once its bytes are written, remembering how much room they took; a
    /// big buffer is freed, a small one kept for the next replies.
    ///
    /// The next pipeline gets the room this one took plus an eighth, not the next power of two:
    /// jemalloc rounds a request up to one of four size classes per doubling, so 16.6 KB of
    /// replies (sixteen 1 KiB GETs) take a 20 KiB buffer instead of 32 KiB. On the FLASH tier
    /// every busy client's buffer counts against `maxmemory`, and 12 KiB each is room for a dozen
    /// hot values.
    pub fn release(&mut self) {
        let used = self.buf.len();
        self.hint = (used + used / 8).clamp(MIN_REPLY, MAX_REPLY_HINT);
        if self.buf.capacity() > KEEP_REPLY {
            self.buf = BytesMut::new();
        } else {
            self.buf.clear();
        }
    }

    /// True when the client speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.resp3
    }

    /// Switches protocol (HELLO).
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// The bytes written so far.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Current length (to undo a partial reply, see [`Reply::truncate`]).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True if nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `len` (a command that failed half-way).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    fn header(&mut self, prefix: u8, n: i64) {
        self.buf.put_u8(prefix);
        self.buf.put_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string (`+text`). The text must not contain CR or LF.
    pub fn simple(&mut self, text: &str) {
        self.buf.put_u8(b'+');
        self.buf.put_slice(text.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// An error (`-ERR text` or `-PREFIX text`). CR and LF in the text become spaces, as in Redis.
    pub fn error(&mut self, text: &str) {
        self.buf.put_u8(b'-');
        for b in text.bytes() {
            self.buf.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    /// An integer.
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// A bulk string.
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string holding an integer's decimal form.
    pub fn bulk_int(&mut self, n: i64) {
        self.bulk(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A null (missing value): `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.buf.put_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A null array (BLPOP timeout, EXEC abort): `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.buf.put_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// An array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map header of `n` pairs (`%n`), or an array of `2n` in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64)
        } else {
            self.header(b'*', 2 * n as i64)
        }
    }

    /// A set header (`~n`), or an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push header (`>n`, for pub/sub messages), or an array in RESP2.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double: `,1.5` in RESP3, a bulk string in RESP2, formatted as Redis does.
    pub fn double(&mut self, d: f64) {
        let mut tmp = [0u8; 32];
        let text = format_double(d, &mut tmp);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text (`=n\r\ntxt:...`) in RESP3, a bulk string in RESP2 (INFO, CLIENT LIST).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Appends bytes that are already valid RESP (replies queued elsewhere, e.g. pub/sub).
    pub fn raw(&mut self, resp: &[u8]) {
        self.buf.put_slice(resp);
    }
}

impl Default for Reply {
    fn default() -> Self {
        Self::new()
    }
}

/// Formats a double as Redis 7.0 does for replies: `%.17g`, with `inf`/`-inf` spelled out.
pub fn format_double(d: f64, out: &mut [u8; 32]) -> &[u8] {
    use std::io::Write;
    if d.is_infinite() {
        return if d > 0.0 { b"inf" } else { b"-inf" };
    }
    let mut cursor = std::io::Cursor::new(&mut out[..]);
    let _ = write!(cursor, "{}", G17(d));
    let n = cursor.position() as usize;
    &out[..n]
}

/// `printf("%.17g")` for finite doubles.
struct G17(f64);

impl std::fmt::Display for G17 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        if d == 0.0 {
            return f.write_str(if d.is_sign_negative() { "-0" } else { "0" });
        }
        // Scientific form with 17 significant digits tells us the exponent %g decides on.
        let sci = format!("{:.16e}", d);
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if !(-4..17).contains(&exp) {
            let mantissa = trim_fraction(mantissa);
            let sign = if exp < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exp.abs())
        } else {
            let decimals = (16 - exp).max(0) as usize;
            let fixed = format!("{:.*}", decimals, d);
            f.write_str(trim_fraction(&fixed))
        }
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(d: f64) -> String {
        let mut tmp = [0u8; 32];
        String::from_utf8(format_double(d, &mut tmp).to_vec()).unwrap()
    }

    #[test]
    fn doubles_format_like_printf_g17() {
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(0.1), "0.10000000000000001");
        assert_eq!(g(3.0), "3");
        assert_eq!(g(-2.25), "-2.25");
        assert_eq!(g(1e20), "1e+20");
        assert_eq!(g(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(123456789012345678.0), "1.2345678901234568e+17");
    }

    #[test]
    fn the_next_pipeline_gets_the_room_the_last_took_not_a_power_of_two() {
        let mut r = Reply::new();
        let value = vec![b'v'; 1024];
        for _ in 0..16 {
            r.bulk(&value);
        }
        let used = r.len();
        assert!(used > 16 * 1024, "sixteen 1 KiB bulk replies, {used} bytes");
        r.release();
        r.prepare();
        let room = r.buffer().capacity();
        assert!(room >= used, "room for the same replies again: {room} < {used}");
        assert!(room < 20 * 1024, "no power-of-two rounding (32 KiB): {room}");
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        let mut r = Reply::new();
        r.map(1);
        r.null();
        r.double(2.5);
        assert_eq!(&r.buffer()[..], b"*2\r\n$-1\r\n$3\r\n2.5\r\n");
        let mut r = Reply::new();
        r.set_resp3(true);
        r.map(1);
        r.null();
        r.double(2.5);
        r.boolean(true);
        assert_eq!(&r.buffer()[..], b"%1\r\n_\r\n,2.5\r\n#t\r\n");
    }
}
