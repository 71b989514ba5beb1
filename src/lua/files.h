#ifndef RECUR_LUA_FILES_H
#define RECUR_LUA_FILES_H

#include "../core/common.h"
#include "compat.h"

/* registers monotonic into the recur.core table on top, and write_file_atomic into its F */
RC_INTERNAL void rcl_open_files(lua_State *L);

#endif
