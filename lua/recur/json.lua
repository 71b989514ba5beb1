--- A small JSON encoder and decoder for checkpoint metadata (objects, arrays, strings,
-- numbers, booleans). The decoder is strict and bounded: it reads files recur did not
-- write, so it limits nesting and rejects anything outside JSON.
-- @module recur.json
local util = require "recur.util"

local json = {}

local ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t"}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return ESCAPES[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

--- JSON text of a value (keys of objects sorted, so equal values give equal text).
function json.encode(v)
  local kind = type(v)
  if kind == "string" then return encode_string(v) end
  if kind == "boolean" then return tostring(v) end
  if kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("json.encode: " .. tostring(v) .. " is not JSON", 2) end
    return (util.is_integer(v) and math.abs(v) < 2 ^ 53) and string.format("%d", v) or string.format("%.17g", v)
  end
  if kind ~= "table" then error("json.encode: cannot encode a " .. kind, 2) end
  local parts = {}
  if is_array(v) then
    for i, e in ipairs(v) do parts[i] = json.encode(e) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "string" then error("json.encode: object keys must be strings, got " .. type(k), 2) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = encode_string(k) .. ":" .. json.encode(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local MAX_DEPTH = 64

--- The value of JSON text; errors say where the text is wrong.
function json.decode(text)
  local pos = 1
  local function fail(what) error(string.format("json.decode: %s at byte %d", what, pos), 0) end
  local function ws() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local value
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local s, e = text:find('^[^"\\%c]+', pos)
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
        local simple = ({['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"})[e2]
        if simple then
          out[#out + 1] = simple
          pos = pos + 2
        elseif e2 == "u" and text:find("^%x%x%x%x", pos + 2) then
          local cp = tonumber(text:sub(pos + 2, pos + 5), 16)
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF and text:find("^\\u[dD][c-fC-F]%x%x", pos) then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(text:sub(pos + 2, pos + 5), 16) - 0xDC00)
            pos = pos + 6
          elseif cp >= 0xD800 and cp <= 0xDFFF then
            fail("lone surrogate")
          end
          out[#out + 1] = util.utf8_char(cp)
        else
          fail("bad escape")
        end
      else
        fail(c == "" and "unterminated string" or "control character in a string")
      end
    end
  end
  function value(depth)
    if depth > MAX_DEPTH then fail("nesting deeper than " .. MAX_DEPTH) end
    ws()
    local c = text:sub(pos, pos)
    if c == '"' then return str() end
    if c == "{" or c == "[" then
      local obj, close, n = {}, c == "{" and "}" or "]", 0
      pos = pos + 1
      ws()
      if text:sub(pos, pos) == close then
        pos = pos + 1
        return obj
      end
      while true do
        ws()
        if c == "{" then
          if text:sub(pos, pos) ~= '"' then fail("expected a key") end
          local k = str()
          ws()
          if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
          pos = pos + 1
          obj[k] = value(depth + 1)
        else
          n = n + 1
          obj[n] = value(depth + 1)
        end
        ws()
        local sep = text:sub(pos, pos)
        pos = pos + 1
        if sep == close then return obj end
        if sep ~= "," then
          pos = pos - 1
          fail("expected ',' or '" .. close .. "'")
        end
      end
    end
    for lit, v in pairs{["true"] = true, ["false"] = false} do
      if text:sub(pos, pos + #lit - 1) == lit then
        pos = pos + #lit
        return v
      end
    end
    local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if num and tonumber(num) then
      pos = pos + #num
      return util.tointeger(tonumber(num))
    end
    fail("unexpected " .. (c == "" and "end of text" or ("'" .. c .. "'")))
  end
  if type(text) ~= "string" then error("json.decode: expected a string, got " .. type(text), 2) end
  local v = value(1)
  ws()
  if pos <= #text then fail("text after the value") end
  return v
end

return json
