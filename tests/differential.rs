//! Differential test: meshkv against a real `redis-server`, reply for reply, byte for byte.
//!
//! For each seed, a deterministic pseudo-random generator produces a sequence of commands over a
//! deliberately tiny key space (8 keys, small member pools), so that keys of different types
//! collide all the time and WRONGTYPE, empty-collection deletion, overwrites and type changes are
//! exercised constantly. The same sequence is sent to a `redis-server` (the reference, started by
//! this test with `--save '' --appendonly no`) and to the real `meshkv-server` binary, over raw RESP2
//! TCP sockets, and every reply is compared byte for byte. Only replies whose order Redis leaves
//! unspecified are normalised first (SMEMBERS, SINTER, HGETALL, KEYS, ... are sorted; HGETALL as
//! sorted field/value pairs; SRANDMEMBER and friends are compared by element count only; TTL and
//! EXPIRETIME allow ±1 because the two servers see slightly different clocks). After each sequence
//! DBSIZE of databases 0 and 1 is compared too.
//!
//! On the first difference the test fails with the seed, the command's index, its arguments, both
//! replies, the last commands before it, and the environment to rerun exactly that seed.
//!
//! A real `redis-server` (7.0) must be on PATH: the test FAILS (it does not skip) when it is missing.
//!
//! # Knobs (environment variables)
//!
//! * `MESHKV_DIFF_SEEDS`: which seeds to run. `7` (one seed), `1..200` (1 to 199), `1..=200`
//!   (1 to 200), or a comma list of those (`3,10..20`). Default: `1..=300`.
//! * `MESHKV_DIFF_FAMILIES`: which command families to generate, a comma list of family names
//!   (case-insensitive, spaces ignored), `all`, or `all` followed by `-name` exclusions
//!   (`all,-bits,-zsets`; a list that starts with an exclusion means `all` first). Unknown names
//!   fail the test with the list of valid ones. Default: `all`.
//!   Families: `basic` (GET SET DEL EXISTS DBSIZE FLUSHDB PING ECHO SELECT), `strings`, `bits`,
//!   `keys`, `hashes`, `lists`, `sets`, `zsets`, `server` (INFO keyspace, SWAPDB, FLUSHALL, MOVE,
//!   COPY ... DB, DBSIZE, KEYS, RANDOMKEY), `scripting` (EVAL of scripts that call commands of the
//!   string, list, hash, set, sorted-set and basic families through `redis.call`/`redis.pcall`,
//!   with RESP2 and RESP3 conversions, and script edge cases), `transactions` (MULTI/EXEC/DISCARD blocks of
//!   commands from the other enabled families, WATCH/UNWATCH) and `errors` (commands from the other
//!   enabled families mangled into wrong arity, junk arguments, odd casing, unknown commands).
//!   `transactions` and `errors` alone draw their commands from `basic`.
//! * `MESHKV_DIFF_LEN`: commands per seed (default 400; a MULTI block counts as its commands).
//! * `MESHKV_DIFF_TARGET=redis`: a self-check of this harness: a second redis-server takes
//!   meshkv's place, so every generated sequence must compare equal (the replies called "meshkv"
//!   in a report then come from that second redis).
//!
//! Example: `MESHKV_DIFF_FAMILIES=basic,transactions MESHKV_DIFF_SEEDS=1..500 cargo test --test differential`

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A tiny RESP reader that keeps the exact bytes.
// ---------------------------------------------------------------------------------------------

/// One parsed reply. RESP3 types are understood too, so that a server wrongly sending them on a
/// RESP2 connection is reported as a difference rather than a parse failure.
#[derive(Clone, Debug)]
enum Resp {
    /// `+`, `-`, `:`, `_`, `,`, `#`, `(`: a type byte and the rest of the line.
    Line(u8, Vec<u8>),
    /// `$`, `=`, `!`: a type byte and a payload, `None` for the nil bulk (`$-1`).
    Bulk(u8, Option<Vec<u8>>),
    /// `*`, `~`, `>`, `%`, `|`: a type byte and the elements (a map's keys and values
    /// interleaved), `None` for the nil array (`*-1`).
    Agg(u8, Option<Vec<Resp>>),
}

impl Resp {
    /// Canonical RESP bytes of this reply.
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Resp::Line(t, s) => {
                out.push(*t);
                out.extend_from_slice(s);
                out.extend_from_slice(b"\r\n");
            }
            Resp::Bulk(t, None) | Resp::Agg(t, None) => {
                out.push(*t);
                out.extend_from_slice(b"-1\r\n");
            }
            Resp::Bulk(t, Some(b)) => {
                out.push(*t);
                out.extend_from_slice(format!("{}\r\n", b.len()).as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Resp::Agg(t, Some(items)) => {
                let n = if matches!(t, b'%' | b'|') { items.len() / 2 } else { items.len() };
                out.push(*t);
                out.extend_from_slice(format!("{n}\r\n").as_bytes());
                for i in items {
                    i.encode(out);
                }
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    fn int(&self) -> Option<i64> {
        match self {
            Resp::Line(b':', s) => std::str::from_utf8(s).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// A reply as read: the exact bytes and the parsed tree.
struct Reply {
    raw: Vec<u8>,
    resp: Resp,
}

/// Reads one CRLF-terminated line (without the CRLF), recording the bytes into `raw`.
fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "no reply within 10 s".to_string(),
        _ => format!("read error: {e}"),
    })?;
    if n == 0 {
        return Err("connection closed".into());
    }
    raw.extend_from_slice(&line);
    if !line.ends_with(b"\r\n") {
        return Err(format!("line not terminated by CRLF: {}", show(&line)));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_len(s: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad length {}", show(s)))
}

fn read_resp(r: &mut impl BufRead, raw: &mut Vec<u8>) -> Result<Resp, String> {
    let line = read_line(r, raw)?;
    let (&t, rest) = line.split_first().ok_or("empty line")?;
    match t {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Resp::Line(t, rest.to_vec())),
        b'$' | b'=' | b'!' => {
            let n = parse_len(rest)?;
            if n < 0 {
                return Ok(Resp::Bulk(t, None));
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf).map_err(|e| format!("read error in bulk: {e}"))?;
            raw.extend_from_slice(&buf);
            if !buf.ends_with(b"\r\n") {
                return Err("bulk not terminated by CRLF".into());
            }
            buf.truncate(n as usize);
            Ok(Resp::Bulk(t, Some(buf)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_len(rest)?;
            if n < 0 {
                return Ok(Resp::Agg(t, None));
            }
            let count = if matches!(t, b'%' | b'|') { n * 2 } else { n };
            let items = (0..count).map(|_| read_resp(r, raw)).collect::<Result<_, _>>()?;
            Ok(Resp::Agg(t, Some(items)))
        }
        _ => Err(format!("unknown RESP type byte in line {}", show(&line))),
    }
}

/// Bytes as readable text: printable ASCII as is, the rest escaped; long texts are cut.
fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(600) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    if b.len() > 600 {
        let _ = write!(s, "... ({} bytes)", b.len());
    }
    format!("\"{s}\"")
}

fn show_args(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| show(a)).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Servers and connections.
// ---------------------------------------------------------------------------------------------

/// A server process, killed (and its directory removed) when dropped.
struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0").local_addr().expect("local addr").port()
}

/// Starts `program` with the arguments `args(port, dir)` and waits until it answers PING.
fn start_server(name: &'static str, program: &str, args: impl Fn(&str, &str) -> Vec<String>) -> Server {
    for attempt in 0..5 {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("meshkv-diff-{name}-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let child = Command::new(program)
            .args(args(&port.to_string(), dir.to_str().expect("utf-8 temp dir")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "`{program}` was not found on PATH. The differential test needs a real Redis 7.0 \
                 server as its reference: install it (e.g. `apt-get install redis-server`, as the \
                 README's test command does) and run the test again."
            ),
            Err(e) => panic!("cannot start {program}: {e}"),
        };
        let mut server = Server { name, child, port, dir };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(mut c) = Conn::open(port) {
                if c.call(&[b"PING".to_vec()]).map(|r| r.raw == b"+PONG\r\n").unwrap_or(false) {
                    return server;
                }
            }
            if let Ok(Some(_)) = server.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{name} did not come up on port {port} (attempt {})", attempt + 1);
    }
    panic!("{name} ({program}) did not start");
}

fn start_redis() -> Server {
    let version = Command::new("redis-server").arg("--version").output();
    match version {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`redis-server` was not found on PATH. The differential test needs a real Redis 7.0 \
             server as its reference: install it (e.g. `apt-get install redis-server`, as the \
             README's test command does) and run the test again."
        ),
        Err(e) => panic!("cannot run redis-server --version: {e}"),
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            if !text.contains("v=7.0") {
                eprintln!("warning: the reference should be Redis 7.0, found: {}", text.trim());
            }
        }
    }
    start_server("redis", "redis-server", |port, dir| {
        ["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]
            .map(String::from)
            .to_vec()
    })
}

fn start_meshkv() -> Server {
    start_meshkv_with(&[])
}

/// meshkv with extra `--directive value` arguments.
fn start_meshkv_with(extra: &'static [&'static str]) -> Server {
    // MESHKV_SERVER_BIN: another build to compare (the one before a change, say).
    let program =
        std::env::var("MESHKV_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_meshkv-server").to_string());
    start_server("meshkv", &program, move |port, dir| {
        let mut args: Vec<String> = ["--port", port, "--dir", dir].map(String::from).to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    })
}

/// A raw RESP2 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn { reader: BufReader::new(s.try_clone()?), writer: s })
    }

    /// Sends one command as a multibulk and reads its reply.
    fn call(&mut self, args: &[Vec<u8>]) -> Result<Reply, String> {
        self.send(args)?;
        self.read()
    }

    /// Sends one command as a multibulk.
    fn send(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out).map_err(|e| format!("write error: {e}"))
    }

    /// Reads one reply (or pushed message).
    fn read(&mut self) -> Result<Reply, String> {
        let mut raw = Vec::new();
        let resp = read_resp(&mut self.reader, &mut raw).map_err(|e| format!("{e} (after {})", show(&raw)))?;
        Ok(Reply { raw, resp })
    }
}

/// A connection subscribed to every channel pattern: it sees the keyspace notifications.
struct Events(Conn);

impl Events {
    fn open(port: u16) -> Events {
        let mut conn = Conn::open(port).expect("connect the events subscriber");
        conn.call(&[b"PSUBSCRIBE".to_vec(), b"*".to_vec()]).expect("psubscribe");
        Events(conn)
    }

    /// The messages published since the last call, in order: a PING goes through the connection
    /// and what arrives before its reply was published before it.
    fn drain(&mut self) -> Result<Vec<Vec<u8>>, String> {
        self.0.send(&[b"PING".to_vec()])?;
        let mut messages = Vec::new();
        loop {
            let reply = self.0.read()?;
            if reply.raw == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
                return Ok(messages);
            }
            messages.push(reply.raw);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisation of replies whose order (or exact content) Redis leaves unspecified.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Norm {
    /// Byte for byte.
    Exact,
    /// An array whose elements come in no particular order (SMEMBERS, KEYS, ...).
    Sorted,
    /// A flat array of pairs in no particular order (HGETALL): sorted as pairs.
    SortedPairs,
    /// A SCAN-family reply `[cursor, elements]` for a whole small collection: the cursor is not
    /// compared, the elements are sorted (as pairs for HSCAN/ZSCAN).
    Scan { pairs: bool },
    /// A random selection (SRANDMEMBER k n, ...): only the number of elements is compared.
    Len,
    /// A random single element (RANDOMKEY, SRANDMEMBER k): only nil versus non-nil is compared.
    NilOrNot,
    /// An integer that depends on the clock (TTL): non-negative values may differ by this much.
    Tolerance(i64),
    /// EXEC: each element normalised as its queued command's reply.
    Exec(Vec<Norm>),
    /// INFO keyspace: the `dbN:keys=K,expires=E` lines (avg_ttl depends on the clock).
    InfoKeyspace,
}

fn sort_items(items: &mut [Resp]) {
    items.sort_by_cached_key(|i| i.bytes());
}

fn normalise(r: &Resp, norm: &Norm) -> Resp {
    match (norm, r) {
        (Norm::Sorted, Resp::Agg(t, Some(items))) => {
            let mut items = items.clone();
            sort_items(&mut items);
            Resp::Agg(*t, Some(items))
        }
        (Norm::SortedPairs, Resp::Agg(t, Some(items))) if items.len() % 2 == 0 => {
            let mut pairs: Vec<&[Resp]> = items.chunks(2).collect();
            pairs.sort_by_cached_key(|p| [p[0].bytes(), p[1].bytes()]);
            Resp::Agg(*t, Some(pairs.concat()))
        }
        (Norm::Scan { pairs }, Resp::Agg(t, Some(items))) if items.len() == 2 => {
            let inner = normalise(&items[1], if *pairs { &Norm::SortedPairs } else { &Norm::Sorted });
            Resp::Agg(*t, Some(vec![Resp::Line(b'+', b"<cursor>".to_vec()), inner]))
        }
        (Norm::Len, Resp::Agg(_, Some(items))) => Resp::Line(b'+', format!("<{} elements>", items.len()).into()),
        (Norm::InfoKeyspace, Resp::Bulk(t, Some(text))) => {
            let text = String::from_utf8_lossy(text);
            let dbs: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("db"))
                .map(|l| l.split(",avg_ttl=").next().unwrap_or(l))
                .collect();
            Resp::Bulk(*t, Some(dbs.join("\n").into_bytes()))
        }
        // A random selection whose count argument the errors family cut off is a single element.
        (Norm::NilOrNot | Norm::Len, Resp::Bulk(_, Some(_))) => Resp::Line(b'+', b"<a bulk string>".to_vec()),
        _ => r.clone(),
    }
}

/// Whether two replies are the same under `norm`.
fn same(a: &Resp, b: &Resp, norm: &Norm) -> bool {
    match (norm, a, b) {
        (Norm::Exec(norms), Resp::Agg(ta, Some(xa)), Resp::Agg(tb, Some(xb))) => {
            ta == tb
                && xa.len() == xb.len()
                && xa.len() == norms.len()
                && (0..xa.len()).all(|i| same(&xa[i], &xb[i], &norms[i]))
        }
        (Norm::Tolerance(t), _, _) => match (a.int(), b.int()) {
            (Some(x), Some(y)) if x >= 0 && y >= 0 => (x - y).abs() <= *t,
            _ => a.bytes() == b.bytes(),
        },
        _ => normalise(a, norm).bytes() == normalise(b, norm).bytes(),
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness.
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, good enough, and stable across crate versions (seeds must stay reproducible).
/// The state is a `Cell` so that a generator can draw an optional argument while building a
/// command that itself draws (`cmd.opt(r, 40, int_arg(r, 0, 3))`).
struct Rng(std::cell::Cell<u64>);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(std::cell::Cell::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03))
    }

    fn next(&self) -> u64 {
        self.0.set(self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15));
        let mut z = self.0.get();
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// lo..=hi
    fn range(&self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn chance(&self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Command generation.
// ---------------------------------------------------------------------------------------------

/// A generated command and how to compare its reply.
#[derive(Clone)]
struct Cmd {
    args: Vec<Vec<u8>>,
    norm: Norm,
    family: &'static str,
}

/// Builds a command: `c(&["SET"]).a(key).a("v")`.
fn c(parts: &[&str]) -> Cmd {
    Cmd { args: parts.iter().map(|p| p.as_bytes().to_vec()).collect(), norm: Norm::Exact, family: "" }
}

impl Cmd {
    fn a(mut self, arg: impl AsRef<[u8]>) -> Cmd {
        self.args.push(arg.as_ref().to_vec());
        self
    }

    /// Appends `arg` with the given probability.
    fn opt(self, r: &Rng, percent: usize, arg: impl AsRef<[u8]>) -> Cmd {
        if r.chance(percent) {
            self.a(arg)
        } else {
            self
        }
    }

    fn norm(mut self, norm: Norm) -> Cmd {
        self.norm = norm;
        self
    }
}

const KEYS: usize = 8;

fn key(r: &Rng) -> String {
    format!("k{}", r.below(KEYS))
}

/// Appends 1..=max random keys.
fn keys(r: &Rng, mut cmd: Cmd, max: usize) -> Cmd {
    for _ in 0..r.range(1, max as i64) {
        cmd = cmd.a(key(r));
    }
    cmd
}

/// String values: integers (INCR works), floats, text, the empty string, limits.
fn value(r: &Rng) -> &'static str {
    r.pick(&[
        "a",
        "b",
        "hello",
        "",
        "0",
        "1",
        "-1",
        "42",
        "3.5",
        "abc def",
        "10",
        "9223372036854775807",
        "-9223372036854775808",
        "1e3",
        " 1",
        "007",
        "\u{e9}t\u{e9}",
        "xyzzy",
    ])
}

/// Members of lists, sets and sorted sets.
fn member(r: &Rng) -> &'static str {
    r.pick(&["a", "b", "c", "d", "e", "1", "2", "10", "-3", ""])
}

fn field(r: &Rng) -> &'static str {
    r.pick(&["f1", "f2", "f3", "f4", "n", "x"])
}

/// An integer argument: mostly small, sometimes not an integer at all.
fn int_arg(r: &Rng, lo: i64, hi: i64) -> String {
    if r.chance(6) {
        r.pick(&["abc", "1.5", "", "99999999999999999999", " 1", "1 ", "-"]).to_string()
    } else {
        r.range(lo, hi).to_string()
    }
}

/// A RANDMEMBER-family count: mostly small, sometimes at the edges of the range Redis 7.0 accepts
/// (i64::MIN is refused; with WITHSCORES/WITHVALUES, beyond LONG_MAX/2 is). Never a huge
/// negative count that is accepted: Redis streams that reply without end (meshkv closes the
/// client at its output limit, see tests/it/limits.rs).
fn random_count(r: &Rng) -> String {
    if r.chance(10) {
        r.pick(&["-9223372036854775808", "9223372036854775807", "4611686018427387904", "4611686018427387903"])
            .to_string()
    } else {
        int_arg(r, -5, 5)
    }
}

fn float_arg(r: &Rng) -> &'static str {
    r.pick(&["1", "1.5", "-2", "0.1", "3", "10.25", "-0.5", "1e2", "0", "inf", "-inf", "abc", "5e-1", "nan"])
}

fn score(r: &Rng) -> &'static str {
    if r.chance(4) {
        r.pick(&["abc", "nan", "", "1x"])
    } else {
        r.pick(&["0", "1", "1", "2", "1.5", "-2", "3", "10", "-inf", "+inf", "2.5e1", "0.1", "-0"])
    }
}

fn score_bound(r: &Rng) -> &'static str {
    if r.chance(4) {
        r.pick(&["x", "((1", "[1", ""])
    } else {
        r.pick(&["-inf", "+inf", "0", "1", "(1", "2", "(2", "1.5", "3", "(10", "-2", "inf"])
    }
}

fn lex_bound(r: &Rng) -> &'static str {
    if r.chance(4) {
        r.pick(&["a", "", "x"])
    } else {
        r.pick(&["-", "+", "[a", "(a", "[b", "(c", "[d", "(e", "[1", "(10", "[", "("])
    }
}

/// A large TTL (nothing expires during a run), or an edge case.
fn ttl_arg(r: &Rng) -> String {
    if r.chance(12) {
        r.pick(&["0", "-5", "abc", "9223372036854775807", "1.5"]).to_string()
    } else {
        r.range(1000, 1_000_000).to_string()
    }
}

/// The SET command with a random mix of options, some of them conflicting. With `wild`, options
/// may also repeat (`SET k v NX NX`, `EX 1 EX 2`, which Redis 7.0 accepts), carry bad values, or
/// be unknown, so that the order in which Redis reports errors is checked too (it parses all the
/// options first and validates the expire time last).
fn gen_set(r: &Rng, wild: bool) -> Cmd {
    let mut cmd = c(&["SET"]).a(key(r)).a(value(r));
    let mut used = [false; 9];
    for _ in 0..r.below(3) {
        let option = r.below(if wild { 9 } else { 8 });
        if std::mem::replace(&mut used[option], true) && !wild {
            continue;
        }
        let ttl = if wild { ttl_arg(r) } else { r.range(1000, 1_000_000).to_string() };
        cmd = match option {
            0 => cmd.a("NX"),
            1 => cmd.a("XX"),
            2 => cmd.a("GET"),
            3 => cmd.a("EX").a(ttl),
            4 => cmd.a("PX").a(format!("{}", r.range(1_000_000, 9_000_000))),
            5 => cmd.a("KEEPTTL"),
            6 if wild => cmd.a("EXAT").a(r.pick(&["4000000000", "5000000000", "0", "x"])),
            6 => cmd.a("EXAT").a("4000000000"),
            7 => cmd.a("PXAT").a("4000000000000"),
            _ => cmd.a(r.pick(&["nx", "get", "BOGUS", "ex"])),
        };
    }
    cmd
}

fn gen_basic(r: &Rng) -> Cmd {
    match r.below(100) {
        0..=29 => gen_set(r, false),
        30..=54 => c(&["GET"]).a(key(r)),
        55..=64 => keys(r, c(&["DEL"]), 3),
        65..=74 => keys(r, c(&["EXISTS"]), 3),
        75..=79 => c(&["DBSIZE"]),
        80..=83 => c(&["PING"]).opt(r, 50, value(r)),
        84..=87 => c(&["ECHO"]).a(value(r)),
        88..=91 => c(&["SELECT"]).a(r.pick(&["0", "0", "1", "16", "-1", "abc"])),
        92 => c(&["FLUSHDB"]).opt(r, 30, r.pick(&["ASYNC", "SYNC", "bogus"])),
        _ => c(&["GET"]).a(key(r)),
    }
}

fn gen_strings(r: &Rng) -> Cmd {
    match r.below(26) {
        0 => gen_set(r, true),
        1 => c(&["GET"]).a(key(r)),
        2 => c(&["GETSET"]).a(key(r)).a(value(r)),
        3 => {
            let mut cmd = c(&["MSET"]);
            for _ in 0..r.range(1, 3) {
                cmd = cmd.a(key(r)).a(value(r));
            }
            cmd
        }
        4 => keys(r, c(&["MGET"]), 4),
        5 => c(&["MSETNX"]).a(key(r)).a(value(r)).a(key(r)).a(value(r)),
        6 => c(&["SETNX"]).a(key(r)).a(value(r)),
        7 => c(&["SETEX"]).a(key(r)).a(ttl_arg(r)).a(value(r)),
        8 => c(&["PSETEX"]).a(key(r)).a(ttl_arg(r)).a(value(r)),
        9 => c(&["GETDEL"]).a(key(r)),
        10 => {
            let cmd = c(&["GETEX"]).a(key(r));
            match r.below(4) {
                0 => cmd.a("EX").a(ttl_arg(r)),
                1 => cmd.a("PERSIST"),
                2 => cmd.a("PXAT").a("4000000000000"),
                _ => cmd,
            }
        }
        11 | 12 => c(&[r.pick(&["INCR", "DECR"])]).a(key(r)),
        13 | 14 => c(&[r.pick(&["INCRBY", "DECRBY"])]).a(key(r)).a(int_arg(r, -20, 20)),
        15 => c(&["INCRBYFLOAT"]).a(key(r)).a(float_arg(r)),
        16 | 17 => c(&["APPEND"]).a(key(r)).a(value(r)),
        18 => c(&["STRLEN"]).a(key(r)),
        19 | 20 => {
            let offset = if r.chance(8) {
                r.pick(&["-1", "536870912", "x", "4294967296"]).to_string()
            } else {
                r.range(0, 20).to_string()
            };
            c(&["SETRANGE"]).a(key(r)).a(offset).a(value(r))
        }
        21 | 22 => {
            c(&[r.pick(&["GETRANGE", "GETRANGE", "SUBSTR"])]).a(key(r)).a(int_arg(r, -10, 10)).a(int_arg(r, -10, 10))
        }
        23 => c(&["LCS"]).a(key(r)).a(key(r)).opt(r, 40, r.pick(&["LEN", "len", "BOGUS"])),
        24 => c(&["SETNX"]).a(key(r)).a(value(r)),
        _ => c(&["STRLEN"]).a(key(r)),
    }
}

fn gen_bits(r: &Rng) -> Cmd {
    let bit_offset = |r: &Rng| {
        if r.chance(6) {
            r.pick(&["-1", "x", "4294967296", "1.5"]).to_string()
        } else {
            r.range(0, 40).to_string()
        }
    };
    // BITFIELD is not implemented yet (see README), so it is not generated.
    match r.below(6) {
        0 | 1 => c(&["SETBIT"]).a(key(r)).a(bit_offset(r)).a(r.pick(&["0", "1", "1", "2", "x"])),
        2 => c(&["GETBIT"]).a(key(r)).a(bit_offset(r)),
        3 => {
            let cmd = c(&["BITCOUNT"]).a(key(r));
            if r.chance(60) {
                cmd.a(int_arg(r, -6, 6)).a(int_arg(r, -6, 6)).opt(r, 40, r.pick(&["BYTE", "BIT", "bit", "WORD"]))
            } else {
                cmd.opt(r, 10, "1")
            }
        }
        4 => {
            let mut cmd = c(&["BITPOS"]).a(key(r)).a(r.pick(&["0", "1", "1", "2"]));
            if r.chance(60) {
                cmd = cmd.a(int_arg(r, -6, 6));
                if r.chance(60) {
                    cmd = cmd.a(int_arg(r, -6, 6)).opt(r, 40, r.pick(&["BYTE", "BIT", "BOGUS"]));
                }
            }
            cmd
        }
        _ => {
            let op = r.pick(&["AND", "OR", "XOR", "NOT", "and", "NAND"]);
            let n = if op == "NOT" && r.chance(80) { 1 } else { r.range(1, 3) };
            let mut cmd = c(&["BITOP", op]).a(key(r));
            for _ in 0..n {
                cmd = cmd.a(key(r));
            }
            cmd
        }
    }
}

fn gen_keys(r: &Rng) -> Cmd {
    match r.below(26) {
        24 | 25 => gen_sort(r),
        0 | 1 => keys(r, c(&["DEL"]), 3),
        2 | 3 => keys(r, c(&["EXISTS"]), 4),
        4 => keys(r, c(&["UNLINK"]), 2),
        5 | 6 => c(&["TYPE"]).a(key(r)),
        7 => c(&["RENAME"]).a(key(r)).a(key(r)),
        8 => c(&["RENAMENX"]).a(key(r)).a(key(r)),
        9 | 10 => {
            let cmd = c(&["EXPIRE"]).a(key(r)).a(ttl_arg(r));
            cmd.opt(r, 30, r.pick(&["NX", "XX", "GT", "LT", "nx", "BOGUS"]))
        }
        11 => c(&["PEXPIRE"]).a(key(r)).a(r.range(1_000_000, 900_000_000).to_string()),
        12 => c(&[r.pick(&["EXPIREAT", "PEXPIREAT"])])
            .a(key(r))
            .a(r.pick(&["4000000000", "4000000000000", "5000000000", "1", "x"]))
            .opt(r, 20, r.pick(&["GT", "LT", "NX", "XX"])),
        13 => c(&["PERSIST"]).a(key(r)),
        14 | 15 => c(&["TTL"]).a(key(r)).norm(Norm::Tolerance(1)),
        16 => c(&["EXPIRETIME"]).a(key(r)).norm(Norm::Tolerance(1)),
        17 => keys(r, c(&["TOUCH"]), 3),
        18 => c(&["COPY"]).a(key(r)).a(key(r)).opt(r, 40, r.pick(&["REPLACE", "replace", "BOGUS"])),
        19 => {
            c(&["KEYS"]).a(r.pick(&["*", "k[0-3]", "k?", "*1*", "nomatch*", "k[^1]", "K*", "k\\*"])).norm(Norm::Sorted)
        }
        20 => {
            let cmd = c(&["SCAN", "0"]);
            let cmd = if r.chance(50) { cmd.a("MATCH").a(r.pick(&["k[1-5]", "*", "x*"])) } else { cmd };
            let cmd =
                if r.chance(30) { cmd.a("TYPE").a(r.pick(&["string", "list", "hash", "set", "zset"])) } else { cmd };
            cmd.a("COUNT").a("1000").norm(Norm::Scan { pairs: false })
        }
        21 => c(&["RANDOMKEY"]).norm(Norm::NilOrNot),
        22 => c(&["DBSIZE"]),
        _ => c(&["TYPE"]).a(key(r)),
    }
}

/// SORT and SORT_RO with a random mix of options. Where Redis leaves the order open (a set that
/// is not sorted, ties between ALPHA values read through BY) the reply is compared as a multiset,
/// or by its length when LIMIT picks a window of it; such a result is never STOREd.
fn gen_sort(r: &Rng) -> Cmd {
    let mut cmd = c(&[r.pick(&["SORT", "SORT", "SORT", "SORT_RO"])]).a(key(r));
    let by = r.chance(35).then(|| r.pick(&["k*", "nosort", "k*->f1", "x_*", "k*->"]));
    if let Some(pattern) = by {
        cmd = cmd.a("BY").a(pattern);
    }
    let limit = r.chance(30);
    if limit {
        cmd = cmd.a("LIMIT").a(int_arg(r, -2, 4)).a(int_arg(r, -2, 4));
    }
    for _ in 0..r.below(3) {
        cmd = cmd.a("GET").a(r.pick(&["#", "k*", "k*->f1", "nokey"]));
    }
    if r.chance(40) {
        cmd = cmd.a(r.pick(&["ASC", "DESC", "desc"]));
    }
    let alpha = r.chance(50);
    if alpha {
        cmd = cmd.a("ALPHA");
    }
    let open_order = by == Some("nosort") || (alpha && by.is_some());
    if !open_order && r.chance(25) {
        cmd = cmd.a("STORE").a(key(r));
    }
    if r.chance(4) {
        cmd = cmd.a(r.pick(&["BOGUS", "LIMIT", "STORE"]));
    }
    match (open_order, limit) {
        (true, true) => cmd.norm(Norm::Len),
        (true, false) => cmd.norm(Norm::Sorted),
        _ => cmd,
    }
}

fn gen_hashes(r: &Rng) -> Cmd {
    match r.below(20) {
        0..=2 => {
            let mut cmd = c(&[r.pick(&["HSET", "HSET", "HMSET"])]).a(key(r));
            for _ in 0..r.range(1, 3) {
                cmd = cmd.a(field(r)).a(value(r));
            }
            cmd
        }
        3 => c(&["HSETNX"]).a(key(r)).a(field(r)).a(value(r)),
        4 | 5 => c(&["HGET"]).a(key(r)).a(field(r)),
        6 => {
            let mut cmd = c(&["HMGET"]).a(key(r));
            for _ in 0..r.range(1, 3) {
                cmd = cmd.a(field(r));
            }
            cmd
        }
        7 => c(&["HDEL"]).a(key(r)).a(field(r)).opt(r, 40, field(r)),
        8 => c(&["HLEN"]).a(key(r)),
        9 => c(&["HEXISTS"]).a(key(r)).a(field(r)),
        10 => c(&["HINCRBY"]).a(key(r)).a(field(r)).a(int_arg(r, -10, 10)),
        11 => c(&["HINCRBYFLOAT"]).a(key(r)).a(field(r)).a(float_arg(r)),
        12 => c(&["HSTRLEN"]).a(key(r)).a(field(r)),
        13 | 14 => c(&["HGETALL"]).a(key(r)).norm(Norm::SortedPairs),
        15 => c(&["HKEYS"]).a(key(r)).norm(Norm::Sorted),
        16 => c(&["HVALS"]).a(key(r)).norm(Norm::Sorted),
        17 => {
            if r.chance(30) {
                c(&["HRANDFIELD"]).a(key(r)).norm(Norm::NilOrNot)
            } else {
                c(&["HRANDFIELD"]).a(key(r)).a(random_count(r)).opt(r, 40, "WITHVALUES").norm(Norm::Len)
            }
        }
        18 => c(&["HSCAN"]).a(key(r)).a("0").a("COUNT").a("1000").norm(Norm::Scan { pairs: true }),
        _ => c(&["HGET"]).a(key(r)).a(field(r)),
    }
}

fn gen_lists(r: &Rng) -> Cmd {
    let side = |r: &Rng| r.pick(&["LEFT", "RIGHT", "left", "UP"]);
    match r.below(22) {
        0..=3 => {
            let mut cmd = c(&[r.pick(&["LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "RPUSH"])]).a(key(r));
            for _ in 0..r.range(1, 4) {
                cmd = cmd.a(member(r));
            }
            cmd
        }
        4 | 5 => c(&[r.pick(&["LPOP", "RPOP"])]).a(key(r)).opt(r, 40, int_arg(r, -1, 4)),
        6 => c(&["LLEN"]).a(key(r)),
        7 | 8 => c(&["LRANGE"]).a(key(r)).a(int_arg(r, -8, 8)).a(int_arg(r, -8, 8)),
        9 => c(&["LINDEX"]).a(key(r)).a(int_arg(r, -8, 8)),
        10 => c(&["LSET"]).a(key(r)).a(int_arg(r, -5, 5)).a(member(r)),
        11 => c(&["LINSERT"]).a(key(r)).a(r.pick(&["BEFORE", "AFTER", "after", "MIDDLE"])).a(member(r)).a(member(r)),
        12 | 13 => c(&["LREM"]).a(key(r)).a(int_arg(r, -3, 3)).a(member(r)),
        14 => c(&["LTRIM"]).a(key(r)).a(int_arg(r, -6, 6)).a(int_arg(r, -6, 6)),
        15 | 16 => {
            let mut cmd = c(&["LPOS"]).a(key(r)).a(member(r));
            for _ in 0..r.below(3) {
                cmd = match r.below(4) {
                    0 => cmd.a("RANK").a(int_arg(r, -3, 3)),
                    1 => cmd.a("COUNT").a(int_arg(r, -1, 3)),
                    2 => cmd.a("MAXLEN").a(int_arg(r, -1, 5)),
                    _ => cmd.a("BOGUS"),
                };
            }
            cmd
        }
        17 => c(&["RPOPLPUSH"]).a(key(r)).a(key(r)),
        18 => c(&["LMOVE"]).a(key(r)).a(key(r)).a(side(r)).a(side(r)),
        19 => {
            let n = r.range(1, 3);
            let mut cmd = c(&["LMPOP"]).a(if r.chance(8) { int_arg(r, -1, 5) } else { n.to_string() });
            for _ in 0..n {
                cmd = cmd.a(key(r));
            }
            cmd.a(side(r)).opt(r, 40, "COUNT").opt(r, 90, int_arg(r, 0, 3))
        }
        _ => c(&["LRANGE"]).a(key(r)).a("0").a("-1"),
    }
}

fn gen_sets(r: &Rng) -> Cmd {
    match r.below(20) {
        0..=3 => {
            let mut cmd = c(&["SADD"]).a(key(r));
            for _ in 0..r.range(1, 4) {
                cmd = cmd.a(member(r));
            }
            cmd
        }
        4 => c(&["SREM"]).a(key(r)).a(member(r)).opt(r, 40, member(r)),
        5 => c(&["SCARD"]).a(key(r)),
        6 => c(&["SISMEMBER"]).a(key(r)).a(member(r)),
        7 => c(&["SMISMEMBER"]).a(key(r)).a(member(r)).a(member(r)),
        8 | 9 => c(&["SMEMBERS"]).a(key(r)).norm(Norm::Sorted),
        10 | 11 => keys(r, c(&[r.pick(&["SINTER", "SUNION", "SDIFF"])]), 3).norm(Norm::Sorted),
        12 | 13 => keys(r, c(&[r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])]).a(key(r)), 3),
        14 => c(&["SMOVE"]).a(key(r)).a(key(r)).a(member(r)),
        15 => {
            let n = r.range(1, 3);
            let mut cmd = c(&["SINTERCARD"]).a(if r.chance(8) { int_arg(r, -1, 5) } else { n.to_string() });
            for _ in 0..n {
                cmd = cmd.a(key(r));
            }
            cmd.opt(r, 40, "LIMIT").opt(r, 90, int_arg(r, -1, 3))
        }
        16 => {
            if r.chance(30) {
                c(&["SRANDMEMBER"]).a(key(r)).norm(Norm::NilOrNot)
            } else {
                c(&["SRANDMEMBER"]).a(key(r)).a(random_count(r)).norm(Norm::Len)
            }
        }
        17 => c(&["SSCAN"]).a(key(r)).a("0").a("COUNT").a("1000").norm(Norm::Scan { pairs: false }),
        _ => c(&["SISMEMBER"]).a(key(r)).a(member(r)),
    }
}

/// `numkeys key...` for ZUNION-style commands; the count is sometimes wrong on purpose.
fn numkeys(r: &Rng, mut cmd: Cmd) -> (Cmd, i64) {
    let n = r.range(1, 3);
    cmd = cmd.a(if r.chance(6) { r.pick(&["0", "5", "-1", "x"]).to_string() } else { n.to_string() });
    for _ in 0..n {
        cmd = cmd.a(key(r));
    }
    (cmd, n)
}

/// ZRANGE's `start stop` plus its BYSCORE/BYLEX/REV/LIMIT/WITHSCORES options.
fn zrange_args(r: &Rng, mut cmd: Cmd, store: bool) -> Cmd {
    let by = r.below(3);
    let (a, b) = match by {
        0 => (int_arg(r, -5, 5), int_arg(r, -5, 5)),
        1 => (score_bound(r).to_string(), score_bound(r).to_string()),
        _ => (lex_bound(r).to_string(), lex_bound(r).to_string()),
    };
    cmd = cmd.a(a).a(b);
    cmd = match by {
        1 => cmd.a("BYSCORE"),
        2 => cmd.a("BYLEX"),
        _ => cmd.opt(r, 5, "BYLEX"),
    };
    cmd = cmd.opt(r, 35, "REV");
    if r.chance(30) {
        cmd = cmd.a("LIMIT").a(int_arg(r, -1, 3)).a(int_arg(r, -1, 3));
    }
    if !store {
        cmd = cmd.opt(r, 35, "WITHSCORES");
    }
    cmd
}

fn gen_zsets(r: &Rng) -> Cmd {
    match r.below(30) {
        0..=4 => {
            let mut cmd = c(&["ZADD"]).a(key(r));
            for _ in 0..r.below(3) {
                cmd = cmd.a(r.pick(&["NX", "XX", "GT", "LT", "CH", "INCR", "ch"]));
            }
            for _ in 0..r.range(1, 3) {
                cmd = cmd.a(score(r)).a(member(r));
            }
            cmd
        }
        5 => c(&["ZINCRBY"]).a(key(r)).a(float_arg(r)).a(member(r)),
        6 => c(&["ZSCORE"]).a(key(r)).a(member(r)),
        7 => c(&["ZMSCORE"]).a(key(r)).a(member(r)).a(member(r)),
        8 => c(&["ZCARD"]).a(key(r)),
        9 => c(&["ZCOUNT"]).a(key(r)).a(score_bound(r)).a(score_bound(r)),
        10 => c(&["ZLEXCOUNT"]).a(key(r)).a(lex_bound(r)).a(lex_bound(r)),
        11 => c(&[r.pick(&["ZRANK", "ZREVRANK"])]).a(key(r)).a(member(r)),
        12 => c(&["ZREM"]).a(key(r)).a(member(r)).opt(r, 40, member(r)),
        13..=15 => zrange_args(r, c(&["ZRANGE"]).a(key(r)), false),
        16 => {
            let rev = r.chance(50);
            let cmd = c(&[if rev { "ZREVRANGEBYSCORE" } else { "ZRANGEBYSCORE" }])
                .a(key(r))
                .a(score_bound(r))
                .a(score_bound(r))
                .opt(r, 40, "WITHSCORES");
            if r.chance(30) {
                cmd.a("LIMIT").a(int_arg(r, -1, 3)).a(int_arg(r, -1, 3))
            } else {
                cmd
            }
        }
        17 => {
            let cmd = c(&[r.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"])]).a(key(r)).a(lex_bound(r)).a(lex_bound(r));
            if r.chance(30) {
                cmd.a("LIMIT").a(int_arg(r, -1, 3)).a(int_arg(r, -1, 3))
            } else {
                cmd
            }
        }
        18 => c(&["ZREVRANGE"]).a(key(r)).a(int_arg(r, -5, 5)).a(int_arg(r, -5, 5)).opt(r, 40, "WITHSCORES"),
        19 => match r.below(3) {
            0 => c(&["ZREMRANGEBYRANK"]).a(key(r)).a(int_arg(r, -4, 4)).a(int_arg(r, -4, 4)),
            1 => c(&["ZREMRANGEBYSCORE"]).a(key(r)).a(score_bound(r)).a(score_bound(r)),
            _ => c(&["ZREMRANGEBYLEX"]).a(key(r)).a(lex_bound(r)).a(lex_bound(r)),
        },
        20..=22 => {
            let name = r.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZUNIONSTORE", "ZDIFFSTORE"]);
            let (mut cmd, n) = numkeys(r, c(&[name]).a(key(r)));
            if name != "ZDIFFSTORE" {
                if r.chance(35) {
                    cmd = cmd.a("WEIGHTS");
                    for _ in 0..n {
                        cmd = cmd.a(r.pick(&["1", "2", "0", "-1", "0.5", "inf", "x"]));
                    }
                }
                if r.chance(35) {
                    cmd = cmd.a("AGGREGATE").a(r.pick(&["SUM", "MIN", "MAX", "max", "AVG"]));
                }
            }
            cmd
        }
        23 | 24 => {
            let name = r.pick(&["ZUNION", "ZINTER", "ZDIFF"]);
            let (mut cmd, n) = numkeys(r, c(&[name]));
            if name != "ZDIFF" && r.chance(30) {
                cmd = cmd.a("WEIGHTS");
                for _ in 0..n {
                    cmd = cmd.a(r.pick(&["1", "2", "0", "-1", "0.5"]));
                }
            }
            if name != "ZDIFF" && r.chance(30) {
                cmd = cmd.a("AGGREGATE").a(r.pick(&["SUM", "MIN", "MAX"]));
            }
            cmd.opt(r, 50, "WITHSCORES")
        }
        25 => c(&[r.pick(&["ZPOPMIN", "ZPOPMAX"])]).a(key(r)).opt(r, 50, int_arg(r, -1, 3)),
        26 => zrange_args(r, c(&["ZRANGESTORE"]).a(key(r)).a(key(r)), true),
        27 => {
            if r.chance(30) {
                c(&["ZRANDMEMBER"]).a(key(r)).norm(Norm::NilOrNot)
            } else {
                c(&["ZRANDMEMBER"]).a(key(r)).a(random_count(r)).opt(r, 40, "WITHSCORES").norm(Norm::Len)
            }
        }
        28 => {
            let (cmd, _) = numkeys(r, c(&["ZMPOP"]));
            cmd.a(r.pick(&["MIN", "MAX", "min", "BOGUS"])).opt(r, 40, "COUNT").opt(r, 90, int_arg(r, 0, 3))
        }
        _ => c(&["ZSCAN"]).a(key(r)).a("0").a("COUNT").a("1000").norm(Norm::Scan { pairs: true }),
    }
}

/// Commands over whole databases: what locks every shard, inside MULTI too (the `transactions`
/// family wraps these like any other).
fn gen_server(r: &Rng) -> Cmd {
    match r.below(20) {
        0..=3 => c(&["INFO", "keyspace"]).norm(Norm::InfoKeyspace),
        4 | 5 => c(&["SWAPDB"]).a(r.pick(&["0", "1", "0", "x", "16"])).a(r.pick(&["1", "0", "-1"])),
        6 => c(&["FLUSHALL"]).opt(r, 30, r.pick(&["ASYNC", "SYNC", "bogus"])),
        7..=9 => c(&["MOVE"]).a(key(r)).a(r.pick(&["0", "1", "1", "16", "x"])),
        10..=12 => c(&["COPY"]).a(key(r)).a(key(r)).a("DB").a(r.pick(&["0", "1", "1", "99"])).opt(r, 40, "REPLACE"),
        13 | 14 => c(&["DBSIZE"]),
        15 => c(&["SELECT"]).a(r.pick(&["0", "1"])),
        16 => c(&["KEYS"]).a("*").norm(Norm::Sorted),
        _ => c(&["RANDOMKEY"]).norm(Norm::NilOrNot),
    }
}

/// A Lua string literal holding `bytes` (`"\ddd"` escapes for anything but plain characters).
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b" -_.:+*,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

/// Scripts: a command of another family called from Lua (`redis.call` or `redis.pcall`, RESP2
/// or RESP3 replies), its reply converted to Lua and back, or inspected (type, nil, status and
/// error tables); and script-level edge cases (numbers, arrays with holes, error tables, the
/// sandbox).
fn gen_scripting(r: &Rng) -> Cmd {
    if r.chance(15) {
        let body = r.pick(&[
            "return {1, 2.9, -3.5, 'x', nil, 4}",
            "return {ok='fine'}",
            "return {err='ERR custom'}",
            "return redis.error_reply('MY err')",
            "return redis.status_reply('QUEUED')",
            "return {true, false, {1, {2}}}",
            "return undefined_global",
            "x = 1",
            "return redis.call('nosuchcommand')",
            "return redis.call('get')",
            "return redis.pcall('set', 'k0')",
            "error('raised')",
            "return tonumber('12') * 2.5",
            "return redis.sha1hex('abc')",
            "return bit.bxor(5, 3)",
            "return string.rep('a', 3) .. #KEYS .. #ARGV",
        ]);
        return c(&["EVAL"]).a(body).a("0");
    }
    let inner = match r.below(6) {
        0 => gen_strings(r),
        1 => gen_lists(r),
        2 => gen_hashes(r),
        3 => gen_zsets(r),
        4 => gen_sets(r),
        _ => gen_basic(r),
    };
    let args: Vec<String> = inner.args.iter().map(|a| lua_string(a)).collect();
    let args = args.join(", ");
    let call = if r.chance(50) { "redis.call" } else { "redis.pcall" };
    let exact = matches!(inner.norm, Norm::Exact);
    let body = match r.below(4) {
        0 | 1 => format!("return {call}({args})"),
        2 if exact => format!("local r = {call}({args}) return {{type(r), r}}"),
        3 if exact => format!("redis.setresp(3) local r = {call}({args}) return r"),
        _ => format!("return {call}({args})"),
    };
    c(&["EVAL"]).a(body).a("0").norm(inner.norm)
}

/// The families run when `MESHKV_DIFF_FAMILIES` is not set: every one.
const DEFAULT_FAMILIES: &str = "all";

type Generator = fn(&Rng) -> Cmd;

/// Families that generate single commands.
const SIMPLE_FAMILIES: &[(&str, Generator)] = &[
    ("basic", gen_basic),
    ("strings", gen_strings),
    ("bits", gen_bits),
    ("keys", gen_keys),
    ("hashes", gen_hashes),
    ("lists", gen_lists),
    ("sets", gen_sets),
    ("zsets", gen_zsets),
    ("server", gen_server),
    ("scripting", gen_scripting),
];

/// Families that wrap commands of the other enabled families.
const META_FAMILIES: &[&str] = &["transactions", "errors"];

/// The enabled families, parsed from `MESHKV_DIFF_FAMILIES`.
#[derive(Clone)]
struct Families {
    simple: Vec<(&'static str, Generator)>,
    transactions: bool,
    errors: bool,
}

impl Families {
    fn parse(spec: &str) -> Result<Families, String> {
        let all: Vec<&str> = SIMPLE_FAMILIES.iter().map(|f| f.0).chain(META_FAMILIES.iter().copied()).collect();
        let tokens: Vec<String> =
            spec.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect();
        let mut chosen: Vec<&str> = Vec::new();
        if tokens.first().is_none_or(|t| t.starts_with('-')) {
            chosen = all.clone();
        }
        for t in &tokens {
            let (remove, name) = match t.strip_prefix('-') {
                Some(n) => (true, n.trim()),
                None => (false, t.as_str()),
            };
            let names: Vec<&str> = if name == "all" {
                all.clone()
            } else if let Some(&n) = all.iter().find(|&&n| n == name) {
                vec![n]
            } else {
                return Err(format!(
                    "MESHKV_DIFF_FAMILIES: unknown family `{name}`; valid families: all, {}",
                    all.join(", ")
                ));
            };
            for n in names {
                chosen.retain(|&c| c != n);
                if !remove {
                    chosen.push(n);
                }
            }
        }
        if chosen.is_empty() {
            return Err(format!("MESHKV_DIFF_FAMILIES=`{spec}` enables no family"));
        }
        let mut simple: Vec<_> = SIMPLE_FAMILIES.iter().copied().filter(|f| chosen.contains(&f.0)).collect();
        if simple.is_empty() {
            // Only meta families: they wrap the basic commands.
            simple.push(SIMPLE_FAMILIES[0]);
        }
        Ok(Families { simple, transactions: chosen.contains(&"transactions"), errors: chosen.contains(&"errors") })
    }

    fn names(&self) -> String {
        let mut n: Vec<&str> = self.simple.iter().map(|f| f.0).collect();
        if self.transactions {
            n.push("transactions");
        }
        if self.errors {
            n.push("errors");
        }
        n.join(",")
    }

    /// One command from a random simple family (possibly mangled when `errors` is on).
    fn simple_cmd(&self, r: &Rng) -> Cmd {
        let (name, generate) = self.simple[r.below(self.simple.len())];
        let mut cmd = generate(r);
        cmd.family = name;
        cmd
    }

    /// The next step of a sequence: one command, or a whole MULTI block.
    fn step(&self, r: &Rng) -> Vec<Cmd> {
        let meta = self.transactions as usize + self.errors as usize;
        let roll = r.below(self.simple.len() + meta);
        if roll < self.simple.len() {
            return vec![self.simple_cmd(r)];
        }
        if self.transactions && roll == self.simple.len() {
            return self.transaction(r);
        }
        vec![self.mangled(r)]
    }

    /// Either WATCH/UNWATCH, or MULTI, a few commands (sometimes bad ones), EXEC or DISCARD.
    fn transaction(&self, r: &Rng) -> Vec<Cmd> {
        let tag = |mut cmd: Cmd| {
            cmd.family = "transactions";
            cmd
        };
        match r.below(10) {
            0 => return vec![tag(keys(r, c(&["WATCH"]), 2))],
            1 => return vec![tag(c(&["UNWATCH"]))],
            _ => {}
        }
        let mut steps = vec![tag(c(&["MULTI"]))];
        for _ in 0..r.range(1, 4) {
            let cmd = match r.below(20) {
                0 => tag(keys(r, c(&["WATCH"]), 1)),
                1 => tag(c(&["MULTI"])),
                2 if self.errors => self.mangled(r),
                _ => self.simple_cmd(r),
            };
            steps.push(cmd);
        }
        // EXEC's normalisation is filled in by `Run::sequence`, from the commands really queued.
        steps.push(if r.chance(85) { tag(c(&["EXEC"])) } else { tag(c(&["DISCARD"])) });
        steps
    }

    /// A command of an enabled family turned bad: wrong arity, a junk argument, or an unknown name.
    fn mangled(&self, r: &Rng) -> Cmd {
        let mut cmd = self.simple_cmd(r);
        cmd.family = "errors";
        match r.below(10) {
            0 => {
                let mut junk = c(&[r.pick(&["NOSUCHCMD", "foo", "GETT"])]);
                junk.family = "errors";
                return junk.opt(r, 60, "a").opt(r, 50, "b c");
            }
            1..=4 if cmd.args.len() > 1 => {
                let keep = r.range(1, cmd.args.len() as i64 - 1) as usize;
                cmd.args.truncate(keep);
            }
            5 | 6 => cmd.args.push(b"junk".to_vec()),
            7 | 8 if cmd.args.len() > 2 => {
                let i = r.range(2, cmd.args.len() as i64 - 1) as usize;
                cmd.args[i] = r.pick(&["notanumber", "1.5x", "-", ""]).as_bytes().to_vec();
            }
            _ => {}
        }
        // Command names are case-insensitive: vary the casing.
        let name = &mut cmd.args[0];
        for (i, b) in name.iter_mut().enumerate() {
            if (r.next() >> i) & 1 == 1 {
                b.make_ascii_lowercase();
            }
        }
        cmd
    }
}

// ---------------------------------------------------------------------------------------------
// Running sequences.
// ---------------------------------------------------------------------------------------------

fn parse_seeds(spec: &str) -> Result<Vec<u64>, String> {
    let num = |s: &str, part: &str| {
        s.trim().parse::<u64>().map_err(|_| {
            format!("MESHKV_DIFF_SEEDS: cannot parse `{part}`; use e.g. `7`, `1..200`, `1..=200` or `3,10..20`")
        })
    };
    let mut seeds = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..=") {
            seeds.extend(num(a, part)?..=num(b, part)?);
        } else if let Some((a, b)) = part.split_once("..") {
            seeds.extend(num(a, part)?..num(b, part)?);
        } else {
            seeds.push(num(part, part)?);
        }
    }
    if seeds.is_empty() {
        return Err(format!("MESHKV_DIFF_SEEDS=`{spec}` selects no seed"));
    }
    Ok(seeds)
}

/// One executed command, kept for the failure report.
struct Done {
    index: usize,
    args: Vec<Vec<u8>>,
    redis: Vec<u8>,
}

struct Run<'a> {
    seed: u64,
    families: &'a Families,
    redis: Conn,
    meshkv: Conn,
    history: Vec<Done>,
    /// Commands sent, and how many of them Redis answered with an error (WRONGTYPE, syntax...).
    sent: usize,
    errors: usize,
    /// With keyspace notifications on: subscribers to redis's and meshkv's events, compared
    /// after every command.
    events: Option<(Events, Events)>,
}

impl Run<'_> {
    /// Sends `cmd` to both servers and compares; returns redis's reply, or the failure report on a
    /// difference.
    fn exec(&mut self, index: usize, cmd: &Cmd) -> Result<Vec<u8>, String> {
        let redis = self.redis.call(&cmd.args).map_err(|e| self.report(index, cmd, "redis failed", &e, ""))?;
        let meshkv = match self.meshkv.call(&cmd.args) {
            Ok(m) => m,
            Err(e) => return Err(self.report(index, cmd, "meshkv failed", &show(&redis.raw), &e)),
        };
        let canonical = meshkv.resp.bytes() == meshkv.raw;
        let equal = if matches!(cmd.norm, Norm::Exact) {
            redis.raw == meshkv.raw
        } else {
            canonical && same(&redis.resp, &meshkv.resp, &cmd.norm)
        };
        if !equal {
            let what = if canonical { "replies differ" } else { "meshkv's reply is not canonical RESP" };
            return Err(self.report(index, cmd, what, &show(&redis.raw), &show(&meshkv.raw)));
        }
        if let Some((redis_events, meshkv_events)) = &mut self.events {
            let expected = redis_events.drain().map_err(|e| format!("redis's events: {e}"))?;
            let got = meshkv_events.drain().map_err(|e| format!("meshkv's events: {e}"))?;
            if expected != got {
                let list = |m: &[Vec<u8>]| m.iter().map(|x| show(x)).collect::<Vec<_>>().join(" ");
                return Err(self.report(index, cmd, "keyspace events differ", &list(&expected), &list(&got)));
            }
        }
        self.sent += 1;
        self.errors += redis.raw.starts_with(b"-") as usize;
        self.history.push(Done { index, args: cmd.args.clone(), redis: redis.raw.clone() });
        if self.history.len() > 12 {
            self.history.remove(0);
        }
        Ok(redis.raw)
    }

    fn report(&self, index: usize, cmd: &Cmd, what: &str, redis: &str, meshkv: &str) -> String {
        let mut s = format!(
            "\n\ndifferential test: {what}\n  seed:    {}\n  index:   {index}\n  family:  {}\n  command: {}\n  \
             compare: {:?}\n  redis:   {redis}\n  meshkv:  {meshkv}\n\nlast commands before it (with redis's replies):\n",
            self.seed,
            cmd.family,
            show_args(&cmd.args),
            cmd.norm
        );
        for d in &self.history {
            let _ = writeln!(s, "  #{:<5} {}  ->  {}", d.index, show_args(&d.args), show(&d.redis));
        }
        let _ = write!(
            s,
            "\nrerun: MESHKV_DIFF_SEEDS={} MESHKV_DIFF_FAMILIES={} MESHKV_DIFF_LEN={} cargo test --test differential\n",
            self.seed,
            self.families.names(),
            seq_len()
        );
        s
    }

    /// Runs the whole sequence of this seed, then compares the sizes of databases 0 and 1.
    fn sequence(&mut self, len: usize) -> Result<(), String> {
        for setup in [&["SELECT", "1"][..], &["FLUSHDB"], &["SELECT", "0"], &["FLUSHDB"]] {
            self.exec(0, &c(setup))?;
        }
        let r = Rng::new(self.seed);
        let mut index = 0;
        // Inside MULTI: how to compare the reply of each command Redis queued, for EXEC's array.
        let mut queued: Option<Vec<Norm>> = None;
        while index < len {
            for mut cmd in self.families.step(&r) {
                index += 1;
                let name = cmd.args[0].to_ascii_uppercase();
                let in_multi = queued.is_some();
                if in_multi && name == b"EXEC" {
                    cmd.norm = Norm::Exec(queued.take().unwrap_or_default());
                } else if in_multi && name == b"DISCARD" {
                    queued = None;
                } else if in_multi {
                    let norm = std::mem::replace(&mut cmd.norm, Norm::Exact);
                    if self.exec(index, &cmd)? == b"+QUEUED\r\n" {
                        queued.get_or_insert_with(Vec::new).push(norm);
                    }
                    continue;
                }
                let reply = self.exec(index, &cmd)?;
                if name == b"MULTI" && reply == b"+OK\r\n" {
                    queued = Some(Vec::new());
                }
            }
        }
        for end in [&["DBSIZE"][..], &["SELECT", "0"], &["DBSIZE"], &["SELECT", "1"], &["DBSIZE"]] {
            index += 1;
            let mut cmd = c(end);
            cmd.family = "final DBSIZE check";
            self.exec(index, &cmd)?;
        }
        Ok(())
    }
}

fn seq_len() -> usize {
    std::env::var("MESHKV_DIFF_LEN").map_or(400, |v| v.trim().parse().expect("MESHKV_DIFF_LEN: a number"))
}

/// Runs each seed's sequence against both servers, without keyspace events; panics with the
/// report (after `label`) at the first difference. Returns the commands sent and how many of
/// them Redis answered with an error.
fn run_seeds(
    seeds: &[u64],
    families: &Families,
    len: usize,
    redis: &Server,
    meshkv: &Server,
    label: &str,
) -> (usize, usize) {
    let (mut sent, mut errors) = (0, 0);
    for &seed in seeds {
        let conn = |s: &Server| Conn::open(s.port).unwrap_or_else(|e| panic!("connect to {}: {e}", s.name));
        let mut run = Run {
            seed,
            families,
            redis: conn(redis),
            meshkv: conn(meshkv),
            history: Vec::new(),
            sent: 0,
            errors: 0,
            events: None,
        };
        if let Err(report) = run.sequence(len) {
            panic!("{label}{report}");
        }
        sent += run.sent;
        errors += run.errors;
    }
    (sent, errors)
}

#[test]
fn meshkv_matches_redis() {
    let knob = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let seeds = parse_seeds(&knob("MESHKV_DIFF_SEEDS", "1..=300")).unwrap_or_else(|e| panic!("{e}"));
    let families = Families::parse(&knob("MESHKV_DIFF_FAMILIES", DEFAULT_FAMILIES)).unwrap_or_else(|e| panic!("{e}"));
    let len = seq_len();
    let redis = start_redis();
    let meshkv = match std::env::var("MESHKV_DIFF_TARGET").as_deref() {
        Ok("redis") => start_redis(),
        Ok("meshkv") | Err(_) => start_meshkv(),
        Ok(other) => panic!("MESHKV_DIFF_TARGET: `{other}` is neither `meshkv` nor `redis`"),
    };
    let started = Instant::now();
    let (sent, errors) = run_seeds(&seeds, &families, len, &redis, &meshkv, "");
    eprintln!(
        "differential: {} seeds x {len} commands, families {}: identical replies to all {sent} \
         commands ({errors} of them errors) in {:.1?}",
        seeds.len(),
        families.names(),
        started.elapsed()
    );
}

/// With replication on, INCRBY and its kin keep counters and SADD and its kin dotted sets
/// (`storage::crdt`); clients must still see exactly what Redis shows for the same commands. The
/// same random sequences against an active replica (its change feed on, no peer needed), every
/// family but `server` (SWAPDB is refused while replication runs). `MESHKV_DIFF_REPL_SEEDS` picks
/// the seeds (default 1..=150).
#[test]
fn a_replicated_node_matches_redis() {
    let seeds = parse_seeds(&std::env::var("MESHKV_DIFF_REPL_SEEDS").unwrap_or_else(|_| "1..=150".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let families = Families::parse("basic,strings,bits,keys,hashes,lists,sets,zsets,scripting,transactions,errors")
        .expect("valid");
    let len = seq_len();
    let redis = start_redis();
    let meshkv = start_meshkv_with(&["--active-replica", "yes", "--multi-master", "yes"]);
    let (sent, _) = run_seeds(&seeds, &families, len, &redis, &meshkv, "replication on:");
    eprintln!("differential, replication on: {} seeds, identical replies to all {sent} commands", seeds.len());
}

/// Keyspace notifications: the same random sequences, with every class of events on (except
/// `x`, `e` and `m`: expiry and eviction depend on each server's timing, and so would misses
/// next to them), and a subscriber on each server; after every command the events each
/// published are compared, in order. `MESHKV_DIFF_EVENT_SEEDS` picks the seeds (default 1..=40).
#[test]
fn keyspace_events_match_redis() {
    let seeds = parse_seeds(&std::env::var("MESHKV_DIFF_EVENT_SEEDS").unwrap_or_else(|_| "1..=40".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let families = Families::parse("all").expect("valid");
    let len = seq_len();
    let (redis, meshkv) = (start_redis(), start_meshkv());
    for s in [&redis, &meshkv] {
        let mut conn = Conn::open(s.port).expect("connect");
        let reply = conn
            .call(&[b"CONFIG".to_vec(), b"SET".to_vec(), b"notify-keyspace-events".to_vec(), b"KEg$lshzn".to_vec()])
            .expect("config set");
        assert_eq!(reply.raw, b"+OK\r\n", "{}: CONFIG SET notify-keyspace-events", s.name);
    }
    let mut sent = 0;
    for &seed in &seeds {
        let conn = |s: &Server| Conn::open(s.port).unwrap_or_else(|e| panic!("connect to {}: {e}", s.name));
        let mut run = Run {
            seed,
            families: &families,
            redis: conn(&redis),
            meshkv: conn(&meshkv),
            history: Vec::new(),
            sent: 0,
            errors: 0,
            events: Some((Events::open(redis.port), Events::open(meshkv.port))),
        };
        if let Err(report) = run.sequence(len) {
            panic!("{report}\n(keyspace events: MESHKV_DIFF_EVENT_SEEDS={seed})");
        }
        sent += run.sent;
    }
    eprintln!("keyspace events: {} seeds, the same events after each of {sent} commands", seeds.len());
}

/// Glob patterns: every command that takes one (KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, PUBSUB
/// CHANNELS, PSUBSCRIBE through PUBLISH's count) over the same names on both servers, for corner
/// cases of Redis's matcher (open classes, ranges, escapes, bytes over 127, stars next to the end)
/// and for patterns whose unbounded matching would run for hours.
#[test]
fn glob_patterns_match_redis() {
    let names: Vec<Vec<u8>> = [
        &b""[..],
        b"a",
        b"b",
        b"ab",
        b"abc",
        b"aXc",
        b"a*c",
        b"a?c",
        b"a[c",
        b"a]c",
        b"a\\c",
        b"a-c",
        b"]",
        b"^",
        b"`",
        b"hello",
        b"hallo",
        b"hxllo",
        b"HELLO",
        b"\xff",
        b"\x80a",
        b"0",
        b"a\\",
        b"[",
        b"x[ab",
    ]
    .iter()
    .map(|n| n.to_vec())
    .chain([b"a".repeat(300), [b"a".repeat(299), b"b".to_vec()].concat()])
    .collect();
    let patterns: Vec<Vec<u8>> = [
        &b"*"[..],
        b"?",
        b"a*",
        b"*c",
        b"a?c",
        b"a[b-z]c",
        b"a[z-b]c",
        b"a[^X]c",
        b"a[\\]]c",
        b"a\\*c",
        b"a\\",
        b"a\\\\c",
        b"[abc",
        b"x[ab",
        b"[a-]",
        b"[^",
        b"[",
        b"[]",
        b"[]a]",
        b"h[ae]llo",
        b"h*llo",
        b"H*",
        b"*\xff",
        b"[\xff-a]",
        b"[a-\xff]",
        b"[\x80-\xff]*",
        b"**",
        b"a**",
        b"*a*",
        b"?*?",
        b"",
        b"\\",
        b"[\\",
        b"[a-c-e]",
    ]
    .iter()
    .map(|p| p.to_vec())
    .chain([
        format!("{}b", "a*".repeat(40)).into_bytes(),
        format!("{}c", "*a".repeat(40)).into_bytes(),
        "a*".repeat(2000).into_bytes(),
    ])
    .collect();
    let (redis, meshkv) = (start_redis(), start_meshkv());
    let bytes = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    let setup = |conn: &mut Conn| {
        conn.call(&bytes(&[b"FLUSHALL"])).expect("flushall");
        for n in &names {
            conn.call(&bytes(&[b"SET", n, b"1"])).expect("set");
            conn.call(&bytes(&[b"HSET", b"{h}", n, b"1"])).expect("hset");
            conn.call(&bytes(&[b"SADD", b"{s}", n])).expect("sadd");
            conn.call(&bytes(&[b"ZADD", b"{z}", b"1", n])).expect("zadd");
        }
    };
    let (mut r, mut m) = (Conn::open(redis.port).expect("redis"), Conn::open(meshkv.port).expect("meshkv"));
    setup(&mut r);
    setup(&mut m);
    // Subscribers: one per name on a channel of that name, for PUBSUB CHANNELS.
    let subscribers = |port: u16| {
        let mut conn = Conn::open(port).expect("subscriber");
        for n in &names {
            conn.call(&bytes(&[b"SUBSCRIBE", n])).expect("subscribe");
        }
        conn
    };
    let (_rs, _ms) = (subscribers(redis.port), subscribers(meshkv.port));
    let mut compared = 0;
    for p in &patterns {
        let queries: Vec<(Vec<Vec<u8>>, Norm)> = vec![
            (bytes(&[b"KEYS", p]), Norm::Sorted),
            (bytes(&[b"SCAN", b"0", b"MATCH", p, b"COUNT", b"10000"]), Norm::Scan { pairs: false }),
            (bytes(&[b"HSCAN", b"{h}", b"0", b"MATCH", p, b"COUNT", b"10000"]), Norm::Scan { pairs: true }),
            (bytes(&[b"SSCAN", b"{s}", b"0", b"MATCH", p, b"COUNT", b"10000"]), Norm::Scan { pairs: false }),
            (bytes(&[b"ZSCAN", b"{z}", b"0", b"MATCH", p, b"COUNT", b"10000"]), Norm::Scan { pairs: true }),
            (bytes(&[b"PUBSUB", b"CHANNELS", p]), Norm::Sorted),
        ];
        for (query, norm) in queries {
            let (a, b) = (r.call(&query).expect("redis"), m.call(&query).expect("meshkv"));
            // SCAN's keyspace holds the three collections too: both servers have them.
            assert!(
                same(&a.resp, &b.resp, &norm),
                "{} differs\n  redis:  {}\n  meshkv: {}",
                show_args(&query),
                show(&a.raw),
                show(&b.raw)
            );
            compared += 1;
        }
        // PSUBSCRIBE: a pattern subscriber on each server, then PUBLISH to every name: the
        // number of receivers says whether the pattern matched.
        let (mut rp, mut mp) = (Conn::open(redis.port).expect("redis"), Conn::open(meshkv.port).expect("meshkv"));
        rp.call(&bytes(&[b"PSUBSCRIBE", p])).expect("redis psubscribe");
        mp.call(&bytes(&[b"PSUBSCRIBE", p])).expect("meshkv psubscribe");
        for n in &names {
            let publish = bytes(&[b"PUBLISH", n, b"x"]);
            let (a, b) = (r.call(&publish).expect("redis"), m.call(&publish).expect("meshkv"));
            assert_eq!(show(&a.raw), show(&b.raw), "PUBLISH {} with PSUBSCRIBE {}", show(n), show(p));
            compared += 1;
        }
    }
    eprintln!("glob patterns: {} patterns, {compared} replies identical", patterns.len());
}

#[test]
fn knobs_parse() {
    let names = |spec: &str| Families::parse(spec).map(|f| f.names());
    assert_eq!(parse_seeds("7"), Ok(vec![7]));
    assert_eq!(parse_seeds("1..4"), Ok(vec![1, 2, 3]));
    assert_eq!(parse_seeds(" 1..=3 , 9"), Ok(vec![1, 2, 3, 9]));
    assert_eq!(names("basic"), Ok("basic".into()));
    assert_eq!(names(" Basic , ERRORS"), Ok("basic,errors".into()));
    assert_eq!(names("transactions"), Ok("basic,transactions".into()));
    assert_eq!(
        names("all,-bits,-errors"),
        Ok("basic,strings,keys,hashes,lists,sets,zsets,server,scripting,transactions".into())
    );
    assert_eq!(
        names("-zsets"),
        Ok("basic,strings,bits,keys,hashes,lists,sets,server,scripting,transactions,errors".into())
    );
    assert!(names("nope").is_err() && names("all,-all").is_err());
    assert!(parse_seeds("1..x").is_err() && parse_seeds("5..5").is_err());
    // Every generator works for many steps (no empty command, no out-of-range draw).
    let all = Families::parse("all").expect("valid");
    let r = Rng::new(42);
    let mut n = 0;
    while n < 50_000 {
        for cmd in all.step(&r) {
            assert!(!cmd.args.is_empty() && !cmd.family.is_empty());
            n += 1;
        }
    }
    // The reader keeps exact bytes and the normaliser sorts what is unordered.
    let mut raw = Vec::new();
    let text = b"*3\r\n$1\r\nb\r\n$-1\r\n:3\r\n";
    let resp = read_resp(&mut &text[..], &mut raw).expect("parses");
    assert_eq!(raw, text);
    assert_eq!(resp.bytes(), text);
    assert_eq!(normalise(&resp, &Norm::Sorted).bytes(), b"*3\r\n$-1\r\n$1\r\nb\r\n:3\r\n");
    let ttl = |n: &str| Resp::Line(b':', n.as_bytes().to_vec());
    assert!(same(&ttl("100"), &ttl("99"), &Norm::Tolerance(1)));
    assert!(!same(&ttl("-1"), &ttl("0"), &Norm::Tolerance(1)));
}
