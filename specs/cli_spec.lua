-- The examples' command-line helpers live in examples/common/cli.lua, outside the library:
-- nothing that `require "recur"` loads exits the process or runs a shell.
local helpers = require "specs.helpers"

describe("examples' command line (examples/common/cli.lua)", function()
  local cli = dofile("examples/common/cli.lua")

  it("parses numbers, strings and flags against the defaults", function()
    local opt = cli.parse_args({"--seed", "5", "--out", "dir", "--verbose", "--quiet", "off"},
      {seed = 1, out = "x", verbose = false, quiet = true, lr = 0.5}, "usage")
    assert.are.same({seed = 5, out = "dir", verbose = true, quiet = false, lr = 0.5}, opt)
  end)

  it("exits with status 2 and the usage on unknown or malformed arguments", function()
    local script = os.tmpname() .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write('local cli = dofile("examples/common/cli.lua")\ncli.parse_args(arg, {seed = 1}, "usage: x")\n')
    f:close()
    local lua = helpers.interpreter()
    assert.is_true(helpers.execute(lua .. " " .. script .. " --seed 3"))
    assert.is_false(helpers.execute(lua .. " " .. script .. " --sed 3 2>/dev/null"))
    assert.is_false(helpers.execute(lua .. " " .. script .. " --seed x 2>/dev/null"))
    assert.is_false(helpers.execute(lua .. " " .. script .. " --seed 2>/dev/null"))
    os.remove(script)
  end)

  it("the library neither exits nor runs a shell", function()
    require "recur"
    assert.is_nil(require("recur.util").parse_args)
    assert.is_nil(require("recur.util").execute)
    for _, name in ipairs{"init", "util", "nn", "loss", "optim", "data", "plot", "train", "json", "checkpoint"} do
      local f = assert(io.open("lua/recur/" .. name .. ".lua"))
      local source = f:read("*a")
      f:close()
      for _, call in ipairs{"os%.exit", "os%.execute", "io%.popen"} do
        assert.is_nil(source:find(call), name .. ".lua calls " .. call)
      end
    end
  end)
end)
