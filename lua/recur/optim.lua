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

-- Builds an optimizer of `kind`: spec lists its hyper-parameters; buffers(self) names
-- the state tensors each parameter needs.
local function make(kind, opts, spec)
  if type(opts) ~= "table" or opts[1] == nil then
    error(kind .. ": expected {params, ...} with what to update as the first element", 3)
  end
  local target = opts[1]
  local rest = {}
  for k, v in pairs(opts) do
    if k ~= 1 then rest[k] = v end
  end
  local self = util.options(kind, rest, spec)
  self.kind, self._pairs, self._state, self._step = kind, nn.flat_pairs(target), {}, 0
  if #self._pairs == 0 then error(kind .. ": nothing to optimize (no parameters found)", 3) end
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
  F.sgd_step(self, p, g, buf, first)
end

local function adam(self, i, p, g)
  local hyper = {lr = self.lr, beta1 = self.betas[1], beta2 = self.betas[2], eps = self.eps,
    weight_decay = self.weight_decay, decoupled = self.kind == "AdamW", amsgrad = self.amsgrad}
  F.adam_step(hyper, self._step, p, g, buffer(self, i, "exp_avg"), buffer(self, i, "exp_avg_sq"),
    self.amsgrad and buffer(self, i, "max_exp_avg_sq") or nil)
end
steps.Adam, steps.AdamW = adam, adam

function steps.RMSprop(self, i, p, g)
  F.rmsprop_step(self, p, g, buffer(self, i, "square_avg"), self.centered and buffer(self, i, "grad_avg") or nil,
    self.momentum > 0 and buffer(self, i, "momentum_buffer") or nil)
end

--- Applies one update to every parameter.
function Optimizer:step()
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

--- Restores a snapshot from `state()` (the parameters must be laid out the same way).
function Optimizer:load_state(s)
  if type(s) ~= "table" or s.kind ~= self.kind then
    error(string.format("%s:load_state: expected a %s state, got %s", self.kind, self.kind,
      type(s) == "table" and tostring(s.kind) or util.describe(s)), 2)
  end
  self._step, self.lr, self._state = s.step, s.lr, {}
  for i, b in pairs(s.buffers) do
    local pair = self._pairs[i]
    if not pair then error(string.format("%s:load_state: state has buffers for parameter group %d of %d", self.kind, i, #self._pairs), 2) end
    self._state[i] = {}
    for name, t in pairs(b) do
      if t:numel() ~= pair[1]:numel() then
        error(string.format("%s:load_state: %s of group %d has %d elements, expected %d", self.kind, name, i,
          t:numel(), pair[1]:numel()), 2)
      end
      self._state[i][name] = t:clone()
    end
  end
  return self
end

function Optimizer:__tostring() return string.format("recur.optim.%s(lr=%g)", self.kind, self.lr) end

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
    error("SGD: nesterov needs a momentum and zero dampening", 2)
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
    if type(b[k]) ~= "number" or b[k] < 0 or b[k] >= 1 then
      error(string.format("%s: option betas: expected two numbers in [0, 1), got %s", o.kind, tostring(b[k])), 3)
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
  if type(opts) ~= "table" or getmetatable(opts[1]) ~= Optimizer then
    error(kind .. ": expected {optimizer, ...} with the optimizer as the first element", 3)
  end
  local rest = {}
  for k, v in pairs(opts) do
    if k ~= 1 then rest[k] = v end
  end
  local self = util.options(kind, rest, spec)
  self.optimizer, self.base_lr, self.epoch, self._rate = opts[1], opts[1].lr, 0, rate
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
function Schedule:state() return {epoch = self.epoch, base_lr = self.base_lr} end
function Schedule:load_state(s)
  self.epoch, self.base_lr = s.epoch, s.base_lr
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

--- Scales every gradient so that their joint L2 norm is at most max_norm
-- (torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
-- @param params what optimizers take
-- @number max_norm
function optim.clip_grad_norm(params, max_norm)
  if type(max_norm) ~= "number" or max_norm < 0 then
    error("clip_grad_norm: max_norm: expected a non-negative number, got " .. tostring(max_norm), 2)
  end
  local pairs_ = nn.flat_pairs(params)
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
  if type(clip_value) ~= "number" or clip_value < 0 then
    error("clip_grad_value: clip_value: expected a non-negative number, got " .. tostring(clip_value), 2)
  end
  for _, pg in ipairs(nn.flat_pairs(params)) do pg[2]:clamp_(-clip_value, clip_value) end
end

return optim
