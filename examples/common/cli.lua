--- Command-line helpers shared by the example scripts (not part of the library: these exit
-- the process and run a shell). Load with `dofile(root .. "examples/common/cli.lua")`.
local cli = {}

--- os.execute as a boolean: true when the command exited with status 0 (5.1 returns a number).
function cli.execute(cmd)
  local ok, _, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end
  return ok == true and (code == nil or code == 0)
end

--- Creates a directory and its parents (mkdir -p); exits with a message when it cannot.
function cli.mkdir(path)
  if not cli.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'") then
    io.stderr:write("cannot create the directory ", path, "\n")
    os.exit(1)
  end
end

local function fail(message, usage)
  io.stderr:write(message, "\n", usage, "\n")
  os.exit(2)
end

--- Parses `--name value` and `--flag` command-line arguments against defaults: the type of
-- each default decides how its value is read (numbers, strings, booleans as flags; a boolean
-- flag also takes an explicit `true`/`false`/`on`/`off`). `--help` prints usage and exits;
-- unknown options and missing or malformed values exit with status 2.
-- @tab args the script's `arg`
-- @tab defaults name -> default value (names with dashes: "max-minutes")
-- @string usage printed by --help and on errors
function cli.parse_args(args, defaults, usage)
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  local i = 1
  while args[i] do
    local name = args[i]:match("^%-%-([%w%-]+)$")
    if name == "help" then
      io.write(usage, "\n")
      os.exit(0)
    end
    if not name or defaults[name] == nil then fail("unknown argument: " .. args[i], usage) end
    if type(defaults[name]) == "boolean" then
      local v = args[i + 1] and ({["true"] = true, on = true, ["false"] = false, off = false})[args[i + 1]]
      if v == nil then
        out[name] = true
      else
        out[name] = v
        i = i + 1
      end
    else
      local v = args[i + 1]
      if v == nil then fail("--" .. name .. " needs a value", usage) end
      if type(defaults[name]) == "number" then v = tonumber(v) or fail("--" .. name .. ": not a number: " .. v, usage) end
      out[name] = v
      i = i + 1
    end
    i = i + 1
  end
  return out
end

return cli
