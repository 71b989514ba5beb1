/* Training kernels for the Lua side: each checks its tensors' shapes, then calls
 * the numeric core (core/ops.c). The Lua modules in lua/recur/ are thin on top. */
#include "functional.h"

#include "data.h"
#include "safetensors.h"

#include <limits.h>
#include <string.h>

#include "../core/ops.h"
#include "args.h"
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

static void check_int_range(lua_State *L, size_t n) {
  if (n > INT_MAX) luaL_error(L, "tensor too large for BLAS (%s rows)", rcl_istr(L, (long long)n));
}

/* Reads integer class or row indices (a tensor or a Lua array of n numbers) as
 * 0-based int32 into a scratch storage left on the stack. Each must be an integer in
 * 1..limit, or equal `allowed` (e.g. ignore_index), kept as is. */
static int32_t *read_indices(lua_State *L, int arg, const char *name, size_t n, lua_Integer limit,
                             lua_Integer allowed) {
  rcl_int_list list = rcl_check_int_list(L, arg, name);
  if (list.n != n)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected %s indices, got %s", name, rcl_istr(L, (long long)n),
                                  rcl_istr(L, (long long)list.n)));
  int32_t *out = (int32_t *)(void *)rcl_new_storage(L, n);
  for (size_t i = 0; i < n; i++) {
    lua_Integer v;
    if (!rcl_int_list_at(&list, i, &v)) rcl_int_list_error(&list, i, 1, limit);
    if (v == allowed)
      out[i] = (int32_t)allowed;
    else if (v >= 1 && v <= limit)
      out[i] = (int32_t)(v - 1);
    else
      rcl_int_list_error(&list, i, 1, limit);
  }
  return out;
}

/* ---- linear ---------------------------------------------------------------------------- */

/* rows of a (..., in) tensor */
static size_t rows_of(lua_State *L, int arg, const rc_tensor *x, lua_Integer in, const char *name) {
  if (x->shape[x->ndim - 1] != in)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected last dimension %s, got %s", name, rcl_istr(L, in),
                                  rcl_istr(L, x->shape[x->ndim - 1])));
  size_t rows = x->numel / (size_t)(in ? in : 1);
  check_int_range(L, rows);
  return rows;
}

/* linear_forward(x (..., in), W (out, in), b (out) or nil) -> y (..., out) */
static int l_linear_forward(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input"), *W = rcl_check_tensor(L, 2, "weight");
  rc_tensor *b = opt_tensor(L, 3, "bias");
  lua_Integer out = W->shape[0], in = W->ndim == 2 ? W->shape[1] : 0;
  size_t rows = rows_of(L, 1, x, in, "input");
  if (b) check_same_numel(L, 3, b, "bias", (size_t)out);
  lua_Integer shape[RC_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = out;
  rc_tensor *y = rcl_new_tensor(L, x->ndim, shape);
  rc_linear_forward((int)rows, (int)in, (int)out, x->data, W->data, b ? b->data : NULL, y->data);
  return 1;
}

/* linear_backward(x, W, gy, gW, gb or nil) -> dx; accumulates into gW and gb */
static int l_linear_backward(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input"), *W = rcl_check_tensor(L, 2, "weight");
  rc_tensor *gy = rcl_check_tensor(L, 3, "grad_output"), *gW = rcl_check_tensor(L, 4, "grad_weight");
  rc_tensor *gb = opt_tensor(L, 5, "grad_bias");
  lua_Integer out = W->shape[0], in = W->ndim == 2 ? W->shape[1] : 0;
  size_t rows = rows_of(L, 1, x, in, "input");
  lua_Integer yshape[RC_MAX_DIMS];
  memcpy(yshape, x->shape, sizeof yshape);
  yshape[x->ndim - 1] = out;
  rcl_check_shape(L, 3, gy, "grad_output", x->ndim, yshape);
  check_same_numel(L, 4, gW, "grad_weight", W->numel);
  if (gb) check_same_numel(L, 5, gb, "grad_bias", (size_t)out);
  rc_tensor *dx = rcl_new_tensor(L, x->ndim, x->shape);
  rc_linear_backward((int)rows, (int)in, (int)out, x->data, W->data, gy->data, gW->data, gb ? gb->data : NULL,
                     dx->data);
  return 1;
}

/* ---- embedding ------------------------------------------------------------------------------ */

/* shape of an index argument: a tensor's own, or {#array} */
static int index_shape(lua_State *L, int arg, lua_Integer *shape) {
  rc_tensor *t = rcl_test_tensor(L, arg);
  if (t) {
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof(lua_Integer));
    return t->ndim;
  }
  shape[0] = (lua_Integer)rcl_check_int_list(L, arg, "input").n;
  return 1;
}

/* embedding_forward(W (num, dim), idx) -> (idx shape..., dim) */
static int l_embedding_forward(lua_State *L) {
  rc_tensor *W = rcl_check_tensor(L, 1, "weight");
  lua_Integer shape[RC_MAX_DIMS + 1];
  int ndim = index_shape(L, 2, shape);
  if (ndim >= RC_MAX_DIMS) return luaL_argerror(L, 2, "input: too many dimensions");
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  int32_t *idx = read_indices(L, 2, "input", n, W->shape[0], LUA_MININTEGER);
  shape[ndim] = W->shape[1];
  rc_tensor *out = rcl_new_tensor(L, ndim + 1, shape);
  rc_embedding_forward(n, (int)W->shape[1], W->data, idx, out->data);
  return 1;
}

/* embedding_backward(gW (num, dim), idx, gy (idx shape..., dim)) */
static int l_embedding_backward(lua_State *L) {
  rc_tensor *gW = rcl_check_tensor(L, 1, "grad_weight");
  lua_Integer shape[RC_MAX_DIMS + 1];
  int ndim = index_shape(L, 2, shape);
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  rc_tensor *gy = rcl_check_tensor(L, 3, "grad_output");
  shape[ndim] = gW->shape[1];
  rcl_check_shape(L, 3, gy, "grad_output", ndim + 1, shape);
  int32_t *idx = read_indices(L, 2, "input", n, gW->shape[0], LUA_MININTEGER);
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

/* cross_entropy(logits (..., C), target, ignore_index, reduction, want_grad) -> loss, grad|nil, count */
static int l_cross_entropy(lua_State *L) {
  rc_tensor *x = rcl_check_tensor(L, 1, "input");
  lua_Integer ignore = luaL_checkinteger(L, 3);
  int want_grad = lua_toboolean(L, 5);
  lua_Integer C = x->shape[x->ndim - 1];
  if (C < 1) return luaL_argerror(L, 1, "input: expected at least one class");
  size_t rows = rows_of(L, 1, x, C, "input");
  if (ignore < INT32_MIN || ignore > INT32_MAX) return luaL_argerror(L, 3, "ignore_index: out of range");
  int32_t *target = read_indices(L, 2, "target", rows, C, ignore);
  int32_t ignore0 = (int32_t)ignore;
  size_t counted = 0;
  for (size_t r = 0; r < rows; r++) counted += target[r] != ignore0;
  float scale = reduction_scale(L, 4, counted);
  rc_tensor *grad = want_grad ? rcl_new_tensor(L, x->ndim, x->shape) : NULL;
  double total = rc_cross_entropy((int)rows, (int)C, x->data, target, ignore0, scale,
                                  grad ? grad->data : NULL, &counted);
  /* a mean over no target is NaN, as in PyTorch */
  lua_pushnumber(L, scale == 1.0f ? total : (counted ? total / (double)counted : total / 0.0));
  if (grad)
    lua_pushvalue(L, -2);
  else
    lua_pushnil(L);
  lua_pushinteger(L, (lua_Integer)counted);
  return 3;
}

/* regression_loss(kind, x, y, reduction, beta, want_grad) -> loss, grad|nil */
static int l_regression_loss(lua_State *L) {
  const char *const kinds[] = {"mse", "l1", "smooth_l1", NULL};
  rc_regression kind = (rc_regression)luaL_checkoption(L, 1, NULL, kinds);
  rc_tensor *x = rcl_check_tensor(L, 2, "input"), *y = rcl_check_tensor(L, 3, "target");
  rcl_check_shape(L, 3, y, "target", x->ndim, x->shape);
  float scale = reduction_scale(L, 4, x->numel);
  double beta = luaL_optnumber(L, 5, 1.0);
  if (kind == RC_SMOOTH_L1 && !(beta > 0.0)) return luaL_argerror(L, 5, "beta: expected a positive number");
  rc_tensor *grad = lua_toboolean(L, 6) ? rcl_new_tensor(L, x->ndim, x->shape) : NULL;
  double total =
      rc_regression_loss(kind, x->numel, x->data, y->data, (float)beta, scale, grad ? grad->data : NULL);
  lua_pushnumber(L, scale == 1.0f ? total : (x->numel ? total / (double)x->numel : total / 0.0));
  if (grad)
    lua_pushvalue(L, -2);
  else
    lua_pushnil(L);
  return 2;
}

/* ---- optimizer steps -------------------------------------------------------------------------- */

/* the state tensors at args first.. must match the parameter's element count (nil allowed when optional) */
static float *state_buffer(lua_State *L, int arg, const char *name, size_t n, int optional) {
  if (optional && lua_isnoneornil(L, arg)) return NULL;
  rc_tensor *t = rcl_check_tensor(L, arg, name);
  check_same_numel(L, arg, t, name, n);
  return t->data;
}

static float field_number(lua_State *L, int arg, const char *key) {
  lua_getfield(L, arg, key);
  float v = (float)luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static double field_double(lua_State *L, int arg, const char *key) {
  lua_getfield(L, arg, key);
  double v = luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static int field_bool(lua_State *L, int arg, const char *key) {
  lua_getfield(L, arg, key);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* sgd_step(hyper, p, g, buf|nil, first) */
static int l_sgd_step(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rc_sgd o;
  o.lr = field_number(L, 1, "lr");
  o.momentum = field_number(L, 1, "momentum");
  o.dampening = field_number(L, 1, "dampening");
  o.weight_decay = field_number(L, 1, "weight_decay");
  o.nesterov = field_bool(L, 1, "nesterov");
  rc_tensor *p = rcl_check_tensor(L, 2, "param");
  float *g = state_buffer(L, 3, "grad", p->numel, 0);
  float *buf = state_buffer(L, 4, "momentum_buffer", p->numel, o.momentum == 0.0f);
  rc_sgd_step(&o, p->numel, p->data, g, buf, lua_toboolean(L, 5));
  return 0;
}

/* adam_step(hyper, step, p, g, m, v, vmax|nil) */
static int l_adam_step(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rc_adam o;
  o.lr = field_double(L, 1, "lr");
  o.beta1 = field_double(L, 1, "beta1");
  o.beta2 = field_double(L, 1, "beta2");
  o.eps = field_double(L, 1, "eps");
  o.weight_decay = field_double(L, 1, "weight_decay");
  o.decoupled = field_bool(L, 1, "decoupled");
  o.amsgrad = field_bool(L, 1, "amsgrad");
  lua_Integer step = luaL_checkinteger(L, 2);
  if (step < 1) return luaL_argerror(L, 2, "step: expected at least 1");
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
  luaL_checktype(L, 1, LUA_TTABLE);
  rc_rmsprop o;
  o.lr = field_number(L, 1, "lr");
  o.alpha = field_number(L, 1, "alpha");
  o.eps = field_number(L, 1, "eps");
  o.weight_decay = field_number(L, 1, "weight_decay");
  o.momentum = field_number(L, 1, "momentum");
  o.centered = field_bool(L, 1, "centered");
  rc_tensor *p = rcl_check_tensor(L, 2, "param");
  float *g = state_buffer(L, 3, "grad", p->numel, 0);
  float *sq = state_buffer(L, 4, "square_avg", p->numel, 0);
  float *gavg = state_buffer(L, 5, "grad_avg", p->numel, !o.centered);
  float *buf = state_buffer(L, 6, "momentum_buffer", p->numel, o.momentum <= 0.0f);
  rc_rmsprop_step(&o, p->numel, p->data, g, sq, gavg, buf);
  return 0;
}

static const luaL_Reg functional[] = {{"linear_forward", l_linear_forward},
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

void rcl_open_functional(lua_State *L) {
  luaL_newlib(L, functional);
  rcl_open_data(L);
  rcl_open_safetensors(L);
  lua_setfield(L, -2, "F");
}
