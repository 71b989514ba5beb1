-- Trains Embedding -> 2-layer LSTM/GRU -> Linear for 20 Adam steps on a global batch of B
-- sequences: as one process (no MPI) or, with --distributed, as the ranks of an mpirun job,
-- each on its B / size columns with the gradients averaged. Rank 0 (or the process) saves
-- the parameters and the optimizer state to OUT; a distributed run also prints whether the
-- ranks hold bit-identical parameters and optimizer buffers.
--   lua5.4 specs/distributed/workers/equivalence.lua lstm OUT
--   mpirun -np 2 lua5.4 specs/distributed/workers/equivalence.lua lstm OUT --distributed
local common = dofile("specs/distributed/workers/common.lua")
local recur = common.recur

local cell, out, distributed = arg[1], arg[2], arg[3] == "--distributed"
local T, B, VOCAB, STEPS = 7, 8, 13, 20
local dist = distributed and require("recur.distributed").init() or nil
local rank, world = dist and dist.rank() or 0, dist and dist.size() or 1

recur.manual_seed(7)
local model = common.model(cell, VOCAB)
local optimizer = recur.optim.Adam{model, lr = 1e-3}
local criterion = recur.CrossEntropyLoss()
if dist then dist.broadcast(model) end

for step = 1, STEPS do
  local x, y = common.batch(step, T, B, VOCAB)
  common.step(model, criterion, optimizer, common.shard(x, rank, world), common.shard(y, rank, world),
    dist and function() dist.allreduce_gradients(model) end)
end

-- every tensor equal on all ranks: its elementwise max and min over the ranks are itself
local function identical(tensors)
  for _, t in ipairs(tensors) do
    local hi, lo = dist.allreduce(t:clone(), "max"), dist.allreduce(t:clone(), "min")
    if hi:sub(lo):norm() ~= 0 or hi:sub(t):norm() ~= 0 then return false end
  end
  return true
end

local state = optimizer:state()
local saved = {}
for i, buffers in pairs(state.buffers) do
  for name, t in pairs(buffers) do saved[string.format("adam.%d.%s", i, name)] = t end
end
for name, t in pairs(model:named_parameters()) do saved["model." .. name] = t end
if dist then
  local names, buffers = {}, {}
  for name in pairs(saved) do names[#names + 1] = name end
  table.sort(names)
  for i, name in ipairs(names) do buffers[i] = saved[name] end
  local same = identical(model:parameters())
  local same_state = identical(buffers)
  dist.print(string.format("identical parameters %s, identical optimizer state %s, ranks %d", tostring(same),
    tostring(same_state), world))
end
if rank == 0 then recur.save(out, saved, {step = state.step}) end
