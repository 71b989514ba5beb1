-- Large text in bounded memory: files are scanned and encoded in chunks into a recur.IdBuffer
-- (one byte per character for up to 255 characters), which CharBatches cuts into batches.
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of
local data = recur.data

local function write(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
end

describe("recur.IdBuffer", function()
  it("holds ids in the smallest type, with views, element access and conversions", function()
    local small = require("recur.core").F.ids_new(3, 255)
    assert.are.equal("uint8", small:dtype())
    assert.are.equal("uint16", require("recur.core").F.ids_new(3, 256):dtype())
    assert.are.equal("uint32", require("recur.core").F.ids_new(3, 70000):dtype())
    small[1], small[2], small[3] = 7, 255, 1
    assert.are.same({7, 255, 1}, small:totable())
    assert.are.equal(3, #small)
    assert.are.equal(255, small:max())
    local tail = small:narrow(1, 2, 2)
    assert.are.same({255, 1}, tail:totable())
    tail[1] = 9
    assert.are.equal(9, small[2]) -- views share the storage
    assert.are.same({7, 9, 1}, small:totensor():totable())
    assert.matches("id: expected an integer in 0..255, got 256", error_of(function() small[1] = 256 end))
    assert.matches("index: expected an integer in 1..3, got 4", error_of(function() return small[4] end))
    assert.matches("length: expected an integer in 0..2, got 3", error_of(small.narrow, small, 1, 2, 3))
    assert.matches("recur.IdBuffer%(3 ids, uint8%)", tostring(small))
  end)

  it("gives the same ids as encoding the whole text, for a file read in chunks", function()
    -- more than one 1 MiB chunk, with multi-byte characters across chunk boundaries
    local line = "Héllo, wörld ✓ — naïve café\n"
    local text = line:rep(math.ceil(2.5 * 1048576 / #line))
    local path = os.tmpname()
    write(path, text)
    local vocab, count = data.vocab_of_file(path)
    local whole = data.vocab_of(text)
    assert.are.same(whole.chars, vocab.chars)
    local ids = vocab:encode_file(path)
    os.remove(path)
    assert.are.equal("uint8", ids:dtype())
    assert.are.equal(count, ids:numel())
    local expected = whole:encode(text)
    assert.are.equal(expected:numel(), ids:numel())
    for i = 1, ids:numel(), 4099 do assert.are.equal(expected[i], ids[i]) end
    assert.are.equal(expected[ids:numel()], ids[ids:numel()])
    assert.are.equal(line:sub(1, -2), vocab:decode(ids:narrow(1, 1, #data.utf8_chars(line) - 1)))
  end)

  it("reports invalid UTF-8, unknown characters and unreadable files with the path", function()
    local path = os.tmpname()
    write(path, ("a"):rep(1048575) .. "\255b")
    assert.matches(": invalid UTF%-8 at byte 1048576", error_of(data.vocab_of_file, path))
    write(path, "abcz")
    local vocab = data.Vocab{"a", "b", "c"}
    assert.matches(path:gsub("%p", "%%%0") .. ": encode: character \"z\" %(at 4%) is not in the vocabulary",
      error_of(vocab.encode_file, vocab, path))
    write(path, "")
    assert.matches("is empty", error_of(data.vocab_of_file, path))
    os.remove(path)
    assert.matches("vocab_of_file: cannot open .*No such file", helpers.error_at_caller(data.vocab_of_file, path))
  end)

  -- AddressSanitizer reserves terabytes of address space: no `ulimit -v` under `make asan`
  local under_asan = (os.getenv("LD_PRELOAD") or ""):find("asan")
  local it_unless_asan = under_asan and pending or it
  it_unless_asan("trains on a corpus whose float encoding would not fit under the memory limit", function()
    -- a child process under `ulimit -v`: its own baseline plus 1.5 x the file, where the
    -- whole-file path (the text as a string, then 4 bytes per character) needs about 6 x
    local mb = 48
    local path = os.tmpname()
    local block = ("The quick brown fox jumps over the lazy dog; naïve café.\n"):rep(18000)
    local f = assert(io.open(path, "wb"))
    for _ = 1, math.ceil(mb * 1048576 / #block) do f:write(block) end
    f:close()
    local script = os.tmpname() .. ".lua"
    write(script, string.format("package.path = %q\npackage.cpath = %q\n", package.path, package.cpath) .. [[
      local recur = require "recur"
      local function vm(key)
        for l in io.lines("/proc/self/status") do
          local v = l:match("^" .. key .. ":%s*(%d+)")
          if v then return tonumber(v) end
        end
      end
      if arg[2] == "baseline" then -- after a first BLAS call, which maps OpenBLAS's buffers
        recur.ones{4, 4}:matmul(recur.ones{4, 4})
        print(vm("VmSize"))
        return
      end
      local vocab, count = recur.data.vocab_of_file(arg[1])
      local ids = vocab:encode_file(arg[1])
      assert(ids:numel() == count and ids:dtype() == "uint8")
      local train = recur.data.CharBatches{data = ids, batch_size = 8, seq_len = 16, time_major = true}
      local model = recur.Sequential{{"embed", recur.Embedding{num_embeddings = vocab:size(), embedding_dim = 8}},
        {"rnn", recur.LSTM{input_size = 8, hidden_size = 16}},
        {"decoder", recur.Linear{in_features = 16, out_features = vocab:size()}}}
      local optimizer = recur.optim.Adam{model, lr = 1e-2}
      local criterion = recur.CrossEntropyLoss()
      local first, last
      for step, x, y in train:epoch() do
        optimizer:zero_grad()
        last = criterion:forward(model:forward(x), y)
        first = first or last
        model:backward(criterion:backward())
        optimizer:step()
        if step == 60 then break end
      end
      local streamed_peak = vm("VmHWM")
      local whole = pcall(function() return vocab:encode(recur.data.read_file(arg[1])) end)
      print(string.format("%d %.4f %.4f %d %s", count, first, last, streamed_peak, tostring(whole)))
    ]])
    local env = "OPENBLAS_NUM_THREADS=1 "
    local lua = helpers.interpreter()
    local base = io.popen(env .. lua .. " " .. script .. " " .. path .. " baseline"):read("*a")
    local limit = tonumber(base) + math.floor(1.5 * mb * 1024) + 16 * 1024
    local out = io.popen(string.format("ulimit -v %d; %stimeout 120 %s %s %s 2>&1", limit, env, lua, script, path))
      :read("*a")
    os.remove(path)
    os.remove(script)
    local count, first, last, peak, whole = out:match("^(%d+) (%S+) (%S+) (%d+) (%a+)")
    assert(count, "the child failed under the limit of " .. limit .. " kB: " .. out)
    assert.is_true(tonumber(count) > mb * 1000000)
    assert.is_true(tonumber(last) < tonumber(first)) -- it trains
    assert.is_true(tonumber(peak) < (mb + 40) * 1024, "peak resident " .. peak .. " kB")
    assert.are.equal("false", whole) -- the whole-file path does not fit under the same limit
  end)
end)
