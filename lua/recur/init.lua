--- recur: recurrent neural networks (RNN, GRU, LSTM) for Lua, in C over OpenBLAS.
-- `require "recur"` returns this table: the C core's tensor, generator and layer
-- constructors, plus the Lua-side modules.
-- @module recur

local core = require "recur.core"
local util = require "recur.util"

-- the C core's public functions: not F (the kernels the Lua modules wrap) nor the names
-- starting with "_" (except _VERSION)
local recur = {}
for name, value in pairs(core) do
  if name ~= "F" and (name == "_VERSION" or not name:find("^_")) then recur[name] = value end
end

recur.nn = require "recur.nn"
recur.loss = require "recur.loss"
recur.optim = require "recur.optim"
recur.data = require "recur.data"
recur.plot = require "recur.plot"
recur.train = require "recur.train"
recur.checkpoint = require "recur.checkpoint"
recur.save = recur.checkpoint.save
recur.load = recur.checkpoint.load
recur.load_model = recur.checkpoint.load_model

-- the modules, criterions and clipping helpers at the top level, as recur.Linear{...}
for _, name in ipairs{"RNN", "GRU", "LSTM", "Linear", "Embedding", "Dropout", "Sequential"} do recur[name] = recur.nn[name] end
for _, name in ipairs{"CrossEntropyLoss", "MSELoss", "L1Loss", "SmoothL1Loss"} do recur[name] = recur.loss[name] end
recur.no_grad = recur.nn.no_grad
recur.set_grad_enabled = recur.nn.set_grad_enabled
recur.is_grad_enabled = recur.nn.is_grad_enabled
recur.clip_grad_norm = recur.optim.clip_grad_norm
recur.clip_grad_value = recur.optim.clip_grad_value

--- True when `value` is a recur.Tensor.
-- @function is_tensor
recur.is_tensor = util.is_tensor

return recur
