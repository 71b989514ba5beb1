/* luaL_openlibs for a Lua built from source with recur compiled in (the WebAssembly build):
 * Lua's own linit.c under another name, then recur_preload, so that Lua's stand-alone
 * interpreter (lua.c, unchanged) can require "recur" with no files on disk. */
#define luaL_openlibs lua_stock_openlibs
#include "linit.c"
#undef luaL_openlibs

#include "recur.h"

LUALIB_API void luaL_openlibs(lua_State *L) {
  lua_stock_openlibs(L);
  recur_preload(L);
}
