-- Loads recur from the LuaRocks tree given in LUA_PATH/LUA_CPATH (see `make rock-check` and
-- `make rock-install-check`)
-- and runs one layer, so a broken rockspec fails CI.
local recur = require "recur"
-- package.searchpath, which Lua 5.1 lacks
local function searchpath(name, path)
  local file = name:gsub("%.", "/")
  for template in path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", file)
    local f = io.open(candidate)
    if f then
      f:close()
      return candidate
    end
  end
end
local where = searchpath("recur.core", package.cpath)
assert(where and where:find("rock%-tree"), "recur.core was not loaded from the rock tree: " .. tostring(where))
local y = recur.GRU{input_size = 2, hidden_size = 3}:forward(recur.ones{4, 1, 2})
assert(y:size(3) == 3)
local blas, expected = recur.config().blas, os.getenv("EXPECTED_BLAS")
assert(blas == (expected or blas), string.format("BLAS: %s, expected %s", blas, tostring(expected)))
print(string.format("rock loads: recur %s on %s (BLAS: %s) from %s", recur._VERSION, recur.config().lua, blas, where))
