/* recur.RNN, recur.GRU and recur.LSTM userdata: option parsing, shape checks and
 * buffers; the maths is in core/rnn.c. Each layer owns (through its user value
 * table) a flat parameter tensor, a flat gradient tensor, named views into both,
 * and a workspace storage that is grown only when a larger (T, B) arrives. */
#include "layer.h"

#include <limits.h>
#include <string.h>

#include "../core/rnn.h"
#include "args.h"
#include "generator.h"
#include "tensor.h"

#define STEPPER "recur.Stepper"

static const char *const cell_names[] = {"RNN", "RNN", "GRU", "LSTM"};
static const char *const layer_types[] = {"recur.RNN", "recur.GRU", "recur.LSTM", NULL};

typedef struct layer {
  rc_rnn_config cfg;
  int batch_first, training;
  float *params, *grads; /* flat tensors' data, kept alive by the user value table */
  float *ws;             /* workspace for the last forward */
  size_t ws_floats;
  /* the last forward, which backward differentiates */
  int has_forward, unbatched, T, B;
  int *lengths; /* per batch row, or NULL; storage kept in the user value table */
  size_t lengths_cap;
} layer;

static layer *test_layer(lua_State *L, int arg) {
  for (int i = 0; layer_types[i]; i++) {
    layer *m = (layer *)luaL_testudata(L, arg, layer_types[i]);
    if (m) return m;
  }
  return NULL;
}

static layer *check_layer(lua_State *L, int arg) {
  layer *m = test_layer(L, arg);
  if (!m) luaL_typeerror(L, arg, "recur.RNN, recur.GRU or recur.LSTM");
  return m;
}

static const char *type_name(const layer *m) { return cell_names[m->cfg.cell]; }

/* pushes field `key` of the layer's user value table */
static void get_field(lua_State *L, int arg, const char *key) {
  lua_getiuservalue(L, arg, 1);
  lua_getfield(L, -1, key);
  lua_remove(L, -2);
}

/* ---- options -------------------------------------------------------------------- */

typedef struct option_reader {
  lua_State *L;
  int arg;
  const char *type;
} option_reader;

static lua_Integer opt_int(option_reader *o, const char *key, lua_Integer def, int required, lua_Integer lo,
                           lua_Integer hi) {
  lua_State *L = o->L;
  int type = lua_getfield(L, o->arg, key), ok = 1;
  lua_Integer v = def;
  if (type == LUA_TNIL && required) luaL_error(L, "%s: option %s is required", o->type, key);
  if (type != LUA_TNIL) v = lua_tointegerx(L, -1, &ok);
  if (type != LUA_TNIL && (type != LUA_TNUMBER || !ok))
    luaL_error(L, "%s: option %s: expected an integer, got %s", o->type, key, luaL_tolstring(L, -1, NULL));
  if (v < lo || v > hi)
    luaL_error(L, "%s: option %s: expected %s..%s, got %s", o->type, key, rcl_istr(L, (long long)(lo)),
               rcl_istr(L, (long long)(hi)), rcl_istr(L, (long long)(v)));
  lua_pop(L, 1);
  return v;
}

static int opt_bool(option_reader *o, const char *key, int def) {
  lua_State *L = o->L;
  int type = lua_getfield(L, o->arg, key), v = def;
  if (type == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (type != LUA_TNIL)
    luaL_error(L, "%s: option %s: expected a boolean, got %s", o->type, key, rcl_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

static double opt_number(option_reader *o, const char *key, double def) {
  lua_State *L = o->L;
  int type = lua_getfield(L, o->arg, key);
  double v = def;
  if (type == LUA_TNUMBER)
    v = lua_tonumber(L, -1);
  else if (type != LUA_TNIL)
    luaL_error(L, "%s: option %s: expected a number, got %s", o->type, key, rcl_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

/* rejects keys that this layer type does not know (a typo would else be ignored) */
static void check_known_options(option_reader *o, const char *const *known) {
  lua_State *L = o->L;
  lua_pushnil(L);
  while (lua_next(L, o->arg)) {
    int found = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (int i = 0; known[i] && !found; i++) found = strcmp(known[i], lua_tostring(L, -2)) == 0;
    if (!found) {
      lua_pop(L, 1);
      luaL_error(L, "%s: unknown option '%s'", o->type, luaL_tolstring(L, -1, NULL));
    }
    lua_pop(L, 1);
  }
}

/* largest size any single matrix dimension may have, so that products fit BLAS ints */
#define MAX_SIZE (1 << 20)

static rc_rnn_config read_config(lua_State *L, rc_cell cell, int *batch_first) {
  static const char *const known_rnn[] = {"input_size",  "hidden_size", "num_layers",    "bias",
                                          "batch_first", "dropout",     "bidirectional", "nonlinearity",
                                          "generator",   NULL};
  static const char *const known_gru[] = {"input_size", "hidden_size",   "num_layers", "bias", "batch_first",
                                          "dropout",    "bidirectional", "generator",  NULL};
  static const char *const known_lstm[] = {"input_size",  "hidden_size", "num_layers",    "bias",
                                           "batch_first", "dropout",     "bidirectional", "proj_size",
                                           "generator",   NULL};
  option_reader o;
  rc_rnn_config cfg;
  o.L = L;
  o.arg = 1;
  o.type = cell_names[cell];
  luaL_checktype(L, 1, LUA_TTABLE);
  check_known_options(&o, cell == RC_GRU ? known_gru : cell == RC_LSTM ? known_lstm : known_rnn);
  cfg.cell = cell;
  cfg.input_size = (int)opt_int(&o, "input_size", 0, 1, 1, MAX_SIZE);
  cfg.hidden_size = (int)opt_int(&o, "hidden_size", 0, 1, 1, MAX_SIZE);
  cfg.num_layers = (int)opt_int(&o, "num_layers", 1, 0, 1, 1024);
  cfg.bias = opt_bool(&o, "bias", 1);
  cfg.bidirectional = opt_bool(&o, "bidirectional", 0);
  *batch_first = opt_bool(&o, "batch_first", 0);
  cfg.proj_size = cell == RC_LSTM ? (int)opt_int(&o, "proj_size", 0, 0, 0, cfg.hidden_size - 1) : 0;
  double dropout = opt_number(&o, "dropout", 0.0);
  if (!(dropout >= 0.0 && dropout < 1.0))
    luaL_error(L, "%s: option dropout: expected a probability in [0, 1), got %f", o.type, dropout);
  cfg.dropout = (float)dropout;
  if (cell == RC_RNN_TANH) {
    lua_getfield(L, 1, "nonlinearity");
    const char *nl = luaL_optstring(L, -1, "tanh");
    if (strcmp(nl, "relu") == 0)
      cfg.cell = RC_RNN_RELU;
    else if (strcmp(nl, "tanh") != 0)
      luaL_error(L, "RNN: option nonlinearity: expected 'tanh' or 'relu', got '%s'", nl);
    lua_pop(L, 1);
  }
  size_t gh = (size_t)rc_rnn_gates(cfg.cell) * cfg.hidden_size;
  if (gh * (size_t)(cfg.input_size > cfg.hidden_size ? cfg.input_size : 2 * cfg.hidden_size) > INT_MAX / 2)
    luaL_error(L, "%s: input_size and hidden_size are too large", o.type);
  return cfg;
}

/* ---- parameter names and views ------------------------------------------------------ */

/* Fills the table at `views` with name -> view into the flat tensor at `flat`, and
 * the table at `names` (unless 0) with the names in state_dict order. */
static void add_views(lua_State *L, const rc_rnn_config *cfg, int flat, int names, int views) {
  rc_tensor *base = rcl_check_tensor(L, flat, "flat");
  int i = 0;
  for (int l = 0; l < cfg->num_layers; l++) {
    for (int d = 0; d < rc_rnn_dirs(cfg); d++) {
      rc_rnn_params p;
      rc_rnn_param_layout(cfg, l, d, &p);
      lua_Integer gh = (lua_Integer)rc_rnn_gates(cfg->cell) * cfg->hidden_size;
      struct {
        const char *kind;
        size_t off;
        lua_Integer rows, cols;
      } parts[5] = {{"weight_ih", p.w_ih, gh, rc_rnn_layer_input(cfg, l)},
                    {"weight_hh", p.w_hh, gh, rc_rnn_hout(cfg)},
                    {"bias_ih", p.b_ih, gh, 0},
                    {"bias_hh", p.b_hh, gh, 0},
                    {"weight_hr", p.w_hr, cfg->proj_size, cfg->hidden_size}};
      for (int k = 0; k < 5; k++) {
        if (parts[k].off == RC_ABSENT) continue;
        lua_Integer shape[2] = {parts[k].rows, parts[k].cols};
        lua_pushfstring(L, "%s_l%d%s", parts[k].kind, l, d ? "_reverse" : "");
        if (names) {
          lua_pushvalue(L, -1);
          lua_rawseti(L, names, ++i);
        }
        rcl_new_view(L, flat, base->data + parts[k].off, parts[k].cols ? 2 : 1, shape);
        lua_rawset(L, views);
      }
    }
  }
}

/* ---- construction --------------------------------------------------------------------- */

static int new_layer(lua_State *L, rc_cell cell, const char *type) {
  int batch_first;
  rc_rnn_config cfg = read_config(L, cell, &batch_first);
  lua_getfield(L, 1, "generator");
  rc_rng *gen = rcl_opt_generator(L, -1);
  lua_settop(L, 1);
  layer *m = (layer *)lua_newuserdatauv(L, sizeof(layer), 1); /* 2 */
  memset(m, 0, sizeof *m);
  m->cfg = cfg;
  m->batch_first = batch_first;
  m->training = 1;
  luaL_setmetatable(L, type);
  lua_createtable(L, 0, 8); /* 3: user value table */
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 2, 1);
  lua_Integer n = (lua_Integer)rc_rnn_param_layout(&cfg, 0, 0, NULL);
  m->params = rcl_new_tensor(L, 1, &n)->data; /* 4 */
  m->grads = rcl_new_tensor(L, 1, &n)->data;  /* 5 */
  rc_rnn_init_params(&cfg, m->params, gen);
  lua_newtable(L); /* 6: names */
  lua_newtable(L); /* 7: parameter views */
  add_views(L, &cfg, 4, 6, 7);
  lua_newtable(L); /* 8: gradient views */
  add_views(L, &cfg, 5, 0, 8);
  lua_setfield(L, 3, "grad_views");
  lua_setfield(L, 3, "param_views");
  lua_setfield(L, 3, "names");
  lua_setfield(L, 3, "grads");
  lua_setfield(L, 3, "params");
  lua_settop(L, 2);
  return 1;
}

static int l_rnn(lua_State *L) { return new_layer(L, RC_RNN_TANH, "recur.RNN"); }
static int l_gru(lua_State *L) { return new_layer(L, RC_GRU, "recur.GRU"); }
static int l_lstm(lua_State *L) { return new_layer(L, RC_LSTM, "recur.LSTM"); }

/* ---- forward and backward ----------------------------------------------------------------- */

/* grows the workspace (in the user value table under `key`) to n floats; returns it */
static float *ensure_workspace(lua_State *L, int owner, const char *key, float **ws, size_t *cap, size_t n) {
  if (n > *cap || !*ws) {
    lua_getiuservalue(L, owner, 1);
    *ws = rcl_new_storage(L, n);
    *cap = n;
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
  }
  return *ws;
}

/* expected shapes of x, y, states: fills the shapes and returns their ndim */
typedef struct io_shapes {
  int ndim_seq, ndim_state;
  lua_Integer x[3], y[3], h[3], c[3];
} io_shapes;

static io_shapes shapes_for(const layer *m, int unbatched, lua_Integer T, lua_Integer B) {
  io_shapes s;
  lua_Integer LD = (lua_Integer)m->cfg.num_layers * rc_rnn_dirs(&m->cfg);
  lua_Integer hout = rc_rnn_hout(&m->cfg), width = rc_rnn_dirs(&m->cfg) * hout;
  s.ndim_seq = unbatched ? 2 : 3;
  s.ndim_state = unbatched ? 2 : 3;
  lua_Integer seq0 = unbatched ? T : (m->batch_first ? B : T), seq1 = m->batch_first ? T : B;
  s.x[0] = s.y[0] = seq0;
  s.x[unbatched ? 1 : 2] = m->cfg.input_size;
  s.y[unbatched ? 1 : 2] = width;
  if (!unbatched) s.x[1] = s.y[1] = seq1;
  s.h[0] = s.c[0] = LD;
  s.h[1] = unbatched ? hout : B;
  s.c[1] = unbatched ? m->cfg.hidden_size : B;
  s.h[2] = hout;
  s.c[2] = m->cfg.hidden_size;
  return s;
}

static const float *opt_state(lua_State *L, int arg, const char *name, int ndim, const lua_Integer *shape) {
  if (lua_isnoneornil(L, arg)) return NULL;
  rc_tensor *t = rcl_check_tensor(L, arg, name);
  rcl_check_shape(L, arg, t, name, ndim, shape);
  return t->data;
}

static void check_extra_args(lua_State *L, const layer *m, int max_args, const char *fn) {
  if (lua_gettop(L) > max_args && !lua_isnil(L, max_args + 1))
    luaL_error(L, "%s:%s takes at most %d arguments after self (LSTM alone has a cell state)", type_name(m),
               fn, max_args - 1);
}

/* reads opts.lengths (a Lua array or a 1-D tensor of B integers in 1..T) into the
 * layer's lengths buffer; returns it, or NULL when opts or lengths is absent */
static int *read_lengths(lua_State *L, layer *m, int opts, lua_Integer T, lua_Integer B) {
  if (lua_isnoneornil(L, opts)) return NULL;
  if (!lua_istable(L, opts))
    luaL_argerror(
        L, opts,
        lua_pushfstring(L, "options: expected a table such as {lengths = ...}, got %s%s",
                        rcl_typename(L, opts), m->cfg.cell == RC_LSTM ? "" : " (only LSTM has c0)"));
  lua_getfield(L, opts, "lengths");
  int at = lua_gettop(L);
  if (lua_isnil(L, at)) return NULL;
  rcl_int_list list = rcl_check_int_list(L, at, "lengths");
  if (list.n != (size_t)B || (list.tensor && list.tensor->ndim != 1))
    luaL_argerror(L, opts,
                  lua_pushfstring(L, "lengths: expected a 1-D tensor or an array of %s integers",
                                  rcl_istr(L, (long long)(B))));
  if ((size_t)B > m->lengths_cap) {
    lua_getiuservalue(L, 1, 1);
    m->lengths = (int *)(void *)rcl_new_storage(L, (size_t)B);
    m->lengths_cap = (size_t)B;
    lua_setfield(L, -2, "lengths");
    lua_pop(L, 1);
  }
  for (lua_Integer b = 0; b < B; b++) {
    m->lengths[b] = (int)rcl_int_list_check(&list, (size_t)b, 1, T);
  }
  lua_pop(L, 1);
  return m->lengths;
}

static int m_forward(lua_State *L) {
  layer *m = check_layer(L, 1);
  int lstm = m->cfg.cell == RC_LSTM, opts = lstm ? 5 : 4;
  check_extra_args(L, m, opts, "forward");
  rc_tensor *x = rcl_check_tensor(L, 2, "x");
  if (x->ndim != 2 && x->ndim != 3)
    return luaL_argerror(
        L, 2, lua_pushfstring(L, "x: expected a 3-D (batched) or 2-D (unbatched) tensor, got %d-D", x->ndim));
  int unbatched = x->ndim == 2;
  lua_Integer T = unbatched || !m->batch_first ? x->shape[0] : x->shape[1];
  lua_Integer B = unbatched ? 1 : (m->batch_first ? x->shape[0] : x->shape[1]);
  io_shapes s = shapes_for(m, unbatched, T, B);
  rcl_check_shape(L, 2, x, "x", s.ndim_seq, s.x);
  if (T < 1 || B < 1) return luaL_argerror(L, 2, "x: the sequence length and batch size must be at least 1");
  if ((size_t)T * (size_t)B * 4 * ((size_t)m->cfg.hidden_size + m->cfg.input_size) > INT_MAX)
    return luaL_argerror(L, 2, "x: sequence too large (T * B * size exceeds the BLAS int range)");
  const float *h0 = opt_state(L, 3, "h0", s.ndim_state, s.h);
  const float *c0 = lstm ? opt_state(L, 4, "c0", s.ndim_state, s.c) : NULL;
  m->has_forward = 0; /* stays 0 if the forward raises */
  const int *lengths = read_lengths(L, m, opts, T, B);
  ensure_workspace(L, 1, "ws", &m->ws, &m->ws_floats, rc_rnn_workspace_size(&m->cfg, (int)T, (int)B));
  lua_settop(L, 5);
  rc_tensor *y = rcl_new_tensor(L, s.ndim_seq, s.y);    /* 5 */
  rc_tensor *hn = rcl_new_tensor(L, s.ndim_state, s.h); /* 6 */
  rc_tensor *cn = lstm ? rcl_new_tensor(L, s.ndim_state, s.c) : NULL;
  rc_rnn_io io;
  io.T = (int)T;
  io.B = (int)B;
  io.batch_first = m->batch_first && !unbatched;
  io.lengths = lengths;
  rc_rnn_forward(&m->cfg, m->params, m->ws, &io, x->data, h0, c0, m->training, rcl_default_generator(L),
                 y->data, hn->data, cn ? cn->data : NULL);
  m->has_forward = lengths ? 2 : 1; /* 2: backward uses m->lengths */
  m->unbatched = unbatched;
  m->T = (int)T;
  m->B = (int)B;
  return lstm ? 3 : 2;
}

static int m_backward(lua_State *L) {
  layer *m = check_layer(L, 1);
  int lstm = m->cfg.cell == RC_LSTM;
  check_extra_args(L, m, lstm ? 4 : 3, "backward");
  if (!m->has_forward)
    return luaL_error(
        L, "%s:backward: no forward to differentiate (call forward first; each forward allows one backward)",
        type_name(m));
  io_shapes s = shapes_for(m, m->unbatched, m->T, m->B);
  rc_tensor *gy = rcl_check_tensor(L, 2, "grad_output");
  rcl_check_shape(L, 2, gy, "grad_output", s.ndim_seq, s.y);
  const float *ghn = opt_state(L, 3, "grad_hn", s.ndim_state, s.h);
  const float *gcn = lstm ? opt_state(L, 4, "grad_cn", s.ndim_state, s.c) : NULL;
  lua_settop(L, 4);
  rc_tensor *dx = rcl_new_tensor(L, s.ndim_seq, s.x);
  rc_tensor *dh0 = rcl_new_tensor(L, s.ndim_state, s.h);
  rc_tensor *dc0 = lstm ? rcl_new_tensor(L, s.ndim_state, s.c) : NULL;
  rc_rnn_io io;
  io.T = m->T;
  io.B = m->B;
  io.batch_first = m->batch_first && !m->unbatched;
  io.lengths = m->has_forward == 2 ? m->lengths : NULL;
  m->has_forward = 0; /* backward overwrites the activations with gradients */
  rc_rnn_backward(&m->cfg, m->params, m->grads, m->ws, &io, gy->data, ghn, gcn, dx->data, dh0->data,
                  dc0 ? dc0->data : NULL);
  return lstm ? 3 : 2;
}

/* ---- parameters, gradients, modes -------------------------------------------------------------- */

static int m_zero_grad(lua_State *L) {
  layer *m = check_layer(L, 1);
  memset(m->grads, 0, rc_rnn_param_layout(&m->cfg, 0, 0, NULL) * sizeof(float));
  lua_settop(L, 1);
  return 1;
}

/* a new table name -> view, from the user value table's `views` */
static int push_named(lua_State *L, const char *views) {
  check_layer(L, 1);
  lua_newtable(L);
  get_field(L, 1, views);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -5);
  }
  lua_pop(L, 1);
  return 1;
}

/* an array of the views in state_dict order */
static int push_ordered(lua_State *L, const char *views) {
  check_layer(L, 1);
  get_field(L, 1, "names");
  get_field(L, 1, views);
  lua_Integer n = luaL_len(L, -2);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, -3, i);
    lua_rawget(L, -3);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

static int m_named_parameters(lua_State *L) { return push_named(L, "param_views"); }
static int m_named_gradients(lua_State *L) { return push_named(L, "grad_views"); }
static int m_parameters(lua_State *L) { return push_ordered(L, "param_views"); }
static int m_gradients(lua_State *L) { return push_ordered(L, "grad_views"); }

static int m_parameter_names(lua_State *L) {
  check_layer(L, 1);
  get_field(L, 1, "names");
  lua_Integer n = luaL_len(L, -1);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, -2, i);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

static int m_flat_parameters(lua_State *L) {
  check_layer(L, 1);
  get_field(L, 1, "params");
  return 1;
}

static int m_flat_gradients(lua_State *L) {
  check_layer(L, 1);
  get_field(L, 1, "grads");
  return 1;
}

static int m_reset_parameters(lua_State *L) {
  layer *m = check_layer(L, 1);
  rc_rnn_init_params(&m->cfg, m->params, rcl_opt_generator(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int m_train(lua_State *L) {
  layer *m = check_layer(L, 1);
  m->training = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  lua_settop(L, 1);
  return 1;
}

static int m_evaluate(lua_State *L) {
  check_layer(L, 1)->training = 0;
  lua_settop(L, 1);
  return 1;
}

static int m_training(lua_State *L) {
  lua_pushboolean(L, check_layer(L, 1)->training);
  return 1;
}

static void set_int(lua_State *L, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

static void set_bool(lua_State *L, const char *key, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, key);
}

/* the constructor options, PyTorch's names */
static int m_config(lua_State *L) {
  layer *m = check_layer(L, 1);
  const rc_rnn_config *c = &m->cfg;
  lua_newtable(L);
  lua_pushstring(L, type_name(m));
  lua_setfield(L, -2, "type");
  set_int(L, "input_size", c->input_size);
  set_int(L, "hidden_size", c->hidden_size);
  set_int(L, "num_layers", c->num_layers);
  set_bool(L, "bias", c->bias);
  set_bool(L, "batch_first", m->batch_first);
  set_bool(L, "bidirectional", c->bidirectional);
  lua_pushnumber(L, c->dropout);
  lua_setfield(L, -2, "dropout");
  if (c->cell == RC_LSTM) set_int(L, "proj_size", c->proj_size);
  if (c->cell == RC_RNN_TANH || c->cell == RC_RNN_RELU) {
    lua_pushstring(L, c->cell == RC_RNN_RELU ? "relu" : "tanh");
    lua_setfield(L, -2, "nonlinearity");
  }
  return 1;
}

/* layer:workspace_bytes(T, B): bytes of workspace a (T, B) forward + backward uses */
static int m_workspace_bytes(lua_State *L) {
  layer *m = check_layer(L, 1);
  lua_Integer T = luaL_checkinteger(L, 2), B = luaL_checkinteger(L, 3);
  if (T < 1 || B < 1 || T > INT_MAX / 16 || B > INT_MAX / 16)
    return luaL_error(L, "workspace_bytes: bad T or B");
  lua_pushinteger(L, (lua_Integer)(rc_rnn_workspace_size(&m->cfg, (int)T, (int)B) * sizeof(float)));
  return 1;
}

static int m_tostring(lua_State *L) {
  layer *m = check_layer(L, 1);
  const rc_rnn_config *c = &m->cfg;
  lua_pushfstring(L, "recur.%s(input_size=%d, hidden_size=%d, num_layers=%d%s%s%s)", type_name(m),
                  c->input_size, c->hidden_size, c->num_layers, c->bidirectional ? ", bidirectional" : "",
                  m->batch_first ? ", batch_first" : "", c->cell == RC_RNN_RELU ? ", relu" : "");
  return 1;
}

/* ---- stepper: one time step per call, state kept between calls -------------------------------- */

typedef struct stepper {
  layer *m; /* kept alive by the user value table */
  int B;
  float *ws;
  size_t ws_floats;
  float *h, *c, *out; /* (L, B, Hout), (L, B, H), (B, Hout) */
} stepper;

static stepper *check_stepper(lua_State *L) { return (stepper *)luaL_checkudata(L, 1, STEPPER); }

static int m_stepper(lua_State *L) {
  layer *m = check_layer(L, 1);
  lua_Integer B = luaL_optinteger(L, 2, 1);
  if (m->cfg.bidirectional)
    return luaL_error(L, "%s:stepper: a bidirectional layer cannot run step by step", type_name(m));
  if (B < 1 || B > MAX_SIZE)
    return luaL_argerror(
        L, 2, lua_pushfstring(L, "batch: expected 1..%d, got %s", MAX_SIZE, rcl_istr(L, (long long)(B))));
  lua_settop(L, 1);
  stepper *st = (stepper *)lua_newuserdatauv(L, sizeof(stepper), 1); /* 2 */
  memset(st, 0, sizeof *st);
  luaL_setmetatable(L, STEPPER);
  lua_createtable(L, 0, 6); /* 3 */
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 2, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, 3, "layer");
  st->m = m;
  st->B = (int)B;
  lua_Integer hout = rc_rnn_hout(&m->cfg);
  lua_Integer hshape[3] = {m->cfg.num_layers, B, hout},
              cshape[3] = {m->cfg.num_layers, B, m->cfg.hidden_size};
  st->h = rcl_new_tensor(L, 3, hshape)->data;
  lua_setfield(L, 3, "h");
  st->c = rcl_new_tensor(L, 3, cshape)->data;
  lua_setfield(L, 3, "c");
  lua_Integer out2[2] = {B, hout};
  rc_tensor *out = rcl_new_tensor(L, 2, out2);
  st->out = out->data;
  lua_setfield(L, 3, "out");
  get_field(L, 2, "out");
  rcl_new_view(L, -1, st->out, 1, &hout);
  lua_setfield(L, 3, "out1");
  ensure_workspace(L, 2, "ws", &st->ws, &st->ws_floats, rc_rnn_workspace_size(&m->cfg, 1, (int)B));
  lua_settop(L, 2);
  return 1;
}

/* cell:step(x_t): x_t is (B, input_size), or (input_size) when B = 1. Returns the
 * top layer's output, a tensor reused by every call (clone it to keep it). */
static int s_step(lua_State *L) {
  stepper *st = check_stepper(L);
  const rc_rnn_config *cfg = &st->m->cfg;
  rc_tensor *x = rcl_check_tensor(L, 2, "x");
  lua_Integer want[2] = {st->B, cfg->input_size};
  int vector = x->ndim == 1 && st->B == 1;
  if (vector)
    rcl_check_shape(L, 2, x, "x", 1, want + 1);
  else
    rcl_check_shape(L, 2, x, "x", 2, want);
  rc_rnn_io io;
  io.T = 1;
  io.B = st->B;
  io.batch_first = 0;
  io.lengths = NULL;
  rc_rnn_forward(cfg, st->m->params, st->ws, &io, x->data, st->h, cfg->cell == RC_LSTM ? st->c : NULL, 0,
                 NULL, st->out, st->h, cfg->cell == RC_LSTM ? st->c : NULL);
  get_field(L, 1, vector ? "out1" : "out");
  return 1;
}

static int s_reset(lua_State *L) {
  stepper *st = check_stepper(L);
  const rc_rnn_config *cfg = &st->m->cfg;
  memset(st->h, 0, (size_t)cfg->num_layers * st->B * rc_rnn_hout(cfg) * sizeof(float));
  memset(st->c, 0, (size_t)cfg->num_layers * st->B * cfg->hidden_size * sizeof(float));
  lua_settop(L, 1);
  return 1;
}

/* pushes a copy of the stepper's state tensor `key` */
static void push_state_copy(lua_State *L, const char *key) {
  lua_pushcfunction(L, rcl_tensor_clone);
  get_field(L, 1, key);
  lua_call(L, 1, 1);
}

/* copies of the hidden state (and cell state for LSTM) */
static int s_state(lua_State *L) {
  stepper *st = check_stepper(L);
  push_state_copy(L, "h");
  if (st->m->cfg.cell != RC_LSTM) return 1;
  push_state_copy(L, "c");
  return 2;
}

static int s_set_state(lua_State *L) {
  stepper *st = check_stepper(L);
  const rc_rnn_config *cfg = &st->m->cfg;
  lua_Integer hshape[3] = {cfg->num_layers, st->B, rc_rnn_hout(cfg)};
  lua_Integer cshape[3] = {cfg->num_layers, st->B, cfg->hidden_size};
  rc_tensor *h = rcl_check_tensor(L, 2, "h");
  rcl_check_shape(L, 2, h, "h", 3, hshape);
  rc_tensor *c = NULL;
  if (cfg->cell == RC_LSTM) {
    c = rcl_check_tensor(L, 3, "c");
    rcl_check_shape(L, 3, c, "c", 3, cshape);
  }
  memcpy(st->h, h->data, h->numel * sizeof(float));
  if (c) memcpy(st->c, c->data, c->numel * sizeof(float));
  lua_settop(L, 1);
  return 1;
}

static const luaL_Reg stepper_methods[] = {
    {"step", s_step}, {"reset", s_reset}, {"state", s_state}, {"set_state", s_set_state}, {NULL, NULL}};

static const luaL_Reg layer_methods[] = {{"forward", m_forward},
                                         {"backward", m_backward},
                                         {"zero_grad", m_zero_grad},
                                         {"named_parameters", m_named_parameters},
                                         {"named_gradients", m_named_gradients},
                                         {"parameters", m_parameters},
                                         {"gradients", m_gradients},
                                         {"parameter_names", m_parameter_names},
                                         {"flat_parameters", m_flat_parameters},
                                         {"flat_gradients", m_flat_gradients},
                                         {"reset_parameters", m_reset_parameters},
                                         {"train", m_train},
                                         {"evaluate", m_evaluate},
                                         {"training", m_training},
                                         {"config", m_config},
                                         {"stepper", m_stepper},
                                         {"workspace_bytes", m_workspace_bytes},
                                         {NULL, NULL}};

static const luaL_Reg layer_functions[] = {{"RNN", l_rnn}, {"GRU", l_gru}, {"LSTM", l_lstm}, {NULL, NULL}};

void rcl_open_layers(lua_State *L) {
  luaL_newlib(L, layer_methods); /* shared by the three types; Lua adds state/load_state */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "_layer_methods");
  for (int i = 0; layer_types[i]; i++) {
    luaL_newmetatable(L, layer_types[i]);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  luaL_newmetatable(L, STEPPER);
  luaL_newlib(L, stepper_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, layer_functions, 0);
}
