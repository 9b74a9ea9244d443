//! The Lua engine: one Lua 5.1 state per worker thread, sandboxed as Redis 7 sandboxes its own.
//!
//! The state is built once per thread (and again after SCRIPT FLUSH): the base, table, string and
//! math libraries, no io/os/package/debug (so no `loadfile`, `dofile`, `require`), the `bit`,
//! `cjson`, `cmsgpack` and `struct` libraries, and `prelude.lua`, which builds the `redis` library and the read-only globals a
//! script sees. Compiled scripts are kept by digest. A script's commands reach the server through
//! one callback that the caller lends for the run ([`Call`]): the engine never touches the
//! keyspace itself.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

pub use super::convert::ReplyErrors;
use super::convert::{already_counted, lua_to_reply, number_arg, resp_to_lua, COUNTED_FIELD};
use super::functions::{FunctionFlags, FunctionMeta, Functions, Library};
use crate::config::LogLevel;
use crate::log::Logger;
use crate::protocol::Reply;

/// What a script asks of the server.
pub enum Request {
    /// Run this command (`redis.call`, `redis.pcall`); `resp3`: the script reads replies in RESP3.
    Run { argv: Vec<Bytes>, resp3: bool },
    /// May the script's user run this command with these arguments (`redis.acl_check_cmd`)?
    AclCheck(Vec<Bytes>),
}

/// Answers a script's [`Request`] with a RESP reply: the command's reply (an error reply for a
/// command a script may not run), or for an ACL check `:1` (allowed), `:0` (denied) or an error
/// (no such command).
pub type Call<'a> = dyn FnMut(Request) -> Vec<u8> + 'a;

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

/// What one FCALL needs.
pub struct FunctionCall<'a> {
    /// The function's library, as the registry holds it now.
    pub lib: &'a Arc<Library>,
    /// The function's name as registered (its name in error messages).
    pub name: &'a str,
    /// Its keys and arguments (the callback's two parameters).
    pub keys: &'a [Bytes],
    pub argv: &'a [Bytes],
    /// Set by FUNCTION KILL.
    pub kill: &'a Arc<AtomicBool>,
}

/// How long FUNCTION LOAD may run a library's code (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

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
    /// Compiled scripts by digest: a Lua table, not a map of [`Function`] handles. Every handle
    /// mlua keeps holds a slot of its auxiliary thread's stack, which Lua 5.1 caps at 8000
    /// (`LUAI_MAXCSTACK`): with one handle per script ever run, a worker that had compiled
    /// some thousands of distinct scripts had no slot left, the error handler then failed on
    /// every error (it needs a slot for the error value) and recursed until Lua's C-call limit,
    /// and every failing script was answered `ERR C stack overflow`. Scripts stay cached as
    /// Redis 7.0 caches them (until SCRIPT FLUSH), in Lua memory.
    compiled: Table,
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
    /// The globals of function libraries (see prelude.lua).
    fn_env: Table,
    /// `xpcall(function() return f(keys, args) end, handler)`.
    run_fn: Function,
    /// The registry generation `libraries` was last checked against.
    fn_generation: u64,
    /// Libraries whose code ran on this state: their functions by lower-case name (a Lua
    /// table, for the reason `compiled` is one).
    libraries: HashMap<String, (Arc<Library>, Table)>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `work` on this thread's engine. `generation` is the script cache's flush generation: an
/// engine built before a flush is rebuilt.
fn with_engine<R>(generation: u64, work: impl FnOnce(&mut Engine) -> Result<R, ScriptError>) -> Result<R, ScriptError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|e| e.generation != generation) {
            *slot = None; // the old state's memory goes before the new one is built
            *slot = Some(Engine::new(generation).map_err(|e| format!("ERR Error starting Lua: {e}"))?);
        }
        work(slot.as_mut().expect("just built"))
    })
}

/// Runs `script` on this thread's engine, writing its reply to `out` and noting its error replies
/// in `errors`.
pub fn run(
    generation: u64,
    log: &Logger,
    script: &Script<'_>,
    call: &mut Call<'_>,
    out: &mut Reply,
    errors: &mut ReplyErrors,
) -> Result<(), ScriptError> {
    with_engine(generation, |engine| {
        let f = engine.function(script.sha, script.body)?;
        let fail = |e: mlua::Error| format!("ERR {}", lua_message(&e));
        let keys = strings(&engine.lua, script.keys).map_err(fail)?;
        let argv = strings(&engine.lua, script.argv).map_err(fail)?;
        engine.visible.raw_set("KEYS", keys).map_err(fail)?;
        engine.visible.raw_set("ARGV", argv).map_err(fail)?;
        let target = Target { name: script.sha, args: None };
        engine.execute(log, f, &target, script.kill, call, (out, errors))
    })
}

/// Compiles `body` on this thread's engine (SCRIPT LOAD checks a script this way).
pub fn compile(generation: u64, sha: &str, body: &[u8]) -> Result<(), ScriptError> {
    with_engine(generation, |engine| engine.function(sha, body).map(|_| ()))
}

/// Runs a library's code on this thread's engine, as FUNCTION LOAD does, and returns what it
/// registered (the code's first line, already checked, is kept as a comment).
pub fn load_library(generation: u64, log: &Logger, code: &[u8]) -> Result<Vec<FunctionMeta>, ScriptError> {
    with_engine(generation, |engine| Ok(engine.load(log, code)?.into_iter().map(|(meta, _)| meta).collect()))
}

/// Runs a function (FCALL) on this thread's engine, running its library's code there first if
/// this engine has not yet (or has an older version of it).
pub fn run_function(
    generation: u64,
    functions: &Functions,
    log: &Logger,
    fcall: &FunctionCall<'_>,
    call: &mut Call<'_>,
    out: &mut Reply,
    errors: &mut ReplyErrors,
) -> Result<(), ScriptError> {
    with_engine(generation, |engine| {
        let fn_generation = functions.generation();
        if engine.fn_generation != fn_generation {
            engine.libraries.retain(|_, (lib, _)| functions.is_current(lib));
            engine.fn_generation = fn_generation;
        }
        let f = engine.library_function(log, fcall.lib, fcall.name)?;
        let keys = strings(&engine.lua, fcall.keys).map_err(|e| format!("ERR {}", lua_message(&e)))?;
        let argv = strings(&engine.lua, fcall.argv).map_err(|e| format!("ERR {}", lua_message(&e)))?;
        let target = Target { name: fcall.name, args: Some((keys, argv)) };
        engine.execute(log, f, &target, fcall.kill, call, (out, errors))
    })
}

/// What a run calls: a script (whose KEYS and ARGV are globals) or a function (which gets them as
/// its parameters); `name` is what error lines call it.
struct Target<'a> {
    name: &'a str,
    args: Option<(Table, Table)>,
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
        rust.raw_set("cjson", super::cjson::library(&lua)?)?;
        rust.raw_set("cmsgpack", super::cmsgpack::library(&lua)?)?;
        rust.raw_set("struct", super::lua_struct::library(&lua)?)?;
        // SAFETY: both are plain Lua C functions that follow the C API's stack discipline.
        unsafe {
            rust.raw_set("call", lua.create_c_function(redis_call)?)?;
            rust.raw_set("pcall", lua.create_c_function(redis_pcall)?)?;
            rust.raw_set("acl_check_cmd", lua.create_c_function(redis_acl_check_cmd)?)?;
        }
        let prelude = lua.load(include_str!("prelude.lua")).set_name("=prelude").into_function()?;
        let (env, visible, run, fn_env, run_fn): (Table, Table, Function, Table, Function) =
            prelude.call((bridge.clone(), rust))?;
        let handler = lua.create_function(error_handler)?;
        let compiled = lua.create_table()?;
        Ok(Engine {
            lua,
            generation,
            compiled,
            bridge,
            visible,
            env,
            run,
            handler,
            fn_env,
            run_fn,
            fn_generation: 0,
            libraries: HashMap::new(),
        })
    }

    /// Runs a library's code with the load API as its globals; returns what it registered.
    fn load(&mut self, log: &Logger, code: &[u8]) -> Result<Vec<(FunctionMeta, Function)>, ScriptError> {
        let mut body = code.to_vec();
        if body.starts_with(b"#!") {
            body[..2].copy_from_slice(b"--");
        }
        let chunk = self
            .lua
            .load(&body[..])
            .set_name("@user_function")
            .set_environment(self.fn_env.clone())
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", lua_message(&e)))?;
        let lua = &self.lua;
        let fail = |e: mlua::Error| format!("ERR {}", lua_message(&e));
        let registered = lua.create_table().map_err(fail)?;
        self.bridge.raw_set("registered", registered.clone()).map_err(fail)?;
        self.bridge.raw_set("loading", true).map_err(fail)?;
        let started = Instant::now();
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            if started.elapsed() > LOAD_TIMEOUT {
                Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()))
            } else {
                Ok(VmState::Continue)
            }
        });
        let result = lua.scope(|scope| {
            self.bridge.raw_set("log", scope.create_function(|_, args: MultiValue| redis_log(log, args))?)?;
            let outcome: mlua::Result<(bool, Value)> = self.run.call((chunk, self.handler.clone()));
            self.bridge.raw_set("log", Value::Nil)?;
            outcome
        });
        lua.remove_hook();
        let _ = self.bridge.raw_set("loading", false);
        let _ = self.bridge.raw_set("registered", Value::Nil);
        let (ok, err) = result.map_err(fail)?;
        if !ok {
            let text = match &err {
                Value::Table(t) => t.raw_get::<mlua::String>("err").map(|s| s.to_string_lossy()).unwrap_or_default(),
                other => other.to_string().unwrap_or_default(),
            };
            return Err(format!("ERR Error registering functions: {text}"));
        }
        let mut functions = Vec::new();
        for entry in registered.sequence_values::<Table>() {
            let entry = entry.map_err(fail)?;
            let name: String = entry.raw_get("name").map_err(fail)?;
            let callback: Function = entry.raw_get("callback").map_err(fail)?;
            let description: Option<mlua::String> = entry.raw_get("description").map_err(fail)?;
            let mut flags = FunctionFlags::default();
            for flag in entry.raw_get::<Table>("flags").map_err(fail)?.sequence_values::<mlua::String>() {
                flags.0 |= FunctionFlags::parse(&flag.map_err(fail)?.as_bytes()).unwrap_or(0);
            }
            let description = description.map(|d| Bytes::copy_from_slice(&d.as_bytes()));
            functions.push((FunctionMeta { name, description, flags }, callback));
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(functions)
    }

    /// The function `name` of `lib` on this state, running the library's code first if needed.
    fn library_function(&mut self, log: &Logger, lib: &Arc<Library>, name: &str) -> Result<Function, ScriptError> {
        let key = name.to_ascii_lowercase();
        let fail = |e: mlua::Error| format!("ERR {}", lua_message(&e));
        let not_found = || "ERR Function not found".to_string();
        if let Some((cached, functions)) = self.libraries.get(&lib.name) {
            if Arc::ptr_eq(cached, lib) {
                return functions.raw_get::<Option<Function>>(key).map_err(fail)?.ok_or_else(not_found);
            }
        }
        let functions = self.lua.create_table().map_err(fail)?;
        for (meta, f) in self.load(log, &lib.code)? {
            functions.raw_set(meta.name.to_ascii_lowercase(), f).map_err(fail)?;
        }
        let f = functions.raw_get::<Option<Function>>(key).map_err(fail)?.ok_or_else(not_found);
        self.libraries.insert(lib.name.clone(), (lib.clone(), functions));
        f
    }

    /// The compiled script with this digest, compiling `body` if this state has not yet.
    fn function(&mut self, sha: &str, body: &[u8]) -> Result<Function, ScriptError> {
        let cached = self.compiled.raw_get::<Option<Function>>(sha);
        if let Ok(Some(f)) = cached {
            return Ok(f);
        }
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("ERR Error compiling script (new function): {}", lua_message(&e)))?;
        self.compiled.raw_set(sha, f.clone()).map_err(|e| format!("ERR {}", lua_message(&e)))?;
        Ok(f)
    }

    /// Runs a compiled script or function with the run's command callback and kill flag; its
    /// reply goes to `out`, and what INFO must know of its errors to `errors`.
    fn execute(
        &mut self,
        log: &Logger,
        f: Function,
        target: &Target<'_>,
        kill_flag: &Arc<AtomicBool>,
        call: &mut Call<'_>,
        (out, errors): (&mut Reply, &mut ReplyErrors),
    ) -> Result<(), ScriptError> {
        let lua = &self.lua;
        let fail = |e: mlua::Error| format!("ERR {}", lua_message(&e));
        self.bridge.raw_set("resp", 2).map_err(fail)?;
        let killed_at = Arc::new(AtomicI32::new(0));
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            kill_hook(kill_flag.clone(), killed_at.clone()),
        );
        let bridge = self.bridge.clone();
        // The script's two ways to the server take turns on the one callback.
        let call = RefCell::new(call);
        let result = lua.scope(|scope| {
            let raw = scope.create_function(|lua, (args, n): (Table, i64)| {
                command(lua, &bridge, &mut **call.borrow_mut(), &args, n)
            })?;
            lua.set_named_registry_value(RAW, raw)?;
            self.bridge.raw_set("log", scope.create_function(|_, args: MultiValue| redis_log(log, args))?)?;
            let acl = scope.create_function(|lua, args: MultiValue| acl_check(lua, &mut **call.borrow_mut(), args))?;
            lua.set_named_registry_value(ACL, acl)?;
            let (ok, value): (bool, Value) = match &target.args {
                None => self.run.call((f, self.handler.clone()))?,
                Some((keys, argv)) => self.run_fn.call((f, self.handler.clone(), keys.clone(), argv.clone()))?,
            };
            lua.set_named_registry_value(RAW, Value::Nil)?;
            self.bridge.raw_set("log", Value::Nil)?;
            lua.set_named_registry_value(ACL, Value::Nil)?;
            if ok {
                lua_to_reply(&value, out, errors);
                Ok(Ok(()))
            } else {
                errors.raised_counted = matches!(&value, Value::Table(t) if already_counted(t));
                Ok(Err(error_line(&value, target.name)))
            }
        });
        lua.remove_hook();
        if kill_flag.load(Ordering::Acquire) {
            let line = killed_at.load(Ordering::Relaxed);
            let source = if target.args.is_some() { "@user_function" } else { "@user_script" };
            return Err(format!("{KILLED} script: {}, on {source}:{line}.", target.name));
        }
        result.map_err(fail)?
    }
}

/// The hook that stops a killed script (SCRIPT KILL, FUNCTION KILL). Once the kill flag is set
/// it raises the kill error, and from then on at every instruction (as Redis's hook does at
/// every line): a script that catches the error with `pcall` in a loop meets it again at once,
/// outside the `pcall`, instead of 100,000 instructions later, inside it again.
fn kill_hook(
    kill: Arc<AtomicBool>,
    at: Arc<AtomicI32>,
) -> impl Fn(&Lua, mlua::Debug) -> mlua::Result<VmState> + 'static {
    move |lua, debug| {
        if !kill.load(Ordering::Acquire) {
            return Ok(VmState::Continue);
        }
        if at.load(Ordering::Relaxed) == 0 {
            at.store(debug.curr_line().max(1), Ordering::Relaxed);
            lua.set_hook(HookTriggers::new().every_nth_instruction(1), kill_hook(kill.clone(), at.clone()));
        }
        Err(mlua::Error::RuntimeError(KILLED.into()))
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

/// Calls the callback with this function's arguments, packed in one table with their count (a
/// script may pass thousands, `unpack` of a big table, more than a callback's stack takes); it
/// returns the reply (or error table) and whether it failed. Nothing Rust-owned lives in this
/// frame when `lua_error` unwinds it.
unsafe fn call_raw(state: *mut mlua::ffi::lua_State, raise: bool) -> std::ffi::c_int {
    use mlua::ffi;
    let nargs = ffi::lua_gettop(state);
    ffi::lua_createtable(state, nargs, 0);
    for i in 1..=nargs {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti(state, -2, i as ffi::lua_Integer);
    }
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, RAW_C.as_ptr());
    ffi::lua_insert(state, -2);
    ffi::lua_pushinteger(state, nargs as ffi::lua_Integer);
    ffi::lua_call(state, 2, 2);
    let failed = ffi::lua_toboolean(state, -1) != 0;
    ffi::lua_settop(state, -2);
    if failed && raise {
        ffi::lua_error(state)
    }
    1
}

/// Where the run's ACL check is kept for [`redis_acl_check_cmd`].
const ACL: &str = "meshkv.redis.acl";
const ACL_C: &std::ffi::CStr = c"meshkv.redis.acl";

/// `redis.acl_check_cmd`: the run's [`acl_check`] with this function's arguments; raises its
/// error. A C function for the reason [`redis_call`] is one: the error names the script's line.
unsafe extern "C-unwind" fn redis_acl_check_cmd(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    let nargs = ffi::lua_gettop(state);
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, ACL_C.as_ptr());
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, 2);
    let failed = ffi::lua_toboolean(state, -1) != 0;
    ffi::lua_settop(state, -2);
    if failed {
        ffi::lua_error(state)
    }
    1
}

/// An error reply line (`CODE message`, no leading `-`) as the table `redis.pcall` returns,
/// `{err="CODE message"}`, the way Redis 7's `luaPushErrorBuff` builds it from `-CODE message`;
/// `counted`: the line is a command's error reply, which INFO counted when it was made (the table
/// says so, see [`COUNTED_FIELD`]). Built here rather than by calling the prelude's
/// `error_table`: no Lua call from inside a callback.
fn error_table(lua: &Lua, line: &[u8], counted: bool) -> mlua::Result<Table> {
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
    if counted {
        table.raw_set(COUNTED_FIELD, true)?;
    }
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
/// gives back the reply as a Lua value, or its error as a table and `true`. Arguments refused
/// here make an error nobody counted yet; the server's error replies were counted as they were
/// made.
fn command(lua: &Lua, bridge: &Table, call: &mut Call<'_>, args: &Table, n: i64) -> mlua::Result<(Value, bool)> {
    let refuse = |text: &str| Ok((Value::Table(error_table(lua, text.as_bytes(), false)?), true));
    let values = (1..=n).map(|i| args.raw_get::<Value>(i)).collect::<mlua::Result<Vec<Value>>>()?;
    let argv = match command_args(&values) {
        Ok(argv) => argv,
        Err(line) => return refuse(line),
    };
    let resp3 = bridge.raw_get::<i64>("resp").unwrap_or(2) == 3;
    let reply = call(Request::Run { argv, resp3 });
    if let Some(line) = reply.strip_prefix(b"-") {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        return Ok((Value::Table(error_table(lua, line, true)?), true));
    }
    let (value, _) = resp_to_lua(lua, &reply)?;
    Ok((value, false))
}

/// A command's arguments as a script gives them (Redis's `luaArgsToRedisArgv`): strings, and
/// numbers written as Redis writes them; else Redis's error line.
fn command_args(values: &[Value]) -> Result<Vec<Bytes>, &'static str> {
    if values.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    values
        .iter()
        .map(|value| match value {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => Ok(Bytes::from(number_arg(*n))),
            Value::Integer(n) => Ok(Bytes::from(n.to_string())),
            _ => Err("ERR Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// `redis.acl_check_cmd(command, arg...)`: whether the script's user may run the command with
/// these arguments (its keys and channels included), without running it; raises Redis's error for
/// a command that does not exist. Gives back the answer, or the error table and `true`.
fn acl_check(lua: &Lua, call: &mut Call<'_>, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let values: Vec<Value> = args.into_iter().collect();
    let reply = match command_args(&values) {
        Ok(argv) => call(Request::AclCheck(argv)),
        Err(line) => [b"-", line.as_bytes(), b"\r\n"].concat(),
    };
    match reply.strip_prefix(b"-") {
        Some(line) => {
            let line = line.strip_suffix(b"\r\n").unwrap_or(line);
            Ok((Value::Table(error_table(lua, line, false)?), true))
        }
        None => Ok((Value::Boolean(reply.starts_with(b":1")), false)),
    }
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
        if let Some(name @ ("@user_script" | "@user_function")) = source.source.as_deref() {
            table.raw_set("source", name)?;
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
