#ifndef RECUR_LUA_TENSOR_ARITH_H
#define RECUR_LUA_TENSOR_ARITH_H

#include "../core/common.h"
#include "compat.h"

/* installs + - * / and unary - onto the recur.Tensor metatable (after rcl_open_tensor) */
RC_INTERNAL void rcl_open_tensor_arith(lua_State *L);

#endif
