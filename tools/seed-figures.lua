-- The README's example figures as mean ± sd over seeds: runs each example with --seed 1..N
-- (one after the other, OPENBLAS_NUM_THREADS=1), reads the figures from its last lines and
-- prints them; a run that fails (e.g. stopped by the divergence guard) is reported as such.
--
--   nice lua5.4 tools/seed-figures.lua [--seeds 5] [--only forecast,game,charrnn] [--charrnn-args "--epochs 3"]
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "./?.so;" .. package.cpath
local recur = require "recur"
local cli = dofile("examples/common/cli.lua")

local opt = cli.parse_args(arg, {seeds = 5, only = "forecast,game,charrnn", ["charrnn-args"] = ""},
  "usage: lua5.4 tools/seed-figures.lua [--seeds N] [--only LIST] [--charrnn-args ARGS]")

local N = "([%d.]+)"
local EXAMPLES = {
  forecast = {script = "examples/forecast/train.lua", args = "",
    pattern = "test MAE: GRU " .. N .. " F, persistence " .. N .. " F, last value " .. N .. " F",
    names = {"GRU test MAE (F)", "persistence (F)", "last value (F)"}},
  game = {script = "examples/game/play.lua", args = "",
    pattern = "GRU " .. N .. "%%, repeat%-last%-move " .. N .. "%%, most frequent move " .. N .. "%%; " .. N ..
      " us per predicted frame",
    names = {"GRU accuracy (%)", "repeat-last-move (%)", "most frequent move (%)", "us per predicted frame"}},
  charrnn = {script = "examples/charrnn/train.lua", args = opt["charrnn-args"],
    pattern = "best validation loss " .. N .. " nats/char at step (%d+)",
    names = {"best validation loss (nats/char)", "at step"}},
}

local function mean_sd(xs)
  local sum, sq = 0, 0
  for _, x in ipairs(xs) do sum = sum + x end
  local mean = sum / #xs
  for _, x in ipairs(xs) do sq = sq + (x - mean) ^ 2 end
  return mean, #xs > 1 and math.sqrt(sq / (#xs - 1)) or 0
end

local cfg = recur.config()
local load = io.open("/proc/loadavg")
print(string.format("OpenBLAS core %s, OPENBLAS_NUM_THREADS=1, load average %s", cfg.blas_corename,
  load and load:read("*l") or "?"))
if load then load:close() end
for name in opt.only:gmatch("[^,]+") do
  local e = assert(EXAMPLES[name], "unknown example " .. name)
  local values, seconds, failed = {}, {}, {}
  for seed = 1, opt.seeds do
    local out = os.tmpname()
    os.remove(out)
    local t0 = recur.monotonic()
    local f = io.popen(string.format("OPENBLAS_NUM_THREADS=1 lua5.4 %s %s --seed %d --out %s 2>&1", e.script, e.args,
      seed, out))
    local log = f:read("*a")
    f:close()
    cli.execute("rm -rf '" .. out .. "'")
    local got = {log:match(e.pattern)}
    if #got == 0 then
      failed[#failed + 1] = string.format("seed %d: %s", seed, log:sub(-200))
    else
      seconds[#seconds + 1] = recur.monotonic() - t0
      for k, v in ipairs(got) do
        values[k] = values[k] or {}
        values[k][#values[k] + 1] = tonumber(v)
      end
    end
    io.stderr:write(string.format("%s seed %d: %s\n", name, seed, #got > 0 and table.concat(got, " ") or "FAILED"))
  end
  print(string.format("%s (%s %s), %d seeds, %d completed:", name, e.script, e.args, opt.seeds, #seconds))
  for k, label in ipairs(e.names) do
    if values[k] then
      local mean, sd = mean_sd(values[k])
      print(string.format("  %-34s %.4g ± %.2g  (%s)", label, mean, sd, table.concat(values[k], ", ")))
    end
  end
  if #seconds > 0 then
    local mean, sd = mean_sd(seconds)
    print(string.format("  %-34s %.1f ± %.1f", "wall seconds per run", mean, sd))
  end
  for _, f in ipairs(failed) do print("  FAILED " .. f) end
end
