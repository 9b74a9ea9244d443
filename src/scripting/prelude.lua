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
  __metatable = false,
})
real[env] = visible
visible._G = env

-- Runs a compiled script under the error handler (which adds where the error happened).
local xpcall = xpcall
local function run(script, handler)
  return xpcall(script, handler)
end

return env, visible, run
