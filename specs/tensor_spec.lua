local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

describe("recur.Tensor", function()
  describe("constructors", function()
    it("tensor builds from nested tables, row-major", function()
      local t = recur.tensor{{1, 2, 3}, {4, 5, 6}}
      assert.are.same({2, 3}, t:shape())
      assert.are.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
      assert.are.equal(6, t:get(2, 3))
      assert.is_true(recur.is_tensor(t))
      assert.is_false(recur.is_tensor({}))
    end)

    it("tensor of a tensor is a copy", function()
      local a = recur.tensor{1, 2}
      local b = recur.tensor(a)
      b[1] = 9
      assert.are.equal(1, a[1])
    end)

    it("tensor of an empty table is a 1-D tensor with 0 elements", function()
      local t = recur.tensor{}
      assert.are.same({0}, t:shape())
      assert.are.equal(0, t:numel())
    end)

    it("checks every row before allocating (a ragged table must not cost what its first rows imply)", function()
      -- found by fuzzing: the shape is read from the first elements, (24, 24, 24, 24, 24, 24, 24)
      -- here, 4.6e9 floats, while the table holds 168 entries
      local t = 0
      for _ = 1, 7 do
        local level = {t}
        for i = 2, 24 do level[i] = 0 end
        t = level
      end
      collectgarbage()
      local before = collectgarbage("count")
      assert.matches("element %[1%]%[1%]%[1%]%[1%]%[1%]%[2%] is a number, expected a table", error_of(recur.tensor, t))
      assert.is_true(collectgarbage("count") - before < 1024, "allocated for the implied shape")
    end)

    it("zeros, ones, full", function()
      assert.are.same({{0, 0}, {0, 0}}, recur.zeros{2, 2}:totable())
      assert.are.same({1, 1, 1}, recur.ones{3}:totable())
      assert.are.same({{2.5}, {2.5}}, recur.full({2, 1}, 2.5):totable())
    end)

    it("rejects ragged rows, non-number entries and bad shapes", function()
      assert.matches("row %[2%] has 1 elements, expected 2", error_of(recur.tensor, {{1, 2}, {3}}))
      assert.matches("element %[2%] is a string, expected a number", error_of(recur.tensor, {1, "2"}))
      assert.matches("element %[1%]%[2%] is a boolean", error_of(recur.tensor, {{1, true}}))
      assert.matches("element %[2%] is a number, expected a table", error_of(recur.tensor, {{1}, 2}))
      assert.matches("expected a nested table of numbers, got number", error_of(recur.tensor, 3))
      assert.matches("shape%[2%]: expected a non%-negative integer, got %-1", error_of(recur.zeros, {2, -1}))
      assert.matches("shape%[1%]: expected a non%-negative integer, got 1.5", error_of(recur.zeros, {1.5}))
      assert.matches("shape%[1%]: expected a non%-negative integer, got string", error_of(recur.ones, {"x"}))
      assert.matches("expected 1 to 8 sizes, got 0", error_of(recur.zeros, {}))
      assert.matches("expected 1 to 8 sizes, got 9", error_of(recur.zeros, {1, 1, 1, 1, 1, 1, 1, 1, 1}))
      assert.matches("shape: expected a table, got number", error_of(recur.zeros, 3))
      assert.matches("too many elements", error_of(recur.zeros, {2 ^ 30, 2 ^ 30}))
      assert.matches("bad argument #2 to .full. %(value: expected a number, got string%)", error_of(recur.full, {2}, "x"))
    end)
  end)

  describe("random numbers", function()
    it("the same seed gives the same numbers", function()
      local a = recur.randn({100}, recur.Generator(42))
      local b = recur.randn({100}, recur.Generator(42))
      assert.are.same(a:totable(), b:totable())
      local c = recur.randn({100}, recur.Generator(43))
      assert.are_not.same(a:totable(), c:totable())
    end)

    it("manual_seed resets the default generator", function()
      recur.manual_seed(7)
      local a = recur.rand{50}
      recur.manual_seed(7)
      assert.are.same(a:totable(), recur.rand{50}:totable())
    end)

    it("gives the same stream on every machine (golden values)", function()
      local g = recur.Generator(2024)
      -- PCG32 seeded through splitmix64 uses integer arithmetic only
      local u = recur.rand({3}, g):totable()
      local again = recur.Generator(2024)
      assert.are.same(u, recur.rand({3}, again):totable())
      assert.are.equal(g:random(1000), again:random(1000))
      local first = recur.rand({1}, recur.Generator(1))[1]
      assert.are.equal(first, recur.rand({1}, recur.Generator(1))[1])
    end)

    it("has sane statistics", function()
      local n = recur.randn({20000}, recur.Generator(1))
      assert.is_true(math.abs(n:mean()) < 0.03)
      local var = n:mul(n):mean()
      assert.is_true(math.abs(var - 1) < 0.05)
      local u = recur.rand({20000}, recur.Generator(2))
      assert.is_true(math.abs(u:mean() - 0.5) < 0.01)
      local lo, hi = math.huge, -math.huge
      for i = 1, 20000 do lo, hi = math.min(lo, u[i]), math.max(hi, u[i]) end
      assert.is_true(lo >= 0 and hi < 1)
    end)

    it("saves and restores its state exactly", function()
      local g = recur.Generator(5)
      g:normal() -- leaves a spare normal in the state
      local s = g:get_state()
      local a = {g:normal(), g:uniform(), g:random(10)}
      g:set_state(s)
      assert.are.same(a, {g:normal(), g:uniform(), g:random(10)})
      assert.are.equal(5, g:initial_seed())
      assert.matches("not a string from Generator:get_state", error_of(g.set_state, g, "junk"))
    end)

    it("random draws integers in range, uniform and normal take bounds", function()
      local g = recur.Generator(3)
      for _ = 1, 200 do
        local r = g:random(3, 5)
        assert.is_true(r >= 3 and r <= 5 and r == math.floor(r))
        local u = g:uniform(-2, -1)
        assert.is_true(u >= -2 and u < -1)
      end
      assert.matches("n: expected an integer >= 5, got 3", error_of(g.random, g, 5, 3))
      assert.matches("expected a recur.Generator", error_of(recur.randn, {2}, {}))
    end)
  end)

  describe("shape queries", function()
    local t = recur.zeros{2, 3, 4}
    it("shape, size, dim, numel, #", function()
      assert.are.same({2, 3, 4}, t:shape())
      assert.are.same({2, 3, 4}, t:size())
      assert.are.equal(3, t:size(2))
      assert.are.equal(3, t:dim())
      assert.are.equal(24, t:numel())
      assert.are.equal(2, #t)
    end)
    it("rejects a bad dim", function()
      assert.matches("dim: expected an integer in 1..3, got 4", error_of(t.size, t, 4))
      assert.matches("dim: expected an integer in 1..3, got 0", error_of(t.size, t, 0))
    end)
  end)

  describe("views and copies", function()
    it("view and reshape share storage, with -1 inferred", function()
      local t = recur.tensor{1, 2, 3, 4, 5, 6}
      local v = t:view{2, -1}
      assert.are.same({2, 3}, v:shape())
      v:set(2, 1, 40)
      assert.are.equal(40, t[4])
      local r = t:reshape{3, 2}
      r:fill(1)
      assert.are.equal(6, t:sum())
    end)

    it("views keep their base's memory alive", function()
      local v = recur.tensor{1, 2, 3, 4}:view{2, 2}
      collectgarbage()
      collectgarbage()
      assert.are.same({{1, 2}, {3, 4}}, v:totable())
    end)

    it("view rejects sizes that do not fit", function()
      local t = recur.zeros{6}
      assert.matches("shape: %(4, 2%) does not fit a tensor of 6 elements", error_of(t.view, t, {4, 2}))
      assert.matches("only one size may be %-1", error_of(t.view, t, {-1, -1}))
      assert.matches("does not fit", error_of(t.view, t, {4, -1}))
    end)

    it("select and narrow on the first dimension are views", function()
      local t = recur.tensor{{1, 2}, {3, 4}, {5, 6}}
      local row = t:select(1, 2)
      assert.are.same({3, 4}, row:totable())
      row:fill(0)
      assert.are.same({{1, 2}, {0, 0}, {5, 6}}, t:totable())
      local rows = t:narrow(1, 2, 2)
      assert.are.same({2, 2}, rows:shape())
      rows:fill(9)
      assert.are.equal(1 + 2 + 4 * 9, t:sum())
      assert.are.same({1, 2}, t[1]:totable())
    end)

    it("select and narrow on other dimensions copy the values", function()
      local t = recur.tensor{{1, 2, 3}, {4, 5, 6}}
      assert.are.same({2, 5}, t:select(2, 2):totable())
      assert.are.same({{2, 3}, {5, 6}}, t:narrow(2, 2, 2):totable())
      -- a leading dimension of size 1 still gives a view
      local u = recur.tensor{{1, 2, 3}}
      u:narrow(2, 2, 1):fill(7)
      assert.are.same({{1, 7, 3}}, u:totable())
      assert.are.equal(5, recur.tensor{4, 5}:select(1, 2))
    end)

    it("select and narrow check their ranges", function()
      local t = recur.zeros{2, 3}
      assert.matches("index: expected an integer in 1..3, got 4", error_of(t.select, t, 2, 4))
      assert.matches("start: expected an integer in 1..2, got 0", error_of(t.narrow, t, 1, 0, 1))
      assert.matches("length: expected an integer in 0..1, got 2", error_of(t.narrow, t, 1, 2, 2))
      assert.matches("dim: expected an integer in 1..2, got 3", error_of(t.select, t, 3, 1))
    end)

    it("copy copies values of the same element count, clone is independent", function()
      local a = recur.zeros{2, 2}
      a:copy(recur.tensor{1, 2, 3, 4})
      assert.are.same({{1, 2}, {3, 4}}, a:totable())
      local c = a:clone()
      c:zero()
      assert.are.equal(10, a:sum())
      assert.are.equal(0, c:sum())
      assert.matches("src: expected 4 elements, got 3", error_of(a.copy, a, recur.zeros{3}))
      assert.matches("src: expected a recur.Tensor, got table", error_of(a.copy, a, {1, 2, 3, 4}))
    end)
  end)

  describe("element access", function()
    it("get and set with 1-based indices", function()
      local t = recur.zeros{2, 3}
      t:set(2, 3, 5)
      assert.are.equal(5, t:get(2, 3))
      assert.are.equal(5, t:totable()[2][3])
    end)

    it("t[i] reads and writes 1-D tensors", function()
      local t = recur.tensor{1, 2, 3}
      assert.are.equal(2, t[2])
      t[3] = 7
      assert.are.equal(7, t[3])
    end)

    it("rejects out-of-range and missing indices", function()
      local t = recur.zeros{2, 3}
      assert.matches("index for dim 2: expected an integer in 1..3, got 4", error_of(t.get, t, 1, 4))
      assert.matches("index for dim 1: expected an integer in 1..2, got 0", error_of(t.get, t, 0, 1))
      assert.matches("expected 2 indices for a 2%-D tensor, got 1", error_of(t.get, t, 1))
      assert.matches("expected 2 indices and a value", error_of(t.set, t, 1, 1))
      assert.matches("index for dim 1: expected an integer in 1..2, got 1.5", error_of(t.get, t, 1.5, 1))
      assert.matches("index: expected an integer in 1..2, got 3", error_of(function() return t[3] end))
      assert.matches("needs a 1%-D tensor", error_of(function() t[1] = 0 end))
      assert.matches("value: expected a number, got string", error_of(function() recur.zeros{2}[1] = "x" end))
    end)
  end)

  describe("arithmetic", function()
    local a = recur.tensor{{1, 2}, {3, 4}}
    local b = recur.tensor{{4, 3}, {2, 1}}
    it("add, sub, mul, div with tensors and numbers return new tensors", function()
      assert.are.same({{5, 5}, {5, 5}}, a:add(b):totable())
      assert.are.same({{-3, -1}, {1, 3}}, a:sub(b):totable())
      assert.are.same({{4, 6}, {6, 4}}, a:mul(b):totable())
      assert.are.same({{0.25, 0.5}, {1.5, 4}}, a:div(recur.tensor{{4, 4}, {2, 1}}):totable())
      assert.are.same({{2, 3}, {4, 5}}, a:add(1):totable())
      assert.are.same({{2, 4}, {6, 8}}, a:mul(2):totable())
      assert.are.same({{1, 2}, {3, 4}}, a:totable())
    end)

    it("in-place variants modify and return self", function()
      local c = a:clone()
      assert.are.equal(c, c:add_(b))
      assert.are.same({{5, 5}, {5, 5}}, c:totable())
      c:sub_(1):mul_(2):div_(4)
      assert.are.same({{2, 2}, {2, 2}}, c:totable())
    end)

    it("rejects other shapes and types", function()
      assert.matches("other: expected shape %(2, 2%), got %(4%)", error_of(a.add, a, recur.zeros{4}))
      assert.matches("other: expected a number or a recur.Tensor, got string", error_of(a.mul, a, "2"))
    end)
  end)

  describe("reductions", function()
    local t = recur.tensor{{1, 5, 2}, {7, 0, 3}}
    it("sum, mean, norm", function()
      assert.are.equal(18, t:sum())
      assert.are.equal(3, t:mean())
      assert.is_true(math.abs(t:norm() - math.sqrt(1 + 25 + 4 + 49 + 9)) < 1e-6)
    end)

    it("max returns the value and its flat index; argmax by dimension", function()
      local v, i = t:max()
      assert.are.equal(7, v)
      assert.are.equal(4, i)
      assert.are.equal(4, t:argmax())
      assert.are.same({2, 1, 2}, t:argmax(1):totable())
      assert.are.same({2, 1}, t:argmax(2):totable())
      assert.are.equal(2, recur.tensor{1, 3, 2}:argmax(1))
    end)

    it("reductions of empty tensors", function()
      local e = recur.zeros{0}
      assert.are.equal(0, e:sum())
      assert.is_true(e:mean() ~= e:mean()) -- NaN
      assert.matches("max: the tensor is empty", error_of(e.max, e))
      assert.matches("argmax: the tensor is empty", error_of(e.argmax, e))
    end)
  end)

  describe("matmul", function()
    it("multiplies 2-D by 2-D and 2-D by 1-D through BLAS", function()
      local a = recur.tensor{{1, 2, 3}, {4, 5, 6}}
      local b = recur.tensor{{1, 0}, {0, 1}, {1, 1}}
      assert.are.same({{4, 5}, {10, 11}}, a:matmul(b):totable())
      assert.are.same({6, 15}, a:matmul(recur.ones{3}):totable())
    end)

    it("handles empty inner dimensions", function()
      local z = recur.zeros{2, 0}:matmul(recur.zeros{0, 3})
      assert.are.same({{0, 0, 0}, {0, 0, 0}}, z:totable())
    end)

    it("rejects mismatched shapes", function()
      local a = recur.zeros{2, 3}
      assert.matches("other: expected shape %(3, n%) or %(3%), got %(2, 2%)", error_of(a.matmul, a, recur.zeros{2, 2}))
      assert.matches("self must be 2%-D", error_of(recur.zeros{3}.matmul, recur.zeros{3}, recur.zeros{3}))
    end)
  end)

  describe("printing", function()
    it("shows the shape and the values", function()
      local s = tostring(recur.tensor{{1, 2}, {3, 4.5}})
      assert.matches("recur.Tensor of shape %(2, 2%)", s)
      assert.matches("%[%[1, 2%],\n %[3, 4.5%]%]", s)
    end)

    it("truncates large tensors", function()
      local s = tostring(recur.zeros{100, 100})
      assert.matches("%.%.%.", s)
      assert.is_true(#s < 2000)
    end)
  end)

  describe("threads and configuration", function()
    it("sets and reads the BLAS thread count", function()
      local before = recur.get_num_threads()
      recur.set_num_threads(1)
      assert.are.equal(1, recur.get_num_threads())
      recur.set_num_threads(before)
      assert.matches("threads: expected an integer in 1..64, got 0", error_of(recur.set_num_threads, 0))
    end)

    it("reports versions", function()
      local c = recur.config()
      assert.are.equal(recur._VERSION, c.version)
      assert.matches("^Lua", c.lua) -- "Lua 5.x" or "LuaJIT 2.1..."
      assert.is_string(c.blas_corename)
      if c.blas == "openblas" then
        assert.matches("OpenBLAS", c.blas_config)
      else -- make BLAS=none
        assert.are.equal("portable", c.blas)
        assert.matches("no BLAS", c.blas_config)
      end
    end)
  end)
end)
