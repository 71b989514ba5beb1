-- recur's benchmark driver (`make bench`; `make bench QUICK=1` for the short version).
--
-- Every side of a comparison is a long-lived worker process (bench/recur_worker.lua under
-- lua5.4, bench/torch_worker.py under /usr/bin/python3, build/bench/blas_bound for the GEMM
-- bound) driven over a pipe. For each case the driver sets the case up on every side, then runs
-- rounds: every side times a sample of back-to-back units, in the order A B C in odd rounds and
-- C B A in even ones. Ratios are taken per round (both sides measured moments apart) and
-- reported as median [min-max] over the rounds. The tables, with the machine, the OpenBLAS core
-- of every side, the thread settings and the load average, go to stdout and to OUT/results.txt,
-- OUT/table.md (Markdown) and OUT/results.csv; the target checker (bench/targets.lua) closes
-- the run.
--
--   lua5.4 bench/run.lua [--quick] [--tables NAME,...] [--rounds N] [--sample SECONDS] [--settle SECONDS]
--                        [--clock wall|cpu] [--out DIR]
--
-- Tables: layers threads2 bidir step charrnn default memory (the default set), noblas
-- (bench/noblas.sh), malloc (PyTorch with and without the malloc tuning). OPENBLAS_CORETYPE, when set, is passed to every side unchanged; LUA and
-- TORCH_PYTHON override the interpreters.
local root = arg[0]:match("^(.*)bench/run%.lua$") or "./"
if root:sub(1, 1) ~= "/" then root = (os.getenv("PWD") or ".") .. "/" .. root end
package.path = root .. "bench/?.lua;" .. package.path
local stats = require "stats"
local cases = require "cases"
local targets = require "targets"

local LUA = os.getenv("LUA") or "lua5.4"
local PYTHON = os.getenv("TORCH_PYTHON") or "/usr/bin/python3"
local TUNABLES = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824"
-- removed from every worker's environment; the driver sets what each side gets
local CLEARED = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
  "GLIBC_TUNABLES", "LD_PRELOAD", "RECUR_BENCH_TRACE", "RECUR_CPATH", "RECUR_PACKED_GEMM"}
local SIDE_LABELS = {recur = "recur", recur1 = "recur 1t", torch = "torch", torch_untuned = "torch untuned",
  bound = "bound", noblas = "portable"}
local ALL_TABLES = "layers,threads2,bidir,step,charrnn,default,memory"

local usage = [[
usage: lua5.4 bench/run.lua [--quick] [--tables NAME,...] [--cases TEXT] [--rounds N] [--sample SECONDS]
                           [--settle SECONDS] [--clock wall|cpu] [--tune-recur] [--out DIR]
  --tables   comma-separated, from layers threads2 bidir step charrnn default memory (all of them by
             default), noblas (recur with OpenBLAS against its BLAS-free build) and malloc
             (PyTorch with the malloc tuning against PyTorch without)
  --cases    only the cases whose name contains TEXT (e.g. "B=64 H=512"); all of them by default
  --rounds   interleaved rounds per case (default 7, quick 3)
  --sample   seconds each side spends per round and case, at least one unit (default 0.2, quick 0.04)
  --settle   in tables with more than one thread, seconds of pause before each sample (default 0.2):
             OpenBLAS's threads keep spinning after a call (here 0.04-0.05 s of CPU in the 0.1 s
             after a 2-thread run) and would take CPU from the side measured next
  --clock    wall (default) or cpu: time 1-thread tables by each worker's CPU time, which other
             processes on a shared machine disturb far less than the wall clock (tables with
             more threads always use the wall clock)
  --tune-recur  give recur's workers the glibc malloc tunables PyTorch's side always gets (by
             default recur runs as a user gets it: its fresh results are mapped and faulted in)
  --out      where results.txt, table.md and results.csv go (default bench/out)]]

local function parse_args(argv)
  local opt = {quick = false, tables = nil, rounds = nil, sample = nil, settle = 0.2, clock = "wall",
    out = root .. "bench/out"}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--quick" then opt.quick = true
    elseif a == "--tune-recur" then opt.tune_recur = true
    elseif a == "--tables" or a == "--cases" or a == "--rounds" or a == "--sample" or a == "--settle" or a == "--clock" or a == "--out" then
      local v = argv[i + 1] or error(usage, 0)
      local text = a == "--tables" or a == "--cases" or a == "--out" or a == "--clock"
      opt[a:sub(3)] = text and v or (tonumber(v) or error(usage, 0))
      i = i + 1
    elseif a == "--help" or a == "-h" then print(usage) os.exit(0)
    else error("unknown argument " .. a .. "\n" .. usage, 0) end
    i = i + 1
  end
  opt.rounds = opt.rounds or (opt.quick and 3 or 7)
  opt.sample = opt.sample or (opt.quick and 0.04 or 0.2)
  opt.tables = opt.tables or ALL_TABLES
  if opt.rounds < 1 or opt.sample <= 0 or opt.settle < 0 or (opt.clock ~= "wall" and opt.clock ~= "cpu") then
    error(usage, 0)
  end
  return opt
end

local opt = parse_args(arg)

-- everything printed also goes to OUT/results.txt
local transcript = {}
local function emit(line)
  print(line)
  transcript[#transcript + 1] = line
  io.stdout:flush()
end

local function shell_quote(s) return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'" end

local function read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function write_file(path, text)
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
end

local function succeeds(command) return os.execute(command .. " >/dev/null 2>&1") == true end

local function sleep(seconds) os.execute(string.format("sleep %.3f", seconds)) end

local function loadavg() return (read_file("/proc/loadavg") or "? ? ?"):match("^(%S+ %S+ %S+)") end

local function cpu()
  local info = read_file("/proc/cpuinfo") or ""
  local n = select(2, info:gsub("\nprocessor", "")) + (info:match("^processor") and 1 or 0)
  return string.format("%s, %d logical CPUs", info:match("model name%s*:%s*([^\n]+)") or "unknown CPU", n)
end

---------------------------------------------------------------------------------------------------
-- workers

local Worker = {}
Worker.__index = Worker
local running = {} -- the workers not closed yet (closed on an error too)

--- Starts `argv` with environment `env` ({{name, value}, ...}, on top of the driver's minus
-- CLEARED); its stdin is a pipe from us, its stdout a FIFO we read, its stderr goes to `log`.
local function spawn(name, env, argv, log)
  local fifo = os.tmpname()
  os.remove(fifo)
  assert(succeeds("mkfifo " .. shell_quote(fifo)), "mkfifo failed")
  local words = {"exec env"}
  for _, k in ipairs(CLEARED) do words[#words + 1] = "-u " .. k end
  for _, kv in ipairs(env) do words[#words + 1] = shell_quote(kv[1] .. "=" .. kv[2]) end
  for _, a in ipairs(argv) do words[#words + 1] = shell_quote(a) end
  local command = table.concat(words, " ") .. " > " .. shell_quote(fifo) .. " 2>> " .. shell_quote(log)
  local input = assert(io.popen(command, "w"))
  local output = assert(io.open(fifo, "r"))
  local w = setmetatable({name = name, input = input, output = output, fifo = fifo, log = log}, Worker)
  running[w] = true
  return w
end

--- Sends one command; returns the answer after "ok ", or raises the worker's error.
function Worker:call(line)
  self.input:write(line, "\n")
  self.input:flush()
  local answer = self.output:read("l")
  if not answer then
    self.dead = true
    error(string.format("the %s worker ended unexpectedly on %q (its stderr: %s)", self.name, line, self.log), 0)
  end
  local status, rest = answer:match("^(%S+) ?(.*)$")
  if status ~= "ok" then error(string.format("%s worker, on %q: %s", self.name, line, answer), 0) end
  return rest
end

function Worker:close()
  running[self] = nil
  if not self.dead then
    self.input:write("quit\n")
    self.input:flush()
  end
  self.input:close()
  self.output:close()
  os.remove(self.fifo)
end

local function parse_info(text)
  local info = {}
  for field in (text .. "\t"):gmatch("([^\t]*)\t") do
    local k, v = field:match("^([^=]+)=(.*)$")
    if k then info[k] = v end
  end
  return info
end

--- The environment and command line of a side at `threads` (a number or "default": then no
-- thread setting and no malloc tuning, as a user gets by default).
local function side_command(side, threads, trace_file)
  local t = side == "recur1" and 1 or threads
  local env = {}
  if t ~= "default" then
    env = {{"OPENBLAS_NUM_THREADS", t}, {"OMP_NUM_THREADS", t}, {"OMP_WAIT_POLICY", "passive"}}
  end
  if side == "torch" or side == "torch_untuned" then
    if t ~= "default" and side == "torch" then env[#env + 1] = {"GLIBC_TUNABLES", TUNABLES} end
    return env, {PYTHON, root .. "bench/torch_worker.py", tostring(t)}
  elseif side == "bound" then
    return env, {root .. "build/bench/blas_bound", tostring(t)}
  end
  if opt.tune_recur and t ~= "default" then env[#env + 1] = {"GLIBC_TUNABLES", TUNABLES} end
  if side == "noblas" then env[#env + 1] = {"RECUR_CPATH", root .. "build/noblas/?.so"} end
  if side == "tracer" then
    env[#env + 1] = {"LD_PRELOAD", root .. "build/bench/blas_trace.so"}
    env[#env + 1] = {"RECUR_BENCH_TRACE", trace_file}
    -- every product through the BLAS: the bound is OpenBLAS's time for all of recur's products
    env[#env + 1] = {"RECUR_PACKED_GEMM", "0"}
  end
  return env, {LUA, root .. "bench/recur_worker.lua", tostring(t)}
end

local function env_text(env)
  local words = {}
  for _, kv in ipairs(env) do
    if kv[1] ~= "RECUR_CPATH" then words[#words + 1] = kv[1] .. "=" .. kv[2] end
  end
  return #words > 0 and table.concat(words, " ") or "nothing set"
end

---------------------------------------------------------------------------------------------------
-- what can run here

local have_torch = succeeds(PYTHON .. " -c 'import torch'")
local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end
local have_bound = exists(root .. "build/bench/blas_bound") and exists(root .. "build/bench/blas_trace.so")

-- BLAS routines recur.core imports that bench/blas_trace.c does not record: the bound would
-- leave them out
local function untraced_blas()
  local nm = io.popen("nm -D --undefined-only " .. shell_quote(root .. "recur/core.so") .. " 2>/dev/null")
  local missing = {}
  for line in nm:lines() do
    local name = line:match("U%s+(%S+)")
    if name and (name:match("^cblas_") or name:match("^s%l+_$")) and name ~= "cblas_sgemm" and name ~= "cblas_sgemv" then
      missing[#missing + 1] = name
    end
  end
  nm:close()
  return missing
end

---------------------------------------------------------------------------------------------------
-- tables

local results = {} -- results[table][case][metric] = summary
local csv = {"table,case,metric,median,min,max,rounds"}
local markdown = {}

local function record(tbl, case, metric, summary)
  results[tbl] = results[tbl] or {}
  results[tbl][case] = results[tbl][case] or {}
  results[tbl][case][metric] = summary
  csv[#csv + 1] = string.format("%s,%s,%s,%.9g,%.9g,%.9g,%d", tbl, case, metric, summary.median, summary.min,
    summary.max, summary.n)
end

-- a side's per-round seconds per unit in the table's unit
local function display_values(unit, case, seconds)
  local out = {}
  for r, t in ipairs(seconds) do
    if unit.rate then out[r] = cases.items(case) / t
    elseif unit.per_step then out[r] = t / cases.items(case) * unit.scale
    else out[r] = t * unit.scale end
  end
  return out
end

local function ratio_text(ratio, s)
  if ratio.percent then return string.format("%.0f%% [%.0f-%.0f]", 100 * s.median, 100 * s.min, 100 * s.max) end
  return stats.format_range(s, "%.2fx", "%.2f")
end

local function pad(cells, widths)
  local out = {}
  for i, c in ipairs(cells) do out[i] = string.format(i == 1 and "%-" .. widths[i] .. "s" or "%" .. widths[i] .. "s", c) end
  return table.concat(out, "  ")
end

local function header_lines(sides, infos, envs, load_before, settle, cpu_clock)
  local lines = {
    string.format("date %s; %s; load average before: %s", os.date("!%Y-%m-%d %H:%M UTC"), cpu(), load_before),
    string.format("OPENBLAS_CORETYPE=%s; rounds per case: %d (side order reversed every round); samples of ~%.2f s%s",
      os.getenv("OPENBLAS_CORETYPE") or "unset", opt.rounds, opt.sample,
      settle > 0 and string.format(", %.2f s pause before each", settle) or ""),
    cpu_clock and "clock: the CPU time of each worker process (--clock cpu)" or "clock: wall",
  }
  -- the 1-minute load before a table still counts the benchmark's own previous table (about
  -- one busy process): above 1.5, something else is using the machine
  local load1 = tonumber(load_before:match("^%S+"))
  if load1 and load1 >= 1.5 then
    lines[#lines + 1] = string.format("WARNING: the machine is busy (load average %.2f before this table): expect wide "
      .. "ranges; rerun on a quiet machine for figures to quote", load1)
  end
  local cores = {}
  for _, side in ipairs(sides) do
    local i, text = infos[side]
    if side:match("^torch") then
      text = string.format("%s %s: BLAS %s (OpenBLAS core %s, %s OpenBLAS threads), torch threads %s, interop %s; %s",
        SIDE_LABELS[side], i.version, i.blas_libraries, i.corename, i.openblas_threads, i.threads, i.interop_threads,
        env_text(envs[side]))
    elseif side == "bound" then
      text = string.format("bound (OpenBLAS's time for recur's products: a replay of the BLAS calls recur makes with "
        .. "RECUR_PACKED_GEMM=0): OpenBLAS core %s, %s threads; %s", i.corename, i.threads, env_text(envs[side]))
    else
      -- at n > 1 threads recur runs its own workers, each calling OpenBLAS on 1 thread
      text = string.format("%s %s: BLAS %s (core %s), packed kernel %s, %s threads, OpenBLAS %s; %s", SIDE_LABELS[side],
        i.version, i.blas, i.corename, i.packed or "?", i.threads,
        i.blas_threads == "1" and "1 thread" or (i.blas_threads or "?") .. " threads", env_text(envs[side]))
    end
    lines[#lines + 1] = text
    if i.corename and i.corename ~= "none" and i.corename ~= "not OpenBLAS" then cores[i.corename] = true end
  end
  local distinct = {}
  for name in pairs(cores) do distinct[#distinct + 1] = name end
  if #distinct > 1 then
    table.sort(distinct)
    lines[#lines + 1] = "WARNING: the sides run different OpenBLAS cores (" .. table.concat(distinct, ", ") ..
      "): set OPENBLAS_CORETYPE"
  end
  return lines
end

local function run_table(tbl)
  local t_start = os.time()
  local table_cases = cases.select(tbl.cases, opt.cases)
  if #table_cases == 0 then return end
  local load_before = loadavg()
  local unit = cases.units[tbl.unit]
  local settle = tbl.threads ~= 1 and opt.settle or 0
  local cpu_clock = opt.clock == "cpu" and tbl.threads == 1
  local sides, notes = {}, {}
  for _, side in ipairs(tbl.sides) do
    if side:match("^torch") and not have_torch then
      notes[#notes + 1] = "torch: " .. PYTHON .. " cannot import torch (apt-get install python3-torch); column left out"
    elseif side == "bound" and not have_bound then
      error("build/bench/blas_bound or blas_trace.so is missing: run `make bench` (it builds them)", 0)
    else
      sides[#sides + 1] = side
    end
  end
  local workers, infos, envs = {}, {}, {}
  local log = opt.out .. "/workers.log"
  for _, side in ipairs(sides) do
    local env, argv = side_command(side, tbl.threads)
    envs[side] = env
    workers[side] = spawn(side, env, argv, log)
    infos[side] = parse_info(workers[side]:call("info"))
  end
  local tracer, trace_file
  if workers.bound then
    if infos.recur.blas ~= "openblas" then
      workers.bound:close()
      workers.bound = nil
      for i = #sides, 1, -1 do
        if sides[i] == "bound" then table.remove(sides, i) end
      end
      notes[#notes + 1] = "bound: recur is built without OpenBLAS; column left out"
    else
      trace_file = opt.out .. "/trace-" .. tbl.name .. ".txt"
      os.remove(trace_file)
      local env, argv = side_command("tracer", tbl.threads, trace_file)
      tracer = spawn("tracer", env, argv, log)
      local missing = untraced_blas()
      if #missing > 0 then notes[#notes + 1] = "WARNING: the bound leaves out " .. table.concat(missing, ", ") end
    end
  end

  emit("")
  emit("== " .. tbl.title .. " ==")
  local head = header_lines(sides, infos, envs, load_before, settle, cpu_clock)
  for _, n in ipairs(notes) do head[#head + 1] = n end
  for _, l in ipairs(head) do emit(l) end
  local columns = {"case"}
  for _, side in ipairs(sides) do columns[#columns + 1] = SIDE_LABELS[side] .. " " .. unit.label end
  local ratios = {}
  for _, ratio in ipairs(tbl.ratios) do
    if workers[ratio.num] and workers[ratio.den] then
      ratios[#ratios + 1] = ratio
      columns[#columns + 1] = ratio.label
    end
  end
  if workers.recur then columns[#columns + 1] = "recur faults" end
  local widths = {#columns[1]}
  for _, case in ipairs(table_cases) do widths[1] = math.max(widths[1], #cases.id(case)) end
  for i = 2, #columns do widths[i] = math.max(#columns[i], i <= #sides + 1 and 10 or 18) end
  emit(pad(columns, widths))
  local md_rows = {}

  for _, case in ipairs(table_cases) do
    local id, wire = cases.id(case), cases.encode(case)
    local reps, seconds, faults = {}, {}, {}
    for _, side in ipairs(sides) do
      local warm
      if side == "bound" then
        local tag = id:gsub(" ", "_")
        tracer:call("setup " .. wire)
        tracer:call("trace " .. tag)
        warm = workers.bound:call("setup trace=" .. trace_file .. " id=" .. tag)
      else
        warm = workers[side]:call("setup " .. wire)
      end
      reps[side] = stats.reps(tonumber(warm:match("^%S+")), opt.sample) -- by the wall clock
      seconds[side], faults[side] = {}, {}
    end
    for r = 1, opt.rounds do
      for _, side in ipairs(stats.order(sides, r)) do
        if settle > 0 then sleep(settle) end
        local wall, cpu_time, n = workers[side]:call("run " .. reps[side]):match("^(%S+) (%S+) (%-?%d+)$")
        seconds[side][r] = tonumber(cpu_clock and cpu_time or wall) / reps[side]
        faults[side][r] = tonumber(n) / reps[side]
      end
    end
    local cells, fault_summary = {id}, {}
    for _, side in ipairs(sides) do
      local s = stats.summary(display_values(unit, case, seconds[side]))
      record(tbl.name, id, side .. "_" .. tbl.unit, s)
      cells[#cells + 1] = string.format(unit.fmt, s.median)
      fault_summary[side] = stats.summary(faults[side]) -- below 0 where the system does not say
      if fault_summary[side].min >= 0 then record(tbl.name, id, side .. "_faults", fault_summary[side]) end
    end
    for _, ratio in ipairs(ratios) do
      local s = stats.summary(stats.ratios(seconds[ratio.num], seconds[ratio.den]))
      record(tbl.name, id, ratio.key, s)
      cells[#cells + 1] = ratio_text(ratio, s)
    end
    if workers.recur then -- minor page faults a unit: the fresh memory it touched
      local f = fault_summary.recur
      cells[#cells + 1] = f.min >= 0 and string.format("%.0f", f.median) or "?"
    end
    emit(pad(cells, widths))
    md_rows[#md_rows + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end

  for _, w in pairs(workers) do w:close() end
  if tracer then tracer:close() end
  local tail = string.format("load average after: %s; %d s", loadavg(), os.time() - t_start)
  emit(tail)

  markdown[#markdown + 1] = "### " .. tbl.title .. "\n"
  for _, l in ipairs(head) do markdown[#markdown + 1] = "- " .. l end
  markdown[#markdown + 1] = "- " .. tail .. "\n"
  markdown[#markdown + 1] = "| " .. table.concat(columns, " | ") .. " |"
  local align = {"---"}
  for i = 2, #columns do align[i] = "---:" end
  markdown[#markdown + 1] = "|" .. table.concat(align, "|") .. "|"
  for _, row in ipairs(md_rows) do markdown[#markdown + 1] = row end
  markdown[#markdown + 1] = ""
end

-- Memory of one LSTM layer: workspace_bytes and the live bytes a forward + backward leaves.
local function run_memory()
  local env, argv = side_command("recur", 1)
  local worker = spawn("recur", env, argv, opt.out .. "/workers.log")
  local title = "Memory of one LSTM layer (input_size = H) after forward + backward"
  local i = parse_info(worker:call("info"))
  local head = string.format("date %s; recur %s, %s", os.date("!%Y-%m-%d %H:%M UTC"), i.version, i.lua)
  emit("")
  emit("== " .. title .. " ==")
  emit(head)
  local columns = {"case", "workspace bytes", "live bytes", "f1303c3 workspace", "f1303c3 live"}
  local widths = {28, 16, 14, 18, 14}
  emit(pad(columns, widths))
  markdown[#markdown + 1] = "### " .. title .. "\n"
  markdown[#markdown + 1] = "- " .. head .. "\n"
  markdown[#markdown + 1] = "| " .. table.concat(columns, " | ") .. " |"
  markdown[#markdown + 1] = "|---|---:|---:|---:|---:|"
  for _, s in ipairs(cases.memory_shapes) do
    local case = string.format("LSTM T=%d B=%d H=%d", s.T, s.B, s.H)
    local workspace, live = worker:call(string.format("memory %d %d %d", s.T, s.B, s.H)):match("^(%-?%d+) (%d+)$")
    workspace, live = tonumber(workspace), tonumber(live)
    if workspace >= 0 then
      record("memory", case, "workspace_bytes", {median = workspace, min = workspace, max = workspace, n = 1})
    end
    record("memory", case, "live_bytes", {median = live, min = live, max = live, n = 1})
    local base = targets.memory_baseline[case]
    local cells = {case, workspace >= 0 and string.format("%d", workspace) or "-", string.format("%d", live),
      string.format("%d", base.workspace_bytes), string.format("%d", base.live_bytes)}
    emit(pad(cells, widths))
    markdown[#markdown + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  markdown[#markdown + 1] = ""
  worker:close()
end

---------------------------------------------------------------------------------------------------

assert(succeeds("mkdir -p " .. shell_quote(opt.out)), "cannot create " .. opt.out)
os.remove(opt.out .. "/workers.log")
local by_name = {}
for _, t in ipairs(cases.tables(opt.quick)) do by_name[t.name] = t end
by_name.noblas = cases.noblas_table(opt.quick)
by_name.malloc = cases.malloc_table()
local command = "lua5.4 bench/run.lua " .. table.concat(arg, " ")
emit("recur benchmark: " .. command)
for name in opt.tables:gmatch("[^,]+") do
  if not (by_name[name] or name == "memory") then error("unknown table " .. name .. "\n" .. usage, 0) end
end
local t0 = os.time()
local ok, err = pcall(function()
  for name in opt.tables:gmatch("[^,]+") do
    if name == "memory" then run_memory()
    else run_table(by_name[name]) end
  end
end)
if not ok then
  for w in pairs(running) do
    w.dead = true -- it may be gone: closing our end is its signal to stop
    w:close()
  end
  io.stderr:write("bench/run.lua: ", tostring(err), "\n")
  os.exit(1)
end
local lines, met, missed, absent = targets.check(results)
if met + missed + absent > 0 then
  emit("")
  emit("== targets (issue 14) ==")
  for _, l in ipairs(lines) do emit(l) end
else
  lines = {}
end
emit(string.format("total %d s", os.time() - t0))

write_file(opt.out .. "/results.csv", table.concat(csv, "\n") .. "\n")
write_file(opt.out .. "/results.txt", table.concat(transcript, "\n") .. "\n")
write_file(opt.out .. "/table.md", "<!-- " .. command .. " -->\n\n" .. table.concat(markdown, "\n") ..
  (#lines > 0 and "\n### Targets\n\n```\n" .. table.concat(lines, "\n") .. "\n```\n" or ""))
