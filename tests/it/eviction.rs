//! Integration tests for `maxmemory` and the eviction policies: the OOM refusal of `noeviction`,
//! memory held near the limit by eviction, which keys each policy may take, and the directives.

use std::collections::HashMap;
use std::thread::sleep;
use std::time::Duration;

use super::harness::{RawConn, TestServer};

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

fn info(raw: &mut RawConn, section: &str) -> HashMap<String, String> {
    let reply = raw.call(&["INFO", section]);
    reply.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect()
}

fn info_u64(raw: &mut RawConn, section: &str, field: &str) -> u64 {
    info(raw, section).get(field).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("INFO {section} {field}"))
}

/// Sets `maxmemory` to what the server uses now plus `headroom` bytes; returns the limit.
fn limit_to_used_plus(raw: &mut RawConn, headroom: u64, policy: &str) -> u64 {
    let limit = info_u64(raw, "memory", "used_memory") + headroom;
    assert_eq!(raw.call(&["CONFIG", "SET", "maxmemory-policy", policy]), "+OK\r\n");
    assert_eq!(raw.call(&["CONFIG", "SET", "maxmemory", &limit.to_string()]), "+OK\r\n");
    limit
}

/// Writes `count` keys `prefix:i` with 1 KiB values (and a TTL if `ex` is given) through a
/// redis-rs pipeline, 100 at a time; returns the indices that were written (not refused).
fn fill(con: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>, ex: Option<u64>) -> Vec<usize> {
    let value = vec![b'v'; 1024];
    let mut written = Vec::new();
    let all: Vec<usize> = range.collect();
    for chunk in all.chunks(100) {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for i in chunk {
            let cmd = pipe.cmd("SET").arg(format!("{prefix}:{i}")).arg(&value);
            if let Some(ex) = ex {
                cmd.arg("EX").arg(ex);
            }
        }
        let replies: Vec<redis::Value> = pipe.query(con).unwrap();
        for (i, r) in chunk.iter().zip(replies) {
            if !matches!(r, redis::Value::ServerError(_)) {
                written.push(*i);
            }
        }
    }
    written
}

/// How many of `prefix:i` for `indices` still exist.
fn surviving(con: &mut redis::Connection, prefix: &str, indices: &[usize]) -> usize {
    indices
        .chunks(500)
        .map(|chunk| {
            let keys: Vec<String> = chunk.iter().map(|i| format!("{prefix}:{i}")).collect();
            redis::cmd("EXISTS").arg(keys).query::<usize>(con).unwrap()
        })
        .sum()
}

#[test]
fn noeviction_refuses_writes_with_redis_error_but_serves_reads_and_deletes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    limit_to_used_plus(&mut raw, 2 << 20, "noeviction");
    let value = "x".repeat(1024);
    let mut refused = None;
    for i in 0..50_000 {
        let reply = raw.call(&["SET", &format!("k:{i}"), &value]);
        if reply != "+OK\r\n" {
            refused = Some((i, reply));
            break;
        }
    }
    let (n, reply) = refused.expect("a write is refused before 50 MB");
    assert_eq!(reply, OOM);
    assert!(n > 500, "refused after only {n} writes");
    // Commands that do not grow memory still run.
    assert_eq!(raw.call(&["GET", "k:0"]), format!("$1024\r\n{value}\r\n"));
    assert_eq!(raw.call(&["EXISTS", "k:1"]), ":1\r\n");
    assert_eq!(raw.call(&["DEL", "k:0"]), ":1\r\n");
    // Inside MULTI, queueing is refused and EXEC aborts, as in Redis 7.
    assert_eq!(raw.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.call(&["SET", "in-multi", "1"]), OOM);
    assert_eq!(raw.call(&["EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(info_u64(&mut raw, "stats", "evicted_keys"), 0);
    // Lifting the limit lets writes through at once.
    assert_eq!(raw.call(&["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
    assert_eq!(raw.call(&["SET", "after", "1"]), "+OK\r\n");
}

#[test]
fn allkeys_lru_holds_memory_near_the_limit_and_keeps_recently_read_keys() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut con = server.client();
    const HEADROOM: u64 = 4 << 20;
    let limit = limit_to_used_plus(&mut raw, HEADROOM, "allkeys-lru");
    let hot: Vec<usize> = (0..500).collect();
    assert_eq!(fill(&mut con, "hot", 0..500, None).len(), 500);
    // Three times the headroom in cold keys, reading every hot key after each MB written.
    let mut cold = Vec::new();
    for mb in 0..12 {
        sleep(Duration::from_millis(2)); // idle times are in milliseconds
        let start = mb * 1000;
        cold.extend(fill(&mut con, "cold", start..start + 1000, None));
        let keys: Vec<String> = hot.iter().map(|i| format!("hot:{i}")).collect();
        let _: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(keys).query(&mut con).unwrap();
    }
    assert_eq!(cold.len(), 12_000, "allkeys-lru never refuses a write");
    sleep(Duration::from_millis(100));
    let used = info_u64(&mut raw, "memory", "used_memory");
    // Slack: what one 10 ms refresh window and allocator caches may hold beyond the limit.
    let slack = 1 << 20;
    assert!(used <= limit + slack, "used_memory {used} > maxmemory {limit} + {slack}");
    let evicted = info_u64(&mut raw, "stats", "evicted_keys");
    assert!(evicted > 5000, "evicted_keys {evicted}");
    let hot_left = surviving(&mut con, "hot", &hot) as f64 / hot.len() as f64;
    let cold_left = surviving(&mut con, "cold", &cold) as f64 / cold.len() as f64;
    eprintln!("used {used} limit {limit} evicted {evicted} hot {hot_left:.2} cold {cold_left:.2}");
    assert!(hot_left > cold_left + 0.2, "hot keys kept {hot_left:.2}, cold keys {cold_left:.2}");
}

/// Under a `volatile-*` policy only keys with a TTL go; once none is left, writes are refused.
fn volatile_policy_spares_keys_without_ttl(policy: &str) {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut con = server.client();
    limit_to_used_plus(&mut raw, 3 << 20, policy);
    let keep = fill(&mut con, "keep", 0..1000, None);
    assert_eq!(keep.len(), 1000);
    let ttl = fill(&mut con, "ttl", 0..8000, Some(3600));
    let refused = (0..8000).find(|i| ttl.binary_search(i).is_err());
    assert_eq!(
        refused,
        None,
        "{policy}: writes go through while keys with a TTL remain ({} refused, evicted_keys {})",
        8000 - ttl.len(),
        info_u64(&mut raw, "stats", "evicted_keys")
    );
    assert!(info_u64(&mut raw, "stats", "evicted_keys") > 1000, "{policy}");
    assert_eq!(surviving(&mut con, "keep", &keep), 1000, "{policy} evicted a key without TTL");
    // More keys without TTL: the TTL keys go first, then nothing is left to evict.
    let more = fill(&mut con, "keep", 1000..20_000, None);
    assert!(more.len() < 19_000, "{policy}: no write refused");
    // The refusal is Redis's OOM error. (Freed connection buffers may briefly take memory just
    // under the limit, so look for it over a few more writes.)
    let refusal =
        (0..5000).map(|i| raw.call(&["SET", &format!("extra:{i}"), &"z".repeat(1024)])).find(|r| r != "+OK\r\n");
    assert_eq!(refusal.as_deref(), Some(OOM), "{policy}");
    let mut all = keep.clone();
    all.extend(&more);
    assert_eq!(surviving(&mut con, "keep", &all), all.len(), "{policy} evicted a key without TTL");
    assert_eq!(surviving(&mut con, "ttl", &ttl), 0, "{policy}");
}

#[test]
fn volatile_ttl_spares_keys_without_ttl() {
    volatile_policy_spares_keys_without_ttl("volatile-ttl");
}

#[test]
fn volatile_lru_spares_keys_without_ttl() {
    volatile_policy_spares_keys_without_ttl("volatile-lru");
}

#[test]
fn maxmemory_directives_as_redis() {
    let server = TestServer::start_with(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["CONFIG", "SET", "maxmemory-policy", "bogus"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
    );
    assert_eq!(
        raw.call(&["CONFIG", "SET", "maxmemory", "lots"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"
    );
    assert_eq!(
        raw.call(&["CONFIG", "SET", "maxmemory-samples", "0"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive\r\n"
    );
    let m = info(&mut raw, "memory");
    assert_eq!((m["maxmemory"].as_str(), m["maxmemory_human"].as_str()), ("104857600", "100.00M"));
    assert_eq!(m["maxmemory_policy"], "allkeys-lfu");
    // OBJECT FREQ works under an LFU policy, OBJECT IDLETIME does not (Redis's texts).
    assert_eq!(raw.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(raw.call(&["OBJECT", "FREQ", "k"]), ":5\r\n");
    assert!(raw.call(&["OBJECT", "IDLETIME", "k"]).starts_with("-ERR An LFU maxmemory policy is selected"));
    assert_eq!(raw.call(&["CONFIG", "SET", "maxmemory-policy", "VOLATILE-TTL", "maxmemory", "1gb"]), "+OK\r\n");
    assert_eq!(
        raw.call(&["CONFIG", "GET", "maxmemory*"]),
        "*8\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n$16\r\nmaxmemory-policy\r\n$12\r\nvolatile-ttl\r\n$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n$17\r\nmaxmemory-clients\r\n$1\r\n0\r\n"
    );
    assert_eq!(info(&mut raw, "memory")["maxmemory_policy"], "volatile-ttl");
}
