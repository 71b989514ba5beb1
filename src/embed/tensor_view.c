/* recur_push_tensor_view: recur.Tensor views over memory the host owns (include/recur.h).
 * Built into recur.core itself, so that hosts loading the module dynamically have it too. */
#include "../lua/tensor.h"
#include "../../include/recur.h"

#define HOST_STORAGE "recur.HostStorage" /* stands for memory the host owns */

RECUR_API int recur_push_tensor_view(lua_State *L, float *data, int ndim, const int64_t *shape) {
  lua_Integer s[RC_MAX_DIMS];
  size_t numel;
  if (ndim < 1 || ndim > RC_MAX_DIMS)
    return luaL_error(L, "recur_push_tensor_view: ndim must be 1..%d", RC_MAX_DIMS);
  for (int i = 0; i < ndim; i++) s[i] = (lua_Integer)shape[i];
  if (!rcl_shape_numel(s, ndim, &numel))
    return luaL_error(L, "recur_push_tensor_view: bad shape (non-negative sizes, at most %s elements)",
                      rcl_istr(L, (long long)RCL_MAX_NUMEL));
  luaL_getmetatable(L, RC_TENSOR);
  int opened = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!opened) { /* the tensor type needs recur.core opened in this state */
    lua_pushcfunction(L, luaopen_recur_core);
    lua_call(L, 0, 1);
    lua_pop(L, 1);
  }
  lua_newuserdatauv(L, 1, 0);
  luaL_newmetatable(L, HOST_STORAGE);
  lua_setmetatable(L, -2);
  rcl_new_view(L, -1, data, ndim, s);
  lua_remove(L, -2);
  return 1;
}
