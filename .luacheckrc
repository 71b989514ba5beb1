std = "lua54"
max_line_length = 160
files["specs"] = { std = "+busted" }
exclude_files = { "specs/fixtures", "luarocks-tree", "build" }
