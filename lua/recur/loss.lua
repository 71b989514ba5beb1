--- Criterions: `c:forward(input, target)` returns the loss as a number and
-- `c:backward()` the gradient of that loss with respect to input. The work (and the
-- gradient) is done in one C pass during forward.
-- @module recur.loss
local core = require "recur.core"
local util = require "recur.util"

local F = core.F
local loss = {}

local Criterion = util.class("recur.Criterion")

--- The gradient of the last `forward`'s loss with respect to its input (one backward
-- per forward).
-- @treturn Tensor the input's shape
function Criterion:backward()
  if not self._grad then util.error("%s:backward: no forward to differentiate (call forward first)", self.__name) end
  local g = self._grad
  self._grad = nil
  return g
end

local REDUCTIONS = {"mean", "sum"}

--- CrossEntropyLoss
-- @section CrossEntropyLoss

local CrossEntropy = util.class("recur.CrossEntropyLoss", Criterion)

--- Softmax cross-entropy of logits against class indices, averaged over every
-- position whose target is not `ignore_index`. input: `(..., C)` (classes in the last
-- dimension, unlike PyTorch's `(N, C, ...)`); target: integers 1..C of shape `(...)`,
-- a tensor or a Lua array. Options: `ignore_index` (-100: no class; a class id 1..C drops
-- the targets of that class), `reduction` ("mean" or "sum").
-- A mean over no counted target is NaN, as in PyTorch.
-- @tparam[opt] table opts
function loss.CrossEntropyLoss(opts)
  local o = util.options("CrossEntropyLoss", opts or {}, {
    ignore_index = {"integer", default = -100},
    reduction = {"string", default = "mean", one_of = REDUCTIONS},
  })
  return setmetatable(o, CrossEntropy)
end

--- The loss of logits `input` `(..., C)` against class ids `target` `(...)`.
-- @tparam Tensor input
-- @tparam Tensor|table target integers 1..C (a tensor or a Lua array)
-- @treturn number
function CrossEntropy:forward(input, target)
  if type(target) == "table" and type(rawget(target, 1)) == "table" then
    target = util.call("CrossEntropyLoss:forward", core.tensor, target)
  end
  local value, grad, counted = util.call("CrossEntropyLoss:forward", F.cross_entropy, input, target, self.ignore_index,
    self.reduction, true)
  self._grad, self.counted = grad, counted
  return value
end

--- Regression losses
-- @section regression

local Regression = util.class("recur.RegressionLoss", Criterion)

local function regression(name, kind, with_beta)
  return function(opts)
    local spec = {reduction = {"string", default = "mean", one_of = REDUCTIONS}}
    if with_beta then spec.beta = {"number", default = 1.0, min = 0} end
    local o = util.options(name, opts or {}, spec)
    o.kind, o.__name = kind, "recur." .. name
    return setmetatable(o, Regression)
  end
end

--- The loss of `input` against `target` (MSELoss, L1Loss, SmoothL1Loss).
-- @tparam Tensor input
-- @tparam Tensor target input's shape
-- @treturn number
function Regression:forward(input, target)
  local value, grad = util.call(self.__name:gsub("^recur%.", "") .. ":forward", F.regression_loss, self.kind, input,
    target, self.reduction, self.beta, true)
  self._grad = grad
  return value
end

--- Mean squared error. Options: `reduction` ("mean" or "sum").
loss.MSELoss = regression("MSELoss", "mse")
--- Mean absolute error. Options: `reduction`.
loss.L1Loss = regression("L1Loss", "l1")
--- Huber-style loss: 0.5 d^2 / beta below beta, |d| - 0.5 beta above; with beta = 0 the L1
-- loss, as in PyTorch. Options: `reduction`, `beta` (1).
loss.SmoothL1Loss = regression("SmoothL1Loss", "smooth_l1", true)

return loss
