--- Data pipelines: character-level text and time series from CSV files.
-- Loops are Lua; copies of whole buffers (batches, windows, CSV parsing) are C.
-- @module recur.data
local core = require "recur.core"
local util = require "recur.util"

local F = core.F
local data = {}

--- The whole file as a string, or a clear error (missing, unreadable, a directory).
-- @string path
function data.read_file(path)
  if type(path) ~= "string" then error("read_file: path: expected a string, got " .. util.describe(path), 2) end
  local f, err = io.open(path, "rb")
  if not f then error("read_file: cannot open " .. err, 2) end
  local text, read_err = f:read("*a")
  f:close()
  if not text then error(string.format("read_file: cannot read %s: %s", path, tostring(read_err)), 2) end
  return text
end

--- Text
-- @section text

local UTF8_CHAR = "[%z\1-\127\194-\244][\128-\191]*"

--- The UTF-8 characters of text, as an array of strings (invalid UTF-8 is an error).
function data.utf8_chars(text)
  local ok, err = pcall(F.utf8_vocab, text) -- validates
  if not ok then error(err, 2) end
  local out = {}
  for ch in text:gmatch(UTF8_CHAR) do out[#out + 1] = ch end
  return out
end

local Vocab = util.class("recur.data.Vocab")

--- A character vocabulary: ids 1..size in the order of `chars`.
-- Fields: `chars` (id -> character), `index` (character -> id).
-- @tparam {string,...} chars distinct characters
function data.Vocab(chars)
  local self = setmetatable({chars = {}, index = {}}, Vocab)
  for i, ch in ipairs(chars) do
    if self.index[ch] then error("Vocab: duplicate character " .. string.format("%q", ch), 2) end
    self.chars[i], self.index[ch] = ch, i
  end
  if #self.chars == 0 then error("Vocab: no characters", 2) end
  return self
end

--- The vocabulary of a text: its distinct UTF-8 characters, sorted by code point.
function data.vocab_of(text)
  local ok, chars = pcall(F.utf8_vocab, text)
  if not ok then error(chars, 2) end
  if #chars == 0 then error("vocab_of: the text is empty", 2) end
  return data.Vocab(chars)
end

function Vocab:size() return #self.chars end

--- The ids of text's characters, as a 1-D tensor.
function Vocab:encode(text)
  local ok, ids = pcall(F.utf8_encode, text, self.chars)
  if not ok then error(ids, 2) end
  return ids
end

--- The text of ids (a tensor or an array).
function Vocab:decode(ids)
  local out, n = {}, type(ids) == "table" and #ids or ids:numel()
  local flat = type(ids) == "table" and ids or ids:view{-1}
  for i = 1, n do
    local ch = self.chars[flat[i]]
    if not ch then error(string.format("decode: id %s at %d is not in 1..%d", tostring(flat[i]), i, #self.chars), 2) end
    out[i] = ch
  end
  return table.concat(out)
end

--- Splits a tensor along its first dimension: the first `fraction` and the rest (views).
function data.split(t, fraction)
  if type(fraction) ~= "number" or fraction <= 0 or fraction >= 1 then
    error("split: fraction: expected a number in (0, 1), got " .. tostring(fraction), 2)
  end
  local n = t:size(1)
  local first = math.floor(n * fraction)
  if first < 1 or first >= n then
    error(string.format("split: %d rows cannot be split at %g into two non-empty parts", n, fraction), 2)
  end
  return t:narrow(1, 1, first), t:narrow(1, first + 1, n - first)
end

local CharBatches = util.class("recur.data.CharBatches")

--- Batches of a token stream cut into `batch_size` contiguous streams, char-rnn style:
-- batch i+1 continues batch i in every row, so hidden state can be carried over.
-- x and y (the next tokens) are (B, T), or (T, B) with time_major.
-- Options: `data` (1-D tensor of ids), `batch_size`, `seq_len`, `time_major` (false).
function data.CharBatches(opts)
  local o = util.options("CharBatches", opts, {
    data = {"any", required = true},
    batch_size = {"integer", required = true, min = 1},
    seq_len = {"integer", required = true, min = 1},
    time_major = {"boolean", default = false},
  })
  local n = o.data:numel()
  local stream = util.idiv(n - 1, o.batch_size)
  local count = util.idiv(stream, o.seq_len)
  if count < 1 then
    error(string.format("CharBatches: %d tokens make no batch of %d x %d (need at least %d)", n, o.batch_size,
      o.seq_len, o.batch_size * o.seq_len + 1), 2)
  end
  local used = o.batch_size * stream
  o.inputs = o.data:view{-1}:narrow(1, 1, used):view{o.batch_size, stream}
  o.targets = o.data:view{-1}:narrow(1, 2, used):view{o.batch_size, stream}
  o.count, o.position = count, 0
  return setmetatable(o, CharBatches)
end

function CharBatches:num_batches() return self.count end

--- Batch i (1..num_batches): x, y.
function CharBatches:batch(i)
  if not util.is_integer(i) or i < 1 or i > self.count then
    error(string.format("batch: expected 1..%d, got %s", self.count, tostring(i)), 2)
  end
  local start = (i - 1) * self.seq_len + 1
  local x = self.inputs:narrow(2, start, self.seq_len)
  local y = self.targets:narrow(2, start, self.seq_len)
  if self.time_major then return x:transpose(1, 2), y:transpose(1, 2) end
  return x, y
end

--- Iterates the batches from the current position to the end: `for i, x, y in b:epoch()`.
-- The position moves on, so a saved `state()` resumes mid-epoch; the next epoch starts at 1.
function CharBatches:epoch()
  if self.position >= self.count then self.position = 0 end
  return function()
    if self.position >= self.count then return nil end
    self.position = self.position + 1
    return self.position, self:batch(self.position)
  end
end

function CharBatches:state() return {position = self.position} end
function CharBatches:load_state(s)
  self.position = s.position
  return self
end

--- Time series
-- @section series

--- Reads named columns of a CSV file with a header line.
-- @string path
-- @tparam table opts `numbers` (column names, read as 1-D tensors) and `strings` (read as arrays)
-- @treturn table name -> tensor or array
-- @treturn int the number of rows
function data.read_csv(path, opts)
  local o = util.options("read_csv", opts or {}, {numbers = {"table", default = {}}, strings = {"table", default = {}}})
  local ok, columns, rows = pcall(F.read_csv, data.read_file(path), o.numbers, o.strings)
  if not ok then error(path .. ": " .. tostring(columns), 2) end
  return columns, rows
end

-- days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil)
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = util.idiv(y >= 0 and y or y - 399, 400)
  local yoe = y - era * 400
  local doy = util.idiv(153 * (m + (m > 2 and -3 or 9)) + 2, 5) + d - 1
  local doe = yoe * 365 + util.idiv(yoe, 4) - util.idiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

--- Seconds since 1970-01-01 00:00 UTC of "YYYY-MM-DD", "YYYY/MM/DD", optionally followed
-- by " HH:MM" or "THH:MM:SS" (no time zone: the time is taken as UTC).
function data.parse_datetime(s)
  local y, mo, d, rest = tostring(s):match("^(%d%d%d%d)[-/](%d%d?)[-/](%d%d?)(.*)$")
  local h, mi, sec = 0, 0, 0
  if rest and rest ~= "" then
    h, mi, sec = rest:match("^[ T](%d%d?):(%d%d):?(%d*)$")
    sec = sec ~= "" and sec or 0
  end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if not (y and h and mo >= 1 and mo <= 12 and d >= 1 and d <= 31 and h < 24 and mi < 60 and sec < 61) then
    error(string.format("parse_datetime: %q is not a date like 2010-01-31 or 2010/01/31 13:00", tostring(s)), 2)
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
end

local Normalizer = util.class("recur.data.Normalizer")

--- Per-column mean and standard deviation of a (N) or (N, F) tensor (fit on the training
-- split only); `apply` and `invert` map values to and from zero mean, unit variance.
function data.Normalizer(t)
  local cols = t:dim() == 2 and t:size(2) or 1
  local self = setmetatable({mean = {}, std = {}}, Normalizer)
  for c = 1, cols do
    local col = t:dim() == 2 and t:select(2, c) or t
    local mean = col:mean()
    local centered = col:sub(mean)
    local std = math.sqrt(centered:mul(centered):mean())
    if not (std > 0) then std = 1 end -- luacheck: ignore 581 (a constant or NaN column stays centred)
    self.mean[c], self.std[c] = mean, std
  end
  return self
end

local function map_columns(t, fn)
  if t:dim() == 1 then return fn(t:clone(), 1) end
  local by_column = t:transpose(1, 2)
  for c = 1, by_column:size(1) do fn(by_column:select(1, c), c) end
  return by_column:transpose(1, 2)
end

function Normalizer:apply(t)
  return map_columns(t, function(col, c) return col:sub_(self.mean[c]):div_(self.std[c]) end)
end

function Normalizer:invert(t)
  return map_columns(t, function(col, c) return col:mul_(self.std[c]):add_(self.mean[c]) end)
end

local Windows = util.class("recur.data.Windows")

--- Sliding windows over a (N) or (N, F) series: each has `input_len` rows of input and
-- the next `horizon` rows of the `targets` columns as output, every `stride` rows.
-- Options: `series`, `input_len`, `horizon` (1), `stride` (1), `targets` ({1}).
function data.Windows(opts)
  local o = util.options("Windows", opts, {
    series = {"any", required = true},
    input_len = {"integer", required = true, min = 1},
    horizon = {"integer", default = 1, min = 1},
    stride = {"integer", default = 1, min = 1},
    targets = {"table", default = {1}},
  })
  local n = o.series:size(1)
  if o.input_len + o.horizon > n then
    error(string.format("Windows: input_len + horizon = %d rows do not fit in a series of %d rows",
      o.input_len + o.horizon, n), 2)
  end
  o.starts = {}
  for s = 1, n - o.input_len - o.horizon + 1, o.stride do o.starts[#o.starts + 1] = s end
  return setmetatable(o, Windows)
end

function Windows:count() return #self.starts end

--- The windows numbered by `which` (an array of 1..count): x (B, input_len, F) or, with
-- time_major, (input_len, B, F); y (B, horizon, #targets).
function Windows:batch(which, time_major)
  local starts = {}
  for i, w in ipairs(which) do
    starts[i] = self.starts[w] or error(string.format("batch: window %s is not in 1..%d", tostring(w), #self.starts), 2)
  end
  return F.gather_windows(self.series, starts, self.input_len, self.horizon, self.targets, time_major)
end

--- A random permutation of 1..n from a generator (Fisher-Yates).
function data.shuffle(n, gen)
  gen = gen or core.default_generator()
  local p = {}
  for i = 1, n do p[i] = i end
  for i = n, 2, -1 do
    local j = gen:random(i)
    p[i], p[j] = p[j], p[i]
  end
  return p
end

local WindowLoader = util.class("recur.data.WindowLoader")

--- Mini-batches of windows, shuffled each epoch with recur's generator.
-- Options: `windows`, `batch_size`, `shuffle` (true), `generator`, `time_major` (true),
-- `drop_last` (false).
function data.WindowLoader(opts)
  local o = util.options("WindowLoader", opts, {
    windows = {"any", required = true},
    batch_size = {"integer", required = true, min = 1},
    shuffle = {"boolean", default = true},
    generator = {"any"},
    time_major = {"boolean", default = true},
    drop_last = {"boolean", default = false},
  })
  return setmetatable(o, WindowLoader)
end

function WindowLoader:num_batches()
  local n = self.windows:count()
  return self.drop_last and util.idiv(n, self.batch_size) or math.ceil(n / self.batch_size)
end

--- Iterates one epoch: `for x, y in loader:epoch()`.
function WindowLoader:epoch()
  local n = self.windows:count()
  local order = self.shuffle and data.shuffle(n, self.generator) or nil
  local batch, total = 0, self:num_batches()
  return function()
    batch = batch + 1
    if batch > total then return nil end
    local which = {}
    for k = (batch - 1) * self.batch_size + 1, math.min(batch * self.batch_size, n) do
      which[#which + 1] = order and order[k] or k
    end
    return self.windows:batch(which, self.time_major)
  end
end

return data
