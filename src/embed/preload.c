/* recur_preload: recur.core and recur's Lua modules in package.preload, for hosts that link
 * recur statically. The Lua sources are compiled in (build/embed/recur_lua.c, generated
 * by tools/embed-lua.lua). */
#include "lauxlib.h"
#include "lua.h"
#include "recur.h"

typedef struct recur_lua_module {
  const char *name;
  const char *source;
  size_t size;
} recur_lua_module;

extern const recur_lua_module recur_lua_modules[];

/* package.preload loader: runs the module's chunk with the module name as argument */
static int load_module(lua_State *L) {
  const recur_lua_module *m = &recur_lua_modules[lua_tointeger(L, lua_upvalueindex(1))];
  lua_pushfstring(L, "=%s", m->name);
  if (luaL_loadbuffer(L, m->source, m->size, lua_tostring(L, -1)) != 0) return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

void recur_preload(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_recur_core);
  lua_setfield(L, -2, "recur.core");
  for (int i = 0; recur_lua_modules[i].name; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, load_module, 1);
    lua_setfield(L, -2, recur_lua_modules[i].name);
  }
  lua_pop(L, 2);
}
