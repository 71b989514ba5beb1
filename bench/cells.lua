-- The cost of each cell variant against its plain cell: forward + backward at B = 16,
-- H = 256 (input 256, T = 50 unless given), in training mode, one process, the two sides
-- interleaved (A B, then B A, ...), each round's time the median of REPS runs. Prints the
-- median ratio variant / plain over the rounds with its min-max, and the machine's state.
-- clock "cpu" times with the process's CPU time (os.clock) instead of the wall clock: with
-- one thread it is the figure a shared, loaded machine does not distort by preemption.
--
--   lua5.4 bench/cells.lua [threads] [rounds] [T] [wall|cpu]

local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("RECUR_CPATH") or (root .. "?.so")) .. ";" .. package.cpath
local recur = require "recur"

local threads, rounds, T = tonumber(arg[1]) or 1, tonumber(arg[2]) or 9, tonumber(arg[3]) or 50
local clock = arg[4] == "cpu" and os.clock or recur.monotonic
local B, H, REPS = 16, 256, 3
recur.set_num_threads(threads)

-- variant name, family, options beyond the sizes
local VARIANTS = {
  {"GRU layer_norm", "GRU", {layer_norm = true}},
  {"LSTM layer_norm", "LSTM", {layer_norm = true}},
  {"LSTM peephole", "LSTM", {peephole = true}},
  {"LSTM layer_norm + peephole", "LSTM", {layer_norm = true, peephole = true}},
  {"RNN input + recurrent dropout", "RNN", {input_dropout = 0.25, recurrent_dropout = 0.25}},
  {"GRU input + recurrent dropout", "GRU", {input_dropout = 0.25, recurrent_dropout = 0.25}},
  {"LSTM input + recurrent dropout", "LSTM", {input_dropout = 0.25, recurrent_dropout = 0.25}},
}

local function median(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  return s[math.floor((#s + 1) / 2)]
end

local function layer(family, extra)
  local opts = {input_size = H, hidden_size = H, generator = recur.Generator(1)}
  for k, v in pairs(extra or {}) do opts[k] = v end
  return recur[family](opts)
end

-- median ms of REPS forward + backward runs
local function time(l, x, gy)
  local runs = {}
  for i = 1, REPS do
    local t0 = clock()
    l:forward(x)
    l:backward(gy)
    runs[i] = (clock() - t0) * 1000
  end
  return median(runs)
end

local function load_average()
  local f = io.open("/proc/loadavg")
  if not f then return "unknown" end
  local s = f:read("*l")
  f:close()
  return s:match("^(%S+ %S+ %S+)")
end

local cfg = recur.config()
print(string.format("recur %s, %s (core %s), %d thread(s), load average %s", cfg.version, cfg.blas,
  cfg.blas_corename, recur.get_num_threads(), load_average()))
print(string.format("forward + backward, T=%d B=%d H=%d input=%d, training mode, %d rounds of %d runs, %s time", T,
  B, H, H, rounds, REPS, clock == os.clock and "CPU" or "wall"))
print(string.format("%-32s %10s %10s %8s %17s", "variant", "plain ms", "variant ms", "ratio", "min-max"))
local x, gy = recur.randn({T, B, H}, recur.Generator(2)), recur.randn({T, B, H}, recur.Generator(3))
local worst = 0
for _, v in ipairs(VARIANTS) do
  local plain, variant = layer(v[2]), layer(v[2], v[3])
  time(plain, x, gy) -- warm-up: workspaces, caches
  time(variant, x, gy)
  local ratios, ta, tb = {}, {}, {}
  for r = 1, rounds do
    local a, b
    if r % 2 == 1 then
      a = time(plain, x, gy)
      b = time(variant, x, gy)
    else
      b = time(variant, x, gy)
      a = time(plain, x, gy)
    end
    ratios[r], ta[r], tb[r] = b / a, a, b
  end
  table.sort(ratios)
  local m = median(ratios)
  worst = math.max(worst, m)
  print(string.format("%-32s %10.2f %10.2f %7.3fx %8.3f-%.3f", v[1], median(ta), median(tb), m, ratios[1],
    ratios[#ratios]))
  io.flush()
end
print(string.format("worst median ratio %.3f (target 1.3); load average now %s", worst, load_average()))
