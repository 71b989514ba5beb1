-- The layer-normalised, peephole and variational-dropout cells: against the reference
-- implementation of tools/make_cell_fixtures.py (specs/fixtures/cells), by finite
-- differences, through the stepper, in checkpoints, and the dropout masks' properties.
local recur = require "recur"
local helpers = require "specs.helpers"
local checks = require "specs.layer_checks"
local gradcheck = checks.gradcheck
local error_of = helpers.error_of

local TOL = 2e-5


-- the fixture's layer, its parameters copied in, its generator seeded for the masks
local function build(case)
  local gen = recur.Generator(0)
  local layer = checks.layer_of_fixture(case, {generator = gen})
  if case.training then
    layer:train()
    gen:manual_seed(case.mask_seed)
    recur.manual_seed(case.dropout_seed)
  end
  return layer
end

describe("new cells match the reference implementation", function()
  for _, name in ipairs(dofile("specs/fixtures/cells/index.lua")) do
    local case = helpers.fixture("cells", name)
    it(name .. ": outputs, input gradients and every parameter gradient", function()
      checks.matches_fixture(build(case), case, TOL)
    end)

    it(name .. ": parameter names, shapes and state_dict order", function()
      local layer = build(case)
      assert.are.same(case.names, layer:parameter_names())
      for _, pname in ipairs(case.names) do
        assert.are.same(case.tensors[pname].shape, layer:named_parameters()[pname]:shape())
      end
    end)
  end
end)

local VARIANTS = {
  {"GRU", {layer_norm = true}},
  {"LSTM", {layer_norm = true}},
  {"LSTM", {peephole = true}},
  {"LSTM", {layer_norm = true, peephole = true}},
}

local function layer_of(cell, variant, extra)
  local opts = {}
  for k, v in pairs(variant) do opts[k] = v end
  for k, v in pairs(extra) do opts[k] = v end
  return recur[cell](opts)
end

local function variant_name(cell, variant)
  local keys = {}
  for k in pairs(variant) do keys[#keys + 1] = k end
  table.sort(keys)
  return cell .. " " .. table.concat(keys, "+")
end

describe("new cells: finite-difference gradient checks", function()
  -- Layer norms over blocks of 6 amplify float32 rounding: the weights are doubled (the
  -- blocks vary more) and the tolerance is 1e-3, twice the worst error seen (4.6e-4,
  -- RECUR_FD_REPORT=1); the reference fixtures above check the same gradients to 2e-5.
  local ln = {weight_scale = 2, tol = 1e-3}
  for _, v in ipairs(VARIANTS) do
    local cell, variant = v[1], v[2]
    it(variant_name(cell, variant) .. ", 2 layers, bidirectional", function()
      gradcheck(function()
        return layer_of(cell, variant, {input_size = 6, hidden_size = 6, num_layers = 2, bidirectional = true})
      end, 3, 2, ln)
    end)
    it(variant_name(cell, variant) .. ", no bias, batch_first" .. (cell == "LSTM" and ", projection" or ""), function()
      gradcheck(function()
        return layer_of(cell, variant, {input_size = 6, hidden_size = 6, bias = false, batch_first = true,
          proj_size = cell == "LSTM" and 2 or nil})
      end, 4, 2, ln)
    end)
  end
  for _, cell in ipairs{"RNN", "GRU", "LSTM"} do
    it(cell .. " with input and recurrent dropout in training mode (masks fixed by the seeds)", function()
      local gen = recur.Generator(5)
      gradcheck(function()
        return recur[cell]{input_size = 3, hidden_size = 4, num_layers = 2, bidirectional = true, dropout = 0.3,
          input_dropout = 0.3, recurrent_dropout = 0.4, generator = gen}
      end, 3, 2, {train = true, generator = gen})
    end)
  end
  it("LSTM layer_norm + peephole with dropouts, packed", function()
    local gen = recur.Generator(6)
    gradcheck(function()
      return recur.LSTM{input_size = 6, hidden_size = 6, layer_norm = true, peephole = true, input_dropout = 0.25,
        recurrent_dropout = 0.25, generator = gen}
    end, 3, 2, {train = true, generator = gen, lengths = {3, 1}, weight_scale = 2, tol = 1e-3})
  end)
end)

describe("new cells: stepper", function()
  local check = checks.stepper_matches_forward
  for _, v in ipairs(VARIANTS) do
    it(variant_name(v[1], v[2]) .. " matches forward, 2 layers" .. (v[1] == "LSTM" and ", projection" or ""),
      function()
        check(layer_of(v[1], v[2], {input_size = 3, hidden_size = 5, num_layers = 2,
          proj_size = v[1] == "LSTM" and 3 or nil, input_dropout = 0.5, recurrent_dropout = 0.5}), 3)
      end)
  end
  it("a stepper of a new cell allocates nothing per step", function()
    local cell = recur.LSTM{input_size = 4, hidden_size = 8, layer_norm = true, peephole = true}:stepper(1)
    local x = recur.ones{4}
    assert.are.equal(0, checks.allocated_kb(function()
      for _ = 1, 200 do cell:step(x) end
    end))
  end)
end)

describe("variational dropout", function()
  local P = 0.4
  -- an RNN whose output shows the masks: relu, identity weights where the mask sits,
  -- zeros elsewhere, no bias
  local function probe(opts)
    local H = 64
    local gen = recur.Generator(opts.seed or 1)
    local layer = recur.RNN{input_size = H, hidden_size = H, nonlinearity = "relu", bias = false,
      input_dropout = opts.input_dropout, recurrent_dropout = opts.recurrent_dropout, generator = gen}
    local W = layer:named_parameters()
    W.weight_ih_l0:zero()
    W.weight_hh_l0:zero()
    for i = 1, H do
      if opts.input_dropout then W.weight_ih_l0:set(i, i, 1) end
      if opts.recurrent_dropout then W.weight_hh_l0:set(i, i, 1) end
    end
    return layer, gen, H
  end

  it("input_dropout: one mask per sequence, the same at every step, inverted scaling, rate p", function()
    local layer, _, H = probe{input_dropout = P}
    local T, B = 5, 40
    local y = layer:forward(recur.ones{T, B, H})
    local dropped, keep = 0, 1 / (1 - P)
    for b = 1, B do
      for j = 1, H do
        local first = y:get(1, b, j)
        assert.is_true(first == 0 or math.abs(first - keep) < 1e-6, "mask value " .. first)
        for t = 2, T do assert.are.equal(first, y:get(t, b, j)) end
        if first == 0 then dropped = dropped + 1 end
      end
    end
    -- 2560 draws: the rate is within 4 standard deviations (0.04) of p
    assert.is_true(math.abs(dropped / (B * H) - P) < 0.04, "dropped fraction " .. dropped / (B * H))
    local rows_differ = false
    for j = 1, H do rows_differ = rows_differ or y:get(1, 1, j) ~= y:get(1, 2, j) end
    assert.is_true(rows_differ, "each sequence has its own mask")
  end)

  it("recurrent_dropout: the same mask on h_{t-1} at every step", function()
    local layer, _, H = probe{recurrent_dropout = P}
    local T, B = 4, 8
    local y = layer:forward(recur.zeros{T, B, H}, recur.ones{1, B, H})
    local keep = 1 / (1 - P)
    for b = 1, B do
      for j = 1, H do
        local m = y:get(1, b, j)
        for t = 1, T do assert.is_true(math.abs(y:get(t, b, j) - (m == 0 and 0 or keep ^ t)) < 1e-4) end
      end
    end
  end)

  it("only in training mode; seeds of the layer's generator reproduce the masks", function()
    local layer, gen, H = probe{input_dropout = P, recurrent_dropout = P}
    local x = recur.ones{3, 2, H}
    gen:manual_seed(3)
    local a = layer:forward(x)
    gen:manual_seed(3)
    assert.are.same(a:totable(), layer:forward(x):totable())
    assert.are_not.same(a:totable(), layer:forward(x):totable())
    layer:evaluate() -- no masks: y_t = relu(x_t + y_{t-1}) = t
    local y = layer:forward(x)
    for t = 1, 3 do assert.are.same(recur.full({2, H}, t):totable(), y[t]:totable()) end
  end)

  it("each direction and layer has its own masks", function()
    local H = 32
    local layer = recur.RNN{input_size = H, hidden_size = H, nonlinearity = "relu", bias = false,
      bidirectional = true, input_dropout = 0.5, generator = recur.Generator(2)}
    for _, name in ipairs{"weight_ih_l0", "weight_ih_l0_reverse"} do
      local w = layer:named_parameters()[name]
      w:zero()
      for i = 1, H do w:set(i, i, 1) end
    end
    local hh = layer:named_parameters()
    hh.weight_hh_l0:zero()
    hh.weight_hh_l0_reverse:zero()
    local y = layer:forward(recur.ones{2, 1, H})
    local differ = false
    for j = 1, H do differ = differ or y:get(1, 1, j) ~= y:get(1, 1, H + j) end
    assert.is_true(differ)
  end)

  it("options are checked and reported by config()", function()
    assert.matches("option recurrent_dropout: expected a probability in %[0, 1%), got 1",
      error_of(recur.GRU, {input_size = 1, hidden_size = 2, recurrent_dropout = 1}))
    assert.matches("option input_dropout: expected a number, got string",
      error_of(recur.LSTM, {input_size = 1, hidden_size = 2, input_dropout = "0.1"}))
    local cfg = recur.LSTM{input_size = 1, hidden_size = 2, input_dropout = 0.1, recurrent_dropout = 0.2,
      layer_norm = true, peephole = true}:config()
    assert.are.same({type = "LSTM", input_size = 1, hidden_size = 2, num_layers = 1, bias = true, batch_first = false,
      dropout = 0, bidirectional = false, proj_size = 0, input_dropout = 0.1, recurrent_dropout = 0.2,
      layer_norm = true, peephole = true}, cfg)
  end)
end)

describe("new cells: options, names and checkpoints", function()
  it("only the families that have a variant accept its option", function()
    assert.matches("RNN: unknown option 'layer_norm'", error_of(recur.RNN, {input_size = 1, hidden_size = 2,
      layer_norm = true}))
    assert.matches("GRU: unknown option 'peephole'", error_of(recur.GRU, {input_size = 1, hidden_size = 2,
      peephole = true}))
    assert.matches("option layer_norm: expected a boolean, got 1", error_of(recur.LSTM, {input_size = 1,
      hidden_size = 2, layer_norm = 1}))
  end)

  it("documented parameter names and init: gains 1, biases 0, peepholes uniform", function()
    local lstm = recur.LSTM{input_size = 3, hidden_size = 4, layer_norm = true, peephole = true, proj_size = 2,
      generator = recur.Generator(1)}
    assert.are.same({"weight_ih_l0", "weight_hh_l0", "ln_ih_weight_l0", "ln_ih_bias_l0", "ln_hh_weight_l0",
      "ln_hh_bias_l0", "ln_cell_weight_l0", "ln_cell_bias_l0", "weight_peephole_l0", "weight_hr_l0"},
      lstm:parameter_names())
    local P = lstm:named_parameters()
    assert.are.same({16}, P.ln_ih_weight_l0:shape())
    assert.are.same({4}, P.ln_cell_bias_l0:shape())
    assert.are.same({12}, P.weight_peephole_l0:shape())
    assert.are.equal(16, P.ln_ih_weight_l0:sum())
    assert.are.equal(4, P.ln_cell_weight_l0:sum())
    assert.are.equal(0, P.ln_hh_bias_l0:norm())
    assert.is_true(P.weight_peephole_l0:norm() > 0 and P.weight_peephole_l0:max() <= 0.5)
    local gru = recur.GRU{input_size = 3, hidden_size = 4, layer_norm = true, bias = false}
    assert.are.same({"weight_ih_l0", "weight_hh_l0", "ln_ih_weight_l0", "ln_hh_weight_l0"}, gru:parameter_names())
  end)

  it("prints its variant", function()
    assert.are.equal("recur.LSTM(input_size=3, hidden_size=4, num_layers=1, layer_norm, peephole, " ..
      "recurrent_dropout=0.25)", tostring(recur.LSTM{input_size = 3, hidden_size = 4, layer_norm = true,
      peephole = true, recurrent_dropout = 0.25}))
  end)

  it("a saved model comes back with its variant and weights", function()
    local path = os.tmpname()
    local model = recur.Sequential{
      {"rnn", recur.LSTM{input_size = 3, hidden_size = 4, layer_norm = true, peephole = true,
        recurrent_dropout = 0.2}},
      {"head", recur.Linear{in_features = 4, out_features = 2}},
    }
    model:named_parameters()["rnn.ln_cell_bias_l0"]:fill(0.25)
    recur.save(path, model)
    local back = recur.load_model(path)
    os.remove(path)
    assert.are.same(model:config(), back:config())
    assert.are.same(model:parameter_names(), back:parameter_names())
    local x = recur.randn{5, 2, 3}
    model:evaluate()
    back:evaluate()
    assert.are.same(model:forward(x):totable(), back:forward(x):totable())
  end)

  it("workspace grows with the per-step buffers the variant keeps", function()
    local plain = recur.LSTM{input_size = 8, hidden_size = 16}
    local ln = recur.LSTM{input_size = 8, hidden_size = 16, layer_norm = true}
    assert.is_true(ln:workspace_bytes(10, 4) > plain:workspace_bytes(10, 4))
  end)
end)
