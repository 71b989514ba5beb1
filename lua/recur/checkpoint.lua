--- Checkpoints in the safetensors format: weights under PyTorch's state_dict names
-- (with module prefixes), metadata that rebuilds the model, and training checkpoints
-- that resume bit for bit. Every save is atomic: a temporary file in the same
-- directory is written, fsynced and renamed over the old one. A save first checks that
-- the loader will accept what it writes (UTF-8 names and metadata, JSON values, the
-- header size limit) and raises otherwise, leaving the old file as it was.
-- @module recur.checkpoint
local core = require "recur.core"
local json = require "recur.json"
local nn = require "recur.nn"
local util = require "recur.util"

local F = core.F
local checkpoint = {}

local is_tensor = util.is_tensor
local TRAINING_KEY = "recur.training"

local sorted_keys = util.sorted_keys

--- The named tensors of a module, of a table of tensors, or of a named table of modules
-- (`nn.state_of`).
checkpoint.state_of = nn.state_of

--- The configuration of a module or a named table of modules, for rebuilding (nil when
-- there is none: a table of tensors, or a table that contains itself).
local function config_of(obj, seen)
  if (type(obj) == "table" or type(obj) == "userdata") and type(obj.config) == "function" then return obj:config() end
  seen = seen or {}
  if type(obj) == "table" and not seen[obj] and not is_tensor(next(obj) and obj[next(obj)]) then
    seen[obj] = true
    local children = {}
    for k, v in pairs(obj) do
      local c = config_of(v, seen)
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

local function check_path(fn, path)
  if type(path) ~= "string" then util.error("%s: path: expected a string, got %s", fn, util.describe(path)) end
end

-- raises an error of recur's codecs and writers (C functions called with pcall, and json,
-- which raise without a position) again at the user's line, under `fn`
local function raise_in(fn, err, context)
  util.rethrow(fn, type(err) == "string" and err:gsub("^json: ", "") or err, context)
end

-- the safetensors bytes of the named tensors and the metadata (string -> string, number,
-- boolean or a JSON table), checked as the loader will check them
local function encode(fn, names, tensors, metadata)
  local list, keys, values = {}, {}, {}
  for i, n in ipairs(names) do
    if json.utf8_error(n) then util.error("%s: the tensor name %q is not valid UTF-8", fn, n) end
    list[i] = tensors[n]
  end
  for _, k in ipairs(sorted_keys(metadata)) do
    local v = metadata[k]
    if json.utf8_error(k) then util.error("%s: the metadata key %q is not valid UTF-8", fn, k) end
    local kind = type(v)
    if kind == "table" then
      local ok, text = pcall(json.encode, v, {allow_nan = k == TRAINING_KEY})
      if not ok then raise_in(fn, text, "metadata '" .. k .. "': ") end
      v = text
    elseif kind == "number" or kind == "boolean" then
      v = tostring(v)
    elseif kind ~= "string" then
      util.error("%s: metadata '%s': expected a string, number, boolean or table, got %s", fn, k, util.describe(v))
    elseif json.utf8_error(v) then
      util.error("%s: metadata '%s': the string is not valid UTF-8 (byte %d)", fn, k, json.utf8_error(v))
    end
    keys[#keys + 1], values[#values + 1] = k, v
  end
  local ok, bytes = pcall(F.st_encode, names, list, keys, values)
  if not ok then raise_in(fn, bytes) end
  return bytes
end

local function write(fn, path, bytes)
  local ok, err = pcall(F.write_file_atomic, path, bytes)
  if not ok then raise_in(fn, err) end
end

--- Saves a module (or a table of tensors or modules) to a safetensors file.
-- Metadata records recur's version and the model's configuration; `metadata` adds
-- string pairs (numbers and booleans are converted, tables are JSON-encoded: read them
-- back with `checkpoint.decode`).
-- @string path
-- @param obj
-- @tparam[opt] table metadata
function checkpoint.save(path, obj, metadata)
  check_path("save", path)
  if metadata ~= nil and type(metadata) ~= "table" then
    util.error("save: metadata: expected a table, got %s", util.describe(metadata))
  end
  local names, tensors = checkpoint.state_of(obj)
  local meta = {["recur.version"] = core._VERSION, format = "pt"}
  local cfg = config_of(obj)
  if cfg then meta["recur.model"] = cfg end
  for k, v in next, metadata or {} do
    if type(k) ~= "string" then util.error("save: metadata keys must be strings, got %s", util.describe(k)) end
    meta[k] = v
  end
  write("save", path, encode("save", names, tensors, meta))
end

local function read(fn, path)
  check_path(fn, path)
  local f, err = io.open(path, "rb")
  if not f then util.error("%s: cannot open %s", fn, err) end
  local bytes, rerr = f:read("*a")
  f:close()
  if not bytes then util.error("%s: cannot read %s: %s", fn, path, tostring(rerr)) end
  local ok, names, tensors, meta = pcall(F.st_decode, bytes)
  if not ok then raise_in(fn, names, path .. ": ") end
  return names, tensors, meta
end

--- Reads a safetensors file (F32, F16 or BF16; others are an error).
-- @string path
-- @return name -> tensor, metadata (string -> string), names in file order
function checkpoint.load(path)
  local names, tensors, meta = read("load", path)
  return tensors, meta, names
end

--- The Lua value of a metadata string that `save` wrote from a table (JSON text).
-- @string text
function checkpoint.decode(text)
  if type(text) ~= "string" then util.error("decode: text: expected a string, got %s", util.describe(text)) end
  local ok, v = pcall(json.decode, text)
  if not ok then raise_in("decode", v) end
  return v
end

--- Copies named tensors into a module's parameters (`nn.load_state`; modules have it as
-- `m:load_state(tensors[, opts])`).
checkpoint.load_state = nn.load_state

-- the model's tensors (unprefixed) and the optimizer's buffers (group -> name -> tensor)
-- of a training checkpoint
local function training_tensors(tensors)
  local model, buffers = {}, {}
  for n, t in pairs(tensors) do
    local m = n:match("^model%.(.+)$")
    local i, b = n:match("^optimizer%.(%d+)%.(.+)$")
    if m then model[m] = t end
    if i then
      i = tonumber(i)
      buffers[i] = buffers[i] or {}
      buffers[i][b] = t
    end
  end
  return model, buffers
end

--- A model rebuilt from a file's metadata (a model or a training checkpoint), with its
-- weights loaded. Building the model
-- may allocate only on the order of the file's own tensors: a small file that describes a
-- large model is an error, not an allocation.
-- @string path
-- @return the model, the metadata
function checkpoint.load_model(path)
  local _, tensors, meta = read("load_model", path)
  local text = meta["recur.model"]
  if not text then util.error("load_model: %s has no recur.model metadata", path) end
  local ok, cfg = pcall(json.decode, text)
  if not ok then raise_in("load_model", cfg, path .. ": recur.model metadata: ") end
  if type(cfg) ~= "table" or type(cfg.type) ~= "string" then
    util.error("load_model: %s: recur.model metadata: expected a module configuration", path)
  end
  local held = 0
  for _, t in pairs(tensors) do held = held + t:numel() end
  -- the model's parameters and gradients, a temporary copy of each while they are drawn,
  -- and its Lua objects, which grow with the length of its description
  local budget = 16 * 4 * held + 64 * #text + 2 ^ 24
  local built = {F.with_allocation_limit(budget, rebuild, cfg)}
  if not built[1] then
    if built[3] then
      util.error("load_model: %s: the recur.model metadata describes a model larger than the file's %d parameters",
        path, held)
    end
    error(built[2], 0)
  end
  local model = built[2]
  checkpoint.load_state(model, meta[TRAINING_KEY] and training_tensors(tensors) or tensors)
  return model, meta
end

--- Training checkpoints
-- @section training

-- the arguments of save_training and load_training: a model, and optional parts with
-- state() and load_state(), and named generators
local function check_parts(fn, path, parts)
  check_path(fn, path)
  if type(parts) ~= "table" or parts.model == nil then
    util.error("%s: parts: expected {model = ..., ...}, got %s", fn, util.describe(parts))
  end
  for _, part in ipairs{"optimizer", "schedule", "data"} do
    local p = parts[part]
    if p ~= nil and (type(p) ~= "table" or type(p.state) ~= "function" or type(p.load_state) ~= "function") then
      util.error("%s: %s: expected an object with state() and load_state(), got %s", fn, part, util.describe(p))
    end
  end
  if parts.generators ~= nil and type(parts.generators) ~= "table" then
    util.error("%s: generators: expected a table of name -> recur.Generator, got %s", fn, util.describe(parts.generators))
  end
  for name, g in next, parts.generators or {} do
    if type(name) ~= "string" or not util.is_generator(g) then
      util.error("%s: generators: expected name -> recur.Generator, got %s -> %s", fn, util.describe(name),
        util.describe(g))
    end
  end
end

--- Saves everything a training run needs to resume exactly: `model`, `optimizer`,
-- `schedule`, `data` (anything with state()/load_state()), the default generator's
-- state and named `generators`, `iteration`, `history` and `extra` (JSON values; NaN
-- and infinities are kept, written as Python's json writes them).
-- @string path
-- @tab parts
function checkpoint.save_training(path, parts)
  check_parts("save_training", path, parts)
  local names, tensors = checkpoint.state_of(parts.model)
  local prefixed, all = {}, {}
  for i, n in ipairs(names) do
    prefixed[i] = "model." .. n
    all[prefixed[i]] = tensors[n]
  end
  local info = {iteration = parts.iteration or 0, history = parts.history or json.array(), extra = parts.extra or {},
    default_generator = core.default_generator():get_state(), generators = {}}
  for name, g in pairs(parts.generators or {}) do info.generators[name] = g:get_state() end
  if parts.optimizer then
    local s = parts.optimizer:state()
    if type(s) ~= "table" or type(s.buffers) ~= "table" then
      util.error("save_training: optimizer: expected a recur optimizer, got %s", util.describe(parts.optimizer))
    end
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
  write("save_training", path, encode("save_training", prefixed, all, meta))
end

-- the state of every part that load_training changes, to put back if it fails
local function snapshot(parts)
  local names, own = checkpoint.state_of(parts.model)
  local saved = {model = {}, default_generator = core.default_generator():get_state(), generators = {}}
  for _, n in ipairs(names) do saved.model[n] = own[n]:clone() end
  for _, part in ipairs{"optimizer", "schedule", "data"} do
    if parts[part] then saved[part] = parts[part]:state() end
  end
  for name, g in pairs(parts.generators or {}) do saved.generators[name] = g:get_state() end
  return saved, own
end

local function restore(parts, saved, own)
  for n, t in pairs(saved.model) do own[n]:copy(t) end
  for _, part in ipairs{"optimizer", "schedule", "data"} do
    if saved[part] then parts[part]:load_state(saved[part]) end
  end
  core.default_generator():set_state(saved.default_generator)
  for name, state in pairs(saved.generators) do parts.generators[name]:set_state(state) end
end

-- the training metadata's fields, checked before anything is changed
local function check_info(path, info, parts)
  local function bad(what, ...) util.error("load_training: %s: " .. what, path, ...) end
  if type(info) ~= "table" then bad("recur.training metadata: expected an object") end
  if type(info.default_generator) ~= "string" then bad("no default generator state") end
  if type(info.generators) ~= "table" then bad("no generator states") end
  for name in pairs(parts.generators or {}) do
    if type(info.generators[name]) ~= "string" then bad("no state for generator '%s'", name) end
  end
  if parts.optimizer then
    local o = info.optimizer
    if type(o) ~= "table" then bad("no optimizer state") end
    if o.kind ~= parts.optimizer.kind then
      bad("the checkpoint's optimizer is %s, the given one %s", tostring(o.kind), tostring(parts.optimizer.kind))
    end
  end
end

--- Restores a training checkpoint into the given parts (same keys as save_training)
-- and returns {iteration =, history =, extra =}. All or nothing: when any part does not
-- fit, every part is left as it was and the error is raised.
-- @string path
-- @tab parts
function checkpoint.load_training(path, parts)
  check_parts("load_training", path, parts)
  local _, tensors, meta = read("load_training", path)
  if not meta[TRAINING_KEY] then util.error("load_training: %s is not a training checkpoint", path) end
  local ok, info = pcall(json.decode, meta[TRAINING_KEY], {allow_nan = true})
  if not ok then raise_in("load_training", info, path .. ": recur.training metadata: ") end
  check_info(path, info, parts)
  local model_tensors, buffers = training_tensors(tensors)
  local saved, own = snapshot(parts)
  local loaded, err = pcall(function()
    checkpoint.load_state(parts.model, model_tensors)
    if parts.optimizer then
      parts.optimizer:load_state({kind = info.optimizer.kind, step = info.optimizer.step, lr = info.optimizer.lr,
        buffers = buffers})
    end
    if parts.schedule and info.schedule then parts.schedule:load_state(info.schedule) end
    if parts.data and info.data then parts.data:load_state(info.data) end
    core.default_generator():set_state(info.default_generator)
    for name, g in pairs(parts.generators or {}) do g:set_state(info.generators[name]) end
  end)
  if not loaded then
    restore(parts, saved, own)
    error(err, 0)
  end
  return {iteration = info.iteration, history = info.history, extra = info.extra}
end

return checkpoint
