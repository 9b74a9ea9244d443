//! Redis 7 functions against the real binary: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/
//! KILL, FCALL and FCALL_RO, each expected reply read from a real redis-server 7.0.15; functions
//! are atomic and killable as scripts are; and what the README says of restarts and replication.

use std::time::{Duration, Instant};

use redis::Commands;

use super::harness::{workdir, RawConn, TestServer};
use super::replication::{converge, master, pull};

const LIB: &str = "#!lua name=mylib\n\
    redis.register_function('f1', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
    redis.register_function{function_name='f2', callback=function(keys, args) return redis.call('get', keys[1]) end, \
    flags={'no-writes'}, description='desc'}";

fn load(c: &mut RawConn, code: &str) -> String {
    c.call(&["FUNCTION", "LOAD", "REPLACE", code])
}

#[test]
fn load_list_and_call_as_redis_7() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.call(&["FUNCTION", "LOAD", LIB]), "$5\r\nmylib\r\n");
    assert_eq!(
        c.call(&["FUNCTION", "LIST"]),
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*2\r\n\
         *6\r\n$4\r\nname\r\n$2\r\nf1\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n\
         *6\r\n$4\r\nname\r\n$2\r\nf2\r\n$11\r\ndescription\r\n$4\r\ndesc\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n"
    );
    assert_eq!(c.call(&["FUNCTION", "LIST", "LIBRARYNAME", "zz*"]), "*0\r\n");
    let with_code = c.call(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"]);
    assert!(with_code.contains(&format!("$12\r\nlibrary_code\r\n${}\r\n{LIB}\r\n", LIB.len())), "{with_code}");
    assert_eq!(c.call(&["FCALL", "f1", "1", "k", "v"]), "+OK\r\n");
    assert_eq!(c.call(&["FCALL", "F2", "1", "k"]), "$1\r\nv\r\n", "function names are case-insensitive");
    assert_eq!(c.call(&["FCALL_RO", "f2", "1", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        c.call(&["FCALL_RO", "f1", "1", "k", "v"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    assert_eq!(
        c.call(&["FUNCTION", "STATS"]),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n\
         $15\r\nfunctions_count\r\n:2\r\n"
    );
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "FCALL", "f1", "2", "a", "b", "x"]), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    // RESP3: maps, sets of flags, null descriptions.
    c.call(&["HELLO", "3"]);
    assert_eq!(
        c.call(&["FUNCTION", "STATS"]),
        "%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n$15\r\nlibraries_count\r\n:1\r\n\
         $15\r\nfunctions_count\r\n:2\r\n"
    );
    assert!(c.call(&["FUNCTION", "LIST"]).contains("$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n"));
    c.call(&["HELLO", "2"]);

    // FCALL's arguments.
    assert_eq!(c.call(&["FCALL", "f1", "x"]), "-ERR Bad number of keys provided\r\n");
    assert_eq!(c.call(&["FCALL", "f1", "-1"]), "-ERR Number of keys can't be negative\r\n");
    assert_eq!(c.call(&["FCALL", "f1", "5", "a"]), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(c.call(&["FCALL", "nof", "x"]), "-ERR Function not found\r\n");

    // Loading: the library's metadata, its name, its registrations.
    assert_eq!(c.call(&["FUNCTION", "LOAD", LIB]), "-ERR Library 'mylib' already exists\r\n");
    let other = "#!lua name=other\nredis.register_function('F1', function() return 1 end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", other]), "-ERR Function F1 already exists\r\n");
    assert_eq!(c.call(&["FUNCTION", "LOAD", "xreplace", other]), "-ERR Unknown option given: xreplace\r\n");
    assert_eq!(c.call(&["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"]), "-ERR No functions registered\r\n");
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", "#!LUA name=\"q\"\nredis.register_function('q', function() end)"]),
        "$1\r\nq\r\n"
    );
    assert_eq!(c.call(&["FUNCTION", "LOAD", "#!nope name=x\n"]), "-ERR Engine 'nope' not found\r\n");
    let registering = |c: &mut RawConn, body: &str| load(c, &format!("#!lua name=a\n{body}"));
    for (body, error) in [
        ("redis.register_function{function_name='f', callback=function() end, flags={'bad'}}", "ERR unknown flag given"),
        (
            "redis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
            "ERR flags argument to redis.register_function must be a table representing function flags",
        ),
        ("redis.register_function{function_name='f', callback=function() end, foo=1}", "ERR unknown argument given to redis.register_function"),
        ("redis.register_function{function_name='f'}", "ERR redis.register_function must get a callback argument"),
        ("redis.register_function{callback=function() end}", "ERR redis.register_function must get a function name argument"),
        ("redis.register_function('f', 1)", "ERR second argument to redis.register_function must be a function"),
        (
            "redis.register_function('f')",
            "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        ),
        ("redis.register_function('f', function() end, 3)", "ERR wrong number of arguments to redis.register_function"),
        ("redis.register_function(nil, function() end)", "ERR first argument to redis.register_function must be a string"),
        (
            "redis.register_function('a-b', function() end)",
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
        (
            "redis.register_function('f', function() end) redis.register_function('F', function() end)",
            "ERR Function already exists in the library",
        ),
        ("error('boom')", "ERR user_function:2: Script attempted to access nonexistent global variable 'error'"),
        ("redis.call('ping')", "ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("x = 5", "ERR user_function:2: Attempt to modify a readonly table"),
        ("local a = 1 while 1 do a = a + 1 end", "ERR FUNCTION LOAD timeout"),
    ] {
        assert_eq!(registering(&mut c, body), format!("-ERR Error registering functions: {error}\r\n"), "{body}");
    }
    assert_eq!(
        registering(&mut c, "bad syntax here"),
        "-ERR Error compiling function: user_function:2: '=' expected near 'syntax'\r\n"
    );
    // A failed load leaves the library it would have replaced.
    assert_eq!(c.call(&["FCALL", "f2", "1", "k"]), "$1\r\nv\r\n");

    // Running: a function's globals, its errors, and what it may not call.
    let run = |c: &mut RawConn, body: &str| {
        assert_eq!(
            registering(c, &format!("redis.register_function('f', function(keys, args) {body} end)")),
            "$1\r\na\r\n"
        );
        c.call(&["FCALL", "f", "2", "k1", "k2", "a1"])
    };
    assert_eq!(run(&mut c, "return {keys, args}"), "*2\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n*1\r\n$2\r\na1\r\n");
    assert_eq!(
        run(&mut c, "return KEYS"),
        "-ERR user_function:2: Script attempted to access nonexistent global variable 'KEYS' script: f, on @user_function:2.\r\n"
    );
    assert_eq!(run(&mut c, "error('xx')"), "-ERR user_function:2: xx script: f, on @user_function:2.\r\n");
    assert_eq!(run(&mut c, "error({err='MY bad'})"), "-MY bad script: f, on @user_function:2.\r\n");
    assert_eq!(
        run(&mut c, "return redis.call('nosuch')"),
        "-ERR Unknown Redis command called from script script: f, on @user_function:2.\r\n"
    );
    assert_eq!(
        run(&mut c, "return redis.call('fcall', 'f', '0')"),
        "-ERR This Redis command is not allowed from script script: f, on @user_function:2.\r\n"
    );
    assert_eq!(run(&mut c, "return redis.register_function"), "$-1\r\n");
    let lib = "#!lua name=a\nlocal r = redis\nredis.register_function('f', function() r.register_function('g', function() end) end)";
    assert_eq!(load(&mut c, lib), "$1\r\na\r\n");
    assert_eq!(
        c.call(&["FCALL", "f", "0"]),
        "-ERR redis.register_function can only be called on FUNCTION LOAD command script: f, on @user_function:3.\r\n"
    );
    let no_writes = "#!lua name=a\nredis.register_function{function_name='f', callback=function() \
                     return redis.call('set','x','y') end, flags={'no-writes','allow-oom','allow-stale','no-cluster'}}";
    assert_eq!(load(&mut c, no_writes), "$1\r\na\r\n");
    assert_eq!(
        c.call(&["FCALL", "f", "0"]),
        "-ERR Write commands are not allowed from read-only scripts. script: f, on @user_function:2.\r\n"
    );
    assert!(c
        .call(&["FUNCTION", "LIST"])
        .contains("*4\r\n+no-writes\r\n+allow-oom\r\n+allow-stale\r\n+no-cluster\r\n"));

    // DELETE, FLUSH and their errors.
    assert_eq!(c.call(&["FUNCTION", "DELETE", "a"]), "+OK\r\n");
    assert_eq!(c.call(&["FUNCTION", "DELETE", "a"]), "-ERR Library not found\r\n");
    assert_eq!(c.call(&["FUNCTION", "FLUSH", "bad"]), "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n");
    assert_eq!(c.call(&["FUNCTION", "KILL"]), "-NOTBUSY No scripts in execution right now.\r\n");
    assert_eq!(c.call(&["FUNCTION", "FLUSH", "ASYNC"]), "+OK\r\n");
    assert_eq!(c.call(&["FUNCTION", "LIST"]), "*0\r\n");
    assert_eq!(c.call(&["FCALL", "f2", "0"]), "-ERR Function not found\r\n");
}

#[test]
fn dump_and_restore_with_each_policy() {
    let server = TestServer::start();
    let mut c = server.raw();
    let lib = |name: &str, f: &str, v: u32| {
        format!("#!lua name={name}\nredis.register_function('{f}', function() return {v} end)")
    };
    assert_eq!(load(&mut c, &lib("l1", "f1", 1)), "$2\r\nl1\r\n");
    let mut con = server.client();
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut con).unwrap();
    let restore = |con: &mut redis::Connection, policy: Option<&str>| -> redis::RedisResult<String> {
        let mut cmd = redis::cmd("FUNCTION");
        cmd.arg("RESTORE").arg(&payload);
        if let Some(p) = policy {
            cmd.arg(p);
        }
        cmd.query(con)
    };
    let error = |r: redis::RedisResult<String>| r.expect_err("refused").to_string();
    // APPEND (the default) refuses a library that exists; REPLACE replaces it; FLUSH drops the rest.
    assert!(error(restore(&mut con, None)).contains("Library l1 already exists"));
    assert_eq!(load(&mut c, &lib("l1", "f1", 5)), "$2\r\nl1\r\n");
    assert_eq!(restore(&mut con, Some("REPLACE")).unwrap(), "OK");
    assert_eq!(c.call(&["FCALL", "f1", "0"]), ":1\r\n");
    assert_eq!(load(&mut c, &lib("l2", "f2", 2)), "$2\r\nl2\r\n");
    assert_eq!(restore(&mut con, Some("FLUSH")).unwrap(), "OK");
    assert_eq!(c.call(&["FCALL", "f2", "0"]), "-ERR Function not found\r\n");
    // A function name another library holds refuses the whole restore.
    assert_eq!(c.call(&["FUNCTION", "DELETE", "l1"]), "+OK\r\n");
    assert_eq!(load(&mut c, &lib("l3", "f1", 3)), "$2\r\nl3\r\n");
    assert!(error(restore(&mut con, Some("append"))).contains("Function f1 already exists"));
    assert_eq!(c.call(&["FCALL", "f1", "0"]), ":3\r\n");
    // Garbage, a wrong policy, a wrong count of arguments: Redis's errors, nothing changed.
    assert_eq!(c.call(&["FUNCTION", "RESTORE", "garbage"]), "-ERR DUMP payload version or checksum are wrong\r\n");
    assert_eq!(
        c.call(&["FUNCTION", "RESTORE", "garbage", "bad"]),
        "-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n"
    );
    assert_eq!(
        c.call(&["FUNCTION", "RESTORE", "a", "b", "c"]),
        "-ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.\r\n"
    );
    let mut flipped = payload.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let r: redis::RedisResult<String> = redis::cmd("FUNCTION").arg("RESTORE").arg(flipped).query(&mut con);
    assert!(error(r).contains("payload version or checksum are wrong"));
    assert_eq!(c.call(&["FCALL", "f1", "0"]), ":3\r\n");
}

/// A function is one transaction, as a script: it runs past `busy-reply-threshold` under BUSY
/// replies, FUNCTION STATS shows it, SCRIPT KILL does not stop it and FUNCTION KILL does (and
/// FUNCTION KILL does not stop a script).
#[test]
fn functions_are_busy_and_killable_as_scripts() {
    let server = TestServer::start_with(&["--busy-reply-threshold", "100"]);
    let mut c = server.raw();
    let spin =
        "#!lua name=spin\nredis.register_function('spin', function() local a = 1 while true do a = a + 1 end end)";
    assert_eq!(load(&mut c, spin), "$4\r\nspin\r\n");
    let mut runner = server.raw();
    runner.cmd(&["FCALL", "spin", "0"]);
    let busy = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    let started = Instant::now();
    loop {
        let reply = c.call(&["GET", "x"]);
        if reply.starts_with("-BUSY") {
            assert_eq!(reply, busy);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never BUSY: {reply}");
    }
    let stats = c.call(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with(
            "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"
        ),
        "{stats}"
    );
    assert_eq!(c.call(&["SCRIPT", "KILL"]), busy);
    assert_eq!(c.call(&["FUNCTION", "KILL"]), "+OK\r\n");
    assert!(String::from_utf8_lossy(&runner.reply()).starts_with("-ERR Script killed by user with"));
    assert_eq!(c.call(&["GET", "x"]), "$-1\r\n");

    runner.cmd(&["EVAL", "local a = 1 while true do a = a + 1 end", "0"]);
    let started = Instant::now();
    while !c.call(&["GET", "x"]).starts_with("-BUSY") {
        assert!(started.elapsed() < Duration::from_secs(10), "never BUSY");
    }
    assert_eq!(
        c.call(&["FUNCTION", "KILL"]),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(c.call(&["SCRIPT", "KILL"]), "+OK\r\n");
    runner.reply();
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
}

/// As the README says: libraries live in memory only (a restart starts without them), and each
/// master of an active-active pair has its own (FUNCTION LOAD is not shipped), while what a
/// function writes replicates as any write does.
#[test]
fn libraries_are_per_node_and_in_memory() {
    let dir = workdir("functions-restart");
    let code = "#!lua name=w\nredis.register_function('w', function(keys) return redis.call('incr', keys[1]) end)";
    {
        let server = TestServer::start_in(&dir, &[]);
        let mut c = server.raw();
        assert_eq!(load(&mut c, code), "$1\r\nw\r\n");
        assert_eq!(c.call(&["FCALL", "w", "1", "n"]), ":1\r\n");
        assert_eq!(c.call(&["SAVE"]), "+OK\r\n");
    }
    let server = TestServer::start_in(&dir, &[]);
    let mut c = server.raw();
    assert_eq!(c.call(&["GET", "n"]), "$1\r\n1\r\n", "the data came back");
    assert_eq!(c.call(&["FUNCTION", "LIST"]), "*0\r\n", "the library did not");

    let a = master(&[]);
    let b = master(&[]);
    pull(&a, b.port);
    pull(&b, a.port);
    let mut ca = a.raw();
    assert_eq!(load(&mut ca, code), "$1\r\nw\r\n");
    for _ in 0..5 {
        ca.call(&["FCALL", "w", "1", "n"]);
    }
    converge(&[&a, &b], Duration::from_secs(15));
    let mut cb = b.client();
    assert_eq!(cb.get::<_, i64>("n").unwrap(), 5);
    assert_eq!(b.raw().call(&["FCALL", "w", "1", "n"]), "-ERR Function not found\r\n");
}
