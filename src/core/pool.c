/* The fork-join pool (pool.h). One mutex guards the phase being run; the caller and the
 * workers claim its tasks one at a time, so a worker that wakes late only means the others
 * run more of the tasks. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* pthread_sigmask */
#endif

#include "pool.h"

#if RC_POOL_THREADS
#include <signal.h>
#endif

static void run_serially(int tasks, rc_pool_task task, void *ctx) {
  for (int i = 0; i < tasks; i++) task(ctx, i);
}

#if RC_POOL_THREADS

void rc_pool_init(rc_pool *p) {
  p->threads = 1;
  p->started = 0;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  pthread_cond_init(&p->progress, NULL);
  p->task = NULL;
  p->ctx = NULL;
  p->tasks = p->next = p->finished = 0;
  p->stop = 0;
}

/* joins the workers from index `keep` on (not during a run) */
static void join_workers(rc_pool *p, int keep) {
  if (keep >= p->started) return;
  pthread_mutex_lock(&p->lock);
  pthread_cond_broadcast(&p->wake); /* they see stop, or threads below their index */
  pthread_mutex_unlock(&p->lock);
  for (int k = keep; k < p->started; k++) pthread_join(p->workers[k].thread, NULL);
  p->started = keep;
}

void rc_pool_set_threads(rc_pool *p, int threads) {
  pthread_mutex_lock(&p->lock);
  p->threads = threads < 1 ? 1 : threads > RC_POOL_MAX_THREADS ? RC_POOL_MAX_THREADS : threads;
  pthread_mutex_unlock(&p->lock);
  join_workers(p, p->threads - 1);
}

/* a worker: sleeps until a phase has unclaimed tasks, runs them, until stopped or no
 * longer wanted */
static void *worker_main(void *arg) {
  rc_pool_worker *self = (rc_pool_worker *)arg;
  rc_pool *p = self->pool;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stop && self->index < p->threads - 1 && p->next >= p->tasks)
      pthread_cond_wait(&p->wake, &p->lock);
    if (p->stop || self->index >= p->threads - 1) break;
    int i = p->next++;
    rc_pool_task task = p->task;
    void *ctx = p->ctx;
    pthread_mutex_unlock(&p->lock);
    task(ctx, i);
    pthread_mutex_lock(&p->lock);
    if (++p->finished == p->tasks) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

/* starts the missing workers (under lock) with every signal blocked, so that the host's
 * signals go to its own threads; stops trying at the first refusal */
static void start_workers(rc_pool *p) {
  sigset_t all, old;
  if (p->started >= p->threads - 1) return;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  while (p->started < p->threads - 1) {
    rc_pool_worker *w = &p->workers[p->started];
    w->pool = p;
    w->index = p->started;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) break;
    p->started++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void rc_pool_run(rc_pool *p, int tasks, rc_pool_task task, void *ctx) {
  if (p->threads <= 1 || tasks <= 1) {
    run_serially(tasks, task, ctx);
    return;
  }
  pthread_mutex_lock(&p->lock);
  start_workers(p);
  p->task = task;
  p->ctx = ctx;
  p->tasks = tasks;
  p->next = 0;
  p->finished = 0;
  pthread_cond_broadcast(&p->wake);
  while (p->next < p->tasks) {
    int i = p->next++;
    pthread_mutex_unlock(&p->lock);
    task(ctx, i);
    pthread_mutex_lock(&p->lock);
    p->finished++;
  }
  while (p->finished < p->tasks) pthread_cond_wait(&p->done, &p->lock);
  p->tasks = p->next = p->finished = 0; /* idle: nothing to claim */
  pthread_mutex_unlock(&p->lock);
}

void rc_pool_publish(rc_pool *p, int *counter, int value) {
  pthread_mutex_lock(&p->lock);
  *counter = value;
  pthread_cond_broadcast(&p->progress);
  pthread_mutex_unlock(&p->lock);
}

void rc_pool_wait(rc_pool *p, const int *counter, int value) {
  pthread_mutex_lock(&p->lock);
  while (*counter < value) pthread_cond_wait(&p->progress, &p->lock);
  pthread_mutex_unlock(&p->lock);
}

void rc_pool_destroy(rc_pool *p) {
  pthread_mutex_lock(&p->lock);
  p->stop = 1;
  pthread_mutex_unlock(&p->lock);
  join_workers(p, 0);
  pthread_cond_destroy(&p->progress);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->lock);
}

#else /* no threads: every task runs in the caller */

void rc_pool_init(rc_pool *p) { p->threads = 1; }

void rc_pool_set_threads(rc_pool *p, int threads) {
  (void)threads;
  p->threads = 1;
}

void rc_pool_run(rc_pool *p, int tasks, rc_pool_task task, void *ctx) {
  (void)p;
  run_serially(tasks, task, ctx);
}

void rc_pool_publish(rc_pool *p, int *counter, int value) {
  (void)p;
  *counter = value;
}

void rc_pool_wait(rc_pool *p, const int *counter, int value) { (void)p, (void)counter, (void)value; }

void rc_pool_destroy(rc_pool *p) { (void)p; }

#endif
