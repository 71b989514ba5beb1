/* recur.Generator userdata and the per-state default generator. */
#ifndef RECUR_LUA_GENERATOR_H
#define RECUR_LUA_GENERATOR_H

#include "../core/rng.h"
#include "compat.h"

#define RC_GENERATOR "recur.Generator"

/* the generator at arg, or the lua_State's default one when arg is none or nil */
RC_INTERNAL rc_rng *rcl_opt_generator(lua_State *L, int arg);
RC_INTERNAL rc_rng *rcl_default_generator(lua_State *L);
RC_INTERNAL void rcl_open_generator(lua_State *L);

#endif
