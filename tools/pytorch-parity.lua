-- Prints the worst relative error of recur against each PyTorch reference case
-- (outputs, dx and every parameter gradient). Run from the repository root:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" lua5.4 tools/pytorch-parity.lua
local recur = require "recur"
local h = require "specs.helpers"

local worst = 0
for _, name in ipairs(dofile("specs/fixtures/layers/index.lua")) do
  local case = h.fixture("layers", name)
  local layer = recur[case.cell](case.options)
  layer:evaluate()
  for n, v in pairs(layer:named_parameters()) do v:copy(h.tensor_of(case.tensors[n])) end
  local function ref(k) return case.tensors[k] and h.tensor_of(case.tensors[k]) end
  local opts = case.tensors.lengths and {lengths = ref "lengths"} or nil
  local y
  if case.cell == "LSTM" then
    y = layer:forward(ref "x", ref "h0", ref "c0", opts)
  else
    y = layer:forward(ref "x", ref "h0", opts)
  end
  local dx = layer:backward(ref "gy", ref "ghn", ref "gcn")
  local err = math.max(h.relative_error(y, ref "y"), h.relative_error(dx, ref "dx"))
  for n, g in pairs(layer:named_gradients()) do err = math.max(err, h.relative_error(g, ref("grad." .. n))) end
  print(string.format("%-30s %.2e", name, err))
  worst = math.max(worst, err)
end
print(string.format("%-30s %.2e", "worst", worst))
