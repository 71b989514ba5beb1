-- Samples text from a model saved by train.lua, one character (or word, for a model trained
-- with --level word) per step with the stepper API (the state stays inside the stepper
-- between calls).
--
--   lua5.4 examples/charrnn/sample.lua --prime "ROMEO:" --length 400 --temperature 0.8 --top-k 10

local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath

local recur = require "recur"
local unpack = table.unpack or unpack -- Lua 5.1 and LuaJIT have it as a global
local cli = dofile(root .. "examples/common/cli.lua")

local opt = cli.parse_args(arg, {
  model = root .. "examples/charrnn/out/model.safetensors", prime = "\n", length = 500, temperature = 0.8,
  ["top-k"] = 0, seed = 1,
}, "usage: lua5.4 examples/charrnn/sample.lua [--model FILE] [--prime TEXT] [--length N] [--temperature T] " ..
  "[--top-k K] [--seed N]")
if opt.temperature <= 0 then error("--temperature must be positive", 0) end

local model, meta = recur.load_model(opt.model)
local tokens = recur.checkpoint.decode(meta.vocab)
local word_level = meta.vocab_kind == "word"
local vocab = word_level and recur.data.WordVocab{tokens = {unpack(tokens, 2)}, unknown = tokens[1]} or
  recur.data.Vocab(tokens)
local embed, rnn, decoder = unpack(model.children)
model:evaluate()
local cell = rnn:stepper(1)
local gen = recur.Generator(opt.seed)

-- probabilities of the next character: softmax(logits / T), restricted to the top k
local function distribution(logits)
  local v, order = logits:view{-1}, {}
  local n, best = v:numel(), -math.huge
  for i = 1, n do
    order[i] = i
    best = math.max(best, v[i])
  end
  table.sort(order, function(a, b) return v[a] > v[b] end)
  local k = opt["top-k"] > 0 and math.min(opt["top-k"], n) or n
  local p, total = {}, 0
  for r = 1, k do
    local i = order[r]
    p[i] = math.exp((v[i] - best) / opt.temperature)
    total = total + p[i]
  end
  return p, total
end

local function draw(p, total)
  local u, acc, last = gen:uniform() * total, 0, nil
  for i, w in pairs(p) do
    acc, last = acc + w, i
    if acc >= u then return i end
  end
  return last
end

local function step(id) return decoder:forward(cell:step(embed:forward({id}))) end

-- the prime's characters (or words: unknown ones stand as the unknown token)
local logits
local primed = word_level and recur.data.tokenize(opt.prime) or recur.data.utf8_chars(opt.prime)
for _, token in ipairs(primed) do
  local id = vocab.index[token] or (word_level and 1) or
    error(string.format("--prime: %q is not in the model's vocabulary", token), 0)
  logits = step(id)
end
if not logits then error("--prime: expected at least one " .. (word_level and "word" or "character"), 0) end
local ids = {}
for i = 1, opt.length do
  ids[i] = draw(distribution(logits))
  logits = step(ids[i])
end
io.write(opt.prime, word_level and " " or "", vocab:decode(ids), "\n")
