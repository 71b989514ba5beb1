/* The recur.Tensor userdata: float32, row-major, contiguous, 1 to 8 dimensions.
 * Its memory belongs to a storage userdata (Lua's allocator, seen by the GC) held in
 * the tensor's user value, so views keep their base's memory alive. The C form of a
 * tensor and the checks of tensor arguments are in args.h. */
#ifndef RECUR_LUA_TENSOR_H
#define RECUR_LUA_TENSOR_H

#include "args.h"

/* pushes a new storage userdata of n zeroed floats (64-byte aligned) and returns its data */
RC_INTERNAL float *rcl_new_storage(lua_State *L, size_t n);
/* pushes a new zeroed tensor with its own storage; the shape must keep args.h's
 * invariant (an error is raised otherwise) */
RC_INTERNAL rc_tensor *rcl_new_tensor(lua_State *L, int ndim, const lua_Integer *shape);
/* the same, its elements left unset: for a result that C code writes whole before Lua can
 * see it (a recurrent layer's outputs and gradients; saves clearing megabytes per call) */
RC_INTERNAL rc_tensor *rcl_new_result(lua_State *L, int ndim, const lua_Integer *shape);
/* pushes a tensor over `data` that keeps the storage of the tensor or storage at `owner` alive */
RC_INTERNAL rc_tensor *rcl_new_view(lua_State *L, int owner, float *data, int ndim, const lua_Integer *shape);
/* t:clone() as a lua_CFunction */
RC_INTERNAL int rcl_tensor_clone(lua_State *L);
/* registers the tensor type and recur.tensor, zeros, ones, full, randn, rand into the table on top */
RC_INTERNAL void rcl_open_tensor(lua_State *L);

#endif
