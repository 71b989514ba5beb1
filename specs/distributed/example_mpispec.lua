-- The char-rnn example with --distributed, as 2 ranks: it trains, rank 0 alone prints and
-- writes its outputs, and the checkpoint resumes the job. Pending (with the reason in the
-- TAP line) while the example has no --distributed option.
local mpirun = require "specs.distributed.mpirun"

local EXAMPLE = "examples/charrnn/train.lua"

describe("examples/charrnn/train.lua --distributed", function()
  local supported = mpirun.read(EXAMPLE):find("distributed", 1, true) ~= nil
  local dir = mpirun.tmpdir()
  local args = {"--distributed", "--batch", "5", "--seq", "20", "--epochs", "1", "--max-minutes", "0.05",
    "--eval-every", "20", "--out", dir}
  local out, status
  setup(function()
    if supported then out, status = mpirun.ranks(2, EXAMPLE, args, 180) end
  end)
  teardown(function() os.execute("rm -rf " .. mpirun.quote(dir)) end)

  local function need_support()
    if not supported then pending(EXAMPLE .. " has no --distributed option yet") end
    return supported
  end

  it("trains as 2 ranks, rank 0 printing the global batch and the job's chars/s", function()
    if not need_support() then return end
    assert.are.equal(0, status, out)
    local _, headers = out:gsub("train batches of 10x20 per epoch", "")
    assert.are.equal(1, headers, out) -- one header: rank 0's, with the global batch 2 x 5
    assert.matches("chars/s", out, 1, true)
  end)

  it("writes the outputs and a checkpoint", function()
    if not need_support() then return end
    for _, f in ipairs{"history.csv", "loss.svg", "model.safetensors", "checkpoint.safetensors"} do
      assert.is_truthy(mpirun.read(dir .. "/" .. f), f)
    end
  end)

  it("resumes from its checkpoint", function()
    if not need_support() then return end
    local resume = {}
    for i, a in ipairs(args) do resume[i] = a end
    resume[#resume + 1], resume[#resume + 2] = "--resume", dir .. "/checkpoint.safetensors"
    local again, code = mpirun.ranks(2, EXAMPLE, resume, 180)
    assert.are.equal(0, code, again)
    assert.matches("resumed from", again, 1, true)
  end)
end)
