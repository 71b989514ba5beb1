--- Modules with the recurrent layers' contract: `forward` stores what `backward`
-- needs; `backward(grad_output)` accumulates parameter gradients and returns the
-- gradient of forward's input. Each module with parameters keeps them in one flat
-- tensor (and its gradients in another), with named views into it.
-- @module recur.nn
local core = require "recur.core"
local util = require "recur.util"

local F = core.F
local nn = {}

--- The base of the Lua modules.
-- @type Module
local Module = util.class("recur.Module")
nn.Module = Module

-- Allocates the flat parameter and gradient tensors of `self` for `specs`
-- ({{name, shape}, ...}, in state_dict order) and the views into them.
local function allocate(self, specs)
  local total = 0
  for _, s in ipairs(specs) do
    local n = 1
    for _, d in ipairs(s[2]) do n = n * d end
    total = total + n
  end
  self._params, self._grads = core.zeros{total}, core.zeros{total}
  self._names, self._views, self._grad_views = {}, {}, {}
  local at = 1
  for i, s in ipairs(specs) do
    local n = 1
    for _, d in ipairs(s[2]) do n = n * d end
    self._names[i] = s[1]
    self._views[s[1]] = self._params:narrow(1, at, n):view(s[2])
    self._grad_views[s[1]] = self._grads:narrow(1, at, n):view(s[2])
    at = at + n
  end
  self._training = true
end

local function copy_map(map)
  local out = {}
  for k, v in pairs(map) do out[k] = v end
  return out
end

--- Parameter names in state_dict order.
function Module:parameter_names() return {util.unpack(self._names or {})} end
--- name -> parameter view.
function Module:named_parameters() return copy_map(self._views or {}) end
--- name -> gradient view.
function Module:named_gradients() return copy_map(self._grad_views or {}) end
--- Parameter views in state_dict order.
function Module:parameters()
  local out = {}
  for i, n in ipairs(self._names or {}) do out[i] = self._views[n] end
  return out
end
--- Gradient views in state_dict order.
function Module:gradients()
  local out = {}
  for i, n in ipairs(self._names or {}) do out[i] = self._grad_views[n] end
  return out
end
--- All parameters in one tensor (nil for a module without any).
function Module:flat_parameters() return self._params end
--- All gradients in one tensor.
function Module:flat_gradients() return self._grads end
function Module:zero_grad()
  if self._grads then self._grads:zero() end
  return self
end
function Module:train(on)
  self._training = on ~= false
  return self
end
function Module:evaluate() return self:train(false) end
function Module:training() return self._training end
function Module:__tostring() return self.__name end

local function check_forward_done(self, what)
  if self._input == nil then
    error(string.format("%s:backward: no forward to differentiate (call forward first)", what), 3)
  end
end

local function uniform_(t, bound, gen)
  t:copy(core.rand(t:shape(), gen):mul_(2 * bound):add_(-bound))
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
    in_features = {"integer", required = true, min = 1},
    out_features = {"integer", required = true, min = 1},
    bias = {"boolean", default = true},
    generator = {"any"},
  })
  local self = setmetatable({in_features = o.in_features, out_features = o.out_features}, Linear)
  local specs = {{"weight", {o.out_features, o.in_features}}}
  if o.bias then specs[2] = {"bias", {o.out_features}} end
  allocate(self, specs)
  self:reset_parameters(o.generator)
  return self
end


function Linear:reset_parameters(gen)
  local bound = 1 / math.sqrt(self.in_features)
  for _, p in ipairs(self:parameters()) do uniform_(p, bound, gen) end
  return self
end

function Linear:forward(x)
  local y = F.linear_forward(x, self._views.weight, self._views.bias)
  self._input = x
  return y
end

function Linear:backward(grad_output)
  check_forward_done(self, "Linear")
  return F.linear_backward(self._input, self._views.weight, grad_output, self._grad_views.weight,
    self._grad_views.bias)
end

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
    num_embeddings = {"integer", required = true, min = 1},
    embedding_dim = {"integer", required = true, min = 1},
    generator = {"any"},
  })
  local self = setmetatable({num_embeddings = o.num_embeddings, embedding_dim = o.embedding_dim},
    Embedding)
  allocate(self, {{"weight", {o.num_embeddings, o.embedding_dim}}})
  self:reset_parameters(o.generator)
  return self
end


function Embedding:reset_parameters(gen)
  self._views.weight:copy(core.randn(self._views.weight:shape(), gen))
  return self
end

function Embedding:forward(indices)
  if type(indices) == "table" and type(indices[1]) == "table" then indices = core.tensor(indices) end
  local out = F.embedding_forward(self._views.weight, indices)
  self._input = type(indices) == "table" and {util.unpack(indices)} or indices:clone()
  return out
end

function Embedding:backward(grad_output)
  check_forward_done(self, "Embedding")
  F.embedding_backward(self._grad_views.weight, self._input, grad_output)
  return nil
end

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
    generator = {"any"},
  })
  return setmetatable({p = o.p, generator = o.generator, _training = true}, Dropout)
end


function Dropout:forward(x)
  self._input = x
  if not self._training or self.p == 0 then
    self._mask = nil
    return x
  end
  local y, mask = F.dropout(x, self.p, self.generator)
  self._mask = mask
  return y
end

function Dropout:backward(grad_output)
  check_forward_done(self, "Dropout")
  return self._mask and grad_output:mul(self._mask) or grad_output
end

function Dropout:config() return {type = "Dropout", p = self.p} end

function Dropout:__tostring() return string.format("recur.Dropout(p=%g)", self.p) end

--- Sequential
-- @section Sequential

local Sequential = util.class("recur.Sequential", Module)

--- Chains modules: each one's first output is the next one's input. Entries are modules
-- or `{name, module}` pairs; unnamed children are named by position ("1", "2", ...),
-- and parameter names are prefixed with "<name>." (e.g. "2.weight_ih_l0", "decoder.weight").
-- @tparam table modules
function nn.Sequential(modules)
  if type(modules) ~= "table" then
    error("Sequential: expected an array of modules, got " .. util.describe(modules), 2)
  end
  local self = setmetatable({children = {}, child_names = {}, _training = true}, Sequential)
  for i, entry in ipairs(modules) do
    local name, m = tostring(i), entry
    if type(entry) == "table" and type(entry[1]) == "string" and entry[2] ~= nil then name, m = entry[1], entry[2] end
    if type(m) ~= "table" and type(m) ~= "userdata" or m.forward == nil then
      error(string.format("Sequential: entry %d is not a module (got %s)", i, util.describe(m)), 2)
    end
    self:add(m, name)
  end
  return self
end


--- Appends a module (named by position unless `name` is given).
function Sequential:add(m, name)
  name = name or tostring(#self.children + 1)
  for _, existing in ipairs(self.child_names) do
    if existing == name then error("Sequential: duplicate child name '" .. name .. "'", 2) end
  end
  self.children[#self.children + 1] = m
  self.child_names[#self.child_names + 1] = name
  return self
end

function Sequential:forward(x)
  for _, m in ipairs(self.children) do x = (m:forward(x)) end
  return x
end

function Sequential:backward(grad_output)
  local g = grad_output
  for i = #self.children, 1, -1 do
    if g == nil then
      error(string.format("Sequential:backward: child %s returned no input gradient", self.child_names[i + 1]), 2)
    end
    g = (self.children[i]:backward(g))
  end
  return g
end

-- children's name -> tensor maps, prefixed
local function prefixed(self, method)
  local out = {}
  for i, m in ipairs(self.children) do
    for k, v in pairs(m[method](m)) do out[self.child_names[i] .. "." .. k] = v end
  end
  return out
end

function Sequential:named_parameters() return prefixed(self, "named_parameters") end
function Sequential:named_gradients() return prefixed(self, "named_gradients") end

function Sequential:parameter_names()
  local out = {}
  for i, m in ipairs(self.children) do
    for _, k in ipairs(m:parameter_names()) do out[#out + 1] = self.child_names[i] .. "." .. k end
  end
  return out
end

local function ordered(self, method)
  local out = {}
  for _, m in ipairs(self.children) do
    for _, t in ipairs(m[method](m)) do out[#out + 1] = t end
  end
  return out
end

function Sequential:parameters() return ordered(self, "parameters") end
function Sequential:gradients() return ordered(self, "gradients") end

function Sequential:zero_grad()
  for _, m in ipairs(self.children) do m:zero_grad() end
  return self
end

function Sequential:train(on)
  self._training = on ~= false
  for _, m in ipairs(self.children) do m:train(self._training) end
  return self
end

function Sequential:config()
  local children = {}
  for i, m in ipairs(self.children) do children[i] = {name = self.child_names[i], config = m:config()} end
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

--- A new module from `m:config()` (e.g. from a checkpoint's metadata): the recurrent
-- layers, Linear, Embedding, Dropout and Sequential.
function nn.from_config(cfg)
  if type(cfg) ~= "table" or type(cfg.type) ~= "string" then
    error("from_config: expected a table with a type, got " .. util.describe(cfg), 2)
  end
  if cfg.type == "Sequential" then
    local entries = {}
    for i, child in ipairs(cfg.children or {}) do entries[i] = {child.name, nn.from_config(child.config)} end
    return nn.Sequential(entries)
  end
  local build = ({RNN = core.RNN, GRU = core.GRU, LSTM = core.LSTM, Linear = nn.Linear, Embedding = nn.Embedding,
    Dropout = nn.Dropout})[cfg.type]
  if not build then error("from_config: unknown module type '" .. cfg.type .. "'", 2) end
  local opts = {}
  for k, v in pairs(cfg) do
    if k ~= "type" then opts[k] = v end
  end
  return build(opts)
end

--- Parameter collections
-- @section collections

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name == "recur.Tensor"
end

--- The (flat parameter, flat gradient) pairs of a module, a `{param, grad}` pair of
-- tensors, or a list or a named table of those, each pair once, in a stable order.
-- This is what optimizers and gradient clipping work on.
-- @param what a module, a {param, grad} pair, or a table of them
-- @treturn {{tensor,tensor},...}
function nn.flat_pairs(what)
  local out, seen = {}, {}
  local function visit(v, path)
    if type(v) ~= "table" and type(v) ~= "userdata" then
      error(string.format("expected a module, a {param, grad} pair or a table of them at %s, got %s", path,
        util.describe(v)), 3)
    end
    if is_tensor(v) then
      error(string.format("a tensor alone has no gradient (at %s): pass a {param, grad} pair", path), 3)
    end
    if type(v) == "table" and is_tensor(v[1]) and is_tensor(v[2]) and v[3] == nil then
      if v[1]:numel() ~= v[2]:numel() then
        error(string.format("param and grad at %s have %d and %d elements", path, v[1]:numel(), v[2]:numel()), 3)
      end
      if not seen[v[1]] then
        seen[v[1]] = true
        out[#out + 1] = {v[1], v[2]}
      end
    elseif v.children then
      for i, c in ipairs(v.children) do visit(c, path .. "." .. (v.child_names and v.child_names[i] or i)) end
    elseif v.flat_parameters then
      local p = v:flat_parameters()
      if p and not seen[p] then
        seen[p] = true
        out[#out + 1] = {p, v:flat_gradients()}
      end
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(keys) do visit(v[k], path .. "." .. tostring(k)) end
    end
  end
  visit(what, "params")
  return out
end

return nn
