-- Data-parallel shards: n ranks with batch_size b/n see, step by step, the examples of one
-- process with batch_size b (rank r takes its contiguous slice of every global batch).
local recur = require "recur"
local json = require "recur.json" -- private to checkpoints; the specs reach it directly
local helpers = require "specs.helpers"
local error_of = helpers.error_of
local data = recur.data

-- the rows of (B, T) tensors stacked, or the columns of (T, B) ones: as nested tables
local function concat_batch(parts, dim)
  local out = {}
  for _, p in ipairs(parts) do
    local t = dim == 1 and p or p:transpose(1, 2)
    for _, row in ipairs(t:totable()) do out[#out + 1] = row end
  end
  return out
end

describe("CharBatches shards", function()
  local ids = {}
  for i = 1, 1000 do ids[i] = (i * 7) % 50 + 1 end
  local stream = recur.tensor(ids)

  for _, time_major in ipairs{false, true} do
    it("concatenated over ranks equal the single-process batch" .. (time_major and ", time major" or ""), function()
      local world, b = 4, 3
      local single = data.CharBatches{data = stream, batch_size = b * world, seq_len = 5, time_major = time_major}
      local ranks = {}
      for r = 0, world - 1 do
        ranks[r + 1] = data.CharBatches{data = stream, batch_size = b, seq_len = 5, time_major = time_major,
          rank = r, world = world}
        assert.are.equal(single:num_batches(), ranks[r + 1]:num_batches())
      end
      for i = 1, single:num_batches() do
        local x, y = single:batch(i)
        local xs, ys = {}, {}
        for r = 1, world do xs[r], ys[r] = ranks[r]:batch(i) end
        local dim = time_major and 2 or 1
        assert.are.same(concat_batch({x}, dim), concat_batch(xs, dim))
        assert.are.same(concat_batch({y}, dim), concat_batch(ys, dim))
      end
    end)
  end

  it("resume per rank", function()
    local b = data.CharBatches{data = stream, batch_size = 2, seq_len = 5, rank = 1, world = 3}
    local iter = b:epoch()
    iter()
    iter()
    local saved = b:state()
    local _, expected = iter()
    local again = data.CharBatches{data = stream, batch_size = 2, seq_len = 5, rank = 1, world = 3}:load_state(saved)
    local _, x = again:epoch()()
    assert.are.same(expected:totable(), x:totable())
    assert.matches("option rank: expected 0..2 %(world = 3%), got 3",
      error_of(data.CharBatches, {data = stream, batch_size = 2, seq_len = 5, rank = 3, world = 3}))
  end)
end)

describe("WindowLoader shards", function()
  local series = recur.zeros{64, 2}
  for i = 1, 64 do series:set(i, 1, i) series:set(i, 2, -i) end
  local windows = data.Windows{series = series, input_len = 3, horizon = 2}

  local function epoch_of(loader)
    local out = {}
    for x, y in loader:epoch() do out[#out + 1] = {x, y} end
    return out
  end

  for _, drop_last in ipairs{false, true} do
    it("same order on every rank, each taking its slice of the global batch (drop_last = " .. tostring(drop_last) .. ")",
      function()
        local world, b = 3, 4 -- 60 windows: 5 global batches of 12
        local single = epoch_of(data.WindowLoader{windows = windows, batch_size = b * world, drop_last = drop_last,
          generator = recur.Generator(11)})
        local per_rank = {}
        for r = 0, world - 1 do
          per_rank[r + 1] = epoch_of(data.WindowLoader{windows = windows, batch_size = b, rank = r, world = world,
            drop_last = drop_last, generator = recur.Generator(11)})
          assert.are.equal(#single, #per_rank[r + 1])
        end
        for k = 1, #single do
          local xs, ys = {}, {}
          for r = 1, world do xs[r], ys[r] = per_rank[r][k][1], per_rank[r][k][2] end
          -- x is (T, B, F): batch in dimension 2; y is (B, horizon, K)
          local x_single = single[k][1]:transpose(1, 2):totable()
          local x_ranks = {}
          for _, x in ipairs(xs) do for _, w in ipairs(x:transpose(1, 2):totable()) do x_ranks[#x_ranks + 1] = w end end
          assert.are.same(x_single, x_ranks)
          local y_ranks = {}
          for _, y in ipairs(ys) do for _, w in ipairs(y:totable()) do y_ranks[#y_ranks + 1] = w end end
          assert.are.same(single[k][2]:totable(), y_ranks)
        end
      end)
  end

  it("a saved state resumes the epoch with the same order, on each rank", function()
    local function loader(r)
      return data.WindowLoader{windows = windows, batch_size = 3, rank = r, world = 2, generator = recur.Generator(5)}
    end
    local a = loader(1)
    epoch_of(a) -- a whole epoch first, so that the order comes from a moved generator
    local iter = a:epoch()
    iter()
    local saved = json.decode(json.encode(a:state())) -- as a checkpoint stores it
    local rest = {}
    for x in iter do rest[#rest + 1] = x:totable() end
    local b = loader(1):load_state(saved)
    local again = {}
    for x in b:epoch() do again[#again + 1] = x:totable() end
    assert.are.same(rest, again)
    -- and the next epoch matches too (the generator's state was restored)
    assert.are.same(epoch_of(a)[1][1]:totable(), epoch_of(b)[1][1]:totable())
  end)

  it("refuses a last batch that leaves a rank without windows", function()
    assert.matches("the last batch holds 4 windows, too few for 3 ranks of 4",
      error_of(data.WindowLoader, {windows = data.Windows{series = series:narrow(1, 1, 44), input_len = 3, horizon = 2},
        batch_size = 4, world = 3}))
    assert.matches("load_state: expected a table from WindowLoader:state%(%)",
      error_of(data.WindowLoader{windows = windows, batch_size = 4}.load_state, data.WindowLoader{windows = windows,
        batch_size = 4}, {position = 2}))
  end)
end)
