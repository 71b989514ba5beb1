/* What every binding shares: tensor checks and checked argument reading (see args.h). */
#include "args.h"

#include <math.h>
#include <stdio.h>

#include "../core/utf8.h"

/* ---- argument errors ------------------------------------------------------------------ */

/* the key under which the table at `table` holds the value at `fn` (raw equality), pushed;
 * 0 and nothing pushed if none (or `table` is not a table) */
static int push_key_of(lua_State *L, int table, int fn) {
  if (!lua_istable(L, table)) return 0;
  lua_pushnil(L);
  while (lua_next(L, table)) {
    if (lua_rawequal(L, -1, fn) && lua_type(L, -2) == LUA_TSTRING) {
      lua_pop(L, 1);
      return 1;
    }
    lua_pop(L, 1);
  }
  return 0;
}

/* the classes whose methods are C functions (the names tensor.c, generator.c and
 * stepper.c register their metatables under) */
static const char *const CLASSES[] = {RC_TENSOR, "recur.Generator", "recur.Stepper"};

/* The name of the running C function, pushed, found among recur.core's functions and the
 * classes' methods; 1 for a method, 0 for a function, -1 (nothing pushed) if not found. */
static int push_own_name(lua_State *L) {
  lua_Debug ar;
  if (!lua_getstack(L, 0, &ar)) return -1;
  lua_getinfo(L, "f", &ar); /* the function */
  int fn = lua_gettop(L);
  for (size_t i = 0; i < sizeof CLASSES / sizeof *CLASSES; i++) {
    luaL_getmetatable(L, CLASSES[i]);
    lua_getfield(L, -1, "__index");
    if (lua_iscfunction(L, -1) && lua_getupvalue(L, -1, 1) == NULL) /* Tensor's: methods in its upvalue */
      lua_pushnil(L);
    if (push_key_of(L, lua_gettop(L), fn)) {
      lua_replace(L, fn);
      lua_settop(L, fn);
      return 1;
    }
    lua_settop(L, fn);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "recur.core");
  if (push_key_of(L, lua_gettop(L), fn)) {
    lua_replace(L, fn);
    lua_settop(L, fn);
    return 0;
  }
  lua_settop(L, fn - 1);
  return -1;
}

/* luaL_argerror, naming the function even where the call site cannot: LuaJIT names no C
 * function it reached by a tail call ("bad argument #1 to '?'"), so the name is then
 * looked up among recur's functions and methods. A method found that way is taken as
 * called with ':' (self is not counted, as luaL_argerror does for method calls). */
int rcl_argerror(lua_State *L, int arg, const char *extramsg) {
  lua_Debug ar;
  if (!lua_getstack(L, 0, &ar) || (lua_getinfo(L, "n", &ar), ar.name != NULL))
    return luaL_argerror(L, arg, extramsg);
  int method = push_own_name(L);
  if (method < 0) return luaL_argerror(L, arg, extramsg);
  const char *name = lua_tostring(L, -1);
  if (method && --arg == 0) return luaL_error(L, "calling '%s' on bad self (%s)", name, extramsg);
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, name, extramsg);
}

/* ---- values and tensors ------------------------------------------------------------- */

const char *rcl_typename(lua_State *L, int idx) {
  const char *name = NULL;
  if (luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
    name = lua_tostring(L, -1); /* the metatable keeps the string alive */
    lua_pop(L, 1);
  }
  return name ? name : luaL_typename(L, idx);
}

rc_tensor *rcl_test_tensor(lua_State *L, int arg) { return (rc_tensor *)luaL_testudata(L, arg, RC_TENSOR); }

rc_tensor *rcl_check_tensor(lua_State *L, int arg, const char *name) {
  return (rc_tensor *)rcl_check_udata(L, arg, RC_TENSOR, name);
}

void rcl_shape_string(const lua_Integer *shape, int ndim, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "(");
  for (int i = 0; i < ndim && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (used < size) snprintf(buf + used, size - used, ")");
}

static int same_shape(const rc_tensor *t, int ndim, const lua_Integer *shape) {
  if (t->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (t->shape[i] != shape[i]) return 0;
  return 1;
}

void rcl_check_shape(lua_State *L, int arg, const rc_tensor *t, const char *name, int ndim,
                     const lua_Integer *shape) {
  if (same_shape(t, ndim, shape)) return;
  char want[160], got[160];
  rcl_shape_string(shape, ndim, want, sizeof want);
  rcl_shape_string(t->shape, t->ndim, got, sizeof got);
  rcl_argerror(L, arg, lua_pushfstring(L, "%s: expected shape %s, got %s", name, want, got));
}

/* ---- integers, sizes and indices ------------------------------------------------------ */

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
    rcl_argerror(
        L, arg, lua_pushfstring(L, "%s: expected %s, got %s", what, range_text(L, lo, hi), describe(L, arg)));
  return v;
}

size_t rcl_check_index(lua_State *L, int arg, const char *what, lua_Integer size) {
  lua_Integer v;
  if (!number_at(L, arg, &v) || v < 1 || v > size)
    rcl_argerror(L, arg,
                 size < 1 ? lua_pushfstring(L, "%s: the dimension is empty, got %s", what, describe(L, arg))
                          : lua_pushfstring(L, "%s: expected %s, got %s", what, range_text(L, 1, size),
                                            describe(L, arg)));
  return (size_t)(v - 1);
}

int rcl_shape_numel(const lua_Integer *shape, int ndim, size_t *out) {
  size_t nonzero = 1, n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (uint64_t)shape[i] > (uint64_t)RCL_MAX_NUMEL) return 0;
    if (shape[i] == 0) {
      n = 0;
      continue;
    }
    /* rc_size_mul refuses a product that overflows size_t */
    if (!rc_size_mul(nonzero, (size_t)shape[i], &nonzero) || nonzero > RCL_MAX_NUMEL) return 0;
  }
  *out = n ? nonzero : 0;
  return 1;
}

/* ---- Lua arrays ------------------------------------------------------------------------- */

size_t rcl_check_array(lua_State *L, int arg, const char *what, size_t max) {
  if (!lua_istable(L, arg))
    rcl_argerror(L, arg, lua_pushfstring(L, "%s: expected a table, got %s", what, rcl_typename(L, arg)));
  size_t n = (size_t)lua_rawlen(L, arg);
  if (n > max)
    rcl_argerror(L, arg,
                 lua_pushfstring(L, "%s: expected at most %s elements, got %s", what,
                                 rcl_istr(L, (long long)max), rcl_istr(L, (long long)n)));
  return n;
}

const char *rcl_array_string(lua_State *L, int arg, const char *what, size_t i, size_t *len) {
  lua_rawgeti(L, arg, (lua_Integer)i);
  if (lua_type(L, -1) != LUA_TSTRING)
    rcl_argerror(L, arg,
                 lua_pushfstring(L, "%s[%s]: expected a string, got %s", what, rcl_istr(L, (long long)i),
                                 rcl_typename(L, -1)));
  const char *s = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* the array keeps the string alive */
  return s;
}

rcl_int_list rcl_check_int_list(lua_State *L, int arg, const char *what) {
  rcl_int_list list = {L, lua_absindex(L, arg), what, rcl_test_tensor(L, arg), 0};
  if (list.tensor)
    list.n = list.tensor->numel;
  else if (lua_istable(L, arg))
    list.n = rcl_check_array(L, arg, what, RCL_MAX_ARRAY);
  else
    rcl_argerror(L, arg,
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
  return rcl_argerror(L, list->arg,
                      lua_pushfstring(L, "%s[%s]: expected %s, got %s", list->what,
                                      rcl_istr(L, (long long)i + 1), range_text(L, lo, hi), describe(L, -1)));
}

lua_Integer rcl_int_list_check(const rcl_int_list *list, size_t i, lua_Integer lo, lua_Integer hi) {
  lua_Integer v;
  if (!rcl_int_list_at(list, i, &v) || v < lo || v > hi) rcl_int_list_error(list, i, lo, hi);
  return v;
}

/* ---- numbers and text -------------------------------------------------------------------- */

double rcl_check_number(lua_State *L, int arg, const char *what) {
  if (!lua_isnumber(L, arg))
    rcl_argerror(L, arg, lua_pushfstring(L, "%s: expected a number, got %s", what, describe(L, arg)));
  return lua_tonumber(L, arg);
}

double rcl_opt_number(lua_State *L, int arg, const char *what, double def) {
  return lua_isnoneornil(L, arg) ? def : rcl_check_number(L, arg, what);
}

void *rcl_check_udata(lua_State *L, int arg, const char *tname, const char *what) {
  void *p = luaL_testudata(L, arg, tname);
  if (!p)
    rcl_argerror(L, arg, lua_pushfstring(L, "%s: expected a %s, got %s", what, tname, rcl_typename(L, arg)));
  return p;
}

double rcl_opt_finite(lua_State *L, int arg, const char *what, double def) {
  if (lua_isnoneornil(L, arg)) return def;
  if (lua_type(L, arg) != LUA_TNUMBER || !isfinite(lua_tonumber(L, arg)))
    rcl_argerror(L, arg, lua_pushfstring(L, "%s: expected a finite number, got %s", what, describe(L, arg)));
  return lua_tonumber(L, arg);
}

size_t rcl_utf8_error(const char *s, size_t n) {
  size_t at = 0;
  while (at < n) {
    uint32_t cp;
    size_t k = rc_utf8_decode((const unsigned char *)s + at, n - at, &cp);
    if (!k) return at + 1;
    at += k;
  }
  return 0;
}
