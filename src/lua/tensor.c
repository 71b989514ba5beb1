/* recur.Tensor: constructors, views, element access, arithmetic and printing. */
#include "tensor.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/blas.h"
#include "../core/cells.h"
#include "generator.h"

#define STORAGE "recur.Storage"
#define STORAGE_ALIGN 64

/* ---- storage and tensor userdata ---------------------------------------- */

static float *new_storage(lua_State *L, size_t n, int zeroed) {
  if (n > RCL_MAX_NUMEL)
    luaL_error(L, "recur.Tensor: %s elements are too many (at most %s)", rcl_istr(L, (long long)n),
               rcl_istr(L, (long long)RCL_MAX_NUMEL));
  unsigned char *block = (unsigned char *)lua_newuserdatauv(L, n * sizeof(float) + STORAGE_ALIGN, 0);
  luaL_setmetatable(L, STORAGE);
  float *data = (float *)(block + (STORAGE_ALIGN - (uintptr_t)block % STORAGE_ALIGN) % STORAGE_ALIGN);
  if (zeroed) memset(data, 0, n * sizeof(float));
  return data;
}

float *rcl_new_storage(lua_State *L, size_t n) { return new_storage(L, n, 1); }

/* the element count of a shape made inside recur, which keeps args.h's invariant */
static size_t checked_numel(lua_State *L, int ndim, const lua_Integer *shape) {
  size_t n = 0; /* luaL_error does not return, which clang cannot see */
  if (ndim < 1 || ndim > RC_MAX_DIMS || !rcl_shape_numel(shape, ndim, &n)) {
    char text[160];
    rcl_shape_string(shape, ndim < 1 ? 0 : ndim > RC_MAX_DIMS ? RC_MAX_DIMS : ndim, text, sizeof text);
    luaL_error(L, "recur.Tensor: shape %s is too large (at most %s elements, 1 to %d dimensions)", text,
               rcl_istr(L, (long long)RCL_MAX_NUMEL), RC_MAX_DIMS);
  }
  return n;
}

rc_tensor *rcl_new_view(lua_State *L, int owner, float *data, int ndim, const lua_Integer *shape) {
  owner = lua_absindex(L, owner);
  size_t numel = checked_numel(L, ndim, shape);
  rc_tensor *t = (rc_tensor *)lua_newuserdatauv(L, sizeof(rc_tensor), 1);
  t->data = data;
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof(lua_Integer));
  t->numel = numel;
  luaL_setmetatable(L, RC_TENSOR);
  if (luaL_testudata(L, owner, RC_TENSOR))
    lua_getiuservalue(L, owner, 1);
  else
    lua_pushvalue(L, owner);
  lua_setiuservalue(L, -2, 1);
  return t;
}

static rc_tensor *new_tensor(lua_State *L, int ndim, const lua_Integer *shape, int zeroed) {
  float *data = new_storage(L, checked_numel(L, ndim, shape), zeroed);
  rc_tensor *t = rcl_new_view(L, -1, data, ndim, shape);
  lua_remove(L, -2);
  return t;
}

rc_tensor *rcl_new_tensor(lua_State *L, int ndim, const lua_Integer *shape) {
  return new_tensor(L, ndim, shape, 1);
}

rc_tensor *rcl_new_result(lua_State *L, int ndim, const lua_Integer *shape) {
  return new_tensor(L, ndim, shape, 0);
}

/* ---- constructors ------------------------------------------------------------ */

/* reads a shape table {d1, d2, ...}; -1 allowed when `infer` is set */
static int read_shape(lua_State *L, int arg, lua_Integer *shape, int infer) {
  size_t ndim = rcl_check_array(L, arg, "shape", RCL_MAX_ARRAY);
  if (ndim < 1 || ndim > RC_MAX_DIMS)
    rcl_argerror(L, arg,
                 lua_pushfstring(L, "shape: expected 1 to %d sizes, got %s", RC_MAX_DIMS,
                                 rcl_istr(L, (long long)ndim)));
  rcl_int_list list = {L, lua_absindex(L, arg), "shape", NULL, ndim};
  for (size_t i = 0; i < ndim; i++) shape[i] = rcl_int_list_check(&list, i, infer ? -1 : 0, LUA_MAXINTEGER);
  return (int)ndim;
}

static int too_large(lua_State *L, int arg, const lua_Integer *shape, int ndim) {
  char text[160];
  rcl_shape_string(shape, ndim, text, sizeof text);
  return rcl_argerror(L, arg,
                      lua_pushfstring(L, "shape: %s has too many elements (at most %s)", text,
                                      rcl_istr(L, (long long)RCL_MAX_NUMEL)));
}

static rc_tensor *new_from_shape_arg(lua_State *L, int arg) {
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = read_shape(L, arg, shape, 0);
  size_t n;
  if (!rcl_shape_numel(shape, ndim, &n)) too_large(L, arg, shape, ndim);
  return rcl_new_tensor(L, ndim, shape);
}

static void fill_value(rc_tensor *t, float v) {
  for (size_t i = 0; i < t->numel; i++) t->data[i] = v;
}

static int l_zeros(lua_State *L) {
  new_from_shape_arg(L, 1);
  return 1;
}

static int l_ones(lua_State *L) {
  fill_value(new_from_shape_arg(L, 1), 1.0f);
  return 1;
}

static int l_full(lua_State *L) {
  float v = (float)rcl_check_number(L, 2, "value");
  fill_value(new_from_shape_arg(L, 1), v);
  return 1;
}

static int l_randn(lua_State *L) {
  rc_rng *g = rcl_opt_generator(L, 2);
  rc_tensor *t = new_from_shape_arg(L, 1);
  for (size_t i = 0; i < t->numel; i++) t->data[i] = (float)rc_rng_normal(g);
  return 1;
}

static int l_rand(lua_State *L) {
  rc_rng *g = rcl_opt_generator(L, 2);
  rc_tensor *t = new_from_shape_arg(L, 1);
  for (size_t i = 0; i < t->numel; i++) t->data[i] = rc_rng_uniform_f(g);
  return 1;
}

/* Nested tables, read raw (no metamethods): the shape comes from the first element at
 * each depth; every other row must match it and every leaf must be a number. */
static int nested_shape(lua_State *L, int idx, lua_Integer *shape) {
  int ndim = 0;
  lua_pushvalue(L, idx);
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (ndim == RC_MAX_DIMS)
      rcl_argerror(L, idx, lua_pushfstring(L, "data: more than %d nesting levels", RC_MAX_DIMS));
    shape[ndim++] = (lua_Integer)lua_rawlen(L, -1);
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return ndim;
}

typedef struct fill_cursor {
  float *out;
  char path[128];
} fill_cursor;

static void fill_nested(lua_State *L, const lua_Integer *shape, int ndim, int depth, fill_cursor *c) {
  size_t plen = strlen(c->path);
  lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
  if (len != shape[depth])
    rcl_argerror(L, 1,
                 lua_pushfstring(L, "data: row %s has %s elements, expected %s", plen ? c->path : "(top)",
                                 rcl_istr(L, len), rcl_istr(L, shape[depth])));
  for (lua_Integer i = 1; i <= len; i++) {
    snprintf(c->path + plen, sizeof c->path - plen, "[%lld]", (long long)i);
    lua_rawgeti(L, -1, i);
    int type = lua_type(L, -1);
    if (depth + 1 < ndim) {
      if (type != LUA_TTABLE)
        rcl_argerror(
            L, 1,
            lua_pushfstring(L, "data: element %s is a %s, expected a table", c->path, lua_typename(L, type)));
      fill_nested(L, shape, ndim, depth + 1, c);
    } else {
      if (type != LUA_TNUMBER)
        rcl_argerror(
            L, 1,
            lua_pushfstring(L, "data: element %s is a %s, expected a number", c->path, rcl_typename(L, -1)));
      if (c->out) *c->out++ = (float)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
  }
  c->path[plen] = '\0';
}

static int l_tensor(lua_State *L) {
  rc_tensor *src = rcl_test_tensor(L, 1);
  if (src) {
    memcpy(rcl_new_tensor(L, src->ndim, src->shape)->data, src->data, src->numel * sizeof(float));
    return 1;
  }
  if (lua_type(L, 1) != LUA_TTABLE)
    return rcl_argerror(
        L, 1, lua_pushfstring(L, "data: expected a nested table of numbers, got %s", rcl_typename(L, 1)));
  lua_settop(L, 1);
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = nested_shape(L, 1, shape);
  size_t n;
  fill_cursor c;
  c.path[0] = '\0';
  c.out = NULL; /* first check every row: the shape comes from the first elements alone, and a
                   ragged table must not make us allocate what it implies (found by fuzzing) */
  lua_pushvalue(L, 1);
  fill_nested(L, shape, ndim, 0, &c);
  if (!rcl_shape_numel(shape, ndim, &n)) too_large(L, 1, shape, ndim);
  c.out = rcl_new_tensor(L, ndim, shape)->data;
  lua_insert(L, -2);
  fill_nested(L, shape, ndim, 0, &c);
  lua_pop(L, 1);
  return 1;
}

/* ---- shape queries ------------------------------------------------------------- */

static rc_tensor *self(lua_State *L) { return rcl_check_tensor(L, 1, "self"); }

static void push_shape(lua_State *L, const lua_Integer *shape, int ndim) {
  lua_createtable(L, ndim, 0);
  for (int i = 0; i < ndim; i++) {
    lua_pushinteger(L, shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* the 0-based dimension given 1-based at arg */
static int check_dim(lua_State *L, const rc_tensor *t, int arg) {
  return (int)rcl_check_integer_in(L, arg, "dim", 1, t->ndim) - 1;
}

static int m_shape(lua_State *L) {
  rc_tensor *t = self(L);
  push_shape(L, t->shape, t->ndim);
  return 1;
}

static int m_size(lua_State *L) {
  rc_tensor *t = self(L);
  if (lua_isnoneornil(L, 2)) return m_shape(L);
  lua_pushinteger(L, t->shape[check_dim(L, t, 2)]);
  return 1;
}

static int m_dim(lua_State *L) {
  lua_pushinteger(L, self(L)->ndim);
  return 1;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)self(L)->numel);
  return 1;
}

static int m_len(lua_State *L) {
  lua_pushinteger(L, self(L)->shape[0]);
  return 1;
}

/* a size hint for lua_createtable: tables of huge empty tensors grow as they are filled */
static int table_hint(lua_Integer n) { return n < (1 << 24) ? (int)n : 0; }

static const float *push_nested(lua_State *L, const float *p, const lua_Integer *shape, int ndim) {
  lua_createtable(L, table_hint(shape[0]), 0);
  for (lua_Integer i = 0; i < shape[0]; i++) {
    if (ndim == 1)
      lua_pushnumber(L, *p++);
    else
      p = push_nested(L, p, shape + 1, ndim - 1);
    lua_rawseti(L, -2, i + 1);
  }
  return p;
}

static int m_totable(lua_State *L) {
  rc_tensor *t = self(L);
  luaL_checkstack(L, t->ndim + 4, "totable");
  push_nested(L, t->data, t->shape, t->ndim);
  return 1;
}

/* ---- copies and views ------------------------------------------------------------ */

static int m_copy(lua_State *L) {
  rc_tensor *t = self(L), *src = rcl_check_tensor(L, 2, "src");
  if (src->numel != t->numel)
    return rcl_argerror(
        L, 2,
        lua_pushfstring(L, "src: expected %s elements, got %s", rcl_istr(L, (long long)t->numel),
                        rcl_istr(L, (long long)src->numel)));
  memmove(t->data, src->data, t->numel * sizeof(float));
  lua_settop(L, 1);
  return 1;
}

int rcl_tensor_clone(lua_State *L) {
  rc_tensor *t = self(L);
  memcpy(rcl_new_tensor(L, t->ndim, t->shape)->data, t->data, t->numel * sizeof(float));
  return 1;
}

static int m_fill(lua_State *L) {
  fill_value(self(L), (float)rcl_check_number(L, 2, "value"));
  lua_settop(L, 1);
  return 1;
}

static int m_zero(lua_State *L) {
  fill_value(self(L), 0.0f);
  lua_settop(L, 1);
  return 1;
}

static int shape_mismatch(lua_State *L, const lua_Integer *shape, int ndim, const rc_tensor *t) {
  char want[160];
  rcl_shape_string(shape, ndim, want, sizeof want);
  return rcl_argerror(L, 2,
                      lua_pushfstring(L, "shape: %s does not fit a tensor of %s elements", want,
                                      rcl_istr(L, (long long)t->numel)));
}

/* t:view(shape), t:reshape(shape): the same memory with another shape; one size may be
 * -1, inferred from the others */
static int m_view(lua_State *L) {
  rc_tensor *t = self(L);
  lua_Integer shape[RC_MAX_DIMS], known[RC_MAX_DIMS];
  int ndim = read_shape(L, 2, shape, 1), infer = -1, nknown = 0;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] != -1)
      known[nknown++] = shape[i];
    else if (infer >= 0)
      return rcl_argerror(L, 2, "shape: only one size may be -1");
    else
      infer = i;
  }
  size_t n;
  if (!rcl_shape_numel(known, nknown, &n)) return shape_mismatch(L, shape, ndim, t);
  if (infer >= 0) {
    /* the inferred size is numel / n, unique only when n > 0 (as in PyTorch) */
    if (n == 0 || t->numel % n != 0) return shape_mismatch(L, shape, ndim, t);
    shape[infer] = (lua_Integer)(t->numel / n);
  } else if (n != t->numel) {
    return shape_mismatch(L, shape, ndim, t);
  }
  if (!rcl_shape_numel(shape, ndim, &n)) return too_large(L, 2, shape, ndim);
  rcl_new_view(L, 1, t->data, ndim, shape);
  return 1;
}

/* the slice [start, start+len) of dimension d, as a view when it is one contiguous
 * block (every dimension before d has size 1), else as a copy. The caller has checked
 * start + len <= shape[d]: every product below is of a valid tensor's sizes. */
static void push_slice(lua_State *L, rc_tensor *t, int d, size_t start, size_t len, int keep_dim) {
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = 0;
  size_t outer = 1, inner = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (i < d) outer *= (size_t)t->shape[i];
    if (i > d) inner *= (size_t)t->shape[i];
    if (i != d || keep_dim) shape[ndim++] = i == d ? (lua_Integer)len : t->shape[i];
  }
  if (outer == 0 || inner == 0) { /* empty: no memory to point into */
    rcl_new_tensor(L, ndim, shape);
    return;
  }
  size_t block = len * inner, row = (size_t)t->shape[d] * inner;
  const float *first = t->data + start * inner;
  if (outer == 1) {
    rcl_new_view(L, 1, (float *)first, ndim, shape);
    return;
  }
  rc_tensor *out = rcl_new_tensor(L, ndim, shape);
  for (size_t o = 0; o < outer; o++) memcpy(out->data + o * block, first + o * row, block * sizeof(float));
}

/* t[i] for a number i, and t:select(1, i) */
static int push_index(lua_State *L, rc_tensor *t, int d, int arg) {
  size_t i = rcl_check_index(L, arg, "index", t->shape[d]);
  if (t->ndim == 1)
    lua_pushnumber(L, t->data[i]);
  else
    push_slice(L, t, d, i, 1, 0);
  return 1;
}

static int m_select(lua_State *L) {
  rc_tensor *t = self(L);
  return push_index(L, t, check_dim(L, t, 2), 3);
}

static int m_narrow(lua_State *L) {
  rc_tensor *t = self(L);
  int d = check_dim(L, t, 2);
  size_t start = rcl_check_index(L, 3, "start", t->shape[d]);
  lua_Integer room = t->shape[d] - (lua_Integer)start; /* no overflow: start < shape[d] */
  size_t len = (size_t)rcl_check_integer_in(L, 4, "length", 0, room);
  push_slice(L, t, d, start, len, 1);
  return 1;
}

/* ---- element access ------------------------------------------------------------------ */

/* the flat offset of the indices at args first..first+ndim-1 (in range: exact in size_t) */
static size_t flat_index(lua_State *L, rc_tensor *t, int first, const char *fn) {
  int given = lua_gettop(L) - first + 1;
  if (given < t->ndim)
    luaL_error(L, "%s: expected %d indices for a %d-D tensor, got %d", fn, t->ndim, t->ndim,
               given < 0 ? 0 : given);
  size_t at = 0;
  for (int d = 0; d < t->ndim; d++) {
    char what[32];
    snprintf(what, sizeof what, "index for dim %d", d + 1);
    at = at * (size_t)t->shape[d] + rcl_check_index(L, first + d, what, t->shape[d]);
  }
  return at;
}

static int m_get(lua_State *L) {
  rc_tensor *t = self(L);
  lua_pushnumber(L, t->data[flat_index(L, t, 2, "get")]);
  return 1;
}

static int m_set(lua_State *L) {
  rc_tensor *t = self(L);
  if (lua_gettop(L) != t->ndim + 2)
    return luaL_error(L, "set: expected %d indices and a value, got %d arguments", t->ndim,
                      lua_gettop(L) - 1);
  float v = (float)rcl_check_number(L, t->ndim + 2, "value");
  t->data[flat_index(L, t, 2, "set")] = v;
  lua_settop(L, 1);
  return 1;
}

static int mt_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER) return push_index(L, self(L), 0, 2);
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int mt_newindex(lua_State *L) {
  rc_tensor *t = self(L);
  if (t->ndim != 1)
    return luaL_error(L, "t[i]: assignment needs a 1-D tensor, this one is %d-D (use t:set)", t->ndim);
  size_t i = rcl_check_index(L, 2, "index", t->shape[0]);
  t->data[i] = (float)rcl_check_number(L, 3, "value");
  return 0;
}

/* ---- arithmetic ---------------------------------------------------------------------- */

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV } binop;

static float apply(binop op, float a, float b) {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    default: return a / b;
  }
}

/* out = t op other, where other is a number or a tensor of t's shape */
static void binary(lua_State *L, binop op, rc_tensor *t, rc_tensor *out) {
  rc_tensor *o = rcl_test_tensor(L, 2);
  if (o) {
    rcl_check_shape(L, 2, o, "other", t->ndim, t->shape);
    for (size_t i = 0; i < t->numel; i++) out->data[i] = apply(op, t->data[i], o->data[i]);
  } else if (lua_type(L, 2) == LUA_TNUMBER) {
    float v = (float)lua_tonumber(L, 2);
    for (size_t i = 0; i < t->numel; i++) out->data[i] = apply(op, t->data[i], v);
  } else {
    rcl_argerror(
        L, 2, lua_pushfstring(L, "other: expected a number or a recur.Tensor, got %s", rcl_typename(L, 2)));
  }
}

static int binary_new(lua_State *L, binop op) {
  rc_tensor *t = self(L);
  binary(L, op, t, rcl_new_tensor(L, t->ndim, t->shape));
  return 1;
}

static int binary_inplace(lua_State *L, binop op) {
  rc_tensor *t = self(L);
  binary(L, op, t, t);
  lua_settop(L, 1);
  return 1;
}

static int m_add(lua_State *L) { return binary_new(L, OP_ADD); }
static int m_sub(lua_State *L) { return binary_new(L, OP_SUB); }
static int m_mul(lua_State *L) { return binary_new(L, OP_MUL); }
static int m_div(lua_State *L) { return binary_new(L, OP_DIV); }
static int m_add_(lua_State *L) { return binary_inplace(L, OP_ADD); }
static int m_sub_(lua_State *L) { return binary_inplace(L, OP_SUB); }
static int m_mul_(lua_State *L) { return binary_inplace(L, OP_MUL); }
static int m_div_(lua_State *L) { return binary_inplace(L, OP_DIV); }

/* t:clamp_(lo, hi): in place; either bound may be nil */
static int m_clamp_(lua_State *L) {
  rc_tensor *t = self(L);
  double lo = rcl_opt_number(L, 2, "min", -HUGE_VAL), hi = rcl_opt_number(L, 3, "max", HUGE_VAL);
  if (lo > hi) return luaL_error(L, "clamp_: min %f is above max %f", lo, hi);
  for (size_t i = 0; i < t->numel; i++) {
    if (t->data[i] < lo)
      t->data[i] = (float)lo;
    else if (t->data[i] > hi)
      t->data[i] = (float)hi;
  }
  lua_settop(L, 1);
  return 1;
}

/* t:transpose(d1, d2): a copy with dimensions d1 and d2 swapped */
static int m_transpose(lua_State *L) {
  rc_tensor *t = self(L);
  int d1 = check_dim(L, t, 2), d2 = check_dim(L, t, 3);
  lua_Integer shape[RC_MAX_DIMS];
  size_t stride[RC_MAX_DIMS], index[RC_MAX_DIMS] = {0};
  memcpy(shape, t->shape, sizeof shape);
  shape[d1] = t->shape[d2];
  shape[d2] = t->shape[d1];
  rc_tensor *out = rcl_new_tensor(L, t->ndim, shape);
  /* strides of the source, with d1 and d2 exchanged: walk the output in order */
  size_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    stride[i] = s;
    s *= (size_t)t->shape[i];
  }
  size_t tmp = stride[d1];
  stride[d1] = stride[d2];
  stride[d2] = tmp;
  for (size_t o = 0; o < out->numel; o++) {
    size_t src = 0;
    for (int i = 0; i < t->ndim; i++) src += index[i] * stride[i];
    out->data[o] = t->data[src];
    for (int i = t->ndim - 1; i >= 0 && ++index[i] == (size_t)shape[i]; i--) index[i] = 0;
  }
  return 1;
}

/* t:sigmoid(), t:tanh(): new tensors, with the activations of the recurrent cells */
static int unary(lua_State *L, void (*fn)(size_t, const float *, float *)) {
  rc_tensor *t = self(L);
  fn(t->numel, t->data, rcl_new_tensor(L, t->ndim, t->shape)->data);
  return 1;
}

static int m_sigmoid(lua_State *L) { return unary(L, rc_sigmoid_n); }
static int m_tanh(lua_State *L) { return unary(L, rc_tanh_n); }

/* ---- reductions -------------------------------------------------------------------- */

/* t:all_finite(): no NaN and no infinity */
static int m_all_finite(lua_State *L) {
  rc_tensor *t = self(L);
  int ok = 1;
  for (size_t i = 0; i < t->numel && ok; i++) ok = isfinite(t->data[i]);
  lua_pushboolean(L, ok);
  return 1;
}

static double sum_of(const rc_tensor *t) {
  double s = 0.0;
  for (size_t i = 0; i < t->numel; i++) s += t->data[i];
  return s;
}

static int m_sum(lua_State *L) {
  lua_pushnumber(L, sum_of(self(L)));
  return 1;
}

static int m_mean(lua_State *L) {
  rc_tensor *t = self(L);
  lua_pushnumber(L, t->numel ? sum_of(t) / (double)t->numel : NAN);
  return 1;
}

static int m_norm(lua_State *L) {
  rc_tensor *t = self(L);
  double s = 0.0;
  for (size_t i = 0; i < t->numel; i++) s += (double)t->data[i] * t->data[i];
  lua_pushnumber(L, sqrt(s));
  return 1;
}

/* index of the largest of n values `stride` apart (the first one on ties; NaN wins, as in torch) */
static size_t argmax_of(const float *p, size_t n, size_t stride) {
  size_t best = 0;
  for (size_t i = 1; i < n; i++) {
    float v = p[i * stride], b = p[best * stride];
    if (isnan(b)) break;
    if (v > b || isnan(v)) best = i;
  }
  return best;
}

static void check_not_empty(lua_State *L, const rc_tensor *t, const char *fn) {
  if (t->numel == 0) luaL_error(L, "%s: the tensor is empty", fn);
}

static int m_max(lua_State *L) {
  rc_tensor *t = self(L);
  check_not_empty(L, t, "max");
  size_t i = argmax_of(t->data, t->numel, 1);
  lua_pushnumber(L, t->data[i]);
  lua_pushinteger(L, (lua_Integer)i + 1);
  return 2;
}

static int m_argmax(lua_State *L) {
  rc_tensor *t = self(L);
  check_not_empty(L, t, "argmax");
  if (lua_isnoneornil(L, 2) || t->ndim == 1) {
    if (!lua_isnoneornil(L, 2)) check_dim(L, t, 2);
    lua_pushinteger(L, (lua_Integer)argmax_of(t->data, t->numel, 1) + 1);
    return 1;
  }
  int d = check_dim(L, t, 2);
  lua_Integer shape[RC_MAX_DIMS];
  size_t outer = 1, inner = 1, n = (size_t)t->shape[d];
  int ndim = 0;
  for (int i = 0; i < t->ndim; i++) {
    if (i < d) outer *= (size_t)t->shape[i];
    if (i > d) inner *= (size_t)t->shape[i];
    if (i != d) shape[ndim++] = t->shape[i];
  }
  rc_tensor *out = rcl_new_tensor(L, ndim, shape);
  for (size_t o = 0; o < outer; o++)
    for (size_t j = 0; j < inner; j++)
      out->data[o * inner + j] = (float)(argmax_of(t->data + o * n * inner + j, n, inner) + 1);
  return 1;
}

static int m_matmul(lua_State *L) {
  rc_tensor *a = self(L), *b = rcl_check_tensor(L, 2, "other");
  if (a->ndim != 2) return luaL_error(L, "matmul: self must be 2-D, got %d-D", a->ndim);
  if (b->ndim > 2 || b->shape[0] != a->shape[1]) {
    char got[160];
    rcl_shape_string(b->shape, b->ndim, got, sizeof got);
    return rcl_argerror(L, 2,
                        lua_pushfstring(L, "other: expected shape (%s, n) or (%s), got %s",
                                        rcl_istr(L, a->shape[1]), rcl_istr(L, a->shape[1]), got));
  }
  lua_Integer shape[2] = {a->shape[0], b->ndim == 2 ? b->shape[1] : 1};
  size_t n;
  if (!rcl_shape_numel(shape, b->ndim, &n))
    return rcl_argerror(L, 2, "other: the product has too many elements");
  if (shape[0] > INT_MAX || shape[1] > INT_MAX || a->shape[1] > INT_MAX)
    return rcl_argerror(L, 2, "other: sizes above 2^31 - 1 do not fit BLAS");
  rc_tensor *c = rcl_new_tensor(L, b->ndim, shape);
  int m = (int)shape[0], k = (int)a->shape[1], cols = (int)shape[1];
  if (b->ndim == 1)
    rc_gemv_n(m, k, 1.0f, a->data, k, b->data, 0.0f, c->data);
  else
    rc_gemm_nn(m, cols, k, 1.0f, a->data, k, b->data, cols, 0.0f, c->data, cols);
  return 1;
}

/* ---- printing ------------------------------------------------------------------------- */

#define PRINT_EDGE 3 /* items shown at each end of a long dimension */
#define PRINT_LIMIT 1000

static void print_nested(luaL_Buffer *b, const rc_tensor *t, const float *p, int d, int summarize) {
  lua_Integer n = t->shape[d];
  size_t step = 1;
  for (int i = d + 1; i < t->ndim; i++) step *= (size_t)t->shape[i];
  luaL_addchar(b, '[');
  for (lua_Integer i = 0; i < n; i++) {
    if (summarize && n > 2 * PRINT_EDGE && i == PRINT_EDGE) {
      luaL_addstring(b, d + 1 < t->ndim ? "...,\n" : "..., ");
      i = n - PRINT_EDGE;
    }
    if (d + 1 < t->ndim) {
      if (i > 0)
        for (int k = 0; k <= d; k++) luaL_addchar(b, ' ');
      print_nested(b, t, p + (size_t)i * step, d + 1, summarize);
      if (i + 1 < n) luaL_addstring(b, ",\n");
    } else {
      char num[32];
      snprintf(num, sizeof num, "%.4g", (double)p[i]);
      luaL_addstring(b, num);
      if (i + 1 < n) luaL_addstring(b, ", ");
    }
  }
  luaL_addchar(b, ']');
}

static int mt_tostring(lua_State *L) {
  rc_tensor *t = self(L);
  char shape[160];
  luaL_Buffer b;
  rcl_shape_string(t->shape, t->ndim, shape, sizeof shape);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "recur.Tensor of shape ");
  luaL_addstring(&b, shape);
  luaL_addchar(&b, '\n');
  if (t->numel > 0)
    print_nested(&b, t, t->data, 0, t->numel > PRINT_LIMIT);
  else
    luaL_addstring(&b, "[]");
  luaL_pushresult(&b);
  return 1;
}

/* ---- registration ---------------------------------------------------------------- */

static const luaL_Reg tensor_methods[] = {{"shape", m_shape},
                                          {"size", m_size},
                                          {"dim", m_dim},
                                          {"numel", m_numel},
                                          {"totable", m_totable},
                                          {"copy", m_copy},
                                          {"clone", rcl_tensor_clone},
                                          {"fill", m_fill},
                                          {"zero", m_zero},
                                          {"view", m_view},
                                          {"reshape", m_view},
                                          {"select", m_select},
                                          {"narrow", m_narrow},
                                          {"get", m_get},
                                          {"set", m_set},
                                          {"add", m_add},
                                          {"sub", m_sub},
                                          {"mul", m_mul},
                                          {"div", m_div},
                                          {"add_", m_add_},
                                          {"sub_", m_sub_},
                                          {"mul_", m_mul_},
                                          {"div_", m_div_},
                                          {"sum", m_sum},
                                          {"mean", m_mean},
                                          {"max", m_max},
                                          {"argmax", m_argmax},
                                          {"norm", m_norm},
                                          {"matmul", m_matmul},
                                          {"clamp_", m_clamp_},
                                          {"transpose", m_transpose},
                                          {"all_finite", m_all_finite},
                                          {"sigmoid", m_sigmoid},
                                          {"tanh", m_tanh},
                                          {NULL, NULL}};

static const luaL_Reg tensor_functions[] = {{"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones},
                                            {"full", l_full},     {"randn", l_randn}, {"rand", l_rand},
                                            {NULL, NULL}};

void rcl_open_tensor(lua_State *L) {
  luaL_newmetatable(L, STORAGE);
  lua_pop(L, 1);
  luaL_newmetatable(L, RC_TENSOR);
  luaL_newlib(L, tensor_methods);
  lua_pushcclosure(L, mt_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, mt_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, mt_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, m_len);
  lua_setfield(L, -2, "__len");
  lua_pop(L, 1);
  luaL_setfuncs(L, tensor_functions, 0);
}
