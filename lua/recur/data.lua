--- Data pipelines: character- and word-level text, and time series from CSV files.
-- Loops are Lua; copies of whole buffers (batches, windows, CSV parsing, encoding) are C.
-- Large text files are streamed: their ids are kept in a `recur.IdBuffer` of one, two or
-- four bytes per token (the smallest type that holds the vocabulary).
-- @module recur.data
local core = require "recur.core"
local util = require "recur.util"

local F = core.F
local data = {}

-- argument checks: errors are raised with util.error, at the user's line however deep the check
local function shown(v)
  if type(v) == "number" then return tostring(v) end
  if util.is_tensor(v) then return string.format("a %d-D recur.Tensor", v:dim()) end
  if type(v) == "string" then return string.format("%q", v) end
  return util.describe(v)
end

local function bad_argument(fn, name, expected, value)
  return string.format("%s: %s: expected %s, got %s", fn, name, expected, shown(value))
end

local function check_string(fn, name, v)
  if type(v) ~= "string" then util.error(bad_argument(fn, name, "a string", v)) end
end

local function is_a(v, name)
  local mt = getmetatable(v)
  return type(v) == "userdata" and type(mt) == "table" and mt.__name == name
end

local function check_ids(fn, name, v)
  if not (is_a(v, "recur.Tensor") or is_a(v, "recur.IdBuffer")) then
    util.error(bad_argument(fn, name, "a recur.Tensor or a recur.IdBuffer of ids", v))
  end
end

local function pack(...) return {n = select("#", ...), ...} end

-- calls a C function; its error is raised at the user's line, with a prefix
local function call(prefix, f, ...)
  local result = pack(pcall(f, ...))
  if not result[1] then util.error(prefix .. tostring(result[2]):gsub("^bad argument #%d+ to '[^']*' ", "")) end
  return util.unpack(result, 2, result.n)
end

-- the whole file as a string, or an error "fn: cannot open/read ..." at the user's line
local function read_whole(fn, path)
  check_string(fn, "path", path)
  local f, err = io.open(path, "rb")
  if not f then util.error(fn .. ": cannot open " .. err) end
  local text, read_err = f:read("*a")
  f:close()
  if not text then util.error(string.format("%s: cannot read %s: %s", fn, path, tostring(read_err))) end
  return text
end

--- The whole file as a string, or a clear error (missing, unreadable, a directory).
-- @string path
function data.read_file(path) return read_whole("read_file", path) end

-- opens a file for reading, or raises "fn: cannot open ..." at the user's line
local function open(fn, path)
  check_string(fn, "path", path)
  local f, err = io.open(path, "rb")
  if not f then util.error(fn .. ": cannot open " .. err) end
  return f
end

--- Text
-- @section text

local UTF8_CHAR = "[%z\1-\127\194-\244][\128-\191]*"

--- The UTF-8 characters of text, as an array of strings (invalid UTF-8 is an error).
function data.utf8_chars(text)
  check_string("utf8_chars", "text", text)
  call("utf8_chars: ", F.utf8_scan, text) -- validates
  local out = {}
  for ch in text:gmatch(UTF8_CHAR) do out[#out + 1] = ch end
  return out
end

-- the token of each id (a tensor, an IdBuffer or an array, checked by the caller), or an
-- error naming the first id outside 1..#tokens
local function tokens_of(tokens, ids)
  local flat, n = ids, type(ids) == "table" and #ids or ids:numel()
  if is_a(ids, "recur.Tensor") then flat = ids:view{-1} end
  local out = {}
  for i = 1, n do
    local token = tokens[flat[i]]
    if not token then util.error(string.format("decode: id %s at %d is not in 1..%d", tostring(flat[i]), i, #tokens)) end
    out[i] = token
  end
  return out
end

local Vocab = util.class("recur.data.Vocab")
Vocab.kind = "char"

--- A character vocabulary: ids 1..size in the order of `chars`.
-- Fields: `chars` (id -> character; also as `tokens`), `index` (character -> id).
-- @tparam {string,...} chars distinct characters
function data.Vocab(chars)
  if type(chars) ~= "table" then util.error(bad_argument("Vocab", "chars", "an array of characters", chars)) end
  local self = setmetatable({chars = {}, index = {}}, Vocab)
  for i = 1, util.array("Vocab", "chars", chars, function() return true end, "a character") do
    local ch = rawget(chars, i)
    if type(ch) ~= "string" or select(3, pcall(F.utf8_scan, ch)) ~= 1 then
      util.error(string.format("Vocab: chars[%d]: expected one UTF-8 character, got %s", i, shown(ch)))
    end
    if self.index[ch] then util.error("Vocab: duplicate character " .. string.format("%q", ch)) end
    self.chars[i], self.index[ch] = ch, i
  end
  if #self.chars == 0 then util.error("Vocab: no characters") end
  self.tokens = self.chars
  return self
end

--- The vocabulary of a text: its distinct UTF-8 characters, sorted by code point.
function data.vocab_of(text)
  check_string("vocab_of", "text", text)
  local chars = call("vocab_of: ", F.utf8_scan, text)
  if #chars == 0 then util.error("vocab_of: the text is empty") end
  return data.Vocab(chars)
end

--- The vocabulary of a file's UTF-8 characters, read in chunks (bounded memory).
-- @treturn Vocab
-- @treturn int the number of characters in the file
function data.vocab_of_file(path)
  local f = open("vocab_of_file", path)
  local ok, chars, count = pcall(F.utf8_scan, f)
  f:close()
  if not ok then util.error("vocab_of_file: " .. path .. ": " .. tostring(chars)) end
  if count == 0 then util.error("vocab_of_file: " .. path .. " is empty") end
  return data.Vocab(chars), count
end

--- The number of characters.
-- @treturn int
function Vocab:size() return #self.chars end

--- The ids of text's characters, as a 1-D tensor.
function Vocab:encode(text)
  check_string("encode", "text", text)
  return call("encode: ", F.utf8_encode, text, self.chars)
end

--- The ids of a file's characters, streamed into a `recur.IdBuffer` (1 byte per character
-- for up to 255 characters, 2 up to 65535): two passes over the file, bounded memory.
function Vocab:encode_file(path)
  local f = open("encode_file", path)
  local ok, result, count = pcall(F.utf8_scan, f)
  if ok then
    f:seek("set", 0)
    ok, result = pcall(F.utf8_encode, f, self.chars, count)
  end
  f:close()
  if not ok then util.error("encode_file: " .. path .. ": " .. tostring(result)) end
  return result
end

--- The text of ids (a tensor, an IdBuffer or an array).
function Vocab:decode(ids)
  if type(ids) ~= "table" then check_ids("decode", "ids", ids) end
  return table.concat(tokens_of(self.chars, ids))
end

--- Words
-- @section words

--- The tokens of a text: words (runs of letters, digits, `_` and non-ASCII characters, with
-- inner apostrophes as in "don't"), every other printable character alone (punctuation),
-- and, with `newlines` (true), a "\n" token per line break; other whitespace separates.
-- @string text
-- @tparam[opt] table opts `newlines` (true), `lower` (false: lowercase ASCII letters)
function data.tokenize(text, opts)
  check_string("tokenize", "text", text)
  local o = util.options("tokenize", opts or {}, {newlines = {"boolean", default = true},
    lower = {"boolean", default = false}})
  return F.tokenize(text, o.newlines, o.lower)
end

-- the tokens of a file, chunk by chunk (a chunk ends at whitespace so no word is cut):
-- calls visit(token) for each
local function each_file_token(f, tokenize_opts, visit)
  local carry = ""
  while true do
    local chunk = f:read(1048576)
    local text = carry .. (chunk or "")
    if chunk then
      local cut = text:find("%s[^%s]*$")
      carry = cut and text:sub(cut + 1) or text
      text = cut and text:sub(1, cut) or ""
    end
    for _, token in ipairs(data.tokenize(text, tokenize_opts)) do visit(token) end
    if not chunk then return end
  end
end

local WordVocab = util.class("recur.data.WordVocab")
WordVocab.kind = "word"

local WORD_OPTIONS = {
  text = {"string"}, path = {"string"}, tokens = {"table"},
  min_count = {"integer", default = 1, min = 1}, max_size = {"integer", min = 2},
  unknown = {"string", default = "<unk>"}, newlines = {"boolean", default = true},
  lower = {"boolean", default = false},
}

--- A word-level vocabulary (see `tokenize`), from a `text`, a file (`path`, streamed) or a
-- list of `tokens` (kept in that order). Id 1 is the `unknown` token ("<unk>"), which stands
-- for every token seen fewer than `min_count` (1) times or beyond `max_size` tokens; the
-- others follow by decreasing count (ties alphabetically). Options `newlines` (true) and
-- `lower` (false) are `tokenize`'s. Fields: `tokens` (id -> token), `index`, `counts`.
function data.WordVocab(opts)
  local o = util.options("WordVocab", opts, WORD_OPTIONS)
  local sources = (o.text and 1 or 0) + (o.path and 1 or 0) + (o.tokens and 1 or 0)
  if sources ~= 1 then util.error("WordVocab: give exactly one of text, path and tokens") end
  local self = setmetatable({tokens = {o.unknown}, index = {[o.unknown] = 1}, counts = {},
    unknown = o.unknown, tokenize_options = {newlines = o.newlines, lower = o.lower}}, WordVocab)
  if o.tokens then
    local is_string = function(token) return type(token) == "string" end
    for i = 1, util.array("WordVocab", "tokens", o.tokens, is_string, "a string") do
      local token = rawget(o.tokens, i)
      if self.index[token] then util.error(string.format("WordVocab: duplicate token %q", token)) end
      local id = #self.tokens + 1
      self.tokens[id], self.index[token] = token, id
    end
    return self
  end
  local counts = self.counts
  local function count(token) counts[token] = (counts[token] or 0) + 1 end
  if o.text then
    for _, token in ipairs(data.tokenize(o.text, self.tokenize_options)) do count(token) end
  else
    local f = open("WordVocab", o.path)
    each_file_token(f, self.tokenize_options, count)
    f:close()
  end
  local kept = {}
  for token, c in pairs(counts) do
    if c >= o.min_count and token ~= o.unknown then kept[#kept + 1] = token end
  end
  table.sort(kept, function(a, b) return counts[a] > counts[b] or (counts[a] == counts[b] and a < b) end)
  for _, token in ipairs(kept) do
    local id = #self.tokens + 1
    if o.max_size and id > o.max_size then break end
    self.tokens[id], self.index[token] = token, id
  end
  return self
end

--- The number of tokens (the unknown token included).
-- @treturn int
function WordVocab:size() return #self.tokens end

--- The ids of text's tokens (unknown ones as id 1), as a 1-D tensor.
function WordVocab:encode(text)
  check_string("encode", "text", text)
  local ids = {}
  for i, token in ipairs(data.tokenize(text, self.tokenize_options)) do ids[i] = self.index[token] or 1 end
  if #ids == 0 then util.error("encode: the text has no tokens") end
  return core.tensor(ids)
end

--- The ids of a file's tokens, streamed into a `recur.IdBuffer` (two passes).
function WordVocab:encode_file(path)
  local f = open("encode_file", path)
  local n = 0
  each_file_token(f, self.tokenize_options, function() n = n + 1 end)
  local ids = F.ids_new(n, #self.tokens)
  f:seek("set", 0)
  local i = 0
  each_file_token(f, self.tokenize_options, function(token)
    i = i + 1
    ids[i] = self.index[token] or 1
  end)
  f:close()
  return ids
end

local CLOSES = {["."] = true, [","] = true, [";"] = true, [":"] = true, ["!"] = true, ["?"] = true, [")"] = true,
  ["]"] = true, ["}"] = true, ["\n"] = true}
local OPENS = {["("] = true, ["["] = true, ["{"] = true, ["\n"] = true}

--- The text of ids: tokens joined by spaces, none before closing punctuation and line
-- breaks nor after opening brackets and line breaks (tokenizing loses the original spacing).
function WordVocab:decode(ids)
  if type(ids) ~= "table" then check_ids("decode", "ids", ids) end
  local tokens, out = tokens_of(self.tokens, ids), {}
  for i, token in ipairs(tokens) do
    if i > 1 and not CLOSES[token] and not OPENS[tokens[i - 1]] then out[#out + 1] = " " end
    out[#out + 1] = token
  end
  return table.concat(out)
end

--- Splits a tensor or IdBuffer along its first dimension: the first `fraction` and the rest (views).
function data.split(t, fraction)
  check_ids("split", "t", t)
  if type(fraction) ~= "number" or not (fraction > 0 and fraction < 1) then
    util.error("split: fraction: expected a number in (0, 1), got " .. shown(fraction))
  end
  local n = t:size(1)
  local first = math.floor(n * fraction)
  if first < 1 or first >= n then
    util.error(string.format("split: %d rows cannot be split at %g into two non-empty parts", n, fraction))
  end
  return t:narrow(1, 1, first), t:narrow(1, first + 1, n - first)
end

local CharBatches = util.class("recur.data.CharBatches")

--- Batches of a token stream cut into contiguous streams, char-rnn style: batch i+1
-- continues batch i in every row, so hidden state can be carried over. x and y (the next
-- tokens) are (B, T), or (T, B) with time_major.
-- Options: `data` (ids: a 1-D tensor or a `recur.IdBuffer`), `batch_size`, `seq_len`,
-- `time_major` (false), and for data-parallel training `rank` (0-based, 0) and `world`
-- (the number of ranks, 1): the stream is cut into batch_size x world rows, and rank r
-- gets rows r*batch_size+1 .. (r+1)*batch_size, so that the ranks together see, step by
-- step, the batches of one process with batch_size x world.
function data.CharBatches(opts)
  local o = util.options("CharBatches", opts, {
    data = {"any", required = true},
    batch_size = {"integer", required = true, min = 1},
    seq_len = {"integer", required = true, min = 1},
    time_major = {"boolean", default = false},
    rank = {"integer", default = 0, min = 0},
    world = {"integer", default = 1, min = 1},
  })
  if not (is_a(o.data, "recur.Tensor") or is_a(o.data, "recur.IdBuffer")) then
    util.error("CharBatches: option data: expected a recur.Tensor or a recur.IdBuffer of ids, got " .. shown(o.data))
  end
  if o.rank >= o.world then
    util.error(string.format("CharBatches: option rank: expected 0..%d (world = %d), got %d", o.world - 1, o.world, o.rank))
  end
  o.ids = is_a(o.data, "recur.IdBuffer") and o.data or call("CharBatches: data: ", F.ids_from, o.data)
  local n, rows = o.ids:numel(), o.batch_size * o.world
  o.stream = util.idiv(n - 1, rows)
  o.count = util.idiv(o.stream, o.seq_len)
  if o.count < 1 then
    util.error(string.format("CharBatches: %d tokens make no batch of %d x %d (need at least %d)", n, rows,
      o.seq_len, rows * o.seq_len + 1))
  end
  o.position = 0
  return setmetatable(o, CharBatches)
end

--- The number of batches in an epoch.
-- @treturn int
function CharBatches:num_batches() return self.count end

--- Batch i (1..num_batches): x, y (new float tensors).
function CharBatches:batch(i)
  if not util.is_integer(i) or i < 1 or i > self.count then
    util.error(string.format("batch: expected 1..%d, got %s", self.count, shown(i)))
  end
  return F.ids_batch(self.ids, self.rank * self.batch_size, self.batch_size, self.stream, (i - 1) * self.seq_len,
    self.seq_len, self.time_major)
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

--- The position in the epoch, for checkpoints: `{position = ...}`.
-- @treturn table
function CharBatches:state() return {position = self.position} end
--- Restores a position from @{CharBatches:state}.
-- @tab s
function CharBatches:load_state(s)
  if type(s) ~= "table" or not util.is_integer(s.position) or s.position < 0 or s.position > self.count then
    util.error(string.format("load_state: expected {position = 0..%d}, got %s", self.count, shown(s)))
  end
  self.position = s.position
  return self
end

--- Time series
-- @section series

--- Reads named columns of a CSV file with a header line.
-- @string path
-- @tparam table opts `numbers` (column names, read as 1-D tensors), `strings` (read as
-- arrays of strings), `separator` (one character; sniffed among `,` `;` and tab from the
-- header when absent), `missing` ("error", the default; "skip" drops the row; "nan"; or a
-- number to put instead) for empty cells and NA, N/A, NaN, null, None, and `where`
-- (`{column = value}`: only the rows whose cells equal every value, a string or a number)
-- @treturn table name -> tensor or array
-- @treturn int the number of rows read
function data.read_csv(path, opts)
  check_string("read_csv", "path", path)
  local o = util.options("read_csv", opts or {}, {numbers = {"table", default = {}}, strings = {"table", default = {}},
    separator = {"string"}, missing = {"any", default = "error"}, where = {"table"}})
  if o.separator and #o.separator ~= 1 then util.error(bad_argument("read_csv", "separator", "one character", o.separator)) end
  local m = o.missing
  if type(m) ~= "number" and m ~= "error" and m ~= "skip" and m ~= "nan" then
    util.error(bad_argument("read_csv", "missing", '"error", "skip", "nan" or a number', m))
  end
  local ok, columns, rows = pcall(F.read_csv, read_whole("read_csv", path), o.numbers, o.strings,
    {separator = o.separator, missing = m, where = o.where})
  if not ok then util.error("read_csv: " .. path .. ": " .. tostring(columns)) end
  return columns, rows
end

--- Seconds since 1970-01-01 00:00 UTC of a date and time.
-- Without `format`: ISO 8601 ("2010-01-31", "2010-01-31T13:00:05.25Z", "+01:00" offsets),
-- "2010/01/31 13:00[:05]", "2010.01.31", "Jan 31 2010", "January 31, 2010", "31 Jan 2010",
-- "31-Jan-2010", RFC 2822 ("Sun, 31 Jan 2010 13:00:05 +0000"), each with an optional time
-- (and AM/PM) and zone; a time without a zone is taken as UTC. Numeric day/month orders
-- such as "1/2/2000" are ambiguous and need a format.
-- @string s
-- @string[opt] format strptime-style: `%Y %y %m %d %e %j %H %I %M %S %f %p %b %B %a %z %T %F %%`
-- (%S takes a fraction such as ".25"; a space matches any run of whitespace)
function data.parse_datetime(s, format)
  check_string("parse_datetime", "s", s)
  if format ~= nil then check_string("parse_datetime", "format", format) end
  local seconds, at, expected = F.parse_datetime(s, format)
  if seconds then return seconds end
  local where = string.format("at character %d, expected %s", at, expected)
  if format then
    util.error(string.format("parse_datetime: %q does not match the format %q (%s)", s, format, where))
  end
  local hint = s:find("^%s*%d%d?[/.-]%d%d?[/.-]%d+") and
    "; day and month are ambiguous here: give a format such as \"%m/%d/%Y\" or \"%d/%m/%Y\"" or
    "; give a format for other forms, e.g. parse_datetime(s, \"%d/%m/%Y %H:%M\")"
  util.error(string.format("parse_datetime: %q is not a date in any of the forms tried (%s): %s%s", s, where,
    F.datetime_forms(), hint))
end

local Normalizer = util.class("recur.data.Normalizer")

local function check_series(fn, name, t)
  if not is_a(t, "recur.Tensor") or t:dim() > 2 then util.error(bad_argument(fn, name, "a 1-D or 2-D recur.Tensor", t)) end
end

--- Per-column mean and standard deviation of a (N) or (N, F) tensor (fit on the training
-- split only); `apply` and `invert` map values to and from zero mean, unit variance.
function data.Normalizer(t)
  check_series("Normalizer", "t", t)
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

local function map_columns(self, fn_name, t, fn)
  check_series(fn_name, "t", t)
  local cols = t:dim() == 2 and t:size(2) or 1
  if cols ~= #self.mean then
    util.error(string.format("%s: t has %d columns, the normalizer %d", fn_name, cols, #self.mean))
  end
  if t:dim() == 1 then return fn(t:clone(), 1) end
  local by_column = t:transpose(1, 2)
  for c = 1, by_column:size(1) do fn(by_column:select(1, c), c) end
  return by_column:transpose(1, 2)
end

--- `(t - mean) / std` per column, in a new tensor.
-- @tparam Tensor t `(N)` or `(N, columns)`
-- @treturn Tensor
function Normalizer:apply(t)
  local out = map_columns(self, "apply", t, function(col, c) return col:sub_(self.mean[c]):div_(self.std[c]) end)
  return out -- not a tail call: map_columns' errors point at our caller
end

--- `t * std + mean` per column, in a new tensor: the inverse of @{Normalizer:apply}.
-- @tparam Tensor t `(N)` or `(N, columns)`
-- @treturn Tensor
function Normalizer:invert(t)
  local out = map_columns(self, "invert", t, function(col, c) return col:mul_(self.std[c]):add_(self.mean[c]) end)
  return out
end

-- "2010-03-14 02:00:00" for messages
local function utc(seconds)
  local ok, s = pcall(os.date, "!%Y-%m-%d %H:%M:%S", math.floor(seconds))
  return ok and s or tostring(seconds)
end

-- the most common difference between consecutive timestamps (the smallest on ties)
local function usual_step(timestamps)
  local counts, best = {}, nil
  for i = 2, #timestamps do
    local d = timestamps[i] - timestamps[i - 1]
    counts[d] = (counts[d] or 0) + 1
    if not best or counts[d] > counts[best] or (counts[d] == counts[best] and d < best) then best = d end
  end
  return best
end

-- [first, last] row ranges over which timestamps advance by exactly `step`
local function regular_segments(o, n)
  if not o.timestamps then return {{1, n}} end
  local ts = o.timestamps
  if #ts ~= n then
    util.error(string.format("Windows: option timestamps: expected %d timestamps (one per row), got %d", n, #ts))
  end
  for i = 1, n do
    if type(ts[i]) ~= "number" or ts[i] ~= ts[i] then
      util.error(string.format("Windows: timestamps[%d]: expected a number of seconds, got %s", i, shown(ts[i])))
    end
  end
  local step = o.step or usual_step(ts)
  if not step or step <= 0 then util.error("Windows: the timestamps do not increase (option step: give the spacing)") end
  local segments, first = {}, 1
  for i = 2, n do
    local d = ts[i] - ts[i - 1]
    if math.abs(d - step) > 1e-6 * step then
      if o.gaps == "error" then
        util.error(string.format("Windows: rows %d and %d are %s s apart, not the %s s step (%s -> %s): a gap, a repeated " ..
          "or an out-of-order time (option gaps = \"split\" keeps windows within the regular stretches)", i - 1, i,
          tostring(d), tostring(step), utc(ts[i - 1]), utc(ts[i])))
      end
      segments[#segments + 1] = {first, i - 1}
      first = i
    end
  end
  segments[#segments + 1] = {first, n}
  return segments, step
end

local Windows = util.class("recur.data.Windows")

--- Sliding windows over a (N) or (N, F) series: each has `input_len` rows of input and
-- the next `horizon` rows of the `targets` columns as output, every `stride` rows.
-- Options: `series`, `input_len`, `horizon` (1), `stride` (1), `targets` ({1}), and to check
-- that rows are evenly spaced: `timestamps` (an array of N times in seconds, e.g. from
-- `parse_datetime`), `step` (the expected spacing; by default the most common one) and
-- `gaps`: "error" (default: a gap, a repeated or an out-of-order time is an error naming
-- the rows) or "split" (windows lie within the evenly spaced stretches only).
function data.Windows(opts)
  local o = util.options("Windows", opts, {
    series = {"any", required = true},
    input_len = {"integer", required = true, min = 1},
    horizon = {"integer", default = 1, min = 1},
    stride = {"integer", default = 1, min = 1},
    targets = {"table", default = {1}},
    timestamps = {"table"},
    step = {"number", below = math.huge, min = 0},
    gaps = {"string", default = "error", one_of = {"error", "split"}},
  })
  if not is_a(o.series, "recur.Tensor") or o.series:dim() > 2 then
    util.error("Windows: option series: expected a 1-D or 2-D recur.Tensor, got " .. shown(o.series))
  end
  local n, F_ = o.series:size(1), o.series:dim() == 2 and o.series:size(2) or 1
  local column = function(c) return util.is_integer(c) and c >= 1 and c <= F_ end
  if util.array("Windows", "targets", o.targets, column, "a column 1.." .. F_) == 0 then
    util.error("Windows: option targets: expected at least one column")
  end
  local span = o.input_len + o.horizon
  if span > n then
    util.error("Windows: input_len + horizon = %.0f rows do not fit in a series of %d rows", span, n)
  end
  local segments
  segments, o.step = regular_segments(o, n)
  o.starts, o.segments = {}, #segments
  for _, seg in ipairs(segments) do
    for s = seg[1], seg[2] - span + 1, o.stride do o.starts[#o.starts + 1] = s end
  end
  if #o.starts == 0 then
    util.error(string.format("Windows: no evenly spaced stretch holds input_len + horizon = %d rows (%d stretches)", span,
      #segments))
  end
  return setmetatable(o, Windows)
end

--- The number of windows.
-- @treturn int
function Windows:count() return #self.starts end

--- The windows numbered by `which` (an array of 1..count): x (B, input_len, F) or, with
-- time_major, (input_len, B, F); y (B, horizon, #targets).
function Windows:batch(which, time_major)
  local n = type(which) == "table" and util.array("batch", "which", which, function() return true end, "") or 0
  if n == 0 then util.error(bad_argument("batch", "which", "a non-empty array of window numbers", which)) end
  local starts = {}
  for i = 1, n do
    local w = rawget(which, i)
    starts[i] = self.starts[w] or util.error(string.format("batch: window %s is not in 1..%d", shown(w), #self.starts))
  end
  return F.gather_windows(self.series, starts, self.input_len, self.horizon, self.targets, time_major)
end

--- A random permutation of 1..n from a generator (Fisher-Yates).
function data.shuffle(n, gen)
  if not util.is_integer(n) or n < 0 then util.error(bad_argument("shuffle", "n", "a non-negative integer", n)) end
  if gen ~= nil and not is_a(gen, "recur.Generator") then util.error(bad_argument("shuffle", "gen", "a recur.Generator", gen)) end
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
-- Options: `windows`, `batch_size`, `shuffle` (true), `generator` (the default generator),
-- `time_major` (true), `drop_last` (false), and for data-parallel training `rank` (0-based,
-- 0) and `world` (1): every rank draws the same order (give each the same generator seed)
-- and takes its batch_size windows of each global batch of batch_size x world, so that the
-- ranks together see the batches of one process with batch_size x world. With world > 1
-- every rank must get windows in every batch (else drop_last = true is needed).
function data.WindowLoader(opts)
  local o = util.options("WindowLoader", opts, {
    windows = {"any", required = true},
    batch_size = {"integer", required = true, min = 1},
    shuffle = {"boolean", default = true},
    generator = {"any"},
    time_major = {"boolean", default = true},
    drop_last = {"boolean", default = false},
    rank = {"integer", default = 0, min = 0},
    world = {"integer", default = 1, min = 1},
  })
  if getmetatable(o.windows) ~= Windows then
    util.error("WindowLoader: option windows: expected a recur.data.Windows, got " .. shown(o.windows))
  end
  if o.generator ~= nil and not is_a(o.generator, "recur.Generator") then
    util.error("WindowLoader: option generator: expected a recur.Generator, got " .. shown(o.generator))
  end
  if o.rank >= o.world then
    util.error(string.format("WindowLoader: option rank: expected 0..%d (world = %d), got %d", o.world - 1, o.world, o.rank))
  end
  local self = setmetatable(o, WindowLoader)
  self.global, self.position = o.batch_size * o.world, 0
  local n, total = o.windows:count(), self:num_batches()
  if total == 0 then
    util.error(string.format("WindowLoader: %d windows make no batch of %d (drop_last)", n, self.global))
  end
  local last = n - (total - 1) * self.global -- windows in the last global batch
  if o.world > 1 and last <= (o.world - 1) * o.batch_size then
    util.error(string.format("WindowLoader: the last batch holds %d windows, too few for %d ranks of %d (set drop_last = " ..
      "true, or a batch size that divides the %d windows)", last, o.world, o.batch_size, n))
  end
  return self
end

--- The number of batches in an epoch (this rank's share; see `drop_last`).
-- @treturn int
function WindowLoader:num_batches()
  local n = self.windows:count()
  return self.drop_last and util.idiv(n, self.global) or math.ceil(n / self.global)
end

function WindowLoader:_generator() return self.generator or core.default_generator() end

-- the window order of the current epoch: drawn at its start, or redrawn from the state saved
-- then (after load_state) without touching the live generator
function WindowLoader:_order()
  if not self.shuffle then return nil end
  if not self.order then
    local gen = self:_generator()
    if self.position == 0 then
      self.epoch_state = gen:get_state()
    else
      gen = core.Generator(0):set_state(self.epoch_state)
    end
    self.order = data.shuffle(self.windows:count(), gen)
  end
  return self.order
end

--- Iterates one epoch from the current position: `for x, y in loader:epoch()`. The
-- position moves on, so a saved `state()` resumes mid-epoch with the same order.
function WindowLoader:epoch()
  local n, total = self.windows:count(), self:num_batches()
  if self.position >= total then self.position, self.order = 0, nil end
  local order = self:_order()
  return function()
    if self.position >= total then
      self.order = nil
      return nil
    end
    local first = self.position * self.global + self.rank * self.batch_size
    self.position = self.position + 1
    local which = {}
    for k = first + 1, math.min(first + self.batch_size, n) do which[#which + 1] = order and order[k] or k end
    return self.windows:batch(which, self.time_major)
  end
end

--- The position in the epoch and what redraws its order (JSON values, for checkpoints).
function WindowLoader:state()
  return {position = self.position, epoch_state = self.epoch_state,
    generator = self.generator and self.generator:get_state() or nil}
end

--- Restores a position from @{WindowLoader:state}.
-- @tab s
function WindowLoader:load_state(s)
  if type(s) ~= "table" or not util.is_integer(s.position) or s.position < 0 or s.position > self:num_batches() or
    (s.position > 0 and self.shuffle and type(s.epoch_state) ~= "string") then
    util.error("load_state: expected a table from WindowLoader:state(), got " .. shown(s))
  end
  self.position, self.epoch_state, self.order = s.position, s.epoch_state, nil
  if self.generator and s.generator then self.generator:set_state(s.generator) end
  return self
end

return data
