-- Faulty jobs for faults_mpispec.lua, by MODE:
--   error     rank 1 raises an error at step 3 while the others go on to the gradient allreduce
--   extra     rank 0 runs one gradient allreduce more than the others
--   mismatch  rank 1 builds its model with another hidden size
--   before    (no mpirun) every function called before dist.init() raises; then init runs
--             the script as a job of one rank
local common = dofile("specs/distributed/workers/common.lua")
local recur = common.recur
local dist = require "recur.distributed"

local mode = arg[1]

if mode == "before" then
  for _, call in ipairs{
    {"rank"}, {"size"}, {"is_main"}, {"barrier"}, {"print", "x"}, {"allreduce", 1},
    {"allreduce_gradients", recur.Linear{in_features = 1, out_features = 1}}, {"broadcast", recur.zeros{1}},
    {"on_main", print}, {"save_training", "x", {}}, {"load_training", "x", {model = recur.zeros{1}}},
  } do
    local ok, err = pcall(dist[call[1]], select(2, table.unpack(call)))
    assert(not ok, call[1] .. " did not raise")
    local want = "recur.distributed." .. call[1] .. ": MPI is not initialised (call dist.init() first)"
    assert(err:find(want, 1, true), err)
  end
  local ok, err = pcall(function()
    local r = dist.rank() -- not a tail call: the error names this line
    return r
  end)
  assert(not ok and err:find("^specs/distributed/workers/faults.lua:%d+: "), "at the caller's line: " .. err)
  print("every call before init raised")
  dist.init()
  print(string.format("without mpirun: rank %d of %d", dist.rank(), dist.size()))
  return
end

dist.init()
local rank = dist.rank()
recur.manual_seed(1)
local model = common.model("lstm", 9, mode == "mismatch" and rank == 1 and 12 or 10)
local steps = 5 + ((mode == "extra" and rank == 0) and 1 or 0)
for step = 1, steps do
  if mode == "error" and rank == 1 and step == 3 then error("rank 1 failed on purpose at step 3") end
  for _, g in ipairs(model:gradients()) do g:fill(step) end
  dist.allreduce_gradients(model)
end
print(string.format("rank %d finished %d steps", rank, steps))
