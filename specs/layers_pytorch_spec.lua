-- recur's RNN/GRU/LSTM against PyTorch 1.13 reference cases
-- (specs/fixtures/layers, written by tools/make_layer_fixtures.py).
local recur = require "recur"
local helpers = require "specs.helpers"

local TOL = 2e-5

local function build(case)
  local opts = {}
  for k, v in pairs(case.options) do opts[k] = v end
  local layer = recur[case.cell](opts)
  layer:evaluate()
  for name, view in pairs(layer:named_parameters()) do
    local ref = case.tensors[name]
    assert(ref, "fixture lacks parameter " .. name)
    view:copy(helpers.tensor_of(ref))
  end
  return layer
end

local function maybe(case, name)
  local t = case.tensors[name]
  return t and helpers.tensor_of(t) or nil
end

describe("layers match PyTorch", function()
  for _, name in ipairs(dofile("specs/fixtures/layers/index.lua")) do
    local case = helpers.fixture("layers", name)
    it(name .. ": outputs, input gradients and parameter gradients", function()
      local layer = build(case)
      local lstm = case.cell == "LSTM"
      local x, h0, c0 = maybe(case, "x"), maybe(case, "h0"), maybe(case, "c0")
      local lengths = case.tensors.lengths and {lengths = maybe(case, "lengths")} or nil
      local y, hn, cn
      if lstm then
        y, hn, cn = layer:forward(x, h0, c0, lengths)
      else
        y, hn = layer:forward(x, h0, lengths)
      end
      helpers.assert_close(y, maybe(case, "y"), TOL, "y")
      helpers.assert_close(hn, maybe(case, "hn"), TOL, "hn")
      if lstm then helpers.assert_close(cn, maybe(case, "cn"), TOL, "cn") end
      local dx, dh0, dc0 = layer:backward(maybe(case, "gy"), maybe(case, "ghn"), maybe(case, "gcn"))
      helpers.assert_close(dx, maybe(case, "dx"), TOL, "dx")
      if h0 then helpers.assert_close(dh0, maybe(case, "dh0"), TOL, "dh0") end
      if c0 then helpers.assert_close(dc0, maybe(case, "dc0"), TOL, "dc0") end
      local names = layer:parameter_names()
      local grads = layer:named_gradients()
      for _, pname in ipairs(names) do
        helpers.assert_close(grads[pname], maybe(case, "grad." .. pname), TOL, "grad " .. pname)
      end
    end)

    it(name .. ": parameter names, shapes and state_dict order", function()
      local layer = build(case)
      local expected = {}
      for k in pairs(case.tensors) do
        -- parameters, not "grad.*" nor inputs
        if k:match("^weight_") or k:match("^bias_") then expected[#expected + 1] = k end
      end
      local names = layer:parameter_names()
      local sorted = {}
      for i, n in ipairs(names) do sorted[i] = n end
      table.sort(sorted)
      table.sort(expected)
      assert.are.same(expected, sorted)
      for _, pname in ipairs(names) do
        assert.are.same(case.tensors[pname].shape, layer:named_parameters()[pname]:shape())
      end
    end)
  end
end)
