-- Times recur's RNN/GRU/LSTM forward and forward+backward over a grid of shapes and
-- writes CSV (cell,threads,T,B,H,mode,ms,gflops) to stdout. The thread count comes from
-- the first argument (it sets OpenBLAS's); `bench/compare.sh` runs it for 1 and 2.
--
--   lua5.4 bench/layers.lua 1 [quick] > recur-1.csv

local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("RECUR_CPATH") or (root .. "?.so")) .. ";" .. package.cpath -- RECUR_CPATH: another build
local recur = require "recur"
local grid = dofile(root .. "bench/grid.lua")

local threads = tonumber(arg[1]) or 1
recur.set_num_threads(threads)
local quick = arg[2] == "quick"

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- runs fn until at least `budget` seconds or `max` repeats after a warm-up; returns the median ms
local function time(fn, budget)
  fn()
  local runs, spent = {}, 0
  while #runs < 3 or (spent < budget and #runs < 15) do
    local t0 = recur.monotonic()
    fn()
    local dt = recur.monotonic() - t0
    runs[#runs + 1], spent = dt * 1000, spent + dt
  end
  return median(runs)
end

io.write("cell,threads,T,B,H,mode,ms,gflops\n")
for _, c in ipairs(grid.configs(quick)) do
  local layer = recur[c.cell]{input_size = c.H, hidden_size = c.H}
  layer:evaluate()
  local x = recur.randn{c.T, c.B, c.H}
  local gy = recur.randn{c.T, c.B, c.H}
  local budget = tonumber(os.getenv("BENCH_BUDGET")) or (quick and 0.2 or 0.5)
  local fwd = time(function() layer:forward(x) end, budget)
  local both = time(function()
    layer:forward(x)
    layer:backward(gy)
  end, budget)
  local flops = grid.flops(c)
  io.write(string.format("%s,%d,%d,%d,%d,forward,%.4f,%.2f\n", c.cell, threads, c.T, c.B, c.H, fwd,
    flops.forward / fwd / 1e6))
  io.write(string.format("%s,%d,%d,%d,%d,forward+backward,%.4f,%.2f\n", c.cell, threads, c.T, c.B, c.H, both,
    (flops.forward + flops.backward) / both / 1e6))
  io.flush()
end
