-- Character-level language model (char-rnn) on Shakespeare: a multi-layer LSTM (or GRU)
-- (defaults: 2x128 LSTM, dropout 0.25, Adam 2e-3 decayed by 0.95 per epoch, 30 epochs)
-- trained with truncated backpropagation through time, the hidden state carried from
-- batch to batch. Prints progress, keeps the loss history as CSV and SVG, saves a
-- training checkpoint (resumable) and the best model (for sample.lua).
--
--   lua5.4 examples/charrnn/train.lua                        # 2x128 LSTM, defaults below
--   lua5.4 examples/charrnn/train.lua --cell gru --epochs 2
--   lua5.4 examples/charrnn/train.lua --resume examples/charrnn/out/checkpoint.safetensors
--   lua5.4 examples/charrnn/train.lua --level word --min-count 3     # a word-level model
--   mpirun -np 2 lua5.4 examples/charrnn/train.lua --distributed --batch 25   # 2 ranks, global batch 50

-- the in-tree build when run from a checkout (after `make`), else the installed rock
local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath

local recur = require "recur"
local unpack = table.unpack or unpack -- Lua 5.1 and LuaJIT have it as a global
local cli = dofile(root .. "examples/common/cli.lua")

local usage = [==[
usage: lua5.4 examples/charrnn/train.lua [--data FILE] [--level char|word] [--min-count N] [--cell lstm|gru]
  [--layers N] [--hidden N] [--embed N] [--dropout P] [--seq N] [--batch N] [--lr X] [--lr-decay X] [--clip X]
  [--epochs N] [--steps N] [--max-minutes M] [--eval-every N] [--val-fraction F] [--seed N] [--threads N]
  [--guard on|off] [--trace FILE] [--out DIR] [--resume FILE] [--distributed]
With --distributed (under mpirun, recur-mpi built: make mpi), --batch is each rank's batch.]==]
local opt = cli.parse_args(arg, {
  data = root .. "examples/data/tinyshakespeare.txt", level = "char", ["min-count"] = 3, cell = "lstm", layers = 2,
  hidden = 128, embed = 64, dropout = 0.25, seq = 50, batch = 50, lr = 2e-3, ["lr-decay"] = 0.95, clip = 5,
  epochs = 30, steps = 0, ["max-minutes"] = 0, ["eval-every"] = 500, ["val-fraction"] = 0.05, seed = 123, threads = 0,
  guard = true, trace = "", out = root .. "examples/charrnn/out", resume = "", distributed = false,
}, usage)
-- data parallelism over MPI: each rank trains on its share of every batch (doc/scaling-out.md)
local dist = opt.distributed and require("recur.distributed").init()
local rank, world = dist and dist.rank() or 0, dist and dist.size() or 1
local say = dist and dist.print or print
if dist and opt.threads == 0 and not os.getenv("OPENBLAS_NUM_THREADS") then opt.threads = 1 end
if opt.level ~= "char" and opt.level ~= "word" then error("--level: expected char or word, got " .. opt.level, 0) end

if opt.threads > 0 then recur.set_num_threads(opt.threads) end
recur.manual_seed(opt.seed)
cli.mkdir(opt.out)

-- data: characters (UTF-8 aware) or words -> ids, streamed from the file into a compact
-- IdBuffer (1 byte per character here), split into train and validation streams
local vocab = opt.level == "char" and recur.data.vocab_of_file(opt.data) or
  recur.data.WordVocab{path = opt.data, min_count = opt["min-count"]}
local ids = vocab:encode_file(opt.data)
local train_ids, val_ids = recur.data.split(ids, 1 - opt["val-fraction"])
local function batches(stream)
  return recur.data.CharBatches{data = stream, batch_size = opt.batch, seq_len = opt.seq, time_major = true,
    rank = rank, world = world}
end
local train, val = batches(train_ids), batches(val_ids)

-- model: embedding -> recurrent layers -> linear decoder over the vocabulary
local Cell = opt.cell == "gru" and recur.GRU or recur.LSTM
local model = recur.Sequential{
  {"embed", recur.Embedding{num_embeddings = vocab:size(), embedding_dim = opt.embed}},
  {"rnn", Cell{input_size = opt.embed, hidden_size = opt.hidden, num_layers = opt.layers, dropout = opt.dropout}},
  {"decoder", recur.Linear{in_features = opt.hidden, out_features = vocab:size()}},
}
local embed, rnn, decoder = unpack(model.children)
local optimizer = recur.optim.Adam{model, lr = opt.lr}
local schedule = recur.optim.StepLR{optimizer, step_size = 1, gamma = opt["lr-decay"]}
local criterion = recur.CrossEntropyLoss()

local parameters = 0
for _, p in ipairs(model:parameters()) do parameters = parameters + p:numel() end
say(string.format("%d %ss (%s ids), vocabulary %d; %d train batches of %dx%d per epoch; %s %dx%d, %d parameters",
  ids:numel(), opt.level, ids:dtype(), vocab:size(), train:num_batches(), opt.batch * world, opt.seq, opt.cell:upper(),
  opt.layers, opt.hidden, parameters))
local cfg = recur.config()
say(string.format("threads %d, BLAS %s (%s), OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s", recur.get_num_threads(),
  cfg.blas, cfg.blas_corename, os.getenv("OPENBLAS_NUM_THREADS") or "unset", os.getenv("OPENBLAS_CORETYPE") or "unset"))

-- truncated backpropagation through time: the state goes on from batch to batch (its
-- gradient does not), from the first batch of each pass; training and validation keep
-- their own state
local state = {train = {}, val = {}}
local trace = opt.trace ~= "" and rank == 0 and assert(io.open(opt.trace, "w"))
local fit = dist and dist.fit or recur.train.fit
local history = fit{
  model = model, optimizer = optimizer, schedule = schedule, train = train, val = val, epochs = opt.epochs,
  steps = opt.steps > 0 and opt.steps or nil, max_seconds = opt["max-minutes"] > 0 and 60 * opt["max-minutes"] or nil,
  clip_norm = opt.clip, guard = opt.guard, val_every = opt["eval-every"], unit = opt.level .. "s",
  save_best = opt.out .. "/model.safetensors", best_metadata = {vocab = vocab.tokens, vocab_kind = vocab.kind},
  checkpoint = opt.out .. "/checkpoint.safetensors", checkpoint_every = opt["eval-every"],
  resume = opt.resume ~= "" and opt.resume or nil,
  forward = function(i, x, y, ctx)
    local s = ctx.validating and state.val or state.train
    if i == 1 then s.h, s.c = nil, nil end
    local out
    out, s.h, s.c = rnn:forward(embed:forward(x), s.h, s.c)
    return criterion:forward(decoder:forward(out), y)
  end,
  backward = function() embed:backward(rnn:backward(decoder:backward(criterion:backward()))) end,
  on_step = function(ctx) if trace then trace:write(ctx.step, ",", ctx.loss, "\n") end end,
}
if trace then trace:close() end
if rank > 0 then return end -- rank 0 writes the outputs

history:write_csv(opt.out .. "/history.csv")
history:write_svg(opt.out .. "/loss.svg", {title = "char-rnn on " .. opt.data:match("[^/]*$"),
  ylabel = "cross-entropy (nats/" .. opt.level .. ")"})
print(string.format("best validation loss %.4f nats/%s at step %d (%s); model in %s/model.safetensors",
  history.best_val or 0 / 0, opt.level, history.best_step or 0, history.stopped, opt.out))
