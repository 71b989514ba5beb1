-- The vectorised pointwise kernels against a base build (main's code), interleaved:
--  1. each kernel alone (bench/kernels.c) in the base build, in this tree's build with
--     the run-time dispatch, and in this tree compiled for one level each (x86-64,
--     x86-64-v3, x86-64-v4, those the CPU has);
--  2. LSTM and GRU layers, forward and forward+backward (T=50, B=64, I=H=256), and
--     the stepper's single step at B=1, H=32, base against dispatch.
-- One persistent worker process per build and kind; every round asks each worker once
-- per case, in an order reversed from one round to the next; each round's speed-up is
-- base time / build time, reported as the median [min-max] over the rounds.
-- bench/kernels.sh builds everything and runs this:
--   lua5.4 bench/kernels.lua OUTDIR [ROUNDS]
--   lua5.4 bench/kernels.lua --worker ROOT    (a layer worker on ROOT's build)

local function median(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  return s[(#s + 1) // 2], s[1], s[#s]
end

local layer_shape = {T = 50, B = 64, H = 256}
local step_H = 32

-- the layer worker: answers each case name with its median milliseconds
local function worker(root)
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. "/?.so;" .. package.cpath
  local recur = require "recur"
  recur.set_num_threads(1)
  local budget = tonumber(os.getenv("KERNELS_BUDGET")) or 0.1
  local layers, steppers = {}, {}
  local s = layer_shape
  local x, gy = recur.randn{s.T, s.B, s.H}, recur.randn{s.T, s.B, s.H}
  local step_x = recur.randn{step_H}
  local cases = {}
  for _, cell in ipairs{"LSTM", "GRU", "RNN"} do
    layers[cell] = recur[cell]{input_size = s.H, hidden_size = s.H}
    layers[cell]:evaluate()
    steppers[cell] = recur[cell]{input_size = step_H, hidden_size = step_H}:stepper(1)
    cases[cell .. " forward"] = function() layers[cell]:forward(x) end
    cases[cell .. " forward+backward"] = function()
      layers[cell]:forward(x)
      layers[cell]:backward(gy)
    end
    cases[cell .. " step"] = function()
      for _ = 1, 1000 do steppers[cell]:step(step_x) end
    end
  end
  for line in io.lines() do
    local fn = assert(cases[line], "unknown case " .. line)
    fn()
    local runs, spent = {}, 0
    while #runs < 3 or (spent < budget and #runs < 31) do
      local t0 = recur.monotonic()
      fn()
      local dt = recur.monotonic() - t0
      runs[#runs + 1], spent = dt * 1e3, spent + dt
    end
    io.write(string.format("%.6f\n", (median(runs))))
    io.flush()
  end
end

if arg[1] == "--worker" then return worker(arg[2]) end

local out, rounds = assert(arg[1], "usage: lua5.4 bench/kernels.lua OUTDIR [ROUNDS]"), tonumber(arg[2]) or 9
local root = arg[0]:match("^(.*)bench/") or ""
if root == "" then root = "./" end
local lua = arg[-1] or "lua5.4"

-- a persistent worker: its stdin and stdout are named pipes
local spawned = 0
local function spawn(cmd)
  spawned = spawned + 1
  local cmd_pipe, answer_pipe = out .. "/cmd" .. spawned, out .. "/answer" .. spawned
  os.remove(cmd_pipe)
  os.remove(answer_pipe)
  assert(os.execute("mkfifo " .. cmd_pipe .. " " .. answer_pipe))
  assert(os.execute("OPENBLAS_NUM_THREADS=1 " .. cmd .. " < " .. cmd_pipe .. " > " .. answer_pipe .. " &"))
  local w = assert(io.open(cmd_pipe, "w"))
  local r = assert(io.open(answer_pipe, "r"))
  return {
    ask = function(case)
      w:write(case, "\n")
      w:flush()
      local line = r:read("l")
      return assert(tonumber(line), "worker `" .. cmd .. "` failed on " .. case)
    end,
    close = function()
      w:close()
      r:close()
      os.remove(cmd_pipe)
      os.remove(answer_pipe)
    end,
  }
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

-- runs `cases` on the workers, rounds times, interleaved; prints a table
local function compare(title, unit, scale, builds, workers, cases)
  local times = {}
  for _, case in ipairs(cases) do
    times[case] = {}
    for _, b in ipairs(builds) do times[case][b] = {} end
  end
  for round = 1, rounds do
    for _, case in ipairs(cases) do
      for k = 1, #builds do
        local b = builds[round % 2 == 1 and k or #builds + 1 - k]
        table.insert(times[case][b], workers[b].ask(case) * scale)
      end
    end
  end
  print(title)
  local header = string.format("%-22s %12s", "case", "base " .. unit)
  for i = 2, #builds do header = header .. string.format(" %24s", builds[i]) end
  print(header)
  for _, case in ipairs(cases) do
    local base = times[case].base
    local row = string.format("%-22s %12.2f", case, (median(base)))
    for i = 2, #builds do
      local ratios = {}
      for r = 1, rounds do ratios[r] = base[r] / times[case][builds[i]][r] end
      local m, lo, hi = median(ratios)
      row = row .. string.format(" %24s", string.format("%.2fx [%.2f-%.2f]", m, lo, hi))
    end
    print(row)
  end
  print()
end

package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"
local cfg = recur.config()
local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "unknown"
  if f then f:close() end
  return s
end
print(string.format("OpenBLAS core %s, OPENBLAS_NUM_THREADS=1 (every worker), vector level of the dispatch: %s",
  cfg.blas_corename, cfg.vector_level))
print("load average before: " .. loadavg())
print(string.format("%d rounds; speed-up = base time / build time per round, median [min-max]", rounds))
print()

local kernel_builds, kernel_workers = {}, {}
for _, b in ipairs{"base", "dispatch", "x86-64", "x86-64-v3", "x86-64-v4"} do
  local exe = out .. "/" .. b .. "/kernels"
  if exists(exe) then
    kernel_builds[#kernel_builds + 1] = b
    kernel_workers[b] = spawn(exe)
  end
end
compare("pointwise kernels alone (bench/kernels.c), B=64 H=256; lstm_step: B=1 H=32", "ns", 1, kernel_builds,
  kernel_workers, {"sigmoid", "tanh", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "lstm_step",
    "copy_back"})
for _, w in pairs(kernel_workers) do w.close() end

local layer_builds = {"base", "dispatch"}
local layer_workers = {
  base = spawn(lua .. " " .. root .. "bench/kernels.lua --worker " .. out .. "/base"),
  dispatch = spawn(lua .. " " .. root .. "bench/kernels.lua --worker " .. root),
}
compare(string.format("layers, T=%d B=%d I=H=%d (ms), and 1000 steps at B=1 H=%d (ms)", layer_shape.T,
  layer_shape.B, layer_shape.H, step_H), "ms", 1, layer_builds, layer_workers,
  {"LSTM forward", "LSTM forward+backward", "GRU forward", "GRU forward+backward", "LSTM step", "GRU step",
    "RNN step"})
for _, w in pairs(layer_workers) do w.close() end
print("load average after: " .. loadavg())
