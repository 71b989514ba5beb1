/* recur.core: the C module that lua/recur/init.lua loads. */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "../core/blas.h"
#include "compat.h"
#include "functional.h"
#include "generator.h"
#include "layer.h"
#include "tensor.h"
#include "tensor_arith.h"

#define RECUR_VERSION "0.1.0-dev"

static int l_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1)
    return luaL_argerror(
        L, 1, lua_pushfstring(L, "threads: expected at least 1, got %s", rcl_istr(L, (long long)(n))));
  rc_blas_set_threads((int)n);
  return 0;
}

static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, rc_blas_get_threads());
  return 1;
}

/* seconds on a monotonic clock (wall time, unlike os.clock's CPU time) */
static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
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
  lua_pushinteger(L, rc_blas_get_threads());
  lua_setfield(L, -2, "num_threads");
  return 1;
}

static const luaL_Reg core_functions[] = {{"set_num_threads", l_set_num_threads},
                                          {"get_num_threads", l_get_num_threads},
                                          {"config", l_config},
                                          {"monotonic", l_monotonic},
                                          {NULL, NULL}};

RECUR_API int luaopen_recur_core(lua_State *L) {
  luaL_newlib(L, core_functions);
  lua_pushliteral(L, RECUR_VERSION);
  lua_setfield(L, -2, "_VERSION");
  rcl_open_tensor(L);
  rcl_open_tensor_arith(L);
  rcl_open_generator(L);
  rcl_open_layers(L);
  rcl_open_functional(L);
  return 1;
}
