-- recur.train.fit and recur.distributed.fit on the same char-rnn-style task (Embedding ->
-- 2-layer LSTM -> Linear, the hidden state carried from batch to batch, CharBatches with a
-- global batch of 8, 6 batches an epoch), for fit_mpispec.lua. Options:
--   --distributed          run as the ranks of an mpirun job (dist.fit, batch 8 / ranks each)
--   --steps N              steps to train (12)
--   --max-seconds S        fit's max_seconds
--   --checkpoint FILE      checkpoint every 6 steps
--   --resume FILE          resume from a checkpoint
--   --out FILE             rank 0 saves the parameters there
-- Prints "rank R: step S stopped X best_val V" from every rank, and whether the ranks
-- hold identical parameters.
local common = dofile("specs/distributed/workers/common.lua")
local recur = common.recur

local opt = {steps = 12}
local i = 1
while arg[i] do
  local name = arg[i]:match("^%-%-(.+)$")
  if name == "distributed" then opt.distributed = true else opt[name:gsub("%-", "_")] = arg[i + 1]; i = i + 1 end
  i = i + 1
end
local dist = opt.distributed and require("recur.distributed").init() or nil
local rank, world = dist and dist.rank() or 0, dist and dist.size() or 1

local VOCAB, T, B = 13, 5, 8
local function stream(n, seed)
  local t = recur.rand({n}, recur.Generator(seed)):mul_(VOCAB)
  for k = 1, n do t[k] = math.floor(t[k]) + 1 end
  return t
end
local train = recur.data.CharBatches{data = stream(241, 1), batch_size = B // world, seq_len = T, time_major = true,
  rank = rank, world = world}
local val = recur.data.CharBatches{data = stream(81, 2), batch_size = B // world, seq_len = T, time_major = true,
  rank = rank, world = world}

recur.manual_seed(5)
local model = common.model("lstm", VOCAB)
local embed, rnn, decoder = table.unpack(model.children)
local criterion = recur.CrossEntropyLoss()
local state = {train = {}, val = {}}
local history = (dist and dist.fit or recur.train.fit){
  model = model, optimizer = recur.optim.Adam{model, lr = 1e-3}, train = train, val = val, steps = tonumber(opt.steps),
  val_every = 6, clip_norm = 1, progress = false, max_seconds = tonumber(opt.max_seconds),
  checkpoint = opt.checkpoint, checkpoint_every = opt.checkpoint and 6 or nil, resume = opt.resume,
  print = function(line) print("fit: " .. line) end,
  forward = function(b, x, y, ctx)
    local s = ctx.validating and state.val or state.train
    if b == 1 then s.h, s.c = nil, nil end
    local out
    out, s.h, s.c = rnn:forward(embed:forward(x), s.h, s.c)
    return criterion:forward(decoder:forward(out), y)
  end,
  backward = function() embed:backward(rnn:backward(decoder:backward(criterion:backward()))) end,
}
print(string.format("rank %d: step %d stopped %s best_val %.9g", rank, history[#history].step, history.stopped,
  history.best_val or 0 / 0))
if dist then
  local same = true
  for _, p in ipairs(model:parameters()) do
    local hi, lo = dist.allreduce(p:clone(), "max"), dist.allreduce(p:clone(), "min")
    same = same and hi:sub(lo):norm() == 0
  end
  dist.print("identical parameters " .. tostring(same))
end
if opt.out and rank == 0 then recur.save(opt.out, model) end
