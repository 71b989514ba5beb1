-- Smoke test of a recur build where busted does not run (Windows under Wine, WebAssembly
-- under node), from the repository root:
--   lua platform/smoke.lua WORK_DIR
-- Checks tensors, the seeded generator, an LSTM's forward and backward against PyTorch
-- (platform/fixtures, written by platform/make_smoke_fixture.py), a save/load round trip and an
-- atomic save over an existing file; files go to WORK_DIR, an existing empty directory.
-- Prints one line per check and exits 0, or 1 after the failures' messages.
local recur = require "recur"
local helpers = require "specs.helpers" -- plain Lua: tensor_of, assert_close

local work = assert(arg[1], "usage: lua platform/smoke.lua WORK_DIR")
local checks = {}
local function check(name, fn) checks[#checks + 1] = {name = name, fn = fn} end

local function expect(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 2) end
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

check("tensors", function()
  local t = recur.tensor{{1, 2, 3}, {4, 5, 6}}
  expect(t:get(2, 3) == 6, "t:get(2, 3) = %s", tostring(t:get(2, 3)))
  expect(t:sum() == 21 and t:max() == 6, "sum %s, max %s", tostring(t:sum()), tostring(t:max()))
  local p = t:matmul(recur.ones{3})
  expect(p[1] == 6 and p[2] == 15, "matmul: %s, %s", tostring(p[1]), tostring(p[2]))
  local v = t:view{3, 2}
  v:mul_(2)
  expect(t:get(1, 2) == 4, "a view shares storage")
  local big = recur.ones{300, 70}:matmul(recur.ones{70, 260}) -- past the portable GEMM's 256 block
  expect(big:get(300, 260) == 70 and big:sum() == 70 * 300 * 260, "a blocked matmul")
end)

check("generator: the same numbers as on every machine", function()
  -- from Linux x86-64 (glibc): uniform numbers are exact, normal ones go through libm's log/cos
  local u, n = recur.rand({3}, recur.Generator(7)), recur.randn({4}, recur.Generator(7))
  helpers.assert_close(u, recur.tensor{0.108323336, 0.919275522, 0.652788043}, 1e-7, "rand")
  helpers.assert_close(n, recur.tensor{-0.775769114, 0.302617669, 1.16245604, 1.68546844}, 1e-6, "randn")
end)

local case = dofile("platform/fixtures/lstm_2layer_bidir.lua")
local function fixture(name) return helpers.tensor_of(case.tensors[name]) end
local lstm = recur.LSTM(case.options)
lstm:evaluate()
for name, view in pairs(lstm:named_parameters()) do view:copy(fixture(name)) end

check("LSTM forward and backward match PyTorch", function()
  local y, hn, cn = lstm:forward(fixture("x"), fixture("h0"), fixture("c0"))
  helpers.assert_close(y, fixture("y"), 2e-5, "y")
  helpers.assert_close(hn, fixture("hn"), 2e-5, "hn")
  helpers.assert_close(cn, fixture("cn"), 2e-5, "cn")
  lstm:zero_grad()
  local dx, dh0, dc0 = lstm:backward(fixture("gy"), fixture("ghn"), fixture("gcn"))
  helpers.assert_close(dx, fixture("dx"), 2e-5, "dx")
  helpers.assert_close(dh0, fixture("dh0"), 2e-5, "dh0")
  helpers.assert_close(dc0, fixture("dc0"), 2e-5, "dc0")
  for name, grad in pairs(lstm:named_gradients()) do helpers.assert_close(grad, fixture("grad." .. name), 2e-5, name) end
end)

local path = work .. "/model.safetensors"

check("save and load round trip", function()
  recur.save(path, lstm, {epoch = 3})
  local tensors, meta = recur.load(path)
  for name, view in pairs(lstm:named_parameters()) do helpers.assert_close(tensors[name], view, 0, name) end
  expect(meta.epoch == "3", "metadata epoch = %s", tostring(meta.epoch))
  local rebuilt = recur.load_model(path)
  rebuilt:evaluate()
  helpers.assert_close(rebuilt:forward(fixture("x"), fixture("h0"), fixture("c0")), fixture("y"), 2e-5, "rebuilt y")
end)

check("an atomic save over an existing file", function()
  -- the temporary file of an earlier save that was killed: the next save removes it
  local stale = path .. ".tmp-Stale1"
  local f = assert(io.open(stale, "wb"))
  f:write("half a checkpoint")
  f:close()
  local t0 = recur.monotonic()
  -- older than the next save's file: some file systems keep whole seconds (ext3, HFS+, and
  -- emscripten's NODERAWFS)
  repeat until recur.monotonic() - t0 > 1.05
  local other = recur.LSTM(case.options)
  recur.save(path, other)
  local loaded = recur.load(path)
  for name, view in pairs(other:named_parameters()) do helpers.assert_close(loaded[name], view, 0, name) end
  expect(not exists(stale), "the stale temporary file %s is still there", stale)
  local ok, err = pcall(recur.save, work .. "/no-such-dir/model.safetensors", other)
  expect(not ok and tostring(err):find("cannot write", 1, true), "a save into a missing directory: %s",
    tostring(err))
  loaded = recur.load(path)
  for name, view in pairs(other:named_parameters()) do helpers.assert_close(loaded[name], view, 0, name) end
end)

check("monotonic clock", function()
  local a = recur.monotonic()
  local b = recur.monotonic()
  expect(a >= 0 and b >= a, "monotonic went from %s to %s", tostring(a), tostring(b))
end)

local failed = 0
for _, c in ipairs(checks) do
  local ok, err = pcall(c.fn)
  print(string.format("%s %s%s", ok and "ok  " or "FAIL", c.name, ok and "" or ": " .. tostring(err)))
  if not ok then failed = failed + 1 end
end
local config = recur.config()
print(string.format("%d of %d checks passed (recur %s, %s, BLAS: %s)", #checks - failed, #checks, config.version,
  config.lua, config.blas))
os.exit(failed == 0 and 0 or 1)
