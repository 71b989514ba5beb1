-- Samples text from a model saved by train.lua, one character per step with the
-- stepper API (the state stays inside the stepper between calls).
--
--   lua5.4 examples/charrnn/sample.lua --prime "ROMEO:" --length 400 --temperature 0.8 --top-k 10

local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath

local recur = require "recur"

local opt = require("recur.util").parse_args(arg, {
  model = root .. "examples/charrnn/out/model.safetensors", prime = "\n", length = 500, temperature = 0.8,
  ["top-k"] = 0, seed = 1,
}, "usage: lua5.4 examples/charrnn/sample.lua [--model FILE] [--prime TEXT] [--length N] [--temperature T] " ..
  "[--top-k K] [--seed N]")
if opt.temperature <= 0 then error("--temperature must be positive", 0) end

local model, meta = recur.load_model(opt.model)
local vocab = recur.data.Vocab(recur.checkpoint.decode(meta.vocab))
local embed, rnn, decoder = (table.unpack or unpack)(model.children)
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

local out, logits = {opt.prime}, nil
for _, ch in ipairs(recur.data.utf8_chars(opt.prime)) do
  local id = vocab.index[ch] or error(string.format("--prime: %q is not in the model's vocabulary", ch), 0)
  logits = step(id)
end
for _ = 1, opt.length do
  local id = draw(distribution(logits))
  out[#out + 1] = vocab.chars[id]
  logits = step(id)
end
io.write(table.concat(out), "\n")
