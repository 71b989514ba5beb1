/* Data pipeline helpers in C: CSV columns, dates, time-series windows, and UTF-8 text read
 * from strings or streamed from files. Every Lua array is read through args.h. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */

#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/csv.h"
#include "../core/datetime.h"
#include "../core/ops.h"
#include "../core/utf8.h"
#include "args.h"
#include "ids.h"
#include "tensor.h"

#ifndef LUA_FILEHANDLE
#include "lualib.h" /* 5.1 and LuaJIT define it there */
#endif

/* ---- CSV ------------------------------------------------------------------------------ */

typedef enum { MISSING_ERROR, MISSING_SKIP, MISSING_NAN, MISSING_FILL } missing_policy;

/* one column of the file: whether it is read (as numbers or strings) and whether rows are
 * selected on its value */
typedef struct column_sink {
  int wanted; /* 0: not read; 1: numbers; 2: strings */
  const char *name;
  float *numbers;
  int table_index; /* stack index of the strings table */
  int where;       /* 0: no condition; 1: equal to a string; 2: equal to a number */
  const char *where_text;
  size_t where_len;
  double where_number;
} column_sink;

typedef struct csv_reader {
  lua_State *L;
  rc_csv c;
  char *scratch; /* the current record's fields back to back, each followed by a '\0' */
  size_t *starts, *lens;
  size_t ncols;
  size_t start_line; /* where the current record starts */
} csv_reader;

static void quote_error(csv_reader *r) {
  luaL_error(r->L, "read_csv: line %s: unterminated quote or text after a closing quote",
             rcl_istr(r->L, (long long)r->start_line));
}

/* reads one record, keeping the first ncols fields; returns its field count, 0 at the end.
 * A blank line is skipped. */
static size_t read_record(csv_reader *r) {
  for (;;) {
    size_t n = 0, used = 0;
    rc_csv_status st;
    r->start_line = r->c.line;
    int blank = r->c.p < r->c.end && (*r->c.p == '\n' || *r->c.p == '\r');
    do {
      size_t len;
      st = rc_csv_field(&r->c, r->scratch + used, &len);
      if (st == RC_CSV_EOF) return n;
      if (st == RC_CSV_BAD_QUOTE) quote_error(r);
      if (blank) break;
      if (n < r->ncols) {
        r->starts[n] = used;
        r->lens[n] = len;
      }
      r->scratch[used + len] = '\0';
      used += len + 1;
      n++;
    } while (st == RC_CSV_FIELD);
    if (n > 0) return n;
  }
}

/* reads the header line into a new table on the stack; returns its field count */
static size_t read_header(csv_reader *r) {
  size_t n = 0, len;
  rc_csv_status st;
  lua_newtable(r->L);
  r->start_line = r->c.line;
  do {
    st = rc_csv_field(&r->c, r->scratch, &len);
    if (st == RC_CSV_EOF) break;
    if (st == RC_CSV_BAD_QUOTE) quote_error(r);
    lua_pushlstring(r->L, r->scratch, len);
    lua_rawseti(r->L, -2, (lua_Integer)++n);
  } while (st == RC_CSV_FIELD);
  return n;
}

/* pushes "a, b, c": the names in the header table at `header` */
static const char *column_list(lua_State *L, int header, size_t ncols) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < ncols; i++) {
    lua_rawgeti(L, header, (lua_Integer)i + 1);
    luaL_addvalue(&b);
    if (i + 1 < ncols) luaL_addstring(&b, ", ");
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* the 0-based column of `name` in the header table at `header`, or an error listing them */
static size_t find_column(lua_State *L, int header, size_t ncols, const char *name) {
  for (size_t i = 0; i < ncols; i++) {
    lua_rawgeti(L, header, (lua_Integer)i + 1);
    int same = strcmp(lua_tostring(L, -1), name) == 0;
    lua_pop(L, 1);
    if (same) return i;
  }
  luaL_error(L, "read_csv: no column '%s'; the columns are: %s", name, column_list(L, header, ncols));
  return 0;
}

/* the column names of the array at `arg` marked as `kind` in the sinks */
static void want_columns(lua_State *L, int arg, const char *what, int kind, column_sink *sinks, int header,
                         size_t ncols) {
  size_t n = rcl_check_array(L, arg, what, RCL_MAX_ARRAY);
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, arg, (lua_Integer)i);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "%s[%s]: expected a column name (a string), got %s", what,
                                    rcl_istr(L, (long long)i), rcl_typename(L, -1)));
    const char *name = lua_tostring(L, -1);
    column_sink *s = &sinks[find_column(L, header, ncols, name)];
    if (s->wanted) luaL_error(L, "read_csv: column '%s' is asked for twice", name);
    s->wanted = kind;
    s->name = name; /* kept alive by the argument table */
    lua_pop(L, 1);
  }
}

/* the conditions of the table at `where`: {column = string or number} */
static void where_columns(lua_State *L, int where, column_sink *sinks, int header, size_t ncols) {
  lua_pushnil(L);
  while (lua_next(L, where)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "read_csv: where: keys must be column names, got %s", luaL_typename(L, -2));
    column_sink *s = &sinks[find_column(L, header, ncols, lua_tostring(L, -2))];
    if (lua_type(L, -1) == LUA_TNUMBER) {
      s->where = 2;
      s->where_number = lua_tonumber(L, -1);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      s->where = 1;
      s->where_text = lua_tolstring(L, -1, &s->where_len); /* kept alive by the table */
    } else {
      luaL_error(L, "read_csv: where.%s: expected a string or a number, got %s", lua_tostring(L, -2),
                 rcl_typename(L, -1));
    }
    lua_pop(L, 1);
  }
}

/* a finite number filling the whole field (surrounding spaces allowed) */
static int parse_number(const char *field, size_t len, double *v) {
  char *end;
  *v = strtod(field, &end);
  if (end == field) return 0; /* no digits */
  while (*end == ' ' || *end == '\t') end++;
  return end == field + len && isfinite(*v);
}

/* cells that stand for a missing value: empty (or spaces), NA, N/A, NaN, null, None */
static int is_missing(const char *field, size_t len) {
  static const char *const markers[] = {"NA", "N/A", "n/a", "NaN", "nan", "-nan", "null", "NULL", "None"};
  while (len > 0 && (*field == ' ' || *field == '\t')) field++, len--;
  while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\t')) len--;
  if (len == 0) return 1;
  for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
    if (strlen(markers[i]) == len && memcmp(markers[i], field, len) == 0) return 1;
  return 0;
}

static missing_policy read_missing(lua_State *L, int options, double *fill) {
  int type = lua_getfield(L, options, "missing");
  missing_policy policy = MISSING_ERROR;
  if (type == LUA_TNUMBER) {
    *fill = lua_tonumber(L, -1);
    policy = MISSING_FILL;
  } else if (type == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (strcmp(s, "skip") == 0)
      policy = MISSING_SKIP;
    else if (strcmp(s, "nan") == 0)
      policy = MISSING_NAN;
    else if (strcmp(s, "error") != 0)
      luaL_error(L, "read_csv: missing: expected \"error\", \"skip\", \"nan\" or a number, got \"%s\"", s);
  } else if (type != LUA_TNIL) {
    luaL_error(L, "read_csv: missing: expected \"error\", \"skip\", \"nan\" or a number, got %s",
               rcl_typename(L, -1));
  }
  lua_pop(L, 1);
  return policy;
}

static char read_separator(lua_State *L, int options, const char *text, size_t len) {
  if (lua_getfield(L, options, "separator") == LUA_TNIL) {
    lua_pop(L, 1);
    return rc_csv_sniff(text, len);
  }
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  if (!s || n != 1 || *s == '"' || *s == '\n' || *s == '\r')
    luaL_error(L, "read_csv: separator: expected one character other than a quote or a line end");
  char sep = *s;
  lua_pop(L, 1);
  return sep;
}

/* the current record's field k */
#define FIELD(r, k) ((r)->scratch + (r)->starts[k])

/* whether the current record meets every `where` condition */
static int selected(csv_reader *r, const column_sink *sinks) {
  for (size_t k = 0; k < r->ncols; k++) {
    double v;
    if (sinks[k].where == 1 &&
        (r->lens[k] != sinks[k].where_len || memcmp(FIELD(r, k), sinks[k].where_text, r->lens[k]) != 0))
      return 0;
    if (sinks[k].where == 2 && !(parse_number(FIELD(r, k), r->lens[k], &v) && v == sinks[k].where_number))
      return 0;
  }
  return 1;
}

/* raises the error for field k of the current record, which is not a number */
static void cell_error(csv_reader *r, const column_sink *sink, size_t k, size_t row, int missing) {
  lua_State *L = r->L;
  const char *cell = r->lens[k] ? lua_pushfstring(L, "'%s'", FIELD(r, k)) : "an empty cell";
  luaL_error(L, "read_csv: row %s (line %s), column '%s': %s %s", rcl_istr(L, (long long)row),
             rcl_istr(L, (long long)r->start_line), sink->name, cell,
             missing
                 ? "is a missing value (read_csv's option missing = \"skip\", \"nan\" or a number accepts it)"
                 : "is not a finite number");
}

/* the numbers of the current record's numeric columns into values; 0 to skip the record */
static int record_numbers(csv_reader *r, const column_sink *sinks, missing_policy policy, double fill,
                          size_t row, double *values) {
  for (size_t k = 0; k < r->ncols; k++) {
    if (sinks[k].wanted != 1 || parse_number(FIELD(r, k), r->lens[k], &values[k])) continue;
    int missing = is_missing(FIELD(r, k), r->lens[k]);
    if (!missing || policy == MISSING_ERROR) cell_error(r, &sinks[k], k, row, missing);
    if (policy == MISSING_SKIP) return 0;
    values[k] = policy == MISSING_NAN ? NAN : fill;
  }
  return 1;
}

/* read_csv(text, numbers, strings [, {separator, missing, where}]) -> {name = tensor or array
 * of strings}, rows. Rows failing a `where` condition or skipped for a missing value are left
 * out; the separator is sniffed from the header when not given. */
static int l_read_csv(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  rcl_check_array(L, 2, "numbers", RCL_MAX_ARRAY);
  rcl_check_array(L, 3, "strings", RCL_MAX_ARRAY);
  if (lua_isnoneornil(L, 4)) {
    lua_settop(L, 3);
    lua_newtable(L);
  }
  luaL_checktype(L, 4, LUA_TTABLE);
  lua_settop(L, 4);
  double fill = 0;
  missing_policy policy = read_missing(L, 4, &fill);
  csv_reader r;
  memset(&r, 0, sizeof r);
  r.L = L;
  size_t scratch; /* every field and its '\0': at most twice the input, plus one */
  if (!rc_size_mul(len, 2, &scratch) || !rc_size_add(scratch, 2, &scratch))
    return luaL_error(L, "read_csv: the text is too long");
  r.scratch = (char *)lua_newuserdatauv(L, scratch, 0); /* 5 */
  rc_csv_init(&r.c, text, len, read_separator(L, 4, text, len));
  size_t ncols = read_header(&r); /* 6: header */
  if (ncols == 0) return luaL_error(L, "read_csv: the file is empty (no header line)");
  if (lua_rawlen(L, 2) == 0 && lua_rawlen(L, 3) == 0)
    return luaL_error(L,
                      "read_csv: no column requested (give numbers = {...} and/or strings = {...}); the "
                      "columns are: %s",
                      column_list(L, 6, ncols));
  size_t bytes;
  if (!rc_size_mul(ncols, sizeof(column_sink) + 2 * sizeof(size_t) + sizeof(double), &bytes))
    return luaL_error(L, "read_csv: too many columns");
  column_sink *sinks = (column_sink *)lua_newuserdatauv(L, bytes, 0); /* 7 */
  memset(sinks, 0, bytes);
  r.starts = (size_t *)(void *)(sinks + ncols);
  r.lens = r.starts + ncols;
  double *values = (double *)(void *)(r.lens + ncols);
  r.ncols = ncols;
  want_columns(L, 2, "numbers", 1, sinks, 6, ncols);
  want_columns(L, 3, "strings", 2, sinks, 6, ncols);
  if (lua_getfield(L, 4, "where") == LUA_TTABLE) where_columns(L, lua_gettop(L), sinks, 6, ncols);
  lua_pop(L, 1);
  size_t rows = 0, n; /* pass 1: count and check the records */
  while ((n = read_record(&r)) > 0) {
    rows++;
    if (n != ncols)
      return luaL_error(L, "read_csv: row %s (line %s) has %s fields, expected %s",
                        rcl_istr(L, (long long)rows), rcl_istr(L, (long long)r.start_line),
                        rcl_istr(L, (long long)n), rcl_istr(L, (long long)ncols));
  }
  if (rows == 0) return luaL_error(L, "read_csv: no data rows after the header");
  lua_newtable(L); /* 8: result */
  for (size_t col = 0; col < ncols; col++) {
    if (sinks[col].wanted == 1) {
      lua_Integer shape = (lua_Integer)rows;
      sinks[col].numbers = rcl_new_tensor(L, 1, &shape)->data; /* narrowed to the kept rows below */
      lua_setfield(L, 8, sinks[col].name);
    } else if (sinks[col].wanted == 2) {
      luaL_checkstack(L, 4, "read_csv: too many string columns");
      lua_newtable(L); /* stays on the stack while filled */
      sinks[col].table_index = lua_gettop(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, 8, sinks[col].name);
    }
  }
  rc_csv_init(&r.c, text, len, r.c.separator); /* pass 2: fill */
  r.ncols = 0;
  read_record(&r);
  r.ncols = ncols;
  size_t kept = 0;
  for (size_t row = 1; read_record(&r) > 0; row++) {
    if (!selected(&r, sinks) || !record_numbers(&r, sinks, policy, fill, row, values)) continue;
    for (size_t k = 0; k < ncols; k++) {
      if (sinks[k].wanted == 1) sinks[k].numbers[kept] = (float)values[k];
      if (sinks[k].wanted == 2) {
        lua_pushlstring(L, FIELD(&r, k), r.lens[k]);
        lua_rawseti(L, sinks[k].table_index, (lua_Integer)kept + 1);
      }
    }
    kept++;
  }
  if (kept == 0)
    return luaL_error(L, "read_csv: no row is left (every row fails `where` or has a missing value)");
  for (size_t col = 0; col < ncols && kept < rows; col++) {
    if (sinks[col].wanted != 1) continue;
    lua_Integer shape = (lua_Integer)kept;
    lua_getfield(L, 8, sinks[col].name);
    rcl_new_view(L, -1, sinks[col].numbers, 1, &shape);
    lua_setfield(L, 8, sinks[col].name);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, 8);
  lua_pushinteger(L, (lua_Integer)kept);
  return 2;
}

/* ---- dates -------------------------------------------------------------------------- */

/* parse_datetime(text [, format]) -> seconds since 1970 UTC, or nil, the 1-based position of
 * the failure and what was expected there */
static int l_parse_datetime(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *format = luaL_optstring(L, 2, NULL);
  double seconds;
  rc_datetime_error err = {0, ""};
  int ok = format ? rc_datetime_parse(s, len, format, &seconds, &err)
                  : rc_datetime_parse_auto(s, len, &seconds, &err);
  if (ok) {
    if (seconds == floor(seconds) && fabs(seconds) < 9e15)
      lua_pushinteger(L, (lua_Integer)seconds);
    else
      lua_pushnumber(L, seconds);
    return 1;
  }
  lua_pushnil(L);
  lua_pushinteger(L, (lua_Integer)err.at + 1);
  lua_pushstring(L, err.expected);
  return 3;
}

static int l_datetime_forms(lua_State *L) {
  lua_pushstring(L, rc_datetime_auto_forms());
  return 1;
}

/* ---- windows -------------------------------------------------------------------------- */

/* gather_windows(series (N[, F]), starts (1-based rows), len, horizon, cols, time_major) -> x, y */
static int l_gather_windows(lua_State *L) {
  rc_tensor *s = rcl_check_tensor(L, 1, "series");
  if (s->ndim > 2) return luaL_argerror(L, 1, "series: expected a 1-D or 2-D tensor");
  lua_Integer N = s->shape[0], F = s->ndim == 2 ? s->shape[1] : 1;
  rcl_int_list starts = rcl_check_int_list(L, 2, "starts");
  lua_Integer len = rcl_check_integer_in(L, 3, "len", 1, N);
  lua_Integer horizon = rcl_check_integer_in(L, 4, "horizon", 0, N - len);
  rcl_int_list cols = rcl_check_int_list(L, 5, "cols");
  int time_major = lua_toboolean(L, 6);
  if (starts.n < 1 || starts.n > (size_t)INT32_MAX)
    return luaL_argerror(L, 2, "starts: expected 1 to 2^31 - 1 windows");
  if (cols.n < 1 || cols.n > (size_t)F) return luaL_argerror(L, 5, "cols: expected 1 to F target columns");
  size_t *first = (size_t *)lua_newuserdatauv(L, starts.n * sizeof(size_t), 0);
  int *targets = (int *)lua_newuserdatauv(L, cols.n * sizeof(int), 0);
  for (size_t b = 0; b < starts.n; b++)
    first[b] = (size_t)(rcl_int_list_check(&starts, b, 1, N - len - horizon + 1) - 1);
  for (size_t k = 0; k < cols.n; k++) targets[k] = (int)(rcl_int_list_check(&cols, k, 1, F) - 1);
  lua_Integer B = (lua_Integer)starts.n, K = (lua_Integer)cols.n;
  lua_Integer xs[3] = {time_major ? len : B, time_major ? B : len, F}, ys[3] = {B, horizon, K};
  size_t numel;
  if (!rcl_shape_numel(xs, 3, &numel) || !rcl_shape_numel(ys, 3, &numel))
    return luaL_error(L, "gather_windows: the batch is too large");
  rc_tensor *x = rcl_new_tensor(L, 3, xs);
  rc_tensor *y = rcl_new_tensor(L, 3, ys);
  rc_gather_windows(s->data, (int)F, first, (int)B, (int)len, (int)horizon, targets, (int)K, time_major,
                    x->data, y->data);
  return 2;
}

/* ---- text -------------------------------------------------------------------------------- */

#define CHUNK ((size_t)1 << 20) /* bytes read from a file at a time */

/* UTF-8 text from a string, or streamed from a Lua file handle through a CHUNK-byte buffer */
typedef struct text_source {
  lua_State *L;
  FILE *file; /* NULL for a string */
  const unsigned char *p;
  unsigned char *buf;
  size_t have, at; /* p[at .. have) is still to be read */
  size_t consumed; /* bytes before p[0] */
  int eof;
} text_source;

/* the FILE of the open Lua file handle at arg (its userdata starts with the FILE pointer in
 * 5.1, LuaJIT and 5.2+'s luaL_Stream alike) */
static FILE *check_file(lua_State *L, int arg) {
  void *p = luaL_testudata(L, arg, LUA_FILEHANDLE);
  if (!p) return NULL;
#if LUA_VERSION_NUM >= 502 && !defined(LUAJIT_VERSION)
  if (((luaL_Stream *)p)->closef == NULL) luaL_argerror(L, arg, "the file is closed");
#endif
  FILE *f = *(FILE **)p;
  if (!f) luaL_argerror(L, arg, "the file is closed");
  return f;
}

/* a source over the string or file at arg (a file's buffer is pushed and must stay on the stack) */
static void source_open(lua_State *L, int arg, text_source *s) {
  memset(s, 0, sizeof *s);
  s->L = L;
  if (lua_type(L, arg) == LUA_TSTRING) {
    s->p = (const unsigned char *)lua_tolstring(L, arg, &s->have);
    s->eof = 1;
    return;
  }
  s->file = check_file(L, arg);
  if (!s->file)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "text: expected a string or a file, got %s", rcl_typename(L, arg)));
  s->buf = (unsigned char *)lua_newuserdatauv(L, CHUNK, 0);
  s->p = s->buf;
}

static void refill(text_source *s) {
  size_t rest = s->have - s->at;
  memmove(s->buf, s->p + s->at, rest);
  s->consumed += s->at;
  size_t got = fread(s->buf + rest, 1, CHUNK - rest, s->file);
  if (got < CHUNK - rest) {
    if (ferror(s->file)) luaL_error(s->L, "cannot read the file: %s", strerror(errno));
    s->eof = 1;
  }
  s->have = rest + got;
  s->at = 0;
}

/* 1 and the next code point, or 0 at the end; raises on invalid UTF-8 */
static int next_char(text_source *s, uint32_t *cp) {
  if (s->have - s->at < 4 && !s->eof) refill(s);
  if (s->at == s->have) return 0;
  size_t k = rc_utf8_decode(s->p + s->at, s->have - s->at, cp);
  if (!k) luaL_error(s->L, "invalid UTF-8 at byte %s", rcl_istr(s->L, (long long)(s->consumed + s->at + 1)));
  s->at += k;
  return 1;
}

/* utf8_scan(text or file) -> the distinct characters (sorted by code point), the character count */
static int l_utf8_scan(lua_State *L) {
  text_source src;
  source_open(L, 1, &src);
  unsigned char *seen = (unsigned char *)lua_newuserdatauv(L, 0x110000 / 8, 0);
  memset(seen, 0, 0x110000 / 8);
  size_t distinct = 0, count = 0;
  uint32_t cp;
  while (next_char(&src, &cp)) {
    count++;
    if (!(seen[cp >> 3] & (1u << (cp & 7)))) distinct++;
    seen[cp >> 3] |= (unsigned char)(1u << (cp & 7));
  }
  lua_createtable(L, (int)distinct, 0);
  lua_Integer k = 0;
  for (cp = 0; cp < 0x110000; cp++) {
    if (!(seen[cp >> 3] & (1u << (cp & 7)))) continue;
    char buf[4];
    lua_pushlstring(L, buf, rc_utf8_encode(cp, buf));
    lua_rawseti(L, -2, ++k);
  }
  lua_pushinteger(L, (lua_Integer)count);
  return 2;
}

/* a character -> id map: a direct table for ASCII, (code point, id) pairs sorted for the rest */
typedef struct char_map {
  uint32_t ascii[128]; /* 0: not in the vocabulary */
  uint32_t *pairs;
  size_t npairs;
} char_map;

static int compare_pairs(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* the map of the characters in the array at arg (pairs buffer pushed) */
static void char_map_build(lua_State *L, int arg, char_map *m) {
  size_t V = rcl_check_array(L, arg, "chars", RC_IDS_MAX_ID);
  memset(m->ascii, 0, sizeof m->ascii);
  m->pairs = (uint32_t *)lua_newuserdatauv(L, (V ? V : 1) * 2 * sizeof(uint32_t), 0);
  m->npairs = 0;
  for (size_t i = 0; i < V; i++) {
    size_t cl;
    uint32_t cp = 0;
    lua_rawgeti(L, arg, (lua_Integer)i + 1);
    const char *ch = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &cl) : NULL;
    if (!ch || cl == 0 || rc_utf8_decode((const unsigned char *)ch, cl, &cp) != cl)
      luaL_argerror(
          L, arg,
          lua_pushfstring(L, "chars[%s]: expected one UTF-8 character, got %s", rcl_istr(L, (long long)i + 1),
                          ch ? lua_pushfstring(L, "\"%s\"", ch) : rcl_typename(L, -1)));
    lua_pop(L, 1);
    if (cp < 128) {
      m->ascii[cp] = (uint32_t)(i + 1);
    } else {
      m->pairs[2 * m->npairs] = cp;
      m->pairs[2 * m->npairs + 1] = (uint32_t)(i + 1);
      m->npairs++;
    }
  }
  qsort(m->pairs, m->npairs, 2 * sizeof(uint32_t), compare_pairs);
}

/* the id of cp, 0 when absent */
static uint32_t char_map_find(const char_map *m, uint32_t cp) {
  if (cp < 128) return m->ascii[cp];
  size_t lo = 0, hi = m->npairs;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (m->pairs[2 * mid] < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < m->npairs && m->pairs[2 * lo] == cp ? m->pairs[2 * lo + 1] : 0;
}

static void unknown_char(lua_State *L, uint32_t cp, size_t index) {
  char buf[4];
  lua_pushlstring(L, buf, rc_utf8_encode(cp, buf));
  const char *ch = lua_tostring(L, -1);
  luaL_error(L, "encode: character \"%s\" (at %s) is not in the vocabulary", ch,
             rcl_istr(L, (long long)index));
}

/* utf8_encode(text, chars) -> a 1-D tensor of the 1-based ids in chars of text's characters;
 * utf8_encode(file, chars, count) -> an IdBuffer of the ids of the file's next `count`
 * characters (the rest of the file, which must hold exactly that many) */
static int l_utf8_encode(lua_State *L) {
  int from_file = lua_type(L, 1) != LUA_TSTRING;
  lua_Integer count = from_file ? rcl_check_integer_in(L, 3, "count", 0, (lua_Integer)RCL_MAX_NUMEL) : 0;
  lua_settop(L, 3);
  char_map map;
  char_map_build(L, 2, &map); /* 4 */
  text_source src;
  source_open(L, 1, &src); /* 5 for a file */
  uint32_t cp;
  if (!from_file) {
    while (next_char(&src, &cp)) count++;
    src.at = 0;
    rc_tensor *out = rcl_new_tensor(L, 1, &count);
    for (size_t i = 0; next_char(&src, &cp); i++)
      if (!(out->data[i] = (float)char_map_find(&map, cp))) unknown_char(L, cp, i + 1);
    return 1;
  }
  size_t V = lua_rawlen(L, 2);
  rc_ids *out = rcl_new_ids(L, (size_t)count, rcl_ids_width((uint32_t)(V ? V : 1)));
  size_t i = 0;
  for (; next_char(&src, &cp); i++) {
    uint32_t id = char_map_find(&map, cp);
    if (!id) unknown_char(L, cp, i + 1);
    if (i == out->n)
      return luaL_error(L, "encode: the file holds more than the %s characters counted", rcl_istr(L, count));
    rc_ids_set(out, i, id);
  }
  if (i != out->n)
    return luaL_error(L, "encode: the file holds %s characters, not the %s counted",
                      rcl_istr(L, (long long)i), rcl_istr(L, count));
  return 1;
}

/* ---- words ------------------------------------------------------------------------------ */

static int word_byte(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
         ch >= 0x80;
}

/* tokenize(text, newlines, lower) -> the tokens: words (runs of letters, digits, '_' and
 * non-ASCII bytes, joined over inner apostrophes), each other printable byte alone, and "\n"
 * per line break when `newlines`; other whitespace separates. `lower` lowercases ASCII. */
static int l_tokenize(lua_State *L) {
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  int newlines = lua_toboolean(L, 2), lower = lua_toboolean(L, 3);
  char *scratch = (char *)lua_newuserdatauv(L, len ? len : 1, 0);
  lua_newtable(L);
  lua_Integer n = 0;
  for (size_t i = 0; i < len;) {
    unsigned char ch = s[i];
    size_t start = i;
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v' || (ch == '\n' && !newlines)) {
      i++;
      continue;
    }
    if (word_byte(ch)) {
      while (i < len &&
             (word_byte(s[i]) || (s[i] == '\'' && i + 1 < len && word_byte(s[i + 1]) && i > start)))
        i++;
    } else {
      i++;
    }
    for (size_t k = start; k < i; k++)
      scratch[k - start] = (char)(lower && s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
    lua_pushlstring(L, scratch, i - start);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

/* isatty(file) -> whether the Lua file handle is a terminal (for progress lines) */
static int l_isatty(lua_State *L) {
  FILE *f = check_file(L, 1);
  if (!f) return luaL_argerror(L, 1, lua_pushfstring(L, "file: expected a file, got %s", rcl_typename(L, 1)));
  lua_pushboolean(L, isatty(fileno(f)));
  return 1;
}

static const luaL_Reg data_functions[] = {{"read_csv", l_read_csv},
                                          {"parse_datetime", l_parse_datetime},
                                          {"datetime_forms", l_datetime_forms},
                                          {"gather_windows", l_gather_windows},
                                          {"utf8_scan", l_utf8_scan},
                                          {"utf8_encode", l_utf8_encode},
                                          {"tokenize", l_tokenize},
                                          {"isatty", l_isatty},
                                          {NULL, NULL}};

void rcl_open_data(lua_State *L) {
  luaL_setfuncs(L, data_functions, 0);
  rcl_open_ids(L);
}
