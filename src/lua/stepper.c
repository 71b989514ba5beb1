/* recur.Stepper: runs a recurrent layer's forward one time step at a time (evaluation
 * mode, no dropout), keeping each layer's h (and c for cells with a cell state) between
 * calls. Every buffer is made when the stepper is: a step allocates nothing. */
#include "stepper.h"

#include <string.h>

#include "layer.h"
#include "tensor.h"

#define MAX_BATCH (1 << 20)

typedef struct stepper {
  rcl_recurrence *r; /* kept alive by the user value table */
  int B;
  float *ws;
  float *h, *c, *out; /* (L, B, Hout), (L, B, H) with a cell state, (B, Hout) */
} stepper;

static stepper *check_stepper(lua_State *L) { return (stepper *)rcl_check_udata(L, 1, RCL_STEPPER, "self"); }

static int has_cell_state(const stepper *st) { return st->r->cfg.cell->states == 2; }

/* sets field `key` of the table at `uv` to a new zeroed tensor; returns its data */
static float *new_buffer(lua_State *L, int uv, const char *key, int ndim, const lua_Integer *shape) {
  float *data = rcl_new_tensor(L, ndim, shape)->data;
  lua_setfield(L, uv, key);
  return data;
}

int rcl_new_stepper(lua_State *L) {
  rcl_recurrence *r = rcl_check_recurrence(L, 1);
  const rc_rnn_config *cfg = &r->cfg;
  if (cfg->bidirectional)
    return luaL_error(L, "%s:stepper: a bidirectional layer cannot run step by step", cfg->cell->family);
  lua_Integer B = luaL_optinteger(L, 2, 1);
  if (B < 1 || B > MAX_BATCH)
    return rcl_argerror(
        L, 2, lua_pushfstring(L, "batch: expected 1..%d, got %s", MAX_BATCH, rcl_istr(L, (long long)(B))));
  lua_settop(L, 1);
  stepper *st = (stepper *)lua_newuserdatauv(L, sizeof(stepper), 1); /* 2 */
  memset(st, 0, sizeof *st);
  luaL_setmetatable(L, RCL_STEPPER);
  lua_createtable(L, 0, 6); /* 3 */
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 2, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, 3, "recurrence");
  st->r = r;
  st->B = (int)B;
  lua_Integer hout = rc_rnn_hout(cfg);
  lua_Integer hshape[3] = {cfg->num_layers, B, hout}, cshape[3] = {cfg->num_layers, B, cfg->hidden_size};
  lua_Integer out2[2] = {B, hout};
  st->h = new_buffer(L, 3, "h", 3, hshape);
  if (cfg->cell->states == 2) st->c = new_buffer(L, 3, "c", 3, cshape);
  st->out = new_buffer(L, 3, "out", 2, out2);
  rcl_get_field(L, 2, "out");
  rcl_new_view(L, -1, st->out, 1, &hout);
  lua_setfield(L, 3, "out1");
  lua_pop(L, 1);
  st->ws = rcl_new_storage(L, rc_rnn_workspace_size(cfg, 1, (int)B));
  lua_setfield(L, 3, "ws");
  lua_settop(L, 2);
  return 1;
}

/* stepper:step(x_t): x_t is (B, input_size), or (input_size) when B = 1. Returns the
 * top layer's output, a tensor reused by every call (clone it to keep it). */
static int s_step(lua_State *L) {
  stepper *st = check_stepper(L);
  const rc_rnn_config *cfg = &st->r->cfg;
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
  io.training = 0;
  io.inference = 1;
  rc_rnn_forward(cfg, st->r->params, st->ws, &io, x->data, st->h, st->c, NULL, NULL, st->out, st->h, st->c);
  rcl_get_field(L, 1, vector ? "out1" : "out");
  return 1;
}

static int s_reset(lua_State *L) {
  stepper *st = check_stepper(L);
  const rc_rnn_config *cfg = &st->r->cfg;
  memset(st->h, 0, (size_t)cfg->num_layers * st->B * rc_rnn_hout(cfg) * sizeof(float));
  if (st->c) memset(st->c, 0, (size_t)cfg->num_layers * st->B * cfg->hidden_size * sizeof(float));
  lua_settop(L, 1);
  return 1;
}

/* pushes a copy of the stepper's state tensor `key` */
static void push_state_copy(lua_State *L, const char *key) {
  lua_pushcfunction(L, rcl_tensor_clone);
  rcl_get_field(L, 1, key);
  lua_call(L, 1, 1);
}

/* copies of h (and c for cells with a cell state) */
static int s_state(lua_State *L) {
  stepper *st = check_stepper(L);
  push_state_copy(L, "h");
  if (!has_cell_state(st)) return 1;
  push_state_copy(L, "c");
  return 2;
}

static int s_set_state(lua_State *L) {
  stepper *st = check_stepper(L);
  const rc_rnn_config *cfg = &st->r->cfg;
  lua_Integer hshape[3] = {cfg->num_layers, st->B, rc_rnn_hout(cfg)};
  lua_Integer cshape[3] = {cfg->num_layers, st->B, cfg->hidden_size};
  rc_tensor *h = rcl_check_tensor(L, 2, "h");
  rcl_check_shape(L, 2, h, "h", 3, hshape);
  rc_tensor *c = NULL;
  if (has_cell_state(st)) {
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

void rcl_open_stepper(lua_State *L) {
  luaL_newmetatable(L, RCL_STEPPER);
  luaL_newlib(L, stepper_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
