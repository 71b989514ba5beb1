-- The performance targets of issue 14, checked on the medians bench/run.lua measured: one line
-- per target and case, "met" or "MISSED", with the median [min-max] over rounds. Run by
-- bench/run.lua at the end; alone, on a saved run:
--
--   lua5.4 bench/targets.lua bench/out/results.csv
local here = (arg and arg[0] and arg[0]:match("^(.*)targets%.lua$")) or "bench/"
package.path = here .. "?.lua;" .. package.path
local stats = require "stats"
local cases = require "cases"

local targets = {}

local function layer(cell, B, H, mode, bidir)
  return cases.id{kind = "layer", cell = cell, T = 50, B = B, H = H, mode = mode, bidir = bidir or 0}
end

-- Memory of one LSTM layer at commit f1303c3 (the target: no worse than this), measured with
-- the recur worker's `memory` command on the shapes of cases.memory_shapes.
targets.memory_baseline = {
  ["LSTM T=100 B=64 H=512"] = {workspace_bytes = 118751232, live_bytes = 161778901},
  ["LSTM T=50 B=16 H=128"] = {workspace_bytes = 3735552, live_bytes = 5614805},
  ["LSTM T=100 B=1 H=256"] = {workspace_bytes = 927744, live_bytes = 5346517},
}

--- Every target: {table, case, metric, op, goal, label, fmt, range_fmt, percent}.
function targets.list()
  local out = {}
  local function add(t) out[#out + 1] = t end
  local speed = {fmt = "%.3fx", range_fmt = "%.2f"}
  for _, cell in ipairs{"LSTM", "GRU"} do
    for _, B in ipairs{16, 64} do
      for _, H in ipairs{256, 512} do
        for _, mode in ipairs{"forward", "fb"} do
          local goal = mode == "forward" and 1.10 or 1.15
          add{table = "layers", case = layer(cell, B, H, mode), metric = "speedup", op = ">=", goal = goal,
            label = string.format(">= %.2fx torch", goal), fmt = speed.fmt, range_fmt = speed.range_fmt}
          if B == 64 then
            add{table = "layers", case = layer(cell, B, H, mode), metric = "bound", op = ">=", goal = 0.90,
              label = ">= 90% of the GEMM bound", percent = true}
          end
        end
      end
    end
    for _, H in ipairs{256, 512} do
      for _, mode in ipairs{"forward", "fb"} do
        add{table = "layers", case = layer(cell, 1, H, mode), metric = "bound", op = ">=", goal = 0.85,
          label = ">= 85% of the GEMV bound", percent = true}
      end
    end
  end
  add{table = "threads2", case = layer("LSTM", 64, 256, "fb"), metric = "speedup", op = ">=", goal = 1.3,
    label = ">= 1.30x torch at 2 threads", fmt = speed.fmt, range_fmt = speed.range_fmt}
  add{table = "bidir", case = layer("LSTM", 16, 256, "fb", 1), metric = "scaling", op = ">=", goal = 1.4,
    label = "2 threads >= 1.40x recur's 1-thread speed", fmt = speed.fmt, range_fmt = speed.range_fmt}
  add{table = "charrnn", case = cases.id(cases.charrnn), metric = "speedup", op = ">=", goal = 1.35,
    label = ">= 1.35x torch's chars/s", fmt = speed.fmt, range_fmt = speed.range_fmt}
  for _, cell in ipairs{"RNN", "GRU", "LSTM"} do
    add{table = "step", case = cases.id{kind = "step", cell = cell, H = 32}, metric = "recur_us", op = "<=", goal = 3,
      label = "<= 3 us per step", fmt = "%.2f us", range_fmt = "%.2f"}
  end
  for _, s in ipairs(cases.memory_shapes) do
    local case = string.format("LSTM T=%d B=%d H=%d", s.T, s.B, s.H)
    for _, metric in ipairs{"workspace_bytes", "live_bytes"} do
      add{table = "memory", case = case, metric = metric, op = "<=", goal = targets.memory_baseline[case][metric],
        label = metric:gsub("_", " ") .. " no more than at f1303c3", fmt = "%.0f", range_fmt = "%.0f", bytes = true}
    end
  end
  return out
end

local function show(t, value)
  if t.percent then return string.format("%.0f%%", 100 * value) end
  if t.bytes then return string.format("%d bytes", value) end
  return string.format(t.fmt, value)
end

-- one more digit than the tables, so that a value just below its goal does not print as the goal
local function show_summary(t, s)
  if t.percent then
    return string.format("%.1f%% [%.0f-%.0f]", 100 * s.median, 100 * s.min, 100 * s.max)
  end
  if s.min == s.max then return show(t, s.median) end
  return stats.format_range(s, t.fmt, t.range_fmt)
end

--- Checks the targets of the tables present in `results` (results[table][case][metric] =
-- summary) and returns the report's lines and the counts of met, missed and unmeasured
-- targets (a case the table did not run, e.g. in the quick version).
function targets.check(results)
  local lines, met, missed, absent = {}, 0, 0, 0
  for _, t in ipairs(targets.list()) do
    local s = ((results[t.table] or {})[t.case] or {})[t.metric]
    if s then
      local verdict, straddles = stats.verdict(s, t.op, t.goal)
      if verdict == "met" then met = met + 1 else missed = missed + 1 end
      lines[#lines + 1] = string.format("%-8s %-28s %-42s %s%s", verdict, t.case, t.label .. ":", show_summary(t, s),
        straddles and "  (range straddles the goal)" or "")
    elseif results[t.table] then
      absent = absent + 1
      lines[#lines + 1] = string.format("%-8s %-28s %s", "not run", t.case, t.label)
    end
  end
  lines[#lines + 1] = string.format("targets: %d met, %d missed, %d not run", met, missed, absent)
  return lines, met, missed, absent
end

--- results[table][case][metric] = summary, from the CSV bench/run.lua writes.
function targets.read_csv(path)
  local results, f = {}, assert(io.open(path))
  local header = f:read("*l")
  assert(header == "table,case,metric,median,min,max,rounds", path .. ": not a results file of bench/run.lua")
  for line in f:lines() do
    local tbl, case, metric, median, lo, hi, n = line:match("^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$")
    results[tbl] = results[tbl] or {}
    results[tbl][case] = results[tbl][case] or {}
    results[tbl][case][metric] = {median = tonumber(median), min = tonumber(lo), max = tonumber(hi), n = tonumber(n)}
  end
  f:close()
  return results
end

if arg and arg[0] and arg[0]:match("targets%.lua$") then
  assert(arg[1], "usage: lua5.4 bench/targets.lua RESULTS.csv")
  local lines = targets.check(targets.read_csv(arg[1]))
  print(table.concat(lines, "\n"))
end

return targets
