/* recur's C API, for programs that host Lua (game engines and other embedders).
 *
 *   lua_State *L = luaL_newstate();
 *   luaL_openlibs(L);
 *   recur_preload(L);                 // require "recur" now works, no files needed
 *   float obs[8];                     // memory the host owns and updates every frame
 *   int64_t shape[1] = {8};
 *   recur_push_tensor_view(L, obs, 1, shape);  // a recur.Tensor over obs, no copy
 *   lua_setglobal(L, "observation");
 *
 * Threads: recur has no mutable C globals; each lua_State is independent, so different
 * threads may each run their own lua_State with recur at the same time (one lua_State
 * must not be used by two threads at once, as for any Lua code). OpenBLAS's own thread
 * count is process-wide (recur.set_num_threads). */
#ifndef RECUR_H
#define RECUR_H

#include <stdint.h>

#include "lua.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The C module (package.preload["recur.core"] calls this). */
int luaopen_recur_core(lua_State *L);

/* Registers recur.core and every Lua module of recur ("recur", "recur.nn", ...) in
 * package.preload, from sources compiled into the library. Requires the package library. */
void recur_preload(lua_State *L);

/* Pushes a recur.Tensor of the given shape (1 to 8 dimensions) over caller-owned floats.
 * No copy is made: the host may write data between script calls and scripts see it, and
 * in-place tensor methods write into it. Lifetime: data must stay valid, and must not be
 * freed or moved, for as long as the tensor or any view made from it (t:view, t[i], ...)
 * may be used by a script; release the memory only after lua_close, or after dropping
 * every reference and running a full collection. Scripts never see the raw pointer.
 * Returns 1 (the tensor is on the stack), or raises a Lua error for a bad shape. */
int recur_push_tensor_view(lua_State *L, float *data, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif

#endif
