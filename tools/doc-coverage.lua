-- Checks that the LDoc reference (built by `make docs` into build/docs) documents every
-- public function of recur: the top-level table, each module's table, and the methods of
-- Tensor, Generator, Stepper and the nn modules. Prints what is missing; exits 1 if anything is.
-- usage: lua5.4 tools/doc-coverage.lua [docs dir]
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "./?.so;build/?.so;" .. package.cpath
local recur = require "recur"
local dir = arg[1] or "build/docs"

-- module name -> set of the anchors on its page ("name", "Class:method")
local function anchors_of(module)
  local path = dir .. "/modules/" .. module .. ".html"
  local f = assert(io.open(path), path .. ": missing (run `make docs` first)")
  local set = {}
  for name in f:read("a"):gmatch('<a name = "([^"]+)"') do set[name] = true end
  f:close()
  return set
end

local missing = {}
local function need(ok, what) if not ok then missing[#missing + 1] = what end end

local function public_functions(t)
  local names = {}
  for name, v in pairs(t) do
    if type(name) == "string" and not name:find("^_") and type(v) == "function" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- the modules' own tables: every public function documented on the module's page
local pages, documented = {}, {}
local modules = {"nn", "loss", "optim", "data", "plot", "train", "checkpoint"}
for _, m in ipairs(modules) do
  pages[m] = anchors_of("recur." .. m)
  for _, name in ipairs(public_functions(recur[m])) do
    need(pages[m][name], "recur." .. m .. "." .. name)
    if pages[m][name] then documented[recur[m][name]] = true end
  end
end

-- the top level: documented on recur's or recur.core's page, or the same function as one
-- documented in a module (recur.LSTM is recur.nn.LSTM)
local top, core = anchors_of("recur"), anchors_of("recur.core")
for _, name in ipairs(public_functions(recur)) do
  need(top[name] or core[name] or documented[recur[name]], "recur." .. name)
end
for _, m in ipairs(modules) do need(type(recur[m]) == "table", "recur." .. m) end

-- the methods of an object, under its class (or its bases') on the given page
local function check_methods(object, class, page, bases)
  local mt = getmetatable(object)
  local index = mt.__index
  -- Tensor's __index is a C function reading its methods from its first upvalue
  if type(index) == "function" then index = select(2, debug.getupvalue(index, 1)) end
  assert(type(index) == "table", class .. ": no method table")
  local seen = {}
  local t = index
  while type(t) == "table" and not seen[t] do
    seen[t] = true
    for _, name in ipairs(public_functions(t)) do
      local found = page[class .. ":" .. name]
      for _, base in ipairs(bases or {}) do found = found or page[base .. ":" .. name] end
      need(found, class .. ":" .. name)
    end
    local parent = getmetatable(t)
    t = parent and parent.__index
  end
end

check_methods(recur.zeros{1}, "Tensor", core)
check_methods(recur.Generator(1), "Generator", core)
local lstm = recur.nn.LSTM{input_size = 2, hidden_size = 2}
check_methods(lstm:stepper(1), "Stepper", core)
check_methods(lstm, "Recurrent", pages.nn, {"Module"})
check_methods(recur.nn.Linear{in_features = 2, out_features = 2}, "Linear", pages.nn, {"Module"})
check_methods(recur.nn.Embedding{num_embeddings = 2, embedding_dim = 2}, "Embedding", pages.nn, {"Module"})
check_methods(recur.nn.Dropout{p = 0.5}, "Dropout", pages.nn, {"Module"})
check_methods(recur.nn.Sequential{}, "Sequential", pages.nn, {"Module"})
check_methods(recur.optim.SGD{lstm, lr = 0.1}, "Optimizer", pages.optim)

-- every function and method the modules' sources define (function mod.name, function
-- Class:name) outside "_" names; recur.distributed (the recur-mpi rock) is checked here only
pages.distributed = anchors_of("recur.distributed")
for _, m in ipairs{"nn", "loss", "optim", "data", "plot", "train", "checkpoint", "distributed"} do
  local f = assert(io.open("lua/recur/" .. m .. ".lua"))
  local source = f:read("a")
  f:close()
  for owner, sep, name in source:gmatch("\nfunction ([%w_]+)([.:])([%w_]+)%(") do
    local full = owner .. sep .. name
    if not name:find("^_") then need(pages[m][full] or (sep == "." and pages[m][name]), "recur." .. m .. ": " .. full) end
  end
end

if #missing > 0 then
  io.stderr:write("undocumented (" .. #missing .. "):\n  " .. table.concat(missing, "\n  ") .. "\n")
  os.exit(1)
end
print("doc coverage: every public function and method has an entry")
