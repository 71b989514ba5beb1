/* libFuzzer harness: whole safetensors files through recur's decoder (core.F.st_decode).
 * Any input must give tensors or a Lua error, never a crash or an out-of-bounds access. */
#include <stddef.h>
#include <stdint.h>

#include "lua_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = harness_state();
  push_function(L, "st_decode");
  lua_pushlstring(L, (const char *)data, size);
  lua_pcall(L, 1, 3, 0);
  harness_collect(L);
  return 0;
}
