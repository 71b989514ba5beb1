-- The benchmark's statistics and target checker (bench/stats.lua, bench/cases.lua,
-- bench/targets.lua): what turns per-round times into the reported median [min-max] ratios and
-- the met / MISSED lines.
package.path = "bench/?.lua;" .. package.path
local stats = require "stats"
local cases = require "cases"
local targets = require "targets"
local write = require("recur").plot.write_atomic

describe("bench stats", function()
  it("takes the median of odd and even counts without reordering the input", function()
    local xs = {5, 1, 4, 2, 3}
    assert.are.equal(3, stats.median(xs))
    assert.are.same({5, 1, 4, 2, 3}, xs)
    assert.are.equal(2.5, stats.median{4, 1, 3, 2})
    assert.are.equal(7, stats.median{7})
    assert.has_error(function() stats.median{} end)
  end)

  it("summarises as median, min, max and count", function()
    assert.are.same({median = 1.2, min = 0.9, max = 3, n = 3}, stats.summary{3, 0.9, 1.2})
  end)

  it("selects the cases whose name contains a plain text (run.lua --cases)", function()
    local list = {{kind = "layer", cell = "LSTM", T = 50, B = 64, H = 512, mode = "fb", bidir = 0},
      {kind = "layer", cell = "GRU", T = 50, B = 16, H = 256, mode = "forward", bidir = 0},
      {kind = "layer", cell = "GRU", T = 50, B = 64, H = 512, mode = "forward", bidir = 0}}
    local function ids(selected)
      local out = {}
      for i, c in ipairs(selected) do out[i] = cases.id(c) end
      return out
    end
    assert.are.same({"LSTM T=50 B=64 H=512 fb", "GRU T=50 B=64 H=512 forward"}, ids(cases.select(list, "B=64 H=512")))
    assert.are.same({"GRU T=50 B=16 H=256 forward"}, ids(cases.select(list, "GRU T=50 B=1")))
    assert.are.same({}, cases.select(list, "B=6."))  -- plain text: "." is no wildcard
    assert.are.equal(3, #cases.select(list, nil))
  end)

  it("reverses the order of the sides every other round", function()
    assert.are.same({"a", "b", "c"}, stats.order({"a", "b", "c"}, 1))
    assert.are.same({"c", "b", "a"}, stats.order({"a", "b", "c"}, 2))
    assert.are.same({"a", "b", "c"}, stats.order({"a", "b", "c"}, 3))
    assert.are.same({"y", "x"}, stats.order({"x", "y"}, 4))
  end)

  it("chooses enough repetitions to fill a sample, at least one", function()
    assert.are.equal(4, stats.reps(0.05, 0.2)) -- 0.2 / 0.05 is 4.000000000000001 in floating point
    assert.are.equal(3, stats.reps(0.07, 0.2))
    assert.are.equal(1, stats.reps(2.5, 0.2))
    assert.has_error(function() stats.reps(-1, 0.2) end)
  end)

  it("takes ratios round by round", function()
    assert.are.same({2, 0.5, 1}, stats.ratios({4, 1, 3}, {2, 2, 3}))
    assert.has_error(function() stats.ratios({1, 2}, {1}) end)
  end)

  it("gives a verdict on the median and flags a range across the goal", function()
    assert.are.same({"met", false}, {stats.verdict({median = 1.2, min = 1.15, max = 1.3}, ">=", 1.1)})
    assert.are.same({"met", true}, {stats.verdict({median = 1.2, min = 1.0, max = 1.3}, ">=", 1.1)})
    assert.are.same({"MISSED", true}, {stats.verdict({median = 1.05, min = 0.9, max = 1.2}, ">=", 1.1)})
    assert.are.same({"MISSED", false}, {stats.verdict({median = 3.5, min = 3.2, max = 4}, "<=", 3)})
    assert.are.same({"met", false}, {stats.verdict({median = 2, min = 2, max = 2}, "<=", 3)})
    assert.has_error(function() stats.verdict({median = 1, min = 1, max = 1}, ">", 1) end)
  end)

  it("reads the minor page faults from a /proc stat line, counting the fields after the name", function()
    -- fields 3 to 10 after a process name with spaces and parentheses in it: 777 is field 10
    assert.are.equal(777, stats.minor_faults("4242 (lua5.4 (a) b) R 1 2 3 0 -1 4194560 777 0 5 0 12 3"))
    assert.is_nil(stats.minor_faults("no parenthesised name here"))
    assert.is_nil(stats.minor_faults(nil))
    local before = stats.own_minor_faults()
    if not before then return end -- not Linux: the worker then answers -1
    local block = string.rep("x", 8 * 1024 * 1024) -- 2,048 fresh pages, written
    local after = stats.own_minor_faults()
    assert.is_true(after - before >= 1000, "faults: " .. before .. " -> " .. after)
    assert.are.equal(8 * 1024 * 1024, #block)
  end)

  it("formats median [min-max]", function()
    assert.are.equal("1.23x [1.10-1.40]", stats.format_range({median = 1.234, min = 1.1, max = 1.4}, "%.2fx", "%.2f"))
  end)
end)

describe("bench cases", function()
  it("sends a case over the wire and back unchanged", function()
    local c = {kind = "layer", cell = "LSTM", T = 50, B = 64, H = 256, mode = "fb", bidir = 0}
    local wire = cases.encode(c)
    assert.are.equal("kind=layer cell=LSTM T=50 B=64 H=256 mode=fb bidir=0", wire)
    assert.are.same(c, cases.decode(wire))
  end)

  it("names every case of every table uniquely", function()
    for _, quick in ipairs{true, false} do
      for _, tbl in ipairs(cases.tables(quick)) do
        local seen = {}
        for _, c in ipairs(tbl.cases) do
          local id = cases.id(c)
          assert.is_nil(seen[id], tbl.name .. ": " .. id .. " twice")
          seen[id] = true
        end
      end
    end
  end)

  it("covers the issue's target grid in the full run", function()
    local full = {}
    for _, tbl in ipairs(cases.tables(false)) do
      full[tbl.name] = {}
      for _, c in ipairs(tbl.cases) do full[tbl.name][cases.id(c)] = true end
    end
    for _, t in ipairs(targets.list()) do
      if t.table ~= "memory" then
        assert.is_true(full[t.table] and full[t.table][t.case] or false, t.table .. ": " .. t.case .. " is not measured")
      end
    end
  end)
end)

describe("bench targets", function()
  local function s(median, min, max) return {median = median, min = min, max = max, n = 7} end
  local id = cases.id{kind = "layer", cell = "LSTM", T = 50, B = 64, H = 256, mode = "forward", bidir = 0}

  it("reports met and MISSED targets with the measured range, and cases a table did not run", function()
    local results = {layers = {[id] = {speedup = s(1.2, 1.1, 1.3), bound = s(0.8, 0.7, 0.95)}}}
    local lines, met, missed, absent = targets.check(results)
    local text = table.concat(lines, "\n")
    assert.are.equal(1, met)
    assert.are.equal(1, missed)
    assert.is_true(absent > 0)
    assert.truthy(text:find("met      " .. id .. " >= 1.10x torch:%s+1.200x %[1.10%-1.30%]"))
    assert.truthy(text:find("MISSED   " .. id .. " >= 90%% of the GEMM bound:%s+80.0%% %[70%-95%]  %(range straddles"))
    assert.falsy(text:find("char%-rnn")) -- its table did not run: no line
  end)

  it("does not round a value just below its goal up to the goal", function()
    local lines = targets.check{layers = {[id] = {bound = s(0.8996, 0.85, 0.93)}}}
    assert.truthy(table.concat(lines, "\n"):find("MISSED   " .. id .. " >= 90%% of the GEMM bound:%s+90.0%%"))
    lines = targets.check{layers = {[id] = {speedup = s(1.0996, 1.0, 1.2)}}}
    assert.truthy(table.concat(lines, "\n"):find("MISSED   " .. id .. " >= 1.10x torch:%s+1.100x"))
  end)

  it("shows memory in bytes: one byte over the baseline is a miss that reads as one", function()
    local case = "LSTM T=50 B=16 H=128"
    local base = targets.memory_baseline[case].live_bytes
    local function line(live)
      local lines = targets.check{memory = {[case] = {live_bytes = s(live, live, live)}}}
      return table.concat(lines, "\n")
    end
    assert.truthy(line(base + 1):find("MISSED   " .. case .. "%s+live bytes no more than at f1303c3:%s+" .. (base + 1) .. " bytes"))
    assert.truthy(line(base):find("met      " .. case .. "%s+live bytes no more than at f1303c3:%s+" .. base .. " bytes"))
  end)

  it("reads back the results file the driver writes", function()
    local path = os.tmpname()
    write(path, "table,case,metric,median,min,max,rounds\nlayers," .. id .. ",speedup,1.25,1.2,1.3,7\n")
    local results = targets.read_csv(path)
    os.remove(path)
    assert.are.same({median = 1.25, min = 1.2, max = 1.3, n = 7}, results.layers[id].speedup)
  end)

  it("rejects a file that is not a results file", function()
    local path = os.tmpname()
    write(path, "cell,threads,T\n")
    assert.has_error(function() targets.read_csv(path) end)
    os.remove(path)
  end)
end)

-- The tracer (bench/blas_trace.c) and the replay (bench/blas_bound.c) behind the "of bound"
-- column. They need the C compiler, OpenBLAS and the in-tree Lua 5.4 build of recur.
describe("bench GEMM bound", function()
  local function run(command)
    local status = os.execute("env -u LD_PRELOAD " .. command .. " >/dev/null 2>&1")
    return status == true or status == 0
  end
  local function read(path)
    local f = assert(io.open(path))
    local text = f:read("*a")
    f:close()
    return text
  end
  -- answers of the replay worker to `commands`, one per line
  local function bound(commands)
    local input = os.tmpname()
    write(input, table.concat(commands, "\n") .. "\n")
    local p = io.popen("env -u LD_PRELOAD build/bench/blas_bound 1 < " .. input)
    local answers = {}
    for line in p:lines() do answers[#answers + 1] = line end
    p:close()
    os.remove(input)
    return answers
  end

  local usable = _VERSION == "Lua 5.4" and not rawget(_G, "jit") and io.open("recur/core.so") ~= nil
    and require("recur").config().blas == "openblas"
    and run("make -s build/bench/blas_bound build/bench/blas_trace.so")
  if not usable then
    pending("needs Lua 5.4, the in-tree OpenBLAS build and a C compiler")
    return
  end

  it("recreates the buffers of the recorded calls, merging overlaps, and replays them", function()
    local trace = os.tmpname()
    write(trace, table.concat({
      "begin other", "sgemv R N 2 2 1 0x9000 2 0x9100 1 0 0x9200 1", "end other",
      "begin t",
      "sgemv R N 4 3 1 0x1000 3 0x2000 1 0 0x3000 1", -- A [0x1000, +48) x [0x2000, +12) y [0x3000, +16)
      "sgemv R N 4 3 1 0x1000 3 0x2000 1 1 0x3008 1", -- y [0x3008, +16): overlaps the first y
      "sgemm R N T 2 4 3 1 0x2000 3 0x1000 3 1 0x4000 4", -- A [0x2000, +24) B^T [0x1000, +48) C [0x4000, +32)
      "end t", ""}, "\n"))
    local answers = bound{"setup trace=" .. trace .. " id=t", "run 3", "setup trace=" .. trace .. " id=missing", "quit"}
    os.remove(trace)
    assert.truthy(answers[1]:match("^ok %d+%.%d+ %d+%.%d+ %d+ calls=3 regions=4 bytes=128$"), answers[1])
    assert.truthy(answers[2]:match("^ok %d+%.%d+ %d+%.%d+ %d+$"), answers[2])
    assert.truthy(answers[3]:match("^error setup: no complete section missing"), answers[3])
  end)

  it("replays exactly the calls recur made for one unit of a case", function()
    local trace = os.tmpname()
    os.remove(trace)
    local input = os.tmpname()
    write(input, "setup kind=layer cell=LSTM T=3 B=2 H=4 mode=fb bidir=0\ntrace unit\nquit\n")
    assert.is_true(run("OPENBLAS_NUM_THREADS=1 LD_PRELOAD=build/bench/blas_trace.so RECUR_BENCH_TRACE=" .. trace ..
      " lua5.4 bench/recur_worker.lua 1 < " .. input))
    os.remove(input)
    local section = ("\n" .. read(trace)):match("\nbegin unit\n(.-)end unit\n")
    assert.truthy(section, "no traced section")
    local calls = 0
    for line in section:gmatch("[^\n]+") do
      assert.truthy(line:match("^sgemm [RC] [NT] [NT] %d+ %d+ %d+ %S+ 0x%x+ %d+ 0x%x+ %d+ %S+ 0x%x+ %d+$")
        or line:match("^sgemv [RC] [NT] %d+ %d+ %S+ 0x%x+ %d+ 0x%x+ %-?%d+ %S+ 0x%x+ %-?%d+$"), line)
      calls = calls + 1
    end
    assert.is_true(calls >= 2) -- forward and backward each call BLAS at least once
    local answers = bound{"setup trace=" .. trace .. " id=unit", "quit"}
    os.remove(trace)
    assert.truthy(answers[1]:match("^ok %S+ %S+ %d+ calls=" .. calls .. " "), answers[1])
  end)

  it("has recur's worker answer a run with its seconds and minor page faults", function()
    local input = os.tmpname()
    write(input, "setup kind=layer cell=GRU T=4 B=2 H=8 mode=fb bidir=0\nrun 2\nquit\n")
    local p = io.popen("OPENBLAS_NUM_THREADS=1 lua5.4 bench/recur_worker.lua 1 < " .. input)
    local answers = {}
    for line in p:lines() do answers[#answers + 1] = line end
    p:close()
    os.remove(input)
    assert.are.equal(2, #answers)
    for _, answer in ipairs(answers) do assert.truthy(answer:match("^ok %d+%.%d+ %d+%.%d+ %d+$"), answer) end
  end)
end)
