/* The recur.Tensor userdata: float32, row-major, contiguous, 1 to 8 dimensions.
 * Its memory belongs to a storage userdata (Lua's allocator, seen by the GC) held in
 * the tensor's user value, so views keep their base's memory alive. */
#ifndef RECUR_LUA_TENSOR_H
#define RECUR_LUA_TENSOR_H

#include "../core/common.h"
#include "compat.h"

#define RC_MAX_DIMS 8
#define RC_TENSOR "recur.Tensor"

typedef struct rc_tensor {
  float *data;
  int ndim;
  lua_Integer shape[RC_MAX_DIMS];
  size_t numel;
} rc_tensor;

/* pushes a new storage userdata of n zeroed floats (64-byte aligned) and returns its data */
RC_INTERNAL float *rcl_new_storage(lua_State *L, size_t n);
/* pushes a new zeroed tensor with its own storage */
RC_INTERNAL rc_tensor *rcl_new_tensor(lua_State *L, int ndim, const lua_Integer *shape);
/* pushes a tensor over `data` that keeps the storage of the tensor or storage at `owner` alive */
RC_INTERNAL rc_tensor *rcl_new_view(lua_State *L, int owner, float *data, int ndim, const lua_Integer *shape);
/* the __name of a value's metatable (e.g. "recur.Tensor"), else its Lua type name */
RC_INTERNAL const char *rcl_typename(lua_State *L, int idx);
RC_INTERNAL rc_tensor *rcl_check_tensor(lua_State *L, int arg, const char *name);
RC_INTERNAL rc_tensor *rcl_test_tensor(lua_State *L, int arg);
/* raises "bad argument #arg to fn (name: expected shape (...), got (...))" unless t has it */
RC_INTERNAL void rcl_check_shape(lua_State *L, int arg, const rc_tensor *t, const char *name, int ndim,
                                 const lua_Integer *shape);
RC_INTERNAL void rcl_shape_string(const lua_Integer *shape, int ndim, char *buf, size_t size);
/* t:clone() as a lua_CFunction */
RC_INTERNAL int rcl_tensor_clone(lua_State *L);
RC_INTERNAL void rcl_open_tensor(lua_State *L);

#endif
