-- The recurrent layers' results and their storage: a tensor a caller holds never changes
-- under them; `out` (PyTorch's out=) lets a caller hand a tensor back for the layer to
-- write into, so that a loop allocates no new output memory.
local recur = require "recur"
local helpers = require "specs.helpers"
local checks = require "specs.layer_checks"

local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

describe("layer outputs", function()
  it("a held output does not change after the next forward or backward", function()
    for _, make in ipairs{recur.GRU, recur.LSTM} do
      local layer = make{input_size = 3, hidden_size = 4, num_layers = 2}
      local y1 = layer:forward(recur.randn{5, 2, 3})
      local dx1 = layer:backward(recur.randn{5, 2, 4})
      local y1_copy, dx1_copy = y1:clone(), dx1:clone()
      local y2 = layer:forward(recur.randn{5, 2, 3})
      local dx2 = layer:backward(recur.randn{5, 2, 4})
      helpers.assert_close(y1, y1_copy, 0, "y1")
      helpers.assert_close(dx1, dx1_copy, 0, "dx1")
      assert.are_not.equal(y1, y2)
      assert.are_not.equal(dx1, dx2)
    end
  end)

  it("forward writes into out and returns it, with the values of a new result", function()
    local layer = recur.LSTM{input_size = 3, hidden_size = 4, bidirectional = true, batch_first = true}
    layer:evaluate()
    local x = recur.randn{2, 5, 3}
    local want = layer:forward(x)
    local out = recur.full({2, 5, 8}, 0 / 0) -- NaN everywhere: every element must be written
    local y, hn, cn = layer:forward(x, nil, nil, {out = out})
    assert.are.equal(out, y)
    assert.is_true(hn ~= nil and cn ~= nil)
    helpers.assert_close(out, want, 0, "y")
    local packed = {lengths = {5, 2}}
    local want_packed = layer:forward(x, nil, nil, packed)
    out:fill(0 / 0)
    layer:forward(x, nil, nil, {lengths = {5, 2}, out = out})
    helpers.assert_close(out, want_packed, 0, "y packed")
  end)

  it("backward writes dx into out and returns it", function()
    local layer = recur.GRU{input_size = 3, hidden_size = 4}
    local x, gy = recur.randn{5, 2, 3}, recur.randn{5, 2, 4}
    layer:forward(x)
    local want = layer:backward(gy)
    layer:forward(x)
    local out = recur.full({5, 2, 3}, 0 / 0)
    local dx, dh0 = layer:backward(gy, nil, {out = out})
    assert.are.equal(out, dx)
    assert.is_true(dh0 ~= nil)
    helpers.assert_close(out, want, 0, "dx")
  end)

  it("the options table may follow x or any state (the states it skips are nil)", function()
    local lstm, gru = recur.LSTM{input_size = 3, hidden_size = 4}, recur.GRU{input_size = 3, hidden_size = 4}
    local x, h0 = recur.randn{5, 2, 3}, recur.randn{1, 2, 4}
    local packed = {lengths = {5, 2}}
    local want_y, want_hn, want_cn = lstm:forward(x, nil, nil, packed)
    local y, hn, cn = lstm:forward(x, packed)
    helpers.assert_close(y, want_y, 0, "y")
    helpers.assert_close(hn, want_hn, 0, "hn")
    helpers.assert_close(cn, want_cn, 0, "cn")
    local want_h0 = lstm:forward(x, h0, nil, packed)
    helpers.assert_close(lstm:forward(x, h0, packed), want_h0, 0, "y from h0")
    local gy = recur.randn{5, 2, 4}
    lstm:forward(x)
    local want_dx = lstm:backward(gy)
    lstm:forward(x)
    local out = recur.full({5, 2, 3}, 0 / 0)
    assert.are.equal(out, (lstm:backward(gy, {out = out})))
    helpers.assert_close(out, want_dx, 0, "dx")
    helpers.assert_close(gru:forward(x, packed), gru:forward(x, nil, packed), 0, "GRU y")
    assert.matches("h0: expected a recur.Tensor, got number", error_of(lstm.forward, lstm, x, 5))
    assert.matches("GRU:forward takes at most 3 arguments", error_of(gru.forward, gru, x, nil, nil, packed))
  end)

  it("rejects an out of the wrong shape, or sharing memory with an input or the layer", function()
    local layer = recur.LSTM{input_size = 4, hidden_size = 4}
    local x = recur.randn{3, 2, 4}
    local big = recur.zeros{6, 2, 4}
    assert.matches("out: expected shape %(3, 2, 4%), got %(3, 2, 5%)",
      error_of(layer.forward, layer, x, nil, nil, {out = recur.zeros{3, 2, 5}}))
    assert.matches("out: expected a recur.Tensor, got number", error_of(layer.forward, layer, x, nil, nil, {out = 3}))
    assert.matches("out: shares memory with x", error_of(layer.forward, layer, x, nil, nil, {out = x}))
    assert.matches("out: shares memory with x", error_of(layer.forward, layer, big:narrow(1, 2, 3), nil, nil,
      {out = big:narrow(1, 1, 3)}))
    local h0 = recur.zeros{3, 2, 4}
    assert.matches("out: shares memory with h0", error_of(layer.forward, layer, x, h0:narrow(1, 1, 1), nil, {out = h0}))
    local weights = layer:flat_parameters():narrow(1, 1, 24):view{3, 2, 4}
    assert.matches("out: shares memory with the layer's parameters", error_of(layer.forward, layer, x, nil, nil, {out = weights}))
    local grads = layer:flat_gradients():narrow(1, 1, 24):view{3, 2, 4}
    assert.matches("out: shares memory with the layer's gradients", error_of(layer.forward, layer, x, nil, nil, {out = grads}))
    layer:forward(x)
    local gy = recur.randn{3, 2, 4}
    assert.matches("out: shares memory with grad_output", error_of(layer.backward, layer, gy, nil, nil, {out = gy}))
    local gru = recur.GRU{input_size = 4, hidden_size = 4}
    gru:forward(x)
    assert.matches("options: expected a table such as {out = ...}, got recur.Tensor %(only LSTM has grad_cn%)",
      error_of(gru.backward, gru, gy, nil, recur.zeros{1, 2, 4}))
    -- a rejected out leaves the layer as it was: the forward before it can still be differentiated
    assert.is_true(gru:backward(gy) ~= nil)
  end)

  -- a time-major call of one row group reads x (under no_grad) and gy in place and writes dx
  -- straight into its result: the caller's tensors must come out unchanged, and the results
  -- equal those of the batch-first layout, which copies all three
  it("reads x and grad_output in place without changing them, with the results of the copying layout", function()
    for _, opts in ipairs{{num_layers = 2}, {num_layers = 2, bidirectional = true}, {proj_size = 2}} do
      local function layer_of(batch_first)
        recur.manual_seed(5)
        local o = {input_size = 3, hidden_size = 4, batch_first = batch_first}
        for k, v in pairs(opts) do o[k] = v end
        return recur.LSTM(o)
      end
      local width = (opts.bidirectional and 2 or 1) * (opts.proj_size or 4)
      local x, gy = recur.randn{6, 5, 3}, recur.randn{6, 5, width}
      local x_copy, gy_copy = x:clone(), gy:clone()
      local time_major, batch_first = layer_of(false), layer_of(true)
      local y = time_major:forward(x)
      local dx, dh0 = time_major:backward(gy)
      helpers.assert_close(x, x_copy, 0, "x")
      helpers.assert_close(gy, gy_copy, 0, "grad_output")
      local y2 = batch_first:forward(x:transpose(1, 2))
      local dx2, dh02 = batch_first:backward(gy:transpose(1, 2))
      helpers.assert_close(y2:transpose(1, 2), y, 1e-6, "y")
      helpers.assert_close(dx2:transpose(1, 2), dx, 1e-6, "dx")
      helpers.assert_close(dh02, dh0, 1e-6, "dh0")
      helpers.assert_close(batch_first:flat_gradients(), time_major:flat_gradients(), 1e-5, "gradients")
    end
  end)

  it("rejects a grad_output that shares memory with the layer's gradients (it is read in place)", function()
    local layer = recur.GRU{input_size = 4, hidden_size = 4}
    layer:forward(recur.randn{3, 2, 4})
    local grads = layer:flat_gradients():narrow(1, 1, 24):view{3, 2, 4}
    assert.matches("grad_output: shares memory with the layer's gradients", error_of(layer.backward, layer, grads))
    assert.is_true(layer:backward(recur.randn{3, 2, 4}) ~= nil) -- the forward can still be differentiated
  end)

  it("a loop that hands y and dx back allocates only the small states", function()
    local layer = recur.LSTM{input_size = 8, hidden_size = 16}
    local x, gy = recur.randn{200, 4, 8}, recur.randn{200, 4, 16}
    local y, dx = layer:forward(x), layer:backward(gy)
    local y_opts, dx_opts = {out = y}, {out = dx}
    local states_kb = 4 * (4 * 16 * 4) / 1024 -- hn, cn, dh0, dc0
    local kb = checks.allocated_kb(function()
      layer:forward(x, nil, nil, y_opts)
      layer:backward(gy, nil, nil, dx_opts)
    end)
    local y_kb = 200 * 4 * 16 * 4 / 1024
    assert.is_true(kb < states_kb + 3, string.format("%.1f KB allocated (y alone is %.1f KB)", kb, y_kb))
  end)
end)
