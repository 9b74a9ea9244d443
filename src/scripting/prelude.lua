-- The sandbox and the `redis` library, run once per Lua state by the engine (src/scripting/engine.rs)
-- in the state's real global table. Scripts never see that table: they run with `env` (returned
-- below) as their globals, which reads through to what Redis 7 gives a script and refuses every
-- write, as Redis's read-only globals do ("Attempt to modify a readonly table", "Script attempted
-- to access nonexistent global variable").
local bridge, rust = ...

local G = _G
local real = {}   -- each read-only view -> the table it shows
local rawget, rawset, next, ipairs, setmetatable, error, type, tostring =
  rawget, rawset, next, ipairs, setmetatable, error, type, tostring

local function readonly()
  error("Attempt to modify a readonly table", 2)
end

-- A read-only view of `t`.
local function protect(t)
  local view = setmetatable({}, { __index = t, __newindex = readonly, __metatable = false })
  real[view] = t
  return view
end

-- luaPushErrorBuff: "-CODE msg" keeps its code, any other text gets "ERR"; ends trimmed.
local function error_table(text)
  local code, msg = "ERR", text
  if text:sub(1, 1) == "-" then
    local space = text:find(" ", 1, true)
    if space then
      code, msg = text:sub(2, space - 1), text:sub(space + 1)
    else
      msg = text:sub(2)
    end
  end
  msg = msg:gsub("^[\r\n]+", ""):gsub("[\r\n]+$", "")
  return { err = code .. " " .. msg }
end

local redis = {}
-- C functions (see engine.rs): they keep the script's frame for the error's line number.
redis.call = rust.call
redis.pcall = rust.pcall
redis.error_reply = function(text)
  if type(text) ~= "string" then
    return error_table("wrong number or type of arguments")
  end
  if text:sub(1, 1) ~= "-" then
    text = "-" .. text
  end
  return error_table(text)
end
redis.status_reply = function(text)
  if type(text) ~= "string" then
    return error_table("wrong number or type of arguments")
  end
  return { ok = text }
end
redis.setresp = function(...)
  if select("#", ...) ~= 1 then
    error(error_table("redis.setresp() requires one argument."), 0)
  end
  local v = ...
  if v ~= 2 and v ~= 3 then
    error(error_table("RESP version must be 2 or 3."), 0)
  end
  bridge.resp = v
end
redis.sha1hex = rust.sha1hex
redis.log = function(...) return bridge.log(...) end
redis.acl_check_cmd = rust.acl_check_cmd
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION = rust.version
redis.REDIS_VERSION_NUM = rust.version_num
-- Effects replication is the only kind (as in Redis 7): these are kept for old scripts.
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.replicate_commands = function() return true end
redis.set_repl = function(flags)
  if type(flags) ~= "number" or flags < 0 or flags > 3 then
    error(error_table("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."), 0)
  end
end
-- The script debugger (SCRIPT DEBUG) is not available: these do nothing, as outside a debug session.
redis.breakpoint = function() return false end
redis.debug = function() end

-- What a script may see, by name.
local visible = {}
for _, name in ipairs({ "assert", "collectgarbage", "error", "gcinfo", "getmetatable", "load", "loadstring",
                        "pcall", "rawequal", "select", "tonumber", "tostring", "type", "unpack", "xpcall",
                        "_VERSION" }) do
  visible[name] = G[name]
end
for _, name in ipairs({ "coroutine", "math", "string", "table" }) do
  visible[name] = protect(G[name])
end
visible.redis = protect(redis)
visible.bit = protect(rust.bit)
visible.cjson = protect(rust.cjson)
visible.cmsgpack = protect(rust.cmsgpack)

-- loadstring and load compile text only (a binary chunk is refused as Redis refuses it: read as
-- text, it fails to parse), and the chunk runs with its caller's globals, not the real ones.
local G_loadstring, setfenv, getfenv, concat = G.loadstring, G.setfenv, G.getfenv, G.table.concat
local function compile_text(chunk, name, env)
  if type(chunk) == "string" and chunk:byte(1) == 27 then
    local shown = chunk:match("^[^%z\n]*")
    return nil, '[string "' .. shown .. '"]:1: unexpected symbol near \'char(27)\''
  end
  local f, err = G_loadstring(chunk, name)
  if f then setfenv(f, env) end
  return f, err
end
visible.loadstring = function(chunk, name)
  return compile_text(chunk, name, getfenv(2))
end
visible.load = function(chunk, name)
  if type(chunk) == "function" then
    local parts = {}
    while true do
      local part = chunk()
      if part == nil or part == "" then break end
      parts[#parts + 1] = part
    end
    chunk = concat(parts)
  end
  return compile_text(chunk, name or "=(load)", getfenv(2))
end

-- The raw-table functions see through views and refuse to write to them.
visible.rawget = function(t, k) return rawget(real[t] or t, k) end
visible.rawset = function(t, k, v)
  if real[t] then error("Attempt to modify a readonly table", 0) end
  return rawset(t, k, v)
end
visible.setmetatable = function(t, m)
  if real[t] then error("Attempt to modify a readonly table", 0) end
  return setmetatable(t, m)
end
local function see_through_next(t, k) return next(real[t] or t, k) end
visible.next = see_through_next
visible.pairs = function(t) return see_through_next, t, nil end
visible.ipairs = function(t) return ipairs(real[t] or t) end

local env = setmetatable({}, {
  __index = function(_, name)
    local v = visible[name]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly,
  -- getmetatable(_G) gives a read-only table, as in Redis (whose globals' metatable is one).
  __metatable = protect({}),
})
real[env] = visible
visible._G = env

-- Runs a compiled script under the error handler (which adds where the error happened).
local xpcall = xpcall
local function run(script, handler)
  return xpcall(script, handler)
end

-- Redis 7 functions. A library's code runs with `fn_env` as its globals, and so do the functions
-- it defines (Lua 5.1 closures share their chunk's environment), as Redis swaps what its globals
-- table reads through to: while FUNCTION LOAD runs the code (`bridge.loading`), only the load API
-- (`redis.register_function`, `redis.log`, the log levels and version constants); afterwards what
-- a script sees, but KEYS and ARGV (a function gets its keys and arguments as parameters).
local function lib_error(text)
  error(error_table(text), 0)
end

local function nonexistent(name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 3)
end

local known_flags = { ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
                      ["no-cluster"] = true, ["allow-cross-slot-keys"] = true }

-- A name as Lua's C API reads a string argument (numbers are strings there).
local function as_name(v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return tostring(v) end
  return nil
end

local function register_function(...)
  if not bridge.loading then
    lib_error("redis.register_function can only be called on FUNCTION LOAD command")
  end
  local n = select("#", ...)
  local name, callback, description, flags
  if n == 1 then
    local args = ...
    if type(args) ~= "table" then
      lib_error("calling redis.register_function with a single argument is only applicable to Lua table " ..
                "(representing named arguments).")
    end
    for k, v in next, args do
      if type(k) ~= "string" then
        lib_error("named argument key given to redis.register_function is not a string")
      elseif k == "function_name" then
        name = as_name(v)
        if not name then lib_error("function_name argument given to redis.register_function must be a string") end
      elseif k == "description" then
        description = as_name(v)
        if not description then
          lib_error("description argument given to redis.register_function must be a string")
        end
      elseif k == "callback" then
        if type(v) ~= "function" then
          lib_error("callback argument given to redis.register_function must be a function")
        end
        callback = v
      elseif k == "flags" then
        if type(v) ~= "table" then
          lib_error("flags argument to redis.register_function must be a table representing function flags")
        end
        flags = v
      else
        lib_error("unknown argument given to redis.register_function")
      end
    end
    if not name then lib_error("redis.register_function must get a function name argument") end
    if not callback then lib_error("redis.register_function must get a callback argument") end
  elseif n == 2 then
    local first
    first, callback = ...
    name = as_name(first)
    if not name then lib_error("first argument to redis.register_function must be a string") end
    if type(callback) ~= "function" then
      lib_error("second argument to redis.register_function must be a function")
    end
  else
    lib_error("wrong number of arguments to redis.register_function")
  end
  local flag_list = {}
  if flags then
    for _, f in next, flags do
      if type(f) ~= "string" or not known_flags[f] then lib_error("unknown flag given") end
      flag_list[#flag_list + 1] = f
    end
  end
  if not name:find("^[A-Za-z0-9_]+$") then
    lib_error("Library names can only contain letters, numbers, or underscores(_) and must be at least one " ..
              "character long")
  end
  local registered = bridge.registered
  for _, r in ipairs(registered) do
    if r.name:lower() == name:lower() then lib_error("Function already exists in the library") end
  end
  registered[#registered + 1] = { name = name, callback = callback, description = description, flags = flag_list }
end

local load_redis = {
  register_function = register_function,
  log = redis.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
  LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
-- Reading a field the load API lacks is an error, as for a global (`redis.math`).
local load_view = setmetatable({}, {
  __index = function(_, name)
    local v = load_redis[name]
    if v == nil then nonexistent(name) end
    return v
  end,
  __newindex = readonly,
  __metatable = false,
})
real[load_view] = load_redis
local load_visible = { redis = load_view }

local fn_env = setmetatable({}, {
  __index = function(_, name)
    local v
    if bridge.loading then
      v = load_visible[name]
    elseif name ~= "KEYS" and name ~= "ARGV" then
      v = visible[name]
    end
    if v == nil then nonexistent(name) end
    return v
  end,
  __newindex = readonly,
  __metatable = protect({}),
})
real[fn_env] = visible

-- Runs a function with its keys and arguments under the error handler.
local function run_fn(f, handler, keys, args)
  return xpcall(function() return f(keys, args) end, handler)
end

return env, visible, run, fn_env, run_fn
