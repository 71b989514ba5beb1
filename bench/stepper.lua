-- Microseconds per stepper:step() from Lua at batch 1 (the per-frame cost in a game),
-- as CSV (cell,threads,H,us_per_step). The thread count is the first argument.
--   lua5.4 bench/stepper.lua 1
local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"

local threads = tonumber(arg[1]) or 1
recur.set_num_threads(threads)

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

print("cell,threads,H,us_per_step")
for _, cell in ipairs{"RNN", "GRU", "LSTM"} do
  for _, H in ipairs{32, 128, 512} do
    local stepper = recur[cell]{input_size = H, hidden_size = H}:stepper(1)
    local x = recur.randn{H}
    local n = math.max(200, 2000000 // (H * H))
    for _ = 1, n do stepper:step(x) end -- warm-up
    local runs = {}
    for r = 1, 7 do
      local t0 = recur.monotonic()
      for _ = 1, n do stepper:step(x) end
      runs[r] = (recur.monotonic() - t0) / n * 1e6
    end
    print(string.format("%s,%d,%d,%.2f", cell, threads, H, median(runs)))
  end
end
