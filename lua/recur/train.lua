--- Training loops: `fit`, a divergence guard that does not cry wolf, gradient checks,
-- progress lines and timers.
-- @module recur.train
local core = require "recur.core"
local nn = require "recur.nn"
local optim = require "recur.optim"
local checkpoint = require "recur.checkpoint"
local plot = require "recur.plot"
local util = require "recur.util"

local train = {}

local function shown(v)
  if type(v) == "number" then return tostring(v) end
  if type(v) == "string" then return string.format("%q", v) end
  return util.describe(v)
end

local function is_finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

-- "NaN", "inf" or "-inf" whatever the C library prints
local function loss_text(x)
  if x ~= x then return "NaN" end
  return x > 0 and "inf" or "-inf"
end

--- Divergence
-- @section divergence

local LossGuard = util.class("recur.train.LossGuard")

--- Stops a run whose loss is not finite or has exploded: `guard:check(loss, step)` raises
-- a clear error when the loss is NaN or infinite (at once), or when its exponential moving
-- average has stayed above `factor` times the lowest average seen so far for `patience`
-- checks in a row (after `warmup` checks). Judging the smoothed loss against its own history
-- lets single noisy mini-batches pass: healthy runs of the examples never trip it over 10
-- seeds each, while the same models with lr = 10 trip within 50 steps (see README).
-- Options: `factor` (3), `smoothing` (0.1: the weight of each new loss in the average),
-- `patience` (10), `warmup` (10).
function train.LossGuard(opts)
  local o = util.options("LossGuard", opts or {}, {
    factor = {"number", default = 3, min = 1},
    smoothing = {"number", default = 0.1, min = 0, max = 1},
    patience = {"integer", default = 10, min = 1},
    warmup = {"integer", default = 10, min = 0},
  })
  if o.smoothing <= 0 then util.error("LossGuard: option smoothing: expected a number in (0, 1], got 0") end
  o.seen, o.above, o.best, o.average = 0, 0, nil, nil
  return setmetatable(o, LossGuard)
end

--- Checks one loss: raises "training diverged ..." (see @{LossGuard}).
-- @number loss
-- @int[opt] step for the message
-- @treturn number loss
function LossGuard:check(loss, step)
  if step ~= nil and not util.is_integer(step) then
    util.error("check: step: expected an integer or nil, got %s", shown(step))
  end
  local where = step and (" at step " .. tostring(step)) or ""
  if type(loss) ~= "number" then
    util.error(string.format("check: loss: expected a number, got %s", shown(loss)))
  end
  if not is_finite(loss) then
    util.error(string.format("training diverged%s: the loss is %s (try a lower learning rate or gradient clipping)",
      where, loss_text(loss)))
  end
  self.seen = self.seen + 1
  self.average = self.average and self.average + self.smoothing * (loss - self.average) or loss
  if self.best and self.seen > self.warmup and self.average > self.factor * self.best then
    self.above = self.above + 1
    if self.above >= self.patience then
      util.error(string.format("training diverged%s: the smoothed loss %.4g has stayed above %g x its lowest %.4g for %d " ..
        "steps (try a lower learning rate or gradient clipping)", where, self.average, self.factor, self.best,
        self.above))
    end
  else
    self.above = 0
  end
  if not self.best or self.average < self.best then self.best = self.average end
  return loss
end

--- The guard's running values (JSON, for checkpoints).
function LossGuard:state() return {seen = self.seen, above = self.above, best = self.best, average = self.average} end
--- Restores the running values from @{LossGuard:state}.
-- @tab s
function LossGuard:load_state(s)
  local function count(v) return util.is_integer(v) and v >= 0 end
  local function level(v) return type(v) == "number" or (v == nil and s.seen == 0) end
  if type(s) ~= "table" or not count(s.seen) or not (s.above == nil or count(s.above)) or not level(s.best)
    or not level(s.average) then
    util.error("load_state: expected a table from LossGuard:state() ({seen, above, best, average}), got " .. shown(s))
  end
  self.seen, self.above, self.best, self.average = s.seen, s.above or 0, s.best, s.average
  return self
end

--- Raises a clear error when a gradient holds NaN or infinity (after backward, before the
-- optimizer step, so that the parameters stay finite). `params` is what optimizers take.
function train.check_gradients(params, step)
  if type(params) ~= "table" and type(params) ~= "userdata" then
    util.error("check_gradients: params: expected a module, a {param, grad} pair or a table of them, got " .. shown(params))
  end
  for i, pair in ipairs(nn.flat_pairs(params, "check_gradients")) do
    if not pair[2]:all_finite() then
      util.error(string.format("training diverged%s: gradient buffer %d holds NaN or infinity (try a lower learning " ..
        "rate or gradient clipping)", step and (" at step " .. tostring(step)) or "", i))
    end
  end
end

--- Progress
-- @section progress

--- A wall-clock timer (recur.monotonic, not CPU time): `timer.elapsed()` in seconds,
-- `timer.rate(items)` items per second since the start, `timer.eta(done, total)` the
-- seconds left at that rate.
function train.Timer()
  local start = core.monotonic()
  local t = {}
  function t.elapsed() return core.monotonic() - start end
  function t.rate(items) return items / math.max(t.elapsed(), 1e-9) end
  function t.eta(done, total) return done > 0 and t.elapsed() / done * (total - done) or 0 end
  return t
end

--- "1:02:03" or "2:03" for a number of seconds.
function train.format_duration(seconds)
  if type(seconds) ~= "number" then util.error("format_duration: seconds: expected a number, got %s", shown(seconds)) end
  if not is_finite(seconds) then return "?" end
  seconds = math.max(0, math.floor(seconds + 0.5))
  local h, m, s = util.idiv(seconds, 3600), util.idiv(seconds, 60) % 60, seconds % 60
  if h > 0 then return string.format("%.0f:%02d:%02d", h, m, s) end
  return string.format("%d:%02d", m, s)
end

local Progress = util.class("recur.train.Progress")

--- Progress of a run of `total` steps (nil when unknown): on a terminal one line updated in
-- place (at most 10 times a second), otherwise a line every `every` seconds (10), each with
-- the percentage, items per second, the ETA and the fields given to `update`.
-- Options: `total`, `unit` ("items"), `every` (10), `out` (io.stdout), `terminal` (whether
-- out is a terminal; detected by default).
function train.Progress(opts)
  local o = util.options("Progress", opts or {}, {
    total = {"integer", min = 1}, unit = {"string", default = "items"}, every = {"number", default = 10, min = 0},
    out = {"any"}, terminal = {"boolean"},
  })
  o.out = o.out or io.stdout
  if o.terminal == nil then
    local ok, tty = pcall(core.F.isatty, o.out)
    o.terminal = ok and tty
  end
  o.start, o.last, o.items, o.shown = core.monotonic(), -math.huge, 0, false
  return setmetatable(o, Progress)
end

--- Records `items` more items at step `done` and shows a line if it is time; `fields` is a
-- string appended to the line (e.g. "loss 1.234").
function Progress:update(done, items, fields)
  if not util.is_integer(done) then util.error("update: done: expected an integer, got %s", shown(done)) end
  if items ~= nil and type(items) ~= "number" then
    util.error("update: items: expected a number or nil, got %s", shown(items))
  end
  if fields ~= nil and type(fields) ~= "string" then
    util.error("update: fields: expected a string or nil, got %s", shown(fields))
  end
  self.items = self.items + (items or 0)
  local now = core.monotonic()
  if now - self.last < (self.terminal and 0.1 or self.every) then return end
  self.last = now
  local elapsed = now - self.start
  local rate = self.items / math.max(elapsed, 1e-9)
  local parts = {}
  if self.total then
    parts[1] = string.format("%5.1f%% %.0f/%.0f", 100 * done / self.total, done, self.total)
    parts[2] = "ETA " .. train.format_duration(done > 0 and elapsed / done * (self.total - done) or 1 / 0)
  else
    parts[1] = string.format("step %.0f", done)
  end
  parts[#parts + 1] = string.format("%.0f %s/s", rate, self.unit)
  if fields and fields ~= "" then parts[#parts + 1] = fields end
  local line = table.concat(parts, "  ")
  if self.terminal then
    self.out:write("\r", line, "\027[K")
    self.shown = true
  else
    self.out:write(line, "\n")
  end
  self.out:flush()
end

--- Writes a line of its own (clearing a progress line on a terminal first).
function Progress:print(line)
  if type(line) ~= "string" then util.error("print: line: expected a string, got %s", shown(line)) end
  if self.shown then self.out:write("\r\027[K") end
  self.shown = false
  self.out:write(line, "\n")
  self.out:flush()
end

--- Ends the in-place line (on a terminal).
function Progress:finish()
  if self.shown then self.out:write("\n") end
  self.shown = false
end

--- Histories
-- @section history

local History = util.class("recur.train.History")

local COLUMNS = {"step", "epoch", "train_loss", "val_loss", "lr", "seconds"}

--- A history of a run: rows (array part) with `step`, `epoch` (fractional), `train_loss`
-- (mean since the previous row), `val_loss` (when validated), `lr` and `seconds`; `losses`
-- (every step's loss); after `fit`, `best_val`, `best_step` and `stopped` (why it ended:
-- "epochs", "steps", "time", "early stopping" or "callback").
function train.History(rows, losses)
  if rows ~= nil then util.array("History", "rows", rows, function(r) return type(r) == "table" end, "a table") end
  if losses ~= nil then
    util.array("History", "losses", losses, function(l) return type(l) == "number" end, "a number")
  end
  local self = setmetatable({losses = losses or {}}, History)
  for i = 1, rows and util.rawlen(rows) or 0 do self[i] = rawget(rows, i) end
  return self
end

--- Writes the rows as CSV (empty cells where a value is missing).
function History:write_csv(path)
  local rows = {}
  for i, r in ipairs(self) do
    local row = {}
    for k, name in ipairs(COLUMNS) do row[k] = r[name] == nil and "" or r[name] end
    rows[i] = row
  end
  plot.write_csv(path, COLUMNS, rows)
end

--- Writes the training and validation losses against epochs as an SVG chart.
-- @string path
-- @tparam[opt] table opts `title`, `ylabel`
function History:write_svg(path, opts)
  opts = util.options("write_svg", opts or {}, {title = {"string"}, ylabel = {"string"}})
  local series = {{name = "train", x = {}, y = {}}, {name = "validation", x = {}, y = {}}}
  for _, r in ipairs(self) do
    for k, v in ipairs{r.train_loss, r.val_loss} do
      if v then
        series[k].x[#series[k].x + 1], series[k].y[#series[k].y + 1] = r.epoch, v
      end
    end
  end
  if #series[2].x == 0 then series[2] = nil end
  plot.write_svg(path, {title = opts.title or "loss", xlabel = "epoch", ylabel = opts.ylabel or "loss", series = series})
end

--- fit
-- @section fit

-- calls m:train() or m:evaluate() on the model, or on each module of a table of modules
local function set_training(model, on)
  local function visit(m)
    if (type(m) == "table" or type(m) == "userdata") and type(m.train) == "function" then
      if on then m:train() else m:evaluate() end
      return true
    end
    return false
  end
  if not visit(model) and type(model) == "table" then
    for _, m in pairs(model) do visit(m) end
  end
end

local function pack(...) return {n = select("#", ...), ...} end

-- the mean loss of `forward` over a loader, in evaluation mode
local function mean_loss(loader, forward, ctx)
  local sum, n = 0, 0
  local iterate = loader:epoch()
  while true do
    local batch = pack(iterate())
    if batch[1] == nil then break end
    batch[batch.n + 1] = ctx
    sum, n = sum + forward(util.unpack(batch, 1, batch.n + 1)), n + 1
  end
  if n == 0 then error("fit: the validation loader gave no batch", 0) end
  return sum / n
end

local FIT_OPTIONS = {
  model = {"any", required = true}, criterion = {"any"}, optimizer = {"any", required = true},
  train = {"any", required = true}, val = {"any"},
  epochs = {"integer", min = 1}, steps = {"integer", min = 1}, max_seconds = {"number", min = 0},
  schedule = {"any"}, schedule_every = {"string", default = "epoch", one_of = {"epoch", "step"}},
  clip_norm = {"number", min = 0}, guard = {"any", default = true}, check_gradients = {"boolean", default = true},
  patience = {"integer", min = 1}, min_delta = {"number", default = 0, min = 0}, keep_best = {"boolean"},
  val_every = {"integer", min = 1}, save_best = {"string"}, best_metadata = {"table"},
  checkpoint = {"string"}, checkpoint_every = {"integer", min = 1}, resume = {"string"}, generators = {"table"},
  forward = {"any"}, backward = {"any"}, evaluate = {"any"},
  on_step = {"any"}, on_epoch = {"any"}, on_gradients = {"any"},
  progress = {"boolean", default = true}, log_every = {"number", default = 10, min = 0},
  unit = {"string", default = "items"}, items = {"any"}, out = {"any"}, print = {"any"},
}
local FIT_FUNCTIONS = {"forward", "backward", "evaluate", "on_step", "on_epoch", "on_gradients", "items", "print"}

-- the checks of fit's options that util.options cannot express
local function check_fit_options(o)
  local function need(cond, message) if not cond then util.error("fit: " .. message) end end
  for _, name in ipairs(FIT_FUNCTIONS) do
    need(o[name] == nil or type(o[name]) == "function", "option " .. name .. ": expected a function, got " .. shown(o[name]))
  end
  need(type(o.train) == "table" and type(o.train.epoch) == "function",
    "option train: expected a loader with epoch() (CharBatches, WindowLoader or your own), got " .. shown(o.train))
  need(o.val == nil or (type(o.val) == "table" and type(o.val.epoch) == "function") or o.evaluate,
    "option val: expected a loader with epoch(), got " .. shown(o.val))
  need(type(o.optimizer) == "table" and type(o.optimizer.step) == "function",
    "option optimizer: expected an optimizer (recur.optim.Adam{...}), got " .. shown(o.optimizer))
  need(o.criterion or o.forward, "give a criterion, or forward(batch..., ctx) returning the loss")
  need(o.schedule == nil or type(o.schedule.step) == "function",
    "option schedule: expected a schedule (recur.optim.StepLR{...}), got " .. shown(o.schedule))
  need(not o.patience or o.val or o.evaluate, "option patience needs a validation loader (val)")
  need(not o.forward == not o.backward, "give forward and backward together")
  need(o.guard == true or o.guard == false or getmetatable(o.guard) == LossGuard or type(o.guard) == "table",
    "option guard: expected true, false, a LossGuard or its options, got " .. shown(o.guard))
  need(not o.resume or not o.resume:find("^%s*$"), "option resume: expected a path")
end

--- Trains a model and returns its `History`.
--
-- Each step: `optimizer:zero_grad()`, the loss of a batch (`forward`), the divergence guard,
-- `backward`, `on_gradients`, a gradient check, clipping to `clip_norm`, `optimizer:step()`.
-- By default forward is `criterion:forward(model:forward(x), y)` with x and y the last two
-- values of each batch, and backward `model:backward(criterion:backward())`; give your own
-- `forward(batch..., ctx)` (returns the loss) and `backward(ctx)` for other models (e.g. to
-- carry a hidden state between batches).
--
-- Options:
--
-- - `model` (what is trained, saved and set to train/evaluate mode: a module or a table of
--   modules), `optimizer`, `criterion`, `train` (a loader: anything with `epoch()`, and
--   `num_batches()` for progress), `val` (a loader, optional)
-- - `epochs` (1 unless `steps` is given), `steps` (most optimizer steps), `max_seconds`
-- - `schedule` (stepped each epoch, or each step with `schedule_every = "step"`),
--   `clip_norm`, `guard` (true: a `LossGuard{}`; false; a LossGuard or its options),
--   `check_gradients` (true)
-- - validation and early stopping: `val_every` (steps; default at each epoch end),
--   `patience` (validations without an improvement of more than `min_delta` before
--   stopping), `keep_best` (restore the weights of the best validation at the end; true when
--   val is given), `save_best` (a path: the best model is saved there with `recur.save`,
--   with `best_metadata`), `evaluate(ctx)` (returns the validation loss, instead of the mean
--   of forward over val); validation runs in evaluation mode under `recur.no_grad`
-- - checkpoints: `checkpoint` (a path; saved each epoch and every `checkpoint_every` steps
--   with recur.checkpoint.save_training, with the train loader's position and the named
--   `generators`; with keep_best and no save_best, the best weights go to
--   "<checkpoint>.best.safetensors"), `resume` (a path from an earlier run: continue from there)
-- - callbacks, given a context table `ctx` (`step`, `epoch`, `loss`, `lr`, `history`,
--   `grad_norm`, `val_loss`, `best_val`; set `ctx.stop = true` to end the run):
--   `on_step(ctx)`, `on_epoch(ctx)`, `on_gradients(ctx)` (after backward, before clipping:
--   e.g. to average gradients across processes)
-- - output: `progress` (true), `log_every` (seconds between lines when not on a terminal,
--   10), `unit` ("items") and `items(batch...)` (items per batch: by default the number of
--   elements of the batch's last value, the target), `out` (io.stdout), `print(line)`
function train.fit(opts)
  local o = util.options("fit", opts, FIT_OPTIONS)
  check_fit_options(o)
  if not o.epochs and not o.steps then o.epochs = 1 end
  local has_val = o.val ~= nil or o.evaluate ~= nil
  if o.keep_best == nil then o.keep_best = has_val end
  local guard = o.guard
  if guard == true then guard = train.LossGuard() end
  if type(guard) == "table" and getmetatable(guard) ~= LossGuard then guard = train.LossGuard(guard) end
  local model, criterion, optimizer = o.model, o.criterion, o.optimizer
  local forward = o.forward or function(...)
    local n = select("#", ...) -- batch values, then ctx
    local x, y = select(n - 2, ...)
    return criterion:forward(model:forward(x), y)
  end
  local backward = o.backward or function() model:backward(criterion:backward()) end
  local batches_per_epoch = type(o.train.num_batches) == "function" and o.train:num_batches() or nil
  local total = o.steps
  if o.epochs and batches_per_epoch then total = math.min(total or math.huge, o.epochs * batches_per_epoch) end
  local progress = train.Progress{total = total, unit = o.unit, every = o.log_every, out = o.out}
  local say = o.print or function(line) progress:print(line) end
  local function progress_elapsed() return core.monotonic() - progress.start end

  local history = train.History()
  local ctx = {model = model, optimizer = optimizer, history = history, step = 0, epoch = 1}
  local best_val, best_step, bad, best_weights, last_val_step = nil, nil, 0, nil, nil
  local since_sum, since_count, epoch_batches, elapsed_before = 0, 0, 0, 0
  local smooth

  -- where the best weights survive a resume: the save_best file, else one beside the checkpoint
  local function beside(path) return path and path:gsub("%.safetensors$", "") .. ".best.safetensors" end
  local best_path = o.save_best or beside(o.checkpoint)
  local best_saved_step

  local function save_checkpoint()
    if not o.checkpoint then return end
    if o.keep_best and best_weights and not o.save_best and best_saved_step ~= best_step then
      checkpoint.save(best_path, best_weights, {step = best_step})
      best_saved_step = best_step
    end
    checkpoint.save_training(o.checkpoint, {model = model, optimizer = optimizer, schedule = o.schedule,
      data = type(o.train.state) == "function" and o.train or nil, generators = o.generators, iteration = ctx.step,
      history = {util.unpack(history)}, extra = {fit = {epoch = ctx.epoch, epoch_batches = epoch_batches,
        best_val = best_val, best_step = best_step, bad = bad, guard = guard and guard:state() or nil,
        losses = history.losses, since_sum = since_sum, since_count = since_count,
        seconds = elapsed_before + progress_elapsed()}}})
  end

  if o.resume then
    local info = checkpoint.load_training(o.resume, {model = model, optimizer = optimizer, schedule = o.schedule,
      data = type(o.train.load_state) == "function" and o.train or nil, generators = o.generators})
    local s = info.extra and info.extra.fit
    if not s then util.error("fit: " .. o.resume .. " was not written by fit (no fit state)") end
    history = train.History(info.history, s.losses)
    ctx.history, ctx.step, ctx.epoch, epoch_batches = history, info.iteration, s.epoch, s.epoch_batches or 0
    best_val, best_step, bad = s.best_val, s.best_step, s.bad or 0
    since_sum, since_count, elapsed_before = s.since_sum or 0, s.since_count or 0, s.seconds or 0
    if guard and s.guard then guard:load_state(s.guard) end
    if o.keep_best and best_val then
      local ok, tensors = pcall(checkpoint.load, o.save_best or beside(o.resume))
      if not ok then util.error("fit: cannot resume the best weights: " .. tostring(tensors)) end
      best_weights, best_saved_step = tensors, best_step
    end
    say(string.format("resumed from %s at step %d (epoch %d)", o.resume, ctx.step, ctx.epoch))
  end

  local function add_row(val_loss)
    local row = {step = ctx.step, epoch = (ctx.epoch - 1) + (batches_per_epoch and epoch_batches / batches_per_epoch or 1),
      train_loss = since_count > 0 and since_sum / since_count or nil, val_loss = val_loss, lr = optimizer.lr,
      seconds = elapsed_before + progress_elapsed()}
    history[#history + 1] = row
    since_sum, since_count = 0, 0
    return row
  end

  local function validate()
    last_val_step = ctx.step
    set_training(model, false)
    ctx.validating = true
    local val_loss = nn.no_grad(function() return o.evaluate and o.evaluate(ctx) or mean_loss(o.val, forward, ctx) end)
    ctx.validating = nil
    set_training(model, true)
    local improved = val_loss == val_loss and (not best_val or val_loss < best_val - o.min_delta)
    if improved then
      best_val, best_step, bad = val_loss, ctx.step, 0
      if o.keep_best then
        local _, tensors = checkpoint.state_of(model)
        best_weights = {}
        for name, t in pairs(tensors) do best_weights[name] = t:clone() end
      end
      if o.save_best then
        local meta = {val_loss = val_loss, step = ctx.step}
        for k, v in pairs(o.best_metadata or {}) do meta[k] = v end
        checkpoint.save(o.save_best, model, meta)
      end
    else
      bad = bad + 1
    end
    ctx.val_loss, ctx.best_val = val_loss, best_val
    local row = add_row(val_loss)
    say(string.format("epoch %.2f  step %d  train %s  val %.4f%s  lr %.3g  %s", row.epoch, ctx.step,
      row.train_loss and string.format("%.4f", row.train_loss) or "-", val_loss, improved and " (best)" or "",
      optimizer.lr, train.format_duration(row.seconds)))
    if o.patience and bad >= o.patience then
      say(string.format("early stopping: no improvement in %d validations (best %.4f at step %d)", bad, best_val,
        best_step))
      return "early stopping"
    end
  end

  local stopped
  set_training(model, true)
  while not stopped do
    if o.epochs and ctx.epoch > o.epochs then stopped = "epochs" break end
    local iterate = o.train:epoch()
    local ended = true
    while true do
      local batch = pack(iterate())
      if batch[1] == nil then break end
      ctx.step, epoch_batches, ctx.grad_norm = ctx.step + 1, epoch_batches + 1, nil
      batch[batch.n + 1] = ctx
      optimizer:zero_grad()
      local loss = forward(util.unpack(batch, 1, batch.n + 1))
      if type(loss) ~= "number" then util.error("fit: forward returned " .. shown(loss) .. ", not the loss (a number)") end
      if guard then guard:check(loss, ctx.step) elseif not is_finite(loss) then
        util.error(string.format("training diverged at step %d: the loss is %s", ctx.step, loss_text(loss)))
      end
      backward(ctx)
      ctx.loss = loss
      if o.on_gradients then o.on_gradients(ctx) end
      if o.check_gradients then train.check_gradients(model, ctx.step) end
      if o.clip_norm then ctx.grad_norm = optim.clip_grad_norm(model, o.clip_norm) end
      optimizer:step()
      if o.schedule and o.schedule_every == "step" then o.schedule:step() end
      ctx.lr = optimizer.lr
      history.losses[#history.losses + 1] = loss
      since_sum, since_count = since_sum + loss, since_count + 1
      smooth = smooth and smooth + 0.05 * (loss - smooth) or loss
      if o.progress then
        local last = batch[batch.n]
        local items = o.items and o.items(util.unpack(batch, 1, batch.n)) or
          (type(last) == "userdata" and type(last.numel) == "function" and last:numel()) or 1
        progress:update(ctx.step, items, string.format("epoch %d%s  loss %.4f", ctx.epoch,
          o.epochs and "/" .. o.epochs or "", smooth))
      end
      if o.on_step then o.on_step(ctx) end
      if has_val and o.val_every and ctx.step % o.val_every == 0 then stopped = validate() end
      if o.checkpoint_every and ctx.step % o.checkpoint_every == 0 then save_checkpoint() end
      if ctx.stop then stopped = "callback" end
      if o.steps and ctx.step >= o.steps then stopped = stopped or "steps" end
      if o.max_seconds and progress_elapsed() >= o.max_seconds then stopped = stopped or "time" end
      if stopped then
        ended = batches_per_epoch ~= nil and epoch_batches >= batches_per_epoch
        break
      end
    end
    -- a validation at each epoch's end (unless every val_every steps), and at the run's end
    local last = stopped or (ended and o.epochs and ctx.epoch >= o.epochs)
    local due = has_val and last_val_step ~= ctx.step and stopped ~= "early stopping" and
      ((ended and not o.val_every) or last)
    if due then
      stopped = validate() or stopped
    elseif since_count > 0 then
      add_row(nil)
    end
    if ended then
      if o.schedule and o.schedule_every == "epoch" then o.schedule:step() end
      if o.on_epoch then o.on_epoch(ctx) end
      if ctx.stop then stopped = stopped or "callback" end
      ctx.epoch, epoch_batches = ctx.epoch + 1, 0
    end
    save_checkpoint()
  end
  progress:finish()
  if o.keep_best and best_weights then checkpoint.load_state(model, best_weights) end
  history.best_val, history.best_step, history.stopped = best_val, best_step, stopped
  return history
end

return train
