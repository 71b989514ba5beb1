-- Failures of a data-parallel job end it on every rank, with a message and a non-zero
-- status, never a hang; the last checkpoint resumes it. Run by `make test-mpi`.
local recur = require "recur"
local mpirun = require "specs.distributed.mpirun"

local FAULTS, TRAIN = "specs/distributed/workers/faults.lua", "specs/distributed/workers/train.lua"

-- a job that failed as it should: non-zero status, not the timeout's, in under 30 s
local function assert_failed_fast(out, status, seconds)
  assert(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out)
  assert(seconds < 30, string.format("took %.1f s", seconds))
end

describe("a distributed job", function()
  it("raises a clear error for every call before dist.init(), then runs alone without mpirun", function()
    local out, status = mpirun.plain(FAULTS, {"before"})
    assert.are.equal(0, status, out)
    assert.matches("every call before init raised", out, 1, true)
    assert.matches("without mpirun: rank 0 of 1", out, 1, true)
  end)

  it("ends on every rank when one rank raises an error", function()
    local out, status, seconds = mpirun.ranks(2, FAULTS, {"error"}, 60)
    assert_failed_fast(out, status, seconds)
    assert.matches("rank 1 failed on purpose at step 3", out, 1, true)
    assert.matches("allreduce_gradients: rank 1 left the job after %d+ collectives, while rank 0 waits", out)
    assert.is_nil(out:find("finished", 1, true), out)
  end)

  it("ends with an error when the ranks run different numbers of collectives", function()
    local out, status, seconds = mpirun.ranks(2, FAULTS, {"extra"}, 60)
    assert_failed_fast(out, status, seconds)
    assert.matches("rank 1 finished 5 steps", out, 1, true)
    assert.matches("rank 1 left the job after %d+ collectives, while rank 0 waits in collective", out)
  end)

  it("raises on every rank when the ranks' models differ", function()
    local out, status, seconds = mpirun.ranks(2, FAULTS, {"mismatch"}, 60)
    assert_failed_fast(out, status, seconds)
    assert.matches("the ranks' parameters differ: rank(s) 1 against rank 0; this rank has gradient buffer 2: " ..
      "2208 values where rank 0 has gradient buffer 2: 1600 values", out, 1, true)
    assert.matches("the ranks' parameters differ: rank(s) 1 against rank 0; their own messages say how", out, 1, true)
  end)

  describe("with a rank killed by SIGKILL", function()
    local dir = mpirun.tmpdir()
    local checkpoint = dir .. "/checkpoint.safetensors"
    local log = dir .. "/log"
    local status, seconds
    teardown(function() os.execute("rm -rf " .. mpirun.quote(dir)) end)

    setup(function()
      local cmd = string.format("timeout -k 5 120 %s -np 2 lua5.4 %s %s 1000000000", mpirun.LAUNCH, TRAIN,
        mpirun.quote(dir))
      mpirun.background(cmd, log)
      -- kill rank 1 once a checkpoint exists and training has gone on past it
      assert(mpirun.wait_for(function() return mpirun.read(checkpoint) and mpirun.read(dir .. "/pid.1") end, 60),
        "no checkpoint within 60 s:\n" .. tostring(mpirun.read(log)))
      os.execute("sleep 0.5")
      local killed = recur.monotonic()
      assert(os.execute("kill -9 " .. mpirun.read(dir .. "/pid.1")))
      status = tonumber(mpirun.wait_for(function() return mpirun.read(log .. ".status") end, 60))
      seconds = recur.monotonic() - killed
    end)

    it("exits non-zero within 30 s", function()
      assert_failed_fast(mpirun.read(log), status, seconds)
    end)

    it("leaves a checkpoint that loads", function()
      local common = dofile("specs/distributed/workers/common.lua")
      local model = common.model("gru", 11, 16)
      local optimizer = recur.optim.Adam{model}
      local info = recur.checkpoint.load_training(checkpoint, {model = model, optimizer = optimizer})
      assert(info.iteration >= 5 and info.iteration % 5 == 0, "iteration " .. tostring(info.iteration))
      assert.are.equal(info.iteration, optimizer:state().step)
    end)

    it("resumes from that checkpoint with 2 ranks", function()
      local info = recur.checkpoint.load_training(checkpoint, {model = dofile(
        "specs/distributed/workers/common.lua").model("gru", 11, 16)})
      local out, code = mpirun.ranks(2, TRAIN, {dir, info.iteration + 5, checkpoint}, 60)
      assert.are.equal(0, code, out)
      assert.matches("resumed at iteration " .. info.iteration, out, 1, true)
      assert.matches("finished at iteration " .. (info.iteration + 5), out, 1, true)
    end)
  end)
end)
