-- Argument errors name the function and point at the caller's line on every Lua (the
-- whole suite runs under 5.1, 5.3, 5.4 and LuaJIT: `make test` and `make test-compat`).
local recur = require "recur"

-- runs f(at); f calls at() on the line of its bad call. The error must start with this
-- file and that line, and name the function.
local function expect_error(name, f)
  local line
  local ok, err = pcall(f, function() line = debug.getinfo(2, "l").currentline end)
  assert.is_false(ok, name .. ": no error")
  err = tostring(err)
  assert.is_truthy(err:find("^[^\n]-errors_spec%.lua:" .. line .. ": "), name .. ": not at line " .. tostring(line) .. ": " .. err)
  assert.is_truthy(err:find(name, 1, true), "does not name " .. name .. ": " .. err)
  assert.is_nil(err:find("'?'", 1, true), err)
end

describe("argument errors", function()
  local t = recur.zeros{2, 3}
  local g = recur.Generator(1)

  it("of the C functions and methods name them at the caller's line", function()
    expect_error("'zeros'", function(at) at() recur.zeros("x") end)
    expect_error("'tensor'", function(at) at() recur.tensor(5) end)
    expect_error("'randn'", function(at) at() recur.randn({2}, 5) end)
    expect_error("'set_num_threads'", function(at) at() recur.set_num_threads(0) end)
    expect_error("'view'", function(at) at() t:view{7} end)
    expect_error("'select'", function(at) at() t:select(3, 1) end)
    expect_error("'narrow'", function(at) at() t:narrow(1, 9, 1) end)
    expect_error("'get'", function(at) at() t:get(9, 1) end)
    expect_error("'add'", function(at) at() t:add("x") end)
    expect_error("'matmul'", function(at) at() t:matmul(t) end)
    expect_error("'copy'", function(at) at() t:copy(5) end)
    expect_error("'random'", function(at) at() g:random("x") end)
    expect_error("'set_state'", function(at) at() g:set_state(5) end)
    local stepper = recur.LSTM{input_size = 3, hidden_size = 2}:stepper(1)
    expect_error("'step'", function(at) at() stepper:step(recur.zeros{5}) end)
  end)

  it("of the Lua modules name them at the caller's line", function()
    local lin = recur.Linear{in_features = 3, out_features = 2}
    local emb = recur.Embedding{num_embeddings = 4, embedding_dim = 2}
    expect_error("LSTM", function(at) at() recur.LSTM{input_size = 0, hidden_size = 2} end)
    expect_error("Linear:forward", function(at) at() lin:forward(recur.zeros{2, 4}) end)
    lin:forward(recur.zeros{2, 3})
    expect_error("Linear:backward", function(at) at() lin:backward(recur.zeros{2, 5}) end)
    expect_error("Embedding:forward", function(at) at() emb:forward{0} end)
    expect_error("Embedding:forward", function(at) at() emb:forward(recur.full({2}, 9)) end)
    emb:forward{1, 2}
    expect_error("Embedding:backward", function(at) at() emb:backward(recur.zeros{3, 2}) end)
    expect_error("CrossEntropyLoss:forward", function(at) at() recur.CrossEntropyLoss():forward(t, {0, 1}) end)
    expect_error("MSELoss:forward", function(at) at() recur.MSELoss():forward(t, recur.zeros{3}) end)
    expect_error("SmoothL1Loss", function(at) at() recur.SmoothL1Loss{beta = -1} end)
    expect_error("Adam", function(at) at() recur.optim.Adam{lr = -1} end)
    expect_error("clip_grad_norm", function(at) at() recur.clip_grad_norm(lin, "x") end)
    expect_error("read_csv", function(at) at() recur.data.read_csv(5) end)
    expect_error("parse_datetime", function(at) at() recur.data.parse_datetime(5) end)
    expect_error("save", function(at) at() recur.save(5, 5) end)
  end)

  it("name the C function reached by a tail call (LuaJIT's call site has no name)", function()
    for name, f in pairs{
      ["'zeros'"] = function() return recur.zeros("x") end,
      ["'select'"] = function() return t:select(3, 1) end,
      ["'narrow'"] = function() return t:narrow(1, 9, 1) end,
      ["'random'"] = function() return g:random(0) end,
      ["'fill'"] = function() return t:fill("x") end,
      ["'full'"] = function() return recur.full({2}, {}) end,
      ["'clamp_'"] = function() return t:clamp_("a") end,
      ["'manual_seed'"] = function() return g:manual_seed(1.5) end,
      ["'uniform'"] = function() return g:uniform({}) end,
      ["'set_state'"] = function() return g:set_state(1) end,
    } do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(name, 1, true), err)
      assert.is_nil(tostring(err):find("'?'", 1, true), err)
    end
  end)

  it("keep one name when the C function's message already names the wrapper", function()
    local util = require "recur.util"
    local own = function() error("GRU:backward: no forward to differentiate", 0) end
    local other = function() error("bad argument #1 to 'rnn_forward' (x: expected a recur.Tensor, got number)", 0) end
    expect_error("GRU:backward", function(at) at() util.call("GRU:backward", own) end)
    local _, err = pcall(util.call, "GRU:backward", own)
    assert.is_nil(err:find("GRU:backward: GRU:backward", 1, true), err)
    _, err = pcall(util.call, "LSTM:forward", other)
    assert.matches("LSTM:forward: x: expected a recur.Tensor, got number$", err)
  end)

  it("of the recurrent layers' forward, backward and stepper are at the caller's line", function()
    local lstm = recur.LSTM{input_size = 3, hidden_size = 2}
    expect_error("LSTM:forward", function(at) at() lstm:forward(recur.zeros{2, 1, 4}) end)
    local gru = recur.GRU{input_size = 3, hidden_size = 2}
    expect_error("GRU:backward", function(at) at() gru:backward(recur.zeros{2, 1, 2}) end)
    expect_error("GRU:stepper", function(at) at() gru:stepper(0) end)
  end)
end)

describe("options tables", function()
  local util = require "recur.util"
  local letters = {}
  for c = ("a"):byte(), ("z"):byte() do letters[#letters + 1] = string.char(c) end

  -- pairs visits keys in an order that varies between runs (Lua 5.2+ seeds its string
  -- hashes at random): with 26 bad options, reporting the first one pairs gives would
  -- name 'a' about one run in 26
  it("report the first bad option in sorted order, the same on every run", function()
    local spec, wrong, unknown = {}, {}, {}
    for _, k in ipairs(letters) do
      spec[k] = {"integer"}
      wrong[k] = "x"
      unknown["z" .. k] = 1
    end
    assert.matches("T: option a: expected an integer, got string", select(2, pcall(util.options, "T", wrong, spec)))
    assert.matches("T: unknown option 'za'", select(2, pcall(util.options, "T", unknown, spec)))
    assert.are.same(letters, util.sorted_keys(spec))
  end)
end)
