-- `luarocks test` (the rockspec's test section): the spec suite through the in-tree build,
-- `make test LUA=<this interpreter>`, with the busted found on PATH (Debian's lua-busted), so
-- that it needs no busted rock and no network. Arguments go to busted.
local i = -1
while arg[i - 1] do i = i - 1 end
local interpreter = arg[i] -- the Lua that LuaRocks runs (lua5.1, lua5.3, lua5.4, ...)

local function quote(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end
local busted_args = {}
for k = 1, #arg do busted_args[k] = quote(arg[k]) end
local command = string.format("make test LUA=%s BUSTED_ARGS=%s", quote(interpreter),
  quote(table.concat(busted_args, " ")))
print(command)
local ok, _, code = os.execute(command)
local status = ok
if type(ok) ~= "number" then status = ok and 0 or (code or 1) end -- Lua 5.1 returns the status alone
os.exit(status == 0 and 0 or 1)
