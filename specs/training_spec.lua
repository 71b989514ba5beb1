-- Modules, losses, optimizers, schedules and clipping, against PyTorch 1.13
-- (specs/fixtures/training, written by tools/make_training_fixtures.py).
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

local function fixture(name)
  local case = helpers.fixture("training", name)
  local t = {}
  for k, v in pairs(case.tensors) do t[k] = helpers.tensor_of(v) end
  return case, t
end

local TOL = 1e-5

describe("modules match PyTorch", function()
  it("Linear on a 3-D input", function()
    local _, t = fixture("linear")
    local lin = recur.Linear{in_features = 4, out_features = 3}
    lin:named_parameters().weight:copy(t.weight)
    lin:named_parameters().bias:copy(t.bias)
    helpers.assert_close(lin:forward(t.x), t.y, TOL, "y")
    helpers.assert_close(lin:backward(t.gy), t.dx, TOL, "dx")
    helpers.assert_close(lin:named_gradients().weight, t["grad.weight"], TOL, "grad weight")
    helpers.assert_close(lin:named_gradients().bias, t["grad.bias"], TOL, "grad bias")
  end)

  it("Embedding with repeated indices", function()
    local _, t = fixture("embedding")
    local emb = recur.Embedding{num_embeddings = 6, embedding_dim = 3}
    emb:named_parameters().weight:copy(t.weight)
    helpers.assert_close(emb:forward(t.idx), t.y, TOL, "y")
    assert.is_nil(emb:backward(t.gy))
    helpers.assert_close(emb:named_gradients().weight, t["grad.weight"], TOL, "grad weight")
  end)
end)

describe("losses match PyTorch", function()
  for _, reduction in ipairs{"mean", "sum"} do
    it("CrossEntropyLoss with ignore_index, " .. reduction, function()
      local case, t = fixture("cross_entropy_" .. reduction)
      local c = recur.CrossEntropyLoss{reduction = reduction}
      local loss = c:forward(t.input, t.target)
      assert.is_true(math.abs(loss - case.loss) <= 1e-5 * math.abs(case.loss), loss .. " vs " .. case.loss)
      helpers.assert_close(c:backward(), t.grad, TOL, "grad")
      assert.are.equal(10, c.counted)
    end)
    for _, kind in ipairs{{"mse", "MSELoss"}, {"l1", "L1Loss"}, {"smooth_l1", "SmoothL1Loss"}} do
      it(kind[2] .. ", " .. reduction, function()
        local case, t = fixture(kind[1] .. "_" .. reduction)
        local c = recur[kind[2]]{reduction = reduction, beta = case.beta}
        local loss = c:forward(t.input, t.target)
        assert.is_true(math.abs(loss - case.loss) <= 1e-5 * math.abs(case.loss), loss .. " vs " .. case.loss)
        helpers.assert_close(c:backward(), t.grad, TOL, "grad")
      end)
    end
  end
end)

describe("optimizers match PyTorch for 5 steps", function()
  for _, name in ipairs{"sgd_plain", "sgd_momentum_wd", "sgd_nesterov", "adam", "adam_wd_amsgrad", "adamw",
    "rmsprop", "rmsprop_centered_momentum", "adamw_amsgrad"} do
    it(name, function()
      local case, t = fixture("optim_" .. name)
      local p, g = t.p0:clone(), recur.zeros{7}
      local opts = {{p, g}}
      for k, v in pairs(case.options) do opts[k] = v end
      local opt = recur.optim[case.kind](opts)
      for k = 1, case.steps do
        g:copy(t["g" .. k])
        opt:step()
        helpers.assert_close(p, t["p" .. k], 2e-6, "step " .. k)
      end
    end)
  end
end)

describe("schedules and clipping match PyTorch", function()
  local case, t = fixture("schedules_clipping")
  local function close(a, b) return math.abs(a - b) <= 1e-12 + 1e-9 * math.abs(b) end

  it("StepLR", function()
    local opt = recur.optim.SGD{{recur.zeros{1}, recur.zeros{1}}, lr = 0.5}
    local sched = recur.optim.StepLR{opt, step_size = 3, gamma = 0.5}
    for i, want in ipairs(case.step_lr) do
      opt:step()
      sched:step()
      assert.is_true(close(sched:get_last_lr(), want), i .. ": " .. sched:get_last_lr() .. " vs " .. want)
      assert.are.equal(opt.lr, sched:get_last_lr())
    end
  end)

  it("CosineAnnealingLR", function()
    local opt = recur.optim.SGD{{recur.zeros{1}, recur.zeros{1}}, lr = 0.5}
    local sched = recur.optim.CosineAnnealingLR{opt, T_max = 6, eta_min = 0.01}
    for i, want in ipairs(case.cosine_lr) do
      sched:step()
      assert.is_true(close(sched:get_last_lr(), want), i .. ": " .. sched:get_last_lr() .. " vs " .. want)
    end
  end)

  it("clip_grad_norm over several buffers, and clip_grad_value", function()
    local ga, gb = t.ga:clone(), t.gb:clone()
    local params = {{recur.zeros{4}, ga}, {recur.zeros{3}, gb}}
    local total = recur.clip_grad_norm(params, 1.5)
    assert.is_true(math.abs(total - case.clip_total) < 1e-5)
    helpers.assert_close(ga, t.clipped_a, TOL, "a")
    helpers.assert_close(gb, t.clipped_b, TOL, "b")
    -- below the limit nothing changes
    local before = ga:clone()
    recur.clip_grad_norm(params, 100)
    assert.are.same(before:totable(), ga:totable())
    recur.clip_grad_value(params, 0.1)
    assert.is_true(ga:max() <= 0.1 + 1e-7 and ga:mul(-1):max() <= 0.1 + 1e-7) -- 0.1 rounded to float32
  end)
end)

describe("training building blocks", function()
  it("Linear gradients pass a finite-difference check (Embedding is checked against PyTorch)", function()
    local gen = recur.Generator(5)
    local lin = recur.Linear{in_features = 3, out_features = 2, generator = gen}
    local x, R = recur.randn({4, 3}, gen), recur.randn({4, 2}, gen)
    local function f() return lin:forward(x):mul(R):sum() end
    f()
    local dx = lin:backward(R)
    for _, pair in ipairs{{x, dx}, {lin:flat_parameters(), lin:flat_gradients()}} do
      assert.is_true(helpers.finite_difference_error(pair[1], pair[2], f, 1e-2) < 1e-3)
    end
  end)

  it("Sequential chains forward and backward and prefixes names", function()
    local model = recur.Sequential{
      {"embed", recur.Embedding{num_embeddings = 5, embedding_dim = 3}},
      {"rnn", recur.GRU{input_size = 3, hidden_size = 4}},
      recur.Dropout{p = 0.3},
      {"decoder", recur.Linear{in_features = 4, out_features = 5}},
    }
    assert.are.same({"embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
      "decoder.weight", "decoder.bias"}, model:parameter_names())
    local y = model:forward({{1, 2}, {3, 4}, {5, 1}})
    assert.are.same({3, 2, 5}, y:shape())
    local loss = recur.CrossEntropyLoss()
    loss:forward(y, {{2, 3}, {4, 5}, {1, 1}})
    model:zero_grad()
    assert.is_nil(model:backward(loss:backward()))
    for name, g in pairs(model:named_gradients()) do assert.is_true(g:norm() > 0, name) end
    model:evaluate()
    assert.is_false(model.children[3]:training())
    assert.is_false(model.children[2]:training())
  end)

  it("Dropout zeroes and scales in training, passes through in evaluation", function()
    local d = recur.Dropout{p = 0.5, generator = recur.Generator(1)}
    local x = recur.ones{1000}
    local y = d:forward(x)
    local zeros = 0
    for i = 1, 1000 do
      assert.is_true(y[i] == 0 or y[i] == 2)
      if y[i] == 0 then zeros = zeros + 1 end
    end
    assert.is_true(zeros > 400 and zeros < 600)
    assert.are.same(y:totable(), d:backward(x):totable())
    d:evaluate()
    assert.are.equal(x, d:forward(x))
  end)

  it("an optimizer on a model trains it, and state/load_state resume exactly", function()
    local function run(split)
      recur.manual_seed(3)
      local model = recur.Sequential{recur.Linear{in_features = 2, out_features = 8}, recur.Linear{in_features = 8, out_features = 1}}
      local opt = recur.optim.Adam{model, lr = 0.05}
      local crit = recur.MSELoss()
      local x, y = recur.randn{16, 2}, recur.randn{16, 1}
      local losses = {}
      for step = 1, 20 do
        if split and step == 11 then -- resume into fresh objects
          local state, params = opt:state(), {}
          for i, p in ipairs(model:parameters()) do params[i] = p:clone() end
          model = recur.Sequential{recur.Linear{in_features = 2, out_features = 8}, recur.Linear{in_features = 8, out_features = 1}}
          for i, p in ipairs(model:parameters()) do p:copy(params[i]) end
          opt = recur.optim.Adam{model, lr = 0.05}
          opt:load_state(state)
        end
        opt:zero_grad()
        losses[step] = crit:forward(model:forward(x), y)
        model:backward(crit:backward())
        opt:step()
      end
      return losses
    end
    local whole, resumed = run(false), run(true)
    assert.is_true(whole[20] < whole[1] / 2)
    assert.are.same(whole, resumed)
  end)

  describe("bad input", function()
    it("module options", function()
      assert.matches("Linear: option in_features is required", error_of(recur.Linear, {out_features = 2}))
      assert.matches("Linear: option out_features: expected 1..2147483647, got 0", error_of(recur.Linear, {in_features = 1, out_features = 0}))
      assert.matches("Linear: unknown option 'in_feature'", error_of(recur.Linear, {in_feature = 1, out_features = 2}))
      assert.matches("Embedding: option embedding_dim: expected an integer, got 2.5", error_of(recur.Embedding, {num_embeddings = 3, embedding_dim = 2.5}))
      assert.matches("Dropout: option p: expected %[0, 1%), got 1", error_of(recur.Dropout, {p = 1}))
      assert.matches("Sequential: entry 2 is not a module", error_of(recur.Sequential, {recur.Dropout(), 3}))
    end)

    it("shapes, indices and targets", function()
      local lin = recur.Linear{in_features = 3, out_features = 2}
      assert.matches("input: expected last dimension 3, got 4", error_of(lin.forward, lin, recur.zeros{2, 4}))
      assert.matches("Linear:backward: no forward", error_of(lin.backward, lin, recur.zeros{2, 2}))
      lin:forward(recur.zeros{5, 3})
      assert.matches("grad_output: expected shape %(5, 2%), got %(5, 3%)", error_of(lin.backward, lin, recur.zeros{5, 3}))
      local emb = recur.Embedding{num_embeddings = 4, embedding_dim = 2}
      assert.matches("input%[2%]: expected an integer in 1..4, got 5", error_of(emb.forward, emb, {1, 5}))
      assert.matches("input%[1%]: expected an integer in 1..4, got 0", error_of(emb.forward, emb, {0}))
      assert.matches("input%[1%]: expected an integer in 1..4, got 1.5", error_of(emb.forward, emb, recur.tensor{1.5}))
      assert.matches("input%[1%]: expected an integer in 1..4, got string", error_of(emb.forward, emb, {"a"}))
      local ce = recur.CrossEntropyLoss()
      assert.matches("target%[2%]: expected an integer in 1..3, got 4", error_of(ce.forward, ce, recur.zeros{2, 3}, {1, 4}))
      assert.matches("target: expected 2 indices, got 3", error_of(ce.forward, ce, recur.zeros{2, 3}, {1, 2, 3}))
      assert.matches("CrossEntropyLoss:backward: no forward", error_of(ce.backward, ce))
      local mse = recur.MSELoss()
      assert.matches("target: expected shape %(2, 3%), got %(3, 2%)", error_of(mse.forward, mse, recur.zeros{2, 3}, recur.zeros{3, 2}))
      assert.matches("option reduction: expected one of 'mean', 'sum', got 'none'", error_of(recur.MSELoss, {reduction = "none"}))
    end)

    it("non-finite gradients are caught before the optimizer step", function()
      local lin = recur.Linear{in_features = 2, out_features = 1}
      local mse = recur.MSELoss()
      mse:forward(lin:forward(recur.tensor{{1, 0 / 0}}), recur.zeros{1, 1})
      lin:backward(mse:backward())
      assert.matches("diverged at step 7: gradient buffer 1 holds NaN or infinity", error_of(recur.train.check_gradients, lin, 7))
      lin:zero_grad()
      recur.train.check_gradients(lin, 8)
    end)

    it("errors in the middle of training leave modules and optimizers usable", function()
      local model = recur.Sequential{recur.GRU{input_size = 3, hidden_size = 4}, recur.Linear{in_features = 4, out_features = 1}}
      local opt = recur.optim.SGD{model, lr = 0.1}
      local mse = recur.MSELoss()
      local x, y = recur.randn{5, 2, 3}, recur.randn{5, 2, 1}
      assert.matches("x: expected shape", error_of(model.forward, model, recur.randn{5, 2, 7}))
      assert.matches("target: expected shape", error_of(mse.forward, mse, model:forward(x), recur.zeros{3}))
      assert.matches("expected a SGD state", error_of(opt.load_state, opt, {kind = "Adam"}))
      local first
      for _ = 1, 20 do
        opt:zero_grad()
        local loss = mse:forward(model:forward(x), y)
        first = first or loss
        model:backward(mse:backward())
        opt:step()
      end
      assert.is_true(mse:forward(model:forward(x), y) < first)
    end)

    it("a mean over only ignored targets is NaN", function()
      local ce = recur.CrossEntropyLoss{ignore_index = 0}
      local loss = ce:forward(recur.zeros{2, 3}, {0, 0})
      assert.is_true(loss ~= loss)
      assert.are.equal(0, ce:backward():norm())
    end)

    it("optimizer arguments", function()
      local lin = recur.Linear{in_features = 1, out_features = 1}
      assert.matches("SGD: option lr is required", error_of(recur.optim.SGD, {lin}))
      assert.matches("expected {params, ...}", error_of(recur.optim.Adam, {lr = 1}))
      assert.matches("a tensor alone has no gradient", error_of(recur.optim.Adam, {recur.zeros{2}}))
      assert.matches("nothing to optimize", error_of(recur.optim.Adam, {{}}))
      assert.matches("betas: expected two numbers in %[0, 1%), got 1", error_of(recur.optim.Adam, {lin, betas = {0.9, 1}}))
      assert.matches("nesterov needs a momentum", error_of(recur.optim.SGD, {lin, lr = 1, nesterov = true}))
      assert.matches("Adam: unknown option 'momentum'", error_of(recur.optim.Adam, {lin, momentum = 0.9}))
      local opt = recur.optim.Adam{lin}
      assert.matches("expected a Adam state, got SGD", error_of(opt.load_state, opt, recur.optim.SGD{lin, lr = 1}:state()))
      assert.matches("max_norm: expected a non%-negative number", error_of(recur.clip_grad_norm, lin, -1))
      assert.matches("expected {optimizer, ...}", error_of(recur.optim.StepLR, {lin, step_size = 2}))
    end)
  end)
end)
