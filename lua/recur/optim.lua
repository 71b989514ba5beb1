--- Optimizers with PyTorch's update rules and defaults, updating the flat parameter
-- buffers in C, and learning-rate schedules.
--
--     local opt = recur.optim.Adam{model, lr = 1e-3}
--     opt:zero_grad(); ...; opt:step()
--
-- The first array element is what to update: a module, a `{param, grad}` pair of
-- tensors, or a list of those. `opt.lr` may be changed at any time (schedules do).
-- @module recur.optim
local core = require "recur.core"
local nn = require "recur.nn"
local util = require "recur.util"

local F = core.F
local optim = {}

local Optimizer = util.class("recur.Optimizer")

-- a number >= 0 (NaN is not)
local function nonnegative(v) return type(v) == "number" and v >= 0 end

-- Builds an optimizer of `kind`: spec lists its hyper-parameters; buffers(self) names
-- the state tensors each parameter needs.
local function make(kind, opts, spec)
  if type(opts) ~= "table" or rawget(opts, 1) == nil then
    util.error("%s: expected {params, ...} with what to update as the first element, got %s", kind, util.describe(opts))
  end
  local target = rawget(opts, 1)
  local rest = {}
  for k, v in next, opts do
    if k ~= 1 then rest[k] = v end
  end
  local self = util.options(kind, rest, spec)
  self.kind, self._pairs, self._state, self._step = kind, nn.flat_pairs(target, kind), {}, 0
  if #self._pairs == 0 then util.error("%s: nothing to optimize (no parameters found)", kind) end
  return setmetatable(self, Optimizer)
end

--- Zeroes every gradient buffer.
function Optimizer:zero_grad()
  for _, pg in ipairs(self._pairs) do pg[2]:zero() end
  return self
end

-- the state tensor `name` of pair i, created as zeros on first use
local function buffer(self, i, name)
  local st = self._state[i] or {}
  self._state[i] = st
  if not st[name] then st[name] = core.zeros{self._pairs[i][1]:numel()} end
  return st[name]
end

local steps = {}

function steps.SGD(self, i, p, g)
  local first = self._state[i] == nil or self._state[i].momentum_buffer == nil
  local buf = self.momentum ~= 0 and buffer(self, i, "momentum_buffer") or nil
  util.call("SGD:step", F.sgd_step, self, p, g, buf, first)
end

local function adam(self, i, p, g)
  local hyper = {lr = self.lr, beta1 = self.betas[1], beta2 = self.betas[2], eps = self.eps,
    weight_decay = self.weight_decay, decoupled = self.kind == "AdamW", amsgrad = self.amsgrad}
  util.call(self.kind .. ":step", F.adam_step, hyper, self._step, p, g, buffer(self, i, "exp_avg"), buffer(self, i, "exp_avg_sq"),
    self.amsgrad and buffer(self, i, "max_exp_avg_sq") or nil)
end
steps.Adam, steps.AdamW = adam, adam

function steps.RMSprop(self, i, p, g)
  util.call("RMSprop:step", F.rmsprop_step, self, p, g, buffer(self, i, "square_avg"),
    self.centered and buffer(self, i, "grad_avg") or nil,
    self.momentum > 0 and buffer(self, i, "momentum_buffer") or nil)
end

--- Applies one update to every parameter.
function Optimizer:step()
  if not nonnegative(self.lr) then
    util.error("%s:step: lr: expected a non-negative number, got %s", self.kind, tostring(self.lr))
  end
  self._step = self._step + 1
  for i, pg in ipairs(self._pairs) do steps[self.kind](self, i, pg[1], pg[2]) end
  return self
end

--- A snapshot of the optimizer's state (step count, hyper-parameters and copies of
-- its buffers), for checkpoints.
function Optimizer:state()
  local s = {kind = self.kind, step = self._step, lr = self.lr, buffers = {}}
  for i, st in pairs(self._state) do
    local b = {}
    for name, t in pairs(st) do b[name] = t:clone() end
    s.buffers[i] = b
  end
  return s
end

-- the state buffers each kind of optimizer keeps per parameter
local BUFFERS = {
  SGD = {momentum_buffer = true},
  Adam = {exp_avg = true, exp_avg_sq = true, max_exp_avg_sq = true},
  AdamW = {exp_avg = true, exp_avg_sq = true, max_exp_avg_sq = true},
  RMSprop = {square_avg = true, grad_avg = true, momentum_buffer = true},
}

--- Restores a snapshot from `state()` (the parameters must be laid out the same way).
-- Everything is checked first: on an error the optimizer is left as it was.
function Optimizer:load_state(s)
  local fn = self.kind .. ":load_state"
  if type(s) ~= "table" or s.kind ~= self.kind then
    util.error("%s: expected a %s state, got %s", fn, self.kind, type(s) == "table" and tostring(s.kind) or util.describe(s))
  end
  if not util.is_integer(s.step) or s.step < 0 then
    util.error("%s: step: expected a non-negative integer, got %s", fn, tostring(s.step))
  end
  if not nonnegative(s.lr) then
    util.error("%s: lr: expected a non-negative number, got %s", fn, tostring(s.lr))
  end
  if type(s.buffers) ~= "table" then util.error("%s: buffers: expected a table, got %s", fn, util.describe(s.buffers)) end
  local state = {}
  for i, b in pairs(s.buffers) do
    local pair = self._pairs[i]
    if not pair then
      util.error("%s: the state has buffers for parameter group %s of %d", fn, tostring(i), #self._pairs)
    end
    if type(b) ~= "table" then util.error("%s: buffers[%d]: expected a table, got %s", fn, i, util.describe(b)) end
    state[i] = {}
    for name, t in pairs(b) do
      if not BUFFERS[self.kind][name] then
        util.error("%s: buffers[%d]: %s keeps no buffer named %s", fn, i, self.kind, tostring(name))
      end
      if not util.is_tensor(t) or t:numel() ~= pair[1]:numel() then
        util.error("%s: %s of group %d: expected a tensor of %d elements, got %s", fn, name, i, pair[1]:numel(),
          util.is_tensor(t) and t:numel() .. " elements" or util.describe(t))
      end
      state[i][name] = t:clone()
    end
  end
  self._step, self.lr, self._state = util.tointeger(s.step), s.lr, state
  return self
end

function Optimizer:__tostring() return string.format("recur.optim.%s(lr=%s)", self.kind, tostring(self.lr)) end

--- Optimizers
-- @section optimizers

--- SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD).
-- Options: `lr` (required), `momentum` (0), `dampening` (0), `nesterov` (false), `weight_decay` (0).
function optim.SGD(opts)
  local o = make("SGD", opts, {
    lr = {"number", required = true, min = 0},
    momentum = {"number", default = 0, min = 0},
    dampening = {"number", default = 0},
    nesterov = {"boolean", default = false},
    weight_decay = {"number", default = 0, min = 0},
  })
  if o.nesterov and (o.momentum <= 0 or o.dampening ~= 0) then
    util.error("SGD: nesterov needs a momentum and zero dampening")
  end
  return o
end

local function adam_spec(weight_decay)
  return {
    lr = {"number", default = 1e-3, min = 0},
    betas = {"table", default = {0.9, 0.999}},
    eps = {"number", default = 1e-8, min = 0},
    weight_decay = {"number", default = weight_decay, min = 0},
    amsgrad = {"boolean", default = false},
  }
end

local function check_betas(o)
  local b = o.betas
  for k = 1, 2 do
    local v = rawget(b, k)
    if type(v) ~= "number" or not (v >= 0 and v < 1) then
      util.error("%s: option betas: expected two numbers in [0, 1), got %s", o.kind, tostring(v))
    end
  end
  return o
end

--- Adam (torch.optim.Adam). Options: `lr` (1e-3), `betas` ({0.9, 0.999}), `eps` (1e-8),
-- `weight_decay` (0, added to the gradient), `amsgrad` (false).
function optim.Adam(opts) return check_betas(make("Adam", opts, adam_spec(0))) end

--- AdamW (torch.optim.AdamW): Adam with decoupled weight decay (default 1e-2).
function optim.AdamW(opts) return check_betas(make("AdamW", opts, adam_spec(1e-2))) end

--- RMSprop (torch.optim.RMSprop). Options: `lr` (1e-2), `alpha` (0.99), `eps` (1e-8),
-- `weight_decay` (0), `momentum` (0), `centered` (false).
function optim.RMSprop(opts)
  return make("RMSprop", opts, {
    lr = {"number", default = 1e-2, min = 0},
    alpha = {"number", default = 0.99, min = 0},
    eps = {"number", default = 1e-8, min = 0},
    weight_decay = {"number", default = 0, min = 0},
    momentum = {"number", default = 0, min = 0},
    centered = {"boolean", default = false},
  })
end

--- Learning-rate schedules
-- @section schedules

local Schedule = util.class("recur.optim.Schedule")

local function schedule(kind, opts, spec, rate)
  if type(opts) ~= "table" or getmetatable(rawget(opts, 1)) ~= Optimizer then
    util.error("%s: expected {optimizer, ...} with the optimizer as the first element, got %s", kind,
      util.describe(type(opts) == "table" and rawget(opts, 1) or opts))
  end
  local rest = {}
  for k, v in next, opts do
    if k ~= 1 then rest[k] = v end
  end
  local self = util.options(kind, rest, spec)
  local lr = rawget(opts, 1).lr
  if not nonnegative(lr) then util.error("%s: the optimizer's lr is %s, not a non-negative number", kind, tostring(lr)) end
  self.optimizer, self.base_lr, self.epoch, self._rate = opts[1], lr, 0, rate
  return setmetatable(self, Schedule)
end

--- Advances one epoch and sets the optimizer's lr.
function Schedule:step()
  self.epoch = self.epoch + 1
  self.optimizer.lr = self._rate(self, self.epoch)
  return self
end

--- The learning rate the schedule set last.
function Schedule:get_last_lr() return self.optimizer.lr end
--- A snapshot for checkpoints: `{epoch = ..., base_lr = ...}`.
-- @treturn table
function Schedule:state() return {epoch = self.epoch, base_lr = self.base_lr} end
--- Restores a snapshot from `state()` and sets the optimizer's lr to match.
function Schedule:load_state(s)
  if type(s) ~= "table" then util.error("load_state: expected a schedule state, got %s", util.describe(s)) end
  if not util.is_integer(s.epoch) or s.epoch < 0 then
    util.error("load_state: epoch: expected a non-negative integer, got %s", tostring(s.epoch))
  end
  if type(s.base_lr) ~= "number" or not (s.base_lr >= 0 and s.base_lr < math.huge) then
    util.error("load_state: base_lr: expected a non-negative number, got %s", tostring(s.base_lr))
  end
  self.epoch, self.base_lr = util.tointeger(s.epoch), s.base_lr
  self.optimizer.lr = self.epoch > 0 and self._rate(self, self.epoch) or self.base_lr
  return self
end

--- lr = base_lr * gamma ^ floor(epoch / step_size) (torch.optim.lr_scheduler.StepLR).
-- Options: `step_size` (required), `gamma` (0.1).
function optim.StepLR(opts)
  return schedule("StepLR", opts, {
    step_size = {"integer", required = true, min = 1},
    gamma = {"number", default = 0.1, min = 0},
  }, function(self, epoch) return self.base_lr * self.gamma ^ util.idiv(epoch, self.step_size) end)
end

--- lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2, the closed form of
-- torch.optim.lr_scheduler.CosineAnnealingLR. Options: `T_max` (required), `eta_min` (0).
function optim.CosineAnnealingLR(opts)
  return schedule("CosineAnnealingLR", opts, {
    T_max = {"integer", required = true, min = 1},
    eta_min = {"number", default = 0, min = 0},
  }, function(self, epoch)
    return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
  end)
end

--- Gradient clipping
-- @section clipping

local function check_params(fn, params)
  if type(params) ~= "table" and type(params) ~= "userdata" then
    util.error("%s: params: expected a module, a {param, grad} pair or a table of them, got %s", fn,
      util.describe(params))
  end
end

--- Scales every gradient so that their joint L2 norm is at most max_norm
-- (torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
-- @param params what optimizers take
-- @number max_norm
function optim.clip_grad_norm(params, max_norm)
  check_params("clip_grad_norm", params)
  if not nonnegative(max_norm) then
    util.error("clip_grad_norm: max_norm: expected a non-negative number, got %s", tostring(max_norm))
  end
  local pairs_ = nn.flat_pairs(params, "clip_grad_norm")
  local sq = 0
  for _, pg in ipairs(pairs_) do sq = sq + pg[2]:norm() ^ 2 end
  local total = math.sqrt(sq)
  local coef = max_norm / (total + 1e-6)
  if coef < 1 then
    for _, pg in ipairs(pairs_) do pg[2]:mul_(coef) end
  end
  return total
end

--- Clamps every gradient to [-clip_value, clip_value] (torch.nn.utils.clip_grad_value_).
function optim.clip_grad_value(params, clip_value)
  check_params("clip_grad_value", params)
  if not nonnegative(clip_value) then
    util.error("clip_grad_value: clip_value: expected a non-negative number, got %s", tostring(clip_value))
  end
  for _, pg in ipairs(nn.flat_pairs(params, "clip_grad_value")) do pg[2]:clamp_(-clip_value, clip_value) end
end

return optim
