-- Trains the interop model in recur and saves it for PyTorch:
--   specs/fixtures/interop/recur_model.safetensors (weights) and
--   specs/fixtures/interop/recur_model_io.safetensors (an input and recur's outputs).
-- Then: /usr/bin/python3 tools/safetensors_torch.py check <model> <io> <torch outputs file>
-- Run from the repository root: LUA_PATH="lua/?.lua;lua/?/init.lua;;" lua5.4 tools/make_recur_model.lua
local recur = require "recur"

recur.manual_seed(11)
local net = recur.Sequential{
  {"rnn", recur.LSTM{input_size = 3, hidden_size = 8, num_layers = 2}},
  {"decoder", recur.Linear{in_features = 8, out_features = 2}},
}
local opt = recur.optim.Adam{net, lr = 0.01}
local mse = recur.MSELoss()
for _ = 1, 50 do
  local x = recur.randn{6, 4, 3}
  local target = recur.randn{6, 4, 2}
  opt:zero_grad()
  mse:forward(net:forward(x), target)
  net:backward(mse:backward())
  opt:step()
end
local x = recur.randn{5, 2, 3}
local y = net:forward(x)
recur.save("specs/fixtures/interop/recur_model.safetensors", net, {trained_by = "recur " .. recur._VERSION})
recur.save("specs/fixtures/interop/recur_model_io.safetensors", {x = x, y = y})
print("saved the recur model and its outputs")
