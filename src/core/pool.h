/* A fork-join pool of worker threads for one lua_State (src/lua/workers.c owns it).
 * rc_pool_run hands out the tasks 0..tasks-1 of a phase to the caller and the workers and
 * returns when every task has run. Workers start lazily, at the first run that wants them,
 * sleep on a condition variable between runs (they never spin), and are joined when the
 * thread count drops below theirs or by rc_pool_destroy. The struct is embedded in Lua
 * userdata: it never moves and owns no heap memory of its own.
 *
 * Builds without POSIX threads (Windows, WebAssembly, or RC_NO_THREADS defined) compile a
 * pool that runs every task in the caller: RC_POOL_THREADS is 0 there. */
#ifndef RECUR_CORE_POOL_H
#define RECUR_CORE_POOL_H

#include "common.h"

#if !defined(RC_NO_THREADS) && !defined(_WIN32) && !defined(__EMSCRIPTEN__)
#define RC_POOL_THREADS 1
#include <pthread.h>
#else
#define RC_POOL_THREADS 0
#endif

RC_BEGIN_DECLS

/* the most threads (the caller and its workers) a pool runs */
#define RC_POOL_MAX_THREADS 64

typedef void (*rc_pool_task)(void *ctx, int i);

typedef struct rc_pool rc_pool;

#if RC_POOL_THREADS
typedef struct rc_pool_worker {
  rc_pool *pool;
  int index; /* runs while index < threads - 1 */
  pthread_t thread;
} rc_pool_worker;
#endif

struct rc_pool {
  int threads; /* wanted: the caller + threads-1 workers */
#if RC_POOL_THREADS
  int started; /* workers 0..started-1 run (fewer than wanted if the system refused some) */
  pthread_mutex_t lock;
  pthread_cond_t wake, done, progress;
  rc_pool_worker workers[RC_POOL_MAX_THREADS - 1];
  /* the phase being run, under lock */
  rc_pool_task task;
  void *ctx;
  int tasks, next, finished;
  unsigned long phase; /* counts phases, so that a worker runs each phase once */
  int stop;
#endif
};

/* an idle pool for 1 thread (no worker) */
RC_INTERNAL void rc_pool_init(rc_pool *p);
/* the thread count of the next runs (1..RC_POOL_MAX_THREADS): missing workers start at
 * the next run that has more than one task; workers beyond the count are joined now */
RC_INTERNAL void rc_pool_set_threads(rc_pool *p, int threads);
/* runs task(ctx, i) for i in [0, tasks) on the caller and up to threads-1 workers; returns
 * when all are done. Tasks must not call Lua. */
RC_INTERNAL void rc_pool_run(rc_pool *p, int tasks, rc_pool_task task, void *ctx);
/* Progress between the tasks of a run: rc_pool_publish sets *counter to value and wakes
 * the tasks waiting; rc_pool_wait returns once *counter >= value. A task may wait only on
 * tasks of a lower index: those were handed out before it, so they run or have run (on a
 * pool without threads, or when the tasks run one after the other, they have run). */
RC_INTERNAL void rc_pool_publish(rc_pool *p, int *counter, int value);
RC_INTERNAL void rc_pool_wait(rc_pool *p, const int *counter, int value);
/* stops and joins the workers */
RC_INTERNAL void rc_pool_destroy(rc_pool *p);

RC_END_DECLS

#endif
