//! The Lua engine: one Lua 5.1 state per worker thread, sandboxed as Redis 7 sandboxes its own.
//!
//! The state is built once per thread (and again after SCRIPT FLUSH): the base, table, string and
//! math libraries, no io/os/package/debug (so no `loadfile`, `dofile`, `require`), the `bit`
//! library, and `prelude.lua`, which builds the `redis` library and the read-only globals a
//! script sees. Compiled scripts are kept by digest. A script's commands reach the server through
//! one callback that the caller lends for the run ([`Call`]): the engine never touches the
//! keyspace itself.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use super::convert::{lua_to_reply, number_arg, resp_to_lua};
use crate::config::LogLevel;
use crate::log::Logger;
use crate::protocol::Reply;

/// Runs one command for a script: given its arguments and whether the script reads replies in
/// RESP3, returns the reply as RESP (an error reply for a command a script may not run).
pub type Call<'a> = dyn FnMut(Vec<Bytes>, bool) -> Vec<u8> + 'a;

/// What one run needs.
pub struct Script<'a> {
    /// The script's digest (its name in error messages).
    pub sha: &'a str,
    /// Its body, a shebang line already turned into a comment.
    pub body: &'a [u8],
    /// KEYS.
    pub keys: &'a [Bytes],
    /// ARGV.
    pub argv: &'a [Bytes],
    /// Set by SCRIPT KILL.
    pub kill: &'a Arc<AtomicBool>,
}

/// How a run failed, as the client's error line (without the leading `-`).
pub type ScriptError = String;

/// Redis's reply to a script stopped by SCRIPT KILL.
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// How often (in VM instructions) the engine looks whether the script was killed.
const HOOK_EVERY: u32 = 100_000;

struct Engine {
    lua: Lua,
    /// The flush generation this state was built for.
    generation: u64,
    /// Compiled scripts by digest.
    compiled: HashMap<String, Function>,
    /// What the prelude shares with Rust: `log` (the run's logger) and `resp` (set by setresp).
    bridge: Table,
    /// The names scripts see (KEYS and ARGV are set here for each run).
    visible: Table,
    /// The environment scripts run in.
    env: Table,
    /// `xpcall(script, handler)`.
    run: Function,
    /// The error handler: makes every error a table with where it happened.
    handler: Function,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `script` on this thread's engine, writing its reply to `out`. `generation` is the
/// script cache's flush generation: an engine built before a flush is rebuilt.
pub fn run(
    generation: u64,
    log: &Logger,
    script: &Script<'_>,
    call: &mut Call<'_>,
    out: &mut Reply,
) -> Result<(), ScriptError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.generation != generation) {
            *slot = None; // the old state's memory goes before the new one is built
            *slot = Some(Engine::new(generation).map_err(|e| format!("ERR Error starting Lua: {e}"))?);
        }
        let engine = slot.as_mut().expect("just built");
        engine.run(log, script, call, out)
    })
}

/// Compiles `body` on this thread's engine (SCRIPT LOAD checks a script this way).
pub fn compile(generation: u64, sha: &str, body: &[u8]) -> Result<(), ScriptError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.generation != generation) {
            *slot = None;
            *slot = Some(Engine::new(generation).map_err(|e| format!("ERR Error starting Lua: {e}"))?);
        }
        slot.as_mut().expect("just built").function(sha, body).map(|_| ())
    })
}

impl Engine {
    fn new(generation: u64) -> mlua::Result<Engine> {
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::new())?;
        let bridge = lua.create_table()?;
        bridge.raw_set("resp", 2)?;
        let rust = lua.create_table()?;
        rust.raw_set("sha1hex", lua.create_function(sha1hex)?)?;
        rust.raw_set("version", crate::REDIS_COMPAT_VERSION)?;
        rust.raw_set("version_num", version_num(crate::REDIS_COMPAT_VERSION))?;
        rust.raw_set("bit", super::bit::library(&lua)?)?;
        // SAFETY: both are plain Lua C functions that follow the C API's stack discipline.
        unsafe {
            rust.raw_set("call", lua.create_c_function(redis_call)?)?;
            rust.raw_set("pcall", lua.create_c_function(redis_pcall)?)?;
        }
        let prelude = lua.load(include_str!("prelude.lua")).set_name("=prelude").into_function()?;
        let (env, visible, run): (Table, Table, Function) = prelude.call((bridge.clone(), rust))?;
        let handler = lua.create_function(error_handler)?;
        Ok(Engine { lua, generation, compiled: HashMap::new(), bridge, visible, env, run, handler })
    }

    /// The compiled script with this digest, compiling `body` if this state has not yet.
    fn function(&mut self, sha: &str, body: &[u8]) -> Result<Function, ScriptError> {
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("ERR Error compiling script (new function): {}", lua_message(&e)))?;
        self.compiled.insert(sha.to_string(), f.clone());
        Ok(f)
    }

    fn run(
        &mut self,
        log: &Logger,
        script: &Script<'_>,
        call: &mut Call<'_>,
        out: &mut Reply,
    ) -> Result<(), ScriptError> {
        let f = self.function(script.sha, script.body)?;
        let lua = &self.lua;
        let fail = |e: mlua::Error| format!("ERR {}", lua_message(&e));
        let keys = strings(lua, script.keys).map_err(fail)?;
        let argv = strings(lua, script.argv).map_err(fail)?;
        self.visible.raw_set("KEYS", keys).map_err(fail)?;
        self.visible.raw_set("ARGV", argv).map_err(fail)?;
        self.bridge.raw_set("resp", 2).map_err(fail)?;
        let kill = script.kill.clone();
        let killed_at = Arc::new(AtomicI32::new(0));
        let at = killed_at.clone();
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, debug| {
            if kill.load(Ordering::Acquire) {
                at.store(debug.curr_line(), Ordering::Relaxed);
                Err(mlua::Error::RuntimeError(KILLED.into()))
            } else {
                Ok(VmState::Continue)
            }
        });
        let bridge = self.bridge.clone();
        let result = lua.scope(|scope| {
            let raw = scope.create_function_mut(|lua, args: MultiValue| {
                let (value, failed) = command(lua, &bridge, call, args)?;
                match value {
                    Value::String(line) if failed => Ok((Value::Table(error_table(lua, &line.as_bytes())?), true)),
                    value => Ok((value, failed)),
                }
            })?;
            lua.set_named_registry_value(RAW, raw)?;
            self.bridge.raw_set("log", scope.create_function(|_, args: MultiValue| redis_log(log, args))?)?;
            let (ok, value): (bool, Value) = self.run.call((f, self.handler.clone()))?;
            lua.set_named_registry_value(RAW, Value::Nil)?;
            self.bridge.raw_set("log", Value::Nil)?;
            if ok {
                lua_to_reply(&value, out);
                Ok(Ok(()))
            } else {
                Ok(Err(error_line(&value, script.sha)))
            }
        });
        lua.remove_hook();
        if script.kill.load(Ordering::Acquire) {
            let line = killed_at.load(Ordering::Relaxed);
            return Err(format!("{KILLED} script: {}, on @user_script:{line}.", script.sha));
        }
        result.map_err(fail)?
    }
}

/// Where the run's command callback is kept for [`redis_call`] and [`redis_pcall`].
const RAW: &str = "meshkv.redis.raw";
const RAW_C: &std::ffi::CStr = c"meshkv.redis.raw";

/// `redis.call`: runs the command through the run's callback and raises its error, if any, as the
/// table `{err=...}`. A C function, not a Lua one: in `return redis.call(...)` Lua replaces the
/// caller's frame by a Lua callee's (a tail call), and the error would no longer say on which
/// line of the script it happened; a C callee leaves the frame in place, as in Redis.
unsafe extern "C-unwind" fn redis_call(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    call_raw(state, true)
}

/// `redis.pcall`: as [`redis_call`], but the error table is returned.
unsafe extern "C-unwind" fn redis_pcall(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    call_raw(state, false)
}

/// Calls the callback with this function's arguments; it returns the reply (or error table) and
/// whether it failed. Nothing Rust-owned lives in this frame when `lua_error` unwinds it.
unsafe fn call_raw(state: *mut mlua::ffi::lua_State, raise: bool) -> std::ffi::c_int {
    use mlua::ffi;
    let nargs = ffi::lua_gettop(state);
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, RAW_C.as_ptr());
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, 2);
    let failed = ffi::lua_toboolean(state, -1) != 0;
    ffi::lua_settop(state, -2);
    if failed && raise {
        ffi::lua_error(state)
    }
    1
}

/// An error reply line (`CODE message`, no leading `-`) as the table `redis.pcall` returns,
/// `{err="CODE message"}`, the way Redis 7's `luaPushErrorBuff` builds it from `-CODE message`.
/// Built here rather than by calling the prelude's `error_table`: no Lua call from inside a callback.
fn error_table(lua: &Lua, line: &[u8]) -> mlua::Result<Table> {
    let (code, msg) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (&b"ERR"[..], line),
    };
    let trim = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = msg.iter().position(|b| !trim(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !trim(b)).map_or(start, |e| e + 1);
    let text = [code, b" ", &msg[start..end.max(start)]].concat();
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set("err", lua.create_string(text)?)?;
    Ok(table)
}

/// A Lua array of these strings (KEYS, ARGV).
fn strings(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(table)
}

/// `redis.call`/`redis.pcall`'s way to the server: checks the arguments, runs the command, and
/// gives the prelude the reply as a Lua value, or the error line and `true`.
fn command(lua: &Lua, bridge: &Table, call: &mut Call<'_>, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let refuse = |text: &str| Ok((Value::String(lua.create_string(text)?), true));
    if args.is_empty() {
        return refuse("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in args.iter() {
        match arg {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => argv.push(Bytes::from(number_arg(*n))),
            Value::Integer(n) => argv.push(Bytes::from(n.to_string())),
            _ => return refuse("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let resp3 = bridge.raw_get::<i64>("resp").unwrap_or(2) == 3;
    let reply = call(argv, resp3);
    if let Some(line) = reply.strip_prefix(b"-") {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        return refuse(&String::from_utf8_lossy(line));
    }
    let (value, _) = resp_to_lua(lua, &reply)?;
    Ok((value, false))
}

/// Redis 7's error handler: every error becomes a table `{err=..., source=..., line=...}` (a
/// string error gets the `ERR` code), `source` and `line` saying where in the script it was.
///
/// It must not fail: Lua would call it again on its own error, and again, until its C stack
/// overflows; whatever goes wrong inside, the error as it came is handed back.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    Ok(match describe_error(lua, err.clone()) {
        Ok(table) => Value::Table(table),
        Err(_) => err,
    })
}

fn describe_error(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let table = match err {
        Value::Table(t) => t,
        Value::String(s) => {
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {}", s.to_string_lossy()))?;
            t
        }
        other => {
            let t = lua.create_table()?;
            let text = match &other {
                Value::Error(e) => lua_message(e),
                v => v.to_string().unwrap_or_default(),
            };
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    for level in 0..64 {
        let Some(frame) = lua.inspect_stack(level) else { break };
        let source = frame.source();
        if source.source.as_deref() == Some("@user_script") {
            table.raw_set("source", "@user_script")?;
            table.raw_set("line", frame.curr_line())?;
            break;
        }
    }
    Ok(table)
}

/// The reply line for an error a script raised: its message, then where (`script: <sha>, on
/// @user_script:<line>.`) when the handler found it.
fn error_line(err: &Value, sha: &str) -> String {
    let Value::Table(t) = err else { return format!("ERR Error running script {sha}") };
    let Ok(Value::String(msg)) = t.raw_get::<Value>("err") else {
        return format!("ERR Error running script {sha}");
    };
    let mut line = msg.to_string_lossy();
    if let (Ok(Value::String(source)), Ok(n)) = (t.raw_get::<Value>("source"), t.raw_get::<i64>("line")) {
        line.push_str(&format!(" script: {sha}, on {}:{n}.", source.to_string_lossy()));
    }
    line
}

/// The text of a Lua error as Lua wrote it (mlua adds its own words around it).
fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => message.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

fn sha1hex(_: &Lua, args: MultiValue) -> mlua::Result<String> {
    match args.iter().next() {
        Some(Value::String(s)) if args.len() == 1 => Ok(super::sha1hex(&s.as_bytes())),
        Some(Value::Number(n)) if args.len() == 1 => Ok(super::sha1hex(number_arg(*n).as_bytes())),
        _ => Err(mlua::Error::RuntimeError("wrong number of arguments".into())),
    }
}

/// `redis.log(level, message...)`: the words joined by spaces, at that level of the server log.
fn redis_log(log: &Logger, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(mlua::Error::RuntimeError("redis.log() requires two arguments or more.".into()));
    }
    let level = match args.front() {
        Some(Value::Number(n)) => *n as i64,
        Some(Value::Integer(n)) => *n,
        _ => return Err(mlua::Error::RuntimeError("First argument must be a number".into())),
    };
    let level = match level {
        0 => LogLevel::Debug,
        1 => LogLevel::Verbose,
        2 => LogLevel::Notice,
        3 => LogLevel::Warning,
        _ => return Err(mlua::Error::RuntimeError("Invalid debug level.".into())),
    };
    let words: Vec<String> = args.iter().skip(1).map(|v| v.to_string().unwrap_or_default()).collect();
    log.log(level, &words.join(" "));
    Ok(())
}

/// "7.0.15" as Redis's `REDIS_VERSION_NUM` (0x07000f).
fn version_num(version: &str) -> i64 {
    version.split('.').take(3).fold(0, |n, part| (n << 8) | part.parse::<i64>().unwrap_or(0))
}
