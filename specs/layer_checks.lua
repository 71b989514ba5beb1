-- Checks shared by the recurrent layers' specs: finite differences, the stepper against
-- forward, and a layer against a reference fixture.
local recur = require "recur"
local helpers = require "specs.helpers"

local checks = {}

-- Loss used by the gradient checks: sum(y * R) + sum(hn * S) [+ sum(cn * U)], so that
-- backward(R, S, U) returns its exact gradients.
local function dot(a, b)
  return a:mul(b):sum()
end

-- Central differences in float32, Richardson-extrapolated: (4 D(EPS/2) - D(EPS)) / 3
-- cancels the EPS^2 term of truncation, which the layer norms' curvature makes large at
-- small sizes; rounding stays near 1e-7 / EPS. The check is relative to the largest
-- gradient of each tensor (RECUR_FD_REPORT=1 prints each error; a 1% gate error gives ~2e-3).
local EPS, TOL = 1e-2, 5e-4

local function fd_error(t, analytic, f)
  local flat, g, worst, scale = t:view{-1}, analytic:view{-1}, 0, 1
  for i = 1, flat:numel() do
    local v = flat[i]
    local function slope(e)
      flat[i] = v + e
      local up = f()
      flat[i] = v - e
      local down = f()
      flat[i] = v
      return (up - down) / (2 * e)
    end
    local estimate = (4 * slope(EPS / 2) - slope(EPS)) / 3
    worst = math.max(worst, math.abs(estimate - g[i]))
    scale = math.max(scale, math.abs(g[i]))
  end
  return worst / scale
end

local function check_tensor(name, t, analytic, f, tol)
  local err = fd_error(t, analytic, f)
  if os.getenv("RECUR_FD_REPORT") then io.stderr:write(string.format("%-24s %.3g\n", name, err)) end
  assert(err <= tol, string.format("%s: finite-difference error %.3g", name, err))
end

--- Checks dx, dh0 (dc0) and every parameter gradient of make()'s layer over a (T, B)
-- input (B nil: unbatched). opts.train runs in training mode with the dropout masks
-- fixed: the default generator and opts.generator (the layer's) are reseeded before
-- every forward. opts.weight_scale multiplies weight_ih and weight_hh (layer norms are
-- better conditioned for float32 differences when their blocks vary more); opts.tol
-- replaces the tolerance; opts.lengths runs packed sequences.
function checks.gradcheck(make, T, B, opts)
  opts = opts or {}
  local gen = recur.Generator(11)
  local layer = make()
  layer:reset_parameters(gen)
  local scale, tol = opts.weight_scale or 1, opts.tol or TOL
  for _, name in ipairs(layer:parameter_names()) do -- layer-norm gains and biases away from 1 and 0
    if name:match("^ln_") then layer:named_parameters()[name]:add_(recur.randn({1}, gen)[1] * 0.3) end
    if name:match("^weight_[ih]h") then layer:named_parameters()[name]:mul_(scale) end
  end
  if opts.train then layer:train() else layer:evaluate() end
  local cfg = layer:config()
  local D = cfg.bidirectional and 2 or 1
  local hout = (cfg.proj_size or 0) > 0 and cfg.proj_size or cfg.hidden_size
  local LD = cfg.num_layers * D
  local xs, hs, cs
  if B then
    xs = cfg.batch_first and {B, T, cfg.input_size} or {T, B, cfg.input_size}
    hs, cs = {LD, B, hout}, {LD, B, cfg.hidden_size}
  else
    xs, hs, cs = {T, cfg.input_size}, {LD, hout}, {LD, cfg.hidden_size}
  end
  local x, h0 = recur.randn(xs, gen), recur.randn(hs, gen)
  local lengths = opts.lengths and {lengths = opts.lengths} or nil
  local y, hn, cn = layer:forward(x, h0) -- cn: the cell has a cell state
  local c0 = cn and recur.randn(cs, gen) or nil
  local function forward()
    if c0 then return layer:forward(x, h0, c0, lengths) end
    return layer:forward(x, h0, lengths)
  end
  local R, S = recur.randn(y:shape(), gen), recur.randn(hn:shape(), gen)
  local U = cn and recur.randn(cn:shape(), gen) or nil
  local function loss()
    if opts.train then
      recur.manual_seed(99)
      if opts.generator then opts.generator:manual_seed(7) end
    end
    local y_, hn_, cn_ = forward()
    return dot(y_, R) + dot(hn_, S) + (cn_ and dot(cn_, U) or 0)
  end
  layer:zero_grad()
  loss()
  local dx, dh0, dc0 = layer:backward(R, S, U)
  check_tensor("x", x, dx, loss, tol)
  check_tensor("h0", h0, dh0, loss, tol)
  if c0 then check_tensor("c0", c0, dc0, loss, tol) end
  local params, grads = layer:named_parameters(), layer:named_gradients()
  for _, name in ipairs(layer:parameter_names()) do
    check_tensor(name, params[name], grads[name], loss, tol)
  end
end

--- Runs layer:stepper(B) over a random (6, B, input) sequence in evaluation mode and
-- checks each step and the final state against forward.
function checks.stepper_matches_forward(layer, B)
  local T = 6
  local x = recur.randn({T, B, layer:config().input_size}, recur.Generator(4))
  layer:evaluate()
  local y, hn, cn = layer:forward(x)
  local cell = layer:stepper(B)
  for t = 1, T do helpers.assert_close(cell:step(x[t]), y[t], 1e-6, "step " .. t) end
  local h, c = cell:state()
  helpers.assert_close(h, hn, 1e-6, "state h")
  assert(cn == nil == (c == nil), "the stepper carries a cell state exactly when the layer has one")
  if c then helpers.assert_close(c, cn, 1e-6, "state c") end
end

--- Lua's allocator count (KB) around fn(), after a warm-up call, with LuaJIT's compiler
-- off for fn (its traces are not what is measured).
function checks.allocated_kb(fn)
  if jit then jit.off(fn, true) end
  fn()
  collectgarbage("stop")
  local before = collectgarbage("count")
  fn()
  local after = collectgarbage("count")
  collectgarbage("restart")
  return after - before
end

local function fixture_tensor(case, name)
  local t = case.tensors[name]
  return t and helpers.tensor_of(t) or nil
end
checks.fixture_tensor = fixture_tensor

--- The fixture's layer (its options plus `extra`) in evaluation mode, with the fixture's
-- parameters copied in (each must be there).
function checks.layer_of_fixture(case, extra)
  local opts = {}
  for k, v in pairs(case.options) do opts[k] = v end
  for k, v in pairs(extra or {}) do opts[k] = v end
  local layer = recur[case.cell](opts)
  layer:evaluate()
  for name, view in pairs(layer:named_parameters()) do
    assert(case.tensors[name], "fixture lacks parameter " .. name)
    view:copy(fixture_tensor(case, name))
  end
  return layer
end

--- Runs the fixture's forward and backward through layer (its parameters already copied
-- in) and checks outputs, input gradients and every parameter gradient to tol.
function checks.matches_fixture(layer, case, tol)
  local x, h0, c0 = fixture_tensor(case, "x"), fixture_tensor(case, "h0"), fixture_tensor(case, "c0")
  local opts = case.tensors.lengths and {lengths = fixture_tensor(case, "lengths")} or nil
  local y, hn, cn
  if case.cell == "LSTM" then
    y, hn, cn = layer:forward(x, h0, c0, opts)
  else
    y, hn = layer:forward(x, h0, opts)
  end
  helpers.assert_close(y, fixture_tensor(case, "y"), tol, "y")
  helpers.assert_close(hn, fixture_tensor(case, "hn"), tol, "hn")
  if cn then helpers.assert_close(cn, fixture_tensor(case, "cn"), tol, "cn") end
  local dx, dh0, dc0 = layer:backward(fixture_tensor(case, "gy"), fixture_tensor(case, "ghn"),
    fixture_tensor(case, "gcn"))
  helpers.assert_close(dx, fixture_tensor(case, "dx"), tol, "dx")
  if h0 then helpers.assert_close(dh0, fixture_tensor(case, "dh0"), tol, "dh0") end
  if c0 then helpers.assert_close(dc0, fixture_tensor(case, "dc0"), tol, "dc0") end
  local grads = layer:named_gradients()
  for _, pname in ipairs(layer:parameter_names()) do
    helpers.assert_close(grads[pname], fixture_tensor(case, "grad." .. pname), tol, "grad " .. pname)
  end
end

return checks
