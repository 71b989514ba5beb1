/* The recurrence userdata behind recur.RNN, recur.GRU and recur.LSTM (lua/recur/nn.lua
 * holds the module protocol: options, parameters, modes, config, state). It keeps the
 * layer's configuration, its workspace (grown only when a larger (T, B) arrives) and what
 * backward needs of the last forward; the maths is in core/rnn.c. */
#include "layer.h"

#include <limits.h>
#include <string.h>

#include "args.h"
#include "generator.h"
#include "stepper.h"
#include "tensor.h"
#include "workers.h"

/* largest size any single matrix dimension may have, so that products fit BLAS ints */
#define MAX_SIZE (1 << 20)
#define MAX_LAYERS 1024

rcl_recurrence *rcl_check_recurrence(lua_State *L, int arg) {
  return (rcl_recurrence *)luaL_checkudata(L, arg, RCL_RECURRENCE);
}

static const char *family(const rcl_recurrence *r) { return r->cfg.cell->family; }

/* the slots of a recurrence's user value table (an array: 80 bytes where a table of
 * named fields takes 248) */
enum { SLOT_GENERATOR = 1, SLOT_PARAMS, SLOT_GRADS, SLOT_WS, SLOT_LENGTHS, SLOTS = SLOT_LENGTHS };

/* stores the value on top in slot k of the user value table of the recurrence at 1 */
static void set_slot(lua_State *L, int k) {
  lua_getiuservalue(L, 1, 1);
  lua_insert(L, -2);
  lua_rawseti(L, -2, k);
  lua_pop(L, 1);
}

void rcl_get_field(lua_State *L, int arg, const char *key) {
  lua_getiuservalue(L, arg, 1);
  lua_getfield(L, -1, key);
  lua_remove(L, -2);
}

/* ---- the cell table --------------------------------------------------------------- */

static void set_bool(lua_State *L, const char *key, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, key);
}

/* rnn_cells() -> {{family =, nonlinearity =, flags = {<flag> = boolean...}, states =,
 * projection =}, ...} in registry order (a family's first cell is its default), and the
 * limits {max_size =, max_layers =} of the sizes */
static int l_rnn_cells(lua_State *L) {
  lua_newtable(L);
  for (int i = 0; rc_cell_at(i); i++) {
    const rc_cell *c = rc_cell_at(i);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, c->family);
    lua_setfield(L, -2, "family");
    if (c->nonlinearity) {
      lua_pushstring(L, c->nonlinearity);
      lua_setfield(L, -2, "nonlinearity");
    }
    lua_newtable(L);
    for (int f = 0; rc_cell_flag_names[f]; f++) set_bool(L, rc_cell_flag_names[f], (c->flags >> f) & 1u);
    lua_setfield(L, -2, "flags");
    lua_pushinteger(L, c->states);
    lua_setfield(L, -2, "states");
    set_bool(L, "projection", c->projection);
    lua_rawseti(L, -2, i + 1);
  }
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, MAX_SIZE);
  lua_setfield(L, -2, "max_size");
  lua_pushinteger(L, MAX_LAYERS);
  lua_setfield(L, -2, "max_layers");
  return 2;
}

/* ---- construction ----------------------------------------------------------------- */

/* field `key` of the options table at 1 (validated by nn.lua; checked again here) */
static lua_Integer field_int(lua_State *L, const char *key, lua_Integer lo, lua_Integer hi) {
  lua_getfield(L, 1, key);
  lua_Integer v = rcl_check_integer_in(L, lua_gettop(L), key, lo, hi);
  lua_pop(L, 1);
  return v;
}

static int field_bool(lua_State *L, const char *key) {
  lua_getfield(L, 1, key);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static double field_probability(lua_State *L, const char *key) {
  lua_getfield(L, 1, key);
  lua_Number p = lua_isnil(L, -1) ? 0.0 : luaL_checknumber(L, -1);
  if (!(p >= 0.0 && p < 1.0)) luaL_error(L, "option %s: expected a probability in [0, 1)", key);
  lua_pop(L, 1);
  return p;
}

static const char *const dropout_names[3] = {"dropout", "input_dropout", "recurrent_dropout"};

static rc_rnn_config read_config(lua_State *L, int *batch_first, double dropouts[3]) {
  rc_rnn_config cfg;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "type");
  lua_getfield(L, 1, "nonlinearity");
  const char *type = luaL_checkstring(L, -2), *nonlinearity = luaL_optstring(L, -1, NULL);
  unsigned flags = 0;
  for (int f = 0; rc_cell_flag_names[f]; f++) flags |= field_bool(L, rc_cell_flag_names[f]) ? 1u << f : 0u;
  cfg.cell = rc_cell_find(type, nonlinearity, flags);
  if (!cfg.cell) luaL_error(L, "%s: no cell type has these options", type);
  lua_pop(L, 2);
  cfg.input_size = (int)field_int(L, "input_size", 1, MAX_SIZE);
  cfg.hidden_size = (int)field_int(L, "hidden_size", 1, MAX_SIZE);
  cfg.num_layers = (int)field_int(L, "num_layers", 1, MAX_LAYERS);
  cfg.proj_size = cfg.cell->projection ? (int)field_int(L, "proj_size", 0, cfg.hidden_size - 1) : 0;
  cfg.bias = field_bool(L, "bias");
  cfg.bidirectional = field_bool(L, "bidirectional");
  *batch_first = field_bool(L, "batch_first");
  for (int k = 0; k < 3; k++) dropouts[k] = field_probability(L, dropout_names[k]);
  cfg.dropout = (float)dropouts[0];
  cfg.input_dropout = (float)dropouts[1];
  cfg.recurrent_dropout = (float)dropouts[2];
  size_t gh = (size_t)cfg.cell->gates * cfg.hidden_size;
  if (gh * (size_t)(cfg.input_size > cfg.hidden_size ? cfg.input_size : 2 * cfg.hidden_size) > INT_MAX / 2)
    luaL_error(L, "%s: input_size and hidden_size are too large", type);
  return cfg;
}

typedef struct spec_list {
  lua_State *L;
  int list, n;
} spec_list;

/* appends {name, shape} to the list at s->list */
static void add_spec(void *ud, const rc_param_tensor *t) {
  spec_list *s = (spec_list *)ud;
  lua_State *L = s->L;
  lua_createtable(L, 2, 0);
  lua_pushfstring(L, "%s_l%d%s", t->name, t->layer, t->dir ? "_reverse" : "");
  lua_rawseti(L, -2, 1);
  lua_createtable(L, 2, 0);
  lua_pushinteger(L, (lua_Integer)t->rows);
  lua_rawseti(L, -2, 1);
  if (t->cols) {
    lua_pushinteger(L, (lua_Integer)t->cols);
    lua_rawseti(L, -2, 2);
  }
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, s->list, ++s->n);
}

/* rnn_new(options) -> recurrence, flat parameters, flat gradients, {{name, shape}, ...}
 * (state_dict order; the parameters laid out one after the other in that order) */
static int l_rnn_new(lua_State *L) {
  int batch_first;
  double dropouts[3];
  rc_rnn_config cfg = read_config(L, &batch_first, dropouts);
  lua_getfield(L, 1, "generator");
  rc_rng *gen = rcl_opt_generator(L, -1);
  lua_settop(L, 1);
  lua_getfield(L, 1, "generator");                                                       /* 2 */
  rcl_recurrence *r = (rcl_recurrence *)lua_newuserdatauv(L, sizeof(rcl_recurrence), 1); /* 3 */
  memset(r, 0, sizeof *r);
  r->cfg = cfg;
  memcpy(r->dropouts, dropouts, sizeof r->dropouts);
  r->batch_first = batch_first;
  r->training = r->grad_enabled = 1;
  luaL_setmetatable(L, RCL_RECURRENCE);
  lua_createtable(L, SLOTS, 0); /* 4: user value table */
  lua_pushvalue(L, 4);
  lua_setiuservalue(L, 3, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, 4, SLOT_GENERATOR);
  lua_Integer n = (lua_Integer)rc_rnn_each_param(&cfg, NULL, NULL);
  r->params = rcl_new_tensor(L, 1, &n)->data; /* 5 */
  r->grads = rcl_new_tensor(L, 1, &n)->data;  /* 6 */
  lua_pushvalue(L, 5);
  lua_rawseti(L, 4, SLOT_PARAMS);
  lua_pushvalue(L, 6);
  lua_rawseti(L, 4, SLOT_GRADS);
  rc_rnn_init_params(&cfg, r->params, gen);
  spec_list specs;
  lua_newtable(L); /* 7 */
  specs.L = L;
  specs.list = 7;
  specs.n = 0;
  rc_rnn_each_param(&cfg, add_spec, &specs);
  lua_remove(L, 4);
  return 4;
}

/* ---- forward and backward ----------------------------------------------------------------- */

/* grows the workspace (in the user value table's SLOT_WS) to n floats; returns it */
static float *ensure_workspace(lua_State *L, rcl_recurrence *r, size_t n) {
  if (n > r->ws_floats || !r->ws) {
    r->ws = rcl_new_storage(L, n);
    r->ws_floats = n;
    set_slot(L, SLOT_WS);
  }
  return r->ws;
}

/* expected shapes of x, y, states */
typedef struct io_shapes {
  int ndim_seq, ndim_state;
  lua_Integer x[3], y[3], h[3], c[3];
} io_shapes;

static io_shapes shapes_for(const rcl_recurrence *r, int unbatched, lua_Integer T, lua_Integer B) {
  io_shapes s;
  lua_Integer LD = (lua_Integer)r->cfg.num_layers * rc_rnn_dirs(&r->cfg);
  lua_Integer hout = rc_rnn_hout(&r->cfg), width = rc_rnn_dirs(&r->cfg) * hout;
  s.ndim_seq = unbatched ? 2 : 3;
  s.ndim_state = unbatched ? 2 : 3;
  lua_Integer seq0 = unbatched ? T : (r->batch_first ? B : T), seq1 = r->batch_first ? T : B;
  s.x[0] = s.y[0] = seq0;
  s.x[unbatched ? 1 : 2] = r->cfg.input_size;
  s.y[unbatched ? 1 : 2] = width;
  if (!unbatched) s.x[1] = s.y[1] = seq1;
  s.h[0] = s.c[0] = LD;
  s.h[1] = unbatched ? hout : B;
  s.c[1] = unbatched ? r->cfg.hidden_size : B;
  s.h[2] = hout;
  s.c[2] = r->cfg.hidden_size;
  return s;
}

static const float *opt_state(lua_State *L, int arg, const char *name, int ndim, const lua_Integer *shape) {
  if (lua_isnoneornil(L, arg)) return NULL;
  rc_tensor *t = rcl_check_tensor(L, arg, name);
  rcl_check_shape(L, arg, t, name, ndim, shape);
  return t->data;
}

/* the families whose cells have a cell state, as "LSTM" or "A, B or C" */
static const char *families_with_cell_state(lua_State *L) {
  luaL_Buffer b;
  const char *names[16];
  int n = 0;
  for (int i = 0; rc_cell_at(i) && n < 16; i++) {
    const rc_cell *c = rc_cell_at(i);
    int seen = 0;
    for (int k = 0; k < n; k++) seen |= strcmp(names[k], c->family) == 0;
    if (c->states == 2 && !seen) names[n++] = c->family;
  }
  luaL_buffinit(L, &b);
  for (int k = 0; k < n; k++) {
    if (k > 0) luaL_addstring(&b, k + 1 == n ? " or " : ", ");
    luaL_addstring(&b, names[k]);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static void check_extra_args(lua_State *L, const rcl_recurrence *r, int max_args, const char *fn) {
  if (lua_gettop(L) > max_args && !lua_isnil(L, max_args + 1))
    luaL_error(L, "%s:%s takes at most %d arguments after self (only %s has a cell state)", family(r), fn,
               max_args - 1, families_with_cell_state(L));
}

/* An options table given as the last argument before its place, in place of a state
 * (lstm:forward(x, {lengths = ...}), lstm:backward(gy, {out = dx})), is moved to its place
 * (opts), the states it stood for nil. Tensors are userdata, so a table there is never one. */
static void place_options(lua_State *L, int opts) {
  int top = lua_gettop(L);
  if (top < 3 || top >= opts || !lua_istable(L, top)) return;
  lua_settop(L, opts);
  lua_pushvalue(L, top);
  lua_replace(L, opts);
  lua_pushnil(L);
  lua_replace(L, top);
}

/* checks that the options argument at opts is nil or a table (example: what one looks
 * like; state: the argument a layer with a cell state takes there) */
static void check_options(lua_State *L, const rcl_recurrence *r, int opts, const char *example,
                          const char *state) {
  if (lua_isnoneornil(L, opts) || lua_istable(L, opts)) return;
  const char *why = r->cfg.cell->states == 2
                        ? ""
                        : lua_pushfstring(L, " (only %s has %s)", families_with_cell_state(L), state);
  luaL_argerror(L, opts,
                lua_pushfstring(L, "options: expected a table such as {%s}, got %s%s", example,
                                rcl_typename(L, opts), why));
}

/* reads opts.lengths (a Lua array or a 1-D tensor of B integers in 1..T) into the
 * lengths buffer; returns it, or NULL when opts or lengths is absent */
static int *read_lengths(lua_State *L, rcl_recurrence *r, int opts, lua_Integer T, lua_Integer B) {
  if (lua_isnoneornil(L, opts)) return NULL;
  lua_getfield(L, opts, "lengths");
  int at = lua_gettop(L);
  if (lua_isnil(L, at)) return NULL;
  rcl_int_list list = rcl_check_int_list(L, at, "lengths");
  if (list.n != (size_t)B || (list.tensor && list.tensor->ndim != 1))
    luaL_argerror(L, opts,
                  lua_pushfstring(L, "lengths: expected a 1-D tensor or an array of %s integers",
                                  rcl_istr(L, (long long)(B))));
  if ((size_t)B > r->lengths_cap) {
    r->lengths = (int *)(void *)rcl_new_storage(L, (size_t)B);
    r->lengths_cap = (size_t)B;
    set_slot(L, SLOT_LENGTHS);
  }
  for (lua_Integer b = 0; b < B; b++) r->lengths[b] = (int)rcl_int_list_check(&list, (size_t)b, 1, T);
  lua_pop(L, 1);
  return r->lengths;
}

/* does [a, a + na) share a float with [b, b + nb)? */
static int overlaps(const float *a, size_t na, const float *b, size_t nb) {
  uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
  return a0 < b0 + nb * sizeof(float) && b0 < a0 + na * sizeof(float);
}

/* A result tensor: opts.out when given (checked: its shape, and no memory shared with the
 * inputs, nor with the layer's parameters and gradients), else a new tensor whose elements
 * are left for the caller to write (forward and backward write every one).
 * Pushes it. inputs: n tensors (NULL where absent) named by names. */
static rc_tensor *push_result(lua_State *L, const rcl_recurrence *r, int opts, int ndim,
                              const lua_Integer *shape, const rc_tensor *const *inputs,
                              const char *const *names, int n) {
  if (lua_isnoneornil(L, opts) || lua_getfield(L, opts, "out") == LUA_TNIL) {
    if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
    return rcl_new_result(L, ndim, shape);
  }
  int at = lua_gettop(L);
  rc_tensor *out = rcl_check_tensor(L, at, "out");
  rcl_check_shape(L, at, out, "out", ndim, shape);
  size_t params = rc_rnn_each_param(&r->cfg, NULL, NULL);
  const char *shared = overlaps(out->data, out->numel, r->params, params)  ? "the layer's parameters"
                       : overlaps(out->data, out->numel, r->grads, params) ? "the layer's gradients"
                                                                           : NULL;
  for (int k = 0; k < n && !shared; k++)
    if (inputs[k] && overlaps(out->data, out->numel, inputs[k]->data, inputs[k]->numel)) shared = names[k];
  if (shared) luaL_argerror(L, opts, lua_pushfstring(L, "out: shares memory with %s", shared));
  return out;
}

/* the generator of the variational dropout masks: the layer's, else the default one */
static rc_rng *layer_generator(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, -1, SLOT_GENERATOR);
  lua_remove(L, -2);
  rc_rng *g = rcl_opt_generator(L, -1);
  lua_pop(L, 1); /* the user value table keeps it alive */
  return g;
}

/* forward(x[, h0[, c0]][, {lengths = ...}]) -> y, hn[, cn]: c0 and cn for cells with a
 * cell state */
static int r_forward(lua_State *L) {
  rcl_recurrence *r = rcl_check_recurrence(L, 1);
  int cell_state = r->cfg.cell->states == 2, opts = cell_state ? 5 : 4;
  place_options(L, opts);
  check_extra_args(L, r, opts, "forward");
  check_options(L, r, opts, "lengths = ...", "c0");
  rc_tensor *x = rcl_check_tensor(L, 2, "x");
  if (x->ndim != 2 && x->ndim != 3)
    return luaL_argerror(
        L, 2, lua_pushfstring(L, "x: expected a 3-D (batched) or 2-D (unbatched) tensor, got %d-D", x->ndim));
  int unbatched = x->ndim == 2;
  lua_Integer T = unbatched || !r->batch_first ? x->shape[0] : x->shape[1];
  lua_Integer B = unbatched ? 1 : (r->batch_first ? x->shape[0] : x->shape[1]);
  io_shapes s = shapes_for(r, unbatched, T, B);
  rcl_check_shape(L, 2, x, "x", s.ndim_seq, s.x);
  if (T < 1 || B < 1) return luaL_argerror(L, 2, "x: the sequence length and batch size must be at least 1");
  if ((size_t)T * (size_t)B * 4 * ((size_t)r->cfg.hidden_size + r->cfg.input_size) > INT_MAX)
    return luaL_argerror(L, 2, "x: sequence too large (T * B * size exceeds the BLAS int range)");
  const float *h0 = opt_state(L, 3, "h0", s.ndim_state, s.h);
  const float *c0 = cell_state ? opt_state(L, 4, "c0", s.ndim_state, s.c) : NULL;
  r->has_forward = 0; /* stays 0 if the forward raises */
  rc_rnn_io io;
  io.T = (int)T;
  io.B = (int)B;
  io.batch_first = r->batch_first && !unbatched;
  io.lengths = read_lengths(L, r, opts, T, B);
  io.training = r->training;
  io.inference = !r->grad_enabled;
  int threads = rcl_threads(L);
  ensure_workspace(L, r, rc_rnn_workspace_size_on(&r->cfg, &io, threads));
  rc_rng *variational = layer_generator(L);
  lua_settop(L, 5);
  const rc_tensor *inputs[3] = {x, rcl_test_tensor(L, 3), cell_state ? rcl_test_tensor(L, 4) : NULL};
  static const char *const names[3] = {"x", "h0", "c0"};
  rc_tensor *y = push_result(L, r, opts, s.ndim_seq, s.y, inputs, names, 3); /* 6 */
  rc_tensor *hn = rcl_new_result(L, s.ndim_state, s.h);                      /* 7 */
  rc_tensor *cn = cell_state ? rcl_new_result(L, s.ndim_state, s.c) : NULL;
  rc_rnn_forward_on(&r->cfg, threads, rcl_pool(L), r->params, r->ws, &io, x->data, h0, c0,
                    rcl_default_generator(L), variational, y->data, hn->data, cn ? cn->data : NULL);
  /* 2: backward uses r->lengths; none after an inference forward (nn.lua names the cause) */
  r->has_forward = io.inference ? 0 : io.lengths ? 2 : 1;
  r->forward_training = r->training;
  r->forward_threads = threads;
  r->unbatched = unbatched;
  r->T = (int)T;
  r->B = (int)B;
  return cell_state ? 3 : 2;
}

/* backward(grad_output[, grad_hn[, grad_cn]][, {out = dx}]) -> dx, dh0[, dc0] */
static int r_backward(lua_State *L) {
  rcl_recurrence *r = rcl_check_recurrence(L, 1);
  int cell_state = r->cfg.cell->states == 2, opts = cell_state ? 5 : 4;
  place_options(L, opts);
  check_extra_args(L, r, opts, "backward");
  check_options(L, r, opts, "out = ...", "grad_cn");
  if (!r->has_forward)
    return luaL_error(
        L, "%s:backward: no forward to differentiate (call forward first; each forward allows one backward)",
        family(r));
  io_shapes s = shapes_for(r, r->unbatched, r->T, r->B);
  rc_tensor *gy = rcl_check_tensor(L, 2, "grad_output");
  rcl_check_shape(L, 2, gy, "grad_output", s.ndim_seq, s.y);
  if (overlaps(gy->data, gy->numel, r->grads, rc_rnn_each_param(&r->cfg, NULL, NULL))) /* read in place */
    return luaL_argerror(L, 2, "grad_output: shares memory with the layer's gradients");
  const float *ghn = opt_state(L, 3, "grad_hn", s.ndim_state, s.h);
  const float *gcn = cell_state ? opt_state(L, 4, "grad_cn", s.ndim_state, s.c) : NULL;
  lua_settop(L, 5);
  const rc_tensor *inputs[3] = {gy, rcl_test_tensor(L, 3), cell_state ? rcl_test_tensor(L, 4) : NULL};
  static const char *const names[3] = {"grad_output", "grad_hn", "grad_cn"};
  rc_tensor *dx = push_result(L, r, opts, s.ndim_seq, s.x, inputs, names, 3);
  rc_tensor *dh0 = rcl_new_result(L, s.ndim_state, s.h);
  rc_tensor *dc0 = cell_state ? rcl_new_result(L, s.ndim_state, s.c) : NULL;
  rc_rnn_io io;
  io.T = r->T;
  io.B = r->B;
  io.batch_first = r->batch_first && !r->unbatched;
  io.lengths = r->has_forward == 2 ? r->lengths : NULL;
  io.training = r->forward_training;
  io.inference = 0;
  r->has_forward = 0; /* backward overwrites the activations with gradients */
  rc_rnn_backward_on(&r->cfg, r->forward_threads, rcl_pool(L), r->params, r->grads, r->ws, &io, gy->data, ghn,
                     gcn, dx->data, dh0->data, dc0 ? dc0->data : NULL);
  return cell_state ? 3 : 2;
}

/* ---- modes, init, sizes ------------------------------------------------------------------------ */

/* set_mode(training, grad_enabled): the modes of the next forward (nn.lua passes the
 * module's and recur.is_grad_enabled()) */
static int r_set_mode(lua_State *L) {
  rcl_recurrence *r = rcl_check_recurrence(L, 1);
  r->training = lua_toboolean(L, 2);
  r->grad_enabled = lua_toboolean(L, 3);
  return 0;
}

/* reset_parameters([gen]): each block by its init, from gen or the default generator */
static int r_reset_parameters(lua_State *L) {
  rcl_recurrence *r = rcl_check_recurrence(L, 1);
  rc_rnn_init_params(&r->cfg, r->params, rcl_opt_generator(L, 2));
  return 0;
}

/* workspace_bytes(T, B): bytes of workspace a (T, B) forward + backward uses at the
 * state's thread count (without lengths) */
static int r_workspace_bytes(lua_State *L) {
  rcl_recurrence *r = rcl_check_recurrence(L, 1);
  rc_rnn_io io;
  io.T = (int)rcl_check_integer_in(L, 2, "T", 1, INT_MAX / 16);
  io.B = (int)rcl_check_integer_in(L, 3, "B", 1, INT_MAX / 16);
  io.batch_first = io.training = io.inference = 0;
  io.lengths = NULL;
  lua_pushinteger(L, (lua_Integer)(rc_rnn_workspace_size_on(&r->cfg, &io, rcl_threads(L)) * sizeof(float)));
  return 1;
}

/* config() -> the constructor's options, PyTorch's names (m:config() returns it): type, the
 * sizes, bias, batch_first, dropout, bidirectional, nonlinearity (RNN), proj_size (LSTM), and
 * the variants' options only when set (a flag that is on, a variational dropout above 0) */
static int r_config(lua_State *L) {
  const rcl_recurrence *r = rcl_check_recurrence(L, 1);
  const rc_rnn_config *c = &r->cfg;
  lua_createtable(L, 0, 12);
  lua_pushstring(L, family(r));
  lua_setfield(L, -2, "type");
  const char *const sizes[3] = {"input_size", "hidden_size", "num_layers"};
  const int size_values[3] = {c->input_size, c->hidden_size, c->num_layers};
  for (int k = 0; k < 3; k++) {
    lua_pushinteger(L, size_values[k]);
    lua_setfield(L, -2, sizes[k]);
  }
  set_bool(L, "bias", c->bias);
  set_bool(L, "batch_first", r->batch_first);
  set_bool(L, "bidirectional", c->bidirectional);
  for (int k = 0; k < 3; k++) {
    if (k > 0 && r->dropouts[k] == 0.0) continue; /* dropout is PyTorch's, always there */
    lua_pushnumber(L, r->dropouts[k]);
    lua_setfield(L, -2, dropout_names[k]);
  }
  if (c->cell->nonlinearity) {
    lua_pushstring(L, c->cell->nonlinearity);
    lua_setfield(L, -2, "nonlinearity");
  }
  if (c->cell->projection) {
    lua_pushinteger(L, c->proj_size);
    lua_setfield(L, -2, "proj_size");
  }
  for (int f = 0; rc_cell_flag_names[f]; f++)
    if ((c->cell->flags >> f) & 1u) set_bool(L, rc_cell_flag_names[f], 1);
  return 1;
}

static const luaL_Reg recurrence_methods[] = {{"forward", r_forward},
                                              {"config", r_config},
                                              {"backward", r_backward},
                                              {"set_mode", r_set_mode},
                                              {"reset_parameters", r_reset_parameters},
                                              {"workspace_bytes", r_workspace_bytes},
                                              {"stepper", rcl_new_stepper},
                                              {NULL, NULL}};

static const luaL_Reg layer_functions[] = {{"rnn_cells", l_rnn_cells}, {"rnn_new", l_rnn_new}, {NULL, NULL}};

void rcl_open_layers(lua_State *L) {
  luaL_newmetatable(L, RCL_RECURRENCE);
  luaL_newlib(L, recurrence_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, layer_functions, 0);
}
