--- JSON (RFC 8259) for checkpoint metadata; private to recur.checkpoint.
-- The decoder is strict and bounded, since it reads files recur did not write: the
-- number grammar, escapes, surrogate pairs and UTF-8 are checked, nesting is limited,
-- duplicate keys and trailing text are errors. `null` decodes to `json.null`; arrays
-- decode to tables marked as arrays, so that `[]` and `{}` survive a round trip. The
-- encoder writes only what the decoder reads back: valid UTF-8, finite numbers, no
-- cycles, nesting within the limit, object keys sorted (equal values give equal text).
-- With `{allow_nan = true}` both sides also accept NaN, Infinity and -Infinity as bare
-- tokens, as Python's json module does by default.
-- @module recur.json
local util = require "recur.util"

local json = {}

--- The value of JSON's null (a Lua table cannot hold nil).
json.null = setmetatable({}, {__name = "recur.json.null", __tostring = function() return "null" end})

local array_mark = {__name = "recur.json.array"}

--- Marks t as an array, so that an empty t encodes as [] (decoded arrays are marked).
function json.array(t) return setmetatable(t or {}, array_mark) end

--- The deepest nesting of arrays and objects read or written.
json.MAX_DEPTH = 64

-- ---- UTF-8 --------------------------------------------------------------------------------

-- the byte length of the valid UTF-8 sequence at s[i], or nil (RFC 3629: no overlong
-- forms, no surrogates, nothing above U+10FFFF)
local function utf8_length(s, i)
  local c = s:byte(i)
  if c < 0x80 then return 1 end
  local n
  local lo, hi = 0x80, 0xBF
  if c >= 0xC2 and c <= 0xDF then
    n = 2
  elseif c >= 0xE0 and c <= 0xEF then
    n = 3
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
  elseif c >= 0xF0 and c <= 0xF4 then
    n = 4
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
  else
    return nil
  end
  local c2 = s:byte(i + 1)
  if not c2 or c2 < lo or c2 > hi then return nil end
  for k = i + 2, i + n - 1 do
    local ck = s:byte(k)
    if not ck or ck < 0x80 or ck > 0xBF then return nil end
  end
  return n
end

--- nil when s is valid UTF-8, else the byte position of the first invalid sequence.
function json.utf8_error(s)
  local i, n = 1, #s
  while i <= n do
    local step = s:find("[\128-\255]", i)
    if not step then return nil end
    local len = utf8_length(s, step)
    if not len then return step end
    i = step + len
  end
  return nil
end

-- ---- encoding -----------------------------------------------------------------------------

local ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t"}

local function encode_error(path, what) error("json: " .. path .. ": " .. what, 0) end

local function encode_string(s, path)
  local bad = json.utf8_error(s)
  if bad then encode_error(path, string.format("the string is not valid UTF-8 (byte %d)", bad)) end
  return '"' .. s:gsub('[%c"\\]', function(c) return ESCAPES[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function encode_number(v, path, allow_nan)
  if v ~= v or v == math.huge or v == -math.huge then
    if allow_nan then return v ~= v and "NaN" or (v > 0 and "Infinity" or "-Infinity") end
    encode_error(path, (v ~= v and "NaN" or tostring(v)) .. " is not a JSON number (JSON has no NaN or infinity)")
  end
  if util.is_integer(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
  return string.format("%.17g", v)
end

-- the keys of t (a table without a metatable, or marked as an array: # is its raw
-- length), and whether t is an array 1..n
local function keys_of(t)
  local keys, count = {}, 0
  for k in next, t do
    count = count + 1
    keys[count] = k
  end
  local n = #t
  return keys, getmetatable(t) == array_mark or (count > 0 and count == n), n
end

local function encode_value(v, path, depth, active, allow_nan)
  local kind = type(v)
  if kind == "string" then return encode_string(v, path) end
  if kind == "boolean" then return tostring(v) end
  if kind == "number" then return encode_number(v, path, allow_nan) end
  if v == json.null then return "null" end
  local mt = getmetatable(v)
  if kind ~= "table" or (mt ~= nil and mt ~= array_mark) then
    encode_error(path, "cannot encode a " .. util.describe(v))
  end
  if active[v] then encode_error(path, "the table contains itself") end
  if depth > json.MAX_DEPTH then encode_error(path, "nested deeper than " .. json.MAX_DEPTH) end
  active[v] = true
  local keys, is_array, n = keys_of(v)
  local parts = {}
  if is_array then
    for i = 1, n do
      local e = rawget(v, i)
      if e == nil then encode_error(path, "an array with a hole at " .. i) end
      parts[i] = encode_value(e, path .. "[" .. i .. "]", depth + 1, active, allow_nan)
    end
  else
    for _, k in ipairs(keys) do
      if type(k) ~= "string" then encode_error(path, "object keys must be strings, got " .. util.describe(k)) end
    end
    table.sort(keys)
    for i, k in ipairs(keys) do
      parts[i] = encode_string(k, path) .. ":" .. encode_value(rawget(v, k), path .. "." .. k, depth + 1, active, allow_nan)
    end
  end
  active[v] = nil
  return is_array and "[" .. table.concat(parts, ",") .. "]" or "{" .. table.concat(parts, ",") .. "}"
end

--- JSON text of a value: strings (UTF-8), finite numbers, booleans, json.null and tables
-- (arrays 1..n, objects with string keys). Errors are "json: <path>: <problem>", the path
-- naming the offending value ("$.history[3].loss"), raised without a position.
-- @param v
-- @tparam[opt] table opts `{allow_nan = true}` writes NaN, Infinity and -Infinity
function json.encode(v, opts)
  return encode_value(v, "$", 1, {}, opts and opts.allow_nan)
end

-- ---- decoding -----------------------------------------------------------------------------

local SIMPLE = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"}
local LITERALS = {["true"] = true, ["false"] = false, null = json.null}
local SPECIAL = {NaN = 0 / 0, Infinity = math.huge, ["-Infinity"] = -math.huge}

--- The value of JSON text. Errors are "json: <problem> at byte <n>", raised without a position.
-- @string text
-- @tparam[opt] table opts `{allow_nan = true}` reads NaN, Infinity and -Infinity
function json.decode(text, opts)
  if type(text) ~= "string" then error("json: expected a string, got " .. util.describe(text), 0) end
  local allow_nan = opts and opts.allow_nan
  local pos = 1
  local function fail(what) error(string.format("json: %s at byte %d", what, pos), 0) end
  local function ws() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end

  local function hex4(at)
    local h = text:match("^%x%x%x%x", at)
    if not h then fail("bad \\u escape") end
    return tonumber(h, 16)
  end

  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local s, e = text:find('^[^"\\%c\128-\255]+', pos)
      if s then
        out[#out + 1] = text:sub(s, e)
        pos = e + 1
      end
      local c = text:sub(pos, pos)
      if c == '"' then
        pos = pos + 1
        return table.concat(out)
      elseif c == "\\" then
        local e2 = text:sub(pos + 1, pos + 1)
        if SIMPLE[e2] then
          out[#out + 1] = SIMPLE[e2]
          pos = pos + 2
        elseif e2 == "u" then
          local cp = hex4(pos + 2)
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF then
            if text:sub(pos, pos + 1) ~= "\\u" then fail("unpaired surrogate") end
            local low = hex4(pos + 2)
            if low < 0xDC00 or low > 0xDFFF then fail("unpaired surrogate") end
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00)
            pos = pos + 6
          elseif cp >= 0xDC00 and cp <= 0xDFFF then
            fail("unpaired surrogate")
          end
          out[#out + 1] = util.utf8_char(cp)
        else
          fail("bad escape")
        end
      elseif c == "" then
        fail("unterminated string")
      elseif c:byte() < 0x20 then
        fail("control character in a string")
      else
        local len = utf8_length(text, pos)
        if not len then fail("invalid UTF-8") end
        out[#out + 1] = text:sub(pos, pos + len - 1)
        pos = pos + len
      end
    end
  end

  local function number()
    local s, e = text:find("^-?%d+", pos)
    if not s then return nil end
    local int = text:sub(s, e)
    if int:find("^-?0%d") then fail("leading zero in a number") end
    local frac = text:match("^%.%d*", e + 1)
    if frac then
      if #frac == 1 then
        pos = e + 1
        fail("no digit after the decimal point")
      end
      e = e + #frac
    end
    local exp = text:match("^[eE][-+]?%d*", e + 1)
    if exp then
      if not exp:find("%d$") then
        pos = e + 1
        fail("no digit in the exponent")
      end
      e = e + #exp
    end
    local v = tonumber(text:sub(s, e))
    if v ~= v or v == math.huge or v == -math.huge then fail("number out of range") end
    pos = e + 1
    if not frac and not exp then return util.tointeger(v) end
    return v + 0.0
  end

  local value
  local function container(depth, close)
    if depth > json.MAX_DEPTH then fail("nesting deeper than " .. json.MAX_DEPTH) end
    local obj, n = close == "]" and json.array() or {}, 0
    pos = pos + 1
    ws()
    if text:sub(pos, pos) == close then
      pos = pos + 1
      return obj
    end
    while true do
      ws()
      if close == "}" then
        if text:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str()
        if obj[k] ~= nil then fail("duplicate key '" .. k .. "'") end
        ws()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value(depth)
      else
        n = n + 1
        obj[n] = value(depth)
      end
      ws()
      local sep = text:sub(pos, pos)
      if sep == close then
        pos = pos + 1
        return obj
      end
      if sep ~= "," then fail("expected ',' or '" .. close .. "'") end
      pos = pos + 1
    end
  end

  function value(depth)
    ws()
    local c = text:sub(pos, pos)
    if c == '"' then return str() end
    if c == "{" then return container(depth + 1, "}") end
    if c == "[" then return container(depth + 1, "]") end
    local word = text:match("^-?%a+", pos)
    if word and LITERALS[word] ~= nil then
      pos = pos + #word
      return LITERALS[word]
    end
    if word and allow_nan and SPECIAL[word] then
      pos = pos + #word
      return SPECIAL[word]
    end
    local v = number()
    if v ~= nil then return v end
    fail("unexpected " .. (c == "" and "end of text" or ("'" .. c .. "'")))
  end

  local v = value(0)
  ws()
  if pos <= #text then fail("text after the value") end
  return v
end

return json
