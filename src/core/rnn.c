/* The recurrence, for every cell type: the input projection of a whole sequence as one
 * GEMM, then per time step the recurrent GEMM and the cell's row kernels (cells.h), then
 * the weight gradients as GEMMs over all steps. */
/* the row loops (bias rows, column sums, copies) are worth vectorising; see cells.c */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

#include "rnn.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "ops.h"
#include "packed.h"
#include "pool.h"

/* ---- sizes and parameter layout ---------------------------------------- */

int rc_rnn_dirs(const rc_rnn_config *cfg) { return cfg->bidirectional ? 2 : 1; }

int rc_rnn_hout(const rc_rnn_config *cfg) { return cfg->proj_size > 0 ? cfg->proj_size : cfg->hidden_size; }

int rc_rnn_layer_input(const rc_rnn_config *cfg, int layer) {
  return layer == 0 ? cfg->input_size : rc_rnn_dirs(cfg) * rc_rnn_hout(cfg);
}

static size_t gate_width(const rc_rnn_config *cfg) { return (size_t)cfg->cell->gates * cfg->hidden_size; }

/* the largest VEC block, in floats */
static size_t largest_vec(const rc_rnn_config *cfg) {
  size_t n = 0;
  for (const rc_param_block *b = cfg->cell->blocks; b->name; b++)
    if (b->role == RC_VEC && (size_t)b->size * cfg->hidden_size > n) n = (size_t)b->size * cfg->hidden_size;
  return n;
}

/* appends tensor t (its name, role, init and shape set) at *at */
static inline void emit(rc_param_tensor *t, size_t *at, void (*visit)(void *, const rc_param_tensor *),
                        void *ud) {
  t->offset = *at;
  *at += t->rows * (t->cols ? t->cols : 1);
  if (visit) visit(ud, t);
}

/* Walks the tensors of direction d of layer l, laid out from `at`: the cell's blocks, then
 * weight_hr; returns the offset after them. */
static size_t each_direction_param(const rc_rnn_config *cfg, int l, int d, size_t at,
                                   void (*visit)(void *, const rc_param_tensor *), void *ud) {
  size_t H = cfg->hidden_size, in = rc_rnn_layer_input(cfg, l), hout = rc_rnn_hout(cfg);
  rc_param_tensor t;
  int vecs = 0;
  t.layer = l;
  t.dir = d;
  for (const rc_param_block *b = cfg->cell->blocks; b->name; b++) {
    t.vec_index = b->role == RC_VEC ? vecs++ : -1;
    if (b->with_bias && !cfg->bias) continue;
    t.name = b->name;
    t.role = b->role;
    t.init = b->init;
    t.rows = (size_t)b->size * H;
    t.cols = b->role == RC_W_IH ? in : b->role == RC_W_HH ? hout : 0;
    emit(&t, &at, visit, ud);
  }
  if (cfg->proj_size > 0) {
    t.name = "weight_hr";
    t.role = RC_W_HR;
    t.vec_index = -1;
    t.init = RC_INIT_UNIFORM;
    t.rows = (size_t)cfg->proj_size;
    t.cols = H;
    emit(&t, &at, visit, ud);
  }
  return at;
}

size_t rc_rnn_each_param(const rc_rnn_config *cfg, void (*visit)(void *ud, const rc_param_tensor *t),
                         void *ud) {
  size_t at = 0;
  for (int l = 0; l < cfg->num_layers; l++)
    for (int d = 0; d < rc_rnn_dirs(cfg); d++) at = each_direction_param(cfg, l, d, at, visit, ud);
  return at;
}

typedef struct layout_query {
  rc_rnn_params *out;
} layout_query;

static void record_offset(void *ud, const rc_param_tensor *t) {
  rc_rnn_params *p = ((layout_query *)ud)->out;
  switch (t->role) {
    case RC_W_IH: p->w_ih = t->offset; break;
    case RC_W_HH: p->w_hh = t->offset; break;
    case RC_B_IH: p->b_ih = t->offset; break;
    case RC_B_HH: p->b_hh = t->offset; break;
    case RC_W_HR: p->w_hr = t->offset; break;
    case RC_VEC: p->vec[t->vec_index] = t->offset; break;
  }
}

void rc_rnn_param_layout(const rc_rnn_config *cfg, int layer, int dir, rc_rnn_params *out) {
  /* every direction of layers >= 1 has the same size; the first layer's differs by its input */
  size_t D = rc_rnn_dirs(cfg), at = 0;
  if (layer > 0 || dir > 0) {
    size_t first = each_direction_param(cfg, 0, 0, 0, NULL, NULL);
    size_t other = layer > 0 ? each_direction_param(cfg, 1, 0, 0, NULL, NULL) : 0;
    at = layer == 0 ? first : D * first + ((size_t)(layer - 1) * D + dir) * other;
  }
  layout_query q;
  q.out = out;
  out->w_ih = out->w_hh = out->b_ih = out->b_hh = out->w_hr = RC_ABSENT;
  for (int k = 0; k < RC_CELL_MAX_VECS; k++) out->vec[k] = RC_ABSENT;
  each_direction_param(cfg, layer, dir, at, record_offset, &q);
}

typedef struct init_state {
  float *params, k;
  rc_rng *rng;
} init_state;

static void init_tensor(void *ud, const rc_param_tensor *t) {
  init_state *s = (init_state *)ud;
  float *p = s->params + t->offset;
  size_t n = t->rows * (t->cols ? t->cols : 1);
  for (size_t i = 0; i < n; i++)
    p[i] = t->init == RC_INIT_UNIFORM ? (2.0f * rc_rng_uniform_f(s->rng) - 1.0f) * s->k
                                      : (t->init == RC_INIT_ONES ? 1.0f : 0.0f);
}

void rc_rnn_init_params(const rc_rnn_config *cfg, float *params, rc_rng *rng) {
  init_state s;
  s.params = params;
  s.k = 1.0f / sqrtf((float)cfg->hidden_size);
  s.rng = rng;
  rc_rnn_each_param(cfg, init_tensor, &s);
}

/* ---- workspace layout ---------------------------------------------------- */

/* Every buffer starts on a 64-byte boundary (the workspace base is aligned). */
#define ALIGN_FLOATS 16

typedef struct carver {
  float *base; /* NULL: only count */
  size_t used;
} carver;

static float *carve(carver *c, size_t n) {
  float *p = c->base ? c->base + c->used : NULL;
  c->used += (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
  return n ? p : NULL;
}

/* One direction of one layer. States are kept in T+1 time slots: for the forward
 * direction slot t+1 holds the state after time t and slot 0 the initial state; for
 * the reverse direction slot t holds the state after time t and slot T the initial
 * state. Either way the previous states of times 0..T-1 are T contiguous slots. */
typedef struct dir_buffers {
  float *gates;  /* (T, B, G*H): what the cell keeps; gradients after backward */
  float *hh;     /* separate_hh: (T, B, G*H) h_prev W_hh^T + b_hh; its gradients after backward */
  float *ex;     /* (T, B, E): the cell's extra floats per row */
  float *h;      /* (T+1, B, Hout) */
  float *c;      /* cell state: (T+1, B, H) */
  float *m;      /* with projection: (T, B, H) the cell's output before projection */
  float *x;      /* input dropout: (T, B, in) this direction's masked input */
  float *x_mask; /* input dropout: (B, in) */
  float *hd;     /* recurrent dropout: (T, B, Hout) the masked h_prev of each time */
  float *h_mask; /* recurrent dropout: (B, Hout) */
} dir_buffers;

typedef struct layer_buffers {
  float *x;    /* (T, B, in): this layer's input, time-major */
  float *mask; /* dropout mask applied to x (layers > 0 with dropout), else NULL */
  dir_buffers dir[2];
} layer_buffers;

/* Backward's scratch for one direction at a time; a lane is a direction running beside
 * the other one (see "threads"), which needs scratch of its own. */
typedef struct lane_buffers {
  float *dhs;          /* with projection: (T, B, P) dL/dh per step */
  float *dh, *dh_prev; /* (B, Hout) */
  float *dc, *dm;      /* (B, H) */
  float *dh_masked;    /* recurrent dropout: (B, Hout) dL/d(masked h_prev) */
  float *dx_masked;    /* input dropout: (T, B, max input) dL/d(masked x) */
  float *sink;         /* largest VEC block: where the gradients of absent VEC blocks go */
} lane_buffers;

typedef struct shared_buffers {
  float *grad_a, *grad_b; /* (T, B, max width): gradients flowing between layers */
  float *grad_c;          /* two lanes: (T, B, max width) the reverse direction's dL/dx */
  float *zeros;           /* largest VEC block: what absent VEC blocks read */
  lane_buffers lane[2];
} shared_buffers;

static size_t extra_width(const rc_rnn_config *cfg) {
  return (size_t)cfg->cell->extra_h * cfg->hidden_size + cfg->cell->extra_fixed;
}

static void carve_lane(const rc_rnn_config *cfg, size_t T, size_t B, size_t in, carver *c, lane_buffers *s) {
  size_t H = cfg->hidden_size, hout = rc_rnn_hout(cfg);
  s->dhs = carve(c, cfg->proj_size > 0 ? T * B * cfg->proj_size : 0);
  s->dh = carve(c, B * hout);
  s->dh_prev = carve(c, B * hout);
  s->dc = carve(c, B * H);
  s->dm = carve(c, B * H);
  s->dh_masked = carve(c, cfg->recurrent_dropout > 0.0f ? B * hout : 0);
  s->dx_masked = carve(c, cfg->input_dropout > 0.0f ? T * B * in : 0);
  s->sink = carve(c, largest_vec(cfg));
}

static size_t widest_input(const rc_rnn_config *cfg) {
  size_t width = rc_rnn_dirs(cfg) * rc_rnn_hout(cfg);
  return width > (size_t)cfg->input_size ? width : (size_t)cfg->input_size;
}

/* Floats of each shared gradient buffer: (T, B, the widest input of any layer), or more
 * to hold W_hh packed (a pass packs it into a buffer it does not use: pack_w_hh) */
static size_t gradient_floats(const rc_rnn_config *cfg, size_t T, size_t B) {
  size_t n = T * B * widest_input(cfg);
  if (RC_PACKED_KERNELS && B >= 2) {
    int gh = (int)gate_width(cfg), hout = rc_rnn_hout(cfg);
    size_t forward = rc_packed_floats(hout, gh), backward = rc_packed_floats(gh, hout);
    size_t packed = forward > backward ? forward : backward;
    if (n < packed) n = packed;
  }
  return n;
}

static void carve_shared(const rc_rnn_config *cfg, size_t T, size_t B, int lanes, carver *c,
                         shared_buffers *s) {
  size_t n = gradient_floats(cfg, T, B);
  s->grad_a = carve(c, n);
  s->grad_b = carve(c, n);
  s->grad_c = carve(c, lanes > 1 ? n : 0);
  s->zeros = carve(c, largest_vec(cfg));
  for (int k = 0; k < lanes; k++) carve_lane(cfg, T, B, widest_input(cfg), c, &s->lane[k]);
}

static void carve_layer(const rc_rnn_config *cfg, size_t T, size_t B, int layer, carver *c,
                        layer_buffers *lb) {
  const rc_cell *cell = cfg->cell;
  size_t H = cfg->hidden_size, hout = rc_rnn_hout(cfg), gh = gate_width(cfg),
         in = rc_rnn_layer_input(cfg, layer);
  int x_drop = cfg->input_dropout > 0.0f, h_drop = cfg->recurrent_dropout > 0.0f;
  lb->x = carve(c, T * B * in);
  lb->mask = carve(c, layer > 0 && cfg->dropout > 0.0f ? T * B * in : 0);
  for (int d = 0; d < rc_rnn_dirs(cfg); d++) {
    dir_buffers *db = &lb->dir[d];
    db->gates = carve(c, T * B * gh);
    db->hh = carve(c, cell->separate_hh ? T * B * gh : 0);
    db->ex = carve(c, T * B * extra_width(cfg));
    db->h = carve(c, (T + 1) * B * hout);
    db->c = carve(c, cell->states == 2 ? (T + 1) * B * H : 0);
    db->m = carve(c, cfg->proj_size > 0 ? T * B * H : 0);
    db->x = carve(c, x_drop ? T * B * in : 0);
    db->x_mask = carve(c, x_drop ? B * in : 0);
    db->hd = carve(c, h_drop ? T * B * hout : 0);
    db->h_mask = carve(c, h_drop ? B * hout : 0);
  }
}

/* Walks the layout of a (T, B) workspace with `lanes` lanes; fills *s and the buffers of
 * layer `want` (when not NULL). */
static size_t layout(const rc_rnn_config *cfg, int T, int B, int lanes, float *base, shared_buffers *s,
                     int want, layer_buffers *lb) {
  carver c;
  shared_buffers s_tmp;
  layer_buffers l_tmp;
  c.base = base;
  c.used = 0;
  carve_shared(cfg, T, B, lanes, &c, s ? s : &s_tmp);
  for (int l = 0; l < cfg->num_layers; l++) carve_layer(cfg, T, B, l, &c, l == want && lb ? lb : &l_tmp);
  return c.used;
}

/* ---- small helpers ---------------------------------------------------------- */

/* c(rows x n) = a(rows x k) w(n x k)^T + beta c, a GEMV when rows == 1 */
static void rows_times_wt(int rows, int n, int k, const float *a, const float *w, float beta, float *c) {
  if (rows == 1)
    rc_gemv_n(n, k, 1.0f, w, k, a, beta, c);
  else
    rc_gemm_nt(rows, n, k, 1.0f, a, k, w, k, beta, c, n);
}

/* c(rows x n) = a(rows x k) w(k x n) + beta c, a GEMV when rows == 1 */
static void rows_times_w(int rows, int n, int k, const float *a, const float *w, float beta, float *c) {
  if (rows == 1)
    rc_gemv_t(k, n, 1.0f, w, n, a, beta, c);
  else
    rc_gemm_nn(rows, n, k, 1.0f, a, k, w, n, beta, c, n);
}

/* rows of width n set to b1 + b2, or with b1 + b2 added when accumulate; a NULL vector
 * is zeros */
static void bias_rows(size_t rows, size_t n, const float *b1, const float *b2, int accumulate, float *out) {
  if (!b1) b1 = b2, b2 = NULL;
  if (!b1 && accumulate) return;
  for (size_t r = 0; r < rows; r++, out += n) {
    if (!b1)
      memset(out, 0, n * sizeof(float));
    else if (!b2 && !accumulate)
      memcpy(out, b1, n * sizeof(float));
    else if (!b2)
      for (size_t j = 0; j < n; j++) out[j] += b1[j];
    else if (!accumulate)
      for (size_t j = 0; j < n; j++) out[j] = b1[j] + b2[j];
    else
      for (size_t j = 0; j < n; j++) out[j] += b1[j] + b2[j];
  }
}

/* out[j] += sum over rows of a[r][j], and out2[j] too when not NULL (the cells that add
 * b_ih and b_hh to the same gates have one gradient for both biases): the sums of a block of
 * columns are taken first, in a buffer that stays in L1, then added */
static void add_column_sums(size_t rows, size_t n, const float *a, float *out, float *out2) {
  enum { BLOCK = 2048 }; /* 8 KB: the gate rows of a layer up to H = 512 in one sweep */
  float sum[BLOCK];
  for (size_t j0 = 0; j0 < n; j0 += BLOCK) {
    size_t w = n - j0 < (size_t)BLOCK ? n - j0 : (size_t)BLOCK;
    memset(sum, 0, w * sizeof(float));
    for (size_t r = 0; r < rows; r++) {
      const float *row = a + r * n + j0;
      for (size_t j = 0; j < w; j++) sum[j] += row[j];
    }
    for (size_t j = 0; j < w; j++) out[j0 + j] += sum[j];
    if (out2)
      for (size_t j = 0; j < w; j++) out2[j0 + j] += sum[j];
  }
}

/* out = a * mask (or out += a * mask) for rows of width n, the mask row of row r being
 * mask[r % mask_rows]: a (T, B, n) buffer against a (B, n) mask */
static void mask_rows(size_t rows, size_t n, const float *a, const float *mask, size_t mask_rows,
                      int accumulate, float *out) {
  for (size_t r = 0; r < rows; r++, a += n, out += n) {
    const float *RC_RESTRICT m = mask + (r % mask_rows) * n;
    if (accumulate)
      for (size_t j = 0; j < n; j++) out[j] += a[j] * m[j];
    else
      for (size_t j = 0; j < n; j++) out[j] = a[j] * m[j];
  }
}

/* row index of (t, b) in a (T, B, .) or, batch-first, (B, T, .) buffer */
static size_t row_of(int t, int b, int T, int B, int batch_first) {
  return batch_first ? (size_t)b * T + t : (size_t)t * B + b;
}

/* Rows b0.. of a (T, B, stride) or (B, T, stride) buffer (the caller's tensor, or a
 * time-major buffer of the workspace), addressed from column col. */
typedef struct row_block {
  float *data;
  int stride, col, batch_first;
  int b0, B;
} row_block;

/* a time-major (T, B, stride) buffer of the workspace */
static row_block time_major(float *data, int stride, int col, int B) {
  row_block r;
  r.data = data;
  r.stride = stride;
  r.col = col;
  r.batch_first = 0;
  r.b0 = 0;
  r.B = B;
  return r;
}

/* rows b0..b0+n of the caller's (T, B, stride) tensor, or (B, T, stride) when batch_first
 * (read-only when it is an input) */
static row_block caller_rows(const float *data, int stride, int batch_first, int b0, int B) {
  row_block r = time_major((float *)(uintptr_t)data, stride, 0, B);
  r.batch_first = batch_first;
  r.b0 = b0;
  return r;
}

/* row b takes part in time t (see "variable lengths" below) */
static int is_active(const int *lengths, int b, int t) { return !lengths || lengths[b] > t; }

/* writes the B contiguous rows of `width` floats of time t into dst; rows whose
 * sequence has ended get zeros */
static void put_step(int t, int T, int B, int width, const float *src, const int *lengths, row_block dst) {
  for (int b = 0; b < B; b++) {
    float *d = dst.data + row_of(t, dst.b0 + b, T, dst.B, dst.batch_first) * dst.stride + dst.col;
    if (is_active(lengths, b, t))
      memcpy(d, src + (size_t)b * width, (size_t)width * sizeof(float));
    else
      memset(d, 0, (size_t)width * sizeof(float));
  }
}

/* copies B rows of `width` floats at every time from src to dst */
static void copy_all_rows(int T, int B, int width, row_block src, row_block dst) {
  for (int t = 0; t < T; t++)
    for (int b = 0; b < B; b++)
      memcpy(dst.data + row_of(t, dst.b0 + b, T, dst.B, dst.batch_first) * dst.stride + dst.col,
             src.data + row_of(t, src.b0 + b, T, src.B, src.batch_first) * src.stride + src.col,
             (size_t)width * sizeof(float));
}

static void copy_or_zero(float *dst, const float *src, size_t n) {
  if (src)
    memcpy(dst, src, n * sizeof(float));
  else
    memset(dst, 0, n * sizeof(float));
}

/* ---- time steps ---------------------------------------------------------------- */

typedef struct step_slots {
  int prev, next;
} step_slots;

/* time of processing step s, and its state slots (see dir_buffers) */
static int time_of_step(int s, int T, int dir) { return dir ? T - 1 - s : s; }

static step_slots slots_of_time(int t, int dir) {
  step_slots sl;
  sl.prev = dir ? t + 1 : t;
  sl.next = dir ? t : t + 1;
  return sl;
}

typedef struct dir_context {
  const rc_rnn_config *cfg;
  const rc_cell *cell;
  int T, B, in, H, hout, gh, E, dir;
  const int *lengths; /* NULL: every sequence has T steps */
  int masked;         /* training with variational dropout: the dir_buffers' masks apply */
  int h_in_output;    /* inference: h may live in the output itself (direct_output) */
  rc_rnn_params p;
  const float *vec[RC_CELL_MAX_VECS]; /* the cell's vectors (zeros where absent) */
  float *dvec[RC_CELL_MAX_VECS];      /* their gradients (a scratch sink where absent) */
  const rc_packed_kernel *pk;         /* with w_hh_packed: the steps' products with W_hh */
  const float *w_hh_packed;           /* W_hh packed for this pass (packed.h), or NULL: the BLAS */
} dir_context;

static const float *param_or_null(const float *params, size_t off) {
  return off == RC_ABSENT ? NULL : params + off;
}

static dir_context make_context(const rc_rnn_config *cfg, const rc_rnn_io *io, int layer, int dir,
                                const float *params, float *grads, const shared_buffers *s, int lane) {
  dir_context cx;
  cx.cfg = cfg;
  cx.cell = cfg->cell;
  cx.T = io->T;
  cx.B = io->B;
  cx.in = rc_rnn_layer_input(cfg, layer);
  cx.H = cfg->hidden_size;
  cx.hout = rc_rnn_hout(cfg);
  cx.gh = (int)gate_width(cfg);
  cx.E = (int)extra_width(cfg);
  cx.dir = dir;
  cx.lengths = io->lengths;
  cx.masked = io->training;
  cx.h_in_output = 0;
  rc_rnn_param_layout(cfg, layer, dir, &cx.p);
  for (int k = 0; k < RC_CELL_MAX_VECS; k++) { /* absent blocks (no bias) read zeros */
    int absent = cx.p.vec[k] == RC_ABSENT;
    cx.vec[k] = absent ? s->zeros : params + cx.p.vec[k];
    cx.dvec[k] = absent || !grads ? s->lane[lane].sink : grads + cx.p.vec[k];
  }
  cx.pk = NULL;
  cx.w_hh_packed = NULL;
  return cx;
}

/* ---- variable lengths ----------------------------------------------------------
 * Row b takes part in time t when t < lengths[b]. Rows past their end keep their
 * state (so hn is the state at the last valid step, and the reverse direction
 * starts from h0 at each row's own last step), output zeros, and get no gradient,
 * like PyTorch's packed sequences. */

/* the rows [0, n) hold every active row of time t (all of them when sorted by length) */
static int active_prefix(const dir_context *cx, int t) {
  if (!cx->lengths) return cx->B;
  int n = cx->B;
  while (n > 0 && !is_active(cx->lengths, n - 1, t)) n--;
  return n;
}

/* the next run of active rows at or after *b0 below `end`: moves *b0 to its start and
 * returns its length, 0 when there is none */
static int next_run(const dir_context *cx, int t, int end, int *b0) {
  while (*b0 < end && !is_active(cx->lengths, *b0, t)) (*b0)++;
  int b1 = *b0;
  while (b1 < end && is_active(cx->lengths, b1, t)) b1++;
  return b1 - *b0;
}

/* runs a row kernel over the active rows [0, rows) of time t */
static void each_run(const dir_context *cx, int t, int rows, rc_cell_rows kernel, const rc_cell_step *st) {
  int b0 = 0, n;
  while ((n = next_run(cx, t, rows, &b0)) > 0) {
    kernel(st, b0, n);
    b0 += n;
  }
}

/* sets the rows of time t that are not active to `value` rows (or zero when NULL) */
static void set_inactive_rows(const dir_context *cx, int t, int width, float *rows, const float *value) {
  if (!cx->lengths) return;
  for (int b = 0; b < cx->B; b++) {
    if (is_active(cx->lengths, b, t)) continue;
    float *r = rows + (size_t)b * width;
    if (value)
      memcpy(r, value + (size_t)b * width, (size_t)width * sizeof(float));
    else
      memset(r, 0, (size_t)width * sizeof(float));
  }
}

/* ---- variational dropout -------------------------------------------------------
 * Gal & Ghahramani 2016: one mask per sequence (batch row), layer and direction, the same
 * at every time step, on x_t where it meets W_ih and on h_{t-1} where it meets W_hh (the
 * carried states themselves are not masked). Inverted: kept values are scaled by 1/(1-p). */

/* the input the projection sees at times [t0, t1): x, or x with this direction's mask
 * (written for those times only) */
static const float *direction_input(const dir_context *cx, const dir_buffers *db, const float *x, int t0,
                                    int t1) {
  if (!cx->masked || !db->x_mask) return x;
  size_t at = (size_t)t0 * cx->B * cx->in;
  mask_rows((size_t)(t1 - t0) * cx->B, cx->in, x + at, db->x_mask, cx->B, 0, db->x + at);
  return db->x;
}

/* Where a direction's weights are packed for recur's packed kernel: floats free for its
 * whole pass. The kernel is used when the CPU has one and there are rows enough for a
 * product (B >= 2: one row takes a GEMV, which reads W_hh once anyway). */
typedef struct packing {
  const rc_packed_kernel *pk; /* NULL: the BLAS does every product */
  float *scratch;
  size_t floats;
} packing;

static packing packing_in(const rc_packed_kernel *pk, int B, float *scratch, size_t floats) {
  packing p = {B >= 2 ? pk : NULL, scratch, floats};
  return p;
}

/* the scratch, when the kernel is used and a (k x n) operand packed fits in it; else NULL */
static float *packing_room(const packing *pack, int k, int n) {
  return pack && pack->pk && rc_packed_floats(k, n) <= pack->floats ? pack->scratch : NULL;
}

/* Packs W_hh into the scratch for the steps of a direction, W_hh^T for the forward's
 * h W_hh^T, W_hh for the backward's d W_hh, when it fits */
static void pack_w_hh(dir_context *cx, const packing *pack, const float *params, int transposed) {
  const float *w_hh = params + cx->p.w_hh;
  float *panels = packing_room(pack, transposed ? cx->hout : cx->gh, transposed ? cx->gh : cx->hout);
  if (!panels) return;
  if (transposed)
    pack->pk->pack_transposed(cx->gh, cx->hout, w_hh, panels);
  else
    pack->pk->pack(cx->gh, cx->hout, w_hh, panels);
  cx->pk = pack->pk;
  cx->w_hh_packed = panels;
}

/* A step's recurrent projection into hh (rows x gh): hh = h W_hh^T + b_hh for the cells
 * that keep it apart (separate_hh), else hh += h W_hh^T + b_ih + b_hh (hh is then the
 * gates, which hold x W_ih^T: input_projection leaves the biases to this product, so
 * that they are added where the gates are in cache, or inside recur's packed product).
 * The packed product also fetches the step's gates, g, when they are apart from hh. */
static void recurrent_projection(const dir_context *cx, const float *params, int rows, const float *h,
                                 float *hh, const float *g) {
  int separate = cx->cell->separate_hh;
  const float *b_ih = separate ? NULL : param_or_null(params, cx->p.b_ih);
  const float *b_hh = param_or_null(params, cx->p.b_hh);
  if (cx->w_hh_packed) {
    rc_packed_out out = {hh, cx->gh, !separate, b_ih, b_hh, separate ? g : NULL, (size_t)rows * cx->gh};
    cx->pk->gemm(rows, cx->gh, cx->hout, h, cx->hout, cx->w_hh_packed, &out);
    return;
  }
  bias_rows(rows, cx->gh, b_ih, b_hh, !separate, hh);
  rows_times_wt(rows, cx->gh, cx->hout, h, params + cx->p.w_hh, 1.0f, hh);
}

/* out(rows x hout) = d(rows x gh) W_hh + beta out, beta 0 or 1; the packed product also
 * fetches `warm` (B x gh floats, or NULL): the gates the next step backward reads */
static void times_w_hh(const dir_context *cx, const float *params, int rows, const float *d, float beta,
                       float *out, const float *warm) {
  if (!cx->w_hh_packed) {
    rows_times_w(rows, cx->hout, cx->gh, d, params + cx->p.w_hh, beta, out);
    return;
  }
  rc_packed_out o = {out, cx->hout, beta != 0.0f, NULL, NULL, warm, (size_t)cx->B * cx->gh};
  cx->pk->gemm(rows, cx->hout, cx->gh, d, cx->gh, cx->w_hh_packed, &o);
}

/* ---- forward ------------------------------------------------------------------- */

/* x W_ih^T for the rows of times [t0, t1) at once, plus b_ih for the cells that keep the
 * recurrent projection apart (the others get their biases in recurrent_projection). With
 * `pack` (a whole sequence, see packing) and room in its scratch, W_ih is packed there and
 * the product is recur's, b_ih its tiles' first value; W_hh takes the scratch after it.
 * Alone, on a Zen 4 core, OpenBLAS ran this GEMM (3200 x 2048 x 512) at 88-102 GFLOP/s and
 * the packed kernel at 104-107; filling b_ih before the BLAS's product took 3% of a GRU
 * forward (B=64 H=256). */
static void input_projection(const dir_context *cx, const float *params, const float *x, float *gates, int t0,
                             int t1, const packing *pack) {
  const float *b_ih = cx->cell->separate_hh ? param_or_null(params, cx->p.b_ih) : NULL;
  int rows = (t1 - t0) * cx->B;
  size_t row0 = (size_t)t0 * cx->B;
  float *panels = packing_room(pack, cx->in, cx->gh);
  if (panels) {
    rc_packed_out out = {gates + row0 * cx->gh, cx->gh, 0, b_ih, NULL, NULL, 0};
    pack->pk->pack_transposed(cx->gh, cx->in, params + cx->p.w_ih, panels);
    pack->pk->gemm(rows, cx->gh, cx->in, x + row0 * cx->in, cx->in, panels, &out);
    return;
  }
  if (b_ih) bias_rows(rows, cx->gh, b_ih, NULL, 0, gates + row0 * cx->gh);
  rows_times_wt(rows, cx->gh, cx->in, x + row0 * cx->in, params + cx->p.w_ih, b_ih ? 1.0f : 0.0f,
                gates + row0 * cx->gh);
}

/* the buffers of time t */
typedef struct step_view {
  rc_cell_step cell;   /* g, hh, ex, h_prev, h (the cell's output), c_prev, c */
  const float *h_prev; /* (B, Hout) */
  float *h;            /* (B, Hout) */
  float *hd;           /* recurrent dropout: (B, Hout) the masked h_prev, else NULL */
} step_view;

/* the buffers of time t; with `direct` (direct_output) h is its rows of time t and h_prev
 * those of time t-1, or the initial state at t = 0 */
static step_view view_of_step(const dir_context *cx, dir_buffers *db, int t, float *direct) {
  size_t B = cx->B;
  step_slots sl = slots_of_time(t, cx->dir);
  step_view v;
  v.cell.H = cx->H;
  v.cell.vec = cx->vec;
  v.cell.dvec = cx->dvec;
  v.cell.dh = v.cell.dc = v.cell.dh_prev = NULL;
  v.cell.g = db->gates + t * B * cx->gh;
  v.cell.hh = db->hh ? db->hh + t * B * cx->gh : v.cell.g;
  v.cell.ex = db->ex ? db->ex + t * B * cx->E : NULL;
  v.h_prev = db->h + sl.prev * B * cx->hout;
  v.h = db->h + sl.next * B * cx->hout;
  if (direct) {
    v.h = direct + t * B * cx->hout;
    if (t > 0) v.h_prev = direct + (t - 1) * B * cx->hout;
  }
  v.cell.h_prev = v.h_prev;
  v.cell.h = db->m ? db->m + t * B * cx->H : v.h;
  v.cell.c_prev = db->c ? db->c + sl.prev * B * cx->H : NULL;
  v.cell.c = db->c ? db->c + sl.next * B * cx->H : NULL;
  v.hd = cx->masked && db->hd ? db->hd + t * B * cx->hout : NULL;
  return v;
}

/* one time step: the gates of time t already hold the input projection */
static void step_forward(const dir_context *cx, const float *params, dir_buffers *db, int t, float *direct) {
  step_view v = view_of_step(cx, db, t, direct);
  int rows = active_prefix(cx, t);
  const float *h_in = v.h_prev;
  if (v.hd) { /* every row, so that backward's GEMM over all steps reads no stale rows */
    mask_rows(cx->B, cx->hout, v.h_prev, db->h_mask, cx->B, 0, v.hd);
    h_in = v.hd;
  }
  recurrent_projection(cx, params, rows, h_in, v.cell.hh, v.cell.g);
  each_run(cx, t, rows, cx->cell->forward, &v.cell);
  if (db->m) { /* h = m W_hr^T */
    set_inactive_rows(cx, t, cx->H, v.cell.h, NULL);
    rows_times_wt(rows, cx->hout, cx->H, v.cell.h, params + cx->p.w_hr, 0.0f, v.h);
  }
  set_inactive_rows(cx, t, cx->hout, v.h, v.h_prev);
  if (v.cell.c) set_inactive_rows(cx, t, cx->H, v.cell.c, v.cell.c_prev);
}

/* ---- inference ---------------------------------------------------------------------
 * A forward that keeps nothing for backward (rc_rnn_io.inference) skips two copies where
 * the layout allows: layer 0 reads the caller's x in place (forward_input), and a
 * unidirectional layer writes each step's h straight into its output, reading h_prev back
 * from there (direct_output). Same floats either way. */

/* out's rows when they can hold h itself: the B rows of a time one after the other and
 * nothing to zero (no lengths); else NULL */
static float *direct_output(const dir_context *cx, row_block out) {
  int contiguous = !out.batch_first && out.stride == cx->hout && out.b0 == 0 && out.B == cx->B;
  return cx->h_in_output && !cx->lengths && contiguous && out.col == 0 ? out.data : NULL;
}

/* steps [s0, s1) of a direction (step s is time s, or T-1-s in reverse): the first step
 * takes h0 and c0, the last gives hn and cn; `pack` (NULL: the BLAS) packs the weights
 * for a whole sequence, W_ih and then W_hh in the same scratch */
static void direction_forward(dir_context *cx, const packing *pack, const float *params, const float *x,
                              dir_buffers *db, const float *h0, const float *c0, row_block out, float *hn,
                              float *cn, int s0, int s1) {
  int T = cx->T, B = cx->B, first = cx->dir ? T : 0, last = cx->dir ? 0 : T;
  int t0 = cx->dir ? T - s1 : s0, t1 = cx->dir ? T - s0 : s1; /* the times of these steps */
  input_projection(cx, params, direction_input(cx, db, x, t0, t1), db->gates, t0, t1, pack);
  pack_w_hh(cx, pack, params, 1);
  if (s0 == 0) {
    copy_or_zero(db->h + (size_t)first * B * cx->hout, h0, (size_t)B * cx->hout);
    if (db->c) copy_or_zero(db->c + (size_t)first * B * cx->H, c0, (size_t)B * cx->H);
  }
  float *direct = direct_output(cx, out);
  for (int s = s0; s < s1; s++) {
    int t = time_of_step(s, T, cx->dir);
    step_forward(cx, params, db, t, direct);
    if (!direct)
      put_step(t, T, B, cx->hout, db->h + (size_t)slots_of_time(t, cx->dir).next * B * cx->hout, cx->lengths,
               out);
  }
  if (s1 < T) return;
  memcpy(hn, direct ? direct + (size_t)(T - 1) * B * cx->hout : db->h + (size_t)last * B * cx->hout,
         (size_t)B * cx->hout * sizeof(float));
  if (db->c && cn) memcpy(cn, db->c + (size_t)last * B * cx->H, (size_t)B * cx->H * sizeof(float));
}

/* ---- threads --------------------------------------------------------------------
 * A call runs as row groups: group g runs rows [row0[g], row0[g+1]) of the whole stack,
 * every layer and time step, in a workspace of its own laid out for its rows (the rows of
 * a batch never meet, so groups need no synchronisation). With two lanes, the two
 * directions of a bidirectional layer run at the same time, and each layer waits for both
 * directions of the layer below. A phase is a set of such tasks; the pool runs a phase's
 * tasks on its threads, or the caller runs them one after the other.
 *
 * Parameter gradients: group 0 adds into grads, every other group into a private copy
 * (after the groups' workspaces), added to grads in group order at the end. The split
 * depends only on the thread count (and the lengths), never on how many workers actually
 * run, so a given n always gives the same bits. Results differ from n = 1 only by float
 * rounding: the weight gradients' sums over the T*B rows are added in another order, and
 * the reverse direction's dL/dx is added to the forward one's after its GEMM instead of
 * inside it. Dropout masks are drawn before the split, in the order of n = 1, so they
 * never depend on n. */

typedef struct plan {
  int threads, groups, lanes;
  int wave_steps; /* forward as a wavefront over the layers, in chunks of this many steps; 0: not */
  int row0[RC_POOL_MAX_THREADS + 1];
} plan;

/* time steps of row b: its cost */
static int row_steps(const rc_rnn_io *io, int b) { return io->lengths ? io->lengths[b] : io->T; }

/* group boundaries: each group gets an equal share of the time steps (of the rows, without
 * lengths), and at least one row */
static void split_rows(const rc_rnn_io *io, plan *p) {
  int G = p->groups, B = io->B, r = 0;
  long long total = 0, done = 0; /* done: the steps of rows [0, r) */
  for (int b = 0; b < B; b++) total += row_steps(io, b);
  p->row0[0] = 0;
  for (int g = 1; g < G; g++) {
    int last = B - (G - g); /* leaves a row to each later group */
    do done += row_steps(io, r++);
    while (r < last && done * G < total * g);
    p->row0[g] = r;
  }
  p->row0[G] = B;
}

/* Rows a group needs for a split to pay: each group packs W_hh for itself (with the BLAS,
 * at every step; with recur's packed kernel, once per call), so smaller groups repeat that
 * work. Measured with the BLAS (LSTM H=256, 2 threads): 2
 * groups of 2 rows took 1.86x the CPU time of 1 thread for a 1.1x shorter critical path,
 * 2 groups of 4 rows 1.4x for 1.3-1.5x, 2 groups of 32 rows 1.1x for 1.7x
 * (bench/threads.lua's method). */
#define MIN_GROUP_ROWS 4

/* The wavefront (forward only): a unidirectional stack whose batch is too small to split
 * runs task l = layer l in chunks of time steps, chunk k as soon as layer l-1 has finished
 * its chunk k (whose outputs are layer l's inputs), so that on two threads layer l works
 * on chunk k while layer l-1 works on chunk k+1. Each chunk's input projection is one GEMM
 * over its rows, which repacks W_ih: chunks have at least WAVE_ROWS rows, and there are at
 * most WAVE_CHUNKS of them. Measured with bench/threads.lua (2 threads against 1, T=50,
 * medians of 7 rounds): 2 LSTM layers H=256 1.34x at B=1 and 1.41x at B=4, H=512
 * B=4 1.37x, 3 GRU layers H=256 B=2 1.18x; 8 or 16 chunks gained less at H=512 (0.95-1.20x),
 * where two layers' GEMMs at once contend for memory. */
#define WAVE_ROWS 16
#define WAVE_CHUNKS 4
#define WAVE_MAX_LAYERS 64 /* the progress counters' room; deeper stacks run layer by layer */

static int wave_steps(const rc_rnn_config *cfg, const rc_rnn_io *io, const plan *p) {
  if (p->threads < 2 || p->groups > 1 || cfg->bidirectional || cfg->num_layers < 2 ||
      cfg->num_layers > WAVE_MAX_LAYERS)
    return 0;
  int T = io->T, steps = (T + WAVE_CHUNKS - 1) / WAVE_CHUNKS, for_rows = (WAVE_ROWS + io->B - 1) / io->B;
  if (steps < for_rows) steps = for_rows;
  return steps < T ? steps : 0;
}

static plan plan_for(const rc_rnn_config *cfg, const rc_rnn_io *io, int threads) {
  plan p;
  p.threads = threads < 1 ? 1 : threads > RC_POOL_MAX_THREADS ? RC_POOL_MAX_THREADS : threads;
  p.lanes = rc_rnn_dirs(cfg) == 2 && p.threads >= 2 ? 2 : 1;
  p.groups = p.threads / p.lanes < io->B / MIN_GROUP_ROWS ? p.threads / p.lanes : io->B / MIN_GROUP_ROWS;
  if (p.groups < 1) p.groups = 1;
  split_rows(io, &p);
  p.wave_steps = wave_steps(cfg, io, &p);
  return p;
}

static size_t group_size(const rc_rnn_config *cfg, const plan *p, int T, int g) {
  return layout(cfg, T, p->row0[g + 1] - p->row0[g], p->lanes, NULL, NULL, -1, NULL);
}

/* floats of one private copy of the parameter gradients */
static size_t grads_size(const rc_rnn_config *cfg) {
  carver c;
  c.base = NULL;
  c.used = 0;
  carve(&c, rc_rnn_each_param(cfg, NULL, NULL));
  return c.used;
}

static size_t plan_size(const rc_rnn_config *cfg, const plan *p, int T) {
  size_t n = (size_t)(p->groups - 1) * grads_size(cfg);
  for (int g = 0; g < p->groups; g++) n += group_size(cfg, p, T, g);
  return n;
}

size_t rc_rnn_workspace_size(const rc_rnn_config *cfg, int T, int B) {
  return layout(cfg, T, B, 1, NULL, NULL, -1, NULL);
}

size_t rc_rnn_workspace_size_on(const rc_rnn_config *cfg, const rc_rnn_io *io, int threads) {
  plan p = plan_for(cfg, io, threads);
  return plan_size(cfg, &p, io->T);
}

/* one forward or backward call */
typedef struct call {
  const rc_rnn_config *cfg;
  const rc_rnn_io *io;
  plan pl;
  rc_pool *pool; /* NULL: the caller runs every task */
  const float *params;
  float *grads, *ws;
  const float *x, *h0, *c0; /* forward */
  float *y, *hn, *cn;
  const float *gy, *ghn, *gcn; /* backward */
  float *dx, *dh0, *dc0;
  const rc_packed_kernel *pk;     /* NULL: the steps' products go to the BLAS too */
  int layer;                      /* the layer of a phase that runs one layer */
  int wave_done[WAVE_MAX_LAYERS]; /* the wavefront: chunks each layer has finished */
} call;

static call new_call(const rc_rnn_config *cfg, const rc_rnn_io *io, int threads, rc_pool *pool,
                     const float *params, float *grads, float *ws) {
  call c;
  memset(&c, 0, sizeof c);
  c.cfg = cfg;
  c.io = io;
  c.pl = plan_for(cfg, io, threads);
  c.pool = pool;
  c.params = params;
  c.grads = grads;
  c.ws = ws;
  /* the packed product runs on the calling thread: a BLAS on several threads is faster */
  c.pk = rc_blas_get_threads() == 1 ? rc_packed_kernel_for_cpu() : NULL;
  return c;
}

/* a group's rows and buffers */
typedef struct group {
  rc_rnn_io io; /* B: its row count; lengths from its first row */
  int b0;       /* its first row in the caller's tensors */
  float *ws;    /* its workspace */
  float *grads; /* where its parameter gradients go */
} group;

static group group_of(const call *c, int g) {
  group gr;
  size_t at = 0;
  for (int k = 0; k < g; k++) at += group_size(c->cfg, &c->pl, c->io->T, k);
  gr.b0 = c->pl.row0[g];
  gr.io = *c->io;
  gr.io.B = c->pl.row0[g + 1] - gr.b0;
  gr.io.lengths = c->io->lengths ? c->io->lengths + gr.b0 : NULL;
  gr.ws = c->ws + at;
  gr.grads = c->grads;
  if (g > 0 && c->grads) {
    for (int k = g; k < c->pl.groups; k++) at += group_size(c->cfg, &c->pl, c->io->T, k);
    gr.grads = c->ws + at + (size_t)(g - 1) * grads_size(c->cfg);
  }
  return gr;
}

/* layer l's buffers in group gr's workspace (and the shared ones when s is not NULL) */
static void group_layer(const call *c, const group *gr, int l, shared_buffers *s, layer_buffers *lb) {
  layout(c->cfg, gr->io.T, gr->io.B, c->pl.lanes, gr->ws, s, l, lb);
}

/* offset of group gr's rows of layer-direction k in a (L*D, B, width) state tensor */
static size_t state_at(const call *c, const group *gr, size_t k, int width) {
  return (k * c->io->B + gr->b0) * width;
}

static void run_phase(call *c, int tasks, rc_pool_task task) {
  if (c->pool)
    rc_pool_run(c->pool, tasks, task, c);
  else
    for (int i = 0; i < tasks; i++) task(c, i);
}

/* ---- dropout masks ----------------------------------------------------------------
 * Drawn before any group runs, in the order of a single group: every layer's and
 * direction's variational masks (input mask first), then the dropout masks between layers
 * in time-major order; each group's rows go into its own buffers. */

static void draw_masks(const call *c, rc_rng *dropout_rng, rc_rng *variational_rng) {
  const rc_rnn_config *cfg = c->cfg;
  int D = rc_rnn_dirs(cfg), hout = rc_rnn_hout(cfg);
  layer_buffers lb;
  for (int l = 0; l < cfg->num_layers; l++)
    for (int d = 0; d < D; d++)
      for (int recurrent = 0; recurrent < 2; recurrent++)
        for (int g = 0; g < c->pl.groups; g++) {
          group gr = group_of(c, g);
          group_layer(c, &gr, l, NULL, &lb);
          float *mask = recurrent ? lb.dir[d].h_mask : lb.dir[d].x_mask;
          size_t n = (size_t)gr.io.B * (recurrent ? hout : rc_rnn_layer_input(cfg, l));
          if (mask)
            rc_dropout_mask(n, recurrent ? cfg->recurrent_dropout : cfg->input_dropout, variational_rng,
                            mask);
        }
  if (cfg->dropout == 0.0f) return;
  for (int l = 1; l < cfg->num_layers; l++)
    for (int t = 0; t < c->io->T; t++)
      for (int g = 0; g < c->pl.groups; g++) {
        group gr = group_of(c, g);
        size_t n = (size_t)gr.io.B * D * hout;
        group_layer(c, &gr, l, NULL, &lb);
        rc_dropout_mask(n, cfg->dropout, dropout_rng, lb.mask + (size_t)t * n);
      }
}

/* x(rows, stride) columns [col, col + n) *= the same elements of mask */
static void mask_columns(size_t rows, size_t stride, size_t col, size_t n, const float *mask, float *x) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = col; j < col + n; j++) x[r * stride + j] *= mask[r * stride + j];
}

/* ---- forward driver ------------------------------------------------------------------ */

/* the caller's (T, B, .) tensors have the layout of group gr's workspace buffers: time-major,
 * and gr holds every row of the call */
static int caller_layout(const call *c, const group *gr) {
  return !c->io->batch_first && gr->io.B == c->io->B;
}

/* The input of layer l: its workspace buffer, or at layer 0 in inference the caller's x
 * when it has the workspace's layout and no padding (see "inference"); backward needs a
 * copy the caller cannot change. */
static const float *forward_input(const call *c, const group *gr, int l, const layer_buffers *lb) {
  int in_place = c->io->inference && !c->io->lengths && caller_layout(c, gr);
  return l == 0 && in_place ? c->x : lb->x;
}

/* group gr's rows of x into its layer-0 input (padding zeroed), and its zeros block */
static void forward_prepare(const call *c, const group *gr) {
  int T = gr->io.T, B = gr->io.B, in = c->cfg->input_size;
  shared_buffers s;
  layer_buffers lb;
  group_layer(c, gr, 0, &s, &lb);
  if (s.zeros) memset(s.zeros, 0, largest_vec(c->cfg) * sizeof(float));
  if (forward_input(c, gr, 0, &lb) != lb.x) return;
  copy_all_rows(T, B, in, caller_rows(c->x, in, c->io->batch_first, gr->b0, c->io->B),
                time_major(lb.x, in, 0, B));
  if (gr->io.lengths) /* padding never reaches the maths, even if it holds NaN */
    for (int t = 0; t < T; t++)
      for (int b = 0; b < B; b++)
        if (!is_active(gr->io.lengths, b, t))
          memset(lb.x + ((size_t)t * B + b) * in, 0, (size_t)in * sizeof(float));
}

/* steps [s0, s1) of layer l of group gr: the directions of lane `lane`, each followed by
 * the dropout mask on the columns of the next layer's input it wrote (unidirectional when
 * the steps are not all of them) */
static void forward_layer_steps(const call *c, const group *gr, int l, int lane, int s0, int s1) {
  const rc_rnn_config *cfg = c->cfg;
  int B = gr->io.B, D = rc_rnn_dirs(cfg), hout = rc_rnn_hout(cfg), H = cfg->hidden_size;
  int top = l + 1 == cfg->num_layers;
  shared_buffers s;
  layer_buffers lb, next;
  group_layer(c, gr, l, &s, &lb);
  row_block out = caller_rows(c->y, D * hout, c->io->batch_first, gr->b0, c->io->B);
  if (!top) {
    group_layer(c, gr, l + 1, NULL, &next);
    out = time_major(next.x, D * hout, 0, B);
  }
  int masks_next = !top && next.mask && gr->io.training; /* dropout between the layers */
  for (int d = lane; d < D; d += c->pl.lanes) {
    size_t k = (size_t)l * D + d, h_at = state_at(c, gr, k, hout), c_at = state_at(c, gr, k, H);
    dir_context cx = make_context(cfg, &gr->io, l, d, c->params, NULL, &s, lane);
    cx.h_in_output = c->io->inference && !masks_next; /* the mask would reach later steps' h_prev */
    /* not in a wavefront's chunk: its layers run at once */
    int whole = s0 == 0 && s1 == gr->io.T;
    packing pack = packing_in(c->pk, B, lane ? s.grad_b : s.grad_a, gradient_floats(cfg, gr->io.T, B));
    out.col = d * hout;
    direction_forward(&cx, whole ? &pack : NULL, c->params, forward_input(c, gr, l, &lb), &lb.dir[d],
                      c->h0 ? c->h0 + h_at : NULL, c->c0 ? c->c0 + c_at : NULL, out, c->hn + h_at,
                      c->cn ? c->cn + c_at : NULL, s0, s1);
    size_t at = (size_t)s0 * B * D * hout;
    if (masks_next)
      mask_columns((size_t)(s1 - s0) * B, (size_t)D * hout, (size_t)d * hout, hout, next.mask + at,
                   next.x + at);
  }
}

static void forward_layer(const call *c, const group *gr, int l, int lane) {
  forward_layer_steps(c, gr, l, lane, 0, gr->io.T);
}

/* one lane: a group's whole stack */
static void forward_group_task(void *ctx, int g) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, g);
  forward_prepare(c, &gr);
  for (int l = 0; l < c->cfg->num_layers; l++) forward_layer(c, &gr, l, 0);
}

static void forward_prepare_task(void *ctx, int g) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, g);
  forward_prepare(c, &gr);
}

/* two lanes: task i runs lane i % 2 of group i / 2 in layer c->layer */
static void forward_layer_task(void *ctx, int i) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, i / 2);
  forward_layer(c, &gr, c->layer, i % 2);
}

/* the wavefront: task l runs layer l chunk by chunk, each after layer l-1's */
static void forward_wave_task(void *ctx, int l) {
  call *c = (call *)ctx;
  group gr = group_of(c, 0);
  int T = gr.io.T, steps = c->pl.wave_steps;
  if (l == 0) forward_prepare(c, &gr);
  for (int k = 0; k * steps < T; k++) {
    int s1 = (k + 1) * steps < T ? (k + 1) * steps : T;
    if (l > 0 && c->pool) rc_pool_wait(c->pool, &c->wave_done[l - 1], k + 1);
    forward_layer_steps(c, &gr, l, 0, k * steps, s1);
    if (c->pool) rc_pool_publish(c->pool, &c->wave_done[l], k + 1);
  }
}

void rc_rnn_forward_on(const rc_rnn_config *cfg, int threads, rc_pool *pool, const float *params, float *ws,
                       const rc_rnn_io *io, const float *x, const float *h0, const float *c0,
                       rc_rng *dropout_rng, rc_rng *variational_rng, float *y, float *hn, float *cn) {
  call c = new_call(cfg, io, threads, pool, params, NULL, ws);
  c.x = x;
  c.h0 = h0;
  c.c0 = c0;
  c.y = y;
  c.hn = hn;
  c.cn = cn;
  if (io->training) draw_masks(&c, dropout_rng, variational_rng);
  if (c.pl.wave_steps) {
    run_phase(&c, cfg->num_layers, forward_wave_task);
    return;
  }
  if (c.pl.lanes == 1) {
    run_phase(&c, c.pl.groups, forward_group_task);
    return;
  }
  run_phase(&c, c.pl.groups, forward_prepare_task);
  for (c.layer = 0; c.layer < cfg->num_layers; c.layer++) run_phase(&c, 2 * c.pl.groups, forward_layer_task);
}

void rc_rnn_forward(const rc_rnn_config *cfg, const float *params, float *ws, const rc_rnn_io *io,
                    const float *x, const float *h0, const float *c0, rc_rng *dropout_rng,
                    rc_rng *variational_rng, float *y, float *hn, float *cn) {
  rc_rnn_forward_on(cfg, 1, NULL, params, ws, io, x, h0, c0, dropout_rng, variational_rng, y, hn, cn);
}

/* ---- backward --------------------------------------------------------------- */

/* one time step backward; dh holds dL/dh_t (all paths), dh_prev receives dL/dh_{t-1}
 * (rows whose sequence has ended pass dh through unchanged) */
static void step_backward(const dir_context *cx, const float *params, dir_buffers *db, lane_buffers *s, int t,
                          const float *dh, float *dh_prev) {
  step_view v = view_of_step(cx, db, t, NULL);
  int rows = active_prefix(cx, t), next = cx->dir ? t + 1 : t - 1; /* the time of the next step */
  const float *next_gates = next >= 0 && next < cx->T ? db->gates + (size_t)next * cx->B * cx->gh : NULL;
  memset(dh_prev, 0, (size_t)cx->B * cx->hout * sizeof(float));
  set_inactive_rows(cx, t, cx->hout, dh_prev, dh);
  v.cell.dh = dh;
  if (db->m) { /* h = m W_hr^T: keep dL/dh for dW_hr; dL/dm = dh W_hr */
    float *dhs = s->dhs + (size_t)t * cx->B * cx->hout;
    memcpy(dhs, dh, (size_t)cx->B * cx->hout * sizeof(float));
    set_inactive_rows(cx, t, cx->hout, dhs, NULL);
    rows_times_w(rows, cx->H, cx->hout, dhs, params + cx->p.w_hr, 0.0f, s->dm);
    v.cell.dh = s->dm;
  }
  v.cell.dh_prev = dh_prev;
  v.cell.dc = s->dc;
  each_run(cx, t, rows, cx->cell->backward, &v.cell);
  set_inactive_rows(cx, t, cx->gh, v.cell.g, NULL);
  if (v.cell.hh != v.cell.g) set_inactive_rows(cx, t, cx->gh, v.cell.hh, NULL);
  if (v.hd) { /* h_prev met W_hh through the mask */
    times_w_hh(cx, params, rows, v.cell.hh, 0.0f, s->dh_masked, next_gates);
    mask_rows(rows, cx->hout, s->dh_masked, db->h_mask, cx->B, 1, dh_prev);
  } else {
    times_w_hh(cx, params, rows, v.cell.hh, 1.0f, dh_prev, next_gates);
  }
}

/* The bias gradients' share of time t: the column sums of its gate gradients (rows that
 * are not active hold zeros), taken step by step while the rows are in cache. Taken after
 * the whole sequence they came from memory: the GRU's two 9.8 MB buffers at B=64 H=256
 * took 2.4% of a forward+backward, 0.7% step by step (bench/profile.sh GRU 256 64 fb). */
static void step_bias_grads(const dir_context *cx, float *grads, const dir_buffers *db, int t) {
  size_t at = (size_t)t * cx->B * cx->gh;
  const float *dg = db->gates + at, *dg_hh = db->hh ? db->hh + at : dg;
  float *db_ih = cx->p.b_ih != RC_ABSENT ? grads + cx->p.b_ih : NULL;
  float *db_hh = cx->p.b_hh != RC_ABSENT ? grads + cx->p.b_hh : NULL;
  if (db_ih && db_hh && dg_hh == dg) {
    add_column_sums(cx->B, cx->gh, dg, db_ih, db_hh);
  } else {
    if (db_ih) add_column_sums(cx->B, cx->gh, dg, db_ih, NULL);
    if (db_hh) add_column_sums(cx->B, cx->gh, dg_hh, db_hh, NULL);
  }
}

/* weight gradients and dx for the whole sequence, as single GEMMs over K = T*B */
static void direction_weight_grads(const dir_context *cx, const float *params, float *grads, const float *x,
                                   dir_buffers *db, lane_buffers *s, float *dx, int accumulate_dx) {
  int rows = cx->T * cx->B;
  const float *dg = db->gates, *dg_hh = db->hh ? db->hh : db->gates;
  const float *x_in = cx->masked && db->x_mask ? db->x : x;
  const float *h_in = cx->masked && db->hd ? db->hd : db->h + (cx->dir ? (size_t)cx->B * cx->hout : 0);
  rc_gemm_tn(cx->gh, cx->in, rows, 1.0f, dg, cx->gh, x_in, cx->in, 1.0f, grads + cx->p.w_ih, cx->in);
  if (x_in != x) { /* x met W_ih through the mask */
    rc_gemm_nn(rows, cx->in, cx->gh, 1.0f, dg, cx->gh, params + cx->p.w_ih, cx->in, 0.0f, s->dx_masked,
               cx->in);
    mask_rows(rows, cx->in, s->dx_masked, db->x_mask, cx->B, accumulate_dx, dx);
  } else {
    rc_gemm_nn(rows, cx->in, cx->gh, 1.0f, dg, cx->gh, params + cx->p.w_ih, cx->in,
               accumulate_dx ? 1.0f : 0.0f, dx, cx->in);
  }
  rc_gemm_tn(cx->gh, cx->hout, rows, 1.0f, dg_hh, cx->gh, h_in, cx->hout, 1.0f, grads + cx->p.w_hh, cx->hout);
  if (db->m)
    rc_gemm_tn(cx->hout, cx->H, rows, 1.0f, s->dhs, cx->hout, db->m, cx->H, 1.0f, grads + cx->p.w_hr, cx->H);
}

/* dx gets dL/dx of this direction, or has it added when accumulate_dx */
static void direction_backward(const dir_context *cx, const float *params, float *grads, const float *x,
                               dir_buffers *db, lane_buffers *s, const float *dy, const float *ghn,
                               const float *gcn, float *dx, int accumulate_dx, float *dh0, float *dc0) {
  int T = cx->T, B = cx->B, hout = cx->hout, width = rc_rnn_dirs(cx->cfg) * hout;
  float *dh = s->dh, *dh_prev = s->dh_prev;
  copy_or_zero(dh, ghn, (size_t)B * hout);
  if (db->c) copy_or_zero(s->dc, gcn, (size_t)B * cx->H);
  for (int s_ = T - 1; s_ >= 0; s_--) {
    int t = time_of_step(s_, T, cx->dir);
    const float *dyt = dy + (size_t)t * B * width + (size_t)cx->dir * hout;
    for (int b = 0; b < B; b++)
      if (is_active(cx->lengths, b, t))
        for (int j = 0; j < hout; j++) dh[(size_t)b * hout + j] += dyt[(size_t)b * width + j];
    step_backward(cx, params, db, s, t, dh, dh_prev);
    step_bias_grads(cx, grads, db, t);
    float *tmp = dh;
    dh = dh_prev;
    dh_prev = tmp;
  }
  memcpy(dh0, dh, (size_t)B * hout * sizeof(float));
  if (db->c && dc0) memcpy(dc0, s->dc, (size_t)B * cx->H * sizeof(float));
  direction_weight_grads(cx, params, grads, x, db, s, dx, accumulate_dx);
}

/* ---- backward driver ----------------------------------------------------------------- */

/* the gradient buffers take turns: layer l reads dL/dy from one and writes dL/dx into the
 * other, the top layer reading grad_a */
static float *layer_dy(const shared_buffers *s, int L, int l) {
  return (L - 1 - l) % 2 ? s->grad_b : s->grad_a;
}
static float *layer_dx(const shared_buffers *s, int L, int l) {
  return (L - 1 - l) % 2 ? s->grad_a : s->grad_b;
}

/* The top layer's dL/dy: the caller's gy itself when it has the workspace's layout (it is
 * only read), else a copy in the workspace */
static const float *backward_dy(const call *c, const group *gr, const shared_buffers *s, int l) {
  int L = c->cfg->num_layers;
  return l == L - 1 && caller_layout(c, gr) ? c->gy : layer_dy(s, L, l);
}

/* Where layer l writes dL/dx: at layer 0 with one lane, the caller's dx itself when it has
 * the workspace's layout (nothing is added to it afterwards); beside the forward direction,
 * the reverse one writes apart, into grad_c */
static float *backward_dx(const call *c, const group *gr, const shared_buffers *s, int l, int d) {
  if (c->pl.lanes > 1 && d > 0) return s->grad_c;
  return l == 0 && c->pl.lanes == 1 && caller_layout(c, gr) ? c->dx : layer_dx(s, c->cfg->num_layers, l);
}

/* group gr's rows of gy, time-major, and its private gradients cleared */
static void backward_prepare(const call *c, const group *gr) {
  int width = rc_rnn_dirs(c->cfg) * rc_rnn_hout(c->cfg);
  shared_buffers s;
  group_layer(c, gr, -1, &s, NULL);
  if (gr->grads != c->grads) memset(gr->grads, 0, rc_rnn_each_param(c->cfg, NULL, NULL) * sizeof(float));
  if (backward_dy(c, gr, &s, c->cfg->num_layers - 1) == c->gy) return;
  copy_all_rows(gr->io.T, gr->io.B, width, caller_rows(c->gy, width, c->io->batch_first, gr->b0, c->io->B),
                time_major(s.grad_a, width, 0, gr->io.B));
}

/* Floats that direction d of layer l may use during its steps (pack_w_hh): its dL/dx
 * buffer, written after them (the reverse direction beside the forward one: grad_c); in one
 * lane, the reverse direction's dL/dx adds into the forward one's, and it takes the forward
 * direction's gates, which hold nothing more once that direction is done. */
static float *backward_scratch(const call *c, const shared_buffers *s, const layer_buffers *lb, int l,
                               int d) {
  if (d == 0) return layer_dx(s, c->cfg->num_layers, l);
  return c->pl.lanes > 1 ? s->grad_c : lb->dir[0].gates;
}

static size_t backward_scratch_floats(const call *c, const group *gr, int d) {
  size_t T = gr->io.T, B = gr->io.B;
  return d == 0 || c->pl.lanes > 1 ? gradient_floats(c->cfg, T, B) : T * B * gate_width(c->cfg);
}

/* layer l of group gr, the directions of lane `lane`; beside the forward direction, the
 * reverse one writes its dL/dx apart, into grad_c */
static void backward_layer(const call *c, const group *gr, int l, int lane) {
  const rc_rnn_config *cfg = c->cfg;
  int D = rc_rnn_dirs(cfg), hout = rc_rnn_hout(cfg), H = cfg->hidden_size;
  shared_buffers s;
  layer_buffers lb;
  group_layer(c, gr, l, &s, &lb);
  for (int d = lane; d < D; d += c->pl.lanes) {
    size_t k = (size_t)l * D + d, h_at = state_at(c, gr, k, hout), c_at = state_at(c, gr, k, H);
    int apart = c->pl.lanes > 1 && d > 0;
    dir_context cx = make_context(cfg, &gr->io, l, d, c->params, gr->grads, &s, lane);
    packing pack =
        packing_in(c->pk, gr->io.B, backward_scratch(c, &s, &lb, l, d), backward_scratch_floats(c, gr, d));
    pack_w_hh(&cx, &pack, c->params, 0);
    direction_backward(&cx, c->params, gr->grads, lb.x, &lb.dir[d], &s.lane[lane], backward_dy(c, gr, &s, l),
                       c->ghn ? c->ghn + h_at : NULL, c->gcn ? c->gcn + c_at : NULL,
                       backward_dx(c, gr, &s, l, d), d > 0 && !apart, c->dh0 + h_at,
                       c->dc0 ? c->dc0 + c_at : NULL);
  }
}

/* after both directions of layer l: dL/dx of the layer (grad_c added), through the dropout
 * mask of its input; after layer 0, into the caller's dx */
static void backward_finish_layer(const call *c, const group *gr, int l) {
  int T = gr->io.T, B = gr->io.B, in = rc_rnn_layer_input(c->cfg, l);
  size_t n = (size_t)T * B * in;
  shared_buffers s;
  layer_buffers lb;
  group_layer(c, gr, l, &s, &lb);
  float *dx = backward_dx(c, gr, &s, l, 0);
  if (dx == c->dx) return; /* written in place */
  if (c->pl.lanes > 1)
    for (size_t i = 0; i < n; i++) dx[i] += s.grad_c[i];
  if (l > 0 && lb.mask && gr->io.training)
    for (size_t i = 0; i < n; i++) dx[i] *= lb.mask[i];
  if (l == 0)
    copy_all_rows(T, B, in, time_major(dx, in, 0, B),
                  caller_rows(c->dx, in, c->io->batch_first, gr->b0, c->io->B));
}

/* one lane: a group's whole stack */
static void backward_group_task(void *ctx, int g) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, g);
  backward_prepare(c, &gr);
  for (int l = c->cfg->num_layers - 1; l >= 0; l--) {
    backward_layer(c, &gr, l, 0);
    backward_finish_layer(c, &gr, l);
  }
}

static void backward_prepare_task(void *ctx, int g) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, g);
  backward_prepare(c, &gr);
}

/* two lanes: task i runs lane i % 2 of group i / 2 in layer c->layer */
static void backward_layer_task(void *ctx, int i) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, i / 2);
  backward_layer(c, &gr, c->layer, i % 2);
}

static void backward_finish_task(void *ctx, int g) {
  const call *c = (const call *)ctx;
  group gr = group_of(c, g);
  backward_finish_layer(c, &gr, c->layer);
}

/* task i of `threads`: adds the private gradients of groups 1.. (in order) to its share of grads */
static void reduce_task(void *ctx, int i) {
  const call *c = (const call *)ctx;
  size_t n = rc_rnn_each_param(c->cfg, NULL, NULL), share = (n + c->pl.threads - 1) / c->pl.threads;
  size_t j0 = (size_t)i * share, j1 = j0 + share < n ? j0 + share : n;
  for (int g = 1; g < c->pl.groups; g++) {
    const float *priv = group_of(c, g).grads;
    for (size_t j = j0; j < j1; j++) c->grads[j] += priv[j];
  }
}

void rc_rnn_backward_on(const rc_rnn_config *cfg, int threads, rc_pool *pool, const float *params,
                        float *grads, float *ws, const rc_rnn_io *io, const float *gy, const float *ghn,
                        const float *gcn, float *dx, float *dh0, float *dc0) {
  call c = new_call(cfg, io, threads, pool, params, grads, ws);
  c.gy = gy;
  c.ghn = ghn;
  c.gcn = gcn;
  c.dx = dx;
  c.dh0 = dh0;
  c.dc0 = dc0;
  if (c.pl.lanes == 1) {
    run_phase(&c, c.pl.groups, backward_group_task);
  } else {
    run_phase(&c, c.pl.groups, backward_prepare_task);
    for (c.layer = cfg->num_layers - 1; c.layer >= 0; c.layer--) {
      run_phase(&c, 2 * c.pl.groups, backward_layer_task);
      run_phase(&c, c.pl.groups, backward_finish_task);
    }
  }
  if (c.pl.groups > 1) run_phase(&c, c.pl.threads, reduce_task);
}

void rc_rnn_backward(const rc_rnn_config *cfg, const float *params, float *grads, float *ws,
                     const rc_rnn_io *io, const float *gy, const float *ghn, const float *gcn, float *dx,
                     float *dh0, float *dc0) {
  rc_rnn_backward_on(cfg, 1, NULL, params, grads, ws, io, gy, ghn, gcn, dx, dh0, dc0);
}
