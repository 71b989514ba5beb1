#ifndef RECUR_LUA_DATA_H
#define RECUR_LUA_DATA_H

#include "../core/common.h"
#include "compat.h"

/* registers the data functions (CSV, dates, windows, UTF-8 text, IdBuffer) into the F table on top */
RC_INTERNAL void rcl_open_data(lua_State *L);

#endif
