/* Checked reading of Lua arguments: the one place where sizes, indices and
 * arrays coming from Lua are turned into C values. Metamethods are never trusted
 * (raw length, raw access), every size is overflow-checked, and every error is
 * "bad argument #arg to 'fn' (what: expected ..., got ...)". */
#ifndef RECUR_LUA_ARGS_H
#define RECUR_LUA_ARGS_H

#include "tensor.h"

/* the most elements a Lua array argument may have */
#define RCL_MAX_ARRAY ((size_t)1 << 31)

/* The integer at arg, which must lie in [lo, hi]. */
RC_INTERNAL lua_Integer rcl_check_integer_in(lua_State *L, int arg, const char *what, lua_Integer lo,
                                             lua_Integer hi);

/* The raw length of the plain table at arg (no __len), at most `max`. */
RC_INTERNAL size_t rcl_check_array(lua_State *L, int arg, const char *what, size_t max);

/* The number of elements of shape[0..ndim), checked against overflow and `limit`:
 * 1 and *out on success, 0 when the product exceeds limit. */
RC_INTERNAL int rcl_shape_numel(const lua_Integer *shape, int ndim, size_t limit, size_t *out);

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

#endif
