-- recur.distributed's API as the ranks of mpirun jobs of 2 and 3 ranks (the worker
-- specs/distributed/workers/api.lua runs the checks; every rank must pass each of them).
local mpirun = require "specs.distributed.mpirun"

local WORKER = "specs/distributed/workers/api.lua"

-- the names of the worker's checks, from its source
local function check_names()
  local names = {}
  for name in mpirun.read(WORKER):gmatch('\ncheck%("([^"]+)"') do names[#names + 1] = name end
  return names
end

for _, np in ipairs{2, 3} do
  describe(string.format("recur.distributed with %d ranks", np), function()
    local dir = mpirun.tmpdir()
    local out, status
    setup(function() out, status = mpirun.ranks(np, WORKER, {dir}) end)
    teardown(function() os.execute("rm -rf " .. mpirun.quote(dir)) end)

    it("ends with status 0", function()
      assert.are.equal(0, status, out)
    end)

    for _, name in ipairs(check_names()) do
      it(name, function()
        for rank = 0, np - 1 do
          local line = string.format("PASS %d %s\n", rank, name)
          if not out:find(line, 1, true) then
            local failure = out:match(string.format("FAIL %d %s[^\n]*", rank, name:gsub("%p", "%%%0")))
            error(string.format("rank %d: %s", rank, failure or "no result\n" .. out), 0)
          end
        end
      end)
    end

    it("print writes on rank 0 only", function()
      assert.matches("PRINTED 0", out, 1, true)
      for rank = 1, np - 1 do assert.is_nil(out:find("PRINTED " .. rank, 1, true)) end
    end)
  end)
end
