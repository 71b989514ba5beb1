/* recur.Stepper: a recurrent layer run one time step per call, its state kept between
 * calls (a game frame, a sampling loop). */
#ifndef RECUR_LUA_STEPPER_H
#define RECUR_LUA_STEPPER_H

#include "../core/common.h"
#include "compat.h"

#define RCL_STEPPER "recur.Stepper"

/* recurrence:stepper([B]) as a lua_CFunction: a new stepper over the recurrence at 1 */
RC_INTERNAL int rcl_new_stepper(lua_State *L);
/* registers the Stepper metatable */
RC_INTERNAL void rcl_open_stepper(lua_State *L);

#endif
