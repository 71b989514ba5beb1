#ifndef RECUR_LUA_LAYER_H
#define RECUR_LUA_LAYER_H

#include "../core/common.h"
#include "compat.h"

/* registers recur.RNN, recur.GRU, recur.LSTM and their steppers into the table on top */
RC_INTERNAL void rcl_open_layers(lua_State *L);

#endif
