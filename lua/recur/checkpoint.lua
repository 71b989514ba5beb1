--- Checkpoints in the safetensors format: weights under PyTorch's state_dict names
-- (with module prefixes), metadata that rebuilds the model, and training checkpoints
-- that resume bit for bit. Every save is atomic: a temporary file in the same
-- directory is written, fsynced and renamed over the old one.
-- @module recur.checkpoint
local core = require "recur.core"
local json = require "recur.json"
local nn = require "recur.nn"

local F = core.F
local checkpoint = {}

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name == "recur.Tensor"
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

--- The named tensors of a module, of a table of tensors, or of a named table of modules
-- (`nn.state_of`).
checkpoint.state_of = nn.state_of

--- The configuration of a module or a named table of modules, for rebuilding.
local function config_of(obj)
  if (type(obj) == "table" or type(obj) == "userdata") and obj.config then return obj:config() end
  if type(obj) == "table" and not is_tensor(next(obj) and obj[next(obj)]) then
    local children = {}
    for k, v in pairs(obj) do
      local c = config_of(v)
      if not c then return nil end
      children[tostring(k)] = c
    end
    return {type = "table", children = children}
  end
  return nil
end

local function rebuild(cfg)
  if cfg.type ~= "table" then return nn.from_config(cfg) end
  local out = {}
  for k, c in pairs(cfg.children) do out[k] = rebuild(c) end
  return out
end

local function encode(names, tensors, metadata)
  local list, keys, values = {}, {}, {}
  for i, n in ipairs(names) do list[i] = tensors[n] end
  for _, k in ipairs(sorted_keys(metadata)) do
    local v = metadata[k]
    keys[#keys + 1] = tostring(k)
    values[#values + 1] = type(v) == "table" and json.encode(v) or tostring(v)
  end
  return F.st_encode(names, list, keys, values)
end

--- Saves a module (or a table of tensors or modules) to a safetensors file.
-- Metadata records recur's version and the model's configuration; `metadata` adds
-- string pairs (numbers and booleans are converted, tables are JSON-encoded).
-- @string path
-- @param obj
-- @tparam[opt] table metadata
function checkpoint.save(path, obj, metadata)
  local names, tensors = checkpoint.state_of(obj)
  local meta = {["recur.version"] = core._VERSION, format = "pt"}
  local cfg = config_of(obj)
  if cfg then meta["recur.model"] = cfg end
  for k, v in pairs(metadata or {}) do
    if type(k) ~= "string" then error("save: metadata keys must be strings", 2) end
    meta[k] = v
  end
  local ok, err = pcall(function() F.write_file_atomic(path, encode(names, tensors, meta)) end)
  if not ok then error(err, 2) end
end

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then error("load: cannot open " .. err, 3) end
  local bytes, rerr = f:read("*a")
  f:close()
  if not bytes then error(string.format("load: cannot read %s: %s", path, tostring(rerr)), 3) end
  local ok, names, tensors, meta = pcall(F.st_decode, bytes)
  if not ok then error(string.format("load: %s: %s", path, tostring(names)), 3) end
  return names, tensors, meta
end

--- Reads a safetensors file (F32, F16 or BF16; others are an error).
-- @string path
-- @return name -> tensor, metadata (string -> string), names in file order
function checkpoint.load(path)
  local names, tensors, meta = read(path)
  return tensors, meta, names
end

--- Copies named tensors into a module's parameters (`nn.load_state`; modules have it as
-- `m:load_state(tensors[, opts])`).
checkpoint.load_state = nn.load_state

--- A model rebuilt from a file's metadata, with its weights loaded.
function checkpoint.load_model(path)
  local tensors, meta = checkpoint.load(path)
  if not meta["recur.model"] then error("load_model: " .. path .. " has no recur.model metadata", 2) end
  local model = rebuild(json.decode(meta["recur.model"]))
  checkpoint.load_state(model, tensors)
  return model, meta
end

--- Training checkpoints
-- @section training

local TRAINING_KEY = "recur.training"

--- Saves everything a training run needs to resume exactly: `model`, `optimizer`,
-- `schedule`, `data` (anything with state()/load_state()), the default generator's
-- state and named `generators`, `iteration`, `history` and `extra` (JSON values).
-- @string path
-- @tab parts
function checkpoint.save_training(path, parts)
  if type(parts) ~= "table" or parts.model == nil then error("save_training: expected {model = ..., ...}", 2) end
  local names, tensors = checkpoint.state_of(parts.model)
  local prefixed, all = {}, {}
  for i, n in ipairs(names) do
    prefixed[i] = "model." .. n
    all[prefixed[i]] = tensors[n]
  end
  local info = {iteration = parts.iteration or 0, history = parts.history or {}, extra = parts.extra or {},
    default_generator = core.default_generator():get_state(), generators = {}}
  for name, g in pairs(parts.generators or {}) do info.generators[name] = g:get_state() end
  if parts.optimizer then
    local s = parts.optimizer:state()
    info.optimizer = {kind = s.kind, step = s.step, lr = s.lr}
    for i, buffers in pairs(s.buffers) do
      for _, b in ipairs(sorted_keys(buffers)) do
        local n = string.format("optimizer.%d.%s", i, b)
        prefixed[#prefixed + 1], all[n] = n, buffers[b]
      end
    end
  end
  if parts.schedule then info.schedule = parts.schedule:state() end
  if parts.data then info.data = parts.data:state() end
  local meta = {["recur.version"] = core._VERSION, [TRAINING_KEY] = info}
  local cfg = config_of(parts.model)
  if cfg then meta["recur.model"] = cfg end
  local ok, err = pcall(function() F.write_file_atomic(path, encode(prefixed, all, meta)) end)
  if not ok then error(err, 2) end
end

--- Restores a training checkpoint into the given parts (same keys as save_training)
-- and returns {iteration =, history =, extra =}.
function checkpoint.load_training(path, parts)
  local _, tensors, meta = read(path)
  if not meta[TRAINING_KEY] then error("load_training: " .. path .. " is not a training checkpoint", 2) end
  local info = json.decode(meta[TRAINING_KEY])
  local model_tensors, buffers = {}, {}
  for n, t in pairs(tensors) do
    local m = n:match("^model%.(.+)$")
    local i, b = n:match("^optimizer%.(%d+)%.(.+)$")
    if m then model_tensors[m] = t end
    if i then
      i = tonumber(i)
      buffers[i] = buffers[i] or {}
      buffers[i][b] = t
    end
  end
  checkpoint.load_state(parts.model, model_tensors)
  if parts.optimizer then
    if not info.optimizer then error("load_training: " .. path .. " has no optimizer state", 2) end
    parts.optimizer:load_state({kind = info.optimizer.kind, step = info.optimizer.step, lr = info.optimizer.lr,
      buffers = buffers})
  end
  if parts.schedule and info.schedule then parts.schedule:load_state(info.schedule) end
  if parts.data and info.data then parts.data:load_state(info.data) end
  core.default_generator():set_state(info.default_generator)
  for name, g in pairs(parts.generators or {}) do
    if not info.generators[name] then error("load_training: no state for generator '" .. name .. "'", 2) end
    g:set_state(info.generators[name])
  end
  return {iteration = info.iteration, history = info.history, extra = info.extra}
end

return checkpoint
