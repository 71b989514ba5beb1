-- Writes the release rockspec of VERSION from recur-scm-1.rockspec, its source the tarball at
-- URL (`make dist` gives the file:// address of the tarball it writes, so that `luarocks pack`
-- and `luarocks install` work offline; a published release gives its download address):
--   lua5.4 tools/release-rockspec.lua 0.1.0 file:///.../recur-0.1.0.tar.gz OUT.rockspec
local version, url, out = arg[1], arg[2], arg[3]
assert(version and url and out, "usage: release-rockspec.lua VERSION URL OUT")
local f = assert(io.open("recur-scm-1.rockspec", "rb"))
local text = f:read("*a")
f:close()
local versions, sources
text, versions = text:gsub('\nversion = "scm%-1"\n', '\nversion = "' .. version .. '-1"\n')
text, sources = text:gsub("\nsource = %b{}\n", function()
  return string.format('\nsource = {\n  url = "%s",\n  dir = "recur-%s",\n}\n', url, version)
end)
assert(versions == 1 and sources == 1, "recur-scm-1.rockspec: no version or source entry")
f = assert(io.open(out, "wb"))
f:write("-- generated from recur-scm-1.rockspec by tools/release-rockspec.lua\n", text)
f:close()
