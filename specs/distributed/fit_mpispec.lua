-- recur.distributed.fit: fit's training loop as 2 ranks (workers/fit.lua) trains as one
-- process with the whole batch, stops every rank together, prints and writes on rank 0,
-- and resumes from its checkpoint. Run by `make test-mpi`.
local recur = require "recur"
local mpirun = require "specs.distributed.mpirun"

local WORKER = "specs/distributed/workers/fit.lua"

-- max |a - b| over max |b| across the tensors of two files
local function relative_difference(a_path, b_path)
  local a, b = recur.load(a_path), recur.load(b_path)
  local worst, scale = 0, 0
  for name, t in pairs(b) do
    assert(a[name], name)
    local da, db = a[name]:reshape{-1}, t:reshape{-1}
    for i = 1, db:numel() do
      worst = math.max(worst, math.abs(da[i] - db[i]))
      scale = math.max(scale, math.abs(db[i]))
    end
  end
  return worst / scale
end

local function count(text, pattern)
  local _, n = text:gsub(pattern, "")
  return n
end

describe("recur.distributed.fit", function()
  local dir = mpirun.tmpdir()
  teardown(function() os.execute("rm -rf " .. mpirun.quote(dir)) end)
  local single_out, single_status, out, status
  setup(function()
    single_out, single_status = mpirun.plain(WORKER, {"--out", dir .. "/single.safetensors"})
    out, status = mpirun.ranks(2, WORKER, {"--distributed", "--out", dir .. "/two.safetensors"})
  end)

  it("runs as 2 ranks", function()
    assert.are.equal(0, single_status, single_out)
    assert.are.equal(0, status, out)
  end)

  it("trains 2 ranks with batch 4 as fit trains 1 process with batch 8", function()
    local diff = relative_difference(dir .. "/two.safetensors", dir .. "/single.safetensors")
    assert(diff <= 1e-5, string.format("relative difference %.3g > 1e-5", diff))
    local best = single_out:match("rank 0: step 12 stopped steps best_val (%S+)")
    assert.is_not_nil(best, single_out)
    assert(math.abs(tonumber(out:match("rank 0: step 12 stopped steps best_val (%S+)")) - tonumber(best)) < 1e-5, out)
  end)

  it("ends every rank at the same step with the same history and identical parameters", function()
    local line0 = out:match("rank 0: ([^\n]+)")
    assert.are.equal(line0, out:match("rank 1: ([^\n]+)"))
    assert.matches("identical parameters true", out, 1, true)
  end)

  it("prints on rank 0 only", function()
    assert.are.equal(2, count(single_out, "fit: epoch"))
    assert.are.equal(2, count(out, "fit: epoch"))
  end)

  it("stops every rank after the same step when max_seconds runs out", function()
    local text, code = mpirun.ranks(2, WORKER, {"--distributed", "--max-seconds", "0"})
    assert.are.equal(0, code, text)
    assert.matches("rank 0: step 1 stopped time", text, 1, true)
    assert.matches("rank 1: step 1 stopped time", text, 1, true)
  end)

  it("resumes from rank 0's checkpoint as if it had not stopped", function()
    local checkpoint = dir .. "/checkpoint.safetensors"
    local first, code = mpirun.ranks(2, WORKER, {"--distributed", "--steps", "6", "--checkpoint", checkpoint})
    assert.are.equal(0, code, first)
    local text, code2 = mpirun.ranks(2, WORKER, {"--distributed", "--resume", checkpoint, "--out",
      dir .. "/resumed.safetensors"})
    assert.are.equal(0, code2, text)
    assert.are.equal(1, count(text, "resumed from"))
    assert.are.equal(0, relative_difference(dir .. "/resumed.safetensors", dir .. "/two.safetensors"))
  end)
end)
