-- A small data-parallel training run that saves a training checkpoint every 5 steps, for
-- the fault specs: each rank writes its pid to DIR/pid.<rank> when it starts; the run
-- ends after STEPS steps.
--   mpirun -np 2 lua5.4 specs/distributed/workers/train.lua DIR STEPS [CHECKPOINT]
-- With CHECKPOINT, the run resumes from it and prints the iteration it resumed at.
local common = dofile("specs/distributed/workers/common.lua")
local recur = common.recur
local dist = require("recur.distributed").init()

local dir, steps, resume = arg[1], tonumber(arg[2]), arg[3]
local rank, world = dist.rank(), dist.size()
local f = assert(io.open(string.format("%s/pid.%d", dir, rank), "w"))
f:write(common.pid())
f:close()

local T, B, VOCAB = 8, 4 * world, 11
recur.manual_seed(2)
local model = common.model("gru", VOCAB, 16)
local optimizer = recur.optim.Adam{model, lr = 1e-3}
local criterion = recur.CrossEntropyLoss()
local data = {position = 0, state = function(self) return {position = self.position} end,
  load_state = function(self, s) self.position = s.position end}
dist.broadcast(model)
local iteration = 0
if resume then
  iteration = dist.load_training(resume, {model = model, optimizer = optimizer, data = data}).iteration
  assert(data.position == iteration, "the data position resumes with the iteration")
  dist.print("resumed at iteration " .. iteration)
end
while iteration < steps do
  iteration = iteration + 1
  data.position = iteration
  local x, y = common.batch(iteration, T, B, VOCAB)
  local loss = common.step(model, criterion, optimizer, common.shard(x, rank, world), common.shard(y, rank, world),
    function() dist.allreduce_gradients(model) end)
  loss = dist.allreduce(loss, "mean")
  if iteration % 5 == 0 then
    dist.save_training(dir .. "/checkpoint.safetensors", {model = model, optimizer = optimizer, data = data,
      iteration = iteration})
    dist.print(string.format("checkpoint at iteration %d, loss %.4f", iteration, loss))
  end
end
dist.print("finished at iteration " .. iteration)
