-- recur.set_num_threads(n): the recurrent layers split over n threads (batch rows in groups,
-- the two directions of a bidirectional layer side by side) give the results of 1 thread
-- within float tolerance, the same bits for a given n, with dropout masks that do not depend
-- on n; workers are created lazily, belong to their lua_State and end with it.
local recur = require "recur"
local helpers = require "specs.helpers"
local shell = require "specs.shell"

-- The splits reassociate float32 sums (the weight gradients' sums over the T*B rows, the two
-- directions' dL/dx): at these sizes the differences are a few ulp; 1e-5 of the largest
-- magnitude leaves a wide margin and still catches any wrong row, mask or gradient.
local TOL = 1e-5
-- A wavefront's chunks multiply by W_hh through the BLAS, one thread through recur's packed
-- product (src/core/packed.c) when the CPU has it: two implementations a few ulp apart at
-- every step (with FMA or without), 1e-7 after 37 steps, but layer norm over 4 hidden units
-- lifts it: on the BLAS-free build LSTM layer_norm's y is 1.2e-5 and dx 5.8e-5 apart, GRU's
-- 2.1e-6 (with RECUR_PACKED_GEMM=0 both sides give the same bits). A wrong row, mask or
-- gradient is off by orders of magnitude more.
local WAVE_TOL = 1e-4

local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

-- forward + backward of make()'s layer in training mode, at n threads, from fixed seeds;
-- returns every result: y, hn, (cn,) dx, dh0, (dc0,) the flat parameter gradients
local function run(n, make, T, B, opts)
  opts = opts or {}
  recur.set_num_threads(n)
  recur.manual_seed(7)
  local layer = make()
  layer:train()
  local cfg = layer:config()
  local hout = (cfg.proj_size or 0) > 0 and cfg.proj_size or cfg.hidden_size
  local width = (cfg.bidirectional and 2 or 1) * hout
  local gen = recur.Generator(3)
  local x = recur.randn(cfg.batch_first and {B, T, cfg.input_size} or {T, B, cfg.input_size}, gen)
  local gy = recur.randn(cfg.batch_first and {B, T, width} or {T, B, width}, gen)
  local o = opts.lengths and {lengths = opts.lengths} or nil
  local results = cfg.type == "LSTM" and {layer:forward(x, nil, nil, o)} or {layer:forward(x, nil, o)}
  local grads = {layer:backward(gy)}
  for _, g in ipairs(grads) do results[#results + 1] = g end
  results[#results + 1] = layer:flat_gradients():clone()
  return results
end

local NAMES = {"y", "hn", "cn", "dx", "dh0", "dc0", "gradients"}

local function assert_same_results(got, want, what, tol)
  assert.are.equal(#want, #got)
  for i = 1, #want do
    local name = #want == 7 and NAMES[i] or ({"y", "hn", "dx", "dh0", "gradients"})[i]
    helpers.assert_close(got[i], want[i], tol or TOL, what .. ": " .. name)
  end
end

local function bits_equal(a, b)
  for i = 1, #a do
    if not helpers.same_bits(a[i], b[i]) then return false end
  end
  return true
end

describe("threads", function()
  after_each(function() recur.set_num_threads(1) end)

  describe("set_num_threads", function()
    it("sets this state's thread count; OpenBLAS runs 1 thread beside recur's", function()
      recur.set_num_threads(3)
      assert.are.equal(3, recur.get_num_threads())
      assert.are.equal(3, recur.config().num_threads)
      if recur.config().blas == "openblas" then assert.are.equal(1, recur.config().blas_threads) end
      recur.set_num_threads(1)
      assert.are.equal(1, recur.get_num_threads())
    end)

    it("rejects counts out of range", function()
      assert.matches("threads: expected an integer in 1..64, got 0", error_of(recur.set_num_threads, 0))
      assert.matches("threads: expected an integer in 1..64, got 65", error_of(recur.set_num_threads, 65))
    end)
  end)

  describe("give the results of 1 thread", function()
    local cells = {
      {"RNN tanh", function(o) return recur.RNN(o) end},
      {"RNN relu", function(o) o.nonlinearity = "relu"; return recur.RNN(o) end},
      {"GRU", function(o) return recur.GRU(o) end},
      {"GRU layer_norm", function(o) o.layer_norm = true; return recur.GRU(o) end},
      {"LSTM", function(o) return recur.LSTM(o) end},
      {"LSTM peephole", function(o) o.peephole = true; return recur.LSTM(o) end},
      {"LSTM layer_norm", function(o) o.layer_norm = true; return recur.LSTM(o) end},
      {"LSTM proj_size", function(o) o.proj_size = 3; return recur.LSTM(o) end},
    }
    for _, cell in ipairs(cells) do
      for _, bidirectional in ipairs{false, true} do
        local what = cell[1] .. (bidirectional and ", bidirectional" or "")
        it(what .. ", 2 layers, dropout and variational dropout, B = 2, 9, 13 at 2, 3 and 4 threads", function()
          local function make()
            return cell[2]{input_size = 3, hidden_size = 4, num_layers = 2, bidirectional = bidirectional,
              dropout = 0.3, input_dropout = 0.2, recurrent_dropout = 0.25}
          end
          for _, B in ipairs{2, 9, 13} do -- B < n; row groups of 4 rows or more (rnn.c), not all equal
            local want = run(1, make, 5, B)
            for _, n in ipairs{2, 3, 4} do assert_same_results(run(n, make, 5, B), want, string.format("%s B=%d n=%d", what, B, n)) end
          end
        end)
      end
    end

    -- a unidirectional stack whose batch is too small to split runs its layers as a wavefront,
    -- in chunks of time steps (rnn.c): T = 37 gives chunks of 10, 10, 10, 7 steps at B = 3 and
    -- of 16, 16, 5 at B = 1; 3 layers on 2 threads wait for a free thread as well as for
    -- the layer below
    for _, cell in ipairs(cells) do
      it(cell[1] .. ", 3 layers as a wavefront, dropout and variational dropout, B = 1, 3 at 2 and 3 threads", function()
        local function make()
          return cell[2]{input_size = 3, hidden_size = 4, num_layers = 3, dropout = 0.3, input_dropout = 0.2,
            recurrent_dropout = 0.25}
        end
        for _, B in ipairs{1, 3} do
          local want = run(1, make, 37, B)
          for _, n in ipairs{2, 3} do
            assert_same_results(run(n, make, 37, B), want, string.format("%s wavefront B=%d n=%d", cell[1], B, n),
              WAVE_TOL)
          end
        end
      end)
    end

    it("a wavefront over packed sequences (unsorted lengths) and batch_first", function()
      local function make()
        return recur.GRU{input_size = 3, hidden_size = 5, num_layers = 2, batch_first = true, dropout = 0.4}
      end
      local opts = {lengths = {30, 7, 19}}
      local want = run(1, make, 30, 3, opts)
      for _, n in ipairs{2, 3} do
        assert_same_results(run(n, make, 30, 3, opts), want, "packed wavefront n=" .. n, WAVE_TOL)
      end
    end)

    it("packed sequences (unsorted lengths) and batch_first, one and two directions", function()
      for _, bidirectional in ipairs{false, true} do
        local function make()
          return recur.LSTM{input_size = 3, hidden_size = 5, num_layers = 2, batch_first = true,
            bidirectional = bidirectional, recurrent_dropout = 0.2}
        end
        local opts = {lengths = {2, 7, 1, 7, 4, 5, 3, 7, 6, 1, 2, 7}}
        local want = run(1, make, 7, 12, opts)
        for _, n in ipairs{2, 3, 4} do assert_same_results(run(n, make, 7, 12, opts), want, "packed n=" .. n) end
      end
    end)

    it("the same bits every time for a given n", function()
      local function make() return recur.GRU{input_size = 3, hidden_size = 6, num_layers = 2, bidirectional = true, dropout = 0.2} end
      for _, n in ipairs{2, 4} do
        assert.is_true(bits_equal(run(n, make, 6, 9), run(n, make, 6, 9)), "n = " .. n)
      end
    end)

    it("a backward runs the split of its forward, whatever the count when it runs", function()
      local function make() return recur.LSTM{input_size = 3, hidden_size = 4, bidirectional = true} end
      local x, gy = recur.randn{4, 9, 3}, recur.randn{4, 9, 8}
      local function forward_at(n_forward, n_backward)
        recur.set_num_threads(n_forward)
        recur.manual_seed(2)
        local layer = make()
        local y = layer:forward(x)
        recur.set_num_threads(n_backward)
        local dx = layer:backward(gy)
        return {y, dx, layer:flat_gradients():clone()}
      end
      local want = forward_at(1, 1)
      for _, pair in ipairs{{4, 1}, {1, 4}, {2, 3}} do
        local got = forward_at(pair[1], pair[2])
        for i = 1, 3 do helpers.assert_close(got[i], want[i], TOL, table.concat(pair, "/")) end
      end
    end)

    it("outputs equal as set_num_threads changes between calls, the workspace growing as needed", function()
      local layer = recur.GRU{input_size = 2, hidden_size = 3}
      layer:evaluate()
      local small, large = recur.randn{4, 12, 2}, recur.randn{9, 17, 2}
      local want_small, want_large = layer:forward(small), layer:forward(large)
      for _, n in ipairs{3, 1, 2, 6, 1} do
        recur.set_num_threads(n)
        helpers.assert_close(layer:forward(small), want_small, TOL, "small, n = " .. n)
        helpers.assert_close(layer:forward(large), want_large, TOL, "large, n = " .. n)
      end
    end)
  end)

  describe("workers", function()
    -- a child interpreter, so that its thread count starts from scratch; prints its
    -- "num_threads" from /proc/self/stat at each step
    local function child(script)
      local lua = helpers.interpreter()
      local preamble = shell.search_paths() .. [[
        local recur = require "recur"
        local function threads()
          local f = io.open("/proc/self/stat")
          local stat = f:read("*a")
          f:close()
          local after_name = stat:match("%) (.*)$")
          local fields = {}
          for v in after_name:gmatch("%S+") do fields[#fields + 1] = v end
          return tonumber(fields[18]) -- field 20 of stat: the process's thread count
        end
        -- the count after threads were joined: pthread_join returns once a thread has
        -- exited, a moment before the kernel stops counting it, so read until two reads
        -- 20 ms apart agree (2 s at most; a thread left running stays counted)
        local function threads_after_join()
          local deadline, n = recur.monotonic() + 2, threads()
          repeat
            local wait = recur.monotonic() + 0.02
            repeat until recur.monotonic() >= wait
            local m = threads()
            if m == n then return n end
            n = m
          until recur.monotonic() >= deadline
          return n
        end
      ]]
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(preamble, script)
      f:close()
      local out = shell.capture(string.format("OPENBLAS_NUM_THREADS=1 timeout 120 %s %s 2>&1; echo status $?", lua, path))
      os.remove(path)
      return out
    end

    local linux = io.open("/proc/self/stat") ~= nil
    local spec = linux and it or pending

    spec("start lazily, only when a call splits, never for 1 thread, and end when the count drops", function()
      local out = child([[
        local base = threads()
        local layer = recur.LSTM{input_size = 2, hidden_size = 3}
        local x = recur.randn{3, 12, 2}
        recur.set_num_threads(1)
        layer:forward(x)
        print("n=1", threads() - base)
        recur.set_num_threads(3)
        print("set", threads() - base)
        layer:forward(recur.randn{3, 1, 2}) -- one row: nothing to split
        print("B=1", threads() - base)
        layer:forward(recur.randn{3, 7, 2}) -- groups of 4 rows or more: one group
        print("B=7", threads() - base)
        local stack = recur.LSTM{input_size = 2, hidden_size = 3, num_layers = 2}
        stack:forward(recur.randn{3, 1, 2}) -- a wavefront needs chunks of 16 rows or more: one chunk
        print("stack T=3", threads() - base)
        stack:forward(recur.randn{40, 1, 2}) -- the layers as a wavefront
        print("stack T=40", threads() - base)
        layer:forward(x)
        print("B=12", threads() - base)
        recur.set_num_threads(2)
        print("2", threads_after_join() - base)
        recur.set_num_threads(1)
        layer:forward(x)
        print("back to 1", threads_after_join() - base)
      ]])
      assert.matches("n=1\t0\nset\t0\nB=1\t0\nB=7\t0\nstack T=3\t0\nstack T=40\t2\nB=12\t2\n2\t1\nback to 1\t0\nstatus 0", out)
    end)

    spec("end with their lua_State", function()
      -- os.exit(code, true) closes the state first: its workers must be joined, not left running
      local out = child([[
        local base = threads()
        recur.set_num_threads(4)
        local layer = recur.GRU{input_size = 2, hidden_size = 3, bidirectional = true}
        layer:forward(recur.randn{3, 8, 2})
        print("workers", threads() - base)
        os.exit(0, true)
      ]])
      assert.matches("workers\t3\nstatus 0", out)
    end)
  end)
end)
