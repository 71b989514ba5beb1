--- Modules with the recurrent layers' contract: `forward` stores what `backward`
-- needs (nothing inside `no_grad`); `backward(grad_output)` accumulates parameter
-- gradients and returns the gradient of forward's input. Each module with parameters
-- keeps them in one flat tensor (and its gradients in another), with named views into
-- it. Every module, the recurrent layers included, gets its protocol (parameters,
-- gradients, modes, state) from `Module`.
-- @module recur.nn
local core = require "recur.core"
local util = require "recur.util"

local F = core.F
local nn = {}

local rawlen, is_tensor = util.rawlen, util.is_tensor
-- The cell types of the C core (src/core/cells.h) and the size limits of layers.
local CELLS, LIMITS = F.rnn_cells()
-- Linear's and Embedding's sizes: BLAS takes 32-bit ints (their products are checked by zeros)
local MAX_FEATURES = 2147483647

local sorted_keys = util.sorted_keys

-- "bad argument #n to 'fn' (what: expected ..., got ...)", at the user's line
local function arg_error(n, fn, message)
  util.error("bad argument #%d to '%s' (%s)", n, fn, message)
end

--- Traversal
-- @section traversal

-- A module is a table with a `forward`; a container is a module with `children` (and
-- `child_names`). The children of a container are its modules; of a plain table, its
-- entries by sorted key.
local function is_module(v) return type(v) == "table" and type(v.forward) == "function" end

local function children_of(v)
  local out = {}
  if is_module(v) then
    local children, names = rawget(v, "children"), rawget(v, "child_names")
    if type(children) == "table" then
      for i = 1, rawlen(children) do
        out[i] = {type(names) == "table" and rawget(names, i) or tostring(i), rawget(children, i)}
      end
    end
  else
    for i, k in ipairs(sorted_keys(v)) do out[i] = {tostring(k), v[k]} end
  end
  return out
end

-- Walks a tree of modules and plain tables depth first, in a stable order, without
-- recursion: visit(node, path) is called for every node ("" for the root, "2.decoder"
-- below) and returns true to enter a table's children. A table reached by a second path
-- is skipped (each module is visited once, under its first name); a table that contains
-- itself, or nesting deeper than MAX_DEPTH, is an error (paths grow with the depth: a deep
-- chain would take memory quadratic in its depth).
local MAX_DEPTH = 200
local function walk(root, visit, what)
  local seen, open, stack = {}, {}, {}
  local function enter(v, path)
    if type(v) == "table" then
      if open[v] then
        util.error("%s: %s contains itself", what, path == "" and "the argument" or "'" .. path .. "'")
      end
      if seen[v] then return end
      seen[v] = true
    end
    if visit(v, path) and type(v) == "table" then
      if #stack >= MAX_DEPTH then util.error("%s: the argument nests tables more than %d deep", what, MAX_DEPTH) end
      open[v] = true
      stack[#stack + 1] = {v, path, children_of(v), 0}
    end
  end
  enter(root, "")
  while #stack > 0 do
    local frame = stack[#stack]
    frame[4] = frame[4] + 1
    local entry = frame[3][frame[4]]
    if entry == nil then
      open[frame[1]] = nil
      stack[#stack] = nil
    else
      enter(entry[2], frame[2] == "" and entry[1] or frame[2] .. "." .. entry[1])
    end
  end
end

-- the modules under root (root first), each once, and their paths
local function modules_of(root, what)
  local list, paths = {}, {}
  walk(root, function(v, path)
    if not is_module(v) then return false end
    list[#list + 1], paths[#paths + 1] = v, path
    return true
  end, what)
  return list, paths
end

--- The base of the modules.
-- @type Module
local Module = util.class("recur.Module")
nn.Module = Module
Module._training = true -- a new module is in training mode; train() sets its own field

local function numel(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

-- into[name] = a view of the flat tensor for each {name, shape} of `specs`, laid out one
-- after the other in that order; returns into
local function lay_out(flat, specs, into)
  local at = 1
  for _, s in ipairs(specs) do
    local n = numel(s[2])
    into[s[1]] = flat:narrow(1, at, n):view(s[2])
    at = at + n
  end
  return into
end

-- The views of `self`'s parameters `specs` ({{name, shape}, ...}, in state_dict order) into
-- the flat tensor params: `_views` holds the names in order (its array part) and name ->
-- view. The gradient views are made on first use (grad_views).
local function attach_views(self, specs, params)
  self._views = {}
  for i, s in ipairs(specs) do self._views[i] = s[1] end
  lay_out(params, specs, self._views)
end

-- name -> gradient view of a module with attach_views, laid out in flat_gradients() as the
-- parameters are in flat_parameters(); made on first use and kept in `_grad_views` (a
-- training loop reads gradients through flat_gradients and never needs them)
local function grad_views(self)
  local g = rawget(self, "_grad_views")
  if g then return g end
  local views, specs = rawget(self, "_views"), {}
  for k = 1, rawlen(views) do
    local name = rawget(views, k)
    specs[k] = {name, rawget(views, name):shape()}
  end
  self._grad_views = lay_out(self:flat_gradients(), specs, {})
  return self._grad_views
end

-- Allocates (or adopts) the flat parameter and gradient tensors of `self` (`_params`,
-- `_grads`) for `specs` and the views into them.
local function attach_parameters(self, specs, params, grads)
  if not params then
    local total = 0
    for _, s in ipairs(specs) do total = total + numel(s[2]) end
    local owner = util.describe(self):gsub("^recur%.", "")
    params, grads = util.call(owner, core.zeros, {total}), util.call(owner, core.zeros, {total})
  end
  self._params, self._grads = params, grads
  attach_views(self, specs, params)
end

-- A module's own parameters (not its children's): names in order, and name -> view (or,
-- with `gradients`, name -> gradient view). Modules from outside recur that define
-- named_parameters give theirs.
local function own_parameters(m, what, path, gradients)
  if m.named_parameters == Module.named_parameters or m.named_parameters == nil then
    local views = rawget(m, "_views")
    if not views then return {}, {} end
    return views, gradients and grad_views(m) or views
  end
  local where = path == "" and "the argument" or "'" .. path .. "'"
  for _, method in ipairs{"named_parameters", "parameter_names"} do
    if type(m[method]) ~= "function" then util.error("%s: %s (%s) has no method %s", what, where, util.describe(m), method) end
  end
  local names, views = m:parameter_names(), m:named_parameters()
  local grads = type(m.named_gradients) == "function" and m:named_gradients() or {}
  util.array(what, where .. ":parameter_names()", names, function(n) return type(n) == "string" end, "a string")
  if type(views) ~= "table" or type(grads) ~= "table" then
    util.error("%s: %s: named_parameters() and named_gradients() must return tables", what, where)
  end
  for k = 1, util.rawlen(names) do
    local n = rawget(names, k)
    if not is_tensor(rawget(views, n)) then
      util.error("%s: %s: named_parameters() has no tensor '%s' of parameter_names()", what, where, n)
    end
  end
  return names, gradients and grads or views
end

-- the parameter names under self in order, and name -> view (or gradient view)
local function collect(self, gradients, what)
  local names, map = {}, {}
  local list, paths = modules_of(self, what)
  for i, m in ipairs(list) do
    local own_names, own = own_parameters(m, what, paths[i], gradients)
    local prefix = paths[i] == "" and "" or paths[i] .. "."
    for k = 1, rawlen(own_names) do
      local n = rawget(own_names, k)
      names[#names + 1], map[prefix .. n] = prefix .. n, rawget(own, n)
    end
  end
  return names, map
end

local function in_order(names, map)
  local out = {}
  for i, n in ipairs(names) do out[i] = map[n] end
  return out
end

--- Parameter names in state_dict order ("weight", "2.weight_ih_l0", ...).
function Module:parameter_names() return (collect(self, false, "parameter_names")) end
--- name -> parameter view.
function Module:named_parameters() return select(2, collect(self, false, "named_parameters")) end
--- name -> gradient view: views into flat_gradients(), made on the first call (a training
-- loop that reads flat_gradients never pays for them) and the same objects after.
function Module:named_gradients() return select(2, collect(self, true, "named_gradients")) end
--- Parameter views in state_dict order.
function Module:parameters() return in_order(collect(self, false, "parameters")) end
--- Gradient views in state_dict order.
function Module:gradients() return in_order(collect(self, true, "gradients")) end
--- All parameters in one tensor (nil for a module without any of its own).
function Module:flat_parameters() return self._params end
--- All gradients in one tensor.
function Module:flat_gradients() return self._grads end

--- Zeroes every gradient under the module.
function Module:zero_grad()
  for _, m in ipairs((modules_of(self, "zero_grad"))) do
    if m.zero_grad == Module.zero_grad then
      if rawget(m, "_grads") then m._grads:zero() end
    elseif m.zero_grad then
      m:zero_grad()
    end
  end
  return self
end

--- Training mode (dropout on) for the module and everything under it; `train(false)` is `evaluate()`.
function Module:train(on)
  on = on ~= false
  for _, m in ipairs((modules_of(self, "train"))) do
    if m.train == Module.train then
      m._training = on
    elseif type(m.train) == "function" then
      m:train(on)
    end
  end
  return self
end
--- Evaluation mode.
function Module:evaluate() return (self:train(false)) end
--- True in training mode.
function Module:training() return self._training end
function Module:__tostring() return self.__name end

--- Gradient mode
-- @section gradmode

-- on: forwards keep what backward needs; the lua_State's own (each state loads this file)
local grad_enabled = true

--- True unless inside `no_grad` (or after `set_grad_enabled(false)`).
function nn.is_grad_enabled() return grad_enabled end

--- Turns off (or back on) what forwards keep for backward, as torch.set_grad_enabled.
-- @bool on
-- @treturn bool the previous setting
function nn.set_grad_enabled(on)
  if type(on) ~= "boolean" then arg_error(1, "set_grad_enabled", "boolean expected, got " .. util.describe(on)) end
  local was = grad_enabled
  grad_enabled = on
  return was
end

local function restore_grad(was, ok, ...)
  grad_enabled = was
  if not ok then error((...), 0) end
  return ...
end

--- Calls `fn(...)` with gradients off and returns its results, as `with torch.no_grad()`:
-- the modules' forwards inside keep nothing for backward (a backward after such a forward
-- raises an error), and recurrent layers skip the copies they keep for it (the input,
-- each step's output), which makes inference faster. The previous setting comes back when
-- fn returns or raises. Criterions are not affected. The setting belongs to the lua_State,
-- so a coroutine that yields inside fn leaves it off until fn returns.
-- @func fn
-- @param ... its arguments
-- @return fn's results
function nn.no_grad(fn, ...)
  if type(fn) ~= "function" then arg_error(1, "no_grad", "function expected, got " .. util.describe(fn)) end
  local was = grad_enabled
  grad_enabled = false
  return restore_grad(was, pcall(fn, ...))
end

-- what a forward keeps for backward: its input, or nothing under no_grad
local function keep_input(self, x)
  self._input = grad_enabled and x or nil
  self._forward_no_grad = not grad_enabled
end

-- the error of a backward after a forward under no_grad, for every module
local function check_not_no_grad(self, what)
  if self._forward_no_grad then
    util.error("%s:backward: the last forward ran under recur.no_grad, which keeps nothing for backward (run "
      .. "forward again with gradients on)", what)
  end
end

local function check_forward_done(self, what)
  check_not_no_grad(self, what)
  if self._input == nil then
    util.error("%s:backward: no forward to differentiate (call forward first)", what)
  end
end

local function check_generator(fn, gen)
  if gen ~= nil and not util.is_generator(gen) then
    util.error("%s: gen: expected a recur.Generator or nil, got %s", fn, util.describe(gen))
  end
end

local function uniform_(t, bound, gen)
  t:copy(core.rand(t:shape(), gen):mul_(2 * bound):add_(-bound))
end

--- State
-- @section state

-- The named tensors of a module, a tensor or a table of them (see nn.state_of); what
-- names the function in errors.
local function state_of(obj, what)
  local names, tensors = {}, {}
  walk(obj, function(v, path)
    if is_tensor(v) then
      if tensors[path] then util.error("%s: two tensors are named '%s'", what, path) end
      names[#names + 1], tensors[path] = path, v
      return false
    end
    if is_module(v) then
      local prefix = path == "" and "" or path .. "."
      local own_names, own = own_parameters(v, what, path)
      for k = 1, rawlen(own_names) do
        local n = rawget(own_names, k)
        if tensors[prefix .. n] then
          util.error("%s: two tensors are named '%s'", what, prefix .. n)
        end
        names[#names + 1], tensors[prefix .. n] = prefix .. n, rawget(own, n)
      end
      return true
    end
    if type(v) ~= "table" then
      util.error("%s: %s is a %s, not a module, a tensor or a table of them", what,
        path == "" and "the argument" or path, util.describe(v))
    end
    return true
  end, what)
  return names, tensors
end

--- The named tensors of a module (its parameters under their state_dict names), of a
-- table of tensors, or of a named table of modules ({rnn = ..., decoder = ...} gives
-- "rnn.weight_ih_l0", ..., "decoder.weight"). Each module and table counts once.
-- @return names in order, and name -> tensor
function nn.state_of(obj)
  local names, tensors = state_of(obj, "state_of") -- not a tail call: errors name the caller's line
  return names, tensors
end

-- Checks load_state's arguments; n is the argument number of `tensors`.
local function check_state_args(fn, n, tensors, opts)
  if type(tensors) ~= "table" or is_module(tensors) then
    arg_error(n, fn, "tensors: expected a table of name -> recur.Tensor, got " .. util.describe(tensors))
  end
  for k, v in pairs(tensors) do
    if type(k) ~= "string" then
      arg_error(n, fn, "tensors: expected string names, got a " .. util.describe(k) .. " key")
    end
    if not is_tensor(v) then
      arg_error(n, fn, string.format("tensors['%s']: expected a recur.Tensor, got %s", k, util.describe(v)))
    end
  end
  if opts ~= nil and (type(opts) ~= "table" or (opts.strict ~= nil and type(opts.strict) ~= "boolean")) then
    arg_error(n + 1, fn, "opts: expected nil or {strict = boolean}, got " .. util.describe(opts))
  end
end

local function shape_text(t) return table.concat(t:shape(), "x") end

-- copies tensors into obj's
local function load_state(obj, tensors, opts)
  local strict = not (opts and opts.strict == false)
  local names, own = state_of(obj, "load_state")
  local report = {loaded = {}, missing = {}, unexpected = {}, mismatched = {}}
  local bad = {}
  for _, n in ipairs(names) do
    local t = rawget(tensors, n)
    if t == nil then
      report.missing[#report.missing + 1] = n
    elseif shape_text(t) ~= shape_text(own[n]) then
      bad[n] = true
      report.mismatched[#report.mismatched + 1] = string.format("%s (file %s, model %s)", n, shape_text(t),
        shape_text(own[n]))
    end
  end
  for _, n in ipairs(sorted_keys(tensors)) do
    if own[n] == nil then report.unexpected[#report.unexpected + 1] = n end
  end
  if strict and (#report.missing + #report.unexpected + #report.mismatched) > 0 then
    local parts = {}
    for _, kind in ipairs{"missing", "unexpected", "mismatched"} do
      if #report[kind] > 0 then parts[#parts + 1] = kind .. ": " .. table.concat(report[kind], ", ") end
    end
    util.error("load_state: the state does not fit the model (%s)", table.concat(parts, "; "))
  end
  for _, n in ipairs(names) do
    if rawget(tensors, n) and not bad[n] then
      own[n]:copy(rawget(tensors, n))
      report.loaded[#report.loaded + 1] = n
    end
  end
  return report
end

--- Copies named tensors into the parameters of a module or a named table of modules.
-- With `strict` (the default) every parameter must be present with its shape and no
-- extra name may appear; otherwise matching tensors are copied and the rest reported.
-- @param obj a module or a named table of modules
-- @tab tensors name -> tensor (as from `recur.load`)
-- @tparam[opt] table opts `{strict = true}`
-- @return a report {loaded = {...}, missing = {...}, unexpected = {...}, mismatched = {...}}
function nn.load_state(obj, tensors, opts)
  if type(obj) ~= "table" then
    arg_error(1, "load_state", "obj: expected a module or a table of modules, got " .. util.describe(obj))
  end
  check_state_args("load_state", 2, tensors, opts)
  return (load_state(obj, tensors, opts))
end

--- The module's parameters by state_dict name (views: copying into them changes the module).
function Module:state() return select(2, state_of(self, "state")) end

--- Copies named tensors into the module's parameters (see `nn.load_state`).
function Module:load_state(tensors, opts)
  check_state_args("load_state", 1, tensors, opts)
  return (load_state(self, tensors, opts))
end

--- Linear
-- @section Linear

local Linear = util.class("recur.Linear", Module)

--- y = x W^T + b over the last dimension of any-rank input, as torch.nn.Linear.
-- Options: `in_features`, `out_features` (required), `bias` (true), `generator`.
-- Init: W, b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
-- @tparam table opts
function nn.Linear(opts)
  local o = util.options("Linear", opts, {
    in_features = {"integer", required = true, min = 1, max = MAX_FEATURES},
    out_features = {"integer", required = true, min = 1, max = MAX_FEATURES},
    bias = {"boolean", default = true},
    generator = {"recur.Generator"},
  })
  local self = setmetatable({in_features = o.in_features, out_features = o.out_features}, Linear)
  local specs = {{"weight", {o.out_features, o.in_features}}}
  if o.bias then specs[2] = {"bias", {o.out_features}} end
  attach_parameters(self, specs)
  self:reset_parameters(o.generator)
  return self
end

--- Re-draws weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)), as torch.
-- @tparam[opt] Generator gen the default generator if nil
function Linear:reset_parameters(gen)
  check_generator("Linear:reset_parameters", gen)
  local bound = 1 / math.sqrt(self.in_features)
  for _, p in ipairs(self:parameters()) do uniform_(p, bound, gen) end
  return self
end

--- y = x W^T + b.
-- @tparam Tensor x `(..., in_features)`
-- @treturn Tensor `(..., out_features)`
function Linear:forward(x)
  local y = util.call("Linear:forward", F.linear_forward, x, self._views.weight, self._views.bias)
  keep_input(self, x)
  return y
end

--- Accumulates the weight and bias gradients.
-- @tparam Tensor grad_output `(..., out_features)`
-- @treturn Tensor the input gradient `(..., in_features)`
function Linear:backward(grad_output)
  check_forward_done(self, "Linear")
  return util.call("Linear:backward", F.linear_backward, self._input, self._views.weight, grad_output,
    grad_views(self).weight, grad_views(self).bias)
end

--- The constructor options, for checkpoints.
-- @treturn table
function Linear:config()
  return {type = "Linear", in_features = self.in_features, out_features = self.out_features,
    bias = self._views.bias ~= nil}
end

function Linear:__tostring()
  return string.format("recur.Linear(in_features=%d, out_features=%d, bias=%s)", self.in_features,
    self.out_features, tostring(self._views.bias ~= nil))
end

--- Embedding
-- @section Embedding

local Embedding = util.class("recur.Embedding", Module)

--- A lookup table, as torch.nn.Embedding, with 1-based indices: input is an integer
-- tensor or a Lua array; output has the input's shape plus `embedding_dim`.
-- `backward` accumulates into the weight's gradient and returns nil (indices have no gradient).
-- Options: `num_embeddings`, `embedding_dim` (required), `generator`. Init: N(0, 1).
-- @tparam table opts
function nn.Embedding(opts)
  local o = util.options("Embedding", opts, {
    num_embeddings = {"integer", required = true, min = 1, max = MAX_FEATURES},
    embedding_dim = {"integer", required = true, min = 1, max = MAX_FEATURES},
    generator = {"recur.Generator"},
  })
  local self = setmetatable({num_embeddings = o.num_embeddings, embedding_dim = o.embedding_dim},
    Embedding)
  attach_parameters(self, {{"weight", {o.num_embeddings, o.embedding_dim}}})
  self:reset_parameters(o.generator)
  return self
end

--- Re-draws the weight from N(0, 1), as torch.
-- @tparam[opt] Generator gen the default generator if nil
function Embedding:reset_parameters(gen)
  check_generator("Embedding:reset_parameters", gen)
  self._views.weight:copy(core.randn(self._views.weight:shape(), gen))
  return self
end

-- a plain copy of an index array, read raw (no __len, no __index)
local function raw_copy(t)
  local out = {}
  for i = 1, rawlen(t) do out[i] = rawget(t, i) end
  return out
end

--- Looks up the rows of the weight.
-- @tparam Tensor|{int,...} indices 1-based integer ids, any shape
-- @treturn Tensor `(..., embedding_dim)`
function Embedding:forward(indices)
  if type(indices) == "table" then
    indices = raw_copy(indices)
    if type(indices[1]) == "table" then indices = util.call("Embedding:forward", core.tensor, indices) end
  end
  local out = util.call("Embedding:forward", F.embedding_forward, self._views.weight, indices)
  keep_input(self, grad_enabled and is_tensor(indices) and indices:clone() or indices)
  return out
end

--- Accumulates the weight gradient.
-- @tparam Tensor grad_output `(..., embedding_dim)`
-- @treturn nil the indices have no gradient
function Embedding:backward(grad_output)
  check_forward_done(self, "Embedding")
  util.call("Embedding:backward", F.embedding_backward, grad_views(self).weight, self._input, grad_output)
  return nil
end

--- The constructor options, for checkpoints.
-- @treturn table
function Embedding:config()
  return {type = "Embedding", num_embeddings = self.num_embeddings, embedding_dim = self.embedding_dim}
end

function Embedding:__tostring()
  return string.format("recur.Embedding(%d, %d)", self.num_embeddings, self.embedding_dim)
end

--- Dropout
-- @section Dropout

local Dropout = util.class("recur.Dropout", Module)

--- Zeroes elements with probability p in training mode and scales the rest by 1/(1-p);
-- the identity in evaluation mode. Options: `p` (0.5), `generator` (default generator).
-- @tparam[opt] table opts
function nn.Dropout(opts)
  local o = util.options("Dropout", opts or {}, {
    p = {"number", default = 0.5, min = 0, below = 1},
    generator = {"recur.Generator"},
  })
  return setmetatable({p = o.p, generator = o.generator}, Dropout)
end

local function check_tensor_arg(fn, name, v)
  if not is_tensor(v) then
    arg_error(1, fn, string.format("%s: expected a recur.Tensor, got %s", name, util.describe(v)))
  end
end

--- Drops elements in training mode; the identity in evaluation mode.
-- @tparam Tensor x
-- @treturn Tensor
function Dropout:forward(x)
  check_tensor_arg("forward", "x", x)
  keep_input(self, x)
  if not self._training or self.p == 0 then
    self._mask = nil
    return x
  end
  local y, mask = F.dropout(x, self.p, self.generator)
  self._mask = mask
  return y
end

--- The gradient through the same mask.
-- @tparam Tensor grad_output
-- @treturn Tensor
function Dropout:backward(grad_output)
  check_forward_done(self, "Dropout")
  check_tensor_arg("backward", "grad_output", grad_output)
  if not self._mask then return grad_output end
  local expected, got = table.concat(self._mask:shape(), ", "), table.concat(grad_output:shape(), ", ")
  if got ~= expected then
    util.error("Dropout:backward: grad_output: expected the forward output's shape (%s), got (%s)", expected, got)
  end
  return grad_output:mul(self._mask)
end

--- The constructor options, for checkpoints.
-- @treturn table
function Dropout:config() return {type = "Dropout", p = self.p} end

function Dropout:__tostring() return string.format("recur.Dropout(p=%g)", self.p) end

--- Recurrent layers
-- @section recurrent

-- The cell types, grouped by family: RNN, GRU, LSTM.

-- family name -> {name =, nonlinearities = {...} or nil, flags = {...}, states =, projection =}
local families, family_order = {}, {}
for _, c in ipairs(CELLS) do
  local f = families[c.family]
  if not f then
    f = {name = c.family, flags = {}, states = c.states, projection = c.projection}
    families[c.family], family_order[#family_order + 1] = f, c.family
  end
  if c.nonlinearity then
    f.nonlinearities = f.nonlinearities or {}
    f.nonlinearities[#f.nonlinearities + 1] = c.nonlinearity
  end
  for flag, on in pairs(c.flags) do
    if on then f.flags[flag] = true end
  end
end

local function quoted_list(items, final)
  local q = {}
  for i, s in ipairs(items) do q[i] = "'" .. s .. "'" end
  if #q < 2 then return q[1] or "" end
  return table.concat(q, ", ", 1, #q - 1) .. " " .. final .. " " .. q[#q]
end

local RECURRENT_NAMES = (function()
  local names = {}
  for i, n in ipairs(family_order) do names[i] = "recur." .. n end
  return quoted_list(names, "or"):gsub("'", "")
end)()

-- util.options spec of a family's constructor
local function options_spec(f)
  local probability = {"number", default = 0}
  local spec = {
    input_size = {"integer", required = true, min = 1, max = LIMITS.max_size},
    hidden_size = {"integer", required = true, min = 1, max = LIMITS.max_size},
    num_layers = {"integer", default = 1, min = 1, max = LIMITS.max_layers},
    bias = {"boolean", default = true},
    batch_first = {"boolean", default = false},
    bidirectional = {"boolean", default = false},
    dropout = probability,
    input_dropout = probability,
    recurrent_dropout = probability,
    generator = {"recur.Generator"},
  }
  if f.nonlinearities then spec.nonlinearity = {"string", default = f.nonlinearities[1]} end
  if f.projection then spec.proj_size = {"integer", default = 0, min = 0} end
  for flag in pairs(f.flags) do spec[flag] = {"boolean", default = false} end
  return spec
end

-- the checks util.options cannot express, at the constructor's caller
local function check_recurrent_options(f, o)
  local function fail(message) util.error("%s: option %s", f.name, message) end
  for _, k in ipairs{"dropout", "input_dropout", "recurrent_dropout"} do
    if not (o[k] >= 0 and o[k] < 1) then fail(string.format("%s: expected a probability in [0, 1), got %s", k, o[k])) end
  end
  if o.proj_size and o.proj_size >= o.hidden_size then
    fail(string.format("proj_size: expected 0..%d, got %s", o.hidden_size - 1, tostring(o.proj_size)))
  end
  if f.nonlinearities then
    local known = false
    for _, n in ipairs(f.nonlinearities) do known = known or n == o.nonlinearity end
    if not known then
      fail(string.format("nonlinearity: expected %s, got '%s'", quoted_list(f.nonlinearities, "or"), o.nonlinearity))
    end
  end
end

local Recurrent = util.class("recur.Recurrent", Module)

-- the recurrence (C) of a recurrent layer
local function recurrence(self, method)
  local r = type(self) == "table" and rawget(self, "_recurrence")
  if not r then
    arg_error(1, method, RECURRENT_NAMES .. " expected, got " .. util.describe(self))
  end
  return r
end

local function define_family(f)
  local cls = util.class("recur." .. f.name, Recurrent)
  cls.__tostring = Recurrent.__tostring -- metamethods are not inherited
  cls._family = f
  local spec = options_spec(f)
  return function(opts)
    if type(opts) ~= "table" then
      arg_error(1, f.name, "table expected, got " .. util.describe(opts))
    end
    local o = util.options(f.name, opts, spec)
    check_recurrent_options(f, o)
    o.type = f.name
    local self = setmetatable({}, cls)
    local r, params, grads, specs = F.rnn_new(o)
    attach_parameters(self, specs, params, grads)
    self._recurrence = r
    return self
  end
end

--- Runs the layer over whole sequences and stores what `backward` needs (nothing under
-- `recur.no_grad`: see "Inference" below).
--
-- **Results and their memory.** Every call returns new tensors: a result you hold never
-- changes when the layer runs again. The options table takes `out`, a tensor of y's shape
-- that forward writes y into and returns instead of a new tensor (PyTorch's `out=`): handing
-- the last y back makes a training or inference loop allocate no new output memory (a
-- multi-megabyte y is otherwise fresh memory, page-faulted in, on every call). `out` must not
-- share memory with x, h0, c0 or the layer's parameters and gradients; its old values are
-- overwritten, so pass it only when you no longer need them.
--
-- **Inference.** Inside `recur.no_grad` the layer keeps nothing for backward: it reads a
-- time-major x in place instead of copying it, and a unidirectional layer without `lengths`
-- writes each step's output straight into y (the same floats, less memory traffic).
--
-- **Threads.** After `recur.set_num_threads(n)` with n > 1, the layer runs on n threads:
-- the batch split in groups of rows, each running the whole recurrence (a bidirectional
-- layer runs its two directions side by side, and splits the batch among n/2 threads each).
-- A unidirectional stack of layers whose batch is too small to split (under 8 rows) runs its
-- forward as a wavefront: each layer in chunks of time steps, beside the layer below it.
-- Results equal those of 1 thread within float rounding (the sums of the weight gradients are
-- added in another order) and are the same bits for a given n; dropout masks do not depend
-- on n. A single unidirectional layer of under 8 rows runs on one thread.
-- @tparam Tensor x `(T, B, input_size)`, or `(B, T, input_size)` with `batch_first`
-- @tparam[opt] Tensor h0 `(num_layers * directions, B, hidden)`; zeros if nil
-- @tparam[opt] Tensor c0 LSTM only: the initial cell state, the shape of h0
-- @tparam[opt] table opts `lengths`: B sequence lengths in 1..T (a Lua array or a 1-D
-- tensor), as PyTorch's packed sequences: outputs past a sequence's end are 0 and `hn`
-- is each sequence's last valid state; `out`: a tensor to write y into (above). It may
-- also come right after x or h0, the states it skips being nil: `lstm:forward(x, {out = y})`
-- @treturn Tensor y `(T, B, directions * hidden)` (`(B, T, ...)` with `batch_first`)
-- @treturn Tensor hn
-- @treturn[opt] Tensor cn LSTM only
function Recurrent:forward(...)
  local r = recurrence(self, "forward")
  r:set_mode(self._training, grad_enabled)
  self._forward_no_grad = false -- a forward that raises leaves nothing to differentiate
  local y, hn, cn = util.call(self._family.name .. ":forward", r.forward, r, ...)
  self._forward_no_grad = not grad_enabled
  if cn == nil then return y, hn end
  return y, hn, cn
end

--- Backward through the last forward: accumulates the parameter gradients and returns
-- the gradients of x, h0 (and c0). A last options table may give `out`, a tensor of x's
-- shape that dx is written into and returned as (see `forward`); it must not share memory
-- with the gradients passed in or the layer's parameters and gradients. As in `forward`, it
-- may come right after grad_y or grad_hn. It runs on the
-- threads of its forward.
-- @tparam Tensor grad_y the gradient of y
-- @tparam[opt] Tensor grad_hn the gradient of hn
-- @tparam[opt] Tensor grad_cn LSTM only: the gradient of cn
-- @tparam[opt] table opts `out`: a tensor to write dx into
-- @treturn Tensor dx
-- @treturn Tensor dh0
-- @treturn[opt] Tensor dc0 LSTM only
function Recurrent:backward(...)
  local r = recurrence(self, "backward")
  check_not_no_grad(self, self._family.name)
  local dx, dh0, dc0 = util.call(self._family.name .. ":backward", r.backward, r, ...)
  if dc0 == nil then return dx, dh0 end
  return dx, dh0, dc0
end

--- Re-draws the parameters: U(-1/sqrt(H), 1/sqrt(H)) (layer-norm gains 1, biases 0) from
-- `gen` or the default generator.
function Recurrent:reset_parameters(gen)
  if gen ~= nil and util.describe(gen) ~= "recur.Generator" then
    arg_error(1, "reset_parameters", "gen: expected a recur.Generator, got " .. util.describe(gen))
  end
  recurrence(self, "reset_parameters"):reset_parameters(gen)
  return self
end

--- A stepper: the layer one time step per call, its state kept between calls.
-- @int[opt=1] B the batch size
-- @treturn recur.core.Stepper
function Recurrent:stepper(B)
  local r = recurrence(self, "stepper")
  return (util.call(self._family.name .. ":stepper", r.stepper, r, B))
end

--- Bytes of workspace a (T, B) forward + backward uses.
function Recurrent:workspace_bytes(T, B)
  local r = recurrence(self, "workspace_bytes")
  return (util.call(self._family.name .. ":workspace_bytes", r.workspace_bytes, r, T, B))
end

--- The constructor's options, PyTorch's names; the variants' options only when set.
function Recurrent:config() return recurrence(self, "config"):config() end

function Recurrent:__tostring()
  local o, extra = recurrence(self, "__tostring"):config(), {}
  if o.bidirectional then extra[#extra + 1] = "bidirectional" end
  if o.batch_first then extra[#extra + 1] = "batch_first" end
  if o.nonlinearity and o.nonlinearity ~= self._family.nonlinearities[1] then extra[#extra + 1] = o.nonlinearity end
  for _, flag in ipairs(sorted_keys(self._family.flags)) do
    if o[flag] then extra[#extra + 1] = flag end
  end
  for _, k in ipairs{"input_dropout", "recurrent_dropout"} do
    if o[k] then extra[#extra + 1] = string.format("%s=%g", k, o[k]) end
  end
  return string.format("recur.%s(input_size=%d, hidden_size=%d, num_layers=%d%s)", self._family.name,
    o.input_size, o.hidden_size, o.num_layers, #extra > 0 and ", " .. table.concat(extra, ", ") or "")
end

--- An Elman RNN, as torch.nn.RNN. Options: `input_size`, `hidden_size` (required),
-- `num_layers` (1), `nonlinearity` ("tanh" or "relu"), `bias` (true), `batch_first` (false),
-- `dropout` (0, between layers, from the default generator), `bidirectional` (false),
-- `input_dropout` and `recurrent_dropout` (0: variational dropout, from `generator`),
-- `generator` (init and variational masks). `forward(x[, h0][, {lengths = ..., out = y}])`
-- -> y, hn; `backward(gy[, ghn][, {out = dx}])` -> dx, dh0. doc/adding-a-cell.md lists the
-- parameter names.
-- @function RNN
-- @tparam table options

--- A GRU, as torch.nn.GRU (reset gate after the recurrent matmul), with RNN's options but
-- `nonlinearity`, and `layer_norm` (false).
-- @function GRU
-- @tparam table options

--- An LSTM, as torch.nn.LSTM, with RNN's options but `nonlinearity`, and `proj_size` (0),
-- `layer_norm` (false) and `peephole` (false). `forward(x[, h0[, c0]][, {lengths = ..., out = y}])`
-- -> y, hn, cn; `backward(gy[, ghn[, gcn]][, {out = dx}])` -> dx, dh0, dc0.
-- @function LSTM
-- @tparam table options

for _, name in ipairs(family_order) do nn[name] = define_family(families[name]) end


--- Sequential
-- @section Sequential

local Sequential = util.class("recur.Sequential", Module)

-- adds child m under name
local function append(self, m, name)
  for _, inner in ipairs((modules_of(m, "Sequential"))) do
    if inner == self then util.error("Sequential: child '%s' contains this Sequential (a cycle)", name) end
  end
  for _, existing in ipairs(self.child_names) do
    if existing == name then util.error("Sequential: duplicate child name '%s'", name) end
  end
  self.children[#self.children + 1] = m
  self.child_names[#self.child_names + 1] = name
end

--- Chains modules: each one's first output is the next one's input. Entries are modules
-- or `{name, module}` pairs; unnamed children are named by position ("1", "2", ...),
-- and parameter names are prefixed with "<name>." (e.g. "2.weight_ih_l0", "decoder.weight").
-- A module may appear more than once; its parameters are counted once (under its first name).
-- @tparam table modules
function nn.Sequential(modules)
  if type(modules) ~= "table" or is_module(modules) then
    util.error("Sequential: expected an array of modules, got %s", util.describe(modules))
  end
  local self = setmetatable({children = {}, child_names = {}}, Sequential)
  for i = 1, rawlen(modules) do
    local entry = rawget(modules, i)
    local name, m = tostring(i), entry
    if type(entry) == "table" and type(entry[1]) == "string" and entry[2] ~= nil then name, m = entry[1], entry[2] end
    if not is_module(m) then
      util.error("Sequential: entry %d is not a module (got %s)", i, util.describe(m))
    end
    append(self, m, name)
  end
  return self
end

--- Appends a module (named by position unless `name` is given).
function Sequential:add(m, name)
  if not is_module(m) then arg_error(1, "add", "expected a module, got " .. util.describe(m)) end
  name = name or tostring(#self.children + 1)
  if type(name) ~= "string" then arg_error(2, "add", "name: expected a string, got " .. util.describe(name)) end
  append(self, m, name)
  return self
end

--- Runs the modules in order.
-- @param x the first module's input
-- @return the last module's output
function Sequential:forward(x)
  for _, m in ipairs(self.children) do x = (m:forward(x)) end
  return x
end

--- Runs the modules' backward in reverse order.
-- @param grad_output the gradient of the last output
-- @return the first module's input gradient
function Sequential:backward(grad_output)
  local g = grad_output
  for i = #self.children, 1, -1 do
    if g == nil then
      util.error("Sequential:backward: child %s returned no input gradient", self.child_names[i + 1])
    end
    local child = self.children[i]
    if type(child.backward) ~= "function" then
      util.error("Sequential:backward: child %s (%s) has no backward method", self.child_names[i], util.describe(child))
    end
    g = (child:backward(g))
  end
  return g
end

--- The modules' options, for checkpoints.
-- @treturn table
function Sequential:config()
  local children = {}
  for i, m in ipairs(self.children) do
    if type(m.config) ~= "function" then
      util.error("Sequential:config: child %s (%s) has no config method", self.child_names[i], util.describe(m))
    end
    children[i] = {name = self.child_names[i], config = m:config()}
  end
  return {type = "Sequential", children = children}
end

function Sequential:__tostring()
  local lines = {"recur.Sequential {"}
  for i, m in ipairs(self.children) do lines[#lines + 1] = "  (" .. self.child_names[i] .. "): " .. tostring(m) end
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n")
end

--- Building from a configuration
-- @section config

local BUILDERS = {Linear = nn.Linear, Embedding = nn.Embedding, Dropout = nn.Dropout}
for _, name in ipairs(family_order) do BUILDERS[name] = nn[name] end

-- a caught message without the position util.error gave it
local function without_position(message) return (tostring(message):gsub("^[^\n]-:%d+: ", "", 1)) end

-- builds cfg (at `path` in the whole configuration); errors carry no position
local function build(cfg, path)
  if type(cfg) ~= "table" or type(cfg.type) ~= "string" then
    error(string.format("%s: expected a table with a type, got %s", path, util.describe(cfg)), 0)
  end
  if cfg.type == "Sequential" then
    local children = cfg.children
    if children ~= nil and type(children) ~= "table" then
      error(string.format("%s.children: expected an array, got %s", path, util.describe(children)), 0)
    end
    local entries = {}
    for i = 1, children and rawlen(children) or 0 do
      local child, where = rawget(children, i), string.format("%s.children[%d]", path, i)
      if type(child) ~= "table" or type(child.name) ~= "string" then
        error(string.format("%s: expected {name = string, config = table}, got %s", where, util.describe(child)), 0)
      end
      entries[i] = {child.name, build(child.config, where .. ".config")}
    end
    local ok, m = pcall(nn.Sequential, entries)
    if not ok then error(path .. ": " .. without_position(m), 0) end
    return m
  end
  local builder = BUILDERS[cfg.type]
  if not builder then error("unknown module type '" .. cfg.type .. "'", 0) end
  local opts = {}
  for k, v in pairs(cfg) do
    if k ~= "type" then opts[k] = v end
  end
  local ok, m = pcall(builder, opts)
  if not ok then error(without_position(m), 0) end
  return m
end

--- A new module from `m:config()` (e.g. from a checkpoint's metadata): the recurrent
-- layers, Linear, Embedding, Dropout and Sequential. A configuration that does not
-- describe one is an argument error.
function nn.from_config(cfg)
  local ok, m = pcall(build, cfg, "config")
  if not ok then util.error("from_config: %s", without_position(m)) end
  return m
end

--- Parameter collections
-- @section collections

--- The (flat parameter, flat gradient) pairs of a module, a `{param, grad}` pair of
-- tensors, or a list or a named table of those, each pair once, in a stable order.
-- This is what optimizers and gradient clipping work on.
-- @param what a module, a {param, grad} pair, or a table of them
-- @string[opt] fn the function named in errors ("flat_pairs")
-- @treturn {{tensor,tensor},...}
function nn.flat_pairs(what, fn)
  fn = fn == nil and "flat_pairs" or fn
  if type(fn) ~= "string" or not fn:match("^[%a_][%w_.:]*$") then
    util.error("flat_pairs: fn: expected a function name or nil, got %s", util.describe(fn))
  end
  local out, seen = {}, {}
  local function add(p, g)
    if not seen[p] then
      seen[p] = true
      out[#out + 1] = {p, g}
    end
  end
  walk(what, function(v, path)
    local where = path == "" and "params" or "params." .. path
    if type(v) ~= "table" then
      if is_tensor(v) then util.error("%s: %s: a tensor alone has no gradient: pass a {param, grad} pair", fn, where) end
      util.error("%s: %s: expected a module, a {param, grad} pair or a table of them, got %s", fn, where,
        util.describe(v))
    end
    if is_tensor(rawget(v, 1)) and is_tensor(rawget(v, 2)) and rawget(v, 3) == nil then
      if v[1]:numel() ~= v[2]:numel() then
        util.error("%s: %s: param and grad have %d and %d elements", fn, where, v[1]:numel(), v[2]:numel())
      end
      add(v[1], v[2])
      return false
    end
    if is_module(v) and type(v.flat_parameters) == "function" then
      local p = v:flat_parameters()
      if p then add(p, v:flat_gradients()) end
    end
    return true
  end, fn)
  return out
end

return nn
