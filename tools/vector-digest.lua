-- Prints one line: a digest of the exact floats recur's pointwise kernels produce, so that
-- builds for different instruction-set levels can be compared bit for bit (`make test-isa`
-- runs it on each level's build and on the dispatching one: the lines must be equal).
-- Covers the tensors' sigmoid and tanh over the float range, and every cell type's layer
-- forward and backward (outputs, final states, input and parameter gradients).
--   LUA_CPATH=build/isa/x86-64/?.so lua5.4 tools/vector-digest.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local recur = require "recur"

local hash, count = 2166136261, 0
-- FNV-1a over the bytes of each float of t
local function feed(t)
  local flat = t:reshape{-1}
  for i = 1, flat:numel() do
    for byte in string.pack("<f", flat[i]):gmatch(".") do hash = ((hash ~ byte:byte()) * 16777619) & 0xffffffff end
  end
  count = count + flat:numel()
end

local xs = {}
for k = 0, 20000 do
  local v = 10 ^ (-30 + 32 * k / 20000)
  xs[#xs + 1], xs[#xs + 2] = v, -v
end
local args = recur.tensor(xs)
feed(args:sigmoid())
feed(args:tanh())

local T, B, I, H = 5, 3, 7, 33 -- H not a multiple of any vector width: the scalar tails run too
for _, spec in ipairs{
  {"RNN", {nonlinearity = "tanh"}}, {"RNN", {nonlinearity = "relu"}}, {"GRU", {}}, {"GRU", {layer_norm = true}},
  {"LSTM", {}}, {"LSTM", {peephole = true}}, {"LSTM", {layer_norm = true}},
  {"LSTM", {layer_norm = true, peephole = true}},
} do
  local opts = {input_size = I, hidden_size = H, generator = recur.Generator(7)}
  for k, v in pairs(spec[2]) do opts[k] = v end
  local layer = recur[spec[1]](opts)
  local gen = recur.Generator(11)
  local x, gy = recur.randn({T, B, I}, gen), recur.randn({T, B, H}, gen)
  local y, hn, cn = layer:forward(x)
  local dx = layer:backward(gy)
  for _, t in ipairs{y, hn, cn or hn, dx, layer:flat_gradients()} do feed(t) end
end
print(string.format("%08x over %d floats", hash, count))
