-- The cells' sigmoid and tanh are vectorisable polynomial approximations; they must stay
-- within a few ulp of the exact values (computed in double precision) over the float range.
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
  for _, case in ipairs{{"tanh", exact_tanh, 4}, {"sigmoid", exact_sigmoid, 4}} do
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
  end

  it("saturate to exact limits without NaN", function()
    local big = recur.tensor{1e30, -1e30, 1e4, -1e4, 89, -89, 0 / 0}
    local t, s = big:tanh(), big:sigmoid()
    assert.are.same({1, -1, 1, -1, 1, -1}, {t[1], t[2], t[3], t[4], t[5], t[6]})
    assert.are.same({1, 0, 1, 0}, {s[1], s[2] < 1e-37 and 0 or s[2], s[3], s[4] < 1e-37 and 0 or s[4]})
    assert.is_true(t[7] ~= t[7] and s[7] ~= s[7]) -- NaN in, NaN out
  end)
end)
