//! Snapshots in RAM mode, through the real binary: SAVE/BGSAVE/LASTSAVE, `save` rules, the save at
//! SHUTDOWN and SIGTERM, loading at start, and refusing a damaged file.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;

use crate::harness::{digest, info_field, workdir, TestServer};

/// One key of every type, in two databases, some with a TTL.
fn fill(con: &mut redis::Connection) {
    let _: () = con.set("str", "value").unwrap();
    let _: () = redis::cmd("SET").arg("ttl").arg("v").arg("EX").arg(1000).query(con).unwrap();
    let _: () = con.rpush("list", &["a", "b", "c"]).unwrap();
    let _: () = con.hset_multiple("hash", &[("f1", "v1"), ("f2", "v2")]).unwrap();
    let _: () = con.sadd("set", &["x", "y"]).unwrap();
    let _: () = con.zadd_multiple("zset", &[(1.5, "m1"), (-2.0, "m2")]).unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(con).unwrap();
    let _: () = con.set("other-db", "3").unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(con).unwrap();
}

#[test]
fn save_then_restart_brings_back_every_type_database_and_ttl() {
    let dir = workdir("persist-save");
    let before;
    {
        let server = TestServer::start_in(&dir, &["--save", ""]);
        let mut con = server.client();
        fill(&mut con);
        before = digest(&mut con);
        let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
        let after: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
        assert!(after > lastsave, "LASTSAVE moves on a save ({lastsave} -> {after})");
        assert_eq!(info_field(&mut con, "persistence", "rdb_changes_since_last_save"), "0");
        // Written after the save, and the server is then killed: gone, as in Redis.
        let _: () = con.set("unsaved", "1").unwrap();
        server.signal("KILL");
    }
    let server = TestServer::start_in(&dir, &["--save", ""]);
    let mut con = server.client();
    assert_eq!(digest(&mut con), before, "the reloaded dataset is the saved one");
    let ttl: i64 = con.ttl("ttl").unwrap();
    assert!((990..=1000).contains(&ttl), "TTL survives: {ttl}");
    assert!(!con.exists::<_, bool>("unsaved").unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_writes_in_the_background_and_refuses_a_second_one_meanwhile() {
    let dir = workdir("persist-bgsave");
    let server = TestServer::start_in(&dir, &["--save", ""]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..50_000 {
        pipe.set(format!("key:{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let reply: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(reply, "Background saving started");
    // Writes go on while it saves.
    let _: () = con.set("during", "1").unwrap();
    let second: redis::RedisResult<String> = redis::cmd("BGSAVE").query(&mut con);
    if let Err(e) = second {
        assert!(e.to_string().contains("Background save already in progress"), "{e}");
    }
    let started = Instant::now();
    while info_field(&mut con, "persistence", "rdb_bgsave_in_progress") != "0" {
        assert!(started.elapsed() < Duration::from_secs(20), "BGSAVE never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut con, "persistence", "rdb_last_bgsave_status"), "ok");
    assert!(dir.join("dump.msnap").exists());
    let scheduled: String = redis::cmd("BGSAVE").arg("SCHEDULE").query(&mut con).unwrap();
    assert!(scheduled.starts_with("Background saving"), "{scheduled}");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_rules_trigger_a_background_save() {
    let dir = workdir("persist-rules");
    let server = TestServer::start_in(&dir, &["--save", "1 2"]);
    let mut con = server.client();
    let config: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("save").query(&mut con).unwrap();
    assert_eq!(config, vec!["save".to_string(), "1 2".to_string()]);
    let _: () = con.set("a", "1").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!dir.join("dump.msnap").exists(), "one change is below the rule's two");
    let _: () = con.set("b", "2").unwrap();
    let started = Instant::now();
    while info_field(&mut con, "persistence", "rdb_changes_since_last_save") != "0" {
        assert!(started.elapsed() < Duration::from_secs(5), "the rule did not fire");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dir.join("dump.msnap").exists());
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_and_sigterm_save_when_rules_are_configured_and_nosave_does_not() {
    let dir = workdir("persist-shutdown");
    // Default rules: SHUTDOWN saves.
    let mut server = TestServer::start_in(&dir, &[]);
    let mut con = server.client();
    let _: () = con.set("k", "from-shutdown").unwrap();
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut con);
    assert!(server.wait_exit(Duration::from_secs(10)));
    drop(server);

    // SIGTERM saves too.
    let mut server = TestServer::start_in(&dir, &[]);
    let mut con = server.client();
    assert_eq!(con.get::<_, String>("k").unwrap(), "from-shutdown");
    let _: () = con.set("k", "from-sigterm").unwrap();
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)));
    drop(server);

    // SHUTDOWN NOSAVE does not.
    let mut server = TestServer::start_in(&dir, &[]);
    let mut con = server.client();
    assert_eq!(con.get::<_, String>("k").unwrap(), "from-sigterm");
    let _: () = con.set("k", "lost").unwrap();
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut con);
    assert!(server.wait_exit(Duration::from_secs(10)));
    drop(server);

    let server = TestServer::start_in(&dir, &["--save", ""]);
    let mut con = server.client();
    assert_eq!(con.get::<_, String>("k").unwrap(), "from-sigterm");
    drop(con);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_snapshot_stops_the_server_with_a_clear_error() {
    let dir = workdir("persist-damaged");
    {
        let server = TestServer::start_in(&dir, &["--save", ""]);
        let mut con = server.client();
        fill(&mut con);
        let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    }
    let path = dir.join("dump.msnap");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 7);
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meshkv-server"))
        .args(["--port", "0", "--dir", dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a server must not start on a truncated snapshot");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("dump.msnap") && log.contains("corrupt or truncated"), "unclear error: {log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_save_and_dbfilename_values_are_refused_like_redis() {
    let server = TestServer::start_with(&["--save", "", "--enable-protected-configs", "yes"]);
    let mut con = server.client();
    let e = redis::cmd("CONFIG").arg("SET").arg("save").arg("10").query::<()>(&mut con).unwrap_err();
    assert!(e.to_string().contains("Invalid save parameters"), "{e}");
    let e = redis::cmd("CONFIG").arg("SET").arg("dbfilename").arg("a/b").query::<()>(&mut con).unwrap_err();
    assert!(e.to_string().contains("dbfilename can't be a path, just a filename"), "{e}");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("save").arg("100 5 20 1").query(&mut con).unwrap();
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("save").query(&mut con).unwrap();
    assert_eq!(v[1], "100 5 20 1");
}
