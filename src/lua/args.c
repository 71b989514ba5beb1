/* Checked reading of Lua arguments (see args.h). */
#include "args.h"

#include <math.h>

/* a description of the value at idx for messages: its number, or its type */
static const char *describe(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) return lua_pushfstring(L, "%s", luaL_tolstring(L, idx, NULL));
  return rcl_typename(L, idx);
}

/* the integer value of a double, when it is integral and within lua_Integer's range */
static int integral(double v, lua_Integer *out) {
  /* 2^63 as a double: the first value past LUA_MAXINTEGER on 64-bit integers */
  const double limit = -(double)LUA_MININTEGER;
  if (!(v >= -limit && v < limit) || v != floor(v)) return 0;
  *out = (lua_Integer)v;
  return 1;
}

/* "an integer in lo..hi", or the open-ended forms when hi is unbounded, pushed */
static const char *range_text(lua_State *L, lua_Integer lo, lua_Integer hi) {
  if (hi != LUA_MAXINTEGER)
    return lua_pushfstring(L, "an integer in %s..%s", rcl_istr(L, lo), rcl_istr(L, hi));
  if (lo == 0) return lua_pushfstring(L, "a non-negative integer");
  if (lo == 1) return lua_pushfstring(L, "a positive integer");
  return lua_pushfstring(L, "an integer >= %s", rcl_istr(L, lo));
}

static int number_at(lua_State *L, int idx, lua_Integer *out) {
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  int ok;
  *out = lua_tointegerx(L, idx, &ok);
  return ok || integral(lua_tonumber(L, idx), out);
}

lua_Integer rcl_check_integer_in(lua_State *L, int arg, const char *what, lua_Integer lo, lua_Integer hi) {
  lua_Integer v;
  if (!number_at(L, arg, &v) || v < lo || v > hi)
    luaL_argerror(
        L, arg, lua_pushfstring(L, "%s: expected %s, got %s", what, range_text(L, lo, hi), describe(L, arg)));
  return v;
}

size_t rcl_check_array(lua_State *L, int arg, const char *what, size_t max) {
  if (!lua_istable(L, arg))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: expected a table, got %s", what, rcl_typename(L, arg)));
  size_t n = (size_t)lua_rawlen(L, arg);
  if (n > max)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected at most %s elements, got %s", what,
                                  rcl_istr(L, (long long)max), rcl_istr(L, (long long)n)));
  return n;
}

int rcl_shape_numel(const lua_Integer *shape, int ndim, size_t limit, size_t *out) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (uint64_t)shape[i] > (uint64_t)SIZE_MAX || !rc_size_mul(n, (size_t)shape[i], &n))
      return 0;
  }
  if (n > limit) return 0;
  *out = n;
  return 1;
}

rcl_int_list rcl_check_int_list(lua_State *L, int arg, const char *what) {
  rcl_int_list list = {L, lua_absindex(L, arg), what, rcl_test_tensor(L, arg), 0};
  if (list.tensor)
    list.n = list.tensor->numel;
  else if (lua_istable(L, arg))
    list.n = rcl_check_array(L, arg, what, RCL_MAX_ARRAY);
  else
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected a tensor or an array of integers, got %s", what,
                                  rcl_typename(L, arg)));
  return list;
}

int rcl_int_list_at(const rcl_int_list *list, size_t i, lua_Integer *v) {
  if (list->tensor) return integral(list->tensor->data[i], v);
  lua_rawgeti(list->L, list->arg, (lua_Integer)i + 1);
  int ok = number_at(list->L, -1, v);
  lua_pop(list->L, 1);
  return ok;
}

int rcl_int_list_error(const rcl_int_list *list, size_t i, lua_Integer lo, lua_Integer hi) {
  lua_State *L = list->L;
  if (list->tensor)
    lua_pushnumber(L, (lua_Number)list->tensor->data[i]);
  else
    lua_rawgeti(L, list->arg, (lua_Integer)i + 1);
  return luaL_argerror(
      L, list->arg,
      lua_pushfstring(L, "%s[%s]: expected %s, got %s", list->what, rcl_istr(L, (long long)i + 1),
                      range_text(L, lo, hi), describe(L, -1)));
}

lua_Integer rcl_int_list_check(const rcl_int_list *list, size_t i, lua_Integer lo, lua_Integer hi) {
  lua_Integer v;
  if (!rcl_int_list_at(list, i, &v) || v < lo || v > hi) rcl_int_list_error(list, i, lo, hi);
  return v;
}
