-- The checked argument readers (src/lua/args.c): raw lengths, overflow-checked sizes,
-- integers from tensors and arrays.
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

local function lying_length(n, contents)
  return setmetatable(contents or {}, {__len = function() return n end, __index = function() return 1 end})
end

describe("checked argument reading", function()
  it("reads the raw length of arrays: __len and __index are not trusted", function()
    assert.matches("shape: expected 1 to 8 sizes, got 0", error_of(recur.zeros, lying_length(2 ^ 62)))
    assert.are.same({2, 3}, recur.zeros(lying_length(2 ^ 62, {2, 3})):shape())
  end)

  it("checks the product of a shape for overflow", function()
    assert.matches("too many elements", error_of(recur.zeros, {2 ^ 62, 2 ^ 62, 16}))
    assert.matches("too many elements", error_of(recur.zeros, {2 ^ 53, 2 ^ 53}))
  end)

  it("accepts integral floats and rejects fractions, NaN, infinities and huge values", function()
    assert.are.same({2}, recur.zeros{2.0}:shape())
    assert.matches("shape%[1%]: expected a non%-negative integer, got %-?nan", error_of(recur.zeros, {0 / 0}):lower())
    assert.matches("shape%[1%]: expected a non%-negative integer, got inf", error_of(recur.zeros, {math.huge}))
    assert.matches("shape%[1%]: expected a non%-negative integer, got 1e%+30", error_of(recur.zeros, {1e30}))
    local lstm = recur.LSTM{input_size = 1, hidden_size = 2}
    local x = recur.zeros{3, 2, 1}
    assert.matches("lengths%[2%]: expected an integer in 1..3, got 4",
      error_of(lstm.forward, lstm, x, nil, nil, {lengths = {3, 4}}))
    assert.matches("lengths%[1%]: expected an integer in 1..3, got 2.5",
      error_of(lstm.forward, lstm, x, nil, nil, {lengths = recur.tensor{2.5, 1}}))
  end)
end)
