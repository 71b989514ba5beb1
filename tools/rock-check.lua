-- Loads recur from the LuaRocks tree given in LUA_PATH/LUA_CPATH (see `make rock-check`)
-- and runs one layer, so a broken rockspec fails CI.
local recur = require "recur"
local where = package.searchpath("recur.core", package.cpath)
assert(where and where:find("rock%-tree"), "recur.core was not loaded from the rock tree: " .. tostring(where))
local y = recur.GRU{input_size = 2, hidden_size = 3}:forward(recur.ones{4, 1, 2})
assert(y:size(3) == 3)
print("rock loads: recur " .. recur._VERSION .. " from " .. where)
