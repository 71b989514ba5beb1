/* The pointwise kernels of one build of recur's cell files, timed alone: a long-lived worker
 * that bench/kernels.lua drives over stdin/stdout with the protocol of bench/run.lua's
 * workers (one command per line, one answer per line, "ok ..." or "error ..."):
 *   setup CASE  -> ok WALL CPU   (selects the case, runs it once, times a second call)
 *   run REPS    -> ok WALL CPU   (REPS calls back to back: seconds by the wall clock and in
 *                                 CPU time of the process)
 *   quit
 *
 *   cc -O2 -Isrc/core bench/kernels.c src/core/cells.c src/core/cell_*.c -lm -o build/kernels
 *
 * Cases, at B = 64, H = 256 (the layer benchmark's shape): "sigmoid" and "tanh" over B x 4H
 * floats (the tensors' kernels), and for every registered cell NAME (its family, then
 * ".nonlinearity" and "+option" as they apply, e.g. "RNN.tanh", "LSTM+layer_norm"):
 *   NAME/forward   one time step's forward kernel over the B rows;
 *   NAME/backward  its backward kernel, after copying back the inputs it overwrites (the
 *                  gradients it writes would otherwise shrink to subnormals, call after call);
 *   NAME/restore   that copy alone;
 *   NAME/step      the forward kernel at B = 1, H = 32 (the stepper's, where the cost of the
 *                  call itself shows). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cells.h"

enum { B = 64, H = 256, STEP_H = 32, MAX_G = 4 };

/* one cell's step at (rows, H), its buffers, and copies of what backward overwrites */
typedef struct bench_cell {
  const rc_cell *cell;
  rc_cell_step s;
  const float *vec[RC_CELL_MAX_VECS];
  float *dvec[RC_CELL_MAX_VECS];
  float *g0, *hh0, *ex0, *dc0;
  size_t gsize, exsize, hsize;
} bench_cell;

static unsigned seed = 1;

static float *filled(size_t n, float lo, float hi) {
  float *x = malloc(n * sizeof *x);
  if (!x) exit(1);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    x[i] = lo + (hi - lo) * (float)(seed >> 8) / 16777216.0f;
  }
  return x;
}

static float *copy_of(const float *x, size_t n) {
  float *y = filled(n, 0, 0);
  memcpy(y, x, n * sizeof *y);
  return y;
}

static void restore(bench_cell *b) {
  memcpy(b->s.g, b->g0, b->gsize * sizeof(float));
  if (b->s.hh != b->s.g) memcpy(b->s.hh, b->hh0, b->gsize * sizeof(float));
  if (b->exsize) memcpy(b->s.ex, b->ex0, b->exsize * sizeof(float));
  if (b->s.dc) memcpy(b->s.dc, b->dc0, b->hsize * sizeof(float));
  memset(b->s.dh_prev, 0, b->hsize * sizeof(float)); /* zero on entry */
}

/* a cell at `rows` x `h`, its forward run once so that backward finds what it keeps */
static void bench_cell_init(bench_cell *b, const rc_cell *cell, int rows, int h) {
  memset(b, 0, sizeof *b);
  b->cell = cell;
  b->gsize = (size_t)rows * cell->gates * h;
  b->hsize = (size_t)rows * h;
  b->exsize = (size_t)rows * ((size_t)cell->extra_h * h + cell->extra_fixed);
  rc_cell_step *s = &b->s;
  s->H = h;
  s->g = filled(b->gsize, -3, 3);
  s->hh = cell->separate_hh ? filled(b->gsize, -3, 3) : s->g;
  s->ex = b->exsize ? filled(b->exsize, 0, 0) : NULL;
  s->h_prev = filled(b->hsize, -1, 1);
  s->h = filled(b->hsize, 0, 0);
  s->c_prev = cell->states == 2 ? filled(b->hsize, -1, 1) : NULL;
  s->c = cell->states == 2 ? filled(b->hsize, 0, 0) : NULL;
  for (int k = 0, v = 0; cell->blocks[k].name; k++) {
    if (cell->blocks[k].role != RC_VEC) continue;
    size_t n = (size_t)cell->blocks[k].size * h;
    int ones = cell->blocks[k].init == RC_INIT_ONES;
    b->vec[v] = filled(n, ones ? 0.9f : -0.1f, ones ? 1.1f : 0.1f);
    b->dvec[v++] = filled(n, 0, 0);
  }
  s->vec = b->vec;
  s->dvec = b->dvec;
  s->dh = filled(b->hsize, -1, 1);
  s->dh_prev = filled(b->hsize, 0, 0);
  s->dc = cell->states == 2 ? filled(b->hsize, -0.1f, 0.1f) : NULL;
  float *g_in = copy_of(s->g, b->gsize);
  cell->forward(s, 0, rows);
  b->g0 = copy_of(s->g, b->gsize);
  b->hh0 = copy_of(s->hh, b->gsize);
  b->ex0 = b->exsize ? copy_of(s->ex, b->exsize) : NULL;
  b->dc0 = s->dc ? copy_of(s->dc, b->hsize) : NULL;
  memcpy(s->g, g_in, b->gsize * sizeof(float));
  free(g_in);
}

static bench_cell cells[16], steps[16];
static int ncells;
static float *act_x, *act_y;

static void cell_name(const rc_cell *c, char *out, size_t size) {
  int n = snprintf(out, size, "%s", c->family);
  if (c->nonlinearity) n += snprintf(out + n, size - (size_t)n, ".%s", c->nonlinearity);
  for (int i = 0; rc_cell_flag_names[i]; i++)
    if (c->flags & (1u << i)) n += snprintf(out + n, size - (size_t)n, "+%s", rc_cell_flag_names[i]);
}

typedef enum { FORWARD, BACKWARD, RESTORE, STEP } pass;

/* the case a name selects: *cell (or NULL for the activations), *which; 0 if none */
static int find_case(const char *name, bench_cell **cell, pass *which) {
  static const char *const passes[] = {"forward", "backward", "restore", "step"};
  char want[96];
  *cell = NULL;
  if (!strcmp(name, "sigmoid") || !strcmp(name, "tanh")) return 1;
  for (int i = 0; i < ncells; i++)
    for (int p = 0; p < 4; p++) {
      cell_name(cells[i].cell, want, sizeof want);
      strncat(want, "/", sizeof want - strlen(want) - 1);
      strncat(want, passes[p], sizeof want - strlen(want) - 1);
      if (!strcmp(name, want)) {
        *cell = p == STEP ? &steps[i] : &cells[i];
        *which = (pass)p;
        return 1;
      }
    }
  return 0;
}

static char selected[96];
static bench_cell *sel_cell;
static pass sel_pass;

static void run_selected(void) {
  if (!sel_cell) {
    if (selected[0] == 's')
      rc_sigmoid_n((size_t)B * MAX_G * H, act_x, act_y);
    else
      rc_tanh_n((size_t)B * MAX_G * H, act_x, act_y);
    return;
  }
  int rows = sel_pass == STEP ? 1 : B;
  if (sel_pass == FORWARD || sel_pass == STEP) sel_cell->cell->forward(&sel_cell->s, 0, rows);
  if (sel_pass == BACKWARD || sel_pass == RESTORE) restore(sel_cell);
  if (sel_pass == BACKWARD) sel_cell->cell->backward(&sel_cell->s, 0, rows);
}

/* "WALL CPU" seconds of `reps` calls of the selected case */
static void time_calls(long reps) {
  struct timespec t0, t1;
  clock_t c0 = clock();
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < reps; i++) run_selected();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  printf("ok %.9f %.9f\n", wall, (double)(clock() - c0) / CLOCKS_PER_SEC);
}

int main(void) {
  char line[128], name[96];
  for (; rc_cell_at(ncells) && ncells < 16; ncells++) {
    bench_cell_init(&cells[ncells], rc_cell_at(ncells), B, H);
    bench_cell_init(&steps[ncells], rc_cell_at(ncells), 1, STEP_H);
  }
  act_x = filled((size_t)B * MAX_G * H, -8, 8);
  act_y = filled((size_t)B * MAX_G * H, 0, 0);
  while (fgets(line, sizeof line, stdin)) {
    long reps;
    line[strcspn(line, "\r\n")] = 0;
    if (!strcmp(line, "quit")) break;
    if (sscanf(line, "setup %95s", name) == 1) {
      if (find_case(name, &sel_cell, &sel_pass)) {
        strcpy(selected, name);
        run_selected();
        time_calls(1);
      } else {
        selected[0] = 0;
        printf("error unknown case %s\n", name);
      }
    } else if (sscanf(line, "run %ld", &reps) == 1 && reps > 0 && selected[0]) {
      time_calls(reps);
    } else {
      printf("error bad command: %s\n", line);
    }
    fflush(stdout);
  }
  return 0;
}
