--- Helpers for training loops.
-- @module recur.train
local nn = require "recur.nn"
local util = require "recur.util"

local train = {}

local LossGuard = util.class("recur.train.LossGuard")

--- Stops a run whose loss is not finite or has exploded: `guard:check(loss, step)`
-- raises a clear error when the loss is NaN or infinite, or above `factor` times the
-- best loss seen so far (after `warmup` checks). Options: `factor` (10), `warmup` (10).
function train.LossGuard(opts)
  local o = util.options("LossGuard", opts or {}, {
    factor = {"number", default = 10, min = 1},
    warmup = {"integer", default = 10, min = 0},
  })
  o.best, o.seen = math.huge, 0
  return setmetatable(o, LossGuard)
end

function LossGuard:check(loss, step)
  local where = step and (" at step " .. tostring(step)) or ""
  if loss ~= loss or loss == math.huge or loss == -math.huge then
    error(string.format("training diverged%s: the loss is %s (try a lower learning rate or gradient clipping)",
      where, loss ~= loss and "NaN" or tostring(loss)), 2)
  end
  self.seen = self.seen + 1
  if self.seen > self.warmup and loss > self.factor * self.best then
    error(string.format("training diverged%s: the loss %.4g exploded past %g x the best %.4g (try a lower " ..
      "learning rate or gradient clipping)", where, loss, self.factor, self.best), 2)
  end
  if loss < self.best then self.best = loss end
  return loss
end

--- Raises a clear error when a gradient holds NaN or infinity (after backward, before the
-- optimizer step, so that the parameters stay finite). `params` is what optimizers take.
function train.check_gradients(params, step)
  for i, pair in ipairs(nn.flat_pairs(params)) do
    if not pair[2]:all_finite() then
      error(string.format("training diverged%s: gradient buffer %d holds NaN or infinity (try a lower learning " ..
        "rate or gradient clipping)", step and (" at step " .. tostring(step)) or "", i), 2)
    end
  end
end

--- A timer for progress lines: `timer:rate(items)` is items per second since start;
-- `timer:eta(done, total)` the seconds left.
function train.Timer()
  local start = os.clock()
  local t = {}
  function t.elapsed() return os.clock() - start end
  function t.rate(items) return items / math.max(t.elapsed(), 1e-9) end
  function t.eta(done, total) return done > 0 and t.elapsed() / done * (total - done) or 0 end
  return t
end

return train
