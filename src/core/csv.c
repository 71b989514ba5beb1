#include "csv.h"

void rc_csv_init(rc_csv *c, const char *data, size_t len) {
  c->p = data;
  c->end = data + len;
  c->line = 1;
  c->empty_pending = 0;
}

/* after a field: a comma (more follow), a line end or the end of input (last field) */
static rc_csv_status field_end(rc_csv *c) {
  if (c->p == c->end) return RC_CSV_LAST_FIELD;
  if (*c->p == ',') {
    c->p++;
    c->empty_pending = c->p == c->end;
    return RC_CSV_FIELD;
  }
  if (*c->p == '\r') c->p++;
  if (c->p < c->end && *c->p == '\n') c->p++;
  c->line++;
  return RC_CSV_LAST_FIELD;
}

static int ends_field(char ch) { return ch == ',' || ch == '\n' || ch == '\r'; }

rc_csv_status rc_csv_field(rc_csv *c, char *out, size_t *len) {
  size_t n = 0;
  *len = 0;
  if (c->empty_pending) {
    c->empty_pending = 0;
    return RC_CSV_LAST_FIELD;
  }
  if (c->p == c->end) return RC_CSV_EOF;
  if (*c->p != '"') {
    while (c->p < c->end && !ends_field(*c->p)) out[n++] = *c->p++;
    *len = n;
    return field_end(c);
  }
  c->p++; /* opening quote */
  for (;;) {
    if (c->p == c->end) return RC_CSV_BAD_QUOTE;
    if (*c->p == '"') {
      if (c->p + 1 < c->end && c->p[1] == '"') {
        out[n++] = '"';
        c->p += 2;
        continue;
      }
      c->p++; /* closing quote */
      break;
    }
    if (*c->p == '\n') c->line++;
    out[n++] = *c->p++;
  }
  *len = n;
  if (c->p < c->end && !ends_field(*c->p)) return RC_CSV_BAD_QUOTE;
  return field_end(c);
}
