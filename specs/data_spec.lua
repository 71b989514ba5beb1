local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of
local data = recur.data
local util_unpack = table.unpack or unpack

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

describe("text pipeline", function()
  it("builds a vocabulary of UTF-8 characters, not bytes", function()
    local v = data.vocab_of("héllo wörld, ünïcode ✓")
    assert.is_not_nil(v.index["é"])
    assert.is_not_nil(v.index["✓"])
    for _, ch in ipairs(v.chars) do assert.are.equal(1, #recur.data.utf8_chars(ch)) end
    local ids = v:encode("wörld ✓")
    assert.are.equal(7, ids:numel())
    assert.are.equal("wörld ✓", v:decode(ids))
    assert.are.equal("ö", v:decode{v.index["ö"]})
  end)

  it("rejects invalid UTF-8, unknown characters and bad ids", function()
    assert.matches("invalid UTF%-8 at byte 2", error_of(data.vocab_of, "a\255b"))
    assert.matches("the text is empty", error_of(data.vocab_of, ""))
    local v = data.vocab_of("abc")
    assert.matches("character \"z\" %(at 2%) is not in the vocabulary", error_of(v.encode, v, "azb"))
    assert.matches("id 4 at 1 is not in 1..3", error_of(v.decode, v, {4}))
  end)

  it("reads files with clear errors", function()
    local path = tmpfile("abc")
    assert.are.equal("abc", data.read_file(path))
    os.remove(path)
    assert.matches("cannot open .*No such file", error_of(data.read_file, "/nonexistent/x.txt"))
    assert.matches("cannot read /tmp: Is a directory", error_of(data.read_file, "/tmp"))
  end)

  it("splits into train and validation views", function()
    local t = recur.tensor{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
    local a, b = data.split(t, 0.9)
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9}, a:totable())
    assert.are.same({10}, b:totable())
    assert.matches("cannot be split", error_of(data.split, recur.tensor{1}, 0.5))
    assert.matches("fraction: expected a number in %(0, 1%)", error_of(data.split, t, 1))
  end)

  it("cuts contiguous streams so that state can be carried between batches", function()
    local ids = {}
    for i = 1, 41 do ids[i] = i end
    local b = data.CharBatches{data = recur.tensor(ids), batch_size = 2, seq_len = 4}
    assert.are.equal(5, b:num_batches()) -- streams of 20 tokens, 5 batches of 4
    local x1, y1 = b:batch(1)
    local x2 = b:batch(2)
    assert.are.same({{1, 2, 3, 4}, {21, 22, 23, 24}}, x1:totable())
    assert.are.same({{2, 3, 4, 5}, {22, 23, 24, 25}}, y1:totable())
    assert.are.same({{5, 6, 7, 8}, {25, 26, 27, 28}}, x2:totable())
    local tm = data.CharBatches{data = recur.tensor(ids), batch_size = 2, seq_len = 4, time_major = true}
    assert.are.same({{1, 21}, {2, 22}, {3, 23}, {4, 24}}, (tm:batch(1)):totable())
    local seen = 0
    for i, x in b:epoch() do
      seen = seen + 1
      assert.are.equal(i, seen)
      assert.are.same({2, 4}, x:shape())
      if i == 2 then break end
    end
    local state = b:state()
    local rest = {}
    for i in b:epoch() do rest[#rest + 1] = i end
    assert.are.same({3, 4, 5}, rest)
    b:load_state(state)
    local again = {}
    for i in b:epoch() do again[#again + 1] = i end
    assert.are.same({3, 4, 5}, again)
    assert.matches("100 tokens make no batch of 10 x 10 %(need at least 101%)",
      error_of(data.CharBatches, {data = recur.ones{100}, batch_size = 10, seq_len = 10}))
  end)
end)

describe("time-series pipeline", function()
  local csv = "date,temp,wind\n2010/01/01 00:00,1,5\n2010/01/01 01:00,2,6\n2010/01/01 02:00,3,7\n" ..
    "2010/01/01 03:00,4,8\n2010/01/01 04:00,5,9\n2010/01/01 05:00,6,10\n"

  it("reads numeric and string columns by name", function()
    local path = tmpfile(csv)
    local cols, rows = data.read_csv(path, {numbers = {"temp", "wind"}, strings = {"date"}})
    os.remove(path)
    assert.are.equal(6, rows)
    assert.are.same({1, 2, 3, 4, 5, 6}, cols.temp:totable())
    assert.are.equal("2010/01/01 05:00", cols.date[6])
  end)

  it("reads the bundled Seattle temperatures", function()
    local cols, rows = data.read_csv("examples/data/seattle-temps.csv", {numbers = {"temp"}, strings = {"date"}})
    assert.are.equal(8759, rows)
    assert.are.equal(39.4, math.floor(cols.temp[1] * 10 + 0.5) / 10)
  end)

  it("gives clear errors: empty file, missing column, non-numeric cells, ragged rows, bad quotes", function()
    local cases = {
      {"", "the file is empty"},
      {"temp,b\n", "no data rows after the header"},
      {"a,b\n1,2\n", "no column 'temp'; the columns are: a, b"},
      {"temp\n1\nabc\n", "row 2 %(line 3%), column 'temp': 'abc' is not a finite number"},
      {"temp\n1\n\"\"\n", "row 2 %(line 3%), column 'temp': an empty cell is a missing value %(read_csv's option " ..
        "missing = \"skip\", \"nan\" or a number accepts it%)"},
      {"temp\nnan\n", "'nan' is a missing value"},
      {"temp\ninf\n", "'inf' is not a finite number"},
      {"temp,b\n1,2\n3\n", "row 2 %(line 3%) has 1 fields, expected 2"},
      {"temp\n\"1\n", "line 2: unterminated quote"},
    }
    for _, case in ipairs(cases) do
      local path = tmpfile(case[1])
      local err = error_of(data.read_csv, path, {numbers = {"temp"}})
      os.remove(path)
      assert.matches(case[2], err)
      assert.matches("^.-" .. path:gsub("%p", "%%%0"), err)
    end
  end)

  it("parses quoted fields, CRLF and blank lines", function()
    local path = tmpfile('name,"v,x"\r\n"a ""b""",1\r\n\r\nc,2')
    local cols = data.read_csv(path, {numbers = {"v,x"}, strings = {"name"}})
    os.remove(path)
    assert.are.same({1, 2}, cols["v,x"]:totable())
    assert.are.same({'a "b"', "c"}, cols.name)
  end)

  it("parses dates as UTC seconds", function()
    assert.are.equal(0, data.parse_datetime("1970-01-01"))
    assert.are.equal(1262307600, data.parse_datetime("2010/01/01 01:00"))
    assert.are.equal(951782400 + 3723, data.parse_datetime("2000-02-29T01:02:03"))
    assert.matches("is not a date", error_of(data.parse_datetime, "2010-13-01"))
    assert.matches("is not a date", error_of(data.parse_datetime, "yesterday"))
  end)

  it("normalises with training statistics and inverts", function()
    local train = recur.tensor{{1, 10}, {3, 30}}
    local norm = data.Normalizer(train)
    assert.are.same({2, 20}, norm.mean)
    assert.are.same({1, 10}, norm.std)
    local z = norm:apply(recur.tensor{{5, 0}})
    assert.are.same({{3, -2}}, z:totable())
    assert.are.same({{5, 0}}, norm:invert(z):totable())
    assert.are.same({0}, data.Normalizer(recur.tensor{7, 7}):apply(recur.tensor{7}):totable())
  end)

  it("cuts sliding windows and batches them", function()
    local series = recur.tensor{{1, 10}, {2, 20}, {3, 30}, {4, 40}, {5, 50}, {6, 60}}
    local w = data.Windows{series = series, input_len = 3, horizon = 2, stride = 1, targets = {2}}
    assert.are.equal(2, w:count())
    local x, y = w:batch({2, 1})
    assert.are.same({2, 3, 2}, x:shape())
    assert.are.same({{2, 20}, {3, 30}, {4, 40}}, x:select(1, 1):totable())
    assert.are.same({{{50}, {60}}, {{40}, {50}}}, y:totable())
    local xt = w:batch({1, 2}, true)
    assert.are.same({3, 2, 2}, xt:shape())
    assert.are.same({{1, 10}, {2, 20}}, xt:select(1, 1):totable())
    local strided = data.Windows{series = recur.zeros{10}, input_len = 2, stride = 3}
    assert.are.equal(3, strided:count())
    assert.matches("input_len %+ horizon = 12 rows do not fit in a series of 10 rows",
      error_of(data.Windows, {series = recur.zeros{10}, input_len = 11}))
    assert.matches("window 3 is not in 1..2", error_of(w.batch, w, {3}))
  end)

  it("checks timestamps: refuses or splits at gaps such as a daylight-saving hole", function()
    -- local time with the 02:00 hour of 2010-03-14 missing (US daylight saving)
    local dates = {"2010-03-14 00:00", "2010-03-14 01:00", "2010-03-14 03:00", "2010-03-14 04:00",
      "2010-03-14 05:00", "2010-03-14 06:00"}
    local ts = {}
    for i, d in ipairs(dates) do ts[i] = data.parse_datetime(d) end
    local series = recur.tensor{1, 2, 3, 4, 5, 6}
    assert.matches("Windows: rows 2 and 3 are 7200 s apart, not the 3600 s step %(2010%-03%-14 01:00:00 %-> " ..
      "2010%-03%-14 03:00:00%)", error_of(data.Windows, {series = series, input_len = 2, timestamps = ts}))
    local w = data.Windows{series = series, input_len = 2, timestamps = ts, gaps = "split"}
    assert.are.equal(2, w.segments)
    assert.are.equal(3600, w.step)
    assert.are.same({3, 4}, w.starts) -- no window spans rows 2 and 3
    assert.are.equal(1 + 3, data.Windows{series = series, input_len = 1, timestamps = ts, gaps = "split"}:count())
    local repeated = {0, 3600, 3600, 7200, 10800, 14400}
    assert.matches("rows 2 and 3 are 0 s apart", error_of(data.Windows, {series = series, input_len = 2, timestamps = repeated}))
    assert.matches("expected 6 timestamps %(one per row%), got 2",
      error_of(data.Windows, {series = series, input_len = 2, timestamps = {1, 2}}))
    assert.matches("no evenly spaced stretch holds input_len %+ horizon = 4 rows",
      error_of(data.Windows, {series = series, input_len = 3, timestamps = {0, 1, 2, 10, 11, 12}, gaps = "split"}))
    local evenly = data.Windows{series = series, input_len = 2, timestamps = {0, 60, 120, 180, 240, 300}}
    assert.are.equal(4, evenly:count())
    assert.matches("option gaps: expected one of 'error', 'split'",
      error_of(data.Windows, {series = series, input_len = 2, timestamps = ts, gaps = "fill"}))
  end)

  it("loads shuffled mini-batches reproducibly", function()
    local w = data.Windows{series = recur.tensor{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, input_len = 2}
    local function firsts(seed)
      local loader = data.WindowLoader{windows = w, batch_size = 3, generator = recur.Generator(seed)}
      local out = {}
      for x, y in loader:epoch() do
        for b = 1, x:size(2) do out[#out + 1] = string.format("%d>%d", x:get(1, b, 1), y:get(b, 1, 1)) end
      end
      return out, loader:num_batches()
    end
    local a, n = firsts(1)
    assert.are.equal(3, n)
    assert.are.equal(8, #a)
    assert.are.same(a, (firsts(1)))
    assert.are_not.same(a, (firsts(2)))
    for _, pair in ipairs(a) do
      local i, t = pair:match("(%d+)>(%d+)")
      assert.are.equal(tonumber(i) + 2, tonumber(t))
    end
  end)
end)

describe("plots and histories", function()
  it("writes a loss history as CSV and as a self-contained SVG", function()
    local dir = os.tmpname()
    os.remove(dir)
    local csv, svg = dir .. ".csv", dir .. ".svg"
    recur.plot.write_csv(csv, {"step", "loss"}, {{1, 2.5}, {2, 1.25}})
    assert.are.equal("step,loss\n1,2.5\n2,1.25\n", data.read_file(csv))
    recur.plot.write_svg(svg, {title = "loss <train>", series = {{name = "train", x = {1, 2, 3}, y = {3, 2, 0 / 0}},
      {name = "val", x = {1, 3}, y = {2.5, 1}}}})
    local doc = data.read_file(svg)
    assert.matches("^<svg xmlns=\"http://www.w3.org/2000/svg\"", doc)
    assert.matches("loss &lt;train&gt;", doc)
    local _, lines = doc:gsub("<polyline", "")
    assert.are.equal(2, lines)
    assert.is_nil(doc:find("nan"))
    assert.matches("</svg>\n$", doc)
    os.remove(csv)
    os.remove(svg)
    assert.matches("cannot write", error_of(recur.plot.write_csv, "/nonexistent/dir/x.csv", {"a"}, {}))
  end)
end)

describe("data functions under bad input", function()
  local F = require("recur.core").F
  -- a table that claims 2^62 elements
  local function huge_len(t) return setmetatable(t, {__len = function() return 2 ^ 62 end}) end

  it("read arrays by their raw length and check sizes against overflow (no heap overrun)", function()
    assert.are.same({1, 2, 3}, F.utf8_encode("abc", huge_len{"a", "b", "c"}):totable())
    local x, y = F.gather_windows(recur.tensor{1, 2, 3, 4, 5}, huge_len{2}, 2, 1, huge_len{1}, false)
    assert.are.same({1, 2, 1}, x:shape())
    assert.are.same({{{4}}}, y:totable())
    local max = math.maxinteger or 2 ^ 53
    assert.matches("len: expected an integer in 1..5", error_of(F.gather_windows, recur.zeros{5}, {1}, max, max, {1}, false))
    assert.matches("horizon: expected an integer in 0..3", error_of(F.gather_windows, recur.zeros{5}, {1}, 2, max, {1}, false))
    assert.matches("starts%[1%]: expected an integer in 1..3", error_of(F.gather_windows, recur.zeros{5}, {-max}, 2, 1, {1}))
    assert.matches("cols%[1%]: expected an integer in 1..1", error_of(F.gather_windows, recur.zeros{5}, {1}, 2, 1, {2}))
    local cols = F.read_csv("a,b\n1,x\n", huge_len{"a"}, huge_len{"b"})
    assert.are.same({1}, cols.a:totable())
    local ids = F.ids_from{1, 2, 3, 4, 5}
    assert.matches("T: expected an integer in 1..2", error_of(F.ids_batch, ids, 0, 1, 2, 0, max))
    assert.matches("run past the 5 ids", error_of(F.ids_batch, ids, 1, 2, 2, 0, 2))
    assert.matches("rows: expected an integer in 1..5", error_of(F.ids_batch, ids, 0, max, 2, 0, 1))
    assert.matches("expected a tensor or an array of integers, got number", error_of(F.ids_from, 5))
  end)

  it("raise argument errors naming the function and the argument at the caller's line", function()
    local vocab = data.vocab_of("abc")
    local windows = data.Windows{series = recur.zeros{10}, input_len = 2}
    local batches = data.CharBatches{data = recur.ones{20}, batch_size = 2, seq_len = 2}
    local cases = {
      {data.read_file, {5}, "read_file: path: expected a string, got 5"},
      {data.utf8_chars, {5}, "utf8_chars: text: expected a string, got 5"},
      {data.utf8_chars, {"a\255"}, "utf8_chars: invalid UTF%-8 at byte 2"},
      {data.vocab_of, {{}}, "vocab_of: text: expected a string, got table"},
      {data.Vocab, {"abc"}, "Vocab: chars: expected an array of characters, got \"abc\""},
      {data.Vocab, {{"ab"}}, "Vocab: chars%[1%]: expected one UTF%-8 character, got \"ab\""},
      {vocab.encode, {vocab, 5}, "encode: text: expected a string, got 5"},
      {vocab.decode, {vocab, 5}, "decode: ids: expected a recur.Tensor or a recur.IdBuffer of ids, got 5"},
      {vocab.decode, {vocab, {1, 9}}, "decode: id 9 at 2 is not in 1..3"},
      {data.split, {5, 0.5}, "split: t: expected a recur.Tensor or a recur.IdBuffer of ids, got 5"},
      {data.CharBatches, {{data = 5, batch_size = 1, seq_len = 1}}, "CharBatches: option data: expected a recur.Tensor"},
      {data.CharBatches, {{data = recur.tensor{1, 2.5, 3}, batch_size = 1, seq_len = 1}},
        "CharBatches: data: %(ids%[2%]: expected an integer in 1..16777216, got 2.5%)"},
      {batches.batch, {batches, "x"}, "batch: expected 1..4, got \"x\""},
      {batches.load_state, {batches, {position = 9}}, "load_state: expected {position = 0..4}"},
      {data.Normalizer, {5}, "Normalizer: t: expected a 1%-D or 2%-D recur.Tensor, got 5"},
      {data.Normalizer(recur.zeros{3}).apply, {data.Normalizer(recur.zeros{3}), recur.zeros{3, 2}},
        "apply: t has 2 columns, the normalizer 1"},
      {data.Windows, {{series = "x", input_len = 2}}, "Windows: option series: expected a 1%-D or 2%-D recur.Tensor"},
      {data.Windows, {{series = recur.zeros{9}, input_len = 2, targets = {2}}}, "Windows: targets%[1%]: expected a column 1..1, got 2"},
      {windows.batch, {windows, 5}, "batch: which: expected a non%-empty array of window numbers, got 5"},
      {data.shuffle, {"x"}, "shuffle: n: expected a non%-negative integer, got \"x\""},
      {data.shuffle, {3, 7}, "shuffle: gen: expected a recur.Generator, got 7"},
      {data.WindowLoader, {{windows = 5, batch_size = 2}}, "WindowLoader: option windows: expected a recur.data.Windows, got 5"},
      {data.WindowLoader, {{windows = windows, batch_size = 2, generator = 1}}, "option generator: expected a recur.Generator"},
      {data.read_csv, {"examples/data/seattle-temps.csv", {numbers = {1}}},
        "numbers%[1%]: expected a column name %(a string%), got number"},
    }
    for _, case in ipairs(cases) do
      local err = helpers.error_at_caller(case[1], util_unpack(case[2]))
      assert.matches("^.-helpers.lua:%d+: .-" .. case[3], err)
      assert.is_nil(err:find("lua/recur/"), err)
    end
  end)
end)
