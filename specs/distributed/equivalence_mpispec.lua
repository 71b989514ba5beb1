-- Two ranks with half the batch each train as one process with the whole batch: after 20
-- Adam steps the parameters (and the optimizer state) agree within 1e-5 relative, and the
-- ranks hold bit-identical parameters. Run by `make test-mpi` (mpirun, 2 ranks).
local recur = require "recur"
local mpirun = require "specs.distributed.mpirun"

local WORKER = "specs/distributed/workers/equivalence.lua"

-- max |a - b| / max |b| over the elements of one tensor
local function relative_difference(a, b)
  local da, db = a:reshape{-1}, b:reshape{-1}
  local worst, scale = 0, 0
  for i = 1, db:numel() do
    worst = math.max(worst, math.abs(da[i] - db[i]))
    scale = math.max(scale, math.abs(db[i]))
  end
  return scale > 0 and worst / scale or worst
end

describe("data-parallel training over MPI", function()
  local dir = mpirun.tmpdir()
  teardown(function() os.execute("rm -rf " .. mpirun.quote(dir)) end)

  for _, cell in ipairs{"lstm", "gru"} do
    describe("Embedding -> " .. cell:upper() .. " -> Linear, 20 Adam steps", function()
      local single, distributed = dir .. "/" .. cell .. "-1.safetensors", dir .. "/" .. cell .. "-2.safetensors"
      local out, status

      setup(function()
        local ref_out, ref_status = mpirun.plain(WORKER, {cell, single})
        assert(ref_status == 0, ref_out)
        out, status = mpirun.ranks(2, WORKER, {cell, distributed, "--distributed"})
      end)

      it("runs as 2 ranks", function()
        assert.are.equal(0, status, out)
      end)

      it("2 ranks with batch 4 reach the parameters and optimizer state of 1 process with batch 8", function()
        local want, got = recur.load(single), recur.load(distributed)
        local names = 0
        for name, t in pairs(want) do
          names = names + 1
          assert.is_not_nil(got[name], name)
          assert.are.same(t:shape(), got[name]:shape())
          local diff = relative_difference(got[name], t)
          assert(diff <= 1e-5, string.format("%s: relative difference %.3g > 1e-5", name, diff))
        end
        assert.are.equal(17, names) -- 11 parameters, 3 x 2 Adam buffers
      end)

      it("the 20 steps moved every parameter tensor", function()
        local common = dofile("specs/distributed/workers/common.lua")
        recur.manual_seed(7)
        local initial = common.model(cell, 13):named_parameters()
        local trained = recur.load(single)
        for name, t in pairs(initial) do
          assert(relative_difference(trained["model." .. name], t) > 1e-3, name .. " did not move")
        end
      end)

      it("the ranks hold bit-identical parameters and optimizer state", function()
        assert.matches("identical parameters true, identical optimizer state true, ranks 2", out, 1, true)
      end)
    end)
  end
end)
