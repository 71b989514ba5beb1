-- The statistics of the benchmark (bench/run.lua, bench/targets.lua): the order of the sides in
-- each round, repetitions per sample, per-round ratios and their median [min-max], and the
-- verdict of a target; the workers' count of minor page faults. Pure Lua (5.1 to 5.4), no
-- recur; specs/bench_stats_spec.lua covers it.
local stats = {}

--- The median of a non-empty list of numbers (the mean of the middle two for an even count).
function stats.median(values)
  assert(#values > 0, "median: empty list")
  local sorted = {}
  for i, v in ipairs(values) do sorted[i] = v end
  table.sort(sorted)
  local n = #sorted
  local half = math.floor(n / 2)
  if n % 2 == 1 then return sorted[half + 1] end
  return (sorted[half] + sorted[half + 1]) / 2
end

--- {median, min, max, n} of a non-empty list.
function stats.summary(values)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(values) do lo, hi = math.min(lo, v), math.max(hi, v) end
  return {median = stats.median(values), min = lo, max = hi, n = #values}
end

--- The minor page faults in the text of Linux's /proc/PID/stat (its field 10), or nil. The
-- process name, field 2, is in parentheses and may itself hold spaces and parentheses: the
-- fields are counted from the last ") ".
function stats.minor_faults(stat_text)
  local rest = stat_text and stat_text:match("^.*%) (.*)$")
  if not rest then return nil end
  local fields = {}
  for word in rest:gmatch("%S+") do fields[#fields + 1] = word end
  return tonumber(fields[8]) -- field 3 (the state) is fields[1]
end

--- This process's minor page faults so far, or nil where there is no /proc/self/stat.
function stats.own_minor_faults()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return stats.minor_faults(text)
end

--- The order in which the sides run in round r (1-based): as listed in odd rounds, reversed in
-- even rounds (A B C, C B A, A B C, ...), so that no side always runs first or last.
function stats.order(sides, r)
  local out = {}
  for i, s in ipairs(sides) do out[r % 2 == 1 and i or #sides + 1 - i] = s end
  return out
end

--- Repetitions of a unit that takes `unit_seconds` so that one sample lasts about
-- `sample_seconds` (at least one).
function stats.reps(unit_seconds, sample_seconds)
  assert(unit_seconds >= 0 and sample_seconds > 0, "reps: bad times")
  if unit_seconds == 0 then return 1000000 end
  return math.max(1, math.ceil(sample_seconds / unit_seconds - 1e-9))
end

--- Per-round ratios num[r] / den[r] of two equally long lists of per-round times.
function stats.ratios(num, den)
  assert(#num == #den, "ratios: lists of different lengths")
  local out = {}
  for r = 1, #num do out[r] = num[r] / den[r] end
  return out
end

--- The verdict of a target on a summary: "met" when the median reaches `goal` (at least `goal`
-- for op ">=", at most for "<="), else "MISSED"; the second result is true when the min-max
-- range lies on both sides of the goal (the verdict could flip on a rerun).
function stats.verdict(summary, op, goal)
  local met
  if op == ">=" then met = summary.median >= goal
  elseif op == "<=" then met = summary.median <= goal
  else error("verdict: op must be '>=' or '<=', got " .. tostring(op)) end
  local straddles = summary.min < goal and summary.max > goal
  return met and "met" or "MISSED", straddles
end

--- "median [min-max]" with one format for the three numbers, e.g. fmt "%.2fx".
function stats.format_range(summary, fmt, range_fmt)
  range_fmt = range_fmt or fmt
  return string.format(fmt, summary.median) .. " [" .. string.format(range_fmt, summary.min) .. "-" ..
    string.format(range_fmt, summary.max) .. "]"
end

return stats
