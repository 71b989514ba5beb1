/* recur.Tensor: constructors, views, element access, arithmetic and printing. */
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/blas.h"
#include "../core/cells.h"
#include "args.h"
#include "generator.h"

#define STORAGE "recur.Storage"
#define HOST_STORAGE "recur.HostStorage" /* stands for memory the host owns */
#define STORAGE_ALIGN 64
#if SIZE_MAX > 0xFFFFFFFFu
#define MAX_NUMEL ((size_t)1 << 40) /* 4 TiB of floats: far above any real use */
#else /* 32-bit (wasm32): as many floats as size_t counts bytes of, with the alignment slack */
#define MAX_NUMEL ((SIZE_MAX - STORAGE_ALIGN) / sizeof(float))
#endif

/* ---- storage and tensor userdata ---------------------------------------- */

float *rcl_new_storage(lua_State *L, size_t n) {
  if (n > MAX_NUMEL) luaL_error(L, "tensor of %f elements is too large", (double)n);
  unsigned char *block = (unsigned char *)lua_newuserdatauv(L, n * sizeof(float) + STORAGE_ALIGN, 0);
  luaL_setmetatable(L, STORAGE);
  float *data = (float *)(block + (STORAGE_ALIGN - (uintptr_t)block % STORAGE_ALIGN) % STORAGE_ALIGN);
  memset(data, 0, n * sizeof(float));
  return data;
}

static size_t shape_numel(const lua_Integer *shape, int ndim) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  return n;
}

rc_tensor *rcl_new_view(lua_State *L, int owner, float *data, int ndim, const lua_Integer *shape) {
  owner = lua_absindex(L, owner);
  rc_tensor *t = (rc_tensor *)lua_newuserdatauv(L, sizeof(rc_tensor), 1);
  t->data = data;
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof(lua_Integer));
  t->numel = shape_numel(shape, ndim);
  luaL_setmetatable(L, RC_TENSOR);
  if (luaL_testudata(L, owner, RC_TENSOR))
    lua_getiuservalue(L, owner, 1);
  else
    lua_pushvalue(L, owner);
  lua_setiuservalue(L, -2, 1);
  return t;
}

rc_tensor *rcl_new_tensor(lua_State *L, int ndim, const lua_Integer *shape) {
  float *data = rcl_new_storage(L, shape_numel(shape, ndim));
  rc_tensor *t = rcl_new_view(L, -1, data, ndim, shape);
  lua_remove(L, -2);
  return t;
}

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
  rc_tensor *t = rcl_test_tensor(L, arg);
  if (!t) {
    const char *msg = lua_pushfstring(L, "%s: expected a recur.Tensor, got %s", name, rcl_typename(L, arg));
    luaL_argerror(L, arg, msg);
  }
  return t;
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
  luaL_argerror(L, arg, lua_pushfstring(L, "%s: expected shape %s, got %s", name, want, got));
}

/* ---- constructors ------------------------------------------------------------ */

/* reads a shape table {d1, d2, ...}; -1 allowed once when `infer` is set */
static int read_shape(lua_State *L, int arg, lua_Integer *shape, int infer) {
  size_t ndim = rcl_check_array(L, arg, "shape", RCL_MAX_ARRAY);
  if (ndim < 1 || ndim > RC_MAX_DIMS)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "shape: expected 1 to %d sizes, got %s", RC_MAX_DIMS,
                                  rcl_istr(L, (long long)ndim)));
  rcl_int_list list = {L, lua_absindex(L, arg), "shape", NULL, ndim};
  for (size_t i = 0; i < ndim; i++) shape[i] = rcl_int_list_check(&list, i, infer ? -1 : 0, LUA_MAXINTEGER);
  return (int)ndim;
}

static rc_tensor *new_from_shape_arg(lua_State *L, int arg) {
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = read_shape(L, arg, shape, 0);
  size_t n;
  if (!rcl_shape_numel(shape, ndim, MAX_NUMEL, &n)) luaL_argerror(L, arg, "shape: too many elements");
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
  float v = (float)luaL_checknumber(L, 2);
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

/* Nested tables: the shape comes from the first element at each depth; every
 * other row must match it and every leaf must be a number. */
static int nested_shape(lua_State *L, int idx, lua_Integer *shape) {
  int ndim = 0;
  lua_pushvalue(L, idx);
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (ndim == RC_MAX_DIMS) luaL_error(L, "recur.tensor: more than %d nesting levels", RC_MAX_DIMS);
    shape[ndim++] = (lua_Integer)luaL_len(L, -1);
    lua_geti(L, -1, 1);
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
  lua_Integer len = (lua_Integer)luaL_len(L, -1);
  if (len != shape[depth])
    luaL_error(L, "recur.tensor: row %s has %d elements, expected %d", plen ? c->path : "(top)", (int)len,
               (int)shape[depth]);
  for (lua_Integer i = 1; i <= len; i++) {
    snprintf(c->path + plen, sizeof c->path - plen, "[%lld]", (long long)i);
    int type = lua_geti(L, -1, i);
    if (depth + 1 < ndim) {
      if (type != LUA_TTABLE)
        luaL_error(L, "recur.tensor: element %s is a %s, expected a table", c->path, lua_typename(L, type));
      fill_nested(L, shape, ndim, depth + 1, c);
    } else {
      if (type != LUA_TNUMBER)
        luaL_error(L, "recur.tensor: element %s is a %s, expected a number", c->path, lua_typename(L, type));
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
    return luaL_argerror(
        L, 1, lua_pushfstring(L, "expected a nested table of numbers, got %s", rcl_typename(L, 1)));
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = nested_shape(L, 1, shape);
  fill_cursor c;
  c.path[0] = '\0';
  c.out = NULL; /* first check every row: the shape comes from the first elements alone, and a
                   ragged table must not make us allocate what it implies (found by fuzzing) */
  lua_pushvalue(L, 1);
  fill_nested(L, shape, ndim, 0, &c);
  c.out = rcl_new_tensor(L, ndim, shape)->data;
  lua_insert(L, -2);
  fill_nested(L, shape, ndim, 0, &c);
  lua_pop(L, 1);
  return 1;
}

/* ---- shape queries ------------------------------------------------------------- */

static rc_tensor *self(lua_State *L) { return (rc_tensor *)luaL_checkudata(L, 1, RC_TENSOR); }

static void push_shape(lua_State *L, const lua_Integer *shape, int ndim) {
  lua_createtable(L, ndim, 0);
  for (int i = 0; i < ndim; i++) {
    lua_pushinteger(L, shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int check_dim(lua_State *L, const rc_tensor *t, int arg) {
  lua_Integer d = luaL_checkinteger(L, arg);
  if (d < 1 || d > t->ndim)
    luaL_argerror(L, arg, lua_pushfstring(L, "dim: expected 1..%d, got %d", t->ndim, (int)d));
  return (int)d - 1;
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

static const float *push_nested(lua_State *L, const float *p, const lua_Integer *shape, int ndim) {
  lua_createtable(L, (int)shape[0], 0);
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
    return luaL_argerror(
        L, 2, lua_pushfstring(L, "src: expected %d elements, got %d", (int)t->numel, (int)src->numel));
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
  fill_value(self(L), (float)luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int m_zero(lua_State *L) {
  fill_value(self(L), 0.0f);
  lua_settop(L, 1);
  return 1;
}

static int m_view(lua_State *L) {
  rc_tensor *t = self(L);
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = read_shape(L, 2, shape, 1), infer = -1;
  size_t known = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] != -1)
      known *= (size_t)shape[i];
    else if (infer >= 0)
      return luaL_argerror(L, 2, "shape: only one size may be -1");
    else
      infer = i;
  }
  if (infer >= 0 && known > 0 && t->numel % known == 0) shape[infer] = (lua_Integer)(t->numel / known);
  if (infer >= 0 ? shape[infer] < 0 : known != t->numel) {
    char want[160];
    rcl_shape_string(shape, ndim, want, sizeof want);
    return luaL_argerror(
        L, 2, lua_pushfstring(L, "shape %s does not fit a tensor of %d elements", want, (int)t->numel));
  }
  rcl_new_view(L, 1, t->data, ndim, shape);
  return 1;
}

/* the slice [start, start+len) of dimension d, as a view when it is one contiguous
 * block (every dimension before d has size 1), else as a copy */
static void push_slice(lua_State *L, rc_tensor *t, int d, lua_Integer start, lua_Integer len, int keep_dim) {
  lua_Integer shape[RC_MAX_DIMS];
  int ndim = 0;
  size_t outer = 1, inner = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (i < d) outer *= (size_t)t->shape[i];
    if (i > d) inner *= (size_t)t->shape[i];
    if (i != d || keep_dim) shape[ndim++] = i == d ? len : t->shape[i];
  }
  size_t block = (size_t)len * inner, row = (size_t)t->shape[d] * inner;
  const float *first = t->data + (size_t)start * inner;
  if (outer == 1) {
    rcl_new_view(L, 1, (float *)first, ndim, shape);
    return;
  }
  rc_tensor *out = rcl_new_tensor(L, ndim, shape);
  for (size_t o = 0; o < outer; o++) memcpy(out->data + o * block, first + o * row, block * sizeof(float));
}

static lua_Integer check_index(lua_State *L, int arg, lua_Integer size, const char *what) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if (i < 1 || i > size)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: expected 1..%d, got %d", what, (int)size, (int)i));
  return i - 1;
}

static int m_select(lua_State *L) {
  rc_tensor *t = self(L);
  int d = check_dim(L, t, 2);
  lua_Integer i = check_index(L, 3, t->shape[d], "index");
  if (t->ndim == 1)
    lua_pushnumber(L, t->data[i]);
  else
    push_slice(L, t, d, i, 1, 0);
  return 1;
}

static int m_narrow(lua_State *L) {
  rc_tensor *t = self(L);
  int d = check_dim(L, t, 2);
  lua_Integer start = check_index(L, 3, t->shape[d], "start");
  lua_Integer len = luaL_checkinteger(L, 4);
  if (len < 0 || start + len > t->shape[d])
    return luaL_argerror(
        L, 4, lua_pushfstring(L, "length: expected 0..%d, got %d", (int)(t->shape[d] - start), (int)len));
  push_slice(L, t, d, start, len, 1);
  return 1;
}

/* ---- element access ------------------------------------------------------------------ */

static size_t flat_index(lua_State *L, rc_tensor *t, int first_arg) {
  int given = lua_gettop(L) - first_arg + 1;
  if (given < t->ndim)
    luaL_error(L, "expected %d indices for a %d-D tensor, got %d", t->ndim, t->ndim, given);
  size_t at = 0;
  for (int d = 0; d < t->ndim; d++) {
    lua_Integer i = luaL_checkinteger(L, first_arg + d);
    if (i < 1 || i > t->shape[d])
      luaL_argerror(
          L, first_arg + d,
          lua_pushfstring(L, "index for dim %d: expected 1..%d, got %d", d + 1, (int)t->shape[d], (int)i));
    at = at * (size_t)t->shape[d] + (size_t)(i - 1);
  }
  return at;
}

static int m_get(lua_State *L) {
  rc_tensor *t = self(L);
  flat_index(L, t, 2); /* checks the count before extra arguments are dropped */
  lua_settop(L, 1 + t->ndim);
  lua_pushnumber(L, t->data[flat_index(L, t, 2)]);
  return 1;
}

static int m_set(lua_State *L) {
  rc_tensor *t = self(L);
  if (lua_gettop(L) != t->ndim + 2)
    return luaL_error(L, "set: expected %d indices and a value, got %d arguments", t->ndim,
                      lua_gettop(L) - 1);
  float v = (float)luaL_checknumber(L, t->ndim + 2);
  lua_settop(L, t->ndim + 1);
  t->data[flat_index(L, t, 2)] = v;
  lua_settop(L, 1);
  return 1;
}

static int mt_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    rc_tensor *t = self(L);
    lua_Integer i = check_index(L, 2, t->shape[0], "index");
    if (t->ndim == 1)
      lua_pushnumber(L, t->data[i]);
    else
      push_slice(L, t, 0, i, 1, 0);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int mt_newindex(lua_State *L) {
  rc_tensor *t = self(L);
  if (t->ndim != 1)
    return luaL_error(L, "t[i] = v needs a 1-D tensor, this one is %d-D (use t:set)", t->ndim);
  lua_Integer i = check_index(L, 2, t->shape[0], "index");
  t->data[i] = (float)luaL_checknumber(L, 3);
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
    luaL_argerror(
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
  double lo = luaL_optnumber(L, 2, -HUGE_VAL), hi = luaL_optnumber(L, 3, HUGE_VAL);
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
    return luaL_argerror(L, 2,
                         lua_pushfstring(L, "other: expected shape (%d, n) or (%d), got %s", (int)a->shape[1],
                                         (int)a->shape[1], got));
  }
  int m = (int)a->shape[0], k = (int)a->shape[1], n = b->ndim == 2 ? (int)b->shape[1] : 1;
  lua_Integer shape[2] = {m, n};
  rc_tensor *c = rcl_new_tensor(L, b->ndim, shape);
  if (b->ndim == 1)
    rc_gemv_n(m, k, 1.0f, a->data, k, b->data, 0.0f, c->data);
  else
    rc_gemm_nn(m, n, k, 1.0f, a->data, k, b->data, n, 0.0f, c->data, n);
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

/* ---- the C API: tensors over host memory ------------------------------------------ */

RECUR_API int luaopen_recur_core(lua_State *L);

RECUR_API int recur_push_tensor_view(lua_State *L, float *data, int ndim, const int64_t *shape) {
  lua_Integer s[RC_MAX_DIMS];
  if (ndim < 1 || ndim > RC_MAX_DIMS)
    return luaL_error(L, "recur_push_tensor_view: ndim must be 1..%d", RC_MAX_DIMS);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || shape[i] > (int64_t)MAX_NUMEL)
      return luaL_error(L, "recur_push_tensor_view: bad shape");
    s[i] = (lua_Integer)shape[i];
  }
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
