--- Small helpers shared by recur's Lua modules: option tables and classes.
-- @module recur.util
local util = {}

--- Portable helpers for Lua 5.1 to 5.4 and LuaJIT (recur's Lua code uses no 5.3+ syntax).
util.unpack = table.unpack or unpack

--- A whole number (any Lua version; 5.3+ floats like 3.0 count).
function util.is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v - v == 0
end

--- floor(a / b), Lua 5.3's a // b.
function util.idiv(a, b) return math.floor(a / b) end

--- v as a 5.3+ integer when it is whole (no-op on 5.1 and LuaJIT).
function util.tointeger(v) return math.tointeger and math.tointeger(v) or v end

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
}

--- Checks an options table against a spec and returns a new table with defaults filled in.
-- spec: `{name = {"integer", default = 1, required = true, min = 0, max = 10, below = 1, one_of = {...}}}`;
-- unknown keys are errors (a typo would else pass unnoticed).
-- @string owner the constructor's name, for messages
-- @tab opts the caller's table
-- @tab spec the known options
-- @treturn table
function util.options(owner, opts, spec)
  if type(opts) ~= "table" then
    error(string.format("%s: expected an options table, got %s", owner, describe(opts)), 3)
  end
  for k in pairs(opts) do
    if spec[k] == nil then error(string.format("%s: unknown option '%s'", owner, tostring(k)), 3) end
  end
  local out = {}
  for name, s in pairs(spec) do
    local v = opts[name]
    if v == nil then
      if s.required then error(string.format("%s: option %s is required", owner, name), 3) end
      v = s.default
    elseif not checks[s[1]](v) then
      error(string.format("%s: option %s: expected %s %s, got %s", owner, name,
        s[1] == "integer" and "an" or "a", s[1], type(v) == "number" and tostring(v) or describe(v)), 3)
    end
    if v ~= nil and type(v) == "number" then
      if s[1] == "integer" then v = util.tointeger(v) end
      if (s.min and v < s.min) or (s.max and v > s.max) or (s.below and v >= s.below) then
        local range = s.below and string.format("[%s, %s)", tostring(s.min), tostring(s.below))
          or string.format("%s..%s", tostring(s.min or "-inf"), tostring(s.max or "inf"))
        error(string.format("%s: option %s: expected %s, got %s", owner, name, range, tostring(v)), 3)
      end
    end
    if v ~= nil and s.one_of then
      local ok = false
      for _, allowed in ipairs(s.one_of) do ok = ok or allowed == v end
      if not ok then
        error(string.format("%s: option %s: expected one of '%s', got '%s'", owner, name,
          table.concat(s.one_of, "', '"), tostring(v)), 3)
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
