-- The cells' sigmoid and tanh are vectorisable polynomial approximations; they must stay
-- within a few ulp of the exact values (computed in double precision) over the float range,
-- at every instruction-set level the kernels are compiled for: `make test-isa` runs this
-- file on one build per x86-64 level (RECUR_VECTOR_LEVEL names it) and on the dispatching
-- build.
local recur = require "recur"
local helpers = require "specs.helpers"

local function ulp(v) -- spacing of floats at v
  local a = math.abs(v)
  if a < 2 ^ -126 then return 2 ^ -149 end
  return 2 ^ (helpers.exponent(a) - 23)
end

local function exact_tanh(x)
  if math.abs(x) < 1e-4 then return x - x ^ 3 / 3 end
  if math.abs(x) > 20 then return x > 0 and 1 or -1 end
  local e = math.exp(2 * x)
  return (e - 1) / (e + 1)
end

local function exact_sigmoid(x)
  if x >= 0 then return 1 / (1 + math.exp(-x)) end
  local e = math.exp(x)
  return e / (1 + e)
end

-- arguments from 1e-30 to 100 in magnitude, logarithmically spaced, both signs, and 0
local function arguments()
  local xs = {0}
  for k = 0, 40000 do
    local v = 10 ^ (-30 + 32 * k / 40000)
    xs[#xs + 1], xs[#xs + 2] = v, -v
  end
  return recur.tensor(xs)
end

describe("activations", function()
  local xs = arguments()
  for _, case in ipairs{{"tanh", exact_tanh, 2}, {"sigmoid", exact_sigmoid, 3}} do
    it(case[1] .. " is within " .. case[3] .. " ulp of the exact value", function()
      local ys = xs[case[1]](xs)
      local worst, at = 0, nil
      for i = 1, xs:numel() do
        local x = xs[i]
        local exact = case[2](x)
        local err = math.abs(ys[i] - exact) / ulp(exact)
        if exact ~= 0 and math.abs(exact) < 2 ^ -126 then err = 0 end -- below the normal range
        if err > worst then worst, at = err, x end
      end
      assert(worst <= case[3], string.format("%s: %.2f ulp at x = %.9g", case[1], worst, at or 0))
    end)

    -- a kernel computes most elements in vector lanes and the last few alone: both must
    -- give the same float, so that a result does not depend on its place in a batch
    it(case[1] .. " gives the same value in a vector lane as alone", function()
      local ys = xs[case[1]](xs)
      for i = 1, xs:numel(), 7 do
        local alone = recur.tensor{xs[i]}[case[1]](recur.tensor{xs[i]})[1]
        if alone ~= ys[i] then
          error(string.format("%s(%.9g): %.9g in a vector, %.9g alone", case[1], xs[i], ys[i], alone))
        end
      end
    end)
  end

  it("saturate to exact limits without NaN", function()
    local big = recur.tensor{1e30, -1e30, 1e4, -1e4, 89, -89, 0 / 0, 1 / 0, -1 / 0}
    local t, s = big:tanh(), big:sigmoid()
    assert.are.same({1, -1, 1, -1, 1, -1}, {t[1], t[2], t[3], t[4], t[5], t[6]})
    assert.are.same({1, 0, 1, 0}, {s[1], s[2] < 1e-37 and 0 or s[2], s[3], s[4] < 1e-37 and 0 or s[4]})
    assert.is_true(t[7] ~= t[7] and s[7] ~= s[7]) -- NaN in, NaN out
    assert.are.same({1, -1, 1, 0}, {t[8], t[9], s[8], s[9] < 1e-37 and 0 or s[9]})
  end)

  it("are exact at 0, and tanh keeps the sign of zero", function()
    local zero = 0.0
    local z = recur.tensor{zero, -zero} -- negated at run time: Lua 5.1 folds the constant -0.0 to 0
    local t, s = z:tanh(), z:sigmoid()
    assert.are.same({0, 0.5, 0.5}, {t[1], s[1], s[2]})
    assert.are.equal(-math.huge, 1 / t[2])
  end)
end)

describe("vector level", function()
  it("is reported by recur.config()", function()
    local level = recur.config().vector_level
    local known = {["x86-64"] = true, ["x86-64-v3"] = true, ["x86-64-v4"] = true, aarch64 = true, default = true}
    assert.is_true(known[level], tostring(level))
    local expected = os.getenv("RECUR_VECTOR_LEVEL") -- set by `make test-isa`
    if expected then assert.are.equal(expected, level) end
  end)
end)
