-- recur.no_grad / set_grad_enabled / is_grad_enabled: forwards inside keep nothing for
-- backward (whose call then raises a clear error); the recurrent layers read x in place and
-- write each step's h straight into y there, which must give the same bits as a forward
-- with gradients on, for every cell, layout, thread split and dropout.
local recur = require "recur"
local helpers = require "specs.helpers"

local error_of = helpers.error_of

local CELLS = {
  {"RNN", {}}, {"RNN", {nonlinearity = "relu"}}, {"GRU", {}}, {"GRU", {layer_norm = true}},
  {"LSTM", {}}, {"LSTM", {peephole = true}}, {"LSTM", {layer_norm = true}}, {"LSTM", {proj_size = 3}},
}

local function make(cell, extra)
  local o = {input_size = 3, hidden_size = 4}
  for k, v in pairs(cell[2]) do o[k] = v end
  for k, v in pairs(extra) do o[k] = v end
  recur.manual_seed(7)
  return recur[cell[1]](o)
end

-- every forward result (y, hn[, cn]) from fixed seeds, with gradients on or off
local function forward(layer, x, opts, grad)
  recur.manual_seed(11) -- the dropout masks between layers
  local f = function()
    if layer:config().type == "LSTM" then return {layer:forward(x, nil, nil, opts)} end
    return {layer:forward(x, nil, opts)}
  end
  if grad then return f() end
  return recur.no_grad(f)
end

local function assert_same(got, want, what)
  assert.are.equal(#want, #got, what)
  for i = 1, #want do assert(helpers.same_bits(got[i], want[i]), what .. ": result " .. i .. " differs") end
end

describe("gradient mode", function()
  after_each(function()
    recur.set_num_threads(1)
    recur.set_grad_enabled(true)
  end)

  it("no_grad returns fn's results and restores the setting on return and on error", function()
    assert.is_true(recur.is_grad_enabled())
    local a, b, inside = recur.no_grad(function(x, y) return x + y, "two", recur.is_grad_enabled() end, 1, 2)
    assert.are.equal(3, a)
    assert.are.equal("two", b)
    assert.is_false(inside)
    assert.is_true(recur.is_grad_enabled())
    local err = error_of(recur.no_grad, function() error("boom") end)
    assert.matches("grad_mode_spec.lua:%d+: boom", err)
    assert.is_true(recur.is_grad_enabled())
    -- nested: the inner call restores off, not on
    recur.no_grad(function()
      recur.no_grad(function() end)
      assert.is_false(recur.is_grad_enabled())
    end)
    assert.is_true(recur.is_grad_enabled())
  end)

  it("set_grad_enabled returns the previous setting and checks its argument", function()
    assert.is_true(recur.set_grad_enabled(false))
    assert.is_false(recur.is_grad_enabled())
    assert.is_false(recur.set_grad_enabled(true))
    assert.is_true(recur.is_grad_enabled())
    assert.matches("bad argument #1 to 'set_grad_enabled' %(boolean expected, got number%)",
      error_of(recur.set_grad_enabled, 1))
    assert.matches("bad argument #1 to 'no_grad' %(function expected, got nil%)", error_of(recur.no_grad))
  end)

  it("a backward after a forward under no_grad raises, for every module; a forward with gradients fixes it", function()
    local x = recur.randn{5, 2, 3}
    local modules = {
      {"GRU", recur.GRU{input_size = 3, hidden_size = 4}, x, recur.randn{5, 2, 4}},
      {"LSTM", recur.LSTM{input_size = 3, hidden_size = 4}, x, recur.randn{5, 2, 4}},
      {"Linear", recur.Linear{in_features = 3, out_features = 2}, x, recur.randn{5, 2, 2}},
      {"Embedding", recur.Embedding{num_embeddings = 6, embedding_dim = 3}, recur.tensor{{1, 2}, {6, 3}}, recur.randn{2, 2, 3}},
      {"Dropout", recur.Dropout{p = 0.5}, x, recur.randn{5, 2, 3}},
    }
    for _, m in ipairs(modules) do
      local name, module, input, grad = m[1], m[2], m[3], m[4]
      module:forward(input)
      module:backward(grad)
      recur.no_grad(module.forward, module, input)
      assert.matches("helpers.lua:%d+: " .. name .. ":backward: the last forward ran under recur.no_grad, "
        .. "which keeps nothing for backward", helpers.error_at_caller(module.backward, module, grad))
      module:forward(input)
      module:backward(grad) -- works again
    end
  end)

  it("after a forward that raised, a recurrent layer's backward says there is no forward, not no_grad", function()
    local layer = recur.LSTM{input_size = 3, hidden_size = 4}
    recur.no_grad(layer.forward, layer, recur.randn{5, 2, 3})
    error_of(layer.forward, layer, recur.randn{5, 2, 7}) -- wrong input size
    local err = error_of(layer.backward, layer, recur.randn{5, 2, 4})
    assert.matches("LSTM:backward: no forward to differentiate", err)
  end)

  it("a Sequential's forward under no_grad leaves nothing for its backward", function()
    local model = recur.Sequential{recur.LSTM{input_size = 3, hidden_size = 4}, recur.Linear{in_features = 4, out_features = 2}}
    local x, gy = recur.randn{5, 2, 3}, recur.randn{5, 2, 2}
    recur.no_grad(function() model:forward(x) end)
    assert.matches("Linear:backward: the last forward ran under recur.no_grad", error_of(model.backward, model, gy))
  end)

  for _, cell in ipairs(CELLS) do
    local name = cell[1] .. (next(cell[2]) and " " .. next(cell[2]) or "")
    it(name .. ": the same bits as with gradients, and x unchanged, in every layout", function()
      local layouts = {
        {"1 layer", {}},
        {"3 layers", {num_layers = 3}},
        {"2 layers bidirectional", {num_layers = 2, bidirectional = true}},
        {"batch_first", {num_layers = 2, batch_first = true}},
        {"dropout and variational dropout", {num_layers = 2, dropout = 0.3, input_dropout = 0.2, recurrent_dropout = 0.25}},
      }
      for _, layout in ipairs(layouts) do
        for _, training in ipairs{false, true} do
          local layer = make(cell, layout[2])
          layer:train(training)
          local x = recur.randn(layout[2].batch_first and {3, 7, 3} or {7, 3, 3})
          local x_copy = x:clone()
          local what = string.format("%s %s training=%s", name, layout[1], tostring(training))
          local want = forward(layer, x, nil, true)
          local got = forward(layer, x, nil, false)
          assert_same(got, want, what)
          assert(helpers.same_bits(x, x_copy), what .. ": x changed")
          -- with lengths (every step's rows copied, padding zeroed) and unbatched
          local lengths = {lengths = {7, 2, 5}}
          assert_same(forward(layer, x, lengths, false), forward(layer, x, lengths, true), what .. " lengths")
          local x1 = recur.randn{7, 3}
          assert_same(forward(layer, x1, nil, false), forward(layer, x1, nil, true), what .. " unbatched")
        end
      end
    end)
  end

  -- B = 9 splits in row groups (x copied per group); B = 3 in 3 layers runs as a wavefront,
  -- whose chunks read h_prev back from the output a chunk earlier
  it("the same bits as with gradients at 2 and 3 threads: row groups and the wavefront", function()
    for _, cell in ipairs(CELLS) do
      for _, B in ipairs{3, 9} do
        for _, n in ipairs{2, 3} do
          recur.set_num_threads(n)
          local layer = make(cell, {num_layers = 3, dropout = 0.3, recurrent_dropout = 0.25})
          layer:train()
          local x = recur.randn{37, B, 3}
          local what = string.format("%s B=%d n=%d", cell[1], B, n)
          assert_same(forward(layer, x, nil, false), forward(layer, x, nil, true), what)
        end
      end
    end
  end)

  it("a new result is written whole: no element is left from earlier memory", function()
    local layer = recur.LSTM{input_size = 16, hidden_size = 16, num_layers = 2, bidirectional = true}
    local x, gy = recur.randn{64, 8, 16}, recur.randn{64, 8, 32}
    local opts = {lengths = {64, 3, 64, 1, 9, 64, 64, 2}}
    -- tensors of the results' shapes filled with NaN and freed: the allocator hands their
    -- blocks out again for the results
    local shapes = {{64, 8, 32}, {4, 8, 16}, {4, 8, 16}, {64, 8, 16}, {4, 8, 16}, {4, 8, 16}}
    for _ = 1, 3 do
      for _ = 1, 4 do
        for _, shape in ipairs(shapes) do recur.full(shape, 0 / 0) end
      end
      collectgarbage()
      collectgarbage()
      local results = {layer:forward(x, nil, nil, opts)}
      for _, t in ipairs{layer:backward(gy)} do results[#results + 1] = t end
      for _, t in ipairs{recur.no_grad(layer.forward, layer, x)} do results[#results + 1] = t end
      for i, t in ipairs(results) do assert(t:all_finite(), "result " .. i .. " holds a value it did not write") end
    end
  end)
end)
