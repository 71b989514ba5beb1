-- Regressions of the Lua-API fuzzing campaign (issue 13): each `describe` is one class of
-- defect, with the calls that crashed, corrupted memory, hung or raised internal errors.
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

local big = 2 ^ 62 -- a float on every Lua version; an integer shape entry on 5.3+
local maxinteger = math.maxinteger or 2 ^ 53
local mininteger = math.mininteger or -2 ^ 53

describe("checked size and index arithmetic", function()
  it("view and reshape reject shapes whose product overflows", function()
    local t = recur.zeros{4}
    assert.matches("does not fit a tensor of 4 elements", error_of(t.view, t, {big + 4, 4}))
    assert.matches("does not fit a tensor of 0 elements", error_of(recur.zeros{0}.view, recur.zeros{0}, {2 ^ 32, 2 ^ 32}))
    assert.matches("does not fit", error_of(t.reshape, t, {2 ^ 40, 0, 2 ^ 40}))
    assert.matches("does not fit", error_of(recur.zeros{0}.view, recur.zeros{0}, {-1, 0}))
    assert.are.same({0, 5}, recur.zeros{0, 5}:view{-1, 5}:shape())
  end)

  it("every tensor keeps each size and the product of its non-zero sizes within 2^40", function()
    assert.matches("too many elements", error_of(recur.zeros, {3, 0, 2 ^ 40}))
    assert.matches("too many elements", error_of(recur.zeros, {2 ^ 41, 0}))
    local empty = recur.zeros{0, 2 ^ 40}
    assert.are.same({0}, empty:select(2, 2 ^ 40):shape())
    assert.are.same({0, 1}, empty:narrow(2, 2 ^ 40, 1):shape())
  end)

  it("narrow checks start + length without overflow", function()
    local t = recur.zeros{4}
    assert.matches("length: expected an integer in 0..3, got", error_of(t.narrow, t, 1, 2, maxinteger))
    assert.matches("length: expected an integer in 0..3", error_of(t.narrow, t, 1, 2, 2 ^ 63))
    assert.are.same({0}, t:narrow(1, 4, 0):shape())
  end)

  it("indices are checked in range for get, set, select and t[i]", function()
    local t = recur.zeros{2, 3}
    assert.matches("index for dim 1: expected an integer in 1..2", error_of(t.get, t, 2 ^ 31, 1))
    assert.matches("index for dim 2: expected an integer in 1..3", error_of(t.set, t, 1, mininteger, 0))
    assert.matches("index: expected an integer in 1..2, got %-?nan", error_of(function() return t[0 / 0] end):lower())
    assert.matches("the dimension is empty", error_of(function() return recur.zeros{0}[1] end))
  end)

  it("random chains of views, selects and narrows stay in bounds", function()
    local g = recur.Generator(11)
    for _ = 1, 300 do
      local t = recur.rand({4, 3, 2}, g)
      for _ = 1, 4 do
        local d = g:random(t:dim())
        local size = t:size(d)
        if size == 0 then break end
        local pick = g:random(3)
        if pick == 1 then
          local start = g:random(size)
          t = t:narrow(d, start, g:random(0, size - start + 1))
        elseif pick == 2 and t:dim() > 1 then
          t = t:select(d, g:random(size))
        else
          t = t:view{-1}
        end
      end
      assert.are.equal(t:numel(), #t:view{-1}:totable())
    end
  end)
end)

describe("Generator:random over any range", function()
  it("draws over the whole integer range without overflow or a division by zero", function()
    local g = recur.Generator(5)
    for _ = 1, 50 do
      assert.is_true(math.type == nil or math.type(g:random(mininteger, maxinteger)) == "integer")
      local r = g:random(mininteger, -1)
      assert.is_true(r < 0)
      r = g:random(maxinteger - 1, maxinteger)
      assert.is_true(r >= maxinteger - 1)
    end
    assert.are.equal(7, g:random(7, 7))
    assert.matches("n: expected an integer >= 5, got 4", error_of(g.random, g, 5, 4))
    assert.matches("n: expected a positive integer, got 0", error_of(g.random, g, 0))
  end)
end)

describe("losses", function()
  local x = recur.tensor{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}}

  it("CrossEntropyLoss's ignore_index is a 1-based class id, as every index", function()
    -- PyTorch: CrossEntropyLoss(ignore_index=1)(x, [1, 2, 0]) = 1.4076 over 2 targets
    local ce = recur.CrossEntropyLoss{ignore_index = 2}
    assert.is_true(math.abs(ce:forward(x, {2, 3, 1}) - 1.4076059644) < 1e-6)
    assert.are.equal(2, ce.counted)
    assert.are.same({0, 0, 0}, ce:backward()[1]:totable())
    for _, ignore in ipairs{0, -100} do -- no class: nothing is dropped
      ce = recur.CrossEntropyLoss{ignore_index = ignore}
      assert.is_true(math.abs(ce:forward(x, {2, 3, 1}) - 1.4076059644) < 1e-6)
      assert.are.equal(3, ce.counted)
    end
    ce = recur.CrossEntropyLoss{ignore_index = 1}
    ce:forward(x, {1, 1, 3})
    assert.are.equal(1, ce.counted)
    assert.matches("target%[1%]: expected an integer in 1..3, got 0", error_of(ce.forward, ce, x, {0, 1, 1}))
  end)

  it("SmoothL1Loss with beta = 0 is the L1 loss, as in PyTorch", function()
    local a, b = recur.tensor{1, 2, 3, -4}, recur.tensor{0, 2, 5, 1}
    local smooth, l1 = recur.SmoothL1Loss{beta = 0}, recur.L1Loss()
    assert.are.equal(l1:forward(a, b), smooth:forward(a, b))
    assert.are.same(l1:backward():totable(), smooth:backward():totable())
    assert.matches("beta", error_of(recur.SmoothL1Loss, {beta = -1}))
  end)
end)
