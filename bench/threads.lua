-- recur at n threads against recur at 1 thread, in one process, interleaved (1t nt, nt 1t, ...),
-- with two figures per round:
--   wall:     1-thread wall time / n-thread wall time (what a user waits for; on a busy
--             machine the other processes decide it);
--   critical: 1-thread CPU time / the CPU time of the busiest thread at n threads. Each
--             thread's CPU time comes from /proc/self/task/*/schedstat (nanoseconds on a
--             CPU); recur's workers sleep while they wait, so this is the wall time the run
--             would take with a core per thread and nothing else running: the speed-up's
--             bound on a shared machine, as the ideal bounds of issue 14 (it leaves out the
--             cores' contention for caches and memory, and any wait for a lagging thread).
-- Linux only (schedstat).
--   lua5.4 bench/threads.lua [--threads N] [--rounds R] [--sample SECONDS] [--quick]
local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "bench/?.lua;" .. root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"
local stats = require "stats"

local opt = {threads = 2, rounds = 7, sample = 1.0}
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--quick" then
    opt.rounds, opt.sample = 3, 0.3
  elseif a == "--threads" or a == "--rounds" or a == "--sample" then
    opt[a:sub(3)] = assert(tonumber(arg[i + 1]), a .. ": a number")
    i = i + 1
  else
    error("unknown argument " .. a)
  end
  i = i + 1
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local pid = assert(read("/proc/self/stat"), "needs Linux's /proc"):match("^(%d+)")

-- {tid = nanoseconds on a CPU} for every thread of the process
local function thread_times()
  local out, list = {}, io.popen("ls /proc/" .. pid .. "/task")
  for tid in list:lines() do
    local s = read("/proc/" .. pid .. "/task/" .. tid .. "/schedstat")
    if s then out[tid] = tonumber(s:match("^(%d+)")) end
  end
  list:close()
  return out
end

-- the batch split (fb), the two directions side by side (fb), and the wavefront over the
-- layers of a stack whose batch is too small to split (forward only)
local CASES = {
  {name = "LSTM T=50 B=64 H=256 fb", T = 50, B = 64, H = 256, bidirectional = false},
  {name = "biLSTM T=50 B=16 H=256 fb", T = 50, B = 16, H = 256, bidirectional = true},
  {name = "2xLSTM T=50 B=1 H=256 fwd", T = 50, B = 1, H = 256, layers = 2, forward_only = true},
  {name = "2xLSTM T=50 B=4 H=256 fwd", T = 50, B = 4, H = 256, layers = 2, forward_only = true},
  {name = "2xLSTM T=50 B=4 H=512 fwd", T = 50, B = 4, H = 512, layers = 2, forward_only = true},
  {name = "3xGRU T=50 B=2 H=256 fwd", T = 50, B = 2, H = 256, layers = 3, forward_only = true, cell = "GRU"},
}

-- seconds by the wall clock, total CPU seconds, CPU seconds of the busiest thread, for reps units
local function sample(unit, reps)
  local before = thread_times()
  local t0 = recur.monotonic()
  for _ = 1, reps do unit() end
  local wall = recur.monotonic() - t0
  local total, busiest = 0, 0
  for tid, ns in pairs(thread_times()) do
    local d = (ns - (before[tid] or 0)) * 1e-9
    total, busiest = total + d, math.max(busiest, d)
  end
  return wall, total, busiest
end

local function load_average() return (read("/proc/loadavg") or "?"):match("^(%S+ %S+ %S+)") end

local cfg = recur.config()
print(string.format("recur %s, %s; BLAS %s (core %s); recur threads 1 and %d, OpenBLAS 1 thread each "
  .. "(recur.set_num_threads); OPENBLAS_CORETYPE=%s", cfg.version, cfg.lua, cfg.blas, cfg.blas_corename, opt.threads,
  os.getenv("OPENBLAS_CORETYPE") or "unset"))
print(string.format("rounds %d, samples of ~%.2f s, sides interleaved (order reversed every round); load average before: %s",
  opt.rounds, opt.sample, load_average()))
print(string.format("%-28s %10s %10s %22s %22s", "case", "1t ms", opt.threads .. "t ms", "wall speed-up",
  "critical speed-up"))
for _, c in ipairs(CASES) do
  local layer = recur[c.cell or "LSTM"]{input_size = c.H, hidden_size = c.H, num_layers = c.layers or 1,
    bidirectional = c.bidirectional or false}
  local x = recur.randn{c.T, c.B, c.H}
  local gy = recur.randn{c.T, c.B, (c.bidirectional and 2 or 1) * c.H}
  local function unit()
    layer:forward(x)
    if not c.forward_only then layer:backward(gy) end
  end
  local reps, walls, ratios = {}, {[1] = {}, [opt.threads] = {}}, {wall = {}, critical = {}}
  for _, n in ipairs{1, opt.threads} do -- warm-up, and the repetitions per sample
    recur.set_num_threads(n)
    unit()
    local t0 = recur.monotonic()
    unit()
    reps[n] = stats.reps(recur.monotonic() - t0, opt.sample)
  end
  for r = 1, opt.rounds do
    local s = {}
    for _, n in ipairs(stats.order({1, opt.threads}, r)) do
      recur.set_num_threads(n)
      unit()
      local wall, total, busiest = sample(unit, reps[n])
      s[n] = {wall = wall / reps[n], total = total / reps[n], busiest = busiest / reps[n]}
      walls[n][#walls[n] + 1] = s[n].wall
    end
    ratios.wall[r] = s[1].wall / s[opt.threads].wall
    ratios.critical[r] = s[1].total / s[opt.threads].busiest
  end
  local function range(v)
    local m = stats.summary(v)
    return string.format("%.2fx [%.2f-%.2f]", m.median, m.min, m.max)
  end
  print(string.format("%-28s %10.1f %10.1f %22s %22s", c.name, stats.median(walls[1]) * 1e3,
    stats.median(walls[opt.threads]) * 1e3, range(ratios.wall), range(ratios.critical)))
end
print("load average after: " .. load_average())
