--- Data-parallel training over MPI (the optional rock recur-mpi). Every rank runs the
-- same script on its own shard of each batch; before each optimizer step the gradients are
-- averaged across the ranks, so that every rank takes the same step and holds the same
-- parameters, and n ranks with batch b/n train as one process with batch b.
--
--     local dist = require("recur.distributed").init()
--     dist.broadcast(model)                  -- every rank starts from rank 0's weights
--     for step = 1, steps do
--       optimizer:zero_grad()
--       ... forward and backward on this rank's shard of the batch ...
--       dist.allreduce_gradients(model)      -- the mean gradient over the ranks
--       optimizer:step()
--       if step % 100 == 0 then dist.save_training(path, {model = model, optimizer = optimizer}) end
--     end
--
-- Run it with `mpirun -np 2 lua5.4 train.lua` (doc/scaling-out.md: several machines,
-- batch size and learning rate, failures).
--
-- Every rank must make the same calls of this module in the same order: they are
-- collectives. A rank that ends (an error, or the end of its script) while others wait in
-- a collective makes them raise an error and then abort the job: no rank hangs. MPI is
-- finalised when the Lua state closes (the end of the script, or `os.exit(code, true)`;
-- a plain `os.exit(code)` skips it, and mpirun then reports the rank as failed).
-- @module recur.distributed
local recur = require "recur"
local mpi = require "recur.distributed_core"

local checkpoint, nn = recur.checkpoint, recur.nn
local json, util = require "recur.json", require "recur.util" -- private modules of recur
local is_tensor = recur.is_tensor
local dist = {}

local function is_optimizer(v) return util.describe(v) == "recur.Optimizer" end

-- Raises a caught error again at `level` (as for `error`, from raise's caller); one that
-- already has a position (recur's argument errors point at the user's line) passes unchanged.
local function raise(err, level)
  if util.has_position(err) then error(err, 0) end
  error(err, level + 1)
end

-- Calls a function of the C module or of recur; an error is raised again at `level`
-- (from the caller of the function calling `call`), so that it points at the user's line.
local function call(level, fn, ...)
  local result = {pcall(fn, ...)}
  if not result[1] then raise(result[2], level + 1) end
  return util.unpack(result, 2)
end

local function need_init(name)
  if not mpi.initialized() then
    error(string.format("recur.distributed.%s: MPI is not initialised (call dist.init() first)", name), 3)
  end
end

--- Initialises MPI (once; later calls do nothing) and returns the module, so that
-- `local dist = require("recur.distributed").init()` works. Without mpirun the script is a
-- job of one rank.
function dist.init()
  call(2, mpi.init)
  return dist
end

--- The rank of this process: 0 to size() - 1, as mpirun numbers them.
function dist.rank()
  need_init("rank")
  return (mpi.rank())
end

--- The number of ranks in the job.
function dist.size()
  need_init("size")
  return (mpi.size())
end

--- True on rank 0, the rank that prints and writes files.
function dist.is_main()
  need_init("is_main")
  return mpi.rank() == 0
end

--- `print` on rank 0; nothing on the other ranks.
function dist.print(...)
  need_init("print")
  if mpi.rank() == 0 then print(...) end
end

--- Waits until every rank has called it.
function dist.barrier()
  need_init("barrier")
  call(2, mpi.barrier, "barrier")
end

-- Raises the same error on every rank unless every rank passes the same `items` (an array
-- of strings describing what it is about to exchange) as `root`. Errors point at the
-- caller of the function `depth` levels above agree (1: agree's caller is a dist.* function).
local function agree(depth, name, what, items, root)
  local mine = table.concat(items, "\n")
  local theirs = call(depth + 2, mpi.broadcast_string, mine, root, name)
  local rank, size = mpi.rank(), mpi.size()
  local flags = {}
  for r = 1, size do flags[r] = 0 end
  flags[rank + 1] = mine == theirs and 0 or 1
  flags = call(depth + 2, mpi.allreduce_numbers, flags, "max", name)
  local differ = {}
  for r = 1, size do
    if flags[r] ~= 0 then differ[#differ + 1] = tostring(r - 1) end
  end
  if #differ == 0 then return end
  local detail
  if mine ~= theirs then
    local root_items, k = {}, 1
    for line in (theirs .. "\n"):gmatch("(.-)\n") do root_items[#root_items + 1] = line end
    while items[k] == root_items[k] do k = k + 1 end
    detail = string.format("this rank has %s where rank %d has %s", items[k] or "nothing more",
      root, root_items[k] or "nothing more")
  else
    detail = "their own messages say how"
  end
  error(string.format("recur.distributed.%s: the ranks' %s differ: rank(s) %s against rank %d; %s", name, what,
    table.concat(differ, ", "), root, detail), depth + 2)
end

-- names and shapes of the tensors of what (a module or a table of them), when it has names
local function named_items(what, items)
  local ok, names, tensors = pcall(checkpoint.state_of, what)
  if not ok then return items end
  for _, n in ipairs(names) do items[#items + 1] = n .. " " .. table.concat(tensors[n]:shape(), "x") end
  return items
end

local function numel_items(label, tensors)
  local items = {}
  for i, t in ipairs(tensors) do items[i] = string.format("%s %d: %d values", label, i, t:numel()) end
  return items
end

local function checked_root(name, root)
  root = root == nil and 0 or root
  local size = mpi.size()
  if not util.is_integer(root) or root < 0 or root >= size then
    error(string.format("recur.distributed.%s: root: expected a rank in 0..%d, got %s", name, size - 1,
      tostring(root)), 3)
  end
  return util.tointeger(root)
end

--- Averaging gradients
-- @section gradients

local plans = setmetatable({}, {__mode = "k"})

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if not rawequal(a[i], b[i]) then return false end
  end
  return true
end

--- Averages the gradients of `what` (what optimizers take: a module, a {param, grad}
-- pair, or a table of them) in place across the ranks: one collective per flat gradient
-- buffer, all in flight at once. Call it after backward and before gradient clipping and
-- the optimizer step. The first call for a given `what` (and any call after its buffers
-- changed) first checks that every rank has the same parameter layout and raises the same
-- error on every rank if not.
function dist.allreduce_gradients(what)
  need_init("allreduce_gradients")
  local flat = call(2, nn.flat_pairs, what)
  local grads = {}
  for i, pair in ipairs(flat) do grads[i] = pair[2] end
  local keyable = type(what) == "table" or type(what) == "userdata"
  local known = keyable and plans[what]
  if not (known and same_list(known, grads)) then
    agree(1, "allreduce_gradients", "parameters", named_items(what, numel_items("gradient buffer", grads)), 0)
    if keyable then plans[what] = grads end
  end
  call(2, mpi.allreduce, grads, "sum", true, "allreduce_gradients")
end

--- Reducing values
-- @section values

local OPS = {sum = "sum", mean = "sum", max = "max", min = "min"}

--- Reduces across the ranks: a tensor in place (returned), a number or an array of
-- numbers (the result returned). `op` is "sum" (the default), "mean", "max" or "min".
-- Every rank gets the result; the ranks' tensors (arrays) must have the same size.
--
--     local loss = dist.allreduce(criterion:forward(out, y), "mean")
function dist.allreduce(x, op)
  need_init("allreduce")
  op = op == nil and "sum" or op
  if OPS[op] == nil then
    error(string.format("recur.distributed.allreduce: op: expected 'sum', 'mean', 'max' or 'min', got %s",
      type(op) == "string" and "'" .. op .. "'" or util.describe(op)), 2)
  end
  local size = mpi.size()
  local n
  if is_tensor(x) then
    n = x:numel()
  elseif type(x) == "number" then
    n = 1
  elseif type(x) == "table" and getmetatable(x) == nil then
    n = #x
    for i = 1, n do
      if type(x[i]) ~= "number" then
        error(string.format("recur.distributed.allreduce: x[%d]: expected a number, got %s", i, util.describe(x[i])), 2)
      end
    end
  else
    error("recur.distributed.allreduce: x: expected a recur.Tensor, a number or an array of numbers, got " ..
      util.describe(x), 2)
  end
  if type(x) ~= "number" then -- the sizes must agree, or MPI would read or write past a buffer
    local range = call(2, mpi.allreduce_numbers, {n, -n}, "max", "allreduce")
    if range[1] ~= -range[2] then
      error(string.format("recur.distributed.allreduce: the ranks' values have different sizes (from %d to %d " ..
        "elements; this rank has %d)", -range[2], range[1], n), 2)
    end
  end
  if is_tensor(x) then
    call(2, mpi.allreduce, {x}, OPS[op], op == "mean", "allreduce")
    return x
  end
  local out = call(2, mpi.allreduce_numbers, type(x) == "number" and {x} or x, OPS[op], "allreduce")
  if op == "mean" then
    for i = 1, #out do out[i] = out[i] / size end
  end
  if type(x) == "number" then return out[1] end
  return out
end

--- Broadcasting
-- @section broadcast

-- the tensors of what: tensors as they are (in a plain table too: a {param, grad} pair
-- is two tensors), modules by their flat parameters; in a stable order, each once
local function tensors_of(what)
  local out, seen = {}, {}
  local function add(t)
    if not seen[t] then
      seen[t] = true
      out[#out + 1] = t
    end
  end
  local function visit(v)
    if is_tensor(v) then
      add(v)
    elseif type(v) == "table" and getmetatable(v) == nil then
      for _, k in ipairs(util.sorted_keys(v)) do visit(v[k]) end
    else
      for _, pair in ipairs(nn.flat_pairs(v)) do add(pair[1]) end
    end
  end
  visit(what)
  return out
end

-- every rank gets root's optimizer state (step, lr and buffers)
local function broadcast_optimizer(opt, root)
  local items = {"kind " .. opt.kind}
  for i, pair in ipairs(opt._pairs) do items[#items + 1] = string.format("parameter group %d: %d values", i, pair[1]:numel()) end
  agree(2, "broadcast", "optimizers", items, root)
  local state = mpi.rank() == root and opt:state() or nil
  local header = ""
  if state then
    local groups = {}
    for _, i in ipairs(util.sorted_keys(state.buffers)) do groups[#groups + 1] = {i, util.sorted_keys(state.buffers[i])} end
    header = json.encode({step = state.step, lr = state.lr, groups = groups})
  end
  local h = json.decode(call(3, mpi.broadcast_string, header, root, "broadcast"))
  local buffers, tensors = {}, {}
  for _, g in ipairs(h.groups) do
    local i = g[1]
    buffers[i] = {}
    for _, name in ipairs(g[2]) do
      local t = state and state.buffers[i][name] or recur.zeros{opt._pairs[i][1]:numel()}
      buffers[i][name], tensors[#tensors + 1] = t, t
    end
  end
  call(3, mpi.broadcast, tensors, root, "broadcast")
  if not state then opt:load_state({kind = opt.kind, step = h.step, lr = h.lr, buffers = buffers}) end
  return opt
end

--- Gives every rank root's values (root: 0 by default): of a module, a tensor, or a list
-- or named table of modules and tensors (their parameters), or of an optimizer (its
-- state: step count, learning rate and buffers). Checks first that every rank has the
-- same layout, and raises the same error on every rank if not.
-- @return what
function dist.broadcast(what, root)
  need_init("broadcast")
  root = checked_root("broadcast", root)
  if is_optimizer(what) then return broadcast_optimizer(what, root) end
  local tensors = call(2, tensors_of, what)
  agree(1, "broadcast", "tensors", named_items(what, numel_items("tensor", tensors)), root)
  call(2, mpi.broadcast, tensors, root, "broadcast")
  return what
end

--- Training with fit
-- @section fit

-- fn's number result averaged over the ranks (nil stays nil)
local function averaged(fn)
  if not fn then return nil end
  return function(...)
    local loss = fn(...)
    if type(loss) ~= "number" then return loss end
    return dist.allreduce(loss, "mean")
  end
end

-- a criterion whose forward gives the loss averaged over the ranks
local function averaged_criterion(criterion)
  return {
    forward = function(_, ...) return dist.allreduce(criterion:forward(...), "mean") end,
    backward = function(_, ...) return criterion:backward(...) end,
  }
end

--- `recur.train.fit` for data-parallel training: the same options, each rank giving its
-- own shard as `train` and `val` (CharBatches or WindowLoader with `rank` and `world`).
-- On top of fit: the model is broadcast from rank 0 first; every loss (training and
-- validation) is averaged over the ranks, so that the divergence guard, the history, the
-- best model and early stopping agree on every rank; the gradients are averaged after
-- `backward` (before `on_gradients`, the gradient check and clipping); `max_seconds`, and
-- `ctx.stop` set by `on_step` or `on_epoch` on any rank, stop every rank at the same step;
-- rank 0 alone prints (its items per second count the whole job's) and writes
-- `checkpoint` and `save_best` (every rank reads `resume`); at the end every rank holds
-- rank 0's final weights. The loaders' `state()` must be the same on every rank
-- (CharBatches' and WindowLoader's are). Every rank must call it.
-- @return fit's History, the same on every rank
function dist.fit(opts)
  need_init("fit")
  if type(opts) ~= "table" then error("recur.distributed.fit: expected an options table, got " .. util.describe(opts), 2) end
  local main, world = mpi.rank() == 0, mpi.size()
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  local max_seconds, start, timed_out = opts.max_seconds, recur.monotonic(), false
  o.max_seconds = nil
  if opts.forward then
    o.forward, o.evaluate = averaged(opts.forward), averaged(opts.evaluate)
  else
    o.criterion, o.evaluate = opts.criterion and averaged_criterion(opts.criterion), averaged(opts.evaluate)
  end
  o.on_gradients = function(ctx)
    dist.allreduce_gradients(opts.model)
    if opts.on_gradients then opts.on_gradients(ctx) end
  end
  -- any rank's stop, and rank 0's clock, stop every rank after the same step
  local function agreed_stop(hook)
    return function(ctx)
      if hook then hook(ctx) end
      local stop = ctx.stop and 1 or 0
      if max_seconds and main and recur.monotonic() - start >= max_seconds then stop = 2 end
      stop = dist.allreduce(stop, "max")
      timed_out = timed_out or stop == 2
      ctx.stop = stop > 0 or nil
    end
  end
  o.on_step, o.on_epoch = agreed_stop(opts.on_step), agreed_stop(opts.on_epoch)
  if main then
    o.items = function(...)
      local n = select("#", ...)
      local last = select(n, ...)
      local items = opts.items and opts.items(...) or (is_tensor(last) and last:numel()) or 1
      return items * world
    end
  else
    o.print, o.progress, o.checkpoint, o.save_best, o.keep_best = function() end, false, nil, nil, false
  end
  dist.broadcast(opts.model)
  local ok, history = pcall(recur.train.fit, o)
  if not ok then raise(history, 2) end
  dist.broadcast(opts.model) -- rank 0's final weights (the best ones, with keep_best) everywhere
  if timed_out and history.stopped == "callback" then history.stopped = "time" end
  return history
end

--- Checkpoints
-- @section checkpoints

--- Runs `fn(...)` on rank 0 only (writing a file, say); every rank returns once it has
-- run, and if it raised an error, every rank raises that error.
function dist.on_main(fn, ...)
  need_init("on_main")
  local ok, err = true, nil
  if mpi.rank() == 0 then ok, err = pcall(fn, ...) end
  local outcome = call(2, mpi.broadcast_string, ok and "ok" or "error: " .. tostring(err), 0, "on_main")
  if outcome ~= "ok" then
    if mpi.rank() == 0 then raise(err, 2) end
    error("rank 0 failed: " .. outcome:sub(8), 2)
  end
end

--- Saves a training checkpoint from rank 0 (recur.checkpoint.save_training's `parts`);
-- every rank must call it. The data iterators' positions of all ranks are kept: the data
-- state saved is rank 0's `parts.data:state()` plus a field `distributed = {world = n,
-- ranks = {state of rank 0, ...}}`, so that each rank resumes its own shard and a single
-- process can resume too (from rank 0's position). If rank 0 cannot write the file, every
-- rank raises its error.
function dist.save_training(path, parts)
  need_init("save_training")
  if type(parts) ~= "table" then error("recur.distributed.save_training: expected {model = ..., ...}", 2) end
  local mine = {}
  for k, v in pairs(parts) do mine[k] = v end
  if parts.data then
    local states = call(2, mpi.gather_strings, json.encode(parts.data:state()), 0, "save_training")
    if states then
      for r, s in ipairs(states) do states[r] = json.decode(s) end
      local saved = {}
      if type(states[1]) == "table" then
        for k, v in pairs(states[1]) do saved[k] = v end
      end
      saved.distributed = {world = #states, ranks = states}
      mine.data = {state = function() return saved end, load_state = function(_, s) return parts.data:load_state(s) end}
    end
  end
  local ok, err = pcall(dist.on_main, checkpoint.save_training, path, mine)
  if not ok then raise(err, 2) end
end

--- Restores a training checkpoint (from save_training, or from a single process) on every
-- rank: every rank reads `path` (on several machines, a shared file system or a copy at the
-- same path), each rank takes its own data position (a single process's position goes to
-- every rank as it is), then the model and the optimizer are
-- broadcast from rank 0 so that the ranks start identical. Raises on every rank if any
-- rank could not read the file. Returns what recur.checkpoint.load_training returns.
function dist.load_training(path, parts)
  need_init("load_training")
  if type(parts) ~= "table" or parts.model == nil then
    error("recur.distributed.load_training: expected {model = ..., ...}", 2)
  end
  local rank, size = mpi.rank(), mpi.size()
  local mine = {}
  for k, v in pairs(parts) do mine[k] = v end
  if parts.data then
    mine.data = {state = function() return parts.data:state() end, load_state = function(_, s)
      local saved = type(s) == "table" and s.distributed
      if saved then
        if saved.world ~= size then
          error(string.format("the checkpoint holds the data positions of %d ranks, this job has %d (resume with " ..
            "%d ranks)", saved.world, size, saved.world), 0)
        end
        s = saved.ranks[rank + 1]
      end
      parts.data:load_state(s)
    end}
  end
  local ok, info = pcall(checkpoint.load_training, path, mine)
  local failed = call(2, mpi.allreduce_numbers, {ok and 0 or 1}, "sum", "load_training")[1]
  if not ok then error(string.format("recur.distributed.load_training: rank %d: %s", rank, tostring(info)), 2) end
  if failed > 0 then
    error(string.format("recur.distributed.load_training: %d rank(s) could not load %s (their own messages say why)",
      failed, path), 2)
  end
  call(2, dist.broadcast, parts.model, 0)
  if parts.optimizer then call(2, dist.broadcast, parts.optimizer, 0) end
  return info
end

return dist
