-- One side of bench/distributed.py: char-rnn training steps (Embedding 64 -> 2x128 LSTM,
-- dropout 0.25 -> Linear; Adam 2e-3, gradient clipping 5; global batch 50 x 50 characters
-- of tinyshakespeare, the state carried from batch to batch), as one process or, with
-- --distributed, as the ranks of an mpirun job, each on its share of the batch (CharBatches
-- with rank and world) with the gradients averaged by recur.distributed.
--
-- A persistent process: after a warm-up it prints "ready"; then each line "run N" on
-- (rank 0's) stdin runs N steps and prints
--   result <seconds> <exchange seconds> <waiting seconds>
-- where each step's exchange is the time spent in dist.allreduce_gradients right after a
-- barrier (the ranks start it together, so it is the exchange itself) and its waiting the
-- time spent in that barrier (the wait for the slower rank), each the most over the ranks.
-- "quit" ends it. With --trace,
-- each rank also writes to stderr, after each run, its time per step before the allreduce
-- (ms), which shows how the ranks' speeds move step by step.
--   lua5.4 bench/distributed.lua [--threads N]
--   mpirun -np 2 lua5.4 bench/distributed.lua --distributed
local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"

local opt = {distributed = false, trace = false, threads = 1, batch = 50, seq = 50, data = root .. "examples/data/tinyshakespeare.txt"}
local i = 1
while arg[i] do
  local name = arg[i]:match("^%-%-(%w+)$")
  if name == "distributed" or name == "trace" then
    opt[name] = true
  elseif name and opt[name] ~= nil and arg[i + 1] then
    opt[name], i = type(opt[name]) == "number" and assert(tonumber(arg[i + 1]), arg[i]) or arg[i + 1], i + 1
  else
    error("usage: lua5.4 bench/distributed.lua [--distributed] [--trace] [--threads N] [--batch N] [--seq N] [--data FILE]",
      0)
  end
  i = i + 1
end
recur.set_num_threads(opt.threads)
local dist = opt.distributed and require("recur.distributed").init() or nil
local rank, world = dist and dist.rank() or 0, dist and dist.size() or 1
if opt.batch % world ~= 0 then error("the batch must divide among the ranks") end
local share = opt.batch // world

recur.manual_seed(1)
local vocab = recur.data.vocab_of_file(opt.data)
local batches = recur.data.CharBatches{data = vocab:encode_file(opt.data), batch_size = share, seq_len = opt.seq,
  time_major = true, rank = rank, world = world}
local embed = recur.Embedding{num_embeddings = vocab:size(), embedding_dim = 64}
local rnn = recur.LSTM{input_size = 64, hidden_size = 128, num_layers = 2, dropout = 0.25}
local decoder = recur.Linear{in_features = 128, out_features = vocab:size()}
local model = recur.Sequential{{"embed", embed}, {"rnn", rnn}, {"decoder", decoder}}
local optimizer = recur.optim.Adam{model, lr = 2e-3}
local criterion = recur.CrossEntropyLoss()
if dist then dist.broadcast(model) end

local h, c, position, exchange, waiting, traced = nil, nil, 0, 0, 0, {}
local function step()
  local started = recur.monotonic()
  position = position % batches:num_batches() + 1
  local x, y = batches:batch(position)
  optimizer:zero_grad()
  local out, hn, cn = rnn:forward(embed:forward(x), h, c)
  local loss = criterion:forward(decoder:forward(out), y)
  embed:backward(rnn:backward(decoder:backward(criterion:backward())))
  if opt.trace then traced[#traced + 1] = string.format("%.1f", (recur.monotonic() - started) * 1000) end
  if dist then
    local t0 = recur.monotonic()
    dist.barrier()
    local t1 = recur.monotonic()
    dist.allreduce_gradients(model)
    waiting, exchange = waiting + t1 - t0, exchange + recur.monotonic() - t1
    loss = dist.allreduce(loss, "mean")
  end
  recur.clip_grad_norm(model, 5)
  optimizer:step()
  h, c = hn, cn
  return loss
end

for _ = 1, 3 do step() end
if rank == 0 then
  print("ready")
  io.stdout:flush()
end
while true do
  local n = 0
  if rank == 0 then
    local line = io.read("*l")
    n = tonumber(line and line:match("^run (%d+)$")) or 0
  end
  if dist then n = dist.allreduce(n, "max") end
  if n == 0 then break end
  if dist then dist.barrier() end
  exchange, waiting, traced = 0, 0, {}
  local t0 = recur.monotonic()
  for _ = 1, n do step() end
  if dist then dist.barrier() end
  local seconds = recur.monotonic() - t0
  if opt.trace then
    io.stderr:write(string.format("rank %d ms per step before the allreduce: %s\n", rank, table.concat(traced, " ")))
    traced = {}
  end
  if dist then exchange, waiting = dist.allreduce(exchange, "max"), dist.allreduce(waiting, "max") end
  if rank == 0 then
    print(string.format("result %.6f %.6f %.6f", seconds, exchange, waiting))
    io.stdout:flush()
  end
end
