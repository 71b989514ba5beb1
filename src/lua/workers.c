/* The worker threads of a lua_State (workers.h).
 *
 * OpenBLAS's thread count is one setting for the whole process. With recur's workers each
 * thread calls BLAS on its own rows, so OpenBLAS must not start threads of its own beside
 * them (they would spin-wait for work and take the cores from recur's): set_num_threads(n)
 * sets OpenBLAS to 1 thread for every n, and so for every lua_State of the process. On a
 * build without threads (pool.h) it sets OpenBLAS to n instead, as before. */
#include "workers.h"

#include "../core/blas.h"

#define WORKERS "recur.Workers"

typedef struct workers {
  rc_pool pool;
  int threads; /* as set by set_num_threads */
} workers;

static const char workers_key = 0; /* its address is the registry key */

static int workers_gc(lua_State *L) {
  workers *w = (workers *)luaL_checkudata(L, 1, WORKERS);
  rc_pool_destroy(&w->pool);
  return 0;
}

/* the state's workers, or NULL before the first set_num_threads (create: make them) */
static workers *state_workers(lua_State *L, int create) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &workers_key);
  workers *w = (workers *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (w || !create) return w;
  if (luaL_newmetatable(L, WORKERS)) {
    lua_pushcfunction(L, workers_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  w = (workers *)lua_newuserdatauv(L, sizeof(workers), 0);
  rc_pool_init(&w->pool); /* before the metatable: __gc always finds a pool */
  w->threads = 1;
  luaL_setmetatable(L, WORKERS);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &workers_key);
  return w;
}

void rcl_set_num_threads(lua_State *L, lua_Integer n) {
  if (n > RC_POOL_MAX_THREADS)
    luaL_argerror(L, 1,
                  lua_pushfstring(L, "threads: expected at most %d, got %s", RC_POOL_MAX_THREADS,
                                  rcl_istr(L, (long long)n)));
  workers *w = state_workers(L, 1);
  w->threads = (int)n;
  rc_pool_set_threads(&w->pool, (int)n);
  if (rc_blas_set_threads(RC_POOL_THREADS ? 1 : (int)n) != 0)
    luaL_error(L, "set_num_threads: not enough memory for the work buffers of %s's threads", rc_blas_name());
}

int rcl_get_num_threads(lua_State *L) {
  workers *w = state_workers(L, 0);
  return w && RC_POOL_THREADS ? w->threads : rc_blas_get_threads();
}

int rcl_threads(lua_State *L) {
  workers *w = state_workers(L, 0);
  return w && RC_POOL_THREADS ? w->threads : 1;
}

rc_pool *rcl_pool(lua_State *L) {
  workers *w = state_workers(L, 0);
  return w && RC_POOL_THREADS && w->threads > 1 ? &w->pool : NULL;
}
