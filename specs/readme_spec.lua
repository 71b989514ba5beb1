-- Every ```lua block of README.md runs as it is, so that the README cannot drift from the
-- library: each in a child interpreter of the same Lua, in a temporary directory (where the
-- blocks' files go) that sees the repository's examples/, after the README's preamble block
-- (the one that starts with "-- preamble"), which defines the names blocks use without
-- defining them. Errors name README.md's lines.
local recur = require "recur"
local helpers = require "specs.helpers"
local shell = require "specs.shell"

local function lua_blocks(markdown)
  local blocks = {}
  for line_no, body in markdown:gmatch("()\n```lua\n(.-)\n```\n") do
    local _, newlines = markdown:sub(1, line_no):gsub("\n", "")
    blocks[#blocks + 1] = {line = newlines + 2, code = body}
  end
  return blocks
end

describe("README.md", function()
  local blocks = lua_blocks(recur.data.read_file("README.md"))
  local preamble
  for i, block in ipairs(blocks) do
    if block.code:find("^%-%- preamble") then preamble = table.remove(blocks, i) break end
  end

  it("has a preamble block and Lua blocks to run", function()
    assert.is_truthy(preamble, "no ```lua block starting with '-- preamble'")
    assert.is_true(#blocks >= 4, "only " .. #blocks .. " Lua blocks found")
  end)

  local dir = shell.make_dir()
  assert(shell.execute(string.format("ln -s %s/examples %s/examples", shell.cwd(), dir)))
  local paths = shell.search_paths()

  -- The block and the preamble at their lines of README.md, in a file of that name, so that
  -- errors point at the README's lines; line 1 (the title) gives the search paths.
  local function script_of(block)
    local lines = {paths}
    local function put(code, at)
      while #lines < at - 1 do lines[#lines + 1] = "" end
      for line in (code .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
    end
    put(preamble.code, preamble.line)
    put(block.code, block.line)
    return table.concat(lines, "\n") .. "\n"
  end

  for k, block in ipairs(blocks) do
    it(string.format("block %d (line %d) runs", k, block.line), function()
      assert.is_true(block.line > preamble.line, "a Lua block comes before the preamble")
      local f = assert(io.open(dir .. "/README.md", "wb"))
      f:write(script_of(block))
      f:close()
      local out = shell.capture(string.format("cd %s && %s README.md 2>&1 >/dev/null; echo \"exit $?\"", dir,
        helpers.interpreter()))
      assert(out:match("exit 0\n$"), out)
    end)
  end

  teardown(function() os.execute("rm -rf " .. dir) end)
end)
