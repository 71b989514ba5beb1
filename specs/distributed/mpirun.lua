-- Runs the workers of the distributed specs: under `mpirun --oversubscribe
-- --allow-run-as-root -np N` (one machine, loopback), or as a plain process, each bounded
-- by a timeout so that a hang fails the spec instead of the run.
local recur = require "recur"

local mpirun = {}

mpirun.LAUNCH = "mpirun --oversubscribe --allow-run-as-root"

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function command_line(args)
  local quoted = {}
  for i, a in ipairs(args or {}) do quoted[i] = shell_quote(a) end
  return table.concat(quoted, " ")
end

-- runs a shell command; returns its output (stdout and stderr), exit status and seconds
local function run(cmd, timeout)
  local start = recur.monotonic()
  local p = assert(io.popen(string.format("timeout -k 5 %d %s 2>&1; echo \"__EXIT $?\"", timeout, cmd)))
  local out = p:read("*a")
  p:close()
  local status = tonumber(out:match("__EXIT (%d+)%s*$"))
  return out:gsub("__EXIT %d+%s*$", ""), status, recur.monotonic() - start
end

--- Runs `lua5.4 script args...` as np ranks; returns output, exit status, seconds.
-- A status of 124 means the timeout (default 120 s) ended it.
function mpirun.ranks(np, script, args, timeout)
  return run(string.format("%s -np %d lua5.4 %s %s", mpirun.LAUNCH, np, script, command_line(args)), timeout or 120)
end

--- Runs `lua5.4 script args...` as a plain process (no mpirun).
function mpirun.plain(script, args, timeout)
  return run(string.format("lua5.4 %s %s", script, command_line(args)), timeout or 60)
end

--- Runs a shell command in the background, its output to `log` and its exit status to
-- `log .. ".status"` when it ends; returns the pid of the shell that waits for it.
function mpirun.background(cmd, log)
  local p = assert(io.popen(string.format("(%s > %s 2>&1; echo $? > %s) > /dev/null 2>&1 & echo $!", cmd,
    shell_quote(log), shell_quote(log .. ".status"))))
  local pid = p:read("*l")
  p:close()
  return pid
end

--- The contents of a file, or nil.
function mpirun.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Waits until fn() returns a true value or `seconds` pass; returns that value (or nil).
function mpirun.wait_for(fn, seconds)
  local deadline = recur.monotonic() + seconds
  repeat
    local v = fn()
    if v then return v end
    os.execute("sleep 0.1")
  until recur.monotonic() > deadline
  return nil
end

--- A fresh temporary directory.
function mpirun.tmpdir()
  local p = assert(io.popen("mktemp -d"))
  local dir = p:read("*l")
  p:close()
  return dir
end

mpirun.quote = shell_quote

return mpirun
