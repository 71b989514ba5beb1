/* The pointwise kernels of one build of src/core/cells.c, timed alone: a long-lived worker
 * that bench/kernels.lua drives over stdin/stdout with the protocol of bench/run.lua's
 * workers (one command per line, one answer per line, "ok ..." or "error ..."):
 *   setup CASE  -> ok WALL CPU   (selects the case, runs it once, times a second call)
 *   run REPS    -> ok WALL CPU   (REPS calls back to back: seconds by the wall clock and in
 *                                 CPU time of the process)
 *   quit
 *
 *   cc -O2 -Isrc/core bench/kernels.c src/core/cells.c -lm -o build/kernels
 *
 * Cases, at B = 64, H = 256 (the layer benchmark's shape): sigmoid and tanh over
 * B x 4H floats, {lstm,gru}_{forward,backward}, and lstm_step (B = 1, H = 32, one call:
 * the stepper's kernel, where the cost of the call itself shows). The forward kernels
 * overwrite their gate inputs with activations, which stay in range when repeated; the
 * backward kernels overwrite theirs with gradients, which would shrink to subnormals,
 * so the backward cases copy their inputs back before each call, and `copy_back` times
 * that copy alone. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cells.h"

enum { B = 64, H = 256, G = 4 * H, STEP_H = 32 };

static float g[B * G], g0[B * G], hh[B * G], hh0[B * G], a[B * H], a0[B * H], b[B * H], c[B * H], d[B * H];

static void fill(float *x, size_t n, unsigned *seed, float scale) {
  for (size_t i = 0; i < n; i++) {
    *seed = *seed * 1664525u + 1013904223u;
    x[i] = scale * ((float)(*seed >> 8) / 16777216.0f * 2.0f - 1.0f);
  }
}

static void copy_back_lstm(void) {
  memcpy(g, g0, sizeof g);
  memcpy(a, a0, sizeof a);
}

static void copy_back_gru(void) {
  memcpy(g, g0, (size_t)B * 3 * H * sizeof(float));
  memcpy(hh, hh0, (size_t)B * 3 * H * sizeof(float));
}

/* backward inputs: activations in (0, 1) for the gates, in (-1, 1) for the tanh ones */
static void backward_inputs(void) {
  unsigned seed = 7;
  fill(g0, sizeof g0 / sizeof *g0, &seed, 0.5f);
  for (size_t i = 0; i < sizeof g0 / sizeof *g0; i++) g0[i] += 0.5f;
  fill(hh0, sizeof hh0 / sizeof *hh0, &seed, 1.0f);
  fill(a0, sizeof a0 / sizeof *a0, &seed, 0.1f);
}

/* 0 for an unknown name */
static int run_case(const char *name) {
  if (!strcmp(name, "sigmoid"))
    rc_sigmoid_n((size_t)B * G, hh, g);
  else if (!strcmp(name, "tanh"))
    rc_tanh_n((size_t)B * G, hh, g);
  else if (!strcmp(name, "lstm_forward"))
    rc_lstm_forward(B, H, g, a, b, c);
  else if (!strcmp(name, "gru_forward"))
    rc_gru_forward(B, H, g, hh, a, b);
  else if (!strcmp(name, "lstm_step"))
    rc_lstm_forward(1, STEP_H, g, a, b, c);
  else if (!strcmp(name, "copy_back"))
    copy_back_lstm();
  else if (!strcmp(name, "lstm_backward")) {
    copy_back_lstm();
    rc_lstm_backward(B, H, d, b, c, g, a);
  } else if (!strcmp(name, "gru_backward")) {
    copy_back_gru();
    rc_gru_backward(B, H, d, b, g, hh, c);
  } else
    return 0;
  return 1;
}

static const char *selected;

/* "WALL CPU" seconds of `reps` calls of the selected case */
static void time_calls(long reps) {
  struct timespec t0, t1;
  clock_t c0 = clock();
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < reps; i++) run_case(selected);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  printf("ok %.9f %.9f\n", wall, (double)(clock() - c0) / CLOCKS_PER_SEC);
}

int main(void) {
  static char line[64], name[64];
  unsigned seed = 1;
  fill(g, sizeof g / sizeof *g, &seed, 4.0f);
  fill(hh, sizeof hh / sizeof *hh, &seed, 4.0f);
  fill(a, sizeof a / sizeof *a, &seed, 1.0f);
  fill(d, sizeof d / sizeof *d, &seed, 1.0f);
  backward_inputs();
  while (fgets(line, sizeof line, stdin)) {
    long reps;
    line[strcspn(line, "\r\n")] = 0;
    if (!strcmp(line, "quit")) break;
    if (sscanf(line, "setup %63s", name) == 1) {
      selected = run_case(name) ? name : NULL;
      if (selected)
        time_calls(1);
      else
        printf("error unknown case %s\n", name);
    } else if (sscanf(line, "run %ld", &reps) == 1 && reps > 0 && selected) {
      time_calls(reps);
    } else {
      printf("error bad command: %s\n", line);
    }
    fflush(stdout);
  }
  return 0;
}
