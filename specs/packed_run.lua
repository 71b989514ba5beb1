-- A child of specs/packed_spec.lua: one forward + backward of a recurrent layer in training
-- mode from fixed seeds, its results saved to a safetensors file.
--   lua5.4 specs/packed_run.lua OUT THREADS LAYER T B LENGTHS OPTIONS
-- THREADS 0 leaves the thread settings to the environment; LAYER names a recur constructor; OPTIONS is a Lua table constructor for it; LENGTHS is
-- "-" or comma-separated per-row lengths.
local out, threads, kind, T, B, lengths, options = (table.unpack or unpack)(arg) -- luacheck: ignore 143
local recur = require "recur"
if threads ~= "0" then recur.set_num_threads(tonumber(threads)) end -- "0": as the environment says
recur.manual_seed(7)
local opts = assert((loadstring or load)("return " .. options))() -- luacheck: ignore 143
local layer = recur[kind](opts)
layer:train()
local cfg = layer:config()
local hout = (cfg.proj_size or 0) > 0 and cfg.proj_size or cfg.hidden_size
local gen = recur.Generator(3)
local x = recur.randn({tonumber(T), tonumber(B), cfg.input_size}, gen)
local gy = recur.randn({tonumber(T), tonumber(B), (cfg.bidirectional and 2 or 1) * hout}, gen)
local o
if lengths ~= "-" then
  o = {lengths = {}}
  for n in lengths:gmatch("%d+") do o.lengths[#o.lengths + 1] = tonumber(n) end
end
local y = kind == "LSTM" and layer:forward(x, nil, nil, o) or layer:forward(x, nil, o)
local dx, dh0 = layer:backward(gy)
recur.save(out, {y = y, dx = dx, dh0 = dh0, gradients = layer:flat_gradients()},
           {packed_gemm = recur.config().packed_gemm})
