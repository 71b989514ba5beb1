#include "csv.h"

void rc_csv_init(rc_csv *c, const char *data, size_t len, char separator) {
  c->p = data;
  c->end = data + len;
  c->line = 1;
  c->empty_pending = 0;
  c->separator = separator;
}

char rc_csv_sniff(const char *data, size_t len) {
  static const char candidates[3] = {',', ';', '\t'};
  size_t counts[3] = {0, 0, 0};
  int quoted = 0;
  for (size_t i = 0; i < len && (quoted || (data[i] != '\n' && data[i] != '\r')); i++) {
    if (data[i] == '"') quoted = !quoted;
    for (int k = 0; k < 3 && !quoted; k++) counts[k] += data[i] == candidates[k];
  }
  int best = 0;
  for (int k = 1; k < 3; k++)
    if (counts[k] > counts[best]) best = k;
  return candidates[best];
}

/* after a field: a separator (more follow), a line end or the end of input (last field) */
static rc_csv_status field_end(rc_csv *c) {
  if (c->p == c->end) return RC_CSV_LAST_FIELD;
  if (*c->p == c->separator) {
    c->p++;
    c->empty_pending = c->p == c->end;
    return RC_CSV_FIELD;
  }
  if (*c->p == '\r') c->p++;
  if (c->p < c->end && *c->p == '\n') c->p++;
  c->line++;
  return RC_CSV_LAST_FIELD;
}

static int ends_field(const rc_csv *c, char ch) { return ch == c->separator || ch == '\n' || ch == '\r'; }

rc_csv_status rc_csv_field(rc_csv *c, char *out, size_t *len) {
  size_t n = 0;
  *len = 0;
  if (c->empty_pending) {
    c->empty_pending = 0;
    return RC_CSV_LAST_FIELD;
  }
  if (c->p == c->end) return RC_CSV_EOF;
  if (*c->p != '"') {
    while (c->p < c->end && !ends_field(c, *c->p)) out[n++] = *c->p++;
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
  if (c->p < c->end && !ends_field(c, *c->p)) return RC_CSV_BAD_QUOTE;
  return field_end(c);
}
