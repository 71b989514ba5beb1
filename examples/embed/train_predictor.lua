-- Trains the small next-move predictor that examples/embed/host.c loads, on the patrol
-- route RRDDLLUU with 10% random moves, and saves it as predictor.safetensors.
--   lua5.4 examples/embed/train_predictor.lua [--seed N]
local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"
local cli = dofile(root .. "examples/common/cli.lua")

local args = cli.parse_args(arg, {seed = 1}, "usage: lua5.4 examples/embed/train_predictor.lua [--seed N]")
recur.manual_seed(args.seed)
local gen = recur.Generator(args.seed)
local route, ids = "RRDDLLUU", {R = 1, D = 2, L = 3, U = 4}
local moves = {}
for i = 1, 4000 do
  local c = route:sub((i - 1) % 8 + 1, (i - 1) % 8 + 1)
  moves[i] = gen:uniform() < 0.1 and gen:random(5) or ids[c]
end
local model = {gru = recur.GRU{input_size = 5, hidden_size = 16}, head = recur.Linear{in_features = 16, out_features = 5}}
local opt = recur.optim.Adam{model, lr = 0.01}
local ce = recur.CrossEntropyLoss()
local T, B = 32, 16
for step = 1, 300 do
  local x, y = recur.zeros{T, B, 5}, recur.zeros{T, B}
  for b = 1, B do
    local s = gen:random(#moves - T - 1)
    for t = 1, T do
      x:set(t, b, moves[s + t - 1], 1)
      y:set(t, b, moves[s + t])
    end
  end
  opt:zero_grad()
  local loss = ce:forward(model.head:forward(model.gru:forward(x)), y)
  model.gru:backward(model.head:backward(ce:backward()))
  opt:step()
  if step % 100 == 0 then print(string.format("step %d loss %.3f", step, loss)) end
end
recur.save(root .. "examples/embed/predictor.safetensors", model, {moves = "RDLU."})
print("saved examples/embed/predictor.safetensors")
