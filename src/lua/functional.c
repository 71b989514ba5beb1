/* Training kernels for the Lua side: each checks its tensors' shapes, then calls
 * the numeric core (core/ops.c). The Lua modules in lua/recur/ are thin on top. */
#include "functional.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "../core/ops.h"
#include "generator.h"
#include "tensor.h"

/* ---- helpers ---------------------------------------------------------------------- */

static void check_same_numel(lua_State *L, int arg, const rc_tensor *t, const char *name, size_t n) {
  if (t->numel != n)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected %s elements, got %s", name, rcl_istr(L, (long long)n),
                                  rcl_istr(L, (long long)t->numel)));
}

static rc_tensor *opt_tensor(lua_State *L, int arg, const char *name) {
  return lua_isnoneornil(L, arg) ? NULL : rcl_check_tensor(L, arg, name);
}

/* sizes handed to BLAS and the int-based kernels */
static int check_int_size(lua_State *L, int arg, const char *name, size_t n) {
  if (n > INT_MAX)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: %s rows or columns do not fit BLAS (at most 2^31 - 1)", name,
                                  rcl_istr(L, (long long)n)));
  return (int)n;
}

/* the 2-D tensor at arg (a weight matrix), its sizes within BLAS's int range */
static rc_tensor *check_matrix(lua_State *L, int arg, const char *name) {
  rc_tensor *W = rcl_check_tensor(L, arg, name);
  if (W->ndim != 2)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: expected a 2-D tensor, got %d-D", name, W->ndim));
  check_int_size(L, arg, name, (size_t)W->shape[0]);
  check_int_size(L, arg, name, (size_t)W->shape[1]);
  return W;
}

/* pushes a new tensor for a result whose shape comes from the arguments */
static rc_tensor *new_result(lua_State *L, int arg, const char *name, int ndim, const lua_Integer *shape) {
  size_t n;
  if (ndim > RC_MAX_DIMS || !rcl_shape_numel(shape, ndim, &n))
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: the result would have too many elements or dimensions", name));
  return rcl_new_tensor(L, ndim, shape);
}

#define IGNORED (-1) /* read_indices' mark of an ignored target */

/* Reads integer class or row indices (a tensor or a Lua array of n numbers) as
 * 0-based int32 into a scratch storage left on the stack. Each must be an integer in
 * 1..limit (limit <= INT32_MAX), or, when has_ignore, equal `ignore` (a 1-based class id
 * or any other integer, e.g. -100), which is read as IGNORED. */
static int32_t *read_indices(lua_State *L, int arg, const char *name, size_t n, lua_Integer limit,
                             int has_ignore, lua_Integer ignore) {
  rcl_int_list list = rcl_check_int_list(L, arg, name);
  if (list.n != n)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected %s indices, got %s", name, rcl_istr(L, (long long)n),
                                  rcl_istr(L, (long long)list.n)));
  int32_t *out = (int32_t *)(void *)rcl_new_storage(L, n);
  for (size_t i = 0; i < n; i++) {
    lua_Integer v;
    if (!rcl_int_list_at(&list, i, &v)) rcl_int_list_error(&list, i, 1, limit);
    if (has_ignore && v == ignore)
      out[i] = IGNORED;
    else if (v >= 1 && v <= limit)
      out[i] = (int32_t)(v - 1);
    else
      rcl_int_list_error(&list, i, 1, limit);
  }
  return out;
}

/* ---- linear ---------------------------------------------------------------------------- */

/* rows of a (..., in) tensor */
static int rows_of(lua_State *L, int arg, const rc_tensor *x, lua_Integer in, const char *name) {
  if (x->shape[x->ndim - 1] != in)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected last dimension %s, got %s", name, rcl_istr(L, in),
                                  rcl_istr(L, x->shape[x->ndim - 1])));
  size_t rows = 1; /* a product of some of x's sizes: exact (args.h) */
  for (int d = 0; d + 1 < x->ndim; d++) rows *= (size_t)x->shape[d];
  return check_int_size(L, arg, name, rows);
}

/* the shape of x with its last dimension replaced by `last` */
static void with_last(const rc_tensor *x, lua_Integer last, lua_Integer *shape) {
  memcpy(shape, x->shape, (size_t)x->ndim * sizeof(lua_Integer));
  shape[x->ndim - 1] = last;
}

/* linear_forward(x (..., in), W (out, in), b (out) or nil) -> y (..., out) */
static int l_linear_forward(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input"), *W = check_matrix(L, 2, "weight");
  rc_tensor *b = opt_tensor(L, 3, "bias");
  lua_Integer out = W->shape[0], in = W->shape[1];
  int rows = rows_of(L, 1, x, in, "input");
  if (b) check_same_numel(L, 3, b, "bias", (size_t)out);
  lua_Integer shape[RC_MAX_DIMS];
  with_last(x, out, shape);
  rc_tensor *y = new_result(L, 1, "input", x->ndim, shape);
  rc_linear_forward(rows, (int)in, (int)out, x->data, W->data, b ? b->data : NULL, y->data);
  return 1;
}

/* linear_backward(x, W, gy, gW, gb or nil) -> dx; accumulates into gW and gb */
static int l_linear_backward(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input"), *W = check_matrix(L, 2, "weight");
  rc_tensor *gy = rcl_check_tensor(L, 3, "grad_output"), *gW = rcl_check_tensor(L, 4, "grad_weight");
  rc_tensor *gb = opt_tensor(L, 5, "grad_bias");
  lua_Integer out = W->shape[0], in = W->shape[1];
  int rows = rows_of(L, 1, x, in, "input");
  lua_Integer yshape[RC_MAX_DIMS];
  with_last(x, out, yshape);
  rcl_check_shape(L, 3, gy, "grad_output", x->ndim, yshape);
  check_same_numel(L, 4, gW, "grad_weight", W->numel);
  if (gb) check_same_numel(L, 5, gb, "grad_bias", (size_t)out);
  rc_tensor *dx = rcl_new_tensor(L, x->ndim, x->shape);
  rc_linear_backward(rows, (int)in, (int)out, x->data, W->data, gy->data, gW->data, gb ? gb->data : NULL,
                     dx->data);
  return 1;
}

/* ---- embedding ------------------------------------------------------------------------------ */

/* shape of an index argument (a tensor's own, or {#array}) and its element count */
static int index_shape(lua_State *L, int arg, lua_Integer *shape, size_t *n) {
  rc_tensor *t = rcl_test_tensor(L, arg);
  if (t) {
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof(lua_Integer));
    *n = t->numel;
    return t->ndim;
  }
  *n = rcl_check_int_list(L, arg, "input").n;
  shape[0] = (lua_Integer)*n;
  return 1;
}

/* embedding_forward(W (num, dim), idx) -> (idx shape..., dim) */
static int l_embedding_forward(lua_State *L) {
  rc_tensor *W = check_matrix(L, 1, "weight");
  lua_Integer shape[RC_MAX_DIMS + 1];
  size_t n;
  int ndim = index_shape(L, 2, shape, &n);
  if (W->shape[0] > INT32_MAX) return luaL_argerror(L, 1, "weight: more than 2^31 - 1 rows");
  int32_t *idx = read_indices(L, 2, "input", n, W->shape[0], 0, 0);
  shape[ndim] = W->shape[1];
  rc_tensor *out = new_result(L, 2, "input", ndim + 1, shape);
  rc_embedding_forward(n, (int)W->shape[1], W->data, idx, out->data);
  return 1;
}

/* embedding_backward(gW (num, dim), idx, gy (idx shape..., dim)) */
static int l_embedding_backward(lua_State *L) {
  rc_tensor *gW = check_matrix(L, 1, "grad_weight");
  lua_Integer shape[RC_MAX_DIMS + 1];
  size_t n;
  int ndim = index_shape(L, 2, shape, &n);
  rc_tensor *gy = rcl_check_tensor(L, 3, "grad_output");
  shape[ndim] = gW->shape[1];
  rcl_check_shape(L, 3, gy, "grad_output", ndim + 1, shape);
  if (gW->shape[0] > INT32_MAX) return luaL_argerror(L, 1, "grad_weight: more than 2^31 - 1 rows");
  int32_t *idx = read_indices(L, 2, "input", n, gW->shape[0], 0, 0);
  rc_embedding_backward(n, (int)gW->shape[1], idx, gy->data, gW->data);
  return 0;
}

/* ---- dropout -------------------------------------------------------------------------------- */

/* dropout(x, p, [gen]) -> y, mask */
static int l_dropout(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input");
  double p = luaL_checknumber(L, 2);
  if (!(p >= 0.0 && p < 1.0)) return luaL_argerror(L, 2, lua_pushfstring(L, "p: expected [0, 1), got %f", p));
  rc_rng *g = rcl_opt_generator(L, 3);
  rc_tensor *y = rcl_new_tensor(L, x->ndim, x->shape);
  rc_tensor *mask = rcl_new_tensor(L, x->ndim, x->shape);
  rc_dropout(x->numel, (float)p, g, x->data, mask->data, y->data);
  return 2;
}

/* ---- losses ------------------------------------------------------------------------------------ */

static float reduction_scale(lua_State *L, int arg, size_t count) {
  const char *const names[] = {"mean", "sum", NULL};
  int sum = luaL_checkoption(L, arg, "mean", names);
  return sum ? 1.0f : (count ? 1.0f / (float)count : 0.0f);
}

/* pushes the loss and the gradient (or nil): a mean over no element is NaN, as in PyTorch */
static void push_loss(lua_State *L, double total, float scale, size_t count, rc_tensor *grad) {
  lua_pushnumber(L, scale == 1.0f ? total : (count ? total / (double)count : total / 0.0));
  if (grad)
    lua_pushvalue(L, -2);
  else
    lua_pushnil(L);
}

/* cross_entropy(logits (..., C), target, ignore_index, reduction, want_grad) -> loss, grad|nil, count.
 * Targets are 1-based class ids; ignore_index is compared with them as given. */
static int l_cross_entropy(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input");
  lua_Integer ignore = rcl_check_integer_in(L, 3, "ignore_index", LUA_MININTEGER, LUA_MAXINTEGER);
  int want_grad = lua_toboolean(L, 5);
  lua_Integer C = x->shape[x->ndim - 1];
  if (C < 1) return luaL_argerror(L, 1, "input: expected at least one class");
  int classes = check_int_size(L, 1, "input", (size_t)C);
  int rows = rows_of(L, 1, x, C, "input");
  int32_t *target = read_indices(L, 2, "target", (size_t)rows, C, 1, ignore);
  size_t counted = 0;
  for (int r = 0; r < rows; r++) counted += target[r] != IGNORED;
  float scale = reduction_scale(L, 4, counted);
  rc_tensor *grad = want_grad ? rcl_new_tensor(L, x->ndim, x->shape) : NULL;
  double total =
      rc_cross_entropy(rows, classes, x->data, target, IGNORED, scale, grad ? grad->data : NULL, &counted);
  push_loss(L, total, scale, counted, grad);
  lua_pushinteger(L, (lua_Integer)counted);
  return 3;
}

/* regression_loss(kind, x, y, reduction, beta, want_grad) -> loss, grad|nil. SmoothL1 with
 * beta = 0 is the L1 loss, as in PyTorch. */
static int l_regression_loss(lua_State *L) {
  const char *const kinds[] = {"mse", "l1", "smooth_l1", NULL};
  rc_regression kind = (rc_regression)luaL_checkoption(L, 1, NULL, kinds);
  rc_tensor *x = rcl_check_tensor(L, 2, "input"), *y = rcl_check_tensor(L, 3, "target");
  rcl_check_shape(L, 3, y, "target", x->ndim, x->shape);
  float scale = reduction_scale(L, 4, x->numel);
  double beta = luaL_optnumber(L, 5, 1.0);
  if (kind == RC_SMOOTH_L1 && !(beta >= 0.0))
    return luaL_argerror(L, 5, "beta: expected a non-negative number");
  if (kind == RC_SMOOTH_L1 && beta == 0.0) kind = RC_L1;
  rc_tensor *grad = lua_toboolean(L, 6) ? rcl_new_tensor(L, x->ndim, x->shape) : NULL;
  double total =
      rc_regression_loss(kind, x->numel, x->data, y->data, (float)beta, scale, grad ? grad->data : NULL);
  push_loss(L, total, scale, x->numel, grad);
  return 2;
}

/* ---- optimizer steps -------------------------------------------------------------------------- */

/* the state tensor at arg, of the parameter's element count (NULL for nil when optional) */
static float *state_buffer(lua_State *L, int arg, const char *name, size_t n, int optional) {
  if (optional && lua_isnoneornil(L, arg)) return NULL;
  rc_tensor *t = rcl_check_tensor(L, arg, name);
  check_same_numel(L, arg, t, name, n);
  return t->data;
}

/* A hyper-parameter of an optimizer step: a field of the table at argument 1, stored at
 * `offset` in the kernel's option struct as a float, a double or an int flag. */
typedef enum { HYPER_FLOAT, HYPER_DOUBLE, HYPER_FLAG } hyper_kind;
typedef struct hyper_field {
  const char *name;
  hyper_kind kind;
  size_t offset;
} hyper_field;

/* fills the option struct `out` from the hyper-parameter table at argument 1 */
static void read_hyper(lua_State *L, const hyper_field *fields, void *out) {
  luaL_checktype(L, 1, LUA_TTABLE);
  for (const hyper_field *f = fields; f->name; f++) {
    char *at = (char *)out + f->offset;
    int type = lua_getfield(L, 1, f->name);
    if (f->kind == HYPER_FLAG) {
      int v = lua_toboolean(L, -1);
      memcpy(at, &v, sizeof v);
    } else if (type != LUA_TNUMBER) {
      luaL_argerror(L, 1, lua_pushfstring(L, "%s: expected a number, got %s", f->name, rcl_typename(L, -1)));
    } else if (f->kind == HYPER_DOUBLE) {
      double v = lua_tonumber(L, -1);
      memcpy(at, &v, sizeof v);
    } else {
      float v = (float)lua_tonumber(L, -1);
      memcpy(at, &v, sizeof v);
    }
    lua_pop(L, 1);
  }
}

#define HYPER(type, field, name, kind) \
  { name, kind, offsetof(type, field) }

/* sgd_step(hyper, p, g, buf|nil, first) */
static int l_sgd_step(lua_State *L) {
  static const hyper_field fields[] = {HYPER(rc_sgd, lr, "lr", HYPER_FLOAT),
                                       HYPER(rc_sgd, momentum, "momentum", HYPER_FLOAT),
                                       HYPER(rc_sgd, dampening, "dampening", HYPER_FLOAT),
                                       HYPER(rc_sgd, weight_decay, "weight_decay", HYPER_FLOAT),
                                       HYPER(rc_sgd, nesterov, "nesterov", HYPER_FLAG),
                                       {NULL, HYPER_FLAG, 0}};
  rc_sgd o;
  read_hyper(L, fields, &o);
  rc_tensor *p = rcl_check_tensor(L, 2, "param");
  float *g = state_buffer(L, 3, "grad", p->numel, 0);
  float *buf = state_buffer(L, 4, "momentum_buffer", p->numel, o.momentum == 0.0f);
  rc_sgd_step(&o, p->numel, p->data, g, buf, lua_toboolean(L, 5));
  return 0;
}

/* adam_step(hyper, step, p, g, m, v, vmax|nil) */
static int l_adam_step(lua_State *L) {
  static const hyper_field fields[] = {HYPER(rc_adam, lr, "lr", HYPER_DOUBLE),
                                       HYPER(rc_adam, beta1, "beta1", HYPER_DOUBLE),
                                       HYPER(rc_adam, beta2, "beta2", HYPER_DOUBLE),
                                       HYPER(rc_adam, eps, "eps", HYPER_DOUBLE),
                                       HYPER(rc_adam, weight_decay, "weight_decay", HYPER_DOUBLE),
                                       HYPER(rc_adam, decoupled, "decoupled", HYPER_FLAG),
                                       HYPER(rc_adam, amsgrad, "amsgrad", HYPER_FLAG),
                                       {NULL, HYPER_FLAG, 0}};
  rc_adam o;
  read_hyper(L, fields, &o);
  lua_Integer step = rcl_check_integer_in(L, 2, "step", 1, LONG_MAX);
  rc_tensor *p = rcl_check_tensor(L, 3, "param");
  float *g = state_buffer(L, 4, "grad", p->numel, 0);
  float *m = state_buffer(L, 5, "exp_avg", p->numel, 0);
  float *v = state_buffer(L, 6, "exp_avg_sq", p->numel, 0);
  float *vmax = state_buffer(L, 7, "max_exp_avg_sq", p->numel, !o.amsgrad);
  rc_adam_step(&o, (long)step, p->numel, p->data, g, m, v, vmax);
  return 0;
}

/* rmsprop_step(hyper, p, g, square_avg, grad_avg|nil, buf|nil) */
static int l_rmsprop_step(lua_State *L) {
  static const hyper_field fields[] = {HYPER(rc_rmsprop, lr, "lr", HYPER_FLOAT),
                                       HYPER(rc_rmsprop, alpha, "alpha", HYPER_FLOAT),
                                       HYPER(rc_rmsprop, eps, "eps", HYPER_FLOAT),
                                       HYPER(rc_rmsprop, weight_decay, "weight_decay", HYPER_FLOAT),
                                       HYPER(rc_rmsprop, momentum, "momentum", HYPER_FLOAT),
                                       HYPER(rc_rmsprop, centered, "centered", HYPER_FLAG),
                                       {NULL, HYPER_FLAG, 0}};
  rc_rmsprop o;
  read_hyper(L, fields, &o);
  rc_tensor *p = rcl_check_tensor(L, 2, "param");
  float *g = state_buffer(L, 3, "grad", p->numel, 0);
  float *sq = state_buffer(L, 4, "square_avg", p->numel, 0);
  float *gavg = state_buffer(L, 5, "grad_avg", p->numel, !o.centered);
  float *buf = state_buffer(L, 6, "momentum_buffer", p->numel, o.momentum <= 0.0f);
  rc_rmsprop_step(&o, p->numel, p->data, g, sq, gavg, buf);
  return 0;
}

/* ---- allocation limits ------------------------------------------------------------------------ */

/* the state's allocator with a budget: the bytes it may still grow by (frees give them back) */
typedef struct alloc_budget {
  lua_Alloc alloc;
  void *ud;
  long long room;
  int refused;
} alloc_budget;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  alloc_budget *b = (alloc_budget *)ud;
  size_t old = ptr ? osize : 0; /* with no block, osize tells the kind of object */
  if (nsize > old && (b->room < 0 || nsize - old > (unsigned long long)b->room)) {
    b->refused = 1;
    return NULL;
  }
  void *p = b->alloc(b->ud, ptr, osize, nsize);
  if (p || nsize == 0) b->room -= (long long)nsize - (long long)old;
  return p;
}

/* with_allocation_limit(bytes, f, ...) -> true, f's results | false, error, refused: f(...)
 * in protected mode while the state's allocations may grow by `bytes` at most; refused
 * tells that the limit refused an allocation. For building what a file describes. */
static int l_with_allocation_limit(lua_State *L) {
  long long limit = (long long)rcl_check_integer_in(L, 1, "bytes", 0, LUA_MAXINTEGER);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  alloc_budget *b = (alloc_budget *)lua_newuserdatauv(L, sizeof *b, 0);
  lua_replace(L, 1); /* the budget lives at 1 during the call */
  b->alloc = lua_getallocf(L, &b->ud);
  b->room = limit;
  b->refused = 0;
  lua_setallocf(L, limited_alloc, b);
  int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  lua_setallocf(L, b->alloc, b->ud);
  if (status == 0) {
    lua_pushboolean(L, 1);
    lua_replace(L, 1);
    return lua_gettop(L);
  }
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  lua_pushboolean(L, b->refused);
  return 3;
}

static const luaL_Reg functional[] = {{"with_allocation_limit", l_with_allocation_limit},
                                      {"linear_forward", l_linear_forward},
                                      {"linear_backward", l_linear_backward},
                                      {"embedding_forward", l_embedding_forward},
                                      {"embedding_backward", l_embedding_backward},
                                      {"dropout", l_dropout},
                                      {"cross_entropy", l_cross_entropy},
                                      {"regression_loss", l_regression_loss},
                                      {"sgd_step", l_sgd_step},
                                      {"adam_step", l_adam_step},
                                      {"rmsprop_step", l_rmsprop_step},
                                      {NULL, NULL}};

void rcl_open_functional(lua_State *L) { luaL_setfuncs(L, functional, 0); }
