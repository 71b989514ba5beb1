local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

local checks = require "specs.layer_checks"
local gradcheck = checks.gradcheck

describe("recurrent layers", function()
  describe("finite-difference gradient checks", function()
    it("RNN tanh, 2 layers, bidirectional", function()
      gradcheck(function() return recur.RNN{input_size = 2, hidden_size = 3, num_layers = 2, bidirectional = true} end, 4, 2)
    end)
    it("RNN relu, batch_first", function()
      gradcheck(function() return recur.RNN{input_size = 3, hidden_size = 4, nonlinearity = "relu", batch_first = true} end, 4, 3)
    end)
    it("GRU, 2 layers, bidirectional, batch_first", function()
      gradcheck(function() return recur.GRU{input_size = 2, hidden_size = 3, num_layers = 2, bidirectional = true, batch_first = true} end, 3, 2)
    end)
    it("GRU, unbatched, no bias", function()
      gradcheck(function() return recur.GRU{input_size = 3, hidden_size = 3, bias = false} end, 5)
    end)
    it("LSTM, 3 layers", function()
      gradcheck(function() return recur.LSTM{input_size = 2, hidden_size = 3, num_layers = 3} end, 3, 2)
    end)
    it("LSTM with projection, 2 layers, bidirectional", function()
      gradcheck(function() return recur.LSTM{input_size = 2, hidden_size = 4, proj_size = 2, num_layers = 2, bidirectional = true} end, 3, 2)
    end)
    it("GRU with dropout in training mode (same mask through a fixed seed)", function()
      gradcheck(function() return recur.GRU{input_size = 2, hidden_size = 3, num_layers = 3, dropout = 0.4} end, 3, 2, {train = true})
    end)
  end)

  describe("dropout", function()
    local function run(layer, seed)
      recur.manual_seed(seed)
      return (layer:forward(recur.ones{4, 2, 3}))
    end
    it("is active in training mode only, between layers", function()
      local layer = recur.LSTM{input_size = 3, hidden_size = 8, num_layers = 2, dropout = 0.5, generator = recur.Generator(1)}
      assert.is_true(layer:training())
      local a, b = run(layer, 1), run(layer, 2)
      assert.is_true(helpers.relative_error(a, b) > 1e-3)
      layer:evaluate()
      assert.is_false(layer:training())
      assert.are.same(run(layer, 1):totable(), run(layer, 2):totable())
      layer:train()
      assert.are.same(run(layer, 3):totable(), run(layer, 3):totable())
    end)
    it("does nothing to a single layer", function()
      local layer = recur.GRU{input_size = 3, hidden_size = 4, dropout = 0.5}
      assert.are.same(run(layer, 1):totable(), run(layer, 2):totable())
    end)
  end)

  describe("shapes and layouts", function()
    it("batch_first gives the transposed result of time-major", function()
      local gen = recur.Generator(3)
      local tm = recur.GRU{input_size = 3, hidden_size = 4, num_layers = 2, generator = recur.Generator(5)}
      local bf = recur.GRU{input_size = 3, hidden_size = 4, num_layers = 2, batch_first = true, generator = recur.Generator(5)}
      local x = recur.randn({2, 5, 3}, gen) -- (B, T, I)
      local xt = recur.zeros{5, 2, 3}
      for b = 1, 2 do for t = 1, 5 do for i = 1, 3 do xt:set(t, b, i, x:get(b, t, i)) end end end
      local ybf, hbf = bf:forward(x)
      local ytm, htm = tm:forward(xt)
      assert.are.same({2, 5, 4}, ybf:shape())
      for b = 1, 2 do for t = 1, 5 do
        assert.are.equal(ytm:get(t, b, 1), ybf:get(b, t, 1))
      end end
      assert.are.same(htm:totable(), hbf:totable())
    end)

    it("an unbatched input equals a batch of one", function()
      local layer = recur.LSTM{input_size = 2, hidden_size = 3, num_layers = 2, bidirectional = true}
      local x = recur.randn{4, 2}
      local y1, h1, c1 = layer:forward(x)
      local y3, h3, c3 = layer:forward(x:view{4, 1, 2})
      assert.are.same({4, 6}, y1:shape())
      assert.are.same({4, 3}, h1:shape())
      assert.are.same(y3:view{4, 6}:totable(), y1:totable())
      assert.are.same(h3:view{4, 3}:totable(), h1:totable())
      assert.are.same(c3:view{4, 3}:totable(), c1:totable())
    end)

    it("output shapes follow PyTorch, with proj_size", function()
      local layer = recur.LSTM{input_size = 5, hidden_size = 6, proj_size = 2, num_layers = 3, bidirectional = true}
      local y, hn, cn = layer:forward(recur.zeros{7, 4, 5})
      assert.are.same({7, 4, 4}, y:shape())
      assert.are.same({6, 4, 2}, hn:shape())
      assert.are.same({6, 4, 6}, cn:shape())
      local dx, dh0, dc0 = layer:backward(recur.ones{7, 4, 4})
      assert.are.same({7, 4, 5}, dx:shape())
      assert.are.same({6, 4, 2}, dh0:shape())
      assert.are.same({6, 4, 6}, dc0:shape())
    end)

    it("a longer sequence after a shorter one grows the workspace", function()
      local layer = recur.GRU{input_size = 2, hidden_size = 3}
      layer:forward(recur.ones{2, 1, 2})
      local y = layer:forward(recur.ones{50, 8, 2})
      assert.are.same({50, 8, 3}, y:shape())
      local y2 = layer:forward(recur.ones{3, 1, 2})
      assert.are.same({3, 1, 3}, y2:shape())
    end)
  end)

  describe("parameters", function()
    it("named parameters are views into the flat buffer", function()
      local layer = recur.GRU{input_size = 3, hidden_size = 4, num_layers = 2}
      local flat = layer:flat_parameters()
      local total = 0
      for _, p in ipairs(layer:parameters()) do total = total + p:numel() end
      assert.are.equal(flat:numel(), total)
      local P = layer:named_parameters()
      assert.are.same({12, 3}, P.weight_ih_l0:shape())
      assert.are.same({12, 4}, P.weight_hh_l1:shape())
      P.weight_ih_l0:fill(0.5)
      assert.are.equal(0.5, flat[1])
      flat:fill(0)
      assert.are.equal(0, P.bias_hh_l1:norm())
      local y = layer:forward(recur.ones{2, 1, 3})
      assert.are.equal(0, y:norm())
    end)

    it("state_dict order and names", function()
      local layer = recur.LSTM{input_size = 3, hidden_size = 4, proj_size = 2, bidirectional = true}
      assert.are.same({"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
        "weight_hr_l0_reverse"}, layer:parameter_names())
      assert.are.equal(#layer:parameter_names(), #layer:gradients())
    end)

    it("default init is U(-1/sqrt(H), 1/sqrt(H)) from recur's generator", function()
      local a = recur.LSTM{input_size = 8, hidden_size = 16, generator = recur.Generator(1)}
      local b = recur.LSTM{input_size = 8, hidden_size = 16, generator = recur.Generator(1)}
      local flat = a:flat_parameters()
      assert.are.same(flat:totable(), b:flat_parameters():totable())
      local k, lo, hi = 1 / math.sqrt(16), math.huge, -math.huge
      for i = 1, flat:numel() do lo, hi = math.min(lo, flat[i]), math.max(hi, flat[i]) end
      assert.is_true(lo >= -k and hi <= k and lo < -0.9 * k and hi > 0.9 * k)
    end)

    it("gradients accumulate until zero_grad", function()
      local layer = recur.RNN{input_size = 2, hidden_size = 3}
      local x, g = recur.ones{3, 1, 2}, recur.ones{3, 1, 3}
      layer:forward(x)
      layer:backward(g)
      local once = layer:flat_gradients():clone()
      layer:forward(x)
      layer:backward(g)
      helpers.assert_close(layer:flat_gradients(), once:mul(2), 1e-6, "accumulated")
      layer:zero_grad()
      assert.are.equal(0, layer:flat_gradients():norm())
    end)
  end)

  describe("stepper", function()
    local check = checks.stepper_matches_forward

    it("matches forward for GRU, LSTM (with projection) and RNN", function()
      check(recur.GRU{input_size = 3, hidden_size = 5, num_layers = 2}, 2)
      check(recur.LSTM{input_size = 3, hidden_size = 5, num_layers = 2, proj_size = 3}, 3)
      check(recur.RNN{input_size = 3, hidden_size = 4, nonlinearity = "relu"}, 1)
    end)

    it("takes 1-D steps at batch 1 and reuses its output tensor", function()
      local layer = recur.GRU{input_size = 2, hidden_size = 3}
      local cell = layer:stepper()
      local a = cell:step(recur.ones{2})
      assert.are.same({3}, a:shape())
      local first = a:clone()
      local b = cell:step(recur.ones{2})
      assert.are.equal(a, b)
      assert.is_true(helpers.relative_error(b, first) > 0)
    end)

    it("reset, state and set_state", function()
      local layer = recur.LSTM{input_size = 2, hidden_size = 3}
      local cell = layer:stepper(1)
      local x = recur.ones{1, 2}
      local first = cell:step(x):clone()
      local h, c = cell:state()
      cell:step(x)
      cell:set_state(h, c)
      local again = cell:step(x):clone()
      cell:reset()
      assert.are.same(first:totable(), cell:step(x):totable())
      assert.are_not.same(first:totable(), again:totable())
      assert.matches("h: expected shape %(1, 1, 3%), got %(1, 3%)", error_of(cell.set_state, cell, recur.zeros{1, 3}, c))
    end)

    it("rejects bad use", function()
      local bi = recur.GRU{input_size = 2, hidden_size = 3, bidirectional = true}
      assert.matches("bidirectional layer cannot run step by step", error_of(bi.stepper, bi))
      local layer = recur.GRU{input_size = 2, hidden_size = 3}
      assert.matches("batch: expected 1..", error_of(layer.stepper, layer, 0))
      local cell = layer:stepper(2)
      assert.matches("x: expected shape %(2, 2%), got %(2%)", error_of(cell.step, cell, recur.zeros{2}))
      assert.matches("x: expected a recur.Tensor, got table", error_of(cell.step, cell, {1, 2}))
    end)
  end)

  describe("variable lengths", function()
    it("ignores padding, even NaN, and freezes finished rows", function()
      local layer = recur.LSTM{input_size = 2, hidden_size = 3, num_layers = 2, bidirectional = true}
      local x = recur.randn{4, 2, 2}
      local padded = x:clone()
      for t = 3, 4 do padded:set(t, 2, 1, 0 / 0) end
      local y2, hn2 = layer:forward(x:narrow(1, 1, 2):select(2, 2):view{2, 1, 2})
      local y, hn, cn = layer:forward(padded, nil, nil, {lengths = {4, 2}})
      helpers.assert_close(y:select(2, 2):narrow(1, 1, 2):view{2, 1, 6}, y2, 1e-6, "row 2 output")
      assert.are.equal(0, y:select(2, 2):narrow(1, 3, 2):norm())
      -- row 2's final states are those of its own last step (t = 2); within rounding, since a
      -- batch of one takes the GEMV and a larger one recur's packed products
      helpers.assert_close(hn:select(2, 2), hn2:select(2, 1), 1e-6, "row 2's hn")
      assert.is_true(cn:norm() == cn:norm())
      local dx = layer:backward(recur.ones{4, 2, 6}, recur.ones{4, 2, 3}, recur.ones{4, 2, 3})
      assert.are.equal(0, dx:select(2, 2):narrow(1, 3, 2):norm())
      assert.is_true(layer:flat_gradients():norm() == layer:flat_gradients():norm(), "NaN reached the gradients")
    end)

    it("accepts lengths as a tensor and checks them", function()
      local gru = recur.GRU{input_size = 1, hidden_size = 2}
      local x = recur.ones{3, 2, 1}
      gru:forward(x, nil, {lengths = recur.tensor{3, 1}})
      assert.matches("lengths%[2%]: expected an integer in 1..3", error_of(gru.forward, gru, x, nil, {lengths = {3, 4}}))
      assert.matches("lengths%[1%]: expected an integer in 1..3", error_of(gru.forward, gru, x, nil, {lengths = {0, 1}}))
      assert.matches("lengths%[1%]: expected an integer in 1..3", error_of(gru.forward, gru, x, nil, {lengths = {1.5, 1}}))
      assert.matches("lengths%[2%]: expected an integer", error_of(gru.forward, gru, x, nil, {lengths = {1, "2"}}))
      assert.matches("lengths: expected a 1%-D tensor or an array of 2 integers", error_of(gru.forward, gru, x, nil, {lengths = {1}}))
    end)
  end)

  describe("bad input", function()
    local gru = recur.GRU{input_size = 3, hidden_size = 4, num_layers = 2}
    it("wrong input_size and wrong dimensions of x", function()
      assert.matches("x: expected shape %(5, 2, 3%), got %(5, 2, 7%)", error_of(gru.forward, gru, recur.zeros{5, 2, 7}))
      assert.matches("x: expected a 3%-D %(batched%) or 2%-D %(unbatched%) tensor, got 1%-D", error_of(gru.forward, gru, recur.zeros{3}))
      assert.matches("at least 1", error_of(gru.forward, gru, recur.zeros{0, 2, 3}))
    end)
    it("wrong batch in h0, wrong c0", function()
      assert.matches("h0: expected shape %(2, 2, 4%), got %(2, 3, 4%)", error_of(gru.forward, gru, recur.zeros{5, 2, 3}, recur.zeros{2, 3, 4}))
      local lstm = recur.LSTM{input_size = 3, hidden_size = 4}
      assert.matches("c0: expected shape %(1, 2, 4%), got %(1, 2, 5%)", error_of(lstm.forward, lstm, recur.zeros{5, 2, 3}, nil, recur.zeros{1, 2, 5}))
      assert.matches("options: expected a table such as {lengths = ...}, got recur.Tensor %(only LSTM has c0%)",
        error_of(gru.forward, gru, recur.zeros{5, 2, 3}, nil, recur.zeros{2, 2, 4}))
      assert.matches("takes at most 3 arguments", error_of(gru.forward, gru, recur.zeros{5, 2, 3}, nil, {}, recur.zeros{2, 2, 4}))
    end)
    it("non-tensor arguments", function()
      assert.matches("x: expected a recur.Tensor, got table", error_of(gru.forward, gru, {{1, 2, 3}}))
      assert.matches("h0: expected a recur.Tensor, got number", error_of(gru.forward, gru, recur.zeros{1, 1, 3}, 0))
      assert.matches("recur.RNN, recur.GRU or recur.LSTM expected", error_of(gru.forward, {}, recur.zeros{1, 1, 3}))
    end)
    it("bad options", function()
      assert.matches("nonlinearity: expected 'tanh' or 'relu', got 'foo'", error_of(recur.RNN, {input_size = 1, hidden_size = 2, nonlinearity = "foo"}))
      assert.matches("option hidden_size: expected 1..%d+, got %-3", error_of(recur.GRU, {input_size = 1, hidden_size = -3}))
      assert.matches("option input_size: expected 1..%d+, got 0", error_of(recur.GRU, {input_size = 0, hidden_size = 3}))
      assert.matches("option num_layers: expected 1..1024, got 0", error_of(recur.LSTM, {input_size = 1, hidden_size = 3, num_layers = 0}))
      assert.matches("option input_size is required", error_of(recur.LSTM, {hidden_size = 3}))
      assert.matches("option hidden_size: expected an integer, got 2.5", error_of(recur.LSTM, {input_size = 1, hidden_size = 2.5}))
      assert.matches("option dropout: expected a probability in %[0, 1%), got 1", error_of(recur.GRU, {input_size = 1, hidden_size = 3, dropout = 1}))
      assert.matches("option dropout: expected a probability in %[0, 1%), got %-0.1", error_of(recur.GRU, {input_size = 1, hidden_size = 3, dropout = -0.1}))
      assert.matches("option proj_size: expected 0..3, got 4", error_of(recur.LSTM, {input_size = 1, hidden_size = 4, proj_size = 4}))
      assert.matches("unknown option 'proj_size'", error_of(recur.GRU, {input_size = 1, hidden_size = 4, proj_size = 2}))
      assert.matches("unknown option 'hiden_size'", error_of(recur.GRU, {input_size = 1, hiden_size = 4}))
      assert.matches("option bias: expected a boolean, got 1", error_of(recur.RNN, {input_size = 1, hidden_size = 4, bias = 1}))
      assert.matches("table expected", error_of(recur.RNN, 3))
      assert.matches("input_size and hidden_size are too large", error_of(recur.LSTM, {input_size = 2 ^ 20, hidden_size = 2 ^ 20}))
      assert.matches("hidden_size: expected 1..1048576, got 1099511627776", error_of(recur.LSTM, {input_size = 1, hidden_size = 2 ^ 40}))
    end)
    it("backward before forward, twice, or with a wrong gradient shape", function()
      local layer = recur.LSTM{input_size = 3, hidden_size = 4}
      assert.matches("LSTM:backward: no forward to differentiate", error_of(layer.backward, layer, recur.zeros{5, 2, 4}))
      layer:forward(recur.zeros{5, 2, 3})
      assert.matches("grad_output: expected shape %(5, 2, 4%), got %(5, 2, 3%)", error_of(layer.backward, layer, recur.zeros{5, 2, 3}))
      assert.matches("grad_hn: expected shape %(1, 2, 4%)", error_of(layer.backward, layer, recur.zeros{5, 2, 4}, recur.zeros{2, 4}))
      layer:backward(recur.zeros{5, 2, 4})
      assert.matches("no forward to differentiate", error_of(layer.backward, layer, recur.zeros{5, 2, 4}))
    end)
    it("a failed forward leaves the layer usable", function()
      local layer = recur.GRU{input_size = 3, hidden_size = 4}
      layer:forward(recur.ones{2, 1, 3})
      pcall(layer.forward, layer, recur.zeros{2, 1, 9})
      local y = layer:forward(recur.ones{2, 1, 3})
      layer:backward(y)
      assert.is_true(layer:flat_gradients():norm() > 0)
    end)
  end)

  it("saturates instead of overflowing for huge pre-activations", function()
    for _, make in ipairs{recur.RNN, recur.GRU, recur.LSTM} do
      local layer = make{input_size = 2, hidden_size = 3}
      layer:flat_parameters():fill(50)
      for _, v in ipairs{1e4, -1e4} do
        local y = layer:forward(recur.full({3, 1, 2}, v))
        for t = 1, 3 do for j = 1, 3 do
          local e = y:get(t, 1, j)
          assert.is_true(e == e and e >= -1 and e <= 1, "not finite in [-1, 1]: " .. tostring(e))
        end end
        local dx = layer:backward(recur.ones{3, 1, 3})
        assert.is_true(dx:norm() == dx:norm(), "NaN gradient")
      end
    end
  end)

  it("prints its configuration", function()
    assert.are.equal("recur.GRU(input_size=3, hidden_size=4, num_layers=2, bidirectional)",
      tostring(recur.GRU{input_size = 3, hidden_size = 4, num_layers = 2, bidirectional = true}))
    assert.are.same({type = "RNN", input_size = 1, hidden_size = 2, num_layers = 1, bias = true, batch_first = false,
      dropout = 0, bidirectional = false, nonlinearity = "relu"}, recur.RNN{input_size = 1, hidden_size = 2, nonlinearity = "relu"}:config())
  end)
end)

describe("memory", function()
  -- Lua's allocator count (KB) around a call, after a warm-up with the same shapes
  local allocated_kb = checks.allocated_kb

  it("forward and backward allocate only their results, not per time step", function()
    -- what is allocated beyond the result tensors' data must not grow with T
    local overhead = {}
    for _, T in ipairs{10, 400} do
      local layer = recur.LSTM{input_size = 8, hidden_size = 16, num_layers = 2}
      local x, gy = recur.randn{T, 4, 8}, recur.randn{T, 4, 16}
      local results_kb = (T * 4 * 16 + 2 * 2 * 4 * 16) * 4 / 1024 -- y, hn, cn
      local grads_kb = (T * 4 * 8 + 2 * 2 * 4 * 16) * 4 / 1024 -- dx, dh0, dc0
      local fwd = allocated_kb(function() layer:forward(x) end) - results_kb
      local both = allocated_kb(function()
        layer:forward(x)
        layer:backward(gy)
      end) - results_kb - grads_kb
      assert.is_true(fwd < 3 and both < 5, string.format("T=%d: %.2f KB and %.2f KB beyond the results", T, fwd, both))
      overhead[T] = both
    end
    assert.is_true(math.abs(overhead[400] - overhead[10]) < 0.25,
      string.format("overhead grows with T: %.2f KB at T=10, %.2f KB at T=400", overhead[10], overhead[400]))
  end)

  it("a stepper allocates nothing per step", function()
    local cell = recur.GRU{input_size = 4, hidden_size = 8, num_layers = 2}:stepper(1)
    local x = recur.ones{4}
    assert.are.equal(0, allocated_kb(function()
      for _ = 1, 1000 do cell:step(x) end
    end))
  end)
end)
