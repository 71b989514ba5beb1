/* recur.core: the C module that lua/recur/init.lua loads. */
#include "../core/blas.h"
#include "../core/dispatch.h"
#include "../core/packed.h"
#include "args.h"
#include "compat.h"
#include "data.h"
#include "files.h"
#include "functional.h"
#include "generator.h"
#include "layer.h"
#include "safetensors.h"
#include "stepper.h"
#include "tensor.h"
#include "tensor_arith.h"
#include "workers.h"

#define RECUR_VERSION "0.1.0-dev"

/* sets the BLAS thread count (0: the current one); raises when the memory for its work
 * buffers is missing (see rc_blas_set_threads) */
static void set_threads(lua_State *L, const char *fn, int n) {
  if (rc_blas_set_threads(n) != 0)
    luaL_error(L, "%s: not enough memory for the work buffers of %s's %d threads", fn, rc_blas_name(),
               n ? n : rc_blas_get_threads());
}

static int l_set_num_threads(lua_State *L) {
  rcl_set_num_threads(L, rcl_check_integer_in(L, 1, "threads", 1, RC_POOL_MAX_THREADS));
  return 0;
}

static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, rcl_get_num_threads(L));
  return 1;
}

static void set_string(lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value ? value : "unknown");
  lua_setfield(L, -2, key);
}

static int l_config(lua_State *L) {
  lua_newtable(L);
  set_string(L, "version", RECUR_VERSION);
  set_string(L, "lua", RCL_LUA_RELEASE);
  set_string(L, "blas", rc_blas_name());
  set_string(L, "blas_corename", rc_blas_corename());
  set_string(L, "blas_config", rc_blas_config());
  set_string(L, "vector_level", rc_vector_level());
  const rc_packed_kernel *pk = rc_packed_kernel_for_cpu();
  set_string(L, "packed_gemm", pk ? pk->name : "none");
  lua_pushinteger(L, rcl_get_num_threads(L));
  lua_setfield(L, -2, "num_threads");
  lua_pushinteger(L, rc_blas_get_threads());
  lua_setfield(L, -2, "blas_threads");
  return 1;
}

static const luaL_Reg core_functions[] = {{"set_num_threads", l_set_num_threads},
                                          {"get_num_threads", l_get_num_threads},
                                          {"config", l_config},
                                          {NULL, NULL}};

RECUR_API int luaopen_recur_core(lua_State *L) {
  set_threads(L, "recur", 0);
  luaL_newlib(L, core_functions);
  lua_pushliteral(L, RECUR_VERSION);
  lua_setfield(L, -2, "_VERSION");
  rcl_open_tensor(L);
  rcl_open_tensor_arith(L);
  rcl_open_generator(L);
  /* F: the kernels, codecs and layer internals that lua/recur/ wraps (not in the `recur` table) */
  lua_newtable(L);
  rcl_open_functional(L);
  rcl_open_data(L);
  rcl_open_safetensors(L);
  rcl_open_layers(L);
  lua_setfield(L, -2, "F");
  rcl_open_files(L);
  rcl_open_stepper(L);
  return 1;
}
