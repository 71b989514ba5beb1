/* The packed product of packed.h: a 6 x 16 register tile (12 AVX2 accumulators, one
 * broadcast of A and two loads of B per k), K in blocks of 256 so that a panel's block
 * (16 KB) stays in L1 while it meets every row of A. Each element of C is the sum over k
 * in order, so a row's result does not depend on how many rows a call has (the thread
 * split stays exact). A step's gates are last touched by the input projection, a whole
 * sequence earlier, and their rows are strided: each tile prefetches the rows of C it
 * writes, and the caller's next reads (rc_packed_out.warm) a few lines per tile. perf
 * annotate put 12% of the tile's samples on its loads of C, and 12% of a GRU cell's on its
 * first load of a gate, before; under 2% after. */
#include "packed.h"

#include <stdlib.h>
#include <string.h>

#if RC_PACKED_KERNELS
#include <immintrin.h>

#define TILE_ROWS 6
#define K_BLOCK 256
#define ROW_BLOCK 96

static void pack_transposed(int n, int k, const float *w, float *panels) {
  for (int j0 = 0; j0 < n; j0 += RC_PANEL, panels += (size_t)k * RC_PANEL)
    for (int j = 0; j < RC_PANEL; j++) {
      const float *row = j0 + j < n ? w + (size_t)(j0 + j) * k : NULL;
      for (int i = 0; i < k; i++) panels[(size_t)i * RC_PANEL + j] = row ? row[i] : 0.0f;
    }
}

static void pack(int k, int n, const float *w, float *panels) {
  for (int j0 = 0; j0 < n; j0 += RC_PANEL, panels += (size_t)k * RC_PANEL) {
    int cols = n - j0 < RC_PANEL ? n - j0 : RC_PANEL;
    for (int i = 0; i < k; i++) {
      memcpy(panels + (size_t)i * RC_PANEL, w + (size_t)i * n + j0, (size_t)cols * sizeof(float));
      memset(panels + (size_t)i * RC_PANEL + cols, 0, (size_t)(RC_PANEL - cols) * sizeof(float));
    }
  }
}

/* c(rows x cols) = a(rows x k) b(k x 16 panel) + init (16 floats), plus c when
 * accumulate; rows <= 6, cols <= 16. Inlined with rows a constant (tile_1 ... tile_6), so
 * that a short tile (the last of a batch of 16, 25 or 50 rows) does only its own rows. */
__attribute__((target("avx2,fma"), always_inline)) static inline void tile(int k, int rows, int cols,
                                                                           const float *a, int lda,
                                                                           const float *b, const float *init,
                                                                           int accumulate, float *c,
                                                                           int ldc) {
  const float *a_row[TILE_ROWS];
  for (int r = 0; r < rows; r++) a_row[r] = a + (size_t)r * lda;
  /* c's rows (a step's gates, strided) are in memory: fetched for writing during the sum */
  for (int r = 0; r < rows; r++) {
    __builtin_prefetch(c + (size_t)r * ldc, 1);
    __builtin_prefetch(c + (size_t)r * ldc + RC_PANEL - 1, 1);
  }
  __m256 lo[TILE_ROWS], hi[TILE_ROWS];
#pragma GCC unroll 6
  for (int r = 0; r < rows; r++) {
    lo[r] = _mm256_loadu_ps(init);
    hi[r] = _mm256_loadu_ps(init + 8);
  }
  for (int i = 0; i < k; i++, b += RC_PANEL) {
    __m256 b_lo = _mm256_loadu_ps(b), b_hi = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) {
      __m256 x = _mm256_broadcast_ss(a_row[r] + i);
      lo[r] = _mm256_fmadd_ps(x, b_lo, lo[r]);
      hi[r] = _mm256_fmadd_ps(x, b_hi, hi[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < rows; r++) {
    float *out = c + (size_t)r * ldc;
    if (cols == RC_PANEL) {
      if (accumulate) {
        lo[r] = _mm256_add_ps(_mm256_loadu_ps(out), lo[r]);
        hi[r] = _mm256_add_ps(_mm256_loadu_ps(out + 8), hi[r]);
      }
      _mm256_storeu_ps(out, lo[r]);
      _mm256_storeu_ps(out + 8, hi[r]);
    } else {
      float sum[RC_PANEL];
      _mm256_storeu_ps(sum, lo[r]);
      _mm256_storeu_ps(sum + 8, hi[r]);
      for (int j = 0; j < cols; j++) out[j] = accumulate ? out[j] + sum[j] : sum[j];
    }
  }
}

#define TILE_OF_ROWS(R)                                                                              \
  __attribute__((target("avx2,fma"))) static void tile_##R(int k, int cols, const float *a, int lda, \
                                                           const float *b, const float *init,        \
                                                           int accumulate, float *c, int ldc) {      \
    tile(k, R, cols, a, lda, b, init, accumulate, c, ldc);                                           \
  }
TILE_OF_ROWS(1)
TILE_OF_ROWS(2)
TILE_OF_ROWS(3)
TILE_OF_ROWS(4)
TILE_OF_ROWS(5)
TILE_OF_ROWS(6)

typedef void (*tile_fn)(int k, int cols, const float *a, int lda, const float *b, const float *init,
                        int accumulate, float *c, int ldc);
static const tile_fn tile_of_rows[TILE_ROWS + 1] = {NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

/* init[j] = bias[j] + bias2[j] (a NULL vector is zeros) for the columns j < cols of a
 * panel, zero in the others */
static void panel_init(int cols, const float *bias, const float *bias2, float *init) {
  for (int j = 0; j < RC_PANEL; j++)
    init[j] = j < cols ? (bias ? bias[j] : 0.0f) + (bias2 ? bias2[j] : 0.0f) : 0.0f;
}

/* ceil(n / d) */
static size_t blocks_of(size_t n, size_t d) { return (n + d - 1) / d; }

#define LINE 16 /* floats per cache line */

/* fetches the next `share` of the `lines` cache lines from base into cache, from line *next
 * on, and moves *next past them: a region spread over the tiles of a product */
static void fetch_share(const float *base, size_t lines, size_t share, size_t *next) {
  for (size_t end = *next + share; *next < end && *next < lines; ++*next)
    __builtin_prefetch(base + *next * LINE, 0, 2);
}

/* rc_packed_out.warm spread over a whole product's tiles: its lines, how many each tile
 * fetches, the next one to fetch */
typedef struct warm_fetch {
  size_t lines, per_tile, next;
} warm_fetch;

/* Rows [m0, m0 + mb) of the product, mb <= ROW_BLOCK; K blocks after the first add to
 * what the first stored, without the biases again */
static void row_block(int m0, int mb, int n, int k, const float *a, int lda, const float *panels,
                      const rc_packed_out *out, warm_fetch *warm) {
  float init[RC_PANEL];
  a += (size_t)m0 * lda;
  for (int k0 = 0; k0 < k; k0 += K_BLOCK) {
    int kb = k - k0 < K_BLOCK ? k - k0 : K_BLOCK, first = k0 == 0;
    for (int j0 = 0; j0 < n; j0 += RC_PANEL) {
      const float *b = panels + (size_t)j0 * k + (size_t)k0 * RC_PANEL;
      int cols = n - j0 < RC_PANEL ? n - j0 : RC_PANEL;
      panel_init(first ? cols : 0, out->bias ? out->bias + j0 : NULL, out->bias2 ? out->bias2 + j0 : NULL,
                 init);
      /* the next panel's block (kb lines), fetched a share per tile when K takes several
       * blocks: at H = 512 the packed W_hh (3 MB) comes from L3, and 19% of tile_6's
       * samples had waited on a panel's loads (GRU B=64 H=512 forward 1.03x, A/B of 41
       * rounds); with one block (H = 256 forward) the panels follow each other in memory
       * and fetching them measured no gain */
      const float *next_b = k > K_BLOCK && j0 + RC_PANEL < n ? b + (size_t)RC_PANEL * k : NULL;
      size_t panel_lines = next_b ? (size_t)kb : 0, fetched = 0;
      size_t panel_share = blocks_of(panel_lines, blocks_of(mb, TILE_ROWS));
      for (int r0 = 0; r0 < mb; r0 += TILE_ROWS) {
        fetch_share(out->warm, warm->lines, warm->per_tile, &warm->next);
        fetch_share(next_b, panel_lines, panel_share, &fetched);
        tile_of_rows[mb - r0 < TILE_ROWS ? mb - r0 : TILE_ROWS](
            kb, cols, a + (size_t)r0 * lda + k0, lda, b, init, out->accumulate || !first,
            out->c + (size_t)(m0 + r0) * out->ldc + j0, out->ldc);
      }
    }
  }
}

/* A whole sequence's input projection has thousands of rows: the rows of A a K block's
 * panels meet are then taken ROW_BLOCK at a time, so that they stay in L2 (96 KB) while
 * every panel passes, instead of coming from memory once per panel. A step's product
 * (B <= ROW_BLOCK rows) is one block. */
static void gemm(int m, int n, int k, const float *a, int lda, const float *panels,
                 const rc_packed_out *out) {
  if (m <= 0 || n <= 0) return; /* a step no row takes part in (lengths) */
  size_t tiles = blocks_of(m, TILE_ROWS) * blocks_of(n, RC_PANEL) * blocks_of(k, K_BLOCK);
  warm_fetch warm = {out->warm ? blocks_of(out->warm_floats, LINE) : 0, 0, 0};
  warm.per_tile = blocks_of(warm.lines, tiles);
  for (int m0 = 0; m0 < m; m0 += ROW_BLOCK)
    row_block(m0, m - m0 < ROW_BLOCK ? m - m0 : ROW_BLOCK, n, k, a, lda, panels, out, &warm);
}

static const rc_packed_kernel avx2 = {"avx2", pack_transposed, pack, gemm};

const rc_packed_kernel *rc_packed_kernel_for_cpu(void) {
  const char *env = getenv("RECUR_PACKED_GEMM");
  if (env && strcmp(env, "0") == 0) return NULL;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2 : NULL;
}

#else

const rc_packed_kernel *rc_packed_kernel_for_cpu(void) { return NULL; }

#endif
