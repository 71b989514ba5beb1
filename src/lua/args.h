/* What every binding of recur shares: the C form of a recur.Tensor, the checks of
 * tensor arguments, and the checked reading of Lua arguments. This is the one place
 * where sizes, indices and arrays coming from Lua are turned into C values.
 * Metamethods are never trusted (raw length, raw access), every size and index is
 * overflow-checked, and every error is "bad argument #arg to 'fn' (what: expected ...,
 * got ...)". It calls no other file of src/lua. */
#ifndef RECUR_LUA_ARGS_H
#define RECUR_LUA_ARGS_H

#include "../core/common.h"
#include "compat.h"

#define RC_MAX_DIMS 8
#define RC_TENSOR "recur.Tensor"

/* The most elements of a tensor: 4 TiB of floats on 64-bit machines, far above any real
 * use; on 32-bit ones (wasm32), as many floats as size_t counts bytes of, less the
 * storage's 64-byte alignment slack. Every tensor's shape keeps the invariant checked by
 * rcl_shape_numel: each size is at most RCL_MAX_NUMEL and so is the product of its
 * non-zero sizes. Any product of some of a tensor's sizes, and any index into it, is then
 * exact in size_t and lua_Integer. */
#if SIZE_MAX > 0xFFFFFFFFu
#define RCL_MAX_NUMEL ((size_t)1 << 40)
#else
#define RCL_MAX_NUMEL ((SIZE_MAX - 64) / sizeof(float))
#endif

/* the most elements a Lua array argument may have */
#define RCL_MAX_ARRAY ((size_t)1 << 31)

/* a recur.Tensor: float32, row-major, contiguous, 1 to 8 dimensions (tensor.c makes them) */
typedef struct rc_tensor {
  float *data;
  int ndim;
  lua_Integer shape[RC_MAX_DIMS];
  size_t numel;
} rc_tensor;

/* ---- argument errors ------------------------------------------------------------------ */

/* luaL_argerror that names the function on every Lua: where the call site gives no name
 * (LuaJIT's tail calls of C functions) it is looked up among recur.core's functions and
 * the Tensor, Generator and Stepper methods. Every check below raises through it. */
RC_INTERNAL int rcl_argerror(lua_State *L, int arg, const char *extramsg);

/* ---- values and tensors ------------------------------------------------------------- */

/* the __name of a value's metatable (e.g. "recur.Tensor"), else its Lua type name */
RC_INTERNAL const char *rcl_typename(lua_State *L, int idx);
RC_INTERNAL rc_tensor *rcl_test_tensor(lua_State *L, int arg);
RC_INTERNAL rc_tensor *rcl_check_tensor(lua_State *L, int arg, const char *name);
/* raises "bad argument #arg to fn (name: expected shape (...), got (...))" unless t has it */
RC_INTERNAL void rcl_check_shape(lua_State *L, int arg, const rc_tensor *t, const char *name, int ndim,
                                 const lua_Integer *shape);
RC_INTERNAL void rcl_shape_string(const lua_Integer *shape, int ndim, char *buf, size_t size);

/* ---- integers, sizes and indices ------------------------------------------------------ */

/* The integer at arg, which must lie in [lo, hi]. */
RC_INTERNAL lua_Integer rcl_check_integer_in(lua_State *L, int arg, const char *what, lua_Integer lo,
                                             lua_Integer hi);
/* The 1-based index at arg into a dimension of `size`, returned 0-based. */
RC_INTERNAL size_t rcl_check_index(lua_State *L, int arg, const char *what, lua_Integer size);

/* The number of elements of shape[0..ndim): 1 and *out when the shape keeps the
 * invariant above (every size in 0..RCL_MAX_NUMEL, the product of the non-zero ones at
 * most RCL_MAX_NUMEL), else 0. Never overflows. */
RC_INTERNAL int rcl_shape_numel(const lua_Integer *shape, int ndim, size_t *out);

/* ---- Lua arrays ------------------------------------------------------------------------- */

/* The raw length of the plain table at arg (no __len), at most `max`. */
RC_INTERNAL size_t rcl_check_array(lua_State *L, int arg, const char *what, size_t max);

/* The string at raw index i (1-based) of the array at arg, which must be a string. */
RC_INTERNAL const char *rcl_array_string(lua_State *L, int arg, const char *what, size_t i, size_t *len);

/* A list of integers given as a tensor (any shape, its elements in order) or as a
 * plain Lua array. */
typedef struct rcl_int_list {
  lua_State *L;
  int arg;
  const char *what;
  const rc_tensor *tensor; /* NULL for a Lua array */
  size_t n;
} rcl_int_list;

RC_INTERNAL rcl_int_list rcl_check_int_list(lua_State *L, int arg, const char *what);
/* element i (0-based): 1 and *v when it is an integral number in lua_Integer's range, else 0 */
RC_INTERNAL int rcl_int_list_at(const rcl_int_list *list, size_t i, lua_Integer *v);
/* element i (0-based), which must be an integer in [lo, hi] */
RC_INTERNAL lua_Integer rcl_int_list_check(const rcl_int_list *list, size_t i, lua_Integer lo,
                                           lua_Integer hi);
/* raises the error for element i not being an integer in [lo, hi] */
RC_INTERNAL int rcl_int_list_error(const rcl_int_list *list, size_t i, lua_Integer lo, lua_Integer hi);

/* ---- numbers and text -------------------------------------------------------------------- */

/* The number at arg (luaL_checknumber and luaL_optnumber, their errors through rcl_argerror). */
RC_INTERNAL double rcl_check_number(lua_State *L, int arg, const char *what);
RC_INTERNAL double rcl_opt_number(lua_State *L, int arg, const char *what, double def);
/* The userdata of type tname at arg (luaL_checkudata, its error through rcl_argerror);
 * rcl_check_tensor is this for recur.Tensor. */
RC_INTERNAL void *rcl_check_udata(lua_State *L, int arg, const char *tname, const char *what);

/* The number at arg (default def when none or nil), which must be finite. */
RC_INTERNAL double rcl_opt_finite(lua_State *L, int arg, const char *what, double def);

/* 0 when s[0..n) is valid UTF-8, else 1 + the byte offset of the first invalid sequence */
RC_INTERNAL size_t rcl_utf8_error(const char *s, size_t n);

#endif
