--- The Lua-API fuzzer's driver: runs run.lua for seed after seed, each in a child process
-- with a time and memory limit, and reports crashes (signals), hangs (timeouts), sanitizer
-- reports and internal errors with the call that caused them and a command to replay it.
--
--   lua5.4 fuzz/lua_api/fuzz.lua [--seconds 60 | --calls 100000] [--first-seed 1]
--       [--chunk 2000] [--timeout 120] [--build build/asan --sanitizers] [--jobs 1]
--       [--keep-going] [--skip data.shuffle,recur.Sequential:add] [--out build/fuzz-api]
--
-- --seconds or --calls bounds the run; each seed runs --chunk calls in one child (a chunk
-- slower than --timeout seconds is a hang). --build picks the recur.core to test (the
-- in-tree one by default), --sanitizers preloads ASan and UBSan for it. --keep-going
-- runs every seed to its end and counts every internal error (the default stops a seed
-- at its first). The exit status is 0 only when there was no crash, hang, sanitizer
-- report or internal error.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local pwd = os.getenv("PWD") or io.popen("pwd"):read("*l")
  return pwd .. "/" .. path
end
here = absolute(here)
local root = here:match("^(.*)/fuzz/lua_api$")

local opts = {chunk = 2000, timeout = 120, ["first-seed"] = 1, out = root .. "/build/fuzz-api", jobs = 1}
local i = 1
while arg[i] do
  local name = assert(arg[i]:match("^%-%-([%w-]+)$"), "unknown argument " .. arg[i])
  if name == "keep-going" or name == "sanitizers" then
    opts[name] = true
  else
    opts[name] = assert(arg[i + 1], "--" .. name .. " needs a value")
    i = i + 1
  end
  i = i + 1
end
for _, k in ipairs{"chunk", "timeout", "first-seed", "jobs", "seconds", "calls"} do
  if opts[k] then opts[k] = assert(math.tointeger(tonumber(opts[k])), "--" .. k .. " needs an integer") end
end
if not opts.seconds and not opts.calls then opts.seconds = 60 end
local build = opts.build and absolute(opts.build) or root
local lua = arg[-1] or "lua5.4"

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- the environment of a child: one BLAS thread, a memory limit (an address-space limit
-- for the normal build; allocator limits for ASan, which needs its address space)
local function child_env()
  if not opts.sanitizers then return "ulimit -v 3000000; OPENBLAS_NUM_THREADS=1" end
  local cc = os.getenv("CC") or "cc"
  local lib = function(name) return io.popen(cc .. " -print-file-name=" .. name):read("*l") end
  return "OPENBLAS_NUM_THREADS=1 LD_PRELOAD=" .. shell_quote(lib("libasan.so") .. " " .. lib("libubsan.so")) ..
    " ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=1024:hard_rss_limit_mb=3500" ..
    ":exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87"
end
local env = child_env()
local started = os.time()

-- starts the child of `seed`; returns its directory
local function start(seed)
  local dir = string.format("%s/seed-%d", opts.out, seed)
  os.execute("rm -rf " .. shell_quote(dir) .. " && mkdir -p " .. shell_quote(dir))
  local limit = opts.seconds and string.format(" --seconds %d", math.max(1, opts.seconds - (os.time() - started))) or ""
  local cmd = string.format("cd %s && (%s timeout -s KILL %d %s %s --seed %d --calls %d --log calls.lua --build %s%s" ..
    "%s%s > out.txt 2> err.txt; echo $? > status) &", shell_quote(dir), env, opts.timeout, lua,
    shell_quote(here .. "/run.lua"), seed, opts.chunk, shell_quote(build), opts["keep-going"] and " --keep-going" or "",
    opts.skip and " --skip " .. shell_quote(opts.skip) or "", limit)
  os.execute(cmd)
  return dir
end

local totals = {calls = 0, ok = 0, argument = 0, resource = 0, hostile = 0, internal = 0}
local failures, internals, internal_order = {}, {}, {}

local function last_line(path)
  local last
  for line in io.lines(path) do last = line end
  return last or "(none)"
end

local function replay(dir, line)
  return string.format("cd %s && %s %s %s --replay calls.lua%s --build %s", dir, env, lua, here .. "/run.lua",
    line and " --upto " .. line or "", build)
end

-- reads a finished child's results
local function collect(seed, dir, status)
  local out, err = read(dir .. "/out.txt"), read(dir .. "/err.txt")
  for k, v in out:gmatch("(%a+)=(%d+)") do
    if totals[k] then totals[k] = totals[k] + tonumber(v) end
  end
  for block in (out .. "\n"):gmatch("INTERNAL ERROR.-\n  error: [^\n]*") do
    local where = block:match(" at (%S+)")
    local message = block:match("  error: ([^\n]*)") or ""
    local sig = where .. " | " .. message:gsub("%d+", "N"):gsub("'[^']*'", "'?'"):sub(1, 160)
    if not internals[sig] then
      internals[sig] = {count = 0, seed = seed, block = block, dir = dir}
      internal_order[#internal_order + 1] = sig
    end
    internals[sig].count = internals[sig].count + 1
  end
  local kind
  if status == 137 then
    kind = "hang (no end within " .. opts.timeout .. " s)"
  elseif err:find("hard rss limit exhausted") then
    kind = "out of memory (the ASan build's 3.5 GB resident limit)"
  elseif status == 86 or err:find("ERROR: AddressSanitizer") or err:find("runtime error:") or status == 87 then
    kind = "sanitizer report"
  elseif status > 128 then
    kind = "crash (signal " .. (status - 128) .. ")"
  elseif status == 4 or status == 1 then
    kind = "fuzzer failure"
  elseif status ~= 0 and status ~= 3 then
    kind = "exit status " .. status
  end
  if kind then
    failures[#failures + 1] = string.format("%s, seed %d\n  last call: %s\n  stderr: %s\n  replay: %s", kind, seed,
      last_line(dir .. "/calls.lua"):sub(1, 400), err:sub(1, 1500):gsub("\n", "\n          "), replay(dir))
  end
end

local seed, running = opts["first-seed"], {}
local function budget_left()
  if opts.calls then return totals.calls + #running * opts.chunk < opts.calls end
  return os.time() - started < opts.seconds
end
os.execute("mkdir -p " .. shell_quote(opts.out))
while true do
  while #running < opts.jobs and budget_left() do
    running[#running + 1] = {seed = seed, dir = start(seed)}
    seed = seed + 1
  end
  if #running == 0 then break end
  os.execute("sleep 0.2")
  for k = #running, 1, -1 do
    local r = running[k]
    local status = tonumber(read(r.dir .. "/status"):match("%d+"))
    if status then
      collect(r.seed, r.dir, status)
      table.remove(running, k)
    end
  end
end

print(string.format("fuzz-api: %d calls over seeds %d..%d in %d s%s: %d ok, %d argument errors, %d resource errors, " ..
  "%d hostile errors, %d internal errors (%d distinct); %d crashes, hangs or sanitizer reports",
  totals.calls, opts["first-seed"], seed - 1, os.time() - started, opts.sanitizers and " (ASan+UBSan)" or "",
  totals.ok, totals.argument, totals.resource, totals.hostile, totals.internal, #internal_order, #failures))
for _, f in ipairs(failures) do print("\nFAILURE: " .. f) end
for _, sig in ipairs(internal_order) do
  local e = internals[sig]
  print(string.format("\nINTERNAL (%d seeds; first in seed %d, replay: %s):\n%s", e.count, e.seed,
    replay(e.dir, e.block:match("line (%d+)")),
    e.block:gsub("^INTERNAL ERROR[^\n]*\n", "")))
end
os.exit((#failures == 0 and #internal_order == 0) and 0 or 1)
