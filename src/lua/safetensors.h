#ifndef RECUR_LUA_SAFETENSORS_H
#define RECUR_LUA_SAFETENSORS_H

#include "../core/common.h"
#include "compat.h"

/* registers st_encode, st_decode and write_file_atomic into the F table on top */
RC_INTERNAL void rcl_open_safetensors(lua_State *L);

#endif
