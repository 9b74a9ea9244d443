//! Integration tests for the string and bit commands. Expected replies were checked against
//! Redis 7.0.

use std::time::Duration;

use super::harness::{RawConn, TestServer};
use redis::Commands;

/// Asserts a series of `(command, exact reply)` pairs, in order.
fn check(raw: &mut RawConn, cases: &[(&[&str], &str)]) {
    for (cmd, want) in cases {
        assert_eq!(raw.call(cmd), *want, "{cmd:?}");
    }
}

const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn set_get_with_options() {
    let server = TestServer::start();
    let mut c = server.client();
    let _: () = c.set("k", "v").unwrap();
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v");
    let mut raw = server.raw();
    check(
        &mut raw,
        &[
            (&["SET", "k", "w", "NX"], "$-1\r\n"),
            (&["SET", "k", "w", "XX", "GET"], "$1\r\nv\r\n"),
            (&["SET", "nokey", "w", "XX", "GET"], "$-1\r\n"),
            (&["SET", "k", "w", "EX", "0"], "-ERR invalid expire time in 'set' command\r\n"),
            (&["SET", "k", "w", "PX", "9223372036854775807"], "-ERR invalid expire time in 'set' command\r\n"),
            (&["SET", "k", "w", "EX", "x"], NOT_INT),
            (&["SET", "k", "w", "NX", "XX"], SYNTAX),
            (&["SET", "k", "w", "EX", "10", "PX", "10"], SYNTAX),
            (&["SET", "k", "w", "KEEPTTL", "EX", "10"], SYNTAX),
            (&["SET", "k", "w", "EX"], SYNTAX),
            (&["SET", "k", "w", "PERSIST"], SYNTAX),
            // Redis accepts a repeated option; the last expiry wins.
            (&["SET", "k", "w", "EX", "10", "EX", "20", "NX", "NX"], "$-1\r\n"),
            (&["SETNX", "k", "x"], ":0\r\n"),
            (&["SETNX", "k2", "x"], ":1\r\n"),
            (&["SETEX", "k3", "0", "v"], "-ERR invalid expire time in 'setex' command\r\n"),
            (&["SETEX", "k3", "x", "v"], NOT_INT),
            (&["PSETEX", "k3", "-5", "v"], "-ERR invalid expire time in 'psetex' command\r\n"),
            (&["SETEX", "k3", "100", "v3"], "+OK\r\n"),
            (&["GETSET", "k3", "new"], "$2\r\nv3\r\n"),
            (&["GETSET", "k4", "new"], "$-1\r\n"),
            (&["GETDEL", "k4"], "$3\r\nnew\r\n"),
            (&["GETDEL", "k4"], "$-1\r\n"),
            (&["EXISTS", "k4"], ":0\r\n"),
            (&["GETEX", "nokey", "EX", "0"], "$-1\r\n"),
            (&["GETEX", "k", "EX", "0"], "-ERR invalid expire time in 'getex' command\r\n"),
            (&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX),
            (&["GETEX", "k", "KEEPTTL"], SYNTAX),
            (&["GETEX", "k", "PX", "5000", "PX", "6000"], "$1\r\nw\r\n"),
            (&["GETEX", "k", "PERSIST"], "$1\r\nw\r\n"),
            // An absolute time in the past deletes the key at once.
            (&["GETEX", "k2", "EXAT", "1"], "$1\r\nx\r\n"),
            (&["EXISTS", "k2"], ":0\r\n"),
        ],
    );

    // Expiries take effect; GETEX PERSIST and plain SET clear them; KEEPTTL keeps them.
    check(
        &mut raw,
        &[
            (&["PSETEX", "a", "150", "1"], "+OK\r\n"),
            (&["SET", "b", "1", "PX", "150"], "+OK\r\n"),
            (&["SET", "b", "2", "KEEPTTL"], "+OK\r\n"),
            (&["SET", "c", "1", "PX", "150"], "+OK\r\n"),
            (&["GETEX", "c", "PERSIST"], "$1\r\n1\r\n"),
            (&["SET", "d", "1", "PX", "150"], "+OK\r\n"),
            (&["SET", "d", "2"], "+OK\r\n"),
            (&["GETEX", "e", "PX", "150"], "$-1\r\n"),
            (&["SET", "e", "1"], "+OK\r\n"),
            (&["GETEX", "e", "PX", "150"], "$1\r\n1\r\n"),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    check(&mut raw, &[(&["EXISTS", "a", "b", "e"], ":0\r\n"), (&["MGET", "c", "d"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n")]);
}

#[test]
fn many_keys_and_substrings() {
    let server = TestServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut raw = server.raw();
    check(
        &mut raw,
        &[
            (&["MSET", "a", "1", "b"], "-ERR wrong number of arguments for 'mset' command\r\n"),
            (&["MSETNX", "a", "1", "b"], "-ERR wrong number of arguments for 'msetnx' command\r\n"),
            (&["MSET", "a", "1", "b", "2", "a", "3"], "+OK\r\n"),
            (&["MGET", "a", "nokey", "b"], "*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n"),
            (&["MSETNX", "x", "1", "a", "2"], ":0\r\n"),
            (&["EXISTS", "x"], ":0\r\n"),
            (&["MSETNX", "x", "1", "y", "2"], ":1\r\n"),
            (&["MGET", "x", "y"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
            // APPEND creates the key even with an empty value.
            (&["APPEND", "s", ""], ":0\r\n"),
            (&["EXISTS", "s"], ":1\r\n"),
            (&["APPEND", "s", "Hello"], ":5\r\n"),
            (&["APPEND", "s", " World"], ":11\r\n"),
            (&["STRLEN", "s"], ":11\r\n"),
            (&["STRLEN", "nokey"], ":0\r\n"),
            (&["GETRANGE", "s", "0", "4"], "$5\r\nHello\r\n"),
            (&["GETRANGE", "s", "-5", "-1"], "$5\r\nWorld\r\n"),
            (&["GETRANGE", "s", "-1", "-5"], "$0\r\n\r\n"),
            (&["GETRANGE", "s", "5", "1"], "$0\r\n\r\n"),
            (&["GETRANGE", "s", "-100", "100"], "$11\r\nHello World\r\n"),
            (&["GETRANGE", "s", "0", "-100"], "$1\r\nH\r\n"),
            (&["GETRANGE", "s", "20", "30"], "$0\r\n\r\n"),
            (&["GETRANGE", "s", "a", "1"], NOT_INT),
            (&["GETRANGE", "nokey", "0", "1"], "$0\r\n\r\n"),
            (&["SUBSTR", "s", "0", "2"], "$3\r\nHel\r\n"),
            (&["SETRANGE", "s", "6", "Redis"], ":11\r\n"),
            (&["GET", "s"], "$11\r\nHello Redis\r\n"),
            (&["SETRANGE", "s", "13", "!"], ":14\r\n"),
            (&["GET", "s"], "$14\r\nHello Redis\0\0!\r\n"),
            (&["SETRANGE", "s", "-1", "x"], "-ERR offset is out of range\r\n"),
            (&["SETRANGE", "s", "x", "x"], NOT_INT),
            (&["SETRANGE", "s", "0", ""], ":14\r\n"),
            (&["SETRANGE", "nokey", "5", ""], ":0\r\n"),
            (&["EXISTS", "nokey"], ":0\r\n"),
            (&["SETRANGE", "n", "2", "ab"], ":4\r\n"),
            (&["GET", "n"], "$4\r\n\0\0ab\r\n"),
            (&["SETRANGE", "s", "536870912", "x"], "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
            (
                &["APPEND", "s", &"x".repeat(1024 * 1024)],
                "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
            ),
            (&["STRLEN", "s"], ":14\r\n"),
        ],
    );
}

#[test]
fn counters() {
    let server = TestServer::start();
    let mut raw = server.raw();
    check(
        &mut raw,
        &[
            (&["INCR", "n"], ":1\r\n"),
            (&["INCRBY", "n", "10"], ":11\r\n"),
            (&["DECR", "n"], ":10\r\n"),
            (&["DECRBY", "n", "-5"], ":15\r\n"),
            (&["GET", "n"], "$2\r\n15\r\n"),
            (&["INCRBY", "n", "x"], NOT_INT),
            (&["INCRBY", "n", "1.5"], NOT_INT),
            (&["INCRBY", "n", "9223372036854775807"], "-ERR increment or decrement would overflow\r\n"),
            (&["DECRBY", "n", "-9223372036854775808"], "-ERR decrement would overflow\r\n"),
            (&["SET", "n", "-9223372036854775808"], "+OK\r\n"),
            (&["DECR", "n"], "-ERR increment or decrement would overflow\r\n"),
            (&["SET", "n", " 1"], "+OK\r\n"),
            (&["INCR", "n"], NOT_INT),
            (&["SET", "n", "01"], "+OK\r\n"),
            (&["INCR", "n"], NOT_INT),
            // INCRBYFLOAT computes in long double and prints %.17Lf trimmed, as Redis does.
            (&["SET", "f", "10.5"], "+OK\r\n"),
            (&["INCRBYFLOAT", "f", "0.1"], "$4\r\n10.6\r\n"),
            (&["INCRBYFLOAT", "f", "-10.6"], "$1\r\n0\r\n"),
            (&["INCRBYFLOAT", "f", "3.0e3"], "$4\r\n3000\r\n"),
            (&["INCRBYFLOAT", "g", "0.1"], "$3\r\n0.1\r\n"),
            (&["INCRBYFLOAT", "g", "0.2"], "$3\r\n0.3\r\n"),
            (&["INCRBYFLOAT", "h", "10000000000"], "$11\r\n10000000000\r\n"),
            (&["INCRBYFLOAT", "h", "0.1"], "$29\r\n10000000000.09999999962747097\r\n"),
            (&["INCRBYFLOAT", "i", "1e30"], "$31\r\n1000000000000000000024696061952\r\n"),
            (&["INCRBYFLOAT", "j", "0x10"], "$2\r\n16\r\n"),
            (&["INCRBYFLOAT", "j", "-1.5e-20"], "$2\r\n16\r\n"),
            (&["INCRBYFLOAT", "j", "inf"], "-ERR increment would produce NaN or Infinity\r\n"),
            (&["INCRBYFLOAT", "j", "nan"], NOT_FLOAT),
            (&["INCRBYFLOAT", "j", " 1"], NOT_FLOAT),
            (&["INCRBYFLOAT", "j", "1e"], NOT_FLOAT),
            (&["INCRBYFLOAT", "j", "1e99999"], NOT_FLOAT),
            (&["SET", "j", "abc"], "+OK\r\n"),
            (&["INCRBYFLOAT", "j", "1"], NOT_FLOAT),
            (&["INCR", "j"], NOT_INT),
            // Counters keep the key's TTL: these keys expire.
            (&["SET", "t1", "1", "PX", "150"], "+OK\r\n"),
            (&["INCR", "t1"], ":2\r\n"),
            (&["SET", "t2", "1", "PX", "150"], "+OK\r\n"),
            (&["INCRBYFLOAT", "t2", "1.5"], "$3\r\n2.5\r\n"),
            (&["SET", "t3", "a", "PX", "150"], "+OK\r\n"),
            (&["APPEND", "t3", "b"], ":2\r\n"),
            (&["SETRANGE", "t3", "0", "c"], ":2\r\n"),
            (&["SETBIT", "t3", "0", "1"], ":0\r\n"),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(raw.call(&["EXISTS", "t1", "t2", "t3"]), ":0\r\n");
}

#[test]
fn bits() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let bad_offset = "-ERR bit offset is not an integer or out of range\r\n";
    check(
        &mut raw,
        &[
            (&["SETBIT", "b", "7", "1"], ":0\r\n"),
            (&["SETBIT", "b", "7", "1"], ":1\r\n"),
            (&["SETBIT", "b", "7", "0"], ":1\r\n"),
            (&["SETBIT", "b", "100", "1"], ":0\r\n"),
            (&["STRLEN", "b"], ":13\r\n"),
            (&["GETBIT", "b", "100"], ":1\r\n"),
            (&["GETBIT", "b", "99"], ":0\r\n"),
            (&["GETBIT", "b", "100000"], ":0\r\n"),
            (&["GETBIT", "nokey", "5"], ":0\r\n"),
            (&["SETBIT", "b", "-1", "1"], bad_offset),
            (&["SETBIT", "b", "4294967296", "1"], bad_offset),
            (&["GETBIT", "b", "x"], bad_offset),
            (&["SETBIT", "b", "1", "2"], "-ERR bit is not an integer or out of range\r\n"),
            (&["SET", "s", "foobar"], "+OK\r\n"),
            (&["BITCOUNT", "s"], ":26\r\n"),
            (&["BITCOUNT", "s", "1", "1"], ":6\r\n"),
            (&["BITCOUNT", "s", "-2", "-1"], ":7\r\n"),
            (&["BITCOUNT", "s", "5", "30", "BIT"], ":17\r\n"),
            (&["BITCOUNT", "s", "-5", "-1", "bit"], ":2\r\n"),
            (&["BITCOUNT", "s", "3", "1"], ":0\r\n"),
            (&["BITCOUNT", "s", "0"], SYNTAX),
            (&["BITCOUNT", "s", "0", "1", "foo"], SYNTAX),
            (&["BITCOUNT", "s", "a", "1"], NOT_INT),
            (&["BITCOUNT", "nokey", "0"], ":0\r\n"),
            // 0xff 0xf0 0x00
            (&["SETRANGE", "p", "0", "\u{7f}"], ":1\r\n"),
            (&["SETBIT", "p", "0", "1"], ":0\r\n"),
            (&["SETBIT", "p", "23", "0"], ":0\r\n"),
            (&["SETRANGE", "p", "1", "p"], ":3\r\n"),
            (&["SETBIT", "p", "8", "1"], ":0\r\n"),
            (&["BITPOS", "p", "0"], ":12\r\n"),
            (&["BITPOS", "p", "1"], ":0\r\n"),
            (&["BITPOS", "p", "1", "2"], ":-1\r\n"),
            (&["BITPOS", "p", "0", "0", "0"], ":-1\r\n"),
            (&["BITPOS", "p", "1", "7", "15", "BIT"], ":7\r\n"),
            (&["BITPOS", "p", "0", "0", "11", "BIT"], ":-1\r\n"),
            (&["BITPOS", "p", "1", "12", "-1", "bit"], ":-1\r\n"),
            (&["BITPOS", "p", "1", "5", "3"], ":-1\r\n"),
            (&["BITPOS", "p", "0", "1", "2", "foo"], SYNTAX),
            (&["BITPOS", "p", "2"], "-ERR The bit argument must be 1 or 0.\r\n"),
            (&["BITPOS", "p", "0", "a"], NOT_INT),
            (&["BITPOS", "nokey", "1"], ":-1\r\n"),
            (&["BITPOS", "nokey", "0", "junk"], ":0\r\n"),
            (&["SET", "ones", "\u{7f}\u{7f}"], "+OK\r\n"),
            (&["BITPOS", "ones", "0"], ":0\r\n"),
            (&["BITPOS", "ones", "0", "1"], ":8\r\n"),
            (&["BITPOS", "ones", "0", "1", "1", "bit"], ":-1\r\n"),
            (&["BITPOS", "ones", "0", "9"], ":-1\r\n"),
            (&["BITPOS", "ones", "0", "9", "bit"], NOT_INT),
            (&["SET", "a", "foo"], "+OK\r\n"),
            (&["SET", "c", "fooba"], "+OK\r\n"),
            (&["BITOP", "AND", "d", "a", "c"], ":5\r\n"),
            (&["GET", "d"], "$5\r\nfoo\0\0\r\n"),
            (&["BITOP", "OR", "d", "a", "c"], ":5\r\n"),
            (&["GET", "d"], "$5\r\nfooba\r\n"),
            (&["BITOP", "XOR", "d", "a", "c", "nokey"], ":5\r\n"),
            (&["GET", "d"], "$5\r\n\0\0\0ba\r\n"),
            (&["BITOP", "NOT", "d", "ones"], ":2\r\n"),
            (&["BITCOUNT", "d"], ":2\r\n"),
            (&["BITPOS", "d", "1"], ":0\r\n"),
            (&["BITPOS", "d", "1", "1"], ":8\r\n"),
            (&["BITOP", "NOT", "d", "a", "c"], "-ERR BITOP NOT must be called with a single source key.\r\n"),
            (&["BITOP", "NAND", "d", "a"], SYNTAX),
            // An empty result deletes the destination.
            (&["BITOP", "AND", "d", "nokey", "nokey2"], ":0\r\n"),
            (&["EXISTS", "d"], ":0\r\n"),
        ],
    );
}

#[test]
fn lcs() {
    let server = TestServer::start();
    let mut raw = server.raw();
    check(
        &mut raw,
        &[
            (&["MSET", "s1", "ohmytext", "s2", "mynewtext"], "+OK\r\n"),
            (&["LCS", "s1", "s2"], "$6\r\nmytext\r\n"),
            (&["LCS", "s1", "s2", "LEN"], ":6\r\n"),
            (
                &["LCS", "s1", "s2", "IDX"],
                "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
            ),
            (
                &["LCS", "s1", "s2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
                "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
            ),
            (&["LCS", "s1", "s2", "IDX", "LEN"], "-ERR If you want both the length and indexes, please just use IDX.\r\n"),
            (&["LCS", "s1", "s2", "MINMATCHLEN"], SYNTAX),
            (&["LCS", "s1", "s2", "MINMATCHLEN", "x"], NOT_INT),
            (&["LCS", "s1", "nokey"], "$0\r\n\r\n"),
            (&["SETRANGE", "big1", "20000", "x"], ":20001\r\n"),
            (&["SETRANGE", "big2", "20000", "y"], ":20001\r\n"),
            (
                &["LCS", "big1", "big2", "LEN"],
                "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
            ),
        ],
    );
}

/// Type errors need a key of another type, which the list family provides; on a build without
/// it (a family branch on its own) only the absence of LPUSH is accepted.
#[test]
fn wrong_type_replies() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let pushed = raw.call(&["LPUSH", "l", "a"]);
    if pushed.starts_with("-ERR unknown command 'LPUSH'") {
        return;
    }
    assert_eq!(pushed, ":1\r\n");
    raw.call(&["SET", "s", "x"]);
    let lcs_err = "-ERR The specified keys must contain string values\r\n";
    check(
        &mut raw,
        &[
            (&["GET", "l"], WRONGTYPE),
            (&["SET", "l", "x", "GET"], WRONGTYPE),
            (&["GETSET", "l", "x"], WRONGTYPE),
            (&["GETDEL", "l"], WRONGTYPE),
            (&["GETEX", "l", "PERSIST"], WRONGTYPE),
            (&["APPEND", "l", "x"], WRONGTYPE),
            (&["STRLEN", "l"], WRONGTYPE),
            (&["GETRANGE", "l", "0", "1"], WRONGTYPE),
            (&["SETRANGE", "l", "0", ""], WRONGTYPE),
            (&["INCR", "l"], WRONGTYPE),
            (&["INCRBYFLOAT", "l", "1"], WRONGTYPE),
            (&["GETBIT", "l", "0"], WRONGTYPE),
            (&["SETBIT", "l", "0", "1"], WRONGTYPE),
            (&["BITCOUNT", "l", "0"], WRONGTYPE),
            (&["BITPOS", "l", "1"], WRONGTYPE),
            (&["BITOP", "AND", "d", "s", "l"], WRONGTYPE),
            (&["LCS", "s", "l"], lcs_err),
            (&["MGET", "s", "l"], "*2\r\n$1\r\nx\r\n$-1\r\n"),
            (&["MSETNX", "l", "1", "q", "1"], ":0\r\n"),
            (&["SETNX", "l", "1"], ":0\r\n"),
            (&["SET", "l", "x"], "+OK\r\n"),
            (&["GET", "l"], "$1\r\nx\r\n"),
        ],
    );
}
