std = "max" -- the library runs on Lua 5.1 to 5.4 and LuaJIT
max_line_length = 160
files["specs"] = { std = "+busted", max_line_length = 220 } -- tables of test cases
exclude_files = { "specs/fixtures", "platform/fixtures", "luarocks-tree", "build" }
files["examples/love"] = { globals = { "love" } } -- LÖVE's callbacks are fields of its global
