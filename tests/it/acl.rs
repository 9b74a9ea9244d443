//! ACL users against a real redis-server 7.0: the same users, the same commands, the same replies.

use std::process::Command;
use std::time::Duration;

use crate::harness::{server_binary, workdir, RawConn, RealRedis, TestServer};

/// Sends `args` to both and asserts the replies are the same.
fn same(r: &mut RawConn, m: &mut RawConn, args: &[&str]) -> String {
    let (want, got) = (r.call(args), m.call(args));
    assert_eq!(got, want, "{args:?}");
    got
}

/// The users of the differential checks, one rule kind or more each.
const USERS: &[&[&str]] = &[
    &[
        "alice",
        "on",
        ">pw",
        "~foo*",
        "%R~r*",
        "%W~w*",
        "&ch*",
        "-@all",
        "+@list",
        "-lpush",
        "+get",
        "+set",
        "+del",
        "+exists",
        "+mget",
        "+copy",
        "+config|get",
        "+select|0",
        "+publish",
        "+subscribe",
        "+psubscribe",
        "+multi",
        "+exec",
        "+eval",
        "+acl|whoami",
        "+ping",
    ],
    &["bob", "on", "nopass", "~*", "&*", "+@all", "-@dangerous", "+config|get"],
    &["carol", "off", ">pw", "~*", "+@all"],
    &["dave", "on", ">a", ">b", "<a", "allkeys", "allchannels", "+@read", "-@string"],
    &[
        "erin",
        "on",
        "#30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4",
        "resetkeys",
        "~e:*",
        "allcommands",
        "-config",
    ],
];

/// Sends the same command list, as each user, to redis-server and to meshkv: every reply (the
/// allowed ones and every NOPERM/WRONGPASS) must be byte-for-byte the same, and so must ACL LOG,
/// ACL DRYRUN, and ACL GETUSER's flags, passwords, keys and channels.
#[test]
fn each_rule_kind_denies_and_allows_as_redis() {
    let redis = RealRedis::start("", &[]);
    let meshkv = TestServer::start_with(&["--save", ""]);
    let (mut r, mut m) = (redis.raw(), meshkv.raw());
    for user in USERS {
        let mut args = vec!["ACL", "SETUSER"];
        args.extend_from_slice(user);
        same(&mut r, &mut m, &args);
    }
    for bad in [
        &["ACL", "SETUSER", "x", "+nosuch"][..],
        &["ACL", "SETUSER", "x", "+@nosuch"],
        &["ACL", "SETUSER", "x", "bogus"],
        &["ACL", "SETUSER", "x", "+config|"],
        &["ACL", "SETUSER", "x", "+config|nosuch"],
        &["ACL", "SETUSER", "x", "-select|0"],
        &["ACL", "SETUSER", "x", "#abc"],
        &["ACL", "SETUSER", "x", "<nope"],
        &["ACL", "SETUSER", "x", "%X~a"],
        &["ACL", "SETUSER", "x", "allkeys", "~a"],
        &["ACL", "SETUSER", "x", "allchannels", "&a"],
        &["ACL", "SETUSER", "a b", "on"],
        &["ACL", "USERS"],
    ] {
        same(&mut r, &mut m, bad);
    }
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        for c in [&mut r, &mut m] {
            c.call(&["HELLO", "3"]);
        }
        let (want, got) = (r.call(&["ACL", "GETUSER", name]), m.call(&["ACL", "GETUSER", name]));
        // The `commands` field describes the same rights in a different order (Redis 7.0 rebuilds
        // it from its bitmap in hash-table order): compare everything else.
        let strip = |s: &str| {
            let at = s.find("$8\r\ncommands\r\n").unwrap();
            let after = s[at + 14..].find("$4\r\nkeys").unwrap();
            format!("{}{}", &s[..at], &s[at + 14 + after..])
        };
        assert_eq!(strip(&got), strip(&want), "GETUSER {name}");
        for c in [&mut r, &mut m] {
            c.call(&["HELLO", "2"]);
        }
    }
    let sessions: &[(&str, &str, &[&[&str]])] = &[
        (
            "alice",
            "pw",
            &[
                &["GET", "foo1"],
                &["GET", "x"],
                &["GET", "r1"],
                &["SET", "r1", "v"],
                &["SET", "foo1", "v"],
                &["DEL", "w1"],
                &["GET", "w1"],
                &["EXISTS", "w1"],
                &["EXISTS", "x"],
                &["LPUSH", "foo", "1"],
                &["RPUSH", "foo", "1", "2"],
                &["LPOP", "foo"],
                &["LMOVE", "foo", "w1", "LEFT", "LEFT"],
                &["LMOVE", "w1", "foo", "LEFT", "LEFT"],
                &["LMOVE", "foo", "r1", "LEFT", "LEFT"],
                &["MGET", "foo1", "r2"],
                &["MGET", "foo1", "x"],
                &["COPY", "foo1", "w2"],
                &["COPY", "foo1", "r2"],
                &["CONFIG", "GET", "maxmemory"],
                &["CONFIG", "SET", "maxmemory", "0"],
                &["SELECT", "0"],
                &["SELECT", "1"],
                &["PUBLISH", "ch1", "m"],
                &["PUBLISH", "x", "m"],
                &["ACL", "WHOAMI"],
                &["ACL", "USERS"],
                &["FLUSHALL"],
                &["PING"],
                &["MULTI"],
                &["GET", "foo1"],
                &["GET", "x"],
                &["EXEC"],
                &["EVAL", "return redis.pcall('get', 'x')", "0"],
                &["EVAL", "return redis.pcall('get', 'foo1')", "0"],
                &["EVAL", "return redis.pcall('hset', 'foo1', 'a', 'b')", "0"],
                &["EVAL", "return redis.pcall('publish', 'x', 'm')", "0"],
                &["PSUBSCRIBE", "ch"],
                &["SUBSCRIBE", "x"],
                &["SUBSCRIBE", "ch1", "x"],
            ],
        ),
        (
            "bob",
            "anything",
            &[
                &["SET", "k", "v"],
                &["GET", "k"],
                &["KEYS", "*"],
                &["FLUSHALL"],
                &["CONFIG", "GET", "maxmemory"],
                &["CONFIG", "SET", "maxmemory", "0"],
                &["PUBLISH", "any", "m"],
            ],
        ),
        ("carol", "pw", &[]),
        ("dave", "a", &[]),
        ("dave", "b", &[&["GET", "k"], &["SET", "k", "v"], &["LLEN", "k"], &["HGETALL", "k"], &["DEL", "k"]]),
        ("erin", "pw", &[&["SET", "e:1", "v"], &["GET", "e:1"], &["GET", "f"], &["CONFIG", "GET", "port"]]),
        ("nobody", "pw", &[]),
    ];
    for (user, password, commands) in sessions {
        let (mut ru, mut mu) = (redis.raw(), meshkv.raw());
        let auth = same(&mut ru, &mut mu, &["AUTH", user, password]);
        if auth.starts_with('-') {
            continue;
        }
        same(&mut ru, &mut mu, &["ACL", "WHOAMI"]);
        for args in commands.iter() {
            same(&mut ru, &mut mu, args);
        }
    }
    for args in [
        &["ACL", "DRYRUN", "alice", "get", "foo"][..],
        &["ACL", "DRYRUN", "alice", "get", "x"],
        &["ACL", "DRYRUN", "alice", "lpush", "foo", "1"],
        &["ACL", "DRYRUN", "alice", "publish", "x", "1"],
        &["ACL", "DRYRUN", "alice", "subscribe", "ch2", "zz"],
        &["ACL", "DRYRUN", "alice", "config", "set", "port", "1"],
        &["ACL", "DRYRUN", "nobody", "get", "x"],
        &["ACL", "DRYRUN", "alice", "nosuch"],
    ] {
        same(&mut r, &mut m, args);
    }
    // ACL LOG: the same entries in the same order (age and client details aside).
    let (want, got) = (acl_log(&mut r), acl_log(&mut m));
    assert!(want.len() > 10, "{want:?}");
    assert_eq!(got, want);
    same(&mut r, &mut m, &["ACL", "LOG", "RESET"]);
    same(&mut r, &mut m, &["ACL", "LOG"]);
}

/// Deleting a user disconnects its clients; CLIENT LIST shows the user; CLIENT KILL USER; a user
/// whose channels narrow loses its subscribed clients; MULTI rechecks at EXEC; as Redis.
#[test]
fn clients_follow_their_user_as_redis() {
    let redis = RealRedis::start("", &[]);
    let meshkv = TestServer::start_with(&["--save", ""]);
    let (mut r, mut m) = (redis.raw(), meshkv.raw());
    same(&mut r, &mut m, &["ACL", "SETUSER", "u", "on", ">p", "~*", "&*", "+@all"]);
    let (mut ru, mut mu) = (redis.raw(), meshkv.raw());
    same(&mut ru, &mut mu, &["AUTH", "u", "p"]);
    let info = mu.call(&["CLIENT", "INFO"]);
    assert!(info.contains(" user=u "), "{info}");
    // EXEC checks again what was queued.
    for args in [&["MULTI"][..], &["SET", "k", "v"], &["GET", "k"]] {
        same(&mut ru, &mut mu, args);
    }
    same(&mut r, &mut m, &["ACL", "SETUSER", "u", "-get"]);
    same(&mut ru, &mut mu, &["EXEC"]);
    same(&mut r, &mut m, &["ACL", "SETUSER", "u", "+get"]);
    // Narrowed channels disconnect a subscriber that no longer may listen.
    let (mut rs, mut ms) = (redis.raw(), meshkv.raw());
    same(&mut rs, &mut ms, &["AUTH", "u", "p"]);
    let subscriber = ms.call(&["CLIENT", "ID"]).trim_start_matches(':').trim().to_string();
    same(&mut rs, &mut ms, &["SUBSCRIBE", "news"]);
    same(&mut r, &mut m, &["ACL", "SETUSER", "u", "resetchannels", "&other"]);
    assert!(rs.closed() && ms.closed());
    // The closed connection leaves CLIENT LIST (CLIENT KILL USER below counts the others).
    let started = std::time::Instant::now();
    while m.call(&["CLIENT", "LIST"]).contains(&format!("id={subscriber} ")) {
        assert!(started.elapsed() < Duration::from_secs(10), "the disconnected subscriber stays listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    same(&mut r, &mut m, &["CLIENT", "KILL", "USER", "nobody"]);
    same(&mut r, &mut m, &["CLIENT", "KILL", "USER", "u"]);
    assert!(ru.closed() && mu.closed());
    let (mut ru, mut mu) = (redis.raw(), meshkv.raw());
    same(&mut ru, &mut mu, &["AUTH", "u", "p"]);
    same(&mut r, &mut m, &["ACL", "DELUSER", "u", "nobody"]);
    assert!(ru.closed() && mu.closed());
    same(&mut r, &mut m, &["ACL", "USERS"]);
    same(&mut r, &mut m, &["HELLO", "3", "AUTH", "u", "p"]);
    // RESET makes the client the default user again.
    same(&mut r, &mut m, &["ACL", "SETUSER", "v", "on", "nopass", "+@all"]);
    for args in [&["AUTH", "v", "x"][..], &["ACL", "WHOAMI"], &["RESET"], &["ACL", "WHOAMI"]] {
        same(&mut r, &mut m, args);
    }
    // CONFIG SET requirepass sets the default user's password (`nopass` when empty).
    for args in [
        &["CONFIG", "SET", "requirepass", "sekret"][..],
        &["ACL", "LIST"],
        &["CONFIG", "GET", "requirepass"],
        &["CONFIG", "SET", "requirepass", ""],
        &["ACL", "LIST"],
    ] {
        same(&mut r, &mut m, args);
    }
    // acl-pubsub-default: the channels of new users and of users `reset`.
    for args in [
        &["CONFIG", "SET", "acl-pubsub-default", "allchannels"][..],
        &["ACL", "SETUSER", "w2", "on"],
        &["ACL", "SETUSER", "w3", "on", "resetchannels", "&a", "reset"],
        &["CONFIG", "SET", "acl-pubsub-default", "resetchannels"],
        &["ACL", "SETUSER", "w4", "on", "&*", "reset"],
        &["ACL", "LIST"],
        &["CONFIG", "GET", "acl-pubsub-default"],
        &["CONFIG", "SET", "acl-pubsub-default", "bogus"],
    ] {
        same(&mut r, &mut m, args);
    }
}

/// `user` lines and `aclfile`: loaded at start, ACL SAVE writes the file, ACL LOAD reads it back
/// (and reports a bad file as Redis does, changing nothing); both together stop the start.
#[test]
fn user_lines_and_the_acl_file() {
    let dir = workdir("acl-file");
    let conf = dir.join("users.conf");
    std::fs::write(&conf, "user default on >dpw ~* &* +@all\nuser ro on >r ~* -@all +@read\n").unwrap();
    let server = TestServer::start_full(Some(&conf), &["--save", ""]);
    let mut c = server.raw();
    assert_eq!(c.call(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["AUTH", "ro", "r"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]), "-NOPERM this user has no permissions to run the 'set' command\r\n");
    drop(server);

    let acl = dir.join("users.acl");
    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser w on >w ~w:* +@write\n").unwrap();
    let server = TestServer::start_with(&["--save", "", "--aclfile", acl.to_str().unwrap()]);
    let redis = RealRedis::start(&format!("aclfile {}\n", acl.display()), &[]);
    let (mut r, mut m) = (redis.raw(), server.raw());
    same(&mut r, &mut m, &["ACL", "LIST"]);
    same(&mut r, &mut m, &["ACL", "SETUSER", "x", "on", ">x", "~x*", "&c", "+get"]);
    // Each saves to the same file in turn: what meshkv saves, Redis loads, and the other way round.
    same(&mut r, &mut m, &["ACL", "SAVE"]);
    let saved_by_meshkv = std::fs::read_to_string(&acl).unwrap();
    same(&mut r, &mut m, &["ACL", "DELUSER", "x"]);
    same(&mut r, &mut m, &["ACL", "LOAD"]);
    same(&mut r, &mut m, &["ACL", "USERS"]);
    same(&mut r, &mut m, &["ACL", "GETUSER", "w"]);
    assert!(saved_by_meshkv.contains("user x on #"), "{saved_by_meshkv}");
    std::fs::write(&acl, "user bob on +nosuch\nfoo\nuser b2 on\nuser b2 on\n").unwrap();
    same(&mut r, &mut m, &["ACL", "LOAD"]);
    same(&mut r, &mut m, &["ACL", "USERS"]);
    std::fs::remove_file(&acl).unwrap();
    let missing = m.call(&["ACL", "LOAD"]);
    assert!(missing.starts_with("-ERR Error loading ACLs, opening file"), "{missing}");
    drop(server);

    // Both `user` lines and `aclfile`: refused, as Redis refuses it.
    std::fs::write(&conf, format!("port 0\nuser a on\naclfile {}\n", acl.display())).unwrap();
    let mut child = Command::new(server_binary()).arg(&conf).spawn().unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.is_some_and(|s| !s.success()), "users and aclfile together must stop the start");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Selectors (`(...)`), as Redis 7.0: each its own commands, keys and channels; a request runs
/// when the root rights or one selector allow all of it. SETUSER (a selector over several words,
/// errors, `clearselectors`, `reset`), GETUSER in RESP2 and RESP3, LIST, every reply of a user's
/// session, DRYRUN and ACL LOG: byte for byte the same as redis-server's.
#[test]
fn selectors_as_redis() {
    let redis = RealRedis::start("", &[]);
    let meshkv = TestServer::start_with(&["--save", ""]);
    let (mut r, mut m) = (redis.raw(), meshkv.raw());
    for args in [
        &["ACL", "SETUSER", "sel", "on", ">pw", "~a*", "+get", "(~b* +set)", "(%R~c*", "&ch*", "+@read", "+publish)"][..],
        &["ACL", "SETUSER", "sel", "(~d* %W~e* +lmove)"],
        &["ACL", "SETUSER", "sel", "(~b* +@scripting)"],
        &["ACL", "SETUSER", "two", "on", "nopass", "(~x* +get)", "(", "~y*", "+get", ")", "()"],
        // Errors: nothing of the SETUSER applies.
        &["ACL", "SETUSER", "sel", "(~z* +get"],
        &["ACL", "SETUSER", "sel", "on", "(~z*", "+get"],
        &["ACL", "SETUSER", "sel", "(on)"],
        &["ACL", "SETUSER", "sel", "(~z* >pw)"],
        &["ACL", "SETUSER", "sel", "(+nosuch)"],
        &["ACL", "SETUSER", "sel", "(~z*", "on)"],
        &["ACL", "SETUSER", "sel", "(~x \"a b\")"],
        &["ACL", "SETUSER", "sel", "(allkeys ~x)"],
        &["ACL", "SETUSER", "sel", "(+config|get|x)"],
        &["ACL", "SETUSER", "sel", "~x)"],
        &["ACL", "SETUSER", "sel", "!abc"],
        &["ACL", "SETUSER", "sel", "~a b"],
        &["ACL", "SETUSER", "sel", ""],
        &["ACL", "LIST"],
        &["ACL", "SETUSER", "gone", "on", "(~q +get)", "(~r +set)", "clearselectors"],
        &["ACL", "SETUSER", "gone2", "on", "(~q +get)", "reset"],
        &["ACL", "SETUSER", "quoted", "(+get\"x)", "(  %RW~k  allchannels  )", "(~a ~* )"],
        &["ACL", "LIST"],
        &["ACL", "GETUSER", "sel"],
        &["ACL", "GETUSER", "two"],
        &["ACL", "GETUSER", "gone"],
    ] {
        same(&mut r, &mut m, args);
    }
    for c in [&mut r, &mut m] {
        c.call(&["HELLO", "3"]);
    }
    for args in [&["ACL", "GETUSER", "sel"][..], &["ACL", "GETUSER", "quoted"]] {
        same(&mut r, &mut m, args);
    }
    for c in [&mut r, &mut m] {
        c.call(&["HELLO", "2"]);
    }
    same(&mut r, &mut m, &["ACL", "LOG", "RESET"]);
    let (mut ru, mut mu) = (redis.raw(), meshkv.raw());
    for args in [
        &["AUTH", "sel", "pw"][..],
        &["GET", "a1"],
        &["SET", "b1", "v"],
        &["GET", "c1"],
        &["MGET", "c1", "c2"],
        &["PUBLISH", "ch1", "m"],
        &["DEL", "d1"],
        &["LMOVE", "d1", "e1", "LEFT", "LEFT"],
        // Rights do not mix across selectors.
        &["GET", "b1"],
        &["SET", "a1", "v"],
        &["SET", "c1", "v"],
        &["DEL", "a1"],
        &["HSET", "a1", "f", "v"],
        // The denial reported when none allows: a channel's, then the later key's.
        &["PUBLISH", "other", "m"],
        &["MGET", "c1", "zz"],
        &["MGET", "zz", "c1"],
        &["LMOVE", "e1", "d1", "LEFT", "LEFT"],
        &["SUBSCRIBE", "ch1", "x"],
        &["MULTI"],
        &["SET", "b2", "v"],
        &["SET", "a2", "v"],
        &["EXEC"],
        &["EXEC", "x"],
        &["EVAL", "return redis.pcall('set', 'b3', 'v')", "0"],
        &["EVAL", "return redis.pcall('get', 'b3')", "0"],
        // redis.acl_check_cmd: the script's user's rights, selectors included; nothing logged.
        &["EVAL", "return {redis.acl_check_cmd('set', 'b1', 'v'), redis.acl_check_cmd('set', 'a1', 'v')}", "0"],
        &["EVAL", "return redis.acl_check_cmd('get', 'b1')", "0"],
        &["EVAL", "return redis.acl_check_cmd('get', 'c1')", "0"],
        &["EVAL", "return redis.acl_check_cmd('nosuch', 'x')", "0"],
        &["EVAL", "return redis.acl_check_cmd('config', 'nosuch')", "0"],
        &["EVAL", "return redis.acl_check_cmd()", "0"],
    ] {
        same(&mut ru, &mut mu, args);
    }
    // SET only writes its key, unless GET reads the old value (Redis's variable key flags).
    same(&mut r, &mut m, &["ACL", "SETUSER", "w", "on", "nopass", "+@all", "%W~write*", "(%R~read* +get +set)"]);
    let (mut ru, mut mu) = (redis.raw(), meshkv.raw());
    for args in [
        &["AUTH", "w", "x"][..],
        &["SET", "writestr", "bar"],
        &["SET", "writestr", "bar", "GET"],
        &["SET", "writestr", "bar", "ex", "100", "get"],
        &["SET", "get", "writestr"],
        &["SET", "readstr", "bar"],
        &["GET", "readstr"],
        &["GET", "writestr"],
        &["LPUSH", "writelist", "10"],
    ] {
        same(&mut ru, &mut mu, args);
    }
    for args in [
        &["ACL", "DRYRUN", "sel", "set", "b1", "v"][..],
        &["ACL", "DRYRUN", "sel", "set", "a1", "v"],
        &["ACL", "DRYRUN", "sel", "del", "a1"],
        &["ACL", "DRYRUN", "sel", "mget", "c1", "zz"],
        &["ACL", "DRYRUN", "sel", "publish", "zz", "m"],
        &["ACL", "DRYRUN", "two", "get", "y1"],
        &["ACL", "DRYRUN", "two", "get", "z1"],
        // A script's declared keys are checked (read and write), as Redis's numkeys key spec.
        &["ACL", "DRYRUN", "sel", "eval", "", "1", "b1"],
        &["ACL", "DRYRUN", "sel", "eval", "", "1", "c1"],
        &["ACL", "DRYRUN", "sel", "eval", "", "2", "b1", "zz"],
        &["ACL", "DRYRUN", "sel", "eval", "", "3", "zz"],
        &["ACL", "DRYRUN", "sel", "eval", "", "-1", "zz"],
        &["ACL", "DRYRUN", "sel", "eval_ro", "", "1", "c1"],
        &["ACL", "DRYRUN", "sel", "fcall", "f", "1", "zz"],
    ] {
        same(&mut r, &mut m, args);
    }
    // ACL LOG: the same entries in the same order (age and client details aside).
    let (want, got) = (acl_log(&mut r), acl_log(&mut m));
    assert!(want.len() > 5, "{want:?}");
    assert_eq!(got, want);

    // A subscriber allowed its channel only by a selector is disconnected when the selectors
    // are cleared, and kept while another selector still allows it.
    same(&mut r, &mut m, &["ACL", "SETUSER", "sub", "on", ">p", "+@all", "(&news +subscribe)", "(&n* +@all)"]);
    let (mut rs, mut ms) = (redis.raw(), meshkv.raw());
    same(&mut rs, &mut ms, &["AUTH", "sub", "p"]);
    same(&mut rs, &mut ms, &["SUBSCRIBE", "news"]);
    same(&mut r, &mut m, &["ACL", "SETUSER", "sub", "clearselectors", "(&n* +subscribe)"]);
    same(&mut rs, &mut ms, &["PING"]);
    same(&mut r, &mut m, &["ACL", "SETUSER", "sub", "clearselectors"]);
    assert!(rs.closed() && ms.closed());
}

/// Selectors in `user` lines and in an ACL file, as Redis 7.0 reads them: ACL LIST the same,
/// ACL SAVE's file loaded back by the other, and a bad selector in the file reported in Redis's
/// words.
#[test]
fn selectors_in_user_lines_and_the_acl_file() {
    let dir = workdir("acl-selectors");
    let lines = "user alice on nopass ~a* +get (~b* +set) ( %R~c*  &ch* +@read )\nuser bob on >pw (~x +get) \"(~y\" \"+set)\"\n";
    let conf = dir.join("users.conf");
    std::fs::write(&conf, lines).unwrap();
    let redis = RealRedis::start(lines, &[]);
    let server = TestServer::start_full(Some(&conf), &["--save", ""]);
    let (mut r, mut m) = (redis.raw(), server.raw());
    same(&mut r, &mut m, &["ACL", "LIST"]);
    drop((redis, server));

    let acl = dir.join("users.acl");
    let text = "user alice on nopass ~a* +get (~b* +set) ( %R~c*  &ch* +@read )\nuser carol on nopass (~w +get)  ~k\n";
    std::fs::write(&acl, text).unwrap();
    let server = TestServer::start_with(&["--save", "", "--aclfile", acl.to_str().unwrap()]);
    let redis = RealRedis::start(&format!("aclfile {}\n", acl.display()), &[]);
    let (mut r, mut m) = (redis.raw(), server.raw());
    same(&mut r, &mut m, &["ACL", "LIST"]);
    same(&mut r, &mut m, &["ACL", "SETUSER", "dave", "on", ">d", "(~d* +get)", "(&x +publish)"]);
    same(&mut r, &mut m, &["ACL", "SAVE"]);
    let saved_by_meshkv = std::fs::read_to_string(&acl).unwrap();
    assert!(
        saved_by_meshkv.contains(" (~d* resetchannels -@all +get) (resetchannels &x -@all +publish)"),
        "{saved_by_meshkv}"
    );
    same(&mut r, &mut m, &["ACL", "DELUSER", "dave"]);
    same(&mut r, &mut m, &["ACL", "LOAD"]);
    same(&mut r, &mut m, &["ACL", "LIST"]);
    for bad in [
        "user c on (~x on)\n",
        "user g on (+bogus) (+nosuch) (~x on) bogus\n",
        "user bob (~x\n",
        "user ok on\nuser ok (~x +get)\n",
    ] {
        std::fs::write(&acl, bad).unwrap();
        same(&mut r, &mut m, &["ACL", "LOAD"]);
    }
    same(&mut r, &mut m, &["ACL", "LIST"]);
    drop((redis, server));
    let _ = std::fs::remove_dir_all(&dir);
}

/// ACL LOG's entries as raw RESP, each from its `count` field up to its `age-seconds` (the age and
/// the client's details differ between two servers; the rest must not).
fn acl_log(c: &mut RawConn) -> Vec<String> {
    let text = c.call(&["ACL", "LOG", "100"]);
    text.split("$11\r\nclient-info\r\n")
        .map(|part| {
            let at = part.find("$11\r\nage-seconds").unwrap_or(part.len());
            part.find("$5\r\ncount").map_or(String::new(), |start| part[start..at].to_string())
        })
        .collect()
}
