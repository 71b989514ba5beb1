-- recur quickstart: an LSTM learns to predict the next value of a noisy sine wave.
-- Run from the repository root after building:  lua5.4 examples/quickstart.lua [--seed N]
-- Uses only the core API (tensors, LSTM forward/backward, flat parameters), with the
-- loss and a plain SGD step written out by hand.
local recur = require "recur"
local cli = dofile((arg[0]:match("^(.*)examples/") or "./") .. "examples/common/cli.lua")

local opt = cli.parse_args(arg, {seed = 1}, "usage: lua5.4 examples/quickstart.lua [--seed N]")
recur.manual_seed(opt.seed)
local T, B, steps, lr = 40, 16, 300, 0.1

-- proj_size = 1 makes the LSTM's output its own one-number prediction
local lstm = recur.LSTM{input_size = 1, hidden_size = 24, proj_size = 1}
local params, grads = lstm:flat_parameters(), lstm:flat_gradients()
local gen = recur.Generator(opt.seed + 6)

-- a batch of B sine waves with random phases and a little noise: x (T+1, B, 1)
local function batch()
  local x = recur.zeros{T + 1, B, 1}
  for b = 1, B do
    local phase = gen:uniform(0, 2 * math.pi)
    for t = 1, T + 1 do x:set(t, b, 1, math.sin(phase + 0.3 * t) + gen:normal(0, 0.02)) end
  end
  return x:narrow(1, 1, T), x:narrow(1, 2, T) -- inputs, next values
end

-- the mean squared error and its gradient
local function mse(y, target)
  local diff = y:sub(target)
  return diff:mul(diff):mean(), diff:mul(2 / diff:numel())
end

local start = os.clock()
local first
for step = 1, steps do
  local x, target = batch()
  local y = lstm:forward(x)
  local loss, grad = mse(y, target)
  first = first or loss
  lstm:zero_grad()
  lstm:backward(grad)
  params:add_(grads:mul(-lr))
  if step % 50 == 0 or step == 1 then
    print(string.format("step %4d  loss %.5f", step, loss))
  end
end

local x, target = batch()
local last = mse(lstm:evaluate():forward(x), target)
print(string.format("held-out batch: mse %.5f (first training batch: %.5f), %.2f s CPU", last, first, os.clock() - start))
