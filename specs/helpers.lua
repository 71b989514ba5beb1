-- Shared helpers for recur's specs.
local recur = require "recur"

local helpers = {}

--- The command of the Lua interpreter running the specs (busted's --lua), for child processes.
function helpers.interpreter()
  local v = jit and "luajit" or ({["Lua 5.1"] = "lua5.1", ["Lua 5.3"] = "lua5.3"})[_VERSION] or "lua5.4"
  return v
end

--- os.execute as a boolean: true when the command exited with status 0.
helpers.execute = require("specs.shell").execute

--- A fixture tensor {shape = ..., data = ...} as a recur.Tensor.
function helpers.tensor_of(spec)
  return recur.tensor(spec.data):view(spec.shape)
end

--- Loads specs/fixtures/<dir>/<name>.lua.
function helpers.fixture(dir, name)
  return dofile("specs/fixtures/" .. dir .. "/" .. name .. ".lua")
end

--- Largest |a - b| over the elements, divided by max(1, largest |b|).
function helpers.relative_error(a, b)
  local da, db = a:reshape{-1}, b:reshape{-1}
  assert(da:numel() == db:numel(), "element counts differ")
  local worst, scale = 0, 1
  for i = 1, db:numel() do
    worst = math.max(worst, math.abs(da[i] - db[i]))
    scale = math.max(scale, math.abs(db[i]))
  end
  return worst / scale
end

--- Asserts shape equality and relative_error(actual, expected) <= tol.
function helpers.assert_close(actual, expected, tol, what)
  local es, as = table.concat(expected:shape(), "x"), table.concat(actual:shape(), "x")
  if es ~= as then error(string.format("%s: shape %s, expected %s", what or "tensor", as, es), 2) end
  local err = helpers.relative_error(actual, expected)
  if not (err <= tol) then -- luacheck: ignore 581 (NaN must fail)
    error(string.format("%s: relative error %.3g exceeds %.3g", what or "tensor", err, tol), 2)
  end
end

--- Whether two tensors hold the same floats, bit for bit (element by element, shapes aside).
function helpers.same_bits(a, b)
  local x, y = a:reshape{-1}, b:reshape{-1}
  if x:numel() ~= y:numel() then return false end
  for k = 1, x:numel() do
    if x[k] ~= y[k] then return false end
  end
  return true
end

--- floor(log2(x)) for x > 0, without math.frexp (gone from 5.3 on)
function helpers.exponent(x)
  local e = math.floor(math.log(x) / math.log(2))
  while 2 ^ e > x do e = e - 1 end
  while 2 ^ (e + 1) <= x do e = e + 1 end
  return e
end

-- little-endian bytes of a non-negative integer below 2^53
local function le_bytes(v, n)
  local out = {}
  for i = 1, n do
    out[i] = string.char(v % 256)
    v = math.floor(v / 256)
  end
  return table.concat(out)
end

--- Little-endian unsigned integers of 2 and 8 bytes (string.pack exists only from 5.3 on).
function helpers.u16(...)
  local out = {}
  for i, v in ipairs{...} do out[i] = le_bytes(v, 2) end
  return table.concat(out)
end
function helpers.u64(v) return le_bytes(v, 8) end

--- The bits of x as an IEEE 754 single (round to nearest; normal, subnormal, zero, inf, NaN).
function helpers.f32_bits(x)
  if x ~= x then return 0x7FC00000 end
  local sign = (x < 0 or 1 / x < 0) and 0x80000000 or 0
  x = math.abs(x)
  if x == 0 then return sign end
  if x >= 2 ^ 128 then return sign + 0x7F800000 end
  local e = math.max(helpers.exponent(x), -126)
  local mant = math.floor(x / 2 ^ (e - 23) + 0.5) -- 24 bits with the leading one when normal
  if mant >= 2 ^ 24 then mant, e = mant / 2, e + 1 end
  if mant < 2 ^ 23 then return sign + mant end -- subnormal
  return sign + (e + 127) * 2 ^ 23 + (mant - 2 ^ 23)
end

--- Little-endian float32 bytes of the arguments.
function helpers.f32(...)
  local out = {}
  for i, v in ipairs{...} do out[i] = le_bytes(helpers.f32_bits(v), 4) end
  return table.concat(out)
end

--- Central finite differences of f() with respect to every element of t (changed in place
-- and restored), against the analytic gradient: returns the largest difference divided by
-- max(1, largest analytic value).
function helpers.finite_difference_error(t, analytic, f, eps)
  local flat, g, worst, scale = t:view{-1}, analytic:view{-1}, 0, 1
  for i = 1, flat:numel() do
    local v = flat[i]
    flat[i] = v + eps
    local up = f()
    flat[i] = v - eps
    local down = f()
    flat[i] = v
    worst = math.max(worst, math.abs((up - down) / (2 * eps) - g[i]))
    scale = math.max(scale, math.abs(g[i]))
  end
  return worst / scale
end

--- Runs fn and returns the error message it raises (fails if it does not raise).
function helpers.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, got none")
  return tostring(err)
end

--- The error fn raises when called from a Lua function of this file (not as a tail call), so
-- that an error raised at the caller's level carries "helpers.lua:<line>:".
function helpers.error_at_caller(fn, ...)
  local args = {n = select("#", ...), ...}
  local ok, err = pcall(function()
    local result = fn((table.unpack or unpack)(args, 1, args.n))
    return result
  end)
  assert(not ok, "expected an error, got none")
  return tostring(err)
end

return helpers
