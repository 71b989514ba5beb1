-- Every ```lua mpi block of the "Scaling out" text (README.md once it holds it, else
-- doc/scaling-out.md) runs as 2 ranks under mpirun, after the preamble below, which defines
-- the names the blocks use without defining them. (README.md's own spec runs only ```lua
-- blocks, in one process.)
local mpirun = require "specs.distributed.mpirun"

local PREAMBLE = [[
package.path = "%s/lua/?.lua;%s/lua/?/init.lua;" .. package.path
package.cpath = "%s/?.so;" .. package.cpath
local recur = require "recur"
local dist = require("recur.distributed").init()
local ids = recur.rand({6001}, recur.Generator(1)):mul_(20):add_(1) -- token ids 1..20 (floats)
for i = 1, ids:numel() do ids[i] = math.floor(ids[i]) end
local model = recur.Sequential{
  {"embed", recur.Embedding{num_embeddings = 20, embedding_dim = 8}},
  {"rnn", recur.LSTM{input_size = 8, hidden_size = 16, batch_first = true}},
  {"decoder", recur.Linear{in_features = 16, out_features = 20}},
}
local optimizer = recur.optim.Adam{model}
local criterion = recur.CrossEntropyLoss()
local path = "checkpoint.safetensors"
local train = recur.data.CharBatches{data = ids:narrow(1, 1, 5000), batch_size = 4, seq_len = 10,
  rank = dist.rank(), world = dist.size()}
local val = recur.data.CharBatches{data = ids:narrow(1, 5001, 1001), batch_size = 4, seq_len = 10,
  rank = dist.rank(), world = dist.size()}
]]

-- the README's "Scaling out" section summarises doc/scaling-out.md, which holds the blocks
local function source()
  return "doc/scaling-out.md", assert(mpirun.read("doc/scaling-out.md"))
end

describe("the Scaling out text", function()
  local name, text = source()
  local blocks = {}
  for at, body in text:gmatch("()\n```lua mpi\n(.-)\n```\n") do
    local _, lines = text:sub(1, at):gsub("\n", "")
    blocks[#blocks + 1] = {line = lines + 2, code = body}
  end
  local dir = mpirun.tmpdir()
  teardown(function() os.execute("rm -rf " .. mpirun.quote(dir)) end)

  it("has blocks to run", function()
    assert(#blocks >= 2, name .. " has " .. #blocks .. " ```lua mpi blocks")
  end)

  for k, block in ipairs(blocks) do
    it(string.format("block %d (%s line %d) runs as 2 ranks", k, name, block.line), function()
      local cwd = assert(io.popen("pwd")):read("*l")
      local script = dir .. "/block" .. k .. ".lua"
      local f = assert(io.open(script, "w"))
      f:write(PREAMBLE:format(cwd, cwd, cwd), block.code, "\n")
      f:close()
      os.execute("mkdir -p " .. mpirun.quote(dir .. "/out"))
      local p = assert(io.popen(string.format("cd %s && timeout 120 %s -np 2 lua5.4 %s 2>&1; echo \"exit $?\"",
        mpirun.quote(dir), mpirun.LAUNCH, mpirun.quote(script))))
      local out = p:read("*a")
      p:close()
      assert(out:match("exit 0\n$"), out)
    end)
  end
end)
