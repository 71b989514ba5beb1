--- Hostile values for the Lua-API fuzzer: tables that lie about their length, raise from
-- their metamethods, contain themselves or nest deeply, crafted checkpoint files.
-- Everything here is deterministic: a repro script calls the same constructors with the
-- same arguments and gets the same values.
local H = {}

--- The marker of errors raised by hostile metamethods: such an error reaching the caller
-- is the user's own error passed through, not recur's.
H.MARK = "HOSTILE"

--- A table whose __len claims n elements and whose __index answers `value` for any key;
-- its raw contents are `contents`.
function H.lying(n, value, contents)
  return setmetatable(contents or {}, {__len = function() return n end, __index = function() return value end})
end

--- A table whose every metamethod raises.
function H.raising()
  local function raise() error(H.MARK .. " metamethod", 2) end
  return setmetatable({}, {__index = raise, __newindex = raise, __len = raise, __call = raise, __tostring = raise,
    __eq = raise, __lt = raise, __le = raise, __concat = raise, __add = raise, __pairs = raise, __name = 42})
end

--- A table that contains itself, as an element and as a field.
function H.cycle()
  local t = {1, 2}
  t[3], t.self, t.children = t, t, {t}
  return t
end

--- Tables nested `depth` deep, each holding the next as its first element.
function H.deep(depth)
  local t = {0}
  for _ = 1, depth do t = {t} end
  return t
end

--- A table with a metatable that claims to be a recur type.
function H.impostor(name)
  return setmetatable({}, {__name = name, __index = function(_, k) return k == "numel" and function() return 4 end end})
end

--- A Sequential of `depth` levels, each level holding the one below twice (a shared child).
function H.shared_tree(recur, depth)
  local m = recur.Linear{in_features = 1, out_features = 1}
  for _ = 1, depth do m = recur.Sequential{m, m} end
  return m
end

--- Writes bytes to path (no error: a failed write just leaves no file).
function H.write(path, bytes)
  local f = io.open(path, "wb")
  if f then
    f:write(bytes)
    f:close()
  end
  return path
end

--- The bytes of a file, or "" when it cannot be read.
function H.read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a") or ""
  f:close()
  return s
end

local function le64(n)
  local out = {}
  for i = 1, 8 do
    out[i] = string.char(n % 256)
    n = n // 256
  end
  return table.concat(out)
end

--- A safetensors file from a JSON header text and data bytes.
function H.safetensors(path, header, data)
  return H.write(path, le64(#header) .. header .. (data or ""))
end

--- bytes with a deterministic mutation (selected by k): a flipped byte, a cut, a
-- duplicated block, a changed length prefix.
function H.mutate(bytes, k)
  local n = #bytes
  if n == 0 then return "x" end
  local at = k % n + 1
  local op = k % 5
  if op == 0 then
    return bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1 + k % 255) % 256) .. bytes:sub(at + 1)
  elseif op == 1 then
    return bytes:sub(1, at)
  elseif op == 2 then
    return bytes:sub(1, at) .. bytes:sub(at, math.min(n, at + 64)) .. bytes:sub(at + 1)
  elseif op == 3 then
    return le64(k * 7919 % 1000003) .. bytes:sub(9)
  end
  return bytes:sub(1, 8) .. bytes:sub(9):gsub('"(%d+)"', '"' .. (k * 104729) .. '"', 1)
end

return H
