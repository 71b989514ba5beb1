/* A persistent lua_State with recur.core loaded, for the harnesses that go through the
 * Lua binding: each input calls one function of recur.core.F in protected mode. */
#ifndef RECUR_FUZZ_LUA_HARNESS_H
#define RECUR_FUZZ_LUA_HARNESS_H

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

int luaopen_recur_core(lua_State *L);

static lua_State *harness_state(void) {
  static lua_State *L = NULL; /* one per fuzzing process (the harness, not recur) */
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaopen_recur_core(L);
    lua_setglobal(L, "core");
  }
  lua_settop(L, 0);
  return L;
}

/* pushes core.F[name] */
static void push_function(lua_State *L, const char *name) {
  lua_getglobal(L, "core");
  lua_getfield(L, -1, "F");
  lua_getfield(L, -1, name);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* frees garbage now and then so the fuzzer's memory stays flat */
static void harness_collect(lua_State *L) {
  static unsigned calls = 0;
  if (++calls % 256 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
}

#endif
