/* The GEMM/GEMV bound: the time of recur's own BLAS calls alone. A benchmark worker (protocol in
 * bench/run.lua) that replays, call for call, the cblas_sgemm / cblas_sgemv sequence that
 * bench/blas_trace.c recorded while recur ran one unit of a case: same shapes, transposes, leading
 * dimensions and scalars, and operands laid out as recur's were (every recorded buffer region is
 * recreated with the same size, aliasing and offset within its page), so the replay touches memory
 * as recur does, minus everything that is not BLAS.
 *
 * Usage: blas_bound THREADS|default, then one command per line on stdin:
 *   info: answers "ok corename=...<TAB>threads=...<TAB>config=..."
 *   setup trace=FILE id=CASE: reads the calls between the lines "begin CASE" and "end CASE",
 *     recreates their buffers, replays them once; answers
 *     "ok WALL CPU FAULTS calls=N regions=N bytes=N"
 *   run REPS: replays REPS times; answers "ok WALL CPU FAULTS" (seconds by the wall clock and in
 *     the process's CPU time, and the minor page faults the replays took)
 *   quit */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct call {
  char kind, order, trans_a, trans_b; /* kind 'g' sgemm, 'v' sgemv (trans_b unused) */
  int m, n, k, lda, ldb, ldc;         /* sgemv: ldb = incx, ldc = incy */
  float alpha, beta;
  uintptr_t a, b, c;   /* recorded addresses (sgemv: a, x, y) */
  float *ra, *rb, *rc; /* the replay's addresses */
} call;

typedef struct region {
  uintptr_t start, end; /* recorded [start, end) in bytes */
  char *memory;         /* the replay's allocation */
  float *base;          /* where `start` lands in it */
} region;

typedef struct replay {
  call *calls;
  int ncalls;
  region *regions;
  int nregions;
} replay;

static double seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* floats spanned by a stored rows x cols matrix with leading dimension ld */
static size_t matrix_extent(char order, int rows, int cols, int ld) {
  if (rows <= 0 || cols <= 0) return 0;
  return order == 'R' ? (size_t)(rows - 1) * (size_t)ld + (size_t)cols
                      : (size_t)(cols - 1) * (size_t)ld + (size_t)rows;
}

/* the operand op(X) is rows x cols; stored transposed when trans == 'T' */
static size_t operand_extent(char order, char trans, int rows, int cols, int ld) {
  return trans == 'T' ? matrix_extent(order, cols, rows, ld) : matrix_extent(order, rows, cols, ld);
}

static size_t vector_extent(int len, int inc) {
  return len <= 0 ? 0 : (size_t)(len - 1) * (size_t)abs(inc) + 1;
}

/* the three operands of a call: recorded address and extent in floats */
static void operands(const call *c, uintptr_t addr[3], size_t extent[3]) {
  addr[0] = c->a, addr[1] = c->b, addr[2] = c->c;
  if (c->kind == 'g') {
    extent[0] = operand_extent(c->order, c->trans_a, c->m, c->k, c->lda);
    extent[1] = operand_extent(c->order, c->trans_b, c->k, c->n, c->ldb);
    extent[2] = matrix_extent(c->order, c->m, c->n, c->ldc);
  } else {
    int columns_in = c->trans_a == 'N'; /* y = A x: x has n entries, y has m */
    extent[0] = matrix_extent(c->order, c->m, c->n, c->lda);
    extent[1] = vector_extent(columns_in ? c->n : c->m, c->ldb);
    extent[2] = vector_extent(columns_in ? c->m : c->n, c->ldc);
  }
}

static int parse_call(const char *line, call *c) {
  unsigned long long a, b, cc;
  memset(c, 0, sizeof *c);
  if (sscanf(line, "sgemm %c %c %c %d %d %d %g %llx %d %llx %d %g %llx %d", &c->order, &c->trans_a,
             &c->trans_b, &c->m, &c->n, &c->k, &c->alpha, &a, &c->lda, &b, &c->ldb, &c->beta, &cc,
             &c->ldc) == 14)
    c->kind = 'g';
  else if (sscanf(line, "sgemv %c %c %d %d %g %llx %d %llx %d %g %llx %d", &c->order, &c->trans_a, &c->m,
                  &c->n, &c->alpha, &a, &c->lda, &b, &c->ldb, &c->beta, &cc, &c->ldc) == 12)
    c->kind = 'v';
  else
    return 0;
  c->a = (uintptr_t)a, c->b = (uintptr_t)b, c->c = (uintptr_t)cc;
  return 1;
}

static void replay_free(replay *r) {
  for (int i = 0; i < r->nregions; i++) free(r->regions[i].memory);
  free(r->calls), free(r->regions);
  memset(r, 0, sizeof *r);
}

/* reads the calls between "begin ID" and "end ID"; 0 and a message on failure */
static int read_trace(replay *r, const char *path, const char *id, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) return snprintf(err, errlen, "cannot open trace %.200s", path), 0;
  char line[512], begin[256], end[256];
  snprintf(begin, sizeof begin, "begin %s\n", id);
  snprintf(end, sizeof end, "end %s\n", id);
  int inside = 0, done = 0, cap = 0;
  while (!done && fgets(line, sizeof line, f)) {
    if (!inside)
      inside = strcmp(line, begin) == 0;
    else if (strcmp(line, end) == 0)
      done = 1;
    else {
      call c;
      if (!parse_call(line, &c)) continue; /* another marker: not a BLAS call */
      if (r->ncalls == cap) {
        cap = cap ? 2 * cap : 256;
        call *grown = realloc(r->calls, (size_t)cap * sizeof *grown);
        if (!grown) return fclose(f), snprintf(err, errlen, "out of memory"), 0;
        r->calls = grown;
      }
      r->calls[r->ncalls++] = c;
    }
  }
  fclose(f);
  if (!done) return snprintf(err, errlen, "no complete section %.100s in %.200s", id, path), 0;
  return 1;
}

static int by_start(const void *x, const void *y) {
  uintptr_t a = ((const region *)x)->start, b = ((const region *)y)->start;
  return (a > b) - (a < b);
}

/* merges the operands' byte intervals into regions and allocates each one, page offset kept */
static int build_regions(replay *r) {
  region *iv = malloc((size_t)(3 * r->ncalls + 1) * sizeof *iv);
  if (!iv) return 0;
  int n = 0;
  for (int i = 0; i < r->ncalls; i++) {
    uintptr_t addr[3];
    size_t extent[3];
    operands(&r->calls[i], addr, extent);
    for (int j = 0; j < 3; j++)
      if (extent[j]) iv[n].start = addr[j], iv[n].end = addr[j] + 4 * extent[j], iv[n].memory = NULL, n++;
  }
  qsort(iv, (size_t)n, sizeof *iv, by_start);
  int merged = 0;
  for (int i = 0; i < n; i++) {
    if (merged && iv[i].start <= iv[merged - 1].end) {
      if (iv[i].end > iv[merged - 1].end) iv[merged - 1].end = iv[i].end;
    } else
      iv[merged++] = iv[i];
  }
  r->regions = iv, r->nregions = merged;
  for (int i = 0; i < merged; i++) {
    size_t offset = iv[i].start & 4095, bytes = (iv[i].end - iv[i].start + offset + 4095) / 4096 * 4096;
    void *memory;
    if (posix_memalign(&memory, 4096, bytes) != 0) return 0;
    iv[i].memory = memory;
    iv[i].base = (float *)(iv[i].memory + offset);
    size_t count = (iv[i].end - iv[i].start) / sizeof(float);
    for (size_t e = 0; e < count; e++) iv[i].base[e] = (float)((e * 2654435761u) % 1000) / 1000.0f - 0.5f;
  }
  return 1;
}

static float *translate(const replay *r, uintptr_t addr) {
  int lo = 0, hi = r->nregions - 1;
  while (lo < hi) { /* the last region starting at or before addr */
    int mid = (lo + hi + 1) / 2;
    if (r->regions[mid].start <= addr)
      lo = mid;
    else
      hi = mid - 1;
  }
  const region *g = &r->regions[lo];
  return (float *)((char *)g->base + (addr - g->start));
}

static void run_once(const replay *r) {
  for (int i = 0; i < r->ncalls; i++) {
    const call *c = &r->calls[i];
    enum CBLAS_ORDER order = c->order == 'R' ? CblasRowMajor : CblasColMajor;
    enum CBLAS_TRANSPOSE ta = c->trans_a == 'N' ? CblasNoTrans : CblasTrans;
    if (c->kind == 'g')
      cblas_sgemm(order, ta, c->trans_b == 'N' ? CblasNoTrans : CblasTrans, c->m, c->n, c->k, c->alpha, c->ra,
                  c->lda, c->rb, c->ldb, c->beta, c->rc, c->ldc);
    else
      cblas_sgemv(order, ta, c->m, c->n, c->alpha, c->ra, c->lda, c->rb, c->ldb, c->beta, c->rc, c->ldc);
  }
}

/* the process's minor page faults so far, or -1 */
static long minor_faults(void) {
  struct rusage u;
  return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_minflt : -1;
}

/* replays `reps` times; answers "ok WALL CPU FAULTS" and `extra` */
static void timed_replays(const replay *r, long reps, const char *extra) {
  long f0 = minor_faults();
  double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
  for (long i = 0; i < reps; i++) run_once(r);
  double wall = seconds(CLOCK_MONOTONIC) - t0, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
  long f1 = minor_faults();
  printf("ok %.9f %.9f %ld%s\n", wall, cpu, f0 < 0 || f1 < 0 ? -1 : f1 - f0, extra);
}

/* the value of "key=" in a command line, up to the next space, into out */
static int field(const char *line, const char *key, char *out, size_t outlen) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, " %s=", key);
  const char *p = strstr(line, pattern);
  if (!p) return 0;
  p += strlen(pattern);
  size_t n = strcspn(p, " \n");
  if (n >= outlen) return 0;
  memcpy(out, p, n);
  out[n] = '\0';
  return 1;
}

static void setup(replay *r, const char *line) {
  char path[4096], id[200], err[512];
  replay_free(r);
  if (!field(line, "trace", path, sizeof path) || !field(line, "id", id, sizeof id)) {
    printf("error setup: expected trace=FILE id=CASE\n");
    return;
  }
  if (!read_trace(r, path, id, err, sizeof err)) {
    printf("error setup: %s\n", err);
    return;
  }
  if (r->ncalls == 0) {
    printf("error setup: case %s made no BLAS call (is recur built with BLAS=none?)\n", id);
    return;
  }
  if (!build_regions(r) || r->nregions == 0) {
    replay_free(r);
    printf("error setup: out of memory, or calls that touch no memory\n");
    return;
  }
  for (int i = 0; i < r->ncalls; i++) {
    call *c = &r->calls[i];
    c->ra = translate(r, c->a), c->rb = translate(r, c->b), c->rc = translate(r, c->c);
  }
  size_t bytes = 0;
  for (int i = 0; i < r->nregions; i++) bytes += r->regions[i].end - r->regions[i].start;
  char extra[96];
  snprintf(extra, sizeof extra, " calls=%d regions=%d bytes=%zu", r->ncalls, r->nregions, bytes);
  timed_replays(r, 1, extra);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "default") != 0) openblas_set_num_threads(atoi(argv[1]));
  replay r = {0};
  char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "info", 4) == 0)
      printf("ok corename=%s\tthreads=%d\tconfig=%s\n", openblas_get_corename(), openblas_get_num_threads(),
             openblas_get_config());
    else if (strncmp(line, "setup", 5) == 0)
      setup(&r, line);
    else if (strncmp(line, "run ", 4) == 0) {
      long reps = atol(line + 4);
      if (!r.ncalls || reps < 1)
        printf("error run: no case set up or bad REPS\n");
      else
        timed_replays(&r, reps, "");
    } else if (strncmp(line, "quit", 4) == 0)
      break;
    else
      printf("error unknown command: %s", line);
    fflush(stdout);
  }
  replay_free(&r);
  return 0;
}
