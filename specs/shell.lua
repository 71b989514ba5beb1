-- Child processes for the specs that run them (through a POSIX shell).
local shell = {}

--- The output of a shell command.
function shell.capture(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

--- True when a shell command exits with status 0 (the examples' helper, also used here).
shell.execute = dofile("examples/common/cli.lua").execute

--- The current directory.
function shell.cwd() return (shell.capture("pwd"):gsub("%s+$", "")) end

--- A new empty directory under /tmp.
function shell.make_dir() return (shell.capture("mktemp -d"):gsub("%s+$", "")) end

--- A Lua line that gives a child interpreter, started in any directory, the spec's module
-- search paths (relative entries made absolute), so that it loads the same build of recur.
function shell.search_paths()
  local cwd = shell.cwd()
  local function absolute(search_path)
    return (search_path:gsub("[^;]+", function(entry)
      if entry:sub(1, 1) ~= "/" then return cwd .. "/" .. entry end
    end))
  end
  return string.format("package.path = %q package.cpath = %q", absolute(package.path), absolute(package.cpath))
end

return shell
