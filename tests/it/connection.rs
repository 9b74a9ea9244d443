//! Integration tests for connection handling: the protocol edge (inline commands, pipelining,
//! malformed input, fuzzing), the connection commands, authentication and client timeouts.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::harness::{client_field, TestServer};

#[test]
fn ping_echo_inline_and_pipelining() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    assert_eq!(c.call(&["PING", "hello"]), "$5\r\nhello\r\n");
    assert_eq!(c.call(&["PING", "a", "b"]), "-ERR wrong number of arguments for 'ping' command\r\n");
    assert_eq!(c.call(&["ECHO", ""]), "$0\r\n\r\n");
    assert_eq!(c.call(&["echo", "x y"]), "$3\r\nx y\r\n");

    // Inline commands: blank lines are skipped, quotes group words and understand escapes.
    c.send(b"\r\n\r\nPING\r\n");
    assert_eq!(c.reply(), b"+PONG\r\n");
    c.send(b"ECHO \"a b\\x41\\n\"\r\nECHO 'c d'\r\nECHO \"\\\"q\\\"\"\nSET  inline   value\r\nGET inline\r\n");
    assert_eq!(c.reply(), b"$5\r\na bA\n\r\n");
    assert_eq!(c.reply(), b"$3\r\nc d\r\n");
    assert_eq!(c.reply(), b"$3\r\n\"q\"\r\n");
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.reply(), b"$5\r\nvalue\r\n");
    // A multibulk of zero or -1 elements is ignored, and a request may arrive in pieces.
    c.send(b"*0\r\n*-1\r\n*2\r\n$4\r\nEC");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b"HO\r\n$2\r\nok\r\n");
    assert_eq!(c.reply(), b"$2\r\nok\r\n");

    // 1000 pipelined commands in one write: 1000 replies, in order.
    let mut batch = Vec::new();
    for i in 0..1000 {
        let cmd = if i % 2 == 0 { format!("SET key:{i} value:{i}") } else { format!("GET key:{}", i - 1) };
        let words: Vec<&str> = cmd.split(' ').collect();
        batch.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
        for w in words {
            batch.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
        }
    }
    c.send(&batch);
    for i in 0..1000 {
        let value = format!("value:{}", i - i % 2);
        let expected = if i % 2 == 0 { "+OK\r\n".to_string() } else { format!("${}\r\n{value}\r\n", value.len()) };
        assert_eq!(String::from_utf8_lossy(&c.reply()), expected, "reply {i}");
    }
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
}

#[test]
fn malformed_requests_get_protocol_errors_and_close() {
    let server = TestServer::start();
    let mut bystander = server.raw();
    assert_eq!(bystander.call(&["SET", "k", "v"]), "+OK\r\n");
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+foo\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*1\r\n$-3\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        // Over proto-max-bulk-len (512MB by default).
        (b"*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"ECHO \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"ECHO \"a\"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"ECHO 'abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ];
    for (input, error) in cases {
        let mut c = server.raw();
        // A good command first: its reply still arrives before the error.
        c.send(b"PING\r\n");
        c.send(input);
        assert_eq!(c.reply(), b"+PONG\r\n");
        assert_eq!(String::from_utf8_lossy(&c.reply()), *error, "for {:?}", String::from_utf8_lossy(input));
        assert!(c.closed(), "connection closed after {:?}", String::from_utf8_lossy(input));
        assert_eq!(bystander.call(&["GET", "k"]), "$1\r\nv\r\n");
    }
    // Not a protocol error: `$-3` on its own is an inline command of that name.
    let mut c = server.raw();
    c.send(b"$-3\r\n");
    assert_eq!(c.reply(), b"-ERR unknown command '$-3', with args beginning with: \r\n");
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
}

/// A tiny deterministic generator (xorshift), so a failing input can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random bytes, or a valid request with a few bytes flipped, inserted or removed.
fn fuzz_input(rng: &mut Rng) -> Vec<u8> {
    const SEEDS: &[&[u8]] = &[
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"ECHO \"quoted \\x41 arg\" 'single'\r\n",
        b"*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n",
    ];
    const ALPHABET: &[u8] = b"*$+-:\r\n0123456789\"'\\x ";
    if rng.below(3) == 0 {
        let len = 1 + rng.below(64);
        return (0..len).map(|_| rng.next() as u8).collect();
    }
    let mut input = SEEDS[rng.below(SEEDS.len())].to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        let byte = if rng.below(2) == 0 { ALPHABET[rng.below(ALPHABET.len())] } else { rng.next() as u8 };
        match rng.below(3) {
            0 if at < input.len() => input[at] = byte,
            1 if at < input.len() => {
                input.remove(at);
            }
            _ => input.insert(at, byte),
        }
    }
    input
}

#[test]
fn random_garbage_does_not_hurt_the_server() {
    let mut server = TestServer::start();
    let mut bystander = server.raw();
    assert_eq!(bystander.call(&["SET", "k", "v"]), "+OK\r\n");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..2500 {
        let input = fuzz_input(&mut rng);
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("server accepts");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&input).unwrap();
        let _ = s.shutdown(Shutdown::Write);
        // Reading to EOF makes sure the server processed (or refused) the input before the next.
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        if round % 500 == 0 {
            assert!(server.alive(), "server died at round {round} on {input:?}");
        }
    }
    assert!(server.alive());
    assert_eq!(bystander.call(&["PING"]), "+PONG\r\n");
    let mut fresh = server.raw();
    assert_eq!(fresh.call(&["PING"]), "+PONG\r\n");
    assert_eq!(fresh.call(&["ECHO", "still here"]), "$10\r\nstill here\r\n");
}

#[test]
fn command_errors_select_hello_quit_reset() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.call(&["GET"]), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(c.call(&["SET", "k"]), "-ERR wrong number of arguments for 'set' command\r\n");
    assert_eq!(c.call(&["NOSUCH", "a", "b"]), "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
    assert_eq!(c.call(&["NOSUCH"]), "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");

    assert_eq!(c.call(&["SELECT", "16"]), "-ERR DB index is out of range\r\n");
    assert_eq!(c.call(&["SELECT", "-1"]), "-ERR DB index is out of range\r\n");
    assert_eq!(c.call(&["SELECT", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.call(&["SET", "k", "db0"]), "+OK\r\n");
    assert_eq!(c.call(&["SELECT", "15"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.call(&["SET", "k", "db15"]), "+OK\r\n");

    // HELLO: a map in RESP3, a flat array in RESP2; unknown versions refused.
    let hello3 = c.call(&["HELLO", "3"]);
    assert!(
        hello3.starts_with(
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"
        ),
        "{hello3}"
    );
    assert!(
        hello3.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n")
    );
    assert_eq!(c.call(&["GET", "missing"]), "_\r\n");
    assert_eq!(c.call(&["HELLO", "4"]), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(c.call(&["HELLO", "x"]), "-ERR Protocol version is not an integer or out of range\r\n");
    assert!(c.call(&["HELLO", "2"]).starts_with("*14\r\n$6\r\nserver\r\n"));
    assert_eq!(c.call(&["GET", "missing"]), "$-1\r\n");

    // RESET: back to database 0, RESP2, out of MULTI and subscriptions.
    assert!(c.call(&["HELLO", "3"]).starts_with("%7"));
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.call(&["GET", "k"]), "$3\r\ndb0\r\n");
    assert_eq!(c.call(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(c.call(&["EXEC"]), "-ERR EXEC without MULTI\r\n");

    // QUIT replies OK and closes; later pipelined commands are not run.
    let mut q = server.raw();
    q.send(b"QUIT\r\nSET after-quit 1\r\n");
    assert_eq!(q.reply(), b"+OK\r\n");
    assert!(q.closed());
    assert_eq!(c.call(&["GET", "after-quit"]), "$-1\r\n");
}

#[test]
fn authentication_with_requirepass() {
    let server = TestServer::start_with(&["--requirepass", "secret"]);
    let mut c = server.raw();
    assert_eq!(c.call(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(c.call(&["AUTH", "wrong"]), wrongpass);
    assert_eq!(c.call(&["AUTH", "default", "wrong"]), wrongpass);
    assert_eq!(c.call(&["AUTH", "nobody", "secret"]), wrongpass);
    assert_eq!(
        c.call(&["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(c.call(&["HELLO", "3", "AUTH", "default", "wrong"]), wrongpass);
    assert_eq!(c.call(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert!(c.call(&["HELLO", "3", "AUTH", "default", "secret"]).starts_with("%7\r\n"));
    assert_eq!(c.call(&["GET", "k"]), "_\r\n");
    // RESET forgets the authentication.
    assert_eq!(c.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.call(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]), "+OK\r\n");
    let mut d = server.raw();
    assert_eq!(d.call(&["AUTH", "default", "secret"]), "+OK\r\n");
    assert_eq!(d.call(&["GET", "k"]), "$1\r\nv\r\n");

    // Without requirepass, AUTH is an error of its own.
    let open = TestServer::start();
    assert_eq!(
        open.raw().call(&["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
}

#[test]
fn idle_clients_time_out() {
    let server = TestServer::start_with(&["--timeout", "1"]);
    let mut idle = server.raw();
    let mut subscriber = server.raw();
    assert_eq!(idle.call(&["PING"]), "+PONG\r\n");
    assert_eq!(subscriber.call(&["SUBSCRIBE", "c"]), "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    let started = Instant::now();
    assert!(idle.closed(), "an idle client is disconnected");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "closed after {waited:?}");
    // Subscribers are exempt, as in Redis.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subscriber.call(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    // An active client is not closed: each command restarts the clock.
    let mut active = server.raw();
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(active.call(&["PING"]), "+PONG\r\n");
    }
}

#[test]
fn waiting_clients_hold_no_big_buffers() {
    // Every client first sends a big pipeline (big requests, big replies), then waits: its input
    // and reply buffers must not stay allocated at their big size while it waits (they would take
    // memory from the data under `maxmemory`: 100 clients here, 48 KiB and more each before).
    let server = TestServer::start();
    let mut admin = server.client();
    let big = "v".repeat(20_000);
    let _: () = redis::cmd("SET").arg("big").arg(&big).query(&mut admin).unwrap();
    let used = |con: &mut redis::Connection| -> i64 {
        super::harness::info_field(con, "memory", "used_memory").parse().unwrap()
    };
    let before = used(&mut admin);
    let mut clients = Vec::new();
    for i in 0..100 {
        let mut con = server.client();
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg(format!("k{i}")).arg(&big).ignore();
        for _ in 0..4 {
            pipe.cmd("GET").arg("big");
        }
        let got: Vec<String> = pipe.query(&mut con).unwrap();
        assert!(got.iter().all(|v| v.len() == big.len()));
        clients.push(con);
    }
    let keys = 100 * (20_000 + 200); // the 100 values just written, and their keys and entries
    let per_client = (used(&mut admin) - before - keys) / 100;
    assert!(per_client < 12 * 1024, "a waiting client holds {per_client} bytes");
    drop(clients);
}

/// A client that streams its pipeline (sends the next requests before the last ones' replies are
/// all read) nearly always leaves a request half read when its requests have run. Its query
/// buffer must still be sized by one pipeline: it was sized by everything read since the buffer
/// was last empty, so after a long stream the first pipeline that ended on a request's end made
/// the next one reserve 1 MiB for a few KiB of requests, taken from the keys under `maxmemory`.
/// CLIENT LIST's `qbuf`/`qbuf-free` show the buffer as the connection waits.
#[test]
fn a_streaming_pipeline_keeps_a_small_query_buffer() {
    let server = TestServer::start();
    let mut streamer = server.raw();
    assert_eq!(streamer.call(&["CLIENT", "SETNAME", "streamer"]), "+OK\r\n");
    let value = "v".repeat(1024);
    let set = |i: usize| format!("*3\r\n$3\r\nSET\r\n$8\r\nk{i:07}\r\n$1024\r\n{value}\r\n").into_bytes();
    let mut tail: Vec<u8> = Vec::new();
    let mut next = 0;
    // 200 pipelines of ten requests and a half (2 MiB in all, never an empty buffer), one that
    // ends where a request ends, and one more that leaves half a request.
    for round in 0..202 {
        let replies = 10 + usize::from(!tail.is_empty());
        let mut out = std::mem::take(&mut tail);
        for _ in 0..10 {
            out.extend_from_slice(&set(next));
            next += 1;
        }
        if round != 200 {
            let half = set(next);
            next += 1;
            out.extend_from_slice(&half[..half.len() / 2]);
            tail = half[half.len() / 2..].to_vec();
        }
        streamer.send(&out);
        for _ in 0..replies {
            assert_eq!(streamer.reply(), b"+OK\r\n");
        }
    }
    let mut observer = server.raw();
    let list = observer.call(&["CLIENT", "LIST"]);
    let line = list.lines().find(|l| l.contains("name=streamer")).expect("the streamer is listed");
    let field = |name: &str| -> usize { client_field(line, name).parse().expect("a number") };
    let (queued, room) = (field("qbuf"), field("qbuf-free"));
    assert!(queued > 0 && queued < 1100, "qbuf={queued}: the half request waiting");
    assert!(room < 64 * 1024, "qbuf-free={room}: a pipeline of 11 KiB needs no more ({line})");
    // The half request completes: the streamer still works.
    streamer.send(&tail);
    assert_eq!(streamer.reply(), b"+OK\r\n");
    assert_eq!(observer.call(&["DBSIZE"]), format!(":{next}\r\n"));
}

/// CLIENT LIST and CLIENT INFO show the running command as Redis 7.0 does (each value read off a
/// real redis-server 7.0.15): `cmd=` names a subcommand in full (`client|list`, `config|get`),
/// and `qbuf=` is the whole query buffer while the command runs, its own request included (26
/// bytes for `CLIENT LIST`, 40 when a PING follows it in the same write); a transaction is
/// shown as `exec`, an unknown command as `NULL`.
#[test]
fn client_list_shows_the_running_request_and_subcommand_names() {
    let running = |line: &str| format!("qbuf={} cmd={}", client_field(line, "qbuf"), client_field(line, "cmd"));
    let server = TestServer::start();
    let mut me = server.raw();
    let mut other = server.raw();
    assert_eq!(other.call(&["CLIENT", "SETNAME", "other"]), "+OK\r\n");
    assert_eq!(other.call(&["CONFIG", "GET", "maxmemory"]), "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    let list = me.call(&["client", "list"]);
    let mine = list.lines().find(|l| l.starts_with("id=") && !l.contains("name=other")).expect("this client is listed");
    assert_eq!(running(mine), "qbuf=26 cmd=client|list", "{mine}");
    let theirs = list.lines().find(|l| l.contains("name=other")).expect("the other client is listed");
    assert_eq!(running(theirs), "qbuf=0 cmd=config|get", "{theirs}");

    me.send(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n*1\r\n$4\r\nPING\r\n");
    let info = String::from_utf8(me.reply()).unwrap();
    assert_eq!(running(&info), "qbuf=40 cmd=client|info", "{info}");
    assert_eq!(me.reply(), b"+PONG\r\n");
    let info = me.call(&["CLIENT", "INFO"]);
    assert_eq!(running(&info), "qbuf=26 cmd=client|info", "{info}");
    // A command that is no container keeps its name; a transaction shows EXEC (not the commands
    // it ran), an unknown command NULL.
    let mut their_cmd = |request: &[&str]| {
        other.call(request);
        let list = me.call(&["CLIENT", "LIST"]);
        let theirs = list.lines().find(|l| l.contains("name=other")).expect("the other client is listed");
        client_field(theirs, "cmd")
    };
    assert_eq!(their_cmd(&["PING"]), "ping");
    assert_eq!(their_cmd(&["MULTI"]), "multi");
    assert_eq!(their_cmd(&["SET", "a", "b"]), "set");
    assert_eq!(their_cmd(&["EXEC"]), "exec");
    assert_eq!(their_cmd(&["NOSUCH"]), "NULL");
    assert_eq!(their_cmd(&["GET"]), "get");
}
