#ifndef RECUR_LUA_SAFETENSORS_H
#define RECUR_LUA_SAFETENSORS_H

#include "../core/common.h"
#include "compat.h"

/* registers st_encode and st_decode into the F table on top */
RC_INTERNAL void rcl_open_safetensors(lua_State *L);

#endif
