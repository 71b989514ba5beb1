/* The C side of the recurrent layers (recur.RNN, recur.GRU, recur.LSTM, defined in
 * lua/recur/nn.lua): a private "recurrence" userdata that owns a layer's configuration,
 * workspace and last forward, and runs core/rnn.c over the layer's flat parameters. */
#ifndef RECUR_LUA_LAYER_H
#define RECUR_LUA_LAYER_H

#include "../core/rnn.h"
#include "compat.h"

#define RCL_RECURRENCE "recur.Recurrence"

typedef struct rcl_recurrence {
  rc_rnn_config cfg;
  double dropouts[3]; /* dropout, input_dropout, recurrent_dropout as given (cfg has floats) */
  int batch_first, training;
  int grad_enabled;      /* the next forward keeps what backward needs (not under recur.no_grad) */
  float *params, *grads; /* the flat tensors' data, kept alive by the user value table */
  float *ws;             /* workspace for the last forward */
  size_t ws_floats;
  /* the last forward, which backward differentiates */
  int has_forward, unbatched, T, B, forward_training;
  int forward_threads; /* its threads (rnn.h): backward runs the same split */
  int *lengths;        /* per batch row, or NULL; storage kept in the user value table */
  size_t lengths_cap;
} rcl_recurrence;

RC_INTERNAL rcl_recurrence *rcl_check_recurrence(lua_State *L, int arg);
/* pushes field `key` of the user value table of the userdata at arg */
RC_INTERNAL void rcl_get_field(lua_State *L, int arg, const char *key);

/* registers the recurrence constructor and the cell table into the table on top:
 * rnn_cells() and rnn_new(options) */
RC_INTERNAL void rcl_open_layers(lua_State *L);

#endif
