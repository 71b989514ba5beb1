--- One child process of the Lua-API fuzzer: runs the calls of one seed (see gen.lua), each
-- under pcall, and classifies every error. Each call's line is written to the log before
-- it runs, so that a crash, a hang or a sanitizer report can be traced to it.
--
--   lua5.4 fuzz/lua_api/run.lua --seed 7 --calls 2000 --log calls.lua [--keep-going] [--build build/asan]
--   lua5.4 fuzz/lua_api/run.lua --replay calls.lua     (the last line runs unprotected)
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

local function run_line(line, protected)
  local chunk, err = load(line, "=fuzz", "t", env)
  if not chunk then return false, "fuzzer", "the generated line does not compile: " .. err end
  if not protected then return true, chunk() end
  local ok, err = pcall(chunk)
  if ok then return true end
  return false, classify(err), err
end

if opts.replay then
  local lines = {}
  for line in io.lines(opts.replay) do lines[#lines + 1] = line end
  for n = 1, #lines - 1 do run_line(lines[n], true) end
  print("replaying the last line, unprotected:\n" .. lines[#lines])
  run_line(lines[#lines], false)
  print("no error")
  return
end

local seed = assert(math.tointeger(tonumber(opts.seed)), "--seed N is required")
local log = assert(io.open(assert(opts.log, "--log FILE is required"), "w"))
local counts = {calls = 0, ok = 0, argument = 0, resource = 0, hostile = 0, internal = 0}

local function record(line)
  log:write(line, "\n")
  log:flush()
end

for _, line in ipairs(Gen.setup()) do
  record(line)
  local ok, class, err = run_line(line, true)
  if not ok then
    io.stderr:write("fuzz: setup failed: ", tostring(err), "\n")
    os.exit(4)
  end
end

local gen = Gen.new(seed, V, recur, H)
local slowest, slowest_line = 0, nil
for call = 1, math.tointeger(tonumber(opts.calls)) do
  local line, after = gen:next()
  record(line)
  local started = os.clock()
  local ok, class, err = run_line(line, true)
  local took = os.clock() - started
  if took > slowest then slowest, slowest_line = took, line end
  counts.calls = counts.calls + 1
  if ok then
    counts.ok = counts.ok + 1
    if after then after() end
  elseif class == "fuzzer" then
    io.stderr:write("fuzz: ", err, "\n", line, "\n")
    os.exit(4)
  else
    counts[class] = counts[class] + 1
    if class == "internal" then
      print(string.format("INTERNAL ERROR (seed %d, call %d)\n  call:  %s\n  error: %s", seed, call, line,
        tostring(err):gsub("\n", "\n         ")))
      if not opts["keep-going"] and not opts.keep_going then break end
    end
  end
  if call % 200 == 0 then collectgarbage() end
end
log:close()
print(string.format("calls=%d ok=%d argument=%d resource=%d hostile=%d internal=%d slowest=%.2fs",
  counts.calls, counts.ok, counts.argument, counts.resource, counts.hostile, counts.internal, slowest))
if slowest > 1 then print("slowest call: " .. slowest_line) end
os.exit(counts.internal > 0 and 3 or 0)
