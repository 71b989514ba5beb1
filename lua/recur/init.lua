--- recur: recurrent neural networks (RNN, GRU, LSTM) for Lua, in C over OpenBLAS.
-- `require "recur"` returns this table: the C core's tensor, generator and layer
-- constructors, plus the Lua-side modules.
-- @module recur

local core = require "recur.core"

local recur = {}
for name, value in pairs(core) do
  recur[name] = value
end

--- True when `value` is a recur.Tensor.
function recur.is_tensor(value)
  local mt = getmetatable(value)
  return type(mt) == "table" and mt.__name == "recur.Tensor"
end

return recur
