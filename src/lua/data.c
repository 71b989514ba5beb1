/* Data pipeline helpers in C: CSV columns and time-series windows. */
#include "data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/csv.h"
#include "../core/ops.h"
#include "../core/utf8.h"
#include "tensor.h"

/* ---- CSV ------------------------------------------------------------------------------ */

typedef struct csv_reader {
  lua_State *L;
  rc_csv c;
  char *field; /* scratch, as long as the input */
  size_t len;
  size_t record;     /* data rows read so far */
  size_t start_line; /* where the current record starts */
} csv_reader;

static void quote_error(csv_reader *r) {
  luaL_error(r->L, "read_csv: line %s: unterminated quote or text after a closing quote",
             rcl_istr(r->L, (long long)r->start_line));
}

/* reads one record; calls visit(col) after each field; returns its field count, 0 at EOF.
 * A blank line (one empty field) is skipped. */
typedef void (*field_visitor)(csv_reader *r, int col, void *ud);

static int read_record(csv_reader *r, field_visitor visit, void *ud) {
  for (;;) {
    int n = 0;
    rc_csv_status st;
    r->start_line = r->c.line;
    int blank = r->c.p < r->c.end && (*r->c.p == '\n' || *r->c.p == '\r');
    do {
      st = rc_csv_field(&r->c, r->field, &r->len);
      if (st == RC_CSV_EOF) return n;
      if (st == RC_CSV_BAD_QUOTE) quote_error(r);
      if (blank) break;
      if (visit) visit(r, n, ud);
      n++;
    } while (st == RC_CSV_FIELD);
    if (n > 0) return n;
  }
}

static void push_header_field(csv_reader *r, int col, void *ud) {
  (void)ud;
  lua_pushlstring(r->L, r->field, r->len);
  lua_rawseti(r->L, -2, col + 1);
}

/* where each wanted column goes: numbers into a float array, strings into a table */
typedef struct column_sink {
  int wanted; /* 0: not wanted; 1: number; 2: string */
  float *numbers;
  int table_index; /* stack index of the strings table */
  const char *name;
} column_sink;

static void store_field(csv_reader *r, int col, void *ud) {
  column_sink *sink = (column_sink *)ud + col;
  lua_State *L = r->L;
  if (sink->wanted == 2) {
    lua_pushlstring(L, r->field, r->len);
    lua_rawseti(L, sink->table_index, (lua_Integer)r->record + 1);
  } else if (sink->wanted == 1) {
    char *end;
    r->field[r->len] = '\0';
    double v = strtod(r->field, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (r->len == 0 || end == r->field || *end != '\0' || !isfinite(v))
      luaL_error(L, "read_csv: row %s (line %s), column '%s': %s is not a finite number",
                 rcl_istr(L, (long long)r->record + 1), rcl_istr(L, (long long)r->start_line), sink->name,
                 r->len ? lua_pushfstring(L, "'%s'", r->field) : "an empty cell");
    sink->numbers[r->record] = (float)v;
  }
}

/* the 0-based column of `name` in the header table at `header`, or an error listing them */
static int find_column(lua_State *L, int header, int ncols, const char *name) {
  for (int i = 0; i < ncols; i++) {
    lua_rawgeti(L, header, i + 1);
    int same = strcmp(lua_tostring(L, -1), name) == 0;
    lua_pop(L, 1);
    if (same) return i;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; i < ncols; i++) {
    lua_rawgeti(L, header, i + 1);
    luaL_addvalue(&b);
    if (i + 1 < ncols) luaL_addstring(&b, ", ");
  }
  luaL_pushresult(&b);
  return luaL_error(L, "read_csv: no column '%s'; the columns are: %s", name, lua_tostring(L, -1));
}

/* read_csv(text, numbers, strings) -> {name = tensor or array of strings}, rows */
static int l_read_csv(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  csv_reader r;
  r.L = L;
  r.record = 0;
  r.field = (char *)lua_newuserdatauv(L, len + 1, 0); /* 4 */
  rc_csv_init(&r.c, text, len);
  lua_newtable(L); /* 5: header */
  int ncols = read_record(&r, push_header_field, NULL);
  if (ncols == 0) return luaL_error(L, "read_csv: the file is empty (no header line)");
  column_sink *sinks = (column_sink *)lua_newuserdatauv(L, (size_t)ncols * sizeof(column_sink), 0); /* 6 */
  memset(sinks, 0, (size_t)ncols * sizeof(column_sink));
  for (int kind = 1; kind <= 2; kind++) {
    lua_Integer n = luaL_len(L, kind + 1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, kind + 1, i);
      const char *name = lua_tostring(L, -1);
      if (!name) return luaL_argerror(L, kind + 1, "column names must be strings");
      int col = find_column(L, 5, ncols, name);
      if (sinks[col].wanted) return luaL_error(L, "read_csv: column '%s' is asked for twice", name);
      sinks[col].wanted = kind;
      sinks[col].name = name; /* kept alive by the argument table */
      lua_pop(L, 1);
    }
  }
  size_t rows = 0; /* pass 1: count and check the records */
  int n;
  while ((n = read_record(&r, NULL, NULL)) > 0) {
    rows++;
    if (n != ncols)
      return luaL_error(L, "read_csv: row %s (line %s) has %d fields, expected %d",
                        rcl_istr(L, (long long)rows), rcl_istr(L, (long long)r.start_line), n, ncols);
  }
  if (rows == 0) return luaL_error(L, "read_csv: no data rows after the header");
  lua_newtable(L); /* 7: result */
  for (int col = 0; col < ncols; col++) {
    if (!sinks[col].wanted) continue;
    if (sinks[col].wanted == 1) {
      lua_Integer shape = (lua_Integer)rows;
      sinks[col].numbers = rcl_new_tensor(L, 1, &shape)->data;
    } else {
      lua_createtable(L, (int)rows, 0);
      sinks[col].table_index = lua_gettop(L) + 0;
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 7, sinks[col].name);
    if (sinks[col].wanted == 1) lua_pop(L, 1); /* tables stay on the stack while filled */
  }
  rc_csv_init(&r.c, text, len); /* pass 2: fill */
  read_record(&r, NULL, NULL);
  while (read_record(&r, store_field, sinks) > 0) r.record++;
  lua_pushvalue(L, 7);
  lua_pushinteger(L, (lua_Integer)rows);
  return 2;
}

/* ---- windows -------------------------------------------------------------------------- */

/* gather_windows(series (N[, F]), starts (array of 1-based rows), len, horizon, cols, time_major) -> x, y */
static int l_gather_windows(lua_State *L) {
  rc_tensor *s = rcl_check_tensor(L, 1, "series");
  if (s->ndim > 2) return luaL_argerror(L, 1, "series: expected a 1-D or 2-D tensor");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer len = luaL_checkinteger(L, 3), horizon = luaL_checkinteger(L, 4);
  luaL_checktype(L, 5, LUA_TTABLE);
  int time_major = lua_toboolean(L, 6);
  lua_Integer N = s->shape[0], F = s->ndim == 2 ? s->shape[1] : 1;
  lua_Integer B = (lua_Integer)luaL_len(L, 2), K = (lua_Integer)luaL_len(L, 5);
  if (len < 1 || horizon < 0 || B < 1 || K < 1)
    return luaL_error(L, "gather_windows: empty window, batch or target list");
  if (len + horizon > N)
    return luaL_error(L, "gather_windows: a window of %s + %s rows is longer than the series (%s rows)",
                      rcl_istr(L, len), rcl_istr(L, horizon), rcl_istr(L, N));
  size_t *starts = (size_t *)lua_newuserdatauv(L, (size_t)B * sizeof(size_t), 0);
  int *cols = (int *)lua_newuserdatauv(L, (size_t)K * sizeof(int), 0);
  for (lua_Integer b = 0; b < B; b++) {
    lua_rawgeti(L, 2, b + 1);
    lua_Integer st = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (st < 1 || st + len + horizon - 1 > N)
      return luaL_error(L, "gather_windows: start %s of window %s is outside 1..%s", rcl_istr(L, st),
                        rcl_istr(L, b + 1), rcl_istr(L, N - len - horizon + 1));
    starts[b] = (size_t)(st - 1);
  }
  for (lua_Integer k = 0; k < K; k++) {
    lua_rawgeti(L, 5, k + 1);
    lua_Integer c = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (c < 1 || c > F)
      return luaL_error(L, "gather_windows: target column %s is outside 1..%s", rcl_istr(L, c),
                        rcl_istr(L, F));
    cols[k] = (int)(c - 1);
  }
  lua_Integer xs[3] = {time_major ? len : B, time_major ? B : len, F}, ys[3] = {B, horizon, K};
  rc_tensor *x = rcl_new_tensor(L, 3, xs);
  rc_tensor *y = rcl_new_tensor(L, 3, ys);
  rc_gather_windows(s->data, (int)F, starts, (int)B, (int)len, (int)horizon, cols, (int)K, time_major,
                    x->data, y->data);
  return 2;
}

/* ---- text -------------------------------------------------------------------------------- */

/* the code point at *at in text, advancing *at; raises on invalid UTF-8 */
static uint32_t next_code_point(lua_State *L, const char *text, size_t len, size_t *at) {
  uint32_t cp = 0;
  size_t k = rc_utf8_decode((const unsigned char *)text + *at, len - *at, &cp);
  if (!k) luaL_error(L, "invalid UTF-8 at byte %s", rcl_istr(L, (long long)*at + 1));
  *at += k;
  return cp;
}

static int compare_pairs(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* utf8_vocab(text) -> the distinct characters, sorted by code point */
static int l_utf8_vocab(lua_State *L) {
  size_t len, at = 0, n = 0;
  const char *text = luaL_checklstring(L, 1, &len);
  unsigned char *seen = (unsigned char *)lua_newuserdatauv(L, 0x110000 / 8, 0);
  memset(seen, 0, 0x110000 / 8);
  while (at < len) {
    uint32_t cp = next_code_point(L, text, len, &at);
    if (!(seen[cp >> 3] & (1u << (cp & 7)))) n++;
    seen[cp >> 3] |= (unsigned char)(1u << (cp & 7));
  }
  lua_createtable(L, (int)n, 0);
  lua_Integer k = 0;
  for (uint32_t cp = 0; cp < 0x110000; cp++) {
    if (!(seen[cp >> 3] & (1u << (cp & 7)))) continue;
    char buf[4];
    lua_pushlstring(L, buf, rc_utf8_encode(cp, buf));
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* utf8_encode(text, chars) -> a 1-D tensor of the 1-based ids in chars of text's characters */
static int l_utf8_encode(lua_State *L) {
  size_t len, at = 0, count = 0;
  const char *text = luaL_checklstring(L, 1, &len);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer V = luaL_len(L, 2);
  /* (code point, id) pairs sorted by code point, for binary search */
  uint32_t *keys = (uint32_t *)lua_newuserdatauv(L, (size_t)(V ? V : 1) * 2 * sizeof(uint32_t), 0);
  for (lua_Integer i = 0; i < V; i++) {
    size_t cl, used = 0;
    lua_rawgeti(L, 2, i + 1);
    const char *ch = lua_tolstring(L, -1, &cl);
    if (!ch || cl == 0) return luaL_argerror(L, 2, "chars: expected non-empty strings");
    keys[2 * i] = next_code_point(L, ch, cl, &used);
    keys[2 * i + 1] = (uint32_t)(i + 1);
    if (used != cl)
      return luaL_argerror(L, 2, lua_pushfstring(L, "chars[%s] is not one character", rcl_istr(L, i + 1)));
    lua_pop(L, 1);
  }
  qsort(keys, (size_t)V, 2 * sizeof(uint32_t), compare_pairs);
  while (at < len) {
    next_code_point(L, text, len, &at);
    count++;
  }
  lua_Integer shape = (lua_Integer)count;
  rc_tensor *out = rcl_new_tensor(L, 1, &shape);
  at = 0;
  for (size_t i = 0; i < count; i++) {
    size_t start = at;
    uint32_t cp = next_code_point(L, text, len, &at), lo = 0, hi = (uint32_t)V;
    while (lo < hi) {
      uint32_t mid = (lo + hi) / 2;
      if (keys[2 * mid] < cp)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == (uint32_t)V || keys[2 * lo] != cp) {
      lua_pushlstring(L, text + start, at - start);
      const char *ch = lua_tostring(L, -1);
      return luaL_error(L, "encode: character \"%s\" (at %s) is not in the vocabulary", ch,
                        rcl_istr(L, (long long)i + 1));
    }
    out->data[i] = (float)keys[2 * lo + 1];
  }
  return 1;
}

static const luaL_Reg data_functions[] = {{"read_csv", l_read_csv},
                                          {"gather_windows", l_gather_windows},
                                          {"utf8_vocab", l_utf8_vocab},
                                          {"utf8_encode", l_utf8_encode},
                                          {NULL, NULL}};

void rcl_open_data(lua_State *L) { luaL_setfuncs(L, data_functions, 0); }
