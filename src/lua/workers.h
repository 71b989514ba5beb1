/* recur.set_num_threads and the worker threads of a lua_State: a pool (core/pool.h) in a
 * userdata kept in the registry, created at the first set_num_threads, whose __gc joins the
 * workers (so lua_close does). Workers start at the first call that runs on more than one
 * thread; a state's workers are never shared with another state. */
#ifndef RECUR_LUA_WORKERS_H
#define RECUR_LUA_WORKERS_H

#include "../core/pool.h"
#include "compat.h"

/* set_num_threads(n), n >= 1 (checked by the caller; more than RC_POOL_MAX_THREADS raises) */
RC_INTERNAL void rcl_set_num_threads(lua_State *L, lua_Integer n);
/* get_num_threads(): n as set, or OpenBLAS's count when never set (or without threads) */
RC_INTERNAL int rcl_get_num_threads(lua_State *L);
/* the threads a recurrence runs on (1 unless set_num_threads set more), and the pool that
 * runs them (NULL for 1) */
RC_INTERNAL int rcl_threads(lua_State *L);
RC_INTERNAL rc_pool *rcl_pool(lua_State *L);

#endif
