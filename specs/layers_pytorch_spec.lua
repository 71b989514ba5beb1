-- recur's RNN/GRU/LSTM against PyTorch 1.13 reference cases
-- (specs/fixtures/layers, written by tools/make_layer_fixtures.py).
local helpers = require "specs.helpers"
local checks = require "specs.layer_checks"

local TOL = 2e-5

local build = checks.layer_of_fixture

describe("layers match PyTorch", function()
  for _, name in ipairs(dofile("specs/fixtures/layers/index.lua")) do
    local case = helpers.fixture("layers", name)
    it(name .. ": outputs, input gradients and parameter gradients", function()
      checks.matches_fixture(build(case), case, TOL)
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
