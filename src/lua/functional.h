#ifndef RECUR_LUA_FUNCTIONAL_H
#define RECUR_LUA_FUNCTIONAL_H

#include "../core/common.h"
#include "compat.h"

/* registers the training kernels (linear, embedding, dropout, losses, optimizer
 * steps) into the table on top (recur.core's F); the Lua modules wrap them */
RC_INTERNAL void rcl_open_functional(lua_State *L);

#endif
