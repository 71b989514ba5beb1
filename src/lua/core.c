/* recur.core: the C module that lua/recur/init.lua loads. */
#include "../core/blas.h"
#include "../core/dispatch.h"
#include "compat.h"
#include "files.h"
#include "functional.h"
#include "generator.h"
#include "layer.h"
#include "stepper.h"
#include "tensor.h"

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
  lua_pushinteger(L, rc_blas_get_threads());
  lua_setfield(L, -2, "num_threads");
  return 1;
}

static const luaL_Reg core_functions[] = {{"set_num_threads", l_set_num_threads},
                                          {"get_num_threads", l_get_num_threads},
                                          {"config", l_config},
                                          {NULL, NULL}};

RECUR_API int luaopen_recur_core(lua_State *L) {
  luaL_newlib(L, core_functions);
  lua_pushliteral(L, RECUR_VERSION);
  lua_setfield(L, -2, "_VERSION");
  rcl_open_tensor(L);
  rcl_open_generator(L);
  rcl_open_functional(L);
  rcl_open_files(L);
  lua_getfield(L, -1, "F"); /* the recurrent layers' C side is private, like F */
  rcl_open_layers(L);
  lua_pop(L, 1);
  rcl_open_stepper(L);
  return 1;
}
