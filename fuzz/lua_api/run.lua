--- One child process of the Lua-API fuzzer: runs the calls of one seed (see gen.lua), each
-- under pcall, and classifies every error. Each call's line is written to the log before
-- it runs, so that a crash, a hang or a sanitizer report can be traced to it.
--
--   lua5.4 fuzz/lua_api/run.lua --seed 7 --calls 2000 --log calls.lua [--seconds S] [--keep-going]
--       [--build build/asan]
--   lua5.4 fuzz/lua_api/run.lua --replay calls.lua [--upto N]
--       (runs the logged lines again, the last one or line N unprotected)
--
-- --skip name,name,... leaves functions ("data.shuffle") or methods ("recur.Sequential:add")
-- out, for findings already reported.
--
-- Exit status: 0 when every error was an argument error (or a resource error or a hostile
-- value's own error), 3 when an internal error was found, 4 when the fuzzer itself failed.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local root = here:match("^(.*)/fuzz/lua_api$") or (here .. "/../..")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. here .. "/?.lua;" .. package.path

local opts = {calls = 1000}
local i = 1
while arg[i] do
  local name = arg[i]:match("^%-%-([%w-]+)$")
  if name == "keep-going" then
    opts.keep_going = true
  elseif name then
    opts[name] = arg[i + 1]
    i = i + 1
  end
  i = i + 1
end

-- the build of recur.core to test: --build DIR (DIR/recur/core.so), default the in-tree one
package.cpath = (opts.build or root) .. "/?.so;" .. package.cpath

local recur = require "recur"
local H = require "hostile"
local Gen = require "gen"
local classify = require "classify"

local V = {}
local env = setmetatable({V = V, R = recur, H = H}, {__index = _G})

-- where an error was raised: the first frame in recur's Lua files, else the C function
local function origin()
  for level = 3, 40 do
    local info = debug.getinfo(level, "Sln")
    if not info then break end
    local file = info.source:match("/lua/recur/([%w_]+%.lua)$")
    if file then return file .. ":" .. info.currentline end
    if info.source == "=fuzz" then break end
  end
  local c = debug.getinfo(3, "n")
  return c and c.name and ("C " .. c.name) or "C"
end

local function run_line(line, protected)
  local chunk, cerr = load(line, "=fuzz", "t", env)
  if not chunk then return false, "fuzzer", "the generated line does not compile: " .. cerr end
  if not protected then return true, chunk() end
  local where
  local ok, err = xpcall(chunk, function(e)
    where = origin()
    return e
  end)
  if ok then return true end
  return false, classify(err), err, where
end

-- an error's signature: where it arose and its message with numbers and names blurred
local function signature(err, where)
  local text = tostring(err):sub(1, 200):gsub("%d+", "N"):gsub("'[^']*'", "'?'"):gsub("\n.*", "")
  return where .. " | " .. text
end

if opts.replay then
  local lines = {}
  for line in io.lines(opts.replay) do lines[#lines + 1] = line end
  local last = math.tointeger(tonumber(opts.upto)) or #lines
  for n = 1, last - 1 do run_line(lines[n], true) end
  print("replaying line " .. last .. ", unprotected:\n" .. lines[last])
  run_line(lines[last], false)
  print("no error")
  return
end

local seed = assert(math.tointeger(tonumber(opts.seed)), "--seed N is required")
local log = assert(io.open(assert(opts.log, "--log FILE is required"), "w"))
local counts = {calls = 0, ok = 0, argument = 0, resource = 0, hostile = 0, internal = 0}

local logged = 0
local function record(line)
  log:write(line, "\n")
  log:flush()
  logged = logged + 1
end

for _, line in ipairs(Gen.setup()) do
  record(line)
  local ok, _, err = run_line(line, true)
  if not ok then
    io.stderr:write("fuzz: setup failed: ", tostring(err), "\n")
    os.exit(4)
  end
end

local skip = {}
for name in (opts.skip or ""):gmatch("[^,]+") do skip[name] = true end
local gen = Gen.new(seed, V, recur, H, skip)
local slowest, slowest_line = 0, nil
local profile = {}
local seen = {}
local function clip(s, n) return #s > n and s:sub(1, n) .. "..." or s end
local deadline = opts.seconds and recur.monotonic() + tonumber(opts.seconds) or math.huge
for call = 1, math.tointeger(tonumber(opts.calls)) do
  if recur.monotonic() > deadline then break end
  local line, after = gen:next()
  record(line)
  local started = recur.monotonic()
  local ok, class, err, where = run_line(line, true)
  local took = recur.monotonic() - started
  if took > slowest then slowest, slowest_line = took, line end
  if opts.profile then
    local key = line:match("= ([%w_.]+)%(") or line:match(":([%w_]+)%(") or "other"
    profile[key] = (profile[key] or 0) + took
  end
  counts.calls = counts.calls + 1
  if ok then
    counts.ok = counts.ok + 1
    if after then after() end
  elseif class == "fuzzer" then
    io.stderr:write("fuzz: ", err, "\n", line, "\n")
    os.exit(4)
  else
    counts[class] = counts[class] + 1
    local sig = class == "internal" and signature(err, where)
    if sig and not seen[sig] then
      seen[sig] = true
      print(string.format("INTERNAL ERROR (seed %d, call %d, line %d) at %s\n  call:  %s\n  error: %s", seed, call,
        logged, where, clip(line, 400), clip(tostring(err), 400):gsub("\n", "\n         ")))
      if not opts.keep_going then break end
    end
  end
  if call % 200 == 0 then collectgarbage() end
end
log:close()
print(string.format("calls=%d ok=%d argument=%d resource=%d hostile=%d internal=%d slowest=%.2fs",
  counts.calls, counts.ok, counts.argument, counts.resource, counts.hostile, counts.internal, slowest))
if slowest > 1 then print("slowest call: " .. slowest_line) end
if opts.profile then
  local keys = {}
  for k in pairs(profile) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return profile[a] > profile[b] end)
  for n = 1, math.min(15, #keys) do print(string.format("%8.2fs %s", profile[keys[n]], keys[n])) end
end
os.exit(counts.internal > 0 and 3 or 0)
