-- Shared by the workers that specs/distributed/*_mpispec.lua run under mpirun: the in-tree
-- build on the paths, and small models and data that every rank builds alike.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "./?.so;" .. package.cpath

local recur = require "recur"

local common = {recur = recur}

--- Embedding -> 2-layer LSTM or GRU -> Linear over `vocab` tokens.
function common.model(cell, vocab, hidden)
  local Cell = cell == "gru" and recur.GRU or recur.LSTM
  return recur.Sequential{
    {"embed", recur.Embedding{num_embeddings = vocab, embedding_dim = 6}},
    {"rnn", Cell{input_size = 6, hidden_size = hidden or 10, num_layers = 2}},
    {"decoder", recur.Linear{in_features = hidden or 10, out_features = vocab}},
  }
end

--- Step `step`'s global batch of token ids, x and y of shape (T, B), the same on every rank
-- (from a generator seeded by the step).
function common.batch(step, T, B, vocab)
  local gen = recur.Generator(1000 + step)
  local ids = recur.rand({T + 1, B}, gen):mul_(vocab)
  for t = 1, T + 1 do
    for b = 1, B do ids[t][b] = math.floor(ids[t][b]) + 1 end
  end
  return ids:narrow(1, 1, T), ids:narrow(1, 2, T)
end

--- Columns rank * B / world + 1 .. (rank + 1) * B / world of a (T, B) tensor: this rank's shard.
function common.shard(t, rank, world)
  local b = t:size(2) / world
  return t:narrow(2, rank * b + 1, b)
end

--- One training step on (x, y): forward, backward, `reduce` (e.g. the gradient allreduce),
-- optimizer step. Returns the loss.
function common.step(model, criterion, optimizer, x, y, reduce)
  optimizer:zero_grad()
  local loss = criterion:forward(model:forward(x), y)
  model:backward(criterion:backward())
  if reduce then reduce() end
  optimizer:step()
  return loss
end

--- The process id of this process (for the specs that kill a rank).
function common.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*l"):match("^(%d+)")
  f:close()
  return pid
end

return common
