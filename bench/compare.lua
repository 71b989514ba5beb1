-- Joins the CSVs of bench/layers.lua, bench/torch_layers.py and bench/blas_bound.c and
-- prints, per row: recur ms, torch ms, the speed-up, and both as a percentage of the
-- BLAS bound (the time of the GEMM/GEMV calls alone). Also the stepper comparison and
-- the workspace memory per layer. Run by bench/compare.sh.
--   lua5.4 bench/compare.lua OUTDIR
local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"
local dir = arg[1] or "bench/out"

local function read(path)
  local f = io.open(path)
  if not f then return {} end
  local header, rows = nil, {}
  for line in f:lines() do
    local cells = {}
    for c in line:gmatch("[^,]+") do cells[#cells + 1] = c end
    if not header then header = cells
    else
      local row = {}
      for i, k in ipairs(header) do row[k] = tonumber(cells[i]) or cells[i] end
      rows[#rows + 1] = row
    end
  end
  f:close()
  return rows
end

local function key(r, ...) return table.concat({r.cell, r.threads, ...}, "|") end

local function index(rows, extra)
  local out = {}
  for _, r in ipairs(rows) do out[key(r, table.unpack(extra(r)))] = r end
  return out
end

local layer_key = function(r) return {r.T, r.B, r.H, r.mode} end
local recur_rows, torch, bound = read(dir .. "/recur.csv"), index(read(dir .. "/torch.csv"), layer_key),
  index(read(dir .. "/bound.csv"), layer_key)

local lines = {"cell,threads,T,B,H,mode,recur_ms,torch_ms,speedup,recur_pct_bound,torch_pct_bound"}
print(string.format("%-5s %3s %4s %3s %4s %-17s %10s %10s %8s %9s %9s", "cell", "thr", "T", "B", "H", "mode",
  "recur ms", "torch ms", "speedup", "recur %bd", "torch %bd"))
for _, r in ipairs(recur_rows) do
  local k = key(r, table.unpack(layer_key(r)))
  local t, b = torch[k], bound[k]
  local speedup = t and t.ms / r.ms or nil
  local rp, tp = b and 100 * b.bound_ms / r.ms or nil, (b and t) and 100 * b.bound_ms / t.ms or nil
  local function f(v, fmt) return v and string.format(fmt, v) or "-" end
  print(string.format("%-5s %3d %4d %3d %4d %-17s %10.3f %10s %8s %9s %9s", r.cell, r.threads, r.T, r.B, r.H, r.mode,
    r.ms, f(t and t.ms, "%.3f"), f(speedup, "%.2fx"), f(rp, "%.0f%%"), f(tp, "%.0f%%")))
  lines[#lines + 1] = table.concat({r.cell, r.threads, r.T, r.B, r.H, r.mode, r.ms, t and t.ms or "",
    speedup or "", rp or "", tp or ""}, ",")
end
recur.plot.write_atomic(dir .. "/compare.csv", table.concat(lines, "\n") .. "\n")

local step_key = function(r) return {r.H} end
local torch_steps = index(read(dir .. "/torch_step.csv"), step_key)
print()
print(string.format("%-5s %3s %4s %14s %14s %8s", "cell", "thr", "H", "recur us/step", "torch us/step", "speedup"))
for _, r in ipairs(read(dir .. "/recur_step.csv")) do
  local t = torch_steps[key(r, r.H)]
  print(string.format("%-5s %3d %4d %14.2f %14s %8s", r.cell, r.threads, r.H, r.us_per_step,
    t and string.format("%.2f", t.us_per_step) or "-", t and string.format("%.1fx", t.us_per_step / r.us_per_step) or "-"))
end

print()
print("workspace per LSTM layer (input_size = H) against torch-rnn's N*T*(D+6H) floats:")
for _, s in ipairs{{T = 100, B = 64, H = 512}, {T = 50, B = 16, H = 128}, {T = 100, B = 1, H = 256}} do
  local bytes = recur.LSTM{input_size = s.H, hidden_size = s.H}:workspace_bytes(s.T, s.B)
  local torch_rnn = 4 * s.B * s.T * (s.H + 6 * s.H)
  print(string.format("  T=%d B=%d H=%d: recur %.1f MB, torch-rnn %.1f MB (%.2fx)", s.T, s.B, s.H, bytes / 2 ^ 20,
    torch_rnn / 2 ^ 20, bytes / torch_rnn))
end

-- the performance targets of the project, checked on the rows above
print()
print("targets (min over the rows of each group; met / MISSED):")
local rows = {}
for _, r in ipairs(recur_rows) do
  local k = key(r, table.unpack(layer_key(r)))
  local t, b = torch[k], bound[k]
  if t and b then
    rows[#rows + 1] = {cell = r.cell, threads = r.threads, B = r.B, H = r.H, mode = r.mode,
      speedup = t.ms / r.ms, pct = 100 * b.bound_ms / r.ms}
  end
end
local function check(label, filter, field, goal, fmt)
  local worst, n, misses = math.huge, 0, 0
  for _, r in ipairs(rows) do
    if filter(r) then
      n = n + 1
      worst = math.min(worst, r[field])
      if r[field] < goal then misses = misses + 1 end
    end
  end
  if n == 0 then return end
  print(string.format("  %-62s %s (worst %s, %d of %d rows below)", label, misses == 0 and "met" or "MISSED",
    string.format(fmt, worst), misses, n))
end
check("B = 1: at least 4x torch (forward and forward+backward)", function(r) return r.B == 1 end, "speedup", 4, "%.2fx")
check("B = 1: at least 70% of the BLAS bound", function(r) return r.B == 1 end, "pct", 70, "%.0f%%")
check("B = 16: forward+backward at least 1.5x torch", function(r) return r.B == 16 and r.mode ~= "forward" end,
  "speedup", 1.5, "%.2fx")
check("B = 64, H >= 256, 1 thread: at least 1.1x torch", function(r) return r.B == 64 and r.H >= 256 and r.threads == 1 end,
  "speedup", 1.1, "%.2fx")
check("B = 64, H >= 256, 2 threads: at least 1.3x torch", function(r) return r.B == 64 and r.H >= 256 and r.threads == 2 end,
  "speedup", 1.3, "%.2fx")
check("B = 64, H >= 256: at least 90% of the BLAS bound", function(r) return r.B == 64 and r.H >= 256 end, "pct", 90, "%.0f%%")
for _, r in ipairs(read(dir .. "/recur_step.csv")) do
  if r.threads == 1 and ((r.H == 32) or (r.cell == "LSTM" and r.H == 512)) then
    local goal = r.H == 32 and 3 or 150
    print(string.format("  single step %s H=%-3d at most %d us: %s (%.2f us)", r.cell, r.H, goal,
      r.us_per_step <= goal and "met" or "MISSED", r.us_per_step))
  end
end
