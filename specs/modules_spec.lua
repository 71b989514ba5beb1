-- One module protocol: the recurrent layers, Linear, Embedding, Dropout and Sequential get
-- parameters, gradients, modes and state from nn.Module; module trees are walked once per
-- module, cycles are errors; bad arguments are argument errors at the caller's line.
local recur = require "recur"
local unpack = table.unpack or unpack -- luacheck: ignore 143
local helpers = require "specs.helpers"
local nn = recur.nn

-- the error of fn(...) called from a Lua function of this file, so that its position shows
local function error_of(fn, ...)
  local args = {n = select("#", ...), ...}
  return helpers.error_of(function()
    local r = fn(unpack(args, 1, args.n))
    return r
  end)
end

local THIS = "modules_spec%.lua:%d+: "

local function lstm() return recur.LSTM{input_size = 3, hidden_size = 4, generator = recur.Generator(1)} end

describe("module protocol", function()
  it("the recurrent layers take the protocol from nn.Module, like Linear and Embedding", function()
    for _, m in ipairs{lstm(), recur.GRU{input_size = 2, hidden_size = 3}, recur.RNN{input_size = 2, hidden_size = 3},
      recur.Linear{in_features = 2, out_features = 3}, recur.Embedding{num_embeddings = 4, embedding_dim = 2}} do
      for _, method in ipairs{"parameters", "named_parameters", "named_gradients", "gradients", "parameter_names",
        "flat_parameters", "flat_gradients", "zero_grad", "train", "evaluate", "training", "state", "load_state"} do
        assert.are.equal(nn.Module[method], m[method], tostring(m) .. " " .. method)
      end
    end
  end)

  it("nothing is patched at require time: state() without recur.checkpoint, no private tables in recur", function()
    assert.is_nil(recur._layer_methods)
    local script = string.format("package.path = %q\npackage.cpath = %q\n", package.path, package.cpath) .. [[
      local nn = require "recur.nn"
      assert(package.loaded["recur.checkpoint"] == nil)
      local layer = nn.GRU{input_size = 2, hidden_size = 3}
      assert(layer:state().weight_ih_l0 ~= nil)
      local report = layer:load_state(layer:state())
      assert(#report.loaded == 4)
      io.write("ok")
    ]]
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local p = io.popen(helpers.interpreter() .. " " .. path .. " 2>&1")
    local out = p:read("*a")
    p:close()
    os.remove(path)
    assert.are.equal("ok", out)
  end)

  it("train and evaluate reach every module under a container, each once", function()
    local rnn = lstm()
    local model = recur.Sequential{rnn, recur.Sequential{recur.Dropout{p = 0.3}, rnn}}
    model:evaluate()
    assert.is_false(rnn:training())
    assert.is_false(model.children[2].children[1]:training())
    model:train()
    assert.is_true(rnn:training())
  end)

  it("zero_grad clears every gradient under a container", function()
    local model = recur.Sequential{lstm(), recur.Linear{in_features = 4, out_features = 2}}
    for _, g in ipairs(model:gradients()) do g:fill(1) end
    model:zero_grad()
    for _, g in ipairs(model:gradients()) do assert.are.equal(0, g:norm()) end
  end)
end)

  it("gradient views are views into flat_gradients, the same objects at every call", function()
    for _, m in ipairs{lstm(), recur.Linear{in_features = 2, out_features = 3}} do
      local first, flat = m:named_gradients(), m:flat_gradients()
      flat:fill(0.5)
      local at = 0
      for i, name in ipairs(m:parameter_names()) do
        local g = m:gradients()[i]
        assert.are.equal(first[name], g, name)
        assert.are.same(m:named_parameters()[name]:shape(), g:shape(), name)
        assert.are.equal(0.5, g:view{g:numel()}[1])
        g:fill(i)
        assert.are.equal(i, flat[at + 1], name .. " starts where its parameter does")
        at = at + g:numel()
      end
      assert.are.equal(flat:numel(), at)
    end
  end)

  -- A training loop reads gradients through flat_gradients: a layer makes its gradient views
  -- only when asked for them. Lua 5.4's byte counts (they differ on other versions): 2,569
  -- at f1303c3 (issue 14's memory baseline), 2,868 before the views were made on demand.
  it("a trained recurrent layer's objects take under 2,200 bytes beyond its floats", function()
    if _VERSION ~= "Lua 5.4" then return end
    local layers, x = {}, recur.randn{5, 2, 4}
    for i = 1, 20 do layers[i] = false end
    collectgarbage("collect")
    collectgarbage("collect")
    local before = collectgarbage("count")
    for i = 1, 20 do
      layers[i] = recur.LSTM{input_size = 4, hidden_size = 4}
      layers[i]:backward(layers[i]:forward(x))
    end
    collectgarbage("collect")
    local per_layer = (collectgarbage("count") - before) * 1024 / 20
    local floats = layers[1]:flat_parameters():numel() * 2 + layers[1]:workspace_bytes(5, 2) / 4
    local bookkeeping = per_layer - floats * 4
    assert.is_true(bookkeeping < 2200, string.format("%.0f bytes", bookkeeping))
  end)

describe("module trees", function()
  -- Sequential{s, s} nested `levels` deep over one Linear
  local function doubling(levels)
    local leaf = recur.Linear{in_features = 2, out_features = 2}
    local s = recur.Sequential{leaf}
    for _ = 1, levels do s = recur.Sequential{s, s} end
    return s, leaf
  end

  it("a module reachable twice is visited once: 20 levels of Sequential{s, s}", function()
    local model, leaf = doubling(20)
    local calls = 0
    local counting = {forward = function(_, x) return x end, named_parameters = function()
      calls = calls + 1
      return {}
    end, parameter_names = function() return {} end}
    model:add(counting, "counting")
    model:add(counting, "again")
    assert.are.same({"1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.weight", "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.bias"},
      model:parameter_names())
    assert.are.equal(1, calls)
    local pairs_ = nn.flat_pairs(model)
    assert.are.equal(1, #pairs_)
    assert.are.equal(leaf:flat_parameters(), pairs_[1][1])
    local opt = recur.optim.SGD{model, lr = 0.1}
    assert.are.equal(1, #opt._pairs)
    assert.are.equal(2, #model:parameters())
    local _, tensors = nn.state_of(model)
    local n = 0
    for _ in pairs(tensors) do n = n + 1 end
    assert.are.equal(2, n)
    model:zero_grad()
    model:evaluate()
    assert.is_false(leaf:training())
  end)

  it("a cycle is a clear error at the caller's line", function()
    local s = recur.Sequential{recur.Linear{in_features = 2, out_features = 2}}
    local inner = recur.Sequential{}
    s:add(inner, "loop")
    inner.children[1], inner.child_names[1] = s, "1" -- a cycle made behind add's back (add refuses one)
    assert.matches(THIS .. "parameter_names: 'loop.1' contains itself", error_of(s.parameter_names, s))
    assert.matches(THIS .. "named_parameters: 'loop.1' contains itself", error_of(s.named_parameters, s))
    assert.matches(THIS .. "zero_grad: 'loop.1' contains itself", error_of(s.zero_grad, s))
    assert.matches(THIS .. "train: 'loop.1' contains itself", error_of(s.train, s))
    assert.matches(THIS .. "state: 'loop.1' contains itself", error_of(s.state, s))
    assert.matches(THIS .. "flat_pairs: 'loop.1' contains itself", error_of(nn.flat_pairs, s))
    local t = {}
    t.self = t
    assert.matches(THIS .. "state_of: 'self' contains itself", error_of(nn.state_of, t))
  end)

  it("errors found deep inside recur point at the user's line", function()
    assert.matches(THIS .. "SGD: params: expected a module, a {param, grad} pair or a table of them, got number",
      error_of(recur.optim.SGD, {5, lr = 1}))
    local s = recur.Sequential{recur.Linear{in_features = 2, out_features = 2}}
    assert.matches(THIS .. "Sequential: child 'loop' contains this Sequential %(a cycle%)",
      error_of(s.add, s, recur.Sequential{s}, "loop"))
    assert.matches(THIS .. "Sequential: child '2' contains this Sequential %(a cycle%)", error_of(s.add, s, s))
    assert.are.equal(1, #s.children)
    local inner = recur.Sequential{}
    s:add(inner, "loop")
    inner.children[1], inner.child_names[1] = s, "1"
    assert.matches(THIS .. "Adam: 'loop.1' contains itself", error_of(recur.optim.Adam, {s}))
    assert.matches(THIS .. "clip_grad_norm: params.1: a tensor alone has no gradient", error_of(recur.clip_grad_norm, {recur.zeros{2}}, 1))
  end)

  it("state_of names modules in named tables and rejects what is not a module or tensor", function()
    local names = nn.state_of{rnn = lstm(), head = recur.Linear{in_features = 4, out_features = 2}}
    assert.are.same({"head.weight", "head.bias", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
      "rnn.bias_hh_l0"}, names)
    assert.matches(THIS .. "state_of: x is a number, not a module", error_of(nn.state_of, {x = 3}))
  end)
end)

describe("argument errors", function()
  it("load_state checks its arguments", function()
    local layer = lstm()
    for _, m in ipairs{layer, recur.Linear{in_features = 2, out_features = 2}, recur.Sequential{layer}} do
      assert.matches(THIS .. "bad argument #1 to 'load_state' %(tensors: expected a table of name %-> recur.Tensor, got number%)",
        error_of(m.load_state, m, 5))
      assert.matches(THIS .. "bad argument #1 to 'load_state' %(tensors%['w'%]: expected a recur.Tensor, got string%)",
        error_of(m.load_state, m, {w = "x"}))
      assert.matches(THIS .. "bad argument #1 to 'load_state' %(tensors: expected string names, got a number key%)",
        error_of(m.load_state, m, {recur.zeros{1}}))
      assert.matches(THIS .. "bad argument #2 to 'load_state' %(opts: expected nil or {strict = boolean}, got number%)",
        error_of(m.load_state, m, m:state(), 1))
      assert.matches(THIS .. "bad argument #1 to 'load_state' %(tensors: expected a table",
        error_of(m.load_state, m, layer))
    end
    assert.matches(THIS .. "bad argument #1 to 'load_state' %(obj: expected a module",
      error_of(nn.load_state, 5, {}))
    assert.matches(THIS .. "bad argument #2 to 'load_state'", error_of(nn.load_state, layer, true))
    assert.matches(THIS .. "load_state: the state does not fit the model %(missing: weight_ih_l0",
      error_of(layer.load_state, layer, {}))
  end)

  it("Dropout checks its tensors", function()
    local d = recur.Dropout{p = 0.5}
    assert.matches(THIS .. "bad argument #1 to 'forward' %(x: expected a recur.Tensor, got table%)",
      error_of(d.forward, d, {1, 2}))
    d:forward(recur.ones{3})
    assert.matches(THIS .. "bad argument #1 to 'backward' %(grad_output: expected a recur.Tensor, got string%)",
      error_of(d.backward, d, "g"))
    d:evaluate()
    d:forward(recur.ones{3})
    assert.matches("grad_output: expected a recur.Tensor, got nil", error_of(d.backward, d))
  end)

  it("from_config rejects fields of the wrong type as its caller's error", function()
    local cases = {
      {{type = "LSTM", input_size = "3", hidden_size = 4}, "LSTM: option input_size: expected an integer, got string"},
      {{type = "GRU", input_size = 3, hidden_size = 4, layer_norm = "yes"}, "GRU: option layer_norm: expected a boolean"},
      {{type = "Linear", in_features = 2, out_features = {}}, "Linear: option out_features: expected an integer"},
      {{type = "Sequential", children = 5}, "config.children: expected an array, got number"},
      {{type = "Sequential", children = {{name = 1}}}, "config.children%[1%]: expected {name = string, config = table}"},
      {{type = "Sequential", children = {{name = "a", config = 4}}}, "config.children%[1%].config: expected a table"},
      {{type = "Sequential", children = {{name = "a", config = {type = "Dropout"}}, {name = "a", config = {type = "Dropout"}}}},
        "duplicate child name 'a'"},
      {{type = 7}, "config: expected a table with a type, got table"},
      {"LSTM", "config: expected a table with a type, got string"},
      {{type = "Launch"}, "unknown module type 'Launch'"},
    }
    for _, c in ipairs(cases) do
      local err = error_of(nn.from_config, c[1])
      assert.matches(THIS .. "from_config: .*" .. c[2], err)
      assert.is_nil(err:find("nn%.lua"), err)
    end
  end)

  it("a recurrent method on something else is an argument error", function()
    local layer = lstm()
    assert.matches(THIS .. "bad argument #1 to 'forward' %(recur.RNN, recur.GRU or recur.LSTM expected, got table%)",
      error_of(layer.forward, {}, recur.zeros{1, 1, 3}))
    assert.matches(THIS .. "bad argument #1 to 'LSTM' %(table expected, got number%)", error_of(recur.LSTM, 3))
    assert.matches(THIS .. "LSTM: option proj_size: expected 0..3, got 4",
      error_of(recur.LSTM, {input_size = 1, hidden_size = 4, proj_size = 4}))
    assert.matches(THIS .. "LSTM: option generator: expected a recur.Generator, got 3",
      error_of(recur.LSTM, {input_size = 1, hidden_size = 4, generator = 3}))
    assert.matches(THIS .. "bad argument #1 to 'reset_parameters'", error_of(layer.reset_parameters, layer, 3))
    assert.matches(THIS .. "LSTM:workspace_bytes: T: expected an integer in 1%.%.",
      error_of(layer.workspace_bytes, layer, 0, 1))
  end)

  it("Sequential:add checks the module and its name", function()
    local s = recur.Sequential{}
    assert.matches(THIS .. "bad argument #1 to 'add' %(expected a module, got number%)", error_of(s.add, s, 3))
    assert.matches(THIS .. "bad argument #2 to 'add' %(name: expected a string", error_of(s.add, s, lstm(), 3))
    s:add(lstm(), "rnn")
    assert.matches(THIS .. "Sequential: duplicate child name 'rnn'", error_of(s.add, s, lstm(), "rnn"))
    assert.matches(THIS .. "Sequential: duplicate child name 'a'",
      error_of(recur.Sequential, {{"a", lstm()}, {"a", lstm()}}))
  end)
end)

describe("Embedding", function()
  it("reads index arrays raw: a lying __len or __index changes nothing", function()
    local e = recur.Embedding{num_embeddings = 5, embedding_dim = 2}
    local lying = setmetatable({1, 4}, {__len = function() return 2 ^ 62 end, __index = function() return 3 end})
    local out = e:forward(lying)
    assert.are.same({2, 2}, out:shape())
    assert.are.same(e:named_parameters().weight[4]:totable(), out[2]:totable())
    e:backward(recur.ones{2, 2})
    assert.are.same({1, 1}, e:named_gradients().weight[1]:totable())
  end)
end)
