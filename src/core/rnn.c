/* The recurrence, for every cell type: the input projection of a whole sequence as one
 * GEMM, then per time step the recurrent GEMM and the cell's row kernels (cells.h), then
 * the weight gradients as GEMMs over all steps. */
/* the row loops (bias fills, column sums, copies) are worth vectorising; see cells.c */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

#include "rnn.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "ops.h"

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

typedef struct shared_buffers {
  float *grad_a, *grad_b; /* (T, B, max width): gradients flowing between layers */
  float *dhs;             /* with projection: (T, B, P) dL/dh per step */
  float *dh, *dh_prev;    /* (B, Hout) */
  float *dc, *dm;         /* (B, H) */
  float *dh_masked;       /* recurrent dropout: (B, Hout) dL/d(masked h_prev) */
  float *dx_masked;       /* input dropout: (T, B, max input) dL/d(masked x) */
  float *zeros, *sink;    /* largest VEC block: what absent VEC blocks read, and where their gradients go */
} shared_buffers;

static size_t extra_width(const rc_rnn_config *cfg) {
  return (size_t)cfg->cell->extra_h * cfg->hidden_size + cfg->cell->extra_fixed;
}

static void carve_shared(const rc_rnn_config *cfg, size_t T, size_t B, carver *c, shared_buffers *s) {
  size_t H = cfg->hidden_size, hout = rc_rnn_hout(cfg), width = rc_rnn_dirs(cfg) * hout;
  size_t in = width > (size_t)cfg->input_size ? width : (size_t)cfg->input_size;
  s->grad_a = carve(c, T * B * in);
  s->grad_b = carve(c, T * B * in);
  s->dhs = carve(c, cfg->proj_size > 0 ? T * B * cfg->proj_size : 0);
  s->dh = carve(c, B * hout);
  s->dh_prev = carve(c, B * hout);
  s->dc = carve(c, B * H);
  s->dm = carve(c, B * H);
  s->dh_masked = carve(c, cfg->recurrent_dropout > 0.0f ? B * hout : 0);
  s->dx_masked = carve(c, cfg->input_dropout > 0.0f ? T * B * in : 0);
  s->zeros = carve(c, largest_vec(cfg));
  s->sink = carve(c, largest_vec(cfg));
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

/* Walks the layout; fills *s and the buffers of layer `want` (when not NULL). */
static size_t layout(const rc_rnn_config *cfg, int T, int B, float *base, shared_buffers *s, int want,
                     layer_buffers *lb) {
  carver c;
  shared_buffers s_tmp;
  layer_buffers l_tmp;
  c.base = base;
  c.used = 0;
  carve_shared(cfg, T, B, &c, s ? s : &s_tmp);
  for (int l = 0; l < cfg->num_layers; l++) carve_layer(cfg, T, B, l, &c, l == want && lb ? lb : &l_tmp);
  return c.used;
}

size_t rc_rnn_workspace_size(const rc_rnn_config *cfg, int T, int B) {
  return layout(cfg, T, B, NULL, NULL, -1, NULL);
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

/* rows of width n set to b1 (+ b2), or zero when b1 is NULL */
static void fill_rows(size_t rows, size_t n, const float *b1, const float *b2, float *out) {
  for (size_t r = 0; r < rows; r++, out += n) {
    if (!b1)
      memset(out, 0, n * sizeof(float));
    else if (!b2)
      memcpy(out, b1, n * sizeof(float));
    else
      for (size_t j = 0; j < n; j++) out[j] = b1[j] + b2[j];
  }
}

/* out[j] += sum over rows of a[r][j] */
static void add_column_sums(size_t rows, size_t n, const float *a, float *out) {
  for (size_t r = 0; r < rows; r++, a += n)
    for (size_t j = 0; j < n; j++) out[j] += a[j];
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

/* A (T, B, stride) or (B, T, stride) buffer, addressed from column col. */
typedef struct row_block {
  float *data;
  int stride, col, batch_first;
} row_block;

/* row b takes part in time t (see "variable lengths" below) */
static int is_active(const int *lengths, int b, int t) { return !lengths || lengths[b] > t; }

/* writes the B contiguous rows of `width` floats of time t into dst; rows whose
 * sequence has ended get zeros */
static void put_step(int t, int T, int B, int width, const float *src, const int *lengths, row_block dst) {
  for (int b = 0; b < B; b++) {
    float *d = dst.data + row_of(t, b, T, B, dst.batch_first) * dst.stride + dst.col;
    if (is_active(lengths, b, t))
      memcpy(d, src + (size_t)b * width, (size_t)width * sizeof(float));
    else
      memset(d, 0, (size_t)width * sizeof(float));
  }
}

/* copies a whole (T, B, width) or (B, T, width) buffer into dst */
static void copy_all_rows(int T, int B, int width, const float *src, int src_bf, row_block dst) {
  for (int t = 0; t < T; t++)
    for (int b = 0; b < B; b++)
      memcpy(dst.data + row_of(t, b, T, B, dst.batch_first) * dst.stride + dst.col,
             src + row_of(t, b, T, B, src_bf) * width, (size_t)width * sizeof(float));
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
  rc_rnn_params p;
  const float *vec[RC_CELL_MAX_VECS]; /* the cell's vectors (zeros where absent) */
  float *dvec[RC_CELL_MAX_VECS];      /* their gradients (a scratch sink where absent) */
} dir_context;

static const float *param_or_null(const float *params, size_t off) {
  return off == RC_ABSENT ? NULL : params + off;
}

static dir_context make_context(const rc_rnn_config *cfg, const rc_rnn_io *io, int layer, int dir,
                                const float *params, float *grads, shared_buffers *s) {
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
  rc_rnn_param_layout(cfg, layer, dir, &cx.p);
  for (int k = 0; k < RC_CELL_MAX_VECS; k++) { /* absent blocks (no bias) read zeros */
    int absent = cx.p.vec[k] == RC_ABSENT;
    cx.vec[k] = absent ? s->zeros : params + cx.p.vec[k];
    cx.dvec[k] = absent || !grads ? s->sink : grads + cx.p.vec[k];
  }
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

/* draws every layer's and direction's masks, in that order, input mask first */
static void draw_variational_masks(const rc_rnn_config *cfg, int T, int B, float *ws, rc_rng *rng) {
  for (int l = 0; l < cfg->num_layers; l++) {
    layer_buffers lb;
    layout(cfg, T, B, ws, NULL, l, &lb);
    for (int d = 0; d < rc_rnn_dirs(cfg); d++) {
      if (lb.dir[d].x_mask)
        rc_dropout_mask((size_t)B * rc_rnn_layer_input(cfg, l), cfg->input_dropout, rng, lb.dir[d].x_mask);
      if (lb.dir[d].h_mask)
        rc_dropout_mask((size_t)B * rc_rnn_hout(cfg), cfg->recurrent_dropout, rng, lb.dir[d].h_mask);
    }
  }
}

/* the input the projection sees: x, or x with this direction's mask */
static const float *direction_input(const dir_context *cx, const dir_buffers *db, const float *x) {
  if (!cx->masked || !db->x_mask) return x;
  mask_rows((size_t)cx->T * cx->B, cx->in, x, db->x_mask, cx->B, 0, db->x);
  return db->x;
}

/* ---- forward ------------------------------------------------------------------- */

/* x W_ih^T + biases for all T*B rows at once (b_hh is folded in unless separate_hh) */
static void input_projection(const dir_context *cx, const float *params, const float *x, float *gates) {
  const float *b_ih = param_or_null(params, cx->p.b_ih);
  const float *b_hh = cx->cell->separate_hh ? NULL : param_or_null(params, cx->p.b_hh);
  int rows = cx->T * cx->B;
  if (!b_ih) b_ih = b_hh, b_hh = NULL;
  fill_rows(rows, cx->gh, b_ih, b_hh, gates);
  rows_times_wt(rows, cx->gh, cx->in, x, params + cx->p.w_ih, 1.0f, gates);
}

/* the buffers of time t */
typedef struct step_view {
  rc_cell_step cell;   /* g, hh, ex, h_prev, h (the cell's output), c_prev, c */
  const float *h_prev; /* (B, Hout) */
  float *h;            /* (B, Hout) */
  float *hd;           /* recurrent dropout: (B, Hout) the masked h_prev, else NULL */
} step_view;

static step_view view_of_step(const dir_context *cx, dir_buffers *db, int t) {
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
  v.cell.h_prev = v.h_prev;
  v.cell.h = db->m ? db->m + t * B * cx->H : v.h;
  v.cell.c_prev = db->c ? db->c + sl.prev * B * cx->H : NULL;
  v.cell.c = db->c ? db->c + sl.next * B * cx->H : NULL;
  v.hd = cx->masked && db->hd ? db->hd + t * B * cx->hout : NULL;
  return v;
}

/* one time step: the gates of time t already hold the input projection */
static void step_forward(const dir_context *cx, const float *params, dir_buffers *db, int t) {
  step_view v = view_of_step(cx, db, t);
  int rows = active_prefix(cx, t);
  const float *h_in = v.h_prev;
  if (v.hd) { /* every row, so that backward's GEMM over all steps reads no stale rows */
    mask_rows(cx->B, cx->hout, v.h_prev, db->h_mask, cx->B, 0, v.hd);
    h_in = v.hd;
  }
  if (cx->cell->separate_hh) /* hh = h_prev W_hh^T + b_hh, kept apart from the input projection */
    fill_rows(rows, cx->gh, param_or_null(params, cx->p.b_hh), NULL, v.cell.hh);
  rows_times_wt(rows, cx->gh, cx->hout, h_in, params + cx->p.w_hh, 1.0f, v.cell.hh);
  each_run(cx, t, rows, cx->cell->forward, &v.cell);
  if (db->m) { /* h = m W_hr^T */
    set_inactive_rows(cx, t, cx->H, v.cell.h, NULL);
    rows_times_wt(rows, cx->hout, cx->H, v.cell.h, params + cx->p.w_hr, 0.0f, v.h);
  }
  set_inactive_rows(cx, t, cx->hout, v.h, v.h_prev);
  if (v.cell.c) set_inactive_rows(cx, t, cx->H, v.cell.c, v.cell.c_prev);
}

static void direction_forward(const dir_context *cx, const float *params, const float *x, dir_buffers *db,
                              const float *h0, const float *c0, row_block out, float *hn, float *cn) {
  int T = cx->T, B = cx->B, first = cx->dir ? T : 0, last = cx->dir ? 0 : T;
  input_projection(cx, params, direction_input(cx, db, x), db->gates);
  copy_or_zero(db->h + (size_t)first * B * cx->hout, h0, (size_t)B * cx->hout);
  if (db->c) copy_or_zero(db->c + (size_t)first * B * cx->H, c0, (size_t)B * cx->H);
  for (int s = 0; s < T; s++) {
    int t = time_of_step(s, T, cx->dir);
    step_forward(cx, params, db, t);
    put_step(t, T, B, cx->hout, db->h + (size_t)slots_of_time(t, cx->dir).next * B * cx->hout, cx->lengths,
             out);
  }
  memcpy(hn, db->h + (size_t)last * B * cx->hout, (size_t)B * cx->hout * sizeof(float));
  if (db->c && cn) memcpy(cn, db->c + (size_t)last * B * cx->H, (size_t)B * cx->H * sizeof(float));
}

void rc_rnn_forward(const rc_rnn_config *cfg, const float *params, float *ws, const rc_rnn_io *io,
                    const float *x, const float *h0, const float *c0, rc_rng *dropout_rng,
                    rc_rng *variational_rng, float *y, float *hn, float *cn) {
  int T = io->T, B = io->B, D = rc_rnn_dirs(cfg), hout = rc_rnn_hout(cfg), L = cfg->num_layers;
  size_t state = (size_t)B * hout, cell = (size_t)B * cfg->hidden_size;
  shared_buffers s;
  layer_buffers lb, next;
  layout(cfg, T, B, ws, &s, 0, &lb);
  if (s.zeros) memset(s.zeros, 0, largest_vec(cfg) * sizeof(float));
  if (io->training) draw_variational_masks(cfg, T, B, ws, variational_rng);
  row_block x0 = {lb.x, cfg->input_size, 0, 0};
  copy_all_rows(T, B, cfg->input_size, x, io->batch_first, x0);
  if (io->lengths) /* padding never reaches the maths, even if it holds NaN */
    for (int t = 0; t < T; t++)
      for (int b = 0; b < B; b++)
        if (!is_active(io->lengths, b, t))
          memset(lb.x + ((size_t)t * B + b) * cfg->input_size, 0, (size_t)cfg->input_size * sizeof(float));
  for (int l = 0; l < L; l++) {
    row_block out = {y, D * hout, 0, io->batch_first};
    if (l + 1 < L) {
      layout(cfg, T, B, ws, NULL, l + 1, &next);
      out.data = next.x;
      out.batch_first = 0;
    }
    for (int d = 0; d < D; d++) {
      size_t k = (size_t)l * D + d;
      dir_context cx = make_context(cfg, io, l, d, params, NULL, &s);
      out.col = d * hout;
      direction_forward(&cx, params, lb.x, &lb.dir[d], h0 ? h0 + k * state : NULL, c0 ? c0 + k * cell : NULL,
                        out, hn + k * state, cn ? cn + k * cell : NULL);
    }
    if (l + 1 < L) {
      if (next.mask && io->training)
        rc_dropout((size_t)T * B * D * hout, cfg->dropout, dropout_rng, next.x, next.mask, next.x);
      lb = next;
    }
  }
}

/* ---- backward --------------------------------------------------------------- */

/* one time step backward; dh holds dL/dh_t (all paths), dh_prev receives dL/dh_{t-1}
 * (rows whose sequence has ended pass dh through unchanged) */
static void step_backward(const dir_context *cx, const float *params, dir_buffers *db, shared_buffers *s,
                          int t, const float *dh, float *dh_prev) {
  step_view v = view_of_step(cx, db, t);
  int rows = active_prefix(cx, t);
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
    rows_times_w(rows, cx->hout, cx->gh, v.cell.hh, params + cx->p.w_hh, 0.0f, s->dh_masked);
    mask_rows(rows, cx->hout, s->dh_masked, db->h_mask, cx->B, 1, dh_prev);
  } else {
    rows_times_w(rows, cx->hout, cx->gh, v.cell.hh, params + cx->p.w_hh, 1.0f, dh_prev);
  }
}

/* parameter gradients and dx for the whole sequence, as single GEMMs over K = T*B */
static void direction_weight_grads(const dir_context *cx, const float *params, float *grads, const float *x,
                                   dir_buffers *db, shared_buffers *s, float *dx, int accumulate_dx) {
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
  if (cx->p.b_ih != RC_ABSENT) add_column_sums(rows, cx->gh, dg, grads + cx->p.b_ih);
  if (cx->p.b_hh != RC_ABSENT) add_column_sums(rows, cx->gh, dg_hh, grads + cx->p.b_hh);
  if (db->m)
    rc_gemm_tn(cx->hout, cx->H, rows, 1.0f, s->dhs, cx->hout, db->m, cx->H, 1.0f, grads + cx->p.w_hr, cx->H);
}

static void direction_backward(const dir_context *cx, const float *params, float *grads, const float *x,
                               dir_buffers *db, shared_buffers *s, const float *dy, const float *ghn,
                               const float *gcn, float *dx, float *dh0, float *dc0) {
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
    float *tmp = dh;
    dh = dh_prev;
    dh_prev = tmp;
  }
  memcpy(dh0, dh, (size_t)B * hout * sizeof(float));
  if (db->c && dc0) memcpy(dc0, s->dc, (size_t)B * cx->H * sizeof(float));
  direction_weight_grads(cx, params, grads, x, db, s, dx, cx->dir > 0);
}

void rc_rnn_backward(const rc_rnn_config *cfg, const float *params, float *grads, float *ws,
                     const rc_rnn_io *io, const float *gy, const float *ghn, const float *gcn, float *dx,
                     float *dh0, float *dc0) {
  int T = io->T, B = io->B, D = rc_rnn_dirs(cfg), hout = rc_rnn_hout(cfg);
  size_t state = (size_t)B * hout, cell = (size_t)B * cfg->hidden_size;
  shared_buffers s;
  layer_buffers lb;
  layout(cfg, T, B, ws, &s, 0, &lb);
  float *dy = s.grad_a, *dx_l = s.grad_b;
  row_block dy_rows = {dy, D * hout, 0, 0};
  copy_all_rows(T, B, D * hout, gy, io->batch_first, dy_rows);
  for (int l = cfg->num_layers - 1; l >= 0; l--) {
    layout(cfg, T, B, ws, NULL, l, &lb);
    for (int d = 0; d < D; d++) {
      size_t k = (size_t)l * D + d;
      dir_context cx = make_context(cfg, io, l, d, params, grads, &s);
      direction_backward(&cx, params, grads, lb.x, &lb.dir[d], &s, dy, ghn ? ghn + k * state : NULL,
                         gcn ? gcn + k * cell : NULL, dx_l, dh0 + k * state, dc0 ? dc0 + k * cell : NULL);
    }
    if (l > 0) {
      if (lb.mask && io->training)
        for (size_t i = 0; i < (size_t)T * B * D * hout; i++) dx_l[i] *= lb.mask[i];
      float *tmp = dy;
      dy = dx_l;
      dx_l = tmp;
    }
  }
  row_block dx_rows = {dx, cfg->input_size, 0, io->batch_first};
  copy_all_rows(T, B, cfg->input_size, dx_l, 0, dx_rows);
}
