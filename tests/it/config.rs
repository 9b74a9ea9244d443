//! Config files as Redis and KeyDB ship them, and the directives that protect data, access and
//! the process: the stock redis.conf, `rename-command` (against a real redis-server),
//! `stop-writes-on-bgsave-error` with a save that really fails, `daemonize`, `pidfile` and
//! `supervised systemd` with a real notification socket.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{free_port, server_binary as binary, workdir, RawConn, RealRedis, TestServer};

/// Waits up to 10 s for `ready`.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect(port: u16) -> RawConn {
    let mut conn = None;
    wait_for("the server to accept connections", || {
        conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
        conn.is_some()
    });
    RawConn::from_stream(conn.unwrap())
}

fn info_field(conn: &mut RawConn, section: &str, field: &str) -> String {
    let info = conn.call(&["INFO", section]);
    let prefix = format!("{field}:");
    info.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {field} in {info}")).to_string()
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// Debian's stock /etc/redis/redis.conf, with only its paths moved into a test directory (and
/// its port): it starts meshkv unchanged otherwise, `daemonize yes` included. Every directive
/// it sets has a rule (see src/config/known.rs); none of them blocks a start.
#[test]
fn the_stock_redis_conf_starts_meshkv_daemonized() {
    let stock = std::fs::read_to_string("/etc/redis/redis.conf")
        .expect("redis-server's package installs /etc/redis/redis.conf");
    let dir = workdir("stock-redis-conf");
    let port = free_port();
    let pidfile = dir.join("meshkv.pid");
    let logfile = dir.join("meshkv.log");
    let conf: String = stock
        .lines()
        .map(|line| match line.split_whitespace().next() {
            Some("pidfile") => format!("pidfile {}", pidfile.display()),
            Some("logfile") => format!("logfile {}", logfile.display()),
            Some("dir") => format!("dir {}", dir.display()),
            Some("port") => format!("port {port}"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.join("redis.conf");
    std::fs::write(&file, conf).unwrap();
    let out = Command::new(binary()).arg(&file).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "the foreground process exits 0: {}", String::from_utf8_lossy(&out.stderr));
    let mut conn = connect(port);
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert_eq!(info_field(&mut conn, "server", "process_id"), pid.to_string(), "the pid file holds the daemon's pid");
    assert_eq!(conn.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(conn.call(&["CONFIG", "GET", "daemonize"]), "*2\r\n$9\r\ndaemonize\r\n$3\r\nyes\r\n");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("have no effect in meshkv"), "the tuning directives are named once in the log: {log}");
    conn.cmd(&["SHUTDOWN"]); // saves first: the stock file has save rules
    assert!(conn.closed());
    wait_for("the daemon to exit", || !process_alive(pid));
    assert!(!pidfile.exists(), "a clean shutdown removes the pid file");
    assert!(dir.join("dump.rdb").exists(), "the stock dbfilename was saved to");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A directive that would weaken the deployment if ignored stops the start, naming the file and
/// line, with the reason and the alternative.
#[test]
fn directives_that_protect_data_stop_the_start_with_file_and_line() {
    let dir = workdir("refused-directives");
    for (line, reason) in [
        ("cluster-enabled yes", "Redis Cluster is not implemented"),
        ("tls-protocols TLSv1.2", "this TLS option is not implemented"),
        ("user alice on >pw (~x +get", "Unmatched parenthesis in acl selector starting at '(~x'"),
        ("min-replicas-to-write 1", "refusing writes while too few replicas"),
        ("rename-command NOSUCH x", "No such command in rename-command"),
    ] {
        let file = dir.join("refused.conf");
        std::fs::write(&file, format!("port 0\nappendonly no\n{line}\n")).unwrap();
        // A directive that is taken after all would start a server that never ends: wait for the
        // exit a refusal makes, and no longer.
        let mut child = Command::new(binary())
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{line} did not stop the start");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{line} must stop the start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{}, at line 3", file.display())), "{line}: {err}");
        assert!(err.contains(&format!(">>> '{line}'")) && err.contains(reason), "{line}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const RENAMES: &str = "rename-command FLUSHALL \"\"\nrename-command CONFIG secret-cfg\nrename-command GET fetch\n";

/// `rename-command`: every reply that shows it is compared with a real redis-server 7.0 started
/// with the same lines.
#[test]
fn rename_command_replies_as_redis() {
    let redis = RealRedis::start(RENAMES, &[]);
    let dir = workdir("rename-command");
    let file = dir.join("renames.conf");
    std::fs::write(&file, RENAMES).unwrap();
    let meshkv = TestServer::start_full(Some(&file), &["--save", ""]);
    let (mut r, mut m) = (redis.raw(), meshkv.raw());
    let same = |r: &mut RawConn, m: &mut RawConn, args: &[&str]| {
        let (want, got) = (r.call(args), m.call(args));
        assert_eq!(got, want, "{args:?}");
        got
    };
    for args in [
        &["SET", "k", "v"][..],
        &["fetch", "k"],
        &["FETCH", "k"],
        &["get", "k"],
        &["GET", "k", "extra"],
        &["flushall"],
        &["FlushAll", "async"],
        &["config", "get", "maxmemory"],
        &["secret-cfg", "get", "maxmemory"],
        &["SECRET-CFG", "GET", "maxmemory"],
        &["secret-cfg"],
        &["secret-cfg", "nosuch"],
        &["command", "info", "flushall", "get"],
        &["command", "docs", "flushall", "config"],
        &["command", "list", "filterby", "pattern", "secret*"],
        &["command", "list", "filterby", "pattern", "fetch"],
        &["command", "getkeys", "get", "k"],
        &["MULTI"],
        &["flushall"],
        &["fetch", "k"],
        &["EXEC"],
        &["MULTI"],
        &["fetch", "k"],
        &["secret-cfg", "get", "maxmemory"],
        &["EXEC"],
    ] {
        same(&mut r, &mut m, args);
    }
    // COMMAND INFO and DOCS find a renamed command by its new name and show its own name.
    for args in [&["command", "info", "fetch"][..], &["command", "docs", "fetch"]] {
        let (want, got) = (r.call(args), m.call(args));
        assert!(want.contains("$3\r\nget\r\n") && got.contains("$3\r\nget\r\n"), "{args:?}: {want:?} / {got:?}");
    }
    // COMMAND LIST and COMMAND COUNT: the disabled command is gone, the renamed ones are there
    // under their own names (both servers have other commands too).
    let count = |c: &mut RawConn| c.call(&["COMMAND", "COUNT"]).trim_start_matches(':').trim().parse::<i64>().unwrap();
    let plain = TestServer::start_with(&["--save", ""]);
    let plain_redis = RealRedis::start("", &[]);
    assert_eq!(count(&mut plain.raw()) - count(&mut m), 1, "meshkv: one command fewer");
    assert_eq!(count(&mut plain_redis.raw()) - count(&mut r), 1, "redis: one command fewer");
    for c in [&mut r, &mut m] {
        let list = c.call(&["COMMAND", "LIST"]);
        assert!(list.contains("$6\r\nconfig\r\n") && list.contains("$3\r\nget\r\n"), "{list}");
        assert!(!list.contains("$8\r\nflushall\r\n") && !list.contains("fetch"), "{list}");
        let all = c.call(&["COMMAND"]);
        assert!(all.contains("$3\r\nget\r\n") && !all.contains("$8\r\nflushall\r\n"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis 7.0's MISCONF reply, as redis-server 7.0.15 gives it (checked below against the real
/// server in the same situation).
const MISCONF: &str = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to \
    disk. Commands that may modify the data set are disabled, because this instance is configured to report errors \
    during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for \
    details about the RDB error.\r\n";

/// Replaces the directory `dir` by a plain file: nothing, not even root, can create a file in it.
fn break_dir(dir: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::write(dir, "not a directory").unwrap();
}

fn mend_dir(dir: &Path) {
    std::fs::remove_file(dir).unwrap();
    std::fs::create_dir_all(dir).unwrap();
}

/// `stop-writes-on-bgsave-error yes` (the default): after a background save fails for real,
/// writes and PING get Redis's exact MISCONF, reads still work, INFO says `err`; a successful
/// save lets writes in again. The same steps on a real redis-server give the same replies.
#[test]
fn a_failed_background_save_stops_writes_as_redis() {
    // redis-server: its `dir` is its working directory, removed under it.
    let redis = RealRedis::start("", &["--save", "3600 1"]);
    let mut r = redis.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), "+OK\r\n");
    std::fs::remove_dir_all(&redis.dir).unwrap();
    r.call(&["BGSAVE"]);
    wait_for("redis's save to fail", || info_field(&mut r, "persistence", "rdb_last_bgsave_status") == "err");
    assert_eq!(r.call(&["SET", "k", "w"]), MISCONF, "the constant is redis-server's text");

    let root = workdir("bgsave-error");
    let data = root.join("data");
    let meshkv = TestServer::start_in(&data, &["--save", "3600 1"]);
    let mut m = meshkv.raw();
    assert_eq!(m.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(info_field(&mut m, "persistence", "rdb_last_bgsave_status"), "ok");
    break_dir(&data);
    assert_eq!(m.call(&["BGSAVE"]), "+Background saving started\r\n");
    wait_for("meshkv's save to fail", || info_field(&mut m, "persistence", "rdb_last_bgsave_status") == "err");
    for (args, want) in [
        (&["SET", "k", "w"][..], MISCONF.to_string()),
        (&["DEL", "k"], MISCONF.to_string()),
        (&["PING"], MISCONF.to_string()),
        (&["GET", "k"], "$1\r\nv\r\n".to_string()),
        (&["MULTI"], "+OK\r\n".to_string()),
        (&["SET", "k", "x"], MISCONF.to_string()),
        (&["GET", "k"], "+QUEUED\r\n".to_string()),
        (&["EXEC"], "-EXECABORT Transaction discarded because of previous errors.\r\n".to_string()),
    ] {
        assert_eq!(r.call(args), want, "redis: {args:?}");
        assert_eq!(m.call(args), want, "meshkv: {args:?}");
    }
    // A SAVE that fails answers its caller and does not change the status (as Redis 7.0).
    assert_eq!(m.call(&["SAVE"]), "-ERR\r\n");
    // Switched off, or without save rules, writes go on.
    assert_eq!(m.call(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]), "+OK\r\n");
    assert_eq!(m.call(&["SET", "k", "x"]), "+OK\r\n");
    assert_eq!(m.call(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]), "+OK\r\n");
    assert_eq!(m.call(&["SET", "k", "y"]), MISCONF);
    assert_eq!(m.call(&["CONFIG", "SET", "save", ""]), "+OK\r\n");
    assert_eq!(m.call(&["SET", "k", "y"]), "+OK\r\n");
    assert_eq!(m.call(&["CONFIG", "SET", "save", "3600 1"]), "+OK\r\n");
    assert_eq!(m.call(&["SET", "k", "z"]), MISCONF);
    // The disk is back: a successful save clears the error.
    mend_dir(&data);
    assert_eq!(m.call(&["BGSAVE"]), "+Background saving started\r\n");
    wait_for("meshkv's save to succeed", || info_field(&mut m, "persistence", "rdb_last_bgsave_status") == "ok");
    assert_eq!(m.call(&["SET", "k", "z"]), "+OK\r\n");
    assert_eq!(m.call(&["PING"]), "+PONG\r\n");
    // So does a successful SAVE.
    break_dir(&data);
    m.call(&["BGSAVE"]);
    wait_for("meshkv's save to fail again", || info_field(&mut m, "persistence", "rdb_last_bgsave_status") == "err");
    assert_eq!(m.call(&["SET", "k", "a"]), MISCONF);
    mend_dir(&data);
    assert_eq!(m.call(&["SAVE"]), "+OK\r\n");
    assert_eq!(info_field(&mut m, "persistence", "rdb_last_bgsave_status"), "ok");
    assert_eq!(m.call(&["SET", "k", "a"]), "+OK\r\n");
    drop(meshkv);
    let _ = std::fs::remove_dir_all(&root);
}

/// `pidfile` without `daemonize`: written at start with the server's pid, removed at a clean
/// shutdown (as Redis).
#[test]
fn pidfile_is_written_in_the_foreground_and_removed_at_shutdown() {
    let dir = workdir("pidfile");
    let pidfile = dir.join("fg.pid");
    let mut server = TestServer::start_with(&["--pidfile", pidfile.to_str().unwrap(), "--save", ""]);
    let mut conn = server.raw();
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(pid.trim(), info_field(&mut conn, "server", "process_id"));
    conn.cmd(&["SHUTDOWN"]);
    assert!(server.wait_exit(Duration::from_secs(10)));
    assert!(!pidfile.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `supervised systemd` with a real datagram socket as `$NOTIFY_SOCKET`: the server says it is
/// loading, then `READY=1` once it accepts connections, and `STOPPING=1` when it shuts down
/// (SIGTERM). A supervised server stays in the foreground even with `daemonize yes`; `auto`
/// finds systemd by the variable.
#[test]
fn supervised_systemd_notifies_a_real_socket() {
    let dir = workdir("systemd");
    for mode in ["systemd", "auto"] {
        let socket_path = dir.join(format!("notify-{mode}.sock"));
        let socket = UnixDatagram::bind(&socket_path).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let port = free_port();
        let mut child = Command::new(binary())
            .args(["--port", &port.to_string(), "--dir", dir.to_str().unwrap(), "--save", ""])
            .args(["--supervised", mode, "--daemonize", "yes"])
            .env("NOTIFY_SOCKET", &socket_path)
            .stdout(std::fs::File::create(dir.join(format!("{mode}.log"))).unwrap())
            .spawn()
            .unwrap();
        let mut buf = [0u8; 512];
        let mut recv = || {
            let n = socket.recv(&mut buf).unwrap_or_else(|e| {
                let log = std::fs::read_to_string(dir.join(format!("{mode}.log"))).unwrap_or_default();
                panic!("{mode}: no notification within 10 s: {e}; the server's log: {log}")
            });
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        assert_eq!(recv(), "STATUS=meshkv is loading...\n");
        assert_eq!(recv(), "STATUS=Ready to accept connections\nREADY=1\n");
        let mut conn = connect(port);
        assert_eq!(info_field(&mut conn, "server", "process_id"), child.id().to_string(), "{mode}: not daemonized");
        assert_eq!(conn.call(&["PING"]), "+PONG\r\n");
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert_eq!(recv(), "STOPPING=1\n");
        assert!(child.wait().unwrap().success());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `enable-protected-configs` and `enable-debug-command`, with Redis's texts: by default (Redis's
/// default and meshkv's) CONFIG SET cannot move where snapshots are written; `local` lets a
/// client on 127.0.0.1 do it; DEBUG follows `enable-debug-command` (meshkv's default is yes).
#[test]
fn protected_configs_and_debug_as_redis() {
    let redis = RealRedis::start("", &[]);
    let meshkv = TestServer::start_with(&["--save", "", "--enable-debug-command", "no"]);
    let (mut r, mut m) = (redis.raw(), meshkv.raw());
    for args in [
        &["CONFIG", "SET", "dir", "/tmp"][..],
        &["CONFIG", "SET", "dbfilename", "x.rdb"],
        &["CONFIG", "SET", "enable-protected-configs", "yes"],
        &["CONFIG", "GET", "enable-protected-configs"],
        &["CONFIG", "GET", "enable-debug-command"],
        &["DEBUG", "SLEEP", "0"],
    ] {
        assert_eq!(m.call(args), r.call(args), "{args:?}");
    }
    let local = TestServer::start_with(&["--save", "", "--enable-protected-configs", "local"]);
    let mut l = local.raw();
    assert_eq!(l.call(&["CONFIG", "SET", "dbfilename", "x.msnap"]), "+OK\r\n", "127.0.0.1 is local");
    assert_eq!(l.call(&["DEBUG", "SLEEP", "0"]), "+OK\r\n", "meshkv's default lets DEBUG run");
}

/// ACL of the default user, compared reply for reply with a real redis-server: before and after
/// ACL SETUSER gives it a password, in RESP2 and RESP3, and restricted. Selectors, which meshkv
/// does not implement, are refused.
#[test]
fn acl_of_the_default_user_as_redis() {
    let redis = RealRedis::start("", &[]);
    let meshkv = TestServer::start_with(&["--save", ""]);
    let (mut r, mut m) = (redis.raw(), meshkv.raw());
    let same = |r: &mut RawConn, m: &mut RawConn, args: &[&str]| {
        let (want, got) = (r.call(args), m.call(args));
        assert_eq!(got, want, "{args:?}");
    };
    for args in [
        &["ACL", "WHOAMI"][..],
        &["ACL", "USERS"],
        &["ACL", "LIST"],
        &["ACL", "GETUSER", "default"],
        &["ACL", "GETUSER", "nobody"],
        &["ACL", "CAT"],
        &["ACL", "CAT", "nosuch"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "DELUSER", "nobody"],
        &["ACL", "SAVE"],
        &["ACL", "LOAD"],
        &["ACL", "LOG"],
        &["ACL", "LOG", "RESET"],
        &["ACL", "DRYRUN", "default", "get", "k"],
        &["ACL", "DRYRUN", "nobody", "get", "k"],
        &["ACL", "DRYRUN", "default", "nosuch"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "5000"],
        &["ACL", "NOSUCH"],
        &["ACL"],
        &["ACL", "SETUSER", "default", "on", ">pw", "~*", "&*", "+@all"],
        &["ACL", "LIST"],
        &["ACL", "GETUSER", "default"],
    ] {
        same(&mut r, &mut m, args);
    }
    for c in [&mut r, &mut m] {
        assert!(c.call(&["HELLO", "3"]).starts_with("%7\r\n"));
    }
    same(&mut r, &mut m, &["ACL", "GETUSER", "default"]);
    same(&mut r, &mut m, &["ACL", "GETUSER", "nobody"]);
    // As in Redis, requirepass shows only what CONFIG SET requirepass or the file set.
    same(&mut r, &mut m, &["CONFIG", "GET", "requirepass"]);
    for c in [&mut r, &mut m] {
        assert_eq!(c.call(&["ACL", "GENPASS"]).len(), "$64\r\n\r\n".len() + 64);
        assert_eq!(c.call(&["ACL", "GENPASS", "5"]).len(), "$2\r\n\r\n".len() + 2);
    }
    let (mut r2, mut m2) = (redis.raw(), meshkv.raw());
    for args in [
        &["GET", "k"][..],
        &["AUTH", "default", "nope"],
        &["AUTH", "nope"],
        &["AUTH", "default", "pw"],
        &["ACL", "WHOAMI"],
    ] {
        same(&mut r2, &mut m2, args);
    }
    // A selector on the default user, then none again, as Redis.
    for args in [
        &["ACL", "SETUSER", "default", "(~x +get)"][..],
        &["ACL", "LIST"],
        &["ACL", "SETUSER", "default", "clearselectors"],
    ] {
        same(&mut r2, &mut m2, args);
    }
    assert!(m
        .call(&["ACL", "LIST"])
        .contains(&format!("#{}", "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4")));
    // Restricting the default user restricts its clients at once, as in Redis.
    for args in [
        &["ACL", "SETUSER", "alice", "on", ">x", "~*", "+@all"][..],
        &["ACL", "SETUSER", "default", "resetkeys", "~cache:*"],
        &["GET", "k"],
        &["GET", "cache:1"],
        &["ACL", "SETUSER", "default", "~*", "-@dangerous"],
        &["GET", "k"],
        &["FLUSHALL"],
        &["ACL", "SETUSER", "default", "+@all"],
    ] {
        same(&mut r2, &mut m2, args);
    }
    let string_commands = m.call(&["ACL", "CAT", "string"]);
    assert!(string_commands.contains("$3\r\nget\r\n") && !string_commands.contains("lpush"), "{string_commands}");
}

/// `user default ...` in a config file sets the default user's password; a rule that cannot be
/// applied stops the start.
#[test]
fn the_user_directive_sets_the_default_password_or_refuses() {
    let dir = workdir("user-directive");
    let file = dir.join("users.conf");
    std::fs::write(&file, "user default on >s3cret ~* &* +@all\n").unwrap();
    let server = TestServer::start_full(Some(&file), &["--save", ""]);
    let mut c = server.raw();
    assert_eq!(c.call(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["AUTH", "default", "s3cret"]), "+OK\r\n");
    // As in Redis, the user line sets the default user's password, not requirepass.
    assert_eq!(c.call(&["CONFIG", "GET", "requirepass"]), "*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n");
    std::fs::write(&file, "port 0\nuser default on nopass ~* &* -@all +nosuch\n").unwrap();
    let out = Command::new(binary()).arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("at line 2") && err.contains("'+nosuch': Unknown command or category"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// CONFIG GET's answer as (name, value) pairs, in its order.
fn config_get(conn: &mut RawConn, args: &[&str]) -> Vec<(String, String)> {
    let reply = conn.call(&[&["CONFIG", "GET"][..], args].concat());
    let mut lines = reply.split("\r\n");
    let head = lines.next().unwrap_or_default();
    assert!(head.starts_with('*'), "{reply}");
    let bulks: Vec<&str> = lines.skip(1).step_by(2).collect();
    bulks.chunks_exact(2).map(|p| (p[0].to_string(), p[1].to_string())).collect()
}

/// CONFIG GET and CONFIG SET as Redis 7.0 answers them (every reply read off a real redis-server
/// 7.0.15): several names and patterns at once, each directive once, older names as well as the
/// new, hidden test knobs only by their exact name (answered as asked); several directives set at
/// once or none (the first error names its directive, nothing changes, and a port that cannot be
/// listened on is such an error); every directive CONFIG GET lists can be set to the value it
/// shows, except those Redis itself cannot change at run time.
#[test]
fn config_get_and_set_of_several_directives_as_redis() {
    let server = TestServer::start();
    let mut c = server.raw();
    let got = config_get(&mut c, &["maxmemory", "maxmemory*", "bind", "*of"]);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "each directive once: {names:?}");
    for name in
        ["maxmemory", "maxmemory-samples", "maxmemory-clients", "maxmemory-policy", "bind", "slaveof", "replicaof"]
    {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(config_get(&mut c, &["key-load-delay"]), [("key-load-delay".to_string(), "0".to_string())]);
    assert_eq!(config_get(&mut c, &["KEY-LOAD-DELAY"]), [("KEY-LOAD-DELAY".to_string(), "0".to_string())]);
    let all = config_get(&mut c, &["*"]);
    assert!(!all.iter().any(|(n, _)| n == "key-load-delay"), "a hidden directive is not matched by a pattern");

    // All or nothing, with Redis's words for the first directive that fails.
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", "10000002"]), "+OK\r\n");
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "10000001",
            "maxmemory-clients",
            "200%",
            "client-query-buffer-limit",
            "x"
        ]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less \
         or equal to 100\r\n"
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory-clients", "abc"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or \
         percent value\r\n"
    );
    assert_eq!(config_get(&mut c, &["maxmemory"]), [("maxmemory".to_string(), "10000002".to_string())]);
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory", "5", "maxmemory", "6"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n"
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "databases", "16"]),
        "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "io-threads", "1"]),
        "-ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set immutable config\r\n"
    );
    assert_eq!(c.call(&["CONFIG", "SET", "rdb-key-save-delay", "0", "latency-tracking", "no"]), "+OK\r\n");

    // The port: one in use fails the whole CONFIG SET; a free one is listened on at once, the old
    // one let go, and connected clients stay.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory", "10000001", "port", &taken_port, "client-query-buffer-limit", "10m"]),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server \
         logs.\r\n"
    );
    assert_eq!(config_get(&mut c, &["maxmemory"]), [("maxmemory".to_string(), "10000002".to_string())]);
    assert_eq!(config_get(&mut c, &["port"]), [("port".to_string(), server.port.to_string())]);
    assert_eq!(server.raw().call(&["PING"]), "+PONG\r\n");
    let new_port = free_port();
    assert_eq!(c.call(&["CONFIG", "SET", "port", &new_port.to_string()]), "+OK\r\n");
    assert_eq!(connect(new_port).call(&["PING"]), "+PONG\r\n");
    wait_for("the old port to be let go", || std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    assert_eq!(info_field(&mut c, "server", "tcp_port"), new_port.to_string());

    // Every directive can be set to the value it shows (Redis's "CONFIG sanity"), but those
    // Redis cannot change at run time either, and where files go (protected).
    let immutable = [
        "aclfile",
        "appenddirname",
        "appendfilename",
        "daemonize",
        "databases",
        "enable-debug-command",
        "enable-protected-configs",
        "logfile",
        "pidfile",
        "replicaof",
        "slaveof",
        "supervised",
        "dir",
        "dbfilename",
        "io-threads",
        "cluster-enabled",
    ];
    for (name, value) in config_get(&mut c, &["*"]) {
        let reply = c.call(&["CONFIG", "SET", &name, &value]);
        if immutable.contains(&name.as_str()) {
            assert!(reply.starts_with("-ERR CONFIG SET failed"), "{name}: {reply}");
        } else {
            assert_eq!(reply, "+OK\r\n", "CONFIG SET {name} {value:?}");
            assert_eq!(config_get(&mut c, &[&name]), [(name.clone(), value.clone())]);
        }
    }
    drop(taken);
}
