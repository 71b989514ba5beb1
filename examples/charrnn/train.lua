-- Character-level language model (char-rnn) on Shakespeare: a multi-layer LSTM (or GRU)
-- (defaults: 2x128 LSTM, dropout 0.25, Adam 2e-3 decayed by 0.95 per epoch, 30 epochs)
-- trained with truncated backpropagation through time, the hidden state carried from
-- batch to batch. Prints progress, keeps the loss history as CSV and SVG, saves a
-- training checkpoint (resumable) and the best model (for sample.lua).
--
--   lua5.4 examples/charrnn/train.lua                        # 2x128 LSTM, defaults below
--   lua5.4 examples/charrnn/train.lua --cell gru --epochs 2
--   lua5.4 examples/charrnn/train.lua --resume examples/charrnn/out/checkpoint.safetensors

-- the in-tree build when run from a checkout (after `make`), else the installed rock
local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath

local recur = require "recur"

local usage = [==[
usage: lua5.4 examples/charrnn/train.lua [--data FILE] [--cell lstm|gru] [--layers N] [--hidden N]
  [--embed N] [--dropout P] [--seq N] [--batch N] [--lr X] [--lr-decay X] [--clip X] [--epochs N]
  [--max-minutes M] [--eval-every N] [--val-fraction F] [--seed N] [--threads N] [--out DIR] [--resume FILE]]==]
local opt = require("recur.util").parse_args(arg, {
  data = root .. "examples/data/tinyshakespeare.txt", cell = "lstm", layers = 2, hidden = 128, embed = 64,
  dropout = 0.25, seq = 50, batch = 50, lr = 2e-3, ["lr-decay"] = 0.95, clip = 5, epochs = 30,
  ["max-minutes"] = 0, ["eval-every"] = 500, ["val-fraction"] = 0.05, seed = 123, threads = 0,
  out = root .. "examples/charrnn/out", resume = "",
}, usage)

if opt.threads > 0 then recur.set_num_threads(opt.threads) end
recur.manual_seed(opt.seed)
require("recur.util").execute("mkdir -p '" .. opt.out .. "'")

-- data: characters (UTF-8 aware) -> ids, split into train and validation streams
local text = recur.data.read_file(opt.data)
local vocab = recur.data.vocab_of(text)
local train_ids, val_ids = recur.data.split(vocab:encode(text), 1 - opt["val-fraction"])
local train = recur.data.CharBatches{data = train_ids, batch_size = opt.batch, seq_len = opt.seq, time_major = true}
local val = recur.data.CharBatches{data = val_ids, batch_size = opt.batch, seq_len = opt.seq, time_major = true}

-- model: embedding -> recurrent layers -> linear decoder over the vocabulary
local Cell = opt.cell == "gru" and recur.GRU or recur.LSTM
local model = recur.Sequential{
  {"embed", recur.Embedding{num_embeddings = vocab:size(), embedding_dim = opt.embed}},
  {"rnn", Cell{input_size = opt.embed, hidden_size = opt.hidden, num_layers = opt.layers, dropout = opt.dropout}},
  {"decoder", recur.Linear{in_features = opt.hidden, out_features = vocab:size()}},
}
local embed, rnn, decoder = (table.unpack or unpack)(model.children)
local optimizer = recur.optim.Adam{model, lr = opt.lr}
local schedule = recur.optim.StepLR{optimizer, step_size = 1, gamma = opt["lr-decay"]}
local criterion = recur.CrossEntropyLoss()
local guard = recur.train.LossGuard{factor = 4}

local total = train:num_batches() * opt.epochs
local iteration, history = 0, {}
local best_val = math.huge
if opt.resume ~= "" then
  local info = recur.checkpoint.load_training(opt.resume, {model = model, optimizer = optimizer, schedule = schedule,
    data = train})
  iteration, history = info.iteration, info.history
  best_val = info.extra.best_val or best_val
  print(string.format("resumed from %s at iteration %d", opt.resume, iteration))
end

print(string.format("%d characters, vocabulary %d; %d train batches of %dx%d per epoch; %s %dx%d, %d parameters",
  #text, vocab:size(), train:num_batches(), opt.batch, opt.seq, opt.cell:upper(), opt.layers, opt.hidden,
  (function()
    local n = 0
    for _, p in ipairs(model:parameters()) do n = n + p:numel() end
    return n
  end)()))
local cfg = recur.config()
print(string.format("threads %d, BLAS %s (%s), OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s", recur.get_num_threads(),
  cfg.blas, cfg.blas_corename, os.getenv("OPENBLAS_NUM_THREADS") or "unset", os.getenv("OPENBLAS_CORETYPE") or "unset"))

-- one pass over batches with the state carried along; returns the mean loss
local function evaluate(batches)
  model:evaluate()
  local h, c, sum, n = nil, nil, 0, 0
  for i = 1, batches:num_batches() do
    local x, y = batches:batch(i)
    local out, hn, cn = rnn:forward(embed:forward(x), h, c)
    sum, n = sum + criterion:forward(decoder:forward(out), y), n + 1
    h, c = hn, cn
  end
  model:train()
  return sum / n
end

local function save_outputs(val_loss)
  local rows, train_series, val_series = {}, {x = {}, y = {}, name = "train"}, {x = {}, y = {}, name = "validation"}
  for i, r in ipairs(history) do
    rows[i] = {r.iteration, r.epoch, r.train, r.val or ""}
    train_series.x[#train_series.x + 1], train_series.y[#train_series.y + 1] = r.epoch, r.train
    if r.val then val_series.x[#val_series.x + 1], val_series.y[#val_series.y + 1] = r.epoch, r.val end
  end
  recur.plot.write_csv(opt.out .. "/history.csv", {"iteration", "epoch", "train_loss", "val_loss"}, rows)
  recur.plot.write_svg(opt.out .. "/loss.svg", {title = "char-rnn on " .. opt.data:match("[^/]*$"),
    xlabel = "epoch", ylabel = "cross-entropy (nats/char)", series = {train_series, val_series}})
  if val_loss and val_loss < best_val then
    best_val = val_loss
    recur.save(opt.out .. "/model.safetensors", model, {vocab = vocab.chars, val_loss = val_loss,
      iteration = iteration})
  end
  recur.checkpoint.save_training(opt.out .. "/checkpoint.safetensors", {model = model, optimizer = optimizer,
    schedule = schedule, data = train, iteration = iteration, history = history, extra = {best_val = best_val}})
end

local clock, start_iteration = recur.monotonic(), iteration
local start = clock
local h, c, smooth = nil, nil, nil
while iteration < total do
  for _, x, y in train:epoch() do
    iteration = iteration + 1
    optimizer:zero_grad()
    local e = embed:forward(x)
    local out, hn, cn = rnn:forward(e, h, c)
    local loss = guard:check(criterion:forward(decoder:forward(out), y), iteration)
    embed:backward(rnn:backward(decoder:backward(criterion:backward())))
    recur.clip_grad_norm(model, opt.clip)
    optimizer:step()
    h, c = hn, cn -- truncated BPTT: the state goes on, its gradient does not
    smooth = smooth and 0.98 * smooth + 0.02 * loss or loss
    local epoch = iteration / train:num_batches()
    local record = {iteration = iteration, epoch = epoch, train = loss}
    local now = recur.monotonic()
    local timed_out = opt["max-minutes"] > 0 and now - start > 60 * opt["max-minutes"]
    if iteration % opt["eval-every"] == 0 or iteration == total or timed_out then
      record.val = evaluate(val)
      local rate = (iteration - start_iteration) * opt.batch * opt.seq / (now - start)
      print(string.format("it %6d/%d  epoch %5.2f  train %.4f  val %.4f  lr %.2e  %6.0f chars/s  elapsed %s  ETA %s",
        iteration, total, epoch, smooth, record.val, optimizer.lr, rate, os.date("!%H:%M:%S", math.floor(now - start)),
        os.date("!%H:%M:%S", math.floor((total - iteration) * opt.batch * opt.seq / rate))))
      history[#history + 1] = record
      save_outputs(record.val)
    elseif iteration % 100 == 0 then
      history[#history + 1] = record
      print(string.format("it %6d/%d  epoch %5.2f  train %.4f  %6.0f chars/s", iteration, total, epoch, smooth,
        (iteration - start_iteration) * opt.batch * opt.seq / (now - start)))
    end
    if timed_out then
      print(string.format("stopping after %s minutes (--max-minutes)", opt["max-minutes"]))
      iteration = total
    end
    if iteration >= total then break end
  end
  schedule:step()
  h, c = nil, nil
end
print(string.format("best validation loss %.4f nats/char; model in %s/model.safetensors", best_val, opt.out))
