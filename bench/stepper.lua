-- Microseconds per stepper:step() from Lua at batch 1 (the per-frame cost in a game).
-- Run from the repository root after `make`:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" lua5.4 bench/stepper.lua
local recur = require "recur"

print(string.format("OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s (corename %s)",
  os.getenv("OPENBLAS_NUM_THREADS") or "unset", os.getenv("OPENBLAS_CORETYPE") or "unset",
  recur.config().blas_corename))

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

for _, cell in ipairs{"RNN", "GRU", "LSTM"} do
  for _, H in ipairs{32, 128, 512} do
    local layer = recur[cell]{input_size = H, hidden_size = H}
    local stepper = layer:stepper(1)
    local x = recur.randn{H}
    local n = math.max(200, math.floor(2e6 / (H * H)))
    for _ = 1, n do stepper:step(x) end -- warm-up
    local runs = {}
    for r = 1, 5 do
      local t0 = os.clock()
      for _ = 1, n do stepper:step(x) end
      runs[r] = (os.clock() - t0) / n * 1e6
    end
    print(string.format("%-5s H=%-4d %8.2f us/step", cell, H, median(runs)))
  end
end
