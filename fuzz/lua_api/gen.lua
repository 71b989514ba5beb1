--- The call generator of the Lua-API fuzzer. Each call is one line of Lua source over a
-- pool of values V[1..POOL] (results of earlier calls), recur as R and the hostile
-- values as H. Lines are generated one at a time after the previous one ran, so the
-- generator looks at the pool to aim method calls at objects that have them and to
-- give them inputs of the right shape most of the time. Everything is drawn from one
-- seeded generator: a seed gives the same lines on every run.
local Gen = {}
Gen.__index = Gen

local POOL = 24

--- A new generator for `seed` over the pool V, with recur as R (and R's hostile helpers H).
-- skip: names never called, as "data.shuffle" (a function under recur) or
-- "recur.Sequential:add" (a method of a kind).
function Gen.new(seed, V, R, H, skip)
  local s = seed ~ 0x2545F4914F6CDD1D
  if s == 0 then s = 1 end
  local self = setmetatable({V = V, R = R, H = H, skip = skip or {}, outputs = setmetatable({}, {__mode = "k"}),
    stepper_input = setmetatable({}, {__mode = "k"})}, Gen)
  function self.next64() -- xorshift64
    s = s ~ (s << 13)
    s = s ~ (s >> 7)
    s = s ~ (s << 17)
    return s
  end
  return self
end

--- an integer in 1..n
function Gen:r(n) return (self.next64() >> 1) % n + 1 end
--- true with probability p
function Gen:chance(p) return self:r(1000000) <= p * 1000000 end
--- one element of an array
function Gen:one(list) return list[self:r(#list)] end

-- ---- literals ------------------------------------------------------------------------------

local function quote(s)
  return '"' .. s:gsub('[^%w %-%._,:;/!?()=+*#]', function(c) return string.format("\\%03d", c:byte()) end) .. '"'
end

--- The Lua source of a number, string, boolean or nil.
local function lit(v)
  if v == nil then return "nil" end
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "boolean" then return tostring(v) end
  if v ~= v then return "(0/0)" end
  if v == math.huge then return "math.huge" end
  if v == -math.huge then return "(-math.huge)" end
  if math.type(v) == "integer" then
    if v == math.mininteger then return "math.mininteger" end
    return v < 0 and "(" .. v .. ")" or tostring(v)
  end
  if v == 0 and 1 / v < 0 then return "(-0.0)" end
  return "(" .. string.format("%.17g", v) .. ")"
end
Gen.lit = lit

local function list(items) return "{" .. table.concat(items, ", ") .. "}" end

-- ---- values --------------------------------------------------------------------------------

local EDGE_INTS = {-1, -2, 2147483647, 2147483648, 4294967296, 2 ^ 53, 1 << 53, 1 << 62, math.maxinteger,
  math.mininteger, 2 ^ 63, -2 ^ 63, 1e300, 1 << 40, (1 << 40) + 1}
local EDGE_NUMS = {0 / 0, math.huge, -math.huge, 1e308, -1e308, 5e-324, -0.0, 0.5, -0.5, 1e-7, 100, 1e30}
local STRINGS = {"", "a", "abc", "\255\254", "\192\128", "\237\160\128", "\195\169t\195\169", "x\0y",
  "mean", "sum", "none", "tanh", "relu", "2010-01-31", "2010/1/2 13:45", "1e400", "nan", "-1", "1",
  "f1.safetensors", "t.txt", "d.csv", "recur.Tensor", string.rep("z", 300), "\n", "a.b", "{}", "[1]"}

-- an integer in lo..hi with probability p_small (percent), an edge integer up to p_edge,
-- else a value of an unexpected type
function Gen:integer(lo, hi, p_small, p_edge)
  local k = self:r(100)
  if k <= p_small then return lit(lo + self:r(hi - lo + 1) - 1) end
  if k <= p_edge then return lit(self:one(EDGE_INTS)) end
  return self:hostile_scalar()
end

--- a size: mostly small, sometimes an edge or a wrong type
function Gen:size() return self:integer(0, 4, 80, 93) end

--- an integer argument (counts, seeds, ids)
function Gen:int() return self:integer(-1, 5, 75, 92) end

--- a number argument
function Gen:num()
  local k = self:r(100)
  if k <= 60 then return lit((self:r(41) - 21) / 10) end
  if k <= 85 then return lit(self:one(EDGE_NUMS)) end
  if k <= 93 then return lit(self:one(EDGE_INTS)) end
  return self:hostile_scalar()
end

function Gen:str()
  if self:chance(0.9) then return lit(self:one(STRINGS)) end
  return self:hostile_scalar()
end

--- a scalar of an unexpected type
function Gen:hostile_scalar()
  return self:one{"nil", "true", "false", '"3"', "{}", "function() end", "H.raising()", "(0/0)", '"\\255"',
    "H.lying(1 << 62, 1)", "R", "io.stdout"}
end

--- a hostile table
function Gen:hostile_table()
  return self:one{"H.lying(1 << 62, 1)", "H.lying(-1, 0)", "H.lying(3, 'x')", "H.raising()", "H.cycle()",
    "H.deep(" .. self:one{10, 200, 100000} .. ")", "H.impostor('recur.Tensor')", "H.impostor('recur.Linear')",
    "setmetatable({}, {__index = function() return 1 end})", "{n = 1}", "{[1.5] = 1}", "{[0] = 1, 2}",
    "{1, nil, 3}", "{{1}, {1, 2}}", "{R}", "{io.stdout}"}
end

--- pool slot numbers whose values satisfy pred
function Gen:slots(pred)
  local out = {}
  for k = 1, POOL do
    local v = self.V[k]
    if v ~= nil and pred(v) then out[#out + 1] = k end
  end
  return out
end

--- "V[k]" for a pool value satisfying pred, or nil
function Gen:pick(pred)
  local ks = self:slots(pred)
  if #ks == 0 then return nil end
  local k = self:one(ks)
  return "V[" .. k .. "]", self.V[k]
end

--- a slot to store a result in
function Gen:slot() return "V[" .. self:r(POOL) .. "]" end

--- the name of a value's kind: recur types by their __name, else the Lua type
function Gen.kind(v)
  local mt = getmetatable(v)
  if type(mt) == "table" then
    local name = rawget(mt, "__name")
    if type(name) == "string" then return name end
  end
  return type(v)
end
local kind = Gen.kind

local function is(name) return function(v) return kind(v) == name end end
-- a real tensor (userdata), not an impostor table that claims the name
local function is_tensor(v) return type(v) == "userdata" and kind(v) == "recur.Tensor" end
local function is_layer(v)
  local k = kind(v)
  return k == "recur.RNN" or k == "recur.GRU" or k == "recur.LSTM"
end
local function is_module(v)
  local k = kind(v)
  return is_layer(v) or k == "recur.Linear" or k == "recur.Embedding" or k == "recur.Dropout" or k == "recur.Sequential"
end

--- a small shape literal, its sizes
function Gen:small_shape(max_dims)
  local n, sizes = self:r(max_dims or 3), {}
  for i = 1, n do sizes[i] = self:r(4) - (self:chance(0.05) and 1 or 0) end
  return sizes
end

local function shape_lit(sizes)
  local out = {}
  for i, s in ipairs(sizes) do out[i] = lit(s) end
  return list(out)
end

--- a shape argument: mostly small and valid, sometimes hostile
function Gen:shape()
  local k = self:r(100)
  if k <= 70 then return shape_lit(self:small_shape()) end
  if k <= 90 then
    local out = {}
    for i = 1, self:r(3) do out[i] = self:size() end
    if self:chance(0.1) then for i = #out + 1, 9 do out[i] = "1" end end
    return list(out)
  end
  if k <= 95 then return self:hostile_table() end
  return self:hostile_scalar()
end

--- a tensor: from the pool, new and small, or hostile
function Gen:tensor()
  local k = self:r(100)
  if k <= 55 then
    local ref = self:pick(is_tensor)
    if ref then return ref end
  end
  if k <= 90 then return "R.randn(" .. shape_lit(self:small_shape()) .. ")" end
  if k <= 95 then return self:hostile_table() end
  return self:hostile_scalar()
end

--- a tensor of exactly this shape (sometimes another one)
function Gen:tensor_of(shape)
  if self:chance(0.05) then return self:tensor() end
  if self:chance(0.3) then
    local ref = self:pick(function(v) return is_tensor(v) and table.concat(v:shape(), ",") == table.concat(shape, ",") end)
    if ref then return ref end
  end
  return "R.randn(" .. shape_lit(shape) .. ")"
end

--- any value at all
function Gen:any()
  local k = self:r(100)
  if k <= 35 then
    local ks = self:slots(function() return true end)
    if #ks > 0 then return "V[" .. self:one(ks) .. "]" end
  end
  if k <= 45 then return self:int() end
  if k <= 52 then return self:num() end
  if k <= 60 then return self:str() end
  if k <= 70 then return self:tensor() end
  if k <= 80 then return self:hostile_table() end
  if k <= 88 then return self:shape() end
  return self:hostile_scalar()
end

--- n arbitrary arguments
function Gen:anys(n)
  local out = {}
  for i = 1, n or self:r(4) - 1 do out[i] = self:any() end
  return table.concat(out, ", ")
end

--- an options table: each known option present with probability 1/2, valid values mostly,
-- sometimes a wrong value or an unknown key
function Gen:options(spec)
  local out = {}
  for _, entry in ipairs(spec) do
    if entry.required or self:chance(0.5) then
      local v = self:chance(0.9) and entry[2](self) or self:any()
      out[#out + 1] = entry[1] .. " = " .. v
    end
  end
  if self:chance(0.05) then out[#out + 1] = "typo = 1" end
  if self:chance(0.05) then out[#out + 1] = self:any() end
  return list(out)
end

local function small(lo, hi) return function(g) return lit(lo + g:r(hi - lo + 1) - 1) end end
local function bool(g) return g:chance(0.5) and "true" or "false" end
local function prob(g) return g:chance(0.8) and lit((g:r(10) - 1) / 10) or g:num() end
local function gen_or_nil(g)
  if g:chance(0.5) then return "nil" end
  return g:pick(is("recur.Generator")) or "R.Generator(" .. g:int() .. ")"
end

-- ---- files ---------------------------------------------------------------------------------

local PATHS = {"f1.safetensors", "f2.safetensors", "f3.safetensors", "t.txt", "d.csv", "p.svg", "h.csv",
  "missing/x.safetensors", ".", "", "crafted.safetensors"}

function Gen:path()
  if self:chance(0.92) then return lit(self:one(PATHS)) end
  return self:hostile_scalar()
end

--- a line that writes a crafted checkpoint: a mutated saved file, or a hostile header
function Gen:craft()
  local target = lit(self:one{"crafted.safetensors", "f3.safetensors"})
  if self:chance(0.5) then
    return "H.write(" .. target .. ", H.mutate(H.read(" .. lit(self:one{"f1.safetensors", "f2.safetensors"}) ..
      "), " .. self:r(100000) .. "))"
  end
  local model = self:one{
    '{"type":"Linear","in_features":16384,"out_features":16384}',
    '{"type":"LSTM","input_size":1048576,"hidden_size":1048576,"num_layers":1024}',
    '{"type":"GRU","input_size":2,"hidden_size":3,"num_layers":1e9}',
    '{"type":"Embedding","num_embeddings":1,"embedding_dim":-5}',
    '{"type":"Sequential","children":[{"name":"a","config":{"type":"Dropout","p":0.5}},{"name":"a","config":{"type":"Dropout"}}]}',
    '{"type":"Sequential","children":{"x":1}}',
    '{"type":"Linear","in_features":1,"out_features":1,"bias":"yes"}',
    '{"type":"RNN","input_size":1,"hidden_size":1,"generator":1}',
    '{"type":"Launch"}', '[]', '{"type":"Linear","in_features":1.5,"out_features":1}', '"x"', '{"type":"Sequential"}',
    '{"type":"Linear","in_features":1,"out_features":1}',
  }
  local training = self:one{
    '{"iteration":1,"history":[],"extra":{},"default_generator":"x","generators":{}}',
    '{"iteration":1,"history":{},"extra":{},"default_generator":' ..
      '"pcg32:0000000000000001:0000000000000003:0000000000000000:0:0x0p+0","generators":{"g":5},' ..
      '"optimizer":{"kind":"Adam","step":"x","lr":[]}}',
    '{"optimizer":{"kind":"SGD","step":1,"lr":1e999}}', '7', '{"schedule":{"epoch":-1,"base_lr":"x"},"data":{"position":1e300}}',
  }
  local meta = '{"__metadata__":{"recur.model":' .. quote(model):gsub("\\034", '\\"') ..
    (self:chance(0.5) and (',"recur.training":' .. quote(training):gsub("\\034", '\\"')) or "") .. '}'
  local tensors = self:one{'', ',"weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}',
    ',"model.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}'}
  return "H.safetensors(" .. target .. ", " .. quote(meta .. tensors .. "}") .. ", " ..
    (tensors == "" and '""' or '"\\000\\000\\128\\063"') .. ")"
end

-- ---- calls on pool objects -------------------------------------------------------------------

local M = {} -- kind -> method name -> function(gen, ref, value) returning the argument list

-- tensors
local function dim_of(g, t)
  if g:chance(0.9) then return lit(g:r(t:dim())) end
  return g:one{"0", lit(t:dim() + 1), "-1", g:int()}
end
local function index_of(g, size)
  if size > 0 and g:chance(0.85) then return lit(g:r(size)) end
  return g:one{"0", lit(size + 1), "-1", g:int(), "(0/0)", "1.5"}
end
local function other_for(g, _, t)
  local k = g:r(10)
  if k <= 4 then return g:num() end
  if k <= 8 then return g:tensor_of(t:shape()) end
  return g:any()
end

M["recur.Tensor"] = {
  view = function(g, _, t)
    if g:chance(0.5) then
      local s = t:shape()
      if g:chance(0.5) then return "{-1}" end
      if #s > 1 and g:chance(0.5) then return "{" .. s[1] .. ", -1}" end
    end
    return g:shape()
  end,
  select = function(g, _, t)
    local d = g:r(t:dim())
    return dim_of(g, t) .. ", " .. index_of(g, t:size(d))
  end,
  narrow = function(g, _, t)
    local d = g:r(t:dim())
    local size = t:size(d)
    local start = g:chance(0.85) and math.max(1, g:r(size + 1) - 1) or nil
    local len = start and g:chance(0.85) and g:r(size - start + 2) - 1 or nil
    return lit(d) .. ", " .. (start and lit(start) or g:int()) .. ", " .. (len and lit(len) or g:int())
  end,
  get = function(g, _, t)
    local out = {}
    for d = 1, t:dim() + (g:chance(0.1) and g:r(3) - 2 or 0) do
      out[#out + 1] = index_of(g, d <= t:dim() and t:size(d) or 1)
    end
    return table.concat(out, ", ")
  end,
  set = function(g, _, t)
    local out = {}
    for d = 1, t:dim() + (g:chance(0.1) and g:r(3) - 2 or 0) do
      out[#out + 1] = index_of(g, d <= t:dim() and t:size(d) or 1)
    end
    out[#out + 1] = g:num()
    return table.concat(out, ", ")
  end,
  add = other_for, sub = other_for, mul = other_for, div = other_for,
  add_ = other_for, sub_ = other_for, mul_ = other_for, div_ = other_for,
  copy = function(g, _, t) return g:chance(0.7) and g:tensor_of(t:shape()) or g:tensor() end,
  fill = function(g) return g:num() end,
  size = function(g, _, t) return g:chance(0.3) and "" or dim_of(g, t) end,
  argmax = function(g, _, t) return g:chance(0.3) and "" or dim_of(g, t) end,
  transpose = function(g, _, t) return dim_of(g, t) .. ", " .. dim_of(g, t) end,
  clamp_ = function(g) return g:num() .. ", " .. g:num() end,
  matmul = function(g, _, t)
    if t:dim() == 2 and g:chance(0.7) then
      return g:tensor_of(g:chance(0.5) and {t:size(2)} or {t:size(2), g:r(3)})
    end
    return g:tensor()
  end,
}

-- recurrent layers
local function layer_dims(m)
  local c = m:config()
  local dirs = c.bidirectional and 2 or 1
  local hout = (c.proj_size or 0) > 0 and c.proj_size or c.hidden_size
  return c, dirs, hout
end

-- the arguments of a layer's forward, as a list of sources: x, then h0, c0 and options
-- now and then
local function layer_input(g, m, extras)
  local c, dirs, hout = layer_dims(m)
  local T, B = g:r(3), g:r(3)
  local unbatched = g:chance(0.2)
  local x = unbatched and {T, c.input_size} or (c.batch_first and {B, T, c.input_size} or {T, B, c.input_size})
  local args = {g:tensor_of(x)}
  if not extras then return args end
  local sb = unbatched and {c.num_layers * dirs, hout} or {c.num_layers * dirs, B, hout}
  if g:chance(0.3) then args[2] = g:tensor_of(sb) end
  if c.type == "LSTM" and g:chance(0.3) then
    args[2] = args[2] or "nil"
    args[3] = g:tensor_of(unbatched and {c.num_layers * dirs, c.hidden_size} or {c.num_layers * dirs, B, c.hidden_size})
  end
  if g:chance(0.3) then
    local n = c.type == "LSTM" and 4 or 3
    for i = #args + 1, n - 1 do args[i] = "nil" end
    local ls = {}
    for b = 1, B do ls[b] = g:chance(0.9) and lit(g:r(T)) or g:int() end
    args[n] = "{lengths = " .. (g:chance(0.5) and list(ls) or "R.tensor(" .. list(ls) .. ")") .. "}"
  end
  return args
end

local function grad_for(g, m)
  local out = g.outputs[m]
  if out and g:chance(0.9) then return g:tensor_of(out) end
  return g:tensor()
end

local LAYER = {
  forward = function(g, _, m) return table.concat(layer_input(g, m, true), ", ") end,
  backward = function(g, _, m) return grad_for(g, m) end,
  reset_parameters = function(g) return gen_or_nil(g) end,
  train = function(g) return g:chance(0.8) and bool(g) or g:any() end,
  stepper = function(g) return g:chance(0.8) and lit(g:r(3)) or g:int() end,
  workspace_bytes = function(g) return g:int() .. ", " .. g:int() end,
  load_state = function(g)
    local other = g:pick(is_module)
    if other and g:chance(0.7) then return other .. ":state(), " .. g:one{"nil", "{strict = false}", "{strict = 1}"} end
    return g:any() .. ", " .. g:any()
  end,
}
M["recur.RNN"], M["recur.GRU"], M["recur.LSTM"] = LAYER, LAYER, LAYER

M["recur.Stepper"] = {
  step = function(g, _, s)
    local size, batch = g.stepper_input[s] or g:r(4), s:state():size(2)
    return batch == 1 and g:chance(0.5) and g:tensor_of({size}) or g:tensor_of({batch, size})
  end,
  set_state = function(g, _, s)
    local h, c = s:state()
    return g:tensor_of(h:shape()) .. (c and ", " .. g:tensor_of(c:shape()) or "")
  end,
}

-- Lua modules
local function module_input(g, m)
  local k = kind(m)
  if k == "recur.Linear" then
    local s = g:small_shape(3)
    s[#s] = m.in_features
    return g:tensor_of(s)
  elseif k == "recur.Embedding" then
    local ids = {}
    for i = 1, g:r(5) - 1 do ids[i] = g:chance(0.9) and lit(g:r(m.num_embeddings)) or g:int() end
    if g:chance(0.3) then return "R.tensor(" .. list(ids) .. ")" end
    return list(ids)
  elseif k == "recur.Sequential" then
    local first = m.children and m.children[1]
    if first ~= nil and first ~= m and g:chance(0.9) then return module_input(g, first) end
    return g:tensor()
  elseif is_layer(m) then
    return layer_input(g, m, false)[1]
  end
  return g:tensor()
end

local MODULE = {
  forward = function(g, _, m) return module_input(g, m) end,
  backward = function(g, _, m) return grad_for(g, m) end,
  reset_parameters = function(g) return gen_or_nil(g) end,
  train = function(g) return g:chance(0.8) and bool(g) or g:any() end,
  add = function(g) return (g:pick(is_module) or g:any()) .. ", " .. (g:chance(0.5) and g:str() or "nil") end,
  load_state = LAYER.load_state,
}
for _, k in ipairs{"recur.Linear", "recur.Embedding", "recur.Dropout", "recur.Sequential"} do M[k] = MODULE end

-- criterions
local function criterion_args(g, c)
  local input, t = g:pick(function(v) return is_tensor(v) and v:numel() > 0 end)
  if not input or g:chance(0.2) then return g:tensor() .. ", " .. g:any() end
  if kind(c) == "recur.CrossEntropyLoss" then
    local shape = t:shape()
    local C, rows = shape[#shape], t:numel() // math.max(shape[#shape], 1)
    local ids = {}
    for i = 1, rows do ids[i] = g:chance(0.95) and lit(g:r(math.max(C, 1))) or g:int() end
    if rows > 64 then return input .. ", " .. g:any() end
    return input .. ", " .. (g:chance(0.7) and list(ids) or "R.tensor(" .. list(ids) .. ")")
  end
  return input .. ", " .. g:tensor_of(t:shape())
end
M["recur.CrossEntropyLoss"] = {forward = criterion_args}
M["recur.RegressionLoss"] = {forward = criterion_args}

-- optimizers and schedules
M["recur.Optimizer"] = {
  load_state = function(g)
    local other = g:pick(is("recur.Optimizer"))
    if other and g:chance(0.7) then return other .. ":state()" end
    return g:one{"{kind = 'SGD', step = 1, lr = 1, buffers = {}}", "{kind = 'Adam', step = 'x', lr = {}, buffers = 5}",
      "{kind = 'Adam', step = 1, lr = 0.1, buffers = {[1] = {exp_avg = 5}}}",
      "{kind = 'RMSprop', step = 1, lr = 0.1, buffers = {[7] = {}}}", g:any()}
  end,
}
M["recur.optim.Schedule"] = {
  load_state = function(g)
    local other = g:pick(is("recur.optim.Schedule"))
    if other and g:chance(0.6) then return other .. ":state()" end
    return g:one{"{epoch = 1, base_lr = 0.1}", "{epoch = {}, base_lr = 0.1}", "{epoch = 1, base_lr = {}}",
      "{epoch = -5, base_lr = 1}", "{epoch = 0/0, base_lr = 1e308}", "{}", g:any()}
  end,
}

-- data
M["recur.data.Vocab"] = {
  encode = function(g) return g:chance(0.8) and lit(g:one{"abc", "aab", "", "hello world", "\255"}) or g:any() end,
  decode = function(g, _, v)
    local ids = {}
    for i = 1, g:r(4) - 1 do ids[i] = g:chance(0.9) and lit(g:r(v:size())) or g:int() end
    return g:chance(0.6) and list(ids) or (g:chance(0.5) and "R.tensor(" .. list(ids) .. ")" or g:any())
  end,
}
M["recur.data.CharBatches"] = {
  batch = function(g, _, b) return g:chance(0.8) and lit(g:r(b:num_batches() + 1) - 1) or g:int() end,
  load_state = function(g) return g:one{"{position = 1}", "{position = 'x'}", "{position = 1e300}", "{}", g:any()} end,
}
M["recur.data.Windows"] = {
  batch = function(g, _, w)
    local which = {}
    for i = 1, g:r(3) do which[i] = g:chance(0.9) and lit(g:r(w:count())) or g:int() end
    return (g:chance(0.8) and list(which) or g:any()) .. ", " .. (g:chance(0.5) and bool(g) or g:any())
  end,
}
M["recur.data.Normalizer"] = {
  apply = function(g) return g:tensor() end,
  invert = function(g) return g:tensor() end,
}
M["recur.train.LossGuard"] = {check = function(g) return g:num() .. ", " .. g:any() end}
M["recur.Generator"] = {
  random = function(g)
    local k = g:r(4)
    if k == 1 then return g:int() end
    return g:int() .. ", " .. g:int()
  end,
  uniform = function(g) return g:num() .. ", " .. g:num() end,
  normal = function(g) return g:num() .. ", " .. g:num() end,
  manual_seed = function(g) return g:int() end,
  set_state = function(g)
    local other = g:pick(is("recur.Generator"))
    if other and g:chance(0.6) then return other .. ":get_state()" end
    return g:one{'"pcg32:1:2:3:0:0x0p+0"', '"pcg32:0000000000000001:0000000000000002:0:0:0x0p+0"', g:str()}
  end,
}

--- the methods of a pool value: its metatable's __index table, followed up base classes
local function methods_of(v)
  local out, seen = {}, {}
  local mt = getmetatable(v)
  local idx = type(mt) == "table" and rawget(mt, "__index")
  if type(idx) == "function" then -- recur.Tensor: the methods are mt_index's upvalue
    local _, up = debug.getupvalue(idx, 1)
    idx = up
  end
  while type(idx) == "table" and not seen[idx] do
    seen[idx] = true
    for name, f in pairs(idx) do
      if type(f) == "function" and type(name) == "string" and not name:find("^__") and out[name] == nil then
        out[name] = f
      end
    end
    local up = getmetatable(idx)
    idx = type(up) == "table" and rawget(up, "__index") or nil
  end
  return out
end
Gen.methods_of = methods_of

local function sorted_names(map)
  local names = {}
  for name in pairs(map) do names[#names + 1] = name end
  table.sort(names)
  return names
end

--- A method call on a pool object, or nil when the pool holds none.
function Gen:method_call()
  local ks = self:slots(function(v) return type(v) == "userdata" or (type(v) == "table" and getmetatable(v) ~= nil) end)
  if #ks == 0 then return nil end
  local k = self:one(ks)
  local v = self.V[k]
  local names = sorted_names(methods_of(v))
  if #names == 0 then return nil end
  local name = self:one(names)
  if self.skip[kind(v) .. ":" .. name] then return nil end
  local specific = (M[kind(v)] or {})[name]
  local args = specific and self:chance(0.9) and specific(self, "V[" .. k .. "]", v) or self:anys()
  local call = "V[" .. k .. "]:" .. name .. "(" .. args .. ")"
  local first = self:r(POOL)
  local out = "V[" .. first .. "], " .. self:slot() .. ", " .. self:slot()
  if name == "forward" then
    return out .. " = " .. call, function()
      if is_tensor(self.V[first]) then self.outputs[v] = self.V[first]:shape() end
    end
  end
  if name == "stepper" then
    return out .. " = " .. call, function()
      if kind(self.V[first]) == "recur.Stepper" then self.stepper_input[self.V[first]] = v:config().input_size end
    end
  end
  if name == "epoch" then -- iterate a few steps of the iterator
    return "local it = " .. call .. "; for _ = 1, " .. self:r(4) .. " do " .. out .. " = it() end"
  end
  return out .. " = " .. call
end

--- A C method called with a wrong self (C methods must check their self themselves).
function Gen:foreign_self_call()
  local ks = self:slots(function(v) return type(v) == "userdata" end)
  if #ks == 0 then return nil end
  local k = self:one(ks)
  local names = sorted_names(methods_of(self.V[k]))
  if #names == 0 then return nil end
  return "local f = V[" .. k .. "]." .. self:one(names) .. "; " .. self:slot() .. " = f(" .. self:any() .. ", " ..
    self:anys(2) .. ")"
end

--- t[i], t[i] = v, #t, tostring(t) and friends on a pool value
function Gen:operator_call()
  local ref, t = self:pick(is_tensor)
  if not ref then return nil end
  local k = self:r(6)
  if k == 1 then return self:slot() .. " = " .. ref .. "[" .. index_of(self, t:size(1)) .. "]" end
  if k == 2 then return ref .. "[" .. index_of(self, t:size(1)) .. "] = " .. self:num() end
  if k == 3 then return self:slot() .. " = #" .. ref end
  if k == 4 then return self:slot() .. " = tostring(" .. ref .. ")" end
  if k == 5 then return self:slot() .. " = " .. ref .. "[" .. self:any() .. "]" end
  return ref .. "[" .. self:any() .. "] = " .. self:any()
end

-- ---- calls of the library's functions ---------------------------------------------------------

local RNN_SPEC = {{"input_size", small(1, 4), required = true}, {"hidden_size", small(1, 4), required = true},
  {"num_layers", small(1, 3)}, {"bias", bool}, {"batch_first", bool}, {"dropout", prob}, {"bidirectional", bool},
  {"generator", gen_or_nil}}
local function layer_opts(extra)
  local spec = {}
  for i, e in ipairs(RNN_SPEC) do spec[i] = e end
  for _, e in ipairs(extra or {}) do spec[#spec + 1] = e end
  return function(g) return g:options(spec) end
end

local function module_target(g)
  local k = g:r(10)
  if k <= 5 then return g:pick(is_module) or "R.Linear{in_features = 2, out_features = 2}" end
  if k <= 7 then return "{" .. g:tensor() .. ", " .. g:tensor() .. "}" end
  if k <= 8 then return "{" .. (g:pick(is_module) or "{}") .. ", " .. (g:pick(is_module) or "{}") .. "}" end
  return g:any()
end

local function optimizer_opts(extra)
  return function(g)
    local opts = g:options(extra)
    return "{" .. module_target(g) .. (opts == "{}" and "" or ", " .. opts:sub(2, -2)) .. "}"
  end
end

local function schedule_opts(extra)
  return function(g)
    local opts = g:options(extra)
    local opt = g:pick(is("recur.Optimizer")) or g:any()
    return "{" .. opt .. (opts == "{}" and "" or ", " .. opts:sub(2, -2)) .. "}"
  end
end

local function metadata(g)
  return g:one{"nil", "{}", "{note = 'x'}", "{note = '\\255'}", "{['\\255'] = 1}", "{extra = {lr = 0/0}}",
    "{epoch = 3, flag = true}", "{[1] = 2}", "{bad = function() end}", "{deep = H.deep(100)}", "{c = H.cycle()}",
    "{x = {1, 2, {3}}}", "{big = string.rep('x', 1000)}", g:any()}
end

local function training_parts(g)
  local parts = {"model = " .. (g:pick(is_module) or g:any())}
  if g:chance(0.6) then parts[#parts + 1] = "optimizer = " .. (g:pick(is("recur.Optimizer")) or g:any()) end
  if g:chance(0.3) then parts[#parts + 1] = "schedule = " .. (g:pick(is("recur.optim.Schedule")) or g:any()) end
  if g:chance(0.3) then parts[#parts + 1] = "data = " .. (g:pick(is("recur.data.CharBatches")) or g:any()) end
  if g:chance(0.3) then parts[#parts + 1] = "generators = {g = " .. (g:pick(is("recur.Generator")) or g:any()) .. "}" end
  if g:chance(0.4) then
    parts[#parts + 1] = "history = " .. g:one{"{}", "{{loss = 1}}", "{{loss = 0/0}}", "{'\\255'}", "{math.huge}", "H.cycle()",
      g:any()}
  end
  if g:chance(0.3) then parts[#parts + 1] = "extra = " .. metadata(g) end
  if g:chance(0.3) then parts[#parts + 1] = "iteration = " .. g:int() end
  if g:chance(0.1) then return g:any() end
  return list(parts)
end

local function text(g) return g:chance(0.8) and lit(g:one{"hello world", "abcabc", "", "\255", "aé", "ab\0"}) or g:any() end

local function series_table(g)
  local n = g:r(4)
  local xs, ys = {}, {}
  for i = 1, n do
    xs[i] = g:chance(0.9) and lit(i) or g:num()
    ys[i] = g:chance(0.7) and lit((g:r(21) - 11) / 10) or g:num()
  end
  if g:chance(0.1) then return "{{x = {1, 2}, y = {0.3, 0.1 + 0.2}}}" end
  return "{{name = " .. g:str() .. ", x = " .. list(xs) .. ", y = " .. list(ys) .. "}}"
end

--- Argument generators of the library's functions, by their path under `recur`.
local F = {
  tensor = function(g)
    local k = g:r(10)
    if k <= 6 then
      local rows = {}
      for i = 1, g:r(3) do rows[i] = list{g:num(), lit(i)} end
      return g:chance(0.5) and list(rows) or list{g:num(), g:num()}
    end
    return g:chance(0.5) and g:tensor() or g:hostile_table()
  end,
  zeros = function(g) return g:shape() end,
  ones = function(g) return g:shape() end,
  rand = function(g) return g:shape() .. ", " .. gen_or_nil(g) end,
  randn = function(g) return g:shape() .. ", " .. gen_or_nil(g) end,
  full = function(g) return g:shape() .. ", " .. g:num() end,
  Generator = function(g) return g:chance(0.3) and "" or g:int() end,
  manual_seed = function(g) return g:int() end,
  set_num_threads = function(g) return g:chance(0.8) and lit(g:r(2)) or g:int() end,
  RNN = layer_opts{{"nonlinearity", function(gg) return gg:chance(0.8) and gg:one{'"tanh"', '"relu"'} or gg:str() end}},
  GRU = layer_opts(),
  LSTM = layer_opts{{"proj_size", small(0, 3)}},
  Linear = function(g)
    return g:options{{"in_features", small(1, 4), required = true}, {"out_features", small(1, 4), required = true},
      {"bias", bool}, {"generator", gen_or_nil}}
  end,
  Embedding = function(g)
    return g:options{{"num_embeddings", small(1, 6), required = true}, {"embedding_dim", small(1, 4), required = true},
      {"generator", gen_or_nil}}
  end,
  Dropout = function(g) return g:options{{"p", prob}, {"generator", gen_or_nil}} end,
  Sequential = function(g)
    local entries = {}
    for i = 1, g:r(3) do
      local m = g:pick(is_module) or "R.Dropout()"
      entries[i] = g:chance(0.3) and "{" .. g:str() .. ", " .. m .. "}" or m
    end
    if g:chance(0.1) then entries[#entries + 1] = g:any() end
    if g:chance(0.05) then return "H.shared_tree(R, " .. g:r(12) .. ")" end
    return list(entries)
  end,
  CrossEntropyLoss = function(g)
    return g:options{{"ignore_index", function(gg) return gg:chance(0.7) and lit(gg:r(4) - 1) or gg:int() end},
      {"reduction", function(gg) return gg:one{'"mean"', '"sum"', '"none"'} end}}
  end,
  MSELoss = function(g) return g:options{{"reduction", function(gg) return gg:one{'"mean"', '"sum"'} end}} end,
  L1Loss = function(g) return g:options{{"reduction", function(gg) return gg:one{'"mean"', '"sum"'} end}} end,
  SmoothL1Loss = function(g)
    return g:options{{"reduction", function(gg) return gg:one{'"mean"', '"sum"'} end}, {"beta", function(gg) return gg:num() end}}
  end,
  ["optim.SGD"] = optimizer_opts{{"lr", function(g) return g:num() end, required = true}, {"momentum", prob},
    {"dampening", prob}, {"nesterov", bool}, {"weight_decay", prob}},
  ["optim.Adam"] = optimizer_opts{{"lr", prob}, {"betas", function(g) return g:one{"{0.9, 0.999}", "{1, 2}", "{}", "{0/0, 0.5}"} end},
    {"eps", prob}, {"weight_decay", prob}, {"amsgrad", bool}},
  ["optim.AdamW"] = optimizer_opts{{"lr", prob}, {"weight_decay", prob}, {"amsgrad", bool}},
  ["optim.RMSprop"] = optimizer_opts{{"lr", prob}, {"alpha", prob}, {"eps", prob}, {"momentum", prob}, {"centered", bool}},
  ["optim.StepLR"] = schedule_opts{{"step_size", small(1, 3), required = true}, {"gamma", prob}},
  ["optim.CosineAnnealingLR"] = schedule_opts{{"T_max", small(1, 3), required = true}, {"eta_min", prob}},
  clip_grad_norm = function(g) return module_target(g) .. ", " .. g:num() end,
  clip_grad_value = function(g) return module_target(g) .. ", " .. g:num() end,
  ["optim.clip_grad_norm"] = function(g) return module_target(g) .. ", " .. g:num() end,
  ["optim.clip_grad_value"] = function(g) return module_target(g) .. ", " .. g:num() end,
  ["train.check_gradients"] = function(g) return module_target(g) .. ", " .. g:any() end,
  ["train.LossGuard"] = function(g) return g:options{{"factor", function(gg) return gg:num() end}, {"warmup", small(0, 3)}} end,
  ["data.read_file"] = function(g) return g:path() end,
  ["data.utf8_chars"] = text,
  ["data.vocab_of"] = text,
  ["data.Vocab"] = function(g)
    return g:one{'{"a", "b", "c"}', '{"a", "a"}', "{}", '{"ab"}', '{"\\255"}', "{1, 2}", 'H.lying(1 << 62, "a")', g:any()}
  end,
  ["data.split"] = function(g) return g:tensor() .. ", " .. g:num() end,
  ["data.CharBatches"] = function(g)
    return g:options{{"data", function(gg) return gg:tensor() end, required = true}, {"batch_size", small(1, 3), required = true},
      {"seq_len", small(1, 3), required = true}, {"time_major", bool}}
  end,
  ["data.read_csv"] = function(g)
    return g:path() .. ", " .. g:one{"nil", '{numbers = {"a"}}', '{numbers = {"b"}, strings = {"a"}}', '{numbers = {"zz"}}',
      "{numbers = {1}}", '{numbers = H.lying(1 << 62, "a")}', g:any()}
  end,
  ["data.parse_datetime"] = function(g) return g:str() end,
  ["data.Normalizer"] = function(g) return g:tensor() end,
  ["data.Windows"] = function(g)
    return g:options{{"series", function(gg) return gg:tensor() end, required = true}, {"input_len", small(1, 3), required = true},
      {"horizon", small(1, 2)}, {"stride", small(1, 2)}, {"targets", function(gg) return gg:one{"{1}", "{1, 2}", "{0}", "{}", "{2^62}"} end}}
  end,
  ["data.shuffle"] = function(g) return g:int() .. ", " .. gen_or_nil(g) end,
  ["data.WindowLoader"] = function(g)
    return g:options{{"windows", function(gg) return gg:pick(is("recur.data.Windows")) or gg:any() end, required = true},
      {"batch_size", small(1, 3), required = true}, {"shuffle", bool}, {"generator", gen_or_nil}, {"time_major", bool},
      {"drop_last", bool}}
  end,
  ["plot.svg"] = function(g)
    return g:options{{"series", series_table, required = true}, {"title", function(gg) return gg:str() end},
      {"width", function(gg) return gg:num() end}, {"height", function(gg) return gg:num() end}}
  end,
  ["plot.write_svg"] = function(g) return g:path() .. ", {series = " .. series_table(g) .. "}" end,
  ["plot.write_csv"] = function(g)
    return g:path() .. ", " .. g:one{'{"a", "b"}', "{}", "{1}", g:any()} .. ", " .. g:one{"{{1, 2}}", "{{'x'}}", "{1}", g:any()}
  end,
  ["plot.write_atomic"] = function(g) return g:path() .. ", " .. g:str() end,
  save = function(g) return g:path() .. ", " .. (g:pick(is_module) or g:any()) .. ", " .. metadata(g) end,
  ["checkpoint.save"] = function(g) return g:path() .. ", " .. (g:pick(is_module) or g:any()) .. ", " .. metadata(g) end,
  load = function(g) return g:path() end,
  ["checkpoint.load"] = function(g) return g:path() end,
  load_model = function(g) return g:path() end,
  ["checkpoint.load_model"] = function(g) return g:path() end,
  ["checkpoint.save_training"] = function(g) return g:path() .. ", " .. training_parts(g) end,
  ["checkpoint.load_training"] = function(g) return g:path() .. ", " .. training_parts(g) end,
  ["checkpoint.load_state"] = function(g)
    return (g:pick(is_module) or g:any()) .. ", " .. (g:pick(is_module) and "(" .. g:pick(is_module) .. "):state()" or g:any())
  end,
}

-- functions the fuzzer never calls: they end the process or run a shell
local NEVER = {["util.execute"] = true, ["util.parse_args"] = true}

--- The library's functions: path -> function, found by walking `recur`.
function Gen:functions()
  if self._functions then return self._functions end
  local out, seen = {}, {}
  local function walk(t, prefix, depth)
    if seen[t] or depth > 3 then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" and not k:find("^_") then
        local path = prefix .. k
        if type(v) == "function" and not NEVER[path] and not self.skip[path] then
          out[#out + 1] = path
        elseif type(v) == "table" and getmetatable(v) == nil and rawget(v, "__index") ~= v then -- not a class
          walk(v, path .. ".", depth + 1)
        end
      end
    end
  end
  walk(self.R, "", 1)
  table.sort(out)
  self._functions = out
  return out
end

--- A call of one of the library's functions.
function Gen:function_call()
  local paths = self:functions()
  local path = self:one(paths)
  local specific = F[path] or F[path:match("[^.]+$")]
  local args = specific and self:chance(0.9) and specific(self) or self:anys()
  return self:slot() .. ", " .. self:slot() .. " = R." .. path .. "(" .. args .. ")"
end

--- The lines that set up the files the calls read.
function Gen.setup()
  return {
    'H.write("t.txt", "hello world\\nthe quick brown fox\\n")',
    'H.write("d.csv", "a,b,c\\n1,2,x\\n3,4,y\\n5,6,z\\n7,8,w\\n")',
    'R.save("f1.safetensors", R.Sequential{R.Embedding{num_embeddings = 3, embedding_dim = 2}, R.GRU{input_size = 2, hidden_size = 2}})',
    'R.checkpoint.save_training("f2.safetensors", {model = R.Linear{in_features = 2, out_features = 1}, history = {{loss = 1}}})',
  }
end

--- The next line to run, and an optional function to call with its results.
function Gen:next()
  local k = self:r(100)
  local line, after
  if k <= 40 then
    line, after = self:method_call()
  elseif k <= 75 then
    line = self:function_call()
  elseif k <= 80 then
    line = self:foreign_self_call()
  elseif k <= 88 then
    line = self:operator_call()
  elseif k <= 92 then
    line = self:craft()
  elseif k <= 94 then
    line = self:slot() .. " = nil; collectgarbage()"
  elseif k <= 97 then
    local ref = self:pick(is("recur.Optimizer"))
    line = ref and ref .. ".lr = " .. self:num()
  else
    local ref = self:pick(function(v) return type(v) == "function" end)
    line = ref and self:slot() .. " = " .. ref .. "(" .. self:anys() .. ")"
  end
  if not line then return self:next() end
  return line, after
end

return Gen
