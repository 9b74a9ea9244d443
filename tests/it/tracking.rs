//! Client-side caching (CLIENT TRACKING): invalidation messages, byte for byte as redis-server
//! 7.0.15 sends them (checked against it by hand with the same sequences).

use std::time::Duration;

use super::harness::{RawConn, TestServer};

/// The RESP3 push `invalidate [keys]`.
fn invalidate(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s += &format!("${}\r\n{k}\r\n", k.len());
    }
    s
}

/// The null invalidation of a flush, in RESP3.
const FLUSHED: &str = ">2\r\n$10\r\ninvalidate\r\n_\r\n";

fn next(conn: &mut RawConn) -> String {
    String::from_utf8_lossy(&conn.reply()).into_owned()
}

/// A RESP3 connection.
fn resp3(server: &TestServer) -> RawConn {
    let mut c = server.raw();
    assert!(c.call(&["HELLO", "3"]).starts_with('%'));
    c
}

/// Nothing is waiting on `c`: the next thing it reads is its PING's reply.
fn nothing_waits(c: &mut RawConn) {
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
}

fn client_id(c: &mut RawConn) -> String {
    c.call(&["CLIENT", "ID"]).trim_start_matches(':').trim_end().to_string()
}

#[test]
fn resp3_push_for_a_read_key_written_by_another_client() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut other = server.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    other.call(&["SET", "k", "1"]);
    other.call(&["SET", "unread", "1"]);
    assert_eq!(c.call(&["GET", "k"]), "$1\r\n1\r\n");
    assert_eq!(c.call(&["MGET", "m1", "m2"]), "*2\r\n_\r\n_\r\n");
    // A key not read is not announced; a read one once, then it is forgotten.
    other.call(&["INCR", "unread"]);
    other.call(&["INCR", "k"]);
    assert_eq!(next(&mut c), invalidate(&["k"]));
    other.call(&["INCR", "k"]);
    nothing_waits(&mut c);
    // Keys read but missing are tracked too (MGET's keys, one message each).
    other.call(&["MSET", "m1", "x", "m2", "y"]);
    assert_eq!(next(&mut c), invalidate(&["m1"]));
    assert_eq!(next(&mut c), invalidate(&["m2"]));
    // Its own write is announced too (no NOLOOP), after the write's reply.
    c.call(&["GET", "k"]);
    assert_eq!(c.call(&["SET", "k", "2"]), "+OK\r\n");
    assert_eq!(next(&mut c), invalidate(&["k"]));
    // Off: nothing more.
    c.call(&["GET", "k"]);
    assert_eq!(c.call(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    other.call(&["SET", "k", "3"]);
    nothing_waits(&mut c);
}

#[test]
fn redirect_to_a_resp2_subscriber_and_broken_redirect() {
    let server = TestServer::start();
    let mut sink = server.raw();
    let sink_id = client_id(&mut sink);
    sink.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    sink.reply();
    let mut c = server.raw();
    let mut other = server.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id]), "+OK\r\n");
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), format!(":{sink_id}\r\n"));
    c.call(&["GET", "a"]);
    other.call(&["SET", "a", "1"]);
    assert_eq!(next(&mut sink), "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\na\r\n");
    // A flush: a null invalidation.
    c.call(&["GET", "a"]);
    other.call(&["FLUSHALL"]);
    assert_eq!(next(&mut sink), "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n");

    // The redirect client goes: a RESP3 tracking client hears of it when a key changes.
    let mut c3 = resp3(&server);
    assert_eq!(c3.call(&["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id]), "+OK\r\n");
    c3.call(&["GET", "b"]);
    assert_eq!(sink.call(&["QUIT"]), "+OK\r\n");
    assert!(sink.closed());
    std::thread::sleep(Duration::from_millis(100));
    other.call(&["SET", "b", "1"]);
    let broken = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{sink_id}\r\n");
    assert_eq!(next(&mut c3), broken);
    assert_eq!(
        c3.call(&["CLIENT", "TRACKINGINFO"]),
        format!(
            "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{sink_id}\r\n$8\r\nprefixes\r\n*0\r\n"
        )
    );
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
}

#[test]
fn bcast_prefixes_announce_every_write_under_them() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut other = server.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"]), "+OK\r\n");
    // One message per prefix and command, with every key of the command under it.
    other.call(&["MSET", "user:1", "a", "user:2", "b", "nope", "c"]);
    assert_eq!(next(&mut c), invalidate(&["user:1", "user:2"]));
    other.call(&["DEL", "obj:x"]);
    nothing_waits(&mut c); // nothing was deleted: no write
    other.call(&["SET", "obj:x", "1"]);
    assert_eq!(next(&mut c), invalidate(&["obj:x"]));
    other.call(&["SET", "nope", "1"]);
    nothing_waits(&mut c);
    // Reads are not tracked in BCAST mode.
    c.call(&["GET", "nope"]);
    other.call(&["SET", "nope", "2"]);
    nothing_waits(&mut c);

    // Overlapping prefixes, as Redis words it.
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "use"]),
        "-ERR Prefix 'use' overlaps with an existing prefix 'user:'. Prefixes for a single client must not overlap.\r\n"
    );
    let mut d = server.raw();
    assert_eq!(
        d.call(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"]),
        "-ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap.\r\n"
    );
    assert_eq!(
        d.call(&["CLIENT", "TRACKING", "on", "PREFIX", "a"]),
        "-ERR PREFIX option requires BCAST mode to be enabled\r\n"
    );
    assert_eq!(
        d.call(&["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n"
    );
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on"]),
        "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    let info = c.call(&["CLIENT", "TRACKINGINFO"]);
    assert!(info.contains("~2\r\n$2\r\non\r\n$5\r\nbcast\r\n"), "{info}");
    assert!(info.ends_with("$8\r\nprefixes\r\n*2\r\n$4\r\nobj:\r\n$5\r\nuser:\r\n"), "{info}");
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut other = server.raw();
    assert_eq!(
        c.call(&["CLIENT", "CACHING", "yes"]),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on", "OPTIN"]), "+OK\r\n");
    assert_eq!(
        c.call(&["CLIENT", "CACHING", "no"]),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    c.call(&["GET", "a"]); // not after CACHING YES: not tracked
    assert_eq!(c.call(&["CLIENT", "CACHING", "yes"]), "+OK\r\n");
    c.call(&["GET", "b"]);
    c.call(&["GET", "c"]); // CACHING YES held for one command only
    other.call(&["MSET", "a", "1", "b", "1", "c", "1"]);
    assert_eq!(next(&mut c), invalidate(&["b"]));
    nothing_waits(&mut c);
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on", "OPTOUT"]),
        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );

    assert_eq!(c.call(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on", "OPTOUT"]), "+OK\r\n");
    assert_eq!(c.call(&["CLIENT", "CACHING", "no"]), "+OK\r\n");
    assert_eq!(
        c.call(&["CLIENT", "TRACKINGINFO"]),
        "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$6\r\noptout\r\n$10\r\ncaching-no\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    c.call(&["GET", "a"]); // right after CACHING NO: not tracked
    c.call(&["GET", "b"]);
    other.call(&["MSET", "a", "2", "b", "2"]);
    assert_eq!(next(&mut c), invalidate(&["b"]));
    nothing_waits(&mut c);
}

#[test]
fn noloop_skips_own_writes() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut other = server.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on", "NOLOOP"]), "+OK\r\n");
    c.call(&["GET", "k"]);
    c.call(&["SET", "k", "mine"]);
    nothing_waits(&mut c);
    c.call(&["GET", "k"]);
    other.call(&["SET", "k", "theirs"]);
    assert_eq!(next(&mut c), invalidate(&["k"]));

    // BCAST and NOLOOP: only the other client's keys.
    c.call(&["CLIENT", "TRACKING", "off"]);
    c.call(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]);
    c.call(&["SET", "own", "1"]);
    other.call(&["SET", "foreign", "1"]);
    assert_eq!(next(&mut c), invalidate(&["foreign"]));
}

#[test]
fn flushes_send_a_null_invalidation() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut other = server.raw();
    let mut admin = server.client();
    c.call(&["CLIENT", "TRACKING", "on"]);
    c.call(&["GET", "k1"]);
    c.call(&["GET", "k2"]);
    let keys = |admin: &mut redis::Connection| super::harness::info_field(admin, "stats", "tracking_total_keys");
    assert_eq!(keys(&mut admin), "2");
    assert_eq!(super::harness::info_field(&mut admin, "clients", "tracking_clients"), "1");
    other.call(&["FLUSHALL"]);
    assert_eq!(next(&mut c), FLUSHED); // one, for all of FLUSHALL's databases
    nothing_waits(&mut c);
    assert_eq!(keys(&mut admin), "0");
    other.call(&["FLUSHDB"]);
    assert_eq!(next(&mut c), FLUSHED);
    // Inside MULTI, its own flush comes after EXEC's reply.
    c.call(&["GET", "k1"]);
    c.call(&["MULTI"]);
    c.call(&["FLUSHDB"]);
    assert_eq!(c.call(&["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(next(&mut c), FLUSHED);
}

#[test]
fn expiry_and_transactions_invalidate_after_the_reply() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut other = server.raw();
    c.call(&["CLIENT", "TRACKING", "on"]);
    other.call(&["SET", "short", "v", "PX", "100"]);
    assert_eq!(c.call(&["GET", "short"]), "$1\r\nv\r\n");
    // Active expiry removes it: the invalidation arrives without anyone touching the key.
    assert_eq!(next(&mut c), invalidate(&["short"]));

    c.call(&["MGET", "t1", "t2"]);
    c.call(&["MULTI"]);
    c.call(&["SET", "t1", "1"]);
    c.call(&["SET", "t2", "2"]);
    assert_eq!(c.call(&["EXEC"]), "*2\r\n+OK\r\n+OK\r\n");
    assert_eq!(next(&mut c), invalidate(&["t1"]));
    assert_eq!(next(&mut c), invalidate(&["t2"]));
}

#[test]
fn table_limit_evicts_tracked_keys_with_invalidations() {
    let server = TestServer::start();
    let mut c = resp3(&server);
    let mut admin = server.client();
    let max: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("tracking-table-max-keys").query(&mut admin).unwrap();
    assert_eq!(max, ["tracking-table-max-keys", "1000000"]);
    c.call(&["CLIENT", "TRACKING", "on"]);
    c.call(&["MGET", "a", "b", "c"]);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("tracking-table-max-keys").arg("1").query(&mut admin).unwrap();
    // The limit is applied after the next command; two of the three keys go, each announced.
    assert_eq!(super::harness::info_field(&mut admin, "stats", "tracking_total_keys"), "1");
    let mut gone = vec![next(&mut c), next(&mut c)];
    gone.sort();
    gone.dedup();
    assert_eq!(gone.len(), 2);
    assert!(gone.iter().all(|m| ["a", "b", "c"].iter().any(|k| *m == invalidate(&[k]))), "{gone:?}");
    nothing_waits(&mut c);
}
