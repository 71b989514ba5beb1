/* libFuzzer harness: CSV text through recur's reader (core.F.read_csv), asking for a
 * numeric column "a" and a string column "b". */
#include <stddef.h>
#include <stdint.h>

#include "lua_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = harness_state();
  push_function(L, "read_csv");
  lua_pushlstring(L, (const char *)data, size);
  lua_createtable(L, 1, 0);
  lua_pushliteral(L, "a");
  lua_rawseti(L, -2, 1);
  lua_createtable(L, 1, 0);
  lua_pushliteral(L, "b");
  lua_rawseti(L, -2, 1);
  lua_pcall(L, 3, 2, 0);
  harness_collect(L);
  return 0;
}
