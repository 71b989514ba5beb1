--- Small helpers shared by recur's Lua modules: option tables and classes.
-- @module recur.util
local util = {}

--- Portable helpers for Lua 5.1 to 5.4 and LuaJIT (recur's Lua code uses no 5.3+ syntax).
util.unpack = table.unpack or unpack

--- A whole number (any Lua version; 5.3+ floats like 3.0 count).
function util.is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v - v == 0
end

-- true when value is a userdata of recur's type `name` (not a table that claims the name)
local function is_udata(value, name)
  local mt = getmetatable(value)
  return type(value) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == name
end

--- True when `value` is a recur.Tensor.
function util.is_tensor(value) return is_udata(value, "recur.Tensor") end

--- True when `value` is a recur.Generator.
function util.is_generator(value) return is_udata(value, "recur.Generator") end

--- floor(a / b), Lua 5.3's a // b.
function util.idiv(a, b) return math.floor(a / b) end

--- v as a 5.3+ integer when it is whole (no-op on 5.1 and LuaJIT).
function util.tointeger(v) return math.tointeger and math.tointeger(v) or v end

--- Errors at the user's line
-- @section errors

-- recur's own Lua files: sources under this file's directory, or chunks named "=recur..."
-- when compiled into a host (recur_preload)
local own_directory = debug.getinfo(1, "S").source:match("^(@.*[/\\])util%.lua$")

local function is_own(source)
  return (own_directory ~= nil and source:sub(1, #own_directory) == own_directory) or source == "=recur"
    or source:find("^=recur%.") ~= nil
end

--- The stack level (for `error`, counted from the caller of this function's caller) of the
-- first function outside recur's Lua files: the user's line that called into recur.
local function user_level()
  local level = 3 -- 1: user_level, 2: util.error, 3: its caller (inside recur)
  while true do
    local info = debug.getinfo(level, "S")
    if not info then return 0 end -- no user code on the stack (a host called recur directly)
    -- C functions and Lua 5.1's "(tail call)" markers (what == "tail") are not user code
    if info.what ~= "C" and info.what ~= "tail" and not is_own(info.source) then return level - 1 end
    level = level + 1
  end
end

--- Raises `string.format(fmt, ...)` at the user's line, however deep inside recur the
-- error is found: recur's argument errors always point at the call that passed the bad
-- argument.
function util.error(fmt, ...)
  local message = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  error(message, user_level())
end

--- The length of a table without its __len (5.1 and LuaJIT ignore __len on tables).
util.rawlen = rawlen or function(t) return #t end

--- The checked reader of Lua arrays: the raw length of `v` (no __len, no __index), at
-- most `max` (default 2^31), with every element passing `ok(element)`; else an error
-- "fn: what[i]: expected <expected>, got ..." at the user's line.
-- @treturn int the length
function util.array(fn, what, v, ok, expected, max)
  if type(v) ~= "table" then util.error("%s: %s: expected an array, got %s", fn, what, util.describe(v)) end
  local n = util.rawlen(v)
  if n > (max or 2 ^ 31) then util.error("%s: %s: expected at most %d elements, got %d", fn, what, max or 2 ^ 31, n) end
  for i = 1, n do
    local e = rawget(v, i)
    if not ok(e) then
      util.error("%s: %s[%d]: expected %s, got %s", fn, what, i, expected, type(e) == "number" and tostring(e) or util.describe(e))
    end
  end
  return n
end

--- True when an error message starts with a position ("chunk:line: "); a chunk name holds
-- no space, so that a message such as "cannot write 2010/1/2 13:45: ..." is not taken for one.
function util.has_position(err)
  return type(err) == "string" and (err:find("^[^\n ]-:%d+: ") or err:find('^%[string ".-"%]:%d+: ')) ~= nil
end

--- Raises an error caught from a C function called with pcall (which raises without a
-- position) again at the user's line, as "fn: context<detail>", the detail of an argument
-- error "bad argument #n to 'f' (detail)" or the whole message. A positioned error (a Lua
-- runtime error, or one already at the user's line) or a non-string passes through unchanged.
function util.rethrow(fn, err, context)
  if type(err) ~= "string" or util.has_position(err) then error(err, 0) end
  local message = err:match("^bad argument #%-?%d+ to '[^']*' %((.*)%)$") or err
  -- a message that already names fn (a C function's own "GRU:backward: ...") keeps one name
  if context == nil and message:sub(1, #fn + 2) == fn .. ": " then util.error("%s", message) end
  util.error("%s: %s%s", fn, context or "", message)
end

local function finish(fn, ok, ...)
  if ok then return ... end
  util.rethrow(fn, (...))
end

--- f(...) for a C function f, its errors raised again at the user's line under the name fn
-- (see rethrow): how recur's Lua modules call their C kernels.
function util.call(fn, f, ...) return finish(fn, pcall(f, ...)) end

--- The UTF-8 encoding of a code point.
function util.utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
    0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local function describe(value)
  local mt = getmetatable(value)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(value)
end
util.describe = describe

local checks = {
  integer = function(v) return util.is_integer(v) end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  string = function(v) return type(v) == "string" end,
  table = function(v) return type(v) == "table" end,
  any = function() return true end,
  ["recur.Generator"] = util.is_generator,
}

-- the checked form of an options spec entry (a table {"type", default =, ...})
local function check_spec(name, s)
  if type(name) ~= "string" or type(s) ~= "table" or checks[s[1]] == nil then
    util.error("options: spec: entry %s: expected {type, ...} with a type among integer, number, boolean, " ..
      "string, table, recur.Generator, any", tostring(name))
  end
  return s
end

local function shown(v) return type(v) == "number" and tostring(v) or describe(v) end

--- The keys of t in a fixed order (sorted by tostring), so that what is reported first
-- does not depend on the order of `pairs`, which varies between runs.
function util.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

--- Checks an options table against a spec and returns a new table with defaults filled in.
-- spec: `{name = {"integer", default = 1, required = true, min = 0, max = 10, below = 1, one_of = {...}}}`;
-- unknown keys are errors (a typo would else pass unnoticed). Options are read raw: a
-- metatable on the caller's table is not consulted. Errors name `owner` and the option
-- and point at the user's line.
-- @string owner the constructor's name, for messages
-- @tab opts the caller's table
-- @tab spec the known options
-- @treturn table
function util.options(owner, opts, spec)
  if type(owner) ~= "string" then util.error("options: owner: expected a string, got %s", describe(owner)) end
  if type(spec) ~= "table" then util.error("options: spec: expected a table, got %s", describe(spec)) end
  if type(opts) ~= "table" then util.error("%s: expected an options table, got %s", owner, describe(opts)) end
  local unknown = {} -- reported in sorted order, not in the order of pairs (which varies between runs)
  for k in pairs(opts) do
    if type(k) ~= "string" then util.error("%s: unknown option %s", owner, shown(k)) end
    if rawget(spec, k) == nil then unknown[#unknown + 1] = k end
  end
  table.sort(unknown)
  if unknown[1] then util.error("%s: unknown option '%s'", owner, unknown[1]) end
  local out = {}
  for _, name in ipairs(util.sorted_keys(spec)) do
    local s = check_spec(name, spec[name])
    local v = rawget(opts, name)
    if v == nil then
      if s.required then util.error("%s: option %s is required", owner, name) end
      v = s.default
    elseif not checks[s[1]](v) then
      util.error("%s: option %s: expected %s %s, got %s", owner, name, s[1] == "integer" and "an" or "a", s[1], shown(v))
    end
    if v ~= nil and type(v) == "number" then
      if s[1] == "integer" then v = util.tointeger(v) end
      if v ~= v or (s.min and v < s.min) or (s.max and v > s.max) or (s.below and v >= s.below) then
        local range = s.below and string.format("[%s, %s)", tostring(s.min), tostring(s.below))
          or string.format("%s..%s", tostring(s.min or "-inf"), tostring(s.max or "inf"))
        util.error("%s: option %s: expected %s, got %s", owner, name, range, tostring(v))
      end
    end
    if v ~= nil and s.one_of then
      local ok = false
      for _, allowed in ipairs(s.one_of) do ok = ok or allowed == v end
      if not ok then
        util.error("%s: option %s: expected one of '%s', got '%s'", owner, name, table.concat(s.one_of, "', '"),
          tostring(v))
      end
    end
    out[name] = v
  end
  return out
end

--- A class table whose instances print as `name`; `class.new` is up to the caller.
function util.class(name, base)
  local cls = {}
  cls.__index = cls
  cls.__name = name
  if base then setmetatable(cls, {__index = base}) end
  return cls
end

return util
