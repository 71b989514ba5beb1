-- The vectorised pointwise kernels against a base build (main's code), interleaved
-- (`make bench-kernels`; bench/kernels.sh builds the sides into OUT first):
--  1. each kernel alone (bench/kernels.c: every cell's forward and backward, the tensors'
--     sigmoid and tanh) in the base build, in this tree's build with the run-time dispatch,
--     and in this tree compiled for one x86-64 level each (the levels the CPU runs);
--  2. LSTM and GRU layers, forward and forward+backward (T=50, B=64, I=H=256), and the
--     stepper's single step at B=1, H=32: base against dispatch (bench/recur_worker.lua on
--     each build).
-- Every side is a long-lived worker speaking bench/run.lua's protocol; per case, every side
-- runs a sample of back-to-back units per round, sides in the order A B C, then C B A;
-- speed-up = base time / side time per round, reported as median [min-max] over the rounds
-- (bench/stats.lua). One thread everywhere.
--
--   lua5.4 bench/kernels.lua OUT [--rounds N] [--sample SECONDS] [--clock wall|cpu]
local root = arg[0]:match("^(.*)bench/kernels%.lua$") or "./"
if root == "" then root = "./" end
package.path = root .. "bench/?.lua;" .. root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local stats = require "stats"
local cases = require "cases"

local usage = "usage: lua5.4 bench/kernels.lua OUT [--rounds N] [--sample SECONDS] [--clock wall|cpu]"
local out = arg[1] or error(usage, 0)
local opt = {rounds = 9, sample = 0.1, clock = "wall"}
for i = 2, #arg, 2 do
  local key = (arg[i] or ""):match("^%-%-(%a+)$")
  if opt[key] == nil or arg[i + 1] == nil then error(usage, 0) end
  opt[key] = tonumber(arg[i + 1]) or arg[i + 1]
end
assert(opt.clock == "wall" or opt.clock == "cpu", usage)

local function shell_quote(s) return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'" end

-- a worker: `command` (with the environment words `env`) reads our pipe and writes a FIFO
local function spawn(env, command)
  local fifo = os.tmpname()
  os.remove(fifo)
  assert(os.execute("mkfifo " .. shell_quote(fifo)), "mkfifo failed")
  local input = assert(io.popen("exec env -u RECUR_CPATH OPENBLAS_NUM_THREADS=1 " .. env .. " " .. command .. " > " ..
    shell_quote(fifo), "w"))
  local output = assert(io.open(fifo, "r"))
  return {
    call = function(line)
      input:write(line, "\n")
      input:flush()
      local answer = output:read("l") or error("the worker `" .. command .. "` ended on " .. line, 0)
      return answer:match("^ok ?(.*)$") or error(command .. ", on " .. line .. ": " .. answer, 0)
    end,
    close = function()
      input:write("quit\n")
      input:close()
      output:close()
      os.remove(fifo)
    end,
  }
end

-- seconds per unit of `case` on every side, one list of rounds per side
local function measure(sides, workers, case)
  local reps, seconds = {}, {}
  for _, side in ipairs(sides) do
    local wall = tonumber(workers[side].call("setup " .. case):match("^(%S+)"))
    reps[side], seconds[side] = stats.reps(wall, opt.sample), {}
  end
  for r = 1, opt.rounds do
    for _, side in ipairs(stats.order(sides, r)) do
      local wall, cpu = workers[side].call("run " .. reps[side]):match("^(%S+) (%S+)")
      table.insert(seconds[side], tonumber(opt.clock == "cpu" and cpu or wall) / reps[side])
    end
  end
  return seconds
end

-- prints a table: the base's median time, then each side's speed-up over the base
local function compare(title, unit, scale, sides, workers, names, wires)
  print(title)
  local row = {string.format("%-34s %12s", "case", "base " .. unit)}
  for i = 2, #sides do row[#row + 1] = string.format("%22s", sides[i]) end
  print(table.concat(row, " "))
  for k, name in ipairs(names) do
    local seconds = measure(sides, workers, wires[k])
    row = {string.format("%-34s %12.2f", name, stats.median(seconds.base) * scale)}
    for i = 2, #sides do
      local speedup = stats.summary(stats.ratios(seconds.base, seconds[sides[i]]))
      row[#row + 1] = string.format("%22s", stats.format_range(speedup, "%.2fx", "%.2f"))
    end
    print(table.concat(row, " "))
  end
  print()
end

local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "unknown"
  if f then f:close() end
  return s
end

local recur = require "recur"
print(string.format("vector level of the dispatch: %s; load average before: %s", recur.config().vector_level,
  loadavg()))
print(string.format("%d rounds per case (side order reversed every round), samples of ~%.2f s, clock: %s", opt.rounds,
  opt.sample, opt.clock))

-- 1. the kernels alone
local sides, workers = {}, {}
for _, side in ipairs{"base", "dispatch", "x86-64", "x86-64-v3", "x86-64-v4"} do
  local exe = out .. "/" .. side .. "/kernels"
  local f = io.open(exe)
  if f then
    f:close()
    sides[#sides + 1], workers[side] = side, spawn("", shell_quote(exe))
  end
end
local kernels = {"sigmoid", "tanh"}
for _, cell in ipairs{"RNN.tanh", "RNN.relu", "GRU", "GRU+layer_norm", "LSTM", "LSTM+peephole", "LSTM+layer_norm",
  "LSTM+layer_norm+peephole"} do
  kernels[#kernels + 1] = cell .. "/forward"
  kernels[#kernels + 1] = cell .. "/backward"
end
for _, case in ipairs{"GRU/restore", "LSTM/restore", "RNN.tanh/step", "GRU/step", "LSTM/step"} do
  kernels[#kernels + 1] = case
end
print()
compare("pointwise kernels alone (bench/kernels.c), us per call: B=64 H=256 (step: B=1 H=32), 1 thread; backward "
  .. "includes restore", "us", 1e6, sides, workers, kernels, kernels)
for _, w in pairs(workers) do w.close() end

-- 2. layers and steps
local layer_sides = {"base", "dispatch"}
local layer_workers = {}
for _, side in ipairs(layer_sides) do
  local cpath = side == "base" and out .. "/base/?.so" or root .. "?.so"
  layer_workers[side] = spawn("RECUR_CPATH=" .. shell_quote(cpath), "lua5.4 " .. shell_quote(root ..
    "bench/recur_worker.lua") .. " 1")
  local info = layer_workers[side].call("info")
  print(string.format("%s: OpenBLAS core %s, %s thread(s)", side, info:match("corename=([^\t]*)"),
    info:match("threads=([^\t]*)")))
end
local names, wires = {}, {}
for _, c in ipairs{
  {kind = "layer", cell = "LSTM", T = 50, B = 64, H = 256, mode = "forward", bidir = 0},
  {kind = "layer", cell = "LSTM", T = 50, B = 64, H = 256, mode = "fb", bidir = 0},
  {kind = "layer", cell = "GRU", T = 50, B = 64, H = 256, mode = "forward", bidir = 0},
  {kind = "layer", cell = "GRU", T = 50, B = 64, H = 256, mode = "fb", bidir = 0},
  {kind = "step", cell = "LSTM", H = 32, steps = 1000},
  {kind = "step", cell = "GRU", H = 32, steps = 1000},
  {kind = "step", cell = "RNN", H = 32, steps = 1000},
} do
  names[#names + 1], wires[#wires + 1] = cases.id(c), cases.encode(c)
end
compare("layers (ms per call; steps: ms per 1000 steps), 1 thread", "ms", 1e3, layer_sides, layer_workers, names,
  wires)
for _, w in pairs(layer_workers) do w.close() end
print("load average after: " .. loadavg())
