//! The append-only file in RAM mode (`appendonly yes`), through the real binary and a real
//! `kill -9`: no acknowledged write is lost under `appendfsync always`, at most about the last
//! second under `everysec`; stamps, types, TTLs, flushes and swaps come back as they were; a
//! truncated tail loads (or refuses with `aof-load-truncated no`); a damaged file stops the start
//! naming the file; BGREWRITEAOF, the automatic rewrite and CONFIG SET appendonly yes lose no
//! write made while they run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Commands;

use crate::harness::{info_field, server_binary, workdir, write_then_kill, writers, TestServer};

fn aof_server(dir: &Path, extra: &[&str]) -> TestServer {
    let mut args = vec!["--appendonly", "yes", "--save", ""];
    args.extend_from_slice(extra);
    TestServer::start_in(dir, &args)
}

fn assert_all_present(con: &mut redis::Connection, acked: &[(String, String)]) {
    for (k, v) in acked {
        let got: Option<String> = con.get(k).unwrap();
        assert_eq!(got.as_deref(), Some(v.as_str()), "acknowledged write of {k} lost");
    }
}

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(aof_dir(dir).join("appendonly.aof.manifest")).unwrap()
}

/// The current (last) incremental file the manifest names.
fn last_incr(dir: &Path) -> PathBuf {
    let text = manifest(dir);
    let line = text.lines().rfind(|l| l.ends_with("type i")).expect("an incremental file");
    aof_dir(dir).join(line.split_whitespace().nth(1).unwrap())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rewrite_done(con: &mut redis::Connection) -> bool {
    info_field(con, "persistence", "aof_rewrite_in_progress") == "0"
}

/// Starts the binary in `dir` expecting it to refuse to start; its standard error.
fn refused_start(dir: &Path, extra: &[&str]) -> String {
    let port = crate::harness::free_port().to_string();
    let mut args = vec!["--port", &port, "--dir", dir.to_str().unwrap(), "--appendonly", "yes", "--save", ""];
    args.extend_from_slice(extra);
    let mut child = Command::new(server_binary())
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the server started although it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the start must fail");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn kill_9_loses_no_acknowledged_write_under_appendfsync_always() {
    let dir = workdir("aof-always");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let (acked, _) = write_then_kill(&server, 8, Duration::from_millis(2000));
    drop(server);
    let total: usize = acked.iter().map(|a| a.len()).sum();
    assert!(total > 200, "too few writes to mean anything: {total}");

    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut con = server.client();
    assert_all_present(&mut con, &acked.concat());
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(
        dbsize >= total && dbsize <= total + 8,
        "DBSIZE {dbsize} vs {total} acknowledged (+ at most one in flight per client)"
    );
    assert_eq!(info_field(&mut con, "persistence", "aof_enabled"), "1");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_under_everysec_loses_at_most_about_the_last_second() {
    let dir = workdir("aof-everysec");
    let server = aof_server(&dir, &["--appendfsync", "everysec"]);
    let started = Instant::now();
    let (acked, killed_at) = write_then_kill(&server, 1, Duration::from_millis(3000));
    drop(server);
    let writes = &acked[0];
    // Writes were evenly paced: the ones acknowledged more than 2 s before the kill (one second
    // of everysec plus slack for this shared machine) must all be there.
    let elapsed = killed_at.duration_since(started).as_secs_f64();
    let safe = ((writes.len() as f64) * ((elapsed - 2.0) / elapsed)).max(0.0) as usize;
    assert!(safe > 100, "too few writes to mean anything: {safe}");

    let server = aof_server(&dir, &["--appendfsync", "everysec"]);
    let mut con = server.client();
    assert_all_present(&mut con, &writes[..safe]);
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(dbsize <= writes.len() + 1, "DBSIZE {dbsize}: more keys than were written");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every type, TTLs, deletes, a MULTI, a flush, a swap and a peer's stamps come back exactly:
/// the same MESHKV.DIGEST (keys, values, expiry times and `(hlc, node)` stamps) and the same
/// MESHKV.STAMP after a `kill -9`. The AOF is read in preference to an older snapshot.
#[test]
fn data_and_replication_stamps_survive_kill_9() {
    let dir = workdir("aof-stamps");
    let server = aof_server(&dir, &["--appendfsync", "always", "--active-replica", "yes"]);
    let mut con = server.client();
    let _: () = con.set("s", "snapshot-value").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap(); // dump.msnap holds the older value
    let _: () = con.set("s", "aof-value").unwrap();
    let _: () = con.set_ex("ttl", "v", 1000).unwrap();
    let _: () = con.rpush("list", &["a", "b", "c"]).unwrap();
    let _: () = con.hset_multiple("hash", &[("f", "1"), ("g", "2")]).unwrap();
    let _: () = con.sadd("set", &["x", "y"]).unwrap();
    let _: () = con.zadd_multiple("zset", &[(1.5, "m"), (2.5, "n")]).unwrap();
    let _: () = con.incr("counter", 41).unwrap();
    let _: () = con.incr("counter", 1).unwrap();
    let _: () = con.set("gone", "x").unwrap();
    let _: () = con.del("gone").unwrap();
    let _: () = redis::pipe().atomic().set("m1", "1").set("m2", "2").lpop("list", None).query(&mut con).unwrap();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut con).unwrap();
    let _: () = con.set("db1-old", "x").unwrap();
    let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    let _: () = con.set("db1-new", "y").unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut con).unwrap();
    let _: () = con.set("expired", "x").unwrap();
    let _: () = redis::cmd("PEXPIRE").arg("expired").arg(50).query(&mut con).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let digest: String = redis::cmd("MESHKV.DIGEST").query(&mut con).unwrap();
    let stamp: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("counter").query(&mut con).unwrap();
    let deleted: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("gone").query(&mut con).unwrap();
    assert_eq!(deleted.3, "deleted");
    server.signal("KILL");
    drop(con);
    drop(server);

    let server = aof_server(&dir, &["--appendfsync", "always", "--active-replica", "yes"]);
    let mut con = server.client();
    let s: String = con.get("s").unwrap();
    assert_eq!(s, "aof-value", "the append-only file is loaded, not the older snapshot");
    let after: String = redis::cmd("MESHKV.DIGEST").query(&mut con).unwrap();
    assert_eq!(after, digest, "keys, values, expiry times and stamps are as before the kill");
    let again: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("counter").query(&mut con).unwrap();
    assert_eq!(again, stamp, "the winning stamp of a key survives the restart");
    let again: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("gone").query(&mut con).unwrap();
    assert_eq!(again, deleted, "the tombstone of a deleted key survives the restart");
    let ttl: i64 = con.ttl("ttl").unwrap();
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    let exists: bool = con.exists("expired").unwrap();
    assert!(!exists);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut con).unwrap();
    let keys: Vec<String> = con.keys("*").unwrap();
    assert_eq!(keys, ["db1-new"]);
    // A write after the restart is newer than everything loaded.
    let _: () = redis::cmd("SELECT").arg(0).query(&mut con).unwrap();
    let _: () = con.incr("counter", 1).unwrap();
    let newer: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("counter").query(&mut con).unwrap();
    assert!(newer.0 > stamp.0, "a write after the restart is stamped after the loaded ones");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SWAPDB is logged as a swap, and a MOVE as the two keys it changed.
#[test]
fn swapdb_and_move_replay_in_order() {
    let dir = workdir("aof-swap");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut con = server.client();
    let _: () = con.set("a", "in-0").unwrap();
    let _: () = redis::cmd("SWAPDB").arg(0).arg(2).query(&mut con).unwrap();
    let _: () = con.set("b", "in-0-after").unwrap();
    let _: () = redis::cmd("MOVE").arg("b").arg(3).query(&mut con).unwrap();
    let before = crate::harness::digest(&mut con);
    server.signal("KILL");
    drop(con);
    drop(server);
    let server = aof_server(&dir, &[]);
    let mut con = server.client();
    assert_eq!(crate::harness::digest(&mut con), before);
    let _: () = redis::cmd("SELECT").arg(2).query(&mut con).unwrap();
    let a: String = con.get("a").unwrap();
    assert_eq!(a, "in-0");
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    let b: String = con.get("b").unwrap();
    assert_eq!(b, "in-0-after");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A last incremental file cut short in its last frame (a crash in the middle of a write):
/// `aof-load-truncated no` refuses to start, naming the file; `yes` (the default) loads every
/// whole frame and cuts the file back, and the server appends after it.
#[test]
fn a_truncated_tail_loads_or_refuses_as_aof_load_truncated_says() {
    let dir = workdir("aof-truncated");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut con = server.client();
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
    server.signal("KILL");
    drop(con);
    drop(server);
    let incr = last_incr(&dir);
    let full = std::fs::metadata(&incr).unwrap().len();
    // Cut the last frame (SET k99) in the middle.
    let file = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    file.set_len(full - 5).unwrap();
    drop(file);

    let err = refused_start(&dir, &["--aof-load-truncated", "no"]);
    assert!(err.contains("Unexpected end of file reading the append only file"), "{err}");
    assert!(err.contains(&incr.display().to_string()), "the file is named: {err}");

    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut con = server.client();
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 99, "every whole frame loads, the cut one does not");
    let last: Option<String> = con.get("k99").unwrap();
    assert_eq!(last, None);
    let _: () = con.set("after", "cut").unwrap();
    server.signal("KILL");
    drop(con);
    drop(server);
    // The file was cut back, so the write after the restart follows a whole frame.
    let server = aof_server(&dir, &["--aof-load-truncated", "no"]);
    let mut con = server.client();
    let after: String = con.get("after").unwrap();
    assert_eq!(after, "cut");
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 100);
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A damaged frame (not at the end) stops the start with the file named, whatever
/// `aof-load-truncated` says; so does a damaged base.
#[test]
fn a_corrupt_file_stops_the_server_naming_the_file() {
    let dir = workdir("aof-corrupt");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut con = server.client();
    for i in 0..50 {
        let _: () = con.set(format!("k{i}"), format!("value-{i}")).unwrap();
    }
    server.signal("KILL");
    drop(con);
    drop(server);
    let incr = last_incr(&dir);
    let mut bytes = std::fs::read(&incr).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&incr, &bytes).unwrap();
    let err = refused_start(&dir, &[]);
    assert!(err.contains("Bad file format reading the append only file"), "{err}");
    assert!(err.contains(&incr.display().to_string()), "the file is named: {err}");
    bytes[middle] ^= 0x55;
    std::fs::write(&incr, &bytes).unwrap();

    // The base, damaged: its name is in the error too.
    let server = aof_server(&dir, &[]);
    let mut con = server.client();
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 50, "repaired, the file loads");
    drop(con);
    drop(server);
    let text = manifest(&dir);
    let base_line = text.lines().find(|l| l.ends_with("type b")).unwrap();
    let base = aof_dir(&dir).join(base_line.split_whitespace().nth(1).unwrap());
    let mut bytes = std::fs::read(&base).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&base, &bytes).unwrap();
    let err = refused_start(&dir, &[]);
    assert!(err.contains(&base.display().to_string()) && err.contains("corrupt"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// BGREWRITEAOF while clients write: a new base and incremental file, the manifest switched and
/// the old files removed, and no write made during the rewrites lost through a `kill -9`.
#[test]
fn bgrewriteaof_under_writes_loses_nothing() {
    let dir = workdir("aof-rewrite");
    let server = aof_server(&dir, &["--appendfsync", "always"]);
    let mut con = server.client();
    let before = manifest(&dir);
    assert_eq!(
        before, "file appendonly.aof.1.base.msnap seq 1 type b\nfile appendonly.aof.1.incr.maof seq 1 type i\n",
        "Redis 7's manifest syntax"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (threads, acked) = writers(&server, 4, &stop);
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        let reply: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
        assert_eq!(reply, "Background append only file rewriting started");
        wait_for("the rewrite", || rewrite_done(&mut con));
        assert_eq!(info_field(&mut con, "persistence", "aof_last_bgrewrite_status"), "ok", "round {round}");
    }
    std::thread::sleep(Duration::from_millis(300));
    server.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    drop(con);
    drop(server);
    let after = manifest(&dir);
    assert_eq!(after.lines().count(), 2, "one base and one incremental file: {after}");
    assert!(after.contains("seq 4 type b") && after.contains("seq 4 type i"), "{after}");
    let mut files: Vec<String> = std::fs::read_dir(aof_dir(&dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["appendonly.aof.4.base.msnap", "appendonly.aof.4.incr.maof", "appendonly.aof.manifest"]);

    let server = aof_server(&dir, &[]);
    let mut con = server.client();
    assert_all_present(&mut con, &acked.concat());
    let base: u64 = info_field(&mut con, "persistence", "aof_base_size").parse().unwrap();
    let current: u64 = info_field(&mut con, "persistence", "aof_current_size").parse().unwrap();
    assert!(base > 0 && current > base, "sizes: base {base}, current {current}");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CONFIG SET appendonly yes at run time writes a base from a cut of what is there and logs from
/// that cut on; CONFIG SET appendonly no stops logging. The automatic rewrite fires on growth.
#[test]
fn config_set_appendonly_and_the_automatic_rewrite() {
    let dir = workdir("aof-config-set");
    let server = TestServer::start_in(&dir, &["--save", ""]);
    let mut con = server.client();
    let reply: redis::RedisResult<String> = redis::cmd("BGREWRITEAOF").query(&mut con);
    assert!(reply.is_err(), "no append only file to rewrite while it is off");
    for i in 0..1000 {
        let _: () = con.set(format!("before{i}"), i).unwrap();
    }
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendfsync").arg("always").query(&mut con).unwrap();
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("appendonly").query(&mut con).unwrap();
    assert_eq!(got, ["appendonly", "yes"]);
    assert_eq!(info_field(&mut con, "persistence", "aof_enabled"), "1");
    wait_for("the first base", || rewrite_done(&mut con));
    assert!(manifest(&dir).contains("type b"));
    // Growth over the base beyond the percentage and the minimum size: a rewrite starts.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("auto-aof-rewrite-min-size")
        .arg("100kb")
        .arg("auto-aof-rewrite-percentage")
        .arg("50")
        .query(&mut con)
        .unwrap();
    let value = "x".repeat(1000);
    for i in 0..300 {
        let _: () = con.set(format!("after{i}"), &value).unwrap();
    }
    wait_for("an automatic rewrite", || {
        info_field(&mut con, "persistence", "aof_rewrites").parse::<u64>().unwrap() >= 2
    });
    wait_for("its end", || rewrite_done(&mut con));
    let _: () = con.set("last", "1").unwrap();
    server.signal("KILL");
    drop(con);
    drop(server);

    let server = aof_server(&dir, &[]);
    let mut con = server.client();
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 1301);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("no").query(&mut con).unwrap();
    wait_for("the file to turn off", || info_field(&mut con, "persistence", "aof_enabled") == "0");
    let _: () = con.set("unlogged", "1").unwrap();
    server.signal("KILL");
    drop(con);
    drop(server);
    let server = aof_server(&dir, &[]);
    let mut con = server.client();
    let unlogged: Option<String> = con.get("unlogged").unwrap();
    assert_eq!(unlogged, None, "written while the file was off");
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 1301);
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A master with the append-only file keeps its place among its peers through a `kill -9`: a
/// peer's write merged before the kill and the tombstone of a delete the peer missed are in the
/// file (so they are there at once after the restart, before any link is up), and once the
/// peer is back both converge without the deleted key coming back.
#[test]
fn a_killed_master_keeps_merged_writes_and_tombstones_through_its_append_only_file() {
    use crate::replication::{converge, master, pull};
    let dir = workdir("aof-repl");
    let args = ["--active-replica", "yes", "--multi-master", "yes", "--appendfsync", "always"];
    let b = master(&[]);
    let a = aof_server(&dir, &args);
    let a_port = a.port;
    pull(&a, b.port);
    pull(&b, a_port);
    let _: () = b.client().set("k", "from-b").unwrap();
    let _: () = b.client().set("kept", "from-b").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    b.signal("STOP"); // b misses the delete and the write
    let _: i64 = a.client().del("k").unwrap();
    let _: () = a.client().set("own", "from-a").unwrap();
    let kept_stamp: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("kept").query(&mut a.client()).unwrap();
    a.signal("KILL");
    drop(a);
    let mut restart = vec!["--appendonly", "yes", "--save", ""];
    restart.extend_from_slice(&args);
    let b_port = b.port.to_string();
    restart.extend(["--replicaof", "127.0.0.1", &b_port]);
    let a = TestServer::start_at(&dir, a_port, &restart);
    let mut ca = a.client();
    let kept: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("kept").query(&mut ca).unwrap();
    assert_eq!(kept, kept_stamp, "the peer's write, merged before the kill, came back with its stamp");
    let grave: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("k").query(&mut ca).unwrap();
    assert_eq!(grave.3, "deleted", "the tombstone came back with the restart");
    b.signal("CONT");
    converge(&[&a, &b], Duration::from_secs(15));
    for (mut con, node) in [(a.client(), "a"), (b.client(), "b")] {
        assert!(!con.exists::<_, bool>("k").unwrap(), "k came back on {node}");
        let own: String = con.get("own").unwrap();
        assert_eq!(own, "from-a", "on {node}");
        assert!(con.exists::<_, bool>("kept").unwrap());
    }
    drop(ca);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A disk that fills up under the append-only file (a 4 MB tmpfs, as root; see
/// `flash_disk_full.rs`): writes are refused with `-MISCONF Errors writing to the AOF file: No
/// space left on device` (Redis's words) while INFO says `aof_last_write_status:err`; once the
/// disk grows, writes are taken again, and after a `kill -9` every acknowledged write is back,
/// those acknowledged before the failure was known included (`everysec`: they waited in memory).
#[test]
fn a_full_disk_refuses_writes_and_loses_no_acknowledged_one() {
    let Some(disk) = crate::flash_disk_full::Tmpfs::mount("aof-disk-full", "4m") else { return };
    let server = aof_server(&disk.dir, &["--appendfsync", "everysec"]);
    let mut raw = server.raw();
    let value = "v".repeat(1000);
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..20_000 {
        let key = format!("k{i}");
        let reply = raw.call(&["SET", &key, &value]);
        if reply == "+OK\r\n" {
            acked.push(key);
        } else {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("the 4 MB disk filled up");
    assert_eq!(refused, "-MISCONF Errors writing to the AOF file: No space left on device\r\n");
    let mut con = server.client();
    assert_eq!(info_field(&mut con, "persistence", "aof_last_write_status"), "err");
    let got: Option<String> = con.get(&acked[0]).unwrap();
    assert!(got.is_some(), "reads go on");
    disk.resize("64m");
    wait_for("writes to be taken again", || raw.call(&["SET", "after", "grown"]) == "+OK\r\n");
    assert_eq!(info_field(&mut con, "persistence", "aof_last_write_status"), "ok");
    std::thread::sleep(Duration::from_millis(1500)); // one everysec sync
    server.signal("KILL");
    drop(con);
    drop(server);
    let server = aof_server(&disk.dir, &[]);
    let mut con = server.client();
    for key in acked.iter().chain(std::iter::once(&"after".to_string())) {
        assert!(con.exists::<_, bool>(key).unwrap(), "acknowledged write of {key} lost");
    }
    drop(con);
    drop(server);
}
