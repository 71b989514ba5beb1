/* libFuzzer harness: recur.tensor from nested Lua tables built out of the input bytes,
 * then a few methods on the result. Byte codes: 0-9 open a table, 10-19 close it,
 * 20-29 a string, 30-39 a boolean, the rest a number (the byte, scaled). */
#include <stddef.h>
#include <stdint.h>

#include "lua_harness.h"

#define MAX_DEPTH 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = harness_state();
  lua_getglobal(L, "core");
  lua_getfield(L, -1, "tensor");
  lua_newtable(L);
  int depth = 1;
  lua_Integer index[MAX_DEPTH + 1] = {0};
  for (size_t i = 0; i < size && i < 4096; i++) {
    uint8_t b = data[i];
    if (b < 10 && depth < MAX_DEPTH) {
      lua_newtable(L);
      index[++depth] = 0;
      continue;
    }
    if (b >= 10 && b < 20 && depth > 1) {
      lua_rawseti(L, -2, ++index[--depth]);
      continue;
    }
    if (b >= 20 && b < 30)
      lua_pushliteral(L, "x");
    else if (b >= 30 && b < 40)
      lua_pushboolean(L, b & 1);
    else
      lua_pushnumber(L, (lua_Number)(b - 128) / 8.0);
    lua_rawseti(L, -2, ++index[depth]);
  }
  while (depth > 1) lua_rawseti(L, -2, ++index[--depth]);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) { /* t:sum(), t:totable(), tostring(t), t:view{-1} */
    static const char *const methods[] = {"sum", "totable", "norm"};
    for (int m = 0; m < 3; m++) {
      lua_getfield(L, -1, methods[m]);
      lua_pushvalue(L, -2);
      lua_pcall(L, 1, 1, 0);
      lua_pop(L, 1);
    }
    luaL_tolstring(L, -1, NULL);
  }
  harness_collect(L);
  return 0;
}
