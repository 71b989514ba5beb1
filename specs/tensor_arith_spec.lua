-- Arithmetic operators on tensors: + - * / and unary minus, returning new tensors.
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

describe("tensor arithmetic operators", function()
  local a = recur.tensor{{1, 2}, {3, 4}}
  local b = recur.tensor{{10, 20}, {30, 40}}

  it("combine tensors of the same shape element by element, into a new tensor", function()
    assert.are.same({{11, 22}, {33, 44}}, (a + b):totable())
    assert.are.same({{9, 18}, {27, 36}}, (b - a):totable())
    assert.are.same({{10, 40}, {90, 160}}, (a * b):totable())
    assert.are.same({{10, 10}, {10, 10}}, (b / a):totable())
    assert.are.same({{-1, -2}, {-3, -4}}, (-a):totable())
    assert.are.same({{1, 2}, {3, 4}}, a:totable()) -- operands unchanged
    local c = a + b
    c:fill(0)
    assert.are.same({{1, 2}, {3, 4}}, a:totable()) -- the result shares nothing
  end)

  it("take a number on either side", function()
    assert.are.same({{2, 3}, {4, 5}}, (a + 1):totable())
    assert.are.same({{2, 3}, {4, 5}}, (1 + a):totable())
    assert.are.same({{0, 1}, {2, 3}}, (a - 1):totable())
    assert.are.same({{9, 8}, {7, 6}}, (10 - a):totable())
    assert.are.same({{2, 4}, {6, 8}}, (2 * a):totable())
    assert.are.same({{0.5, 1}, {1.5, 2}}, (a / 2):totable())
    assert.are.same({{12, 6}, {4, 3}}, (12 / a):totable())
    assert.are.same({{-1, -1}, {-1, -1}}, (-(a * 2 - a) / a):totable())
  end)

  it("raise clear errors for anything else", function()
    assert.matches("cannot add tensors of shapes %(2, 2%) and %(4%) %(operators need equal shapes%)",
      error_of(function() return a + recur.zeros{4} end))
    assert.matches("cannot multiply a recur.Tensor and a string %(expected a tensor of the same shape or a number%)",
      error_of(function() return a * "2" end))
    assert.matches("cannot subtract a recur.Tensor and a table", error_of(function() return {} - a end))
    assert.matches("cannot divide a recur.Tensor and a boolean", error_of(function() return a / true end))
    assert.matches("supports %+ %- %* / and unary %-.-%% is not supported", error_of(function() return a % 2 end))
    assert.matches("%^ is not supported", error_of(function() return a ^ 2 end))
    assert.matches("^.-tensor_arith_spec.lua:%d+: cannot add", error_of(function() return a + recur.zeros{4} end))
  end)

  it("leave the in-place methods in place", function()
    local t = recur.tensor{1, 2}
    assert.are.equal(t, t:add_(1))
    assert.are.same({2, 3}, t:totable())
  end)
end)
