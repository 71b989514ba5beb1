std = "lua54"
max_line_length = 160
files["specs"] = { std = "+busted", max_line_length = 220 } -- tables of test cases
exclude_files = { "specs/fixtures", "luarocks-tree", "build" }
