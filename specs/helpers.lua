-- Shared helpers for recur's specs.
local recur = require "recur"

local helpers = {}

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

--- Runs fn and returns the error message it raises (fails if it does not raise).
function helpers.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, got none")
  return tostring(err)
end

return helpers
