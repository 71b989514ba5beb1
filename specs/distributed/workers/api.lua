-- Exercises recur.distributed's API as the ranks of an mpirun job (2 or more ranks). Each
-- check prints "PASS <rank> <name>" or "FAIL <rank> <name>: <error>"; the spec
-- (api_mpispec.lua) expects a PASS from every rank for every check. DIR is a directory for
-- checkpoints.
--   mpirun -np 2 lua5.4 specs/distributed/workers/api.lua DIR
local common = dofile("specs/distributed/workers/common.lua")
local recur = common.recur
local dist = require "recur.distributed"

local dir = arg[1]
assert(dist.init() == dist, "init returns the module")
assert(dist.init() == dist, "init is idempotent")
local rank, size = dist.rank(), dist.size()

local function check(name, fn)
  local ok, err = pcall(fn)
  io.write(ok and string.format("PASS %d %s\n", rank, name) or string.format("FAIL %d %s: %s\n", rank, name,
    tostring(err)))
  io.flush()
end

-- the error fn raises (it must raise)
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

local function equal_on_all_ranks(t)
  local hi, lo = dist.allreduce(t:clone(), "max"), dist.allreduce(t:clone(), "min")
  return hi:sub(lo):norm() == 0 and hi:sub(t):norm() == 0
end

check("rank and size", function()
  assert(size >= 2, "run with at least 2 ranks")
  assert(rank >= 0 and rank < size)
  assert(dist.is_main() == (rank == 0))
  assert(dist.allreduce(1) == size)
  dist.barrier()
end)

check("allreduce of numbers", function()
  local n = size * (size + 1) / 2
  assert(dist.allreduce(rank + 1) == n)
  assert(dist.allreduce(rank + 1, "sum") == n)
  assert(dist.allreduce(rank + 1, "mean") == n / size)
  assert(dist.allreduce(rank + 1, "max") == size)
  assert(dist.allreduce(rank + 1, "min") == 1)
  local both = dist.allreduce({rank, 2 * rank + 0.5}, "sum")
  assert(both[1] == n - size and both[2] == 2 * (n - size) + 0.5 * size)
end)

check("allreduce of a tensor, in place", function()
  local t = recur.tensor{rank + 1, -(rank + 1), 10}
  assert(dist.allreduce(t, "sum") == t)
  local n = size * (size + 1) / 2
  assert(t[1] == n and t[2] == -n and t[3] == 10 * size)
  t = recur.tensor{rank + 1, 3}
  dist.allreduce(t, "mean")
  assert(math.abs(t[1] - n / size) < 1e-6 and t[2] == 3)
  t = recur.tensor{{rank, -rank}}
  dist.allreduce(t, "max")
  assert(t[1][1] == size - 1 and t[1][2] == 0)
  dist.allreduce(t:fill(rank), "min")
  assert(t[1][1] == 0)
end)

check("allreduce rejects a bad op at the caller's line", function()
  local err = error_of(dist.allreduce, 1, "avg")
  assert(err:find("op: expected 'sum', 'mean', 'max' or 'min', got 'avg'", 1, true), err)
  err = error_of(dist.allreduce, "x")
  assert(err:find("expected a recur.Tensor, a number or an array of numbers, got string", 1, true), err)
  local ok, msg = pcall(function() dist.allreduce(1, "prod") end)
  assert(not ok and msg:find("api.lua:%d+: "), msg)
end)

check("allreduce of tensors of different sizes is an error on every rank", function()
  local err = error_of(dist.allreduce, recur.zeros{rank == 1 and 5 or 4})
  assert(err:find("the ranks' values have different sizes (from 4 to 5 elements", 1, true), err)
  assert(dist.allreduce(1) == size, "the job goes on after the error")
end)

check("broadcast of a module from a chosen root", function()
  recur.manual_seed(100 + rank) -- a different model on every rank
  local model = common.model("lstm", 11)
  local root = size - 1
  local expected = dist.allreduce(rank == root and model:parameters()[1]:sum() or 0)
  assert(equal_on_all_ranks(model:parameters()[1]) == false, "the models start different")
  assert(dist.broadcast(model, root) == model)
  for _, p in ipairs(model:parameters()) do assert(equal_on_all_ranks(p)) end
  assert(model:parameters()[1]:sum() == expected)
end)

check("broadcast of a tensor, a list and a named table", function()
  local a, b, c = recur.full({3}, rank), recur.full({2, 2}, rank + 10), recur.full({1}, rank + 20)
  dist.broadcast(a)
  assert(a[1] == 0 and a[3] == 0)
  dist.broadcast({b, c}, 1)
  assert(b[2][2] == 11 and c[1] == 21)
  local linear = recur.Linear{in_features = 2, out_features = 3}
  dist.broadcast({decoder = linear, extra = a:fill(rank)}, 0)
  assert(a[1] == 0 and equal_on_all_ranks(linear:flat_parameters()))
end)

check("broadcast rejects a root outside the job", function()
  local err = error_of(dist.broadcast, recur.zeros{2}, size)
  assert(err:find("root: expected a rank in 0..%d+, got " .. size), err)
end)

check("broadcast of tensors that differ in size is an error on every rank", function()
  local err = error_of(dist.broadcast, {recur.zeros{2}, recur.zeros{rank == 1 and 4 or 3}})
  assert(err:find("the ranks' tensors differ: rank(s) 1 against rank 0", 1, true), err)
  if rank == 1 then assert(err:find("this rank has tensor 2: 4 values where rank 0 has tensor 2: 3 values", 1, true), err) end
end)

check("broadcast of an optimizer's state", function()
  recur.manual_seed(5)
  local model = common.model("gru", 9)
  local optimizer = recur.optim.Adam{model, lr = 1e-3}
  if rank == 0 then -- only rank 0 has taken steps
    local x, y = common.batch(1, 4, 2, 9)
    for _ = 1, 3 do common.step(model, recur.CrossEntropyLoss(), optimizer, x, y) end
    optimizer.lr = 5e-4
  end
  dist.broadcast(model)
  assert(dist.broadcast(optimizer) == optimizer)
  local state = optimizer:state()
  assert(state.step == 3 and state.lr == 5e-4, "step and lr")
  local names = {}
  for i, buffers in pairs(state.buffers) do
    for name in pairs(buffers) do names[#names + 1] = i .. name end
  end
  table.sort(names)
  assert(#names == 6, "Adam's buffers of three groups, got " .. #names)
  for _, key in ipairs(names) do
    local i, name = key:match("^(%d+)(.+)$")
    assert(equal_on_all_ranks(state.buffers[tonumber(i)][name]), key)
  end
end)

check("allreduce_gradients averages every flat gradient buffer", function()
  recur.manual_seed(3)
  local model = common.model("lstm", 7)
  for _, g in ipairs(model:gradients()) do g:fill(rank + 1) end
  dist.allreduce_gradients(model)
  local mean = (size + 1) / 2
  for _, g in ipairs(model:gradients()) do
    assert(g:reshape{-1}[1] == mean and g:max() == mean, "mean gradient")
  end
  local p, g = recur.zeros{3}, recur.full({3}, 2 * rank)
  dist.allreduce_gradients({p, g})
  assert(g[1] == size - 1)
end)

check("models of different sizes are an error on every rank, before any exchange", function()
  recur.manual_seed(3)
  local model = common.model("lstm", 7, rank == 1 and 12 or 10)
  for _, g in ipairs(model:gradients()) do g:fill(1) end
  local err = error_of(dist.allreduce_gradients, model)
  assert(err:find("the ranks' parameters differ: rank(s) 1 against rank 0", 1, true), err)
  if rank == 1 then assert(err:find("gradient buffer 2: 2208 values where rank 0 has gradient buffer 2: 1600 values", 1, true), err) end
  assert(model:gradients()[1]:max() == 1, "no gradient was exchanged")
end)

check("models with the same sizes but other shapes are an error on every rank", function()
  local model = rank == 1 and recur.Linear{in_features = 6, out_features = 2, bias = false}
    or recur.Linear{in_features = 3, out_features = 4, bias = false}
  local err = error_of(dist.allreduce_gradients, model)
  assert(err:find("the ranks' parameters differ", 1, true), err)
  if rank == 1 then assert(err:find("this rank has weight 2x6 where rank 0 has weight 4x3", 1, true), err) end
end)

check("on_main runs on rank 0 and shares its error", function()
  local ran = false
  dist.on_main(function() ran = true end)
  assert(ran == (rank == 0))
  local err = error_of(dist.on_main, function() error("disk full", 0) end)
  assert(err == (rank == 0 and "disk full" or "rank 0 failed: disk full"), err)
end)

-- a data iterator stand-in whose position differs on every rank
local function data_of(position)
  return {position = position, state = function(self) return {position = self.position} end,
    load_state = function(self, s) self.position = s.position end}
end

check("save_training on rank 0, load_training on every rank with its own data position", function()
  recur.manual_seed(11)
  local model = common.model("lstm", 8)
  local optimizer = recur.optim.Adam{model}
  local x, y = common.batch(2, 3, 2 * size, 8)
  common.step(model, recur.CrossEntropyLoss(), optimizer, common.shard(x, rank, size), common.shard(y, rank, size),
    function() dist.allreduce_gradients(model) end)
  local data = data_of(100 + rank)
  local path = dir .. "/training.safetensors"
  dist.save_training(path, {model = model, optimizer = optimizer, data = data, iteration = 7})
  local saved = model:parameters()[2]:clone()
  for _, p in ipairs(model:parameters()) do p:fill(rank) end
  data.position = -1
  local fresh = recur.optim.Adam{model}
  local info = dist.load_training(path, {model = model, optimizer = fresh, data = data})
  assert(info.iteration == 7)
  assert(data.position == 100 + rank, "own data position, got " .. tostring(data.position))
  local single = data_of(-1) -- a single process resumes from rank 0's position
  recur.checkpoint.load_training(path, {model = model, data = single})
  assert(single.position == 100, "rank 0's position, got " .. tostring(single.position))
  assert(model:parameters()[2]:sub(saved):norm() == 0)
  assert(fresh:state().step == 1 and equal_on_all_ranks(fresh:state().buffers[2].exp_avg))
end)

check("load_training fails on every rank when one rank cannot read the file", function()
  local model = common.model("lstm", 8)
  local path = rank == 1 and dir .. "/missing.safetensors" or dir .. "/training.safetensors"
  local err = error_of(dist.load_training, path, {model = model})
  if rank == 1 then assert(err:find("rank 1: ", 1, true) and err:find("load_training: cannot open", 1, true), err)
  else assert(err:find("1 rank(s) could not load", 1, true), err) end
end)

check("load_training refuses the data positions of another number of ranks", function()
  local model = common.model("lstm", 8)
  local path = dir .. "/three.safetensors"
  dist.on_main(recur.checkpoint.save_training, path, {model = model,
    data = {state = function() return {position = 0, distributed = {world = size + 1, ranks = {}}} end,
      load_state = function() end}})
  local err = error_of(dist.load_training, path, {model = model, data = data_of(0)})
  assert(err:find(string.format("the data positions of %d ranks, this job has %d", size + 1, size), 1, true), err)
end)

check("print writes on rank 0 only", function()
  dist.print("PRINTED " .. rank)
end)

check("the ranks are still in step", function()
  dist.barrier()
  assert(dist.allreduce(1) == size)
end)
