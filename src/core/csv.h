/* A CSV tokenizer (RFC 4180: separated fields, optionally in double quotes, "" for a quote
 * inside, CRLF or LF line ends) over a byte buffer; the separator is a comma, a semicolon,
 * a tab or any other byte but a quote or a line end. */
#ifndef RECUR_CORE_CSV_H
#define RECUR_CORE_CSV_H

#include "common.h"

RC_BEGIN_DECLS

typedef enum rc_csv_status {
  RC_CSV_FIELD,      /* a field, more follow in this record */
  RC_CSV_LAST_FIELD, /* the record's last field */
  RC_CSV_EOF,        /* no more records */
  RC_CSV_BAD_QUOTE   /* an unterminated quote, or text after a closing quote */
} rc_csv_status;

typedef struct rc_csv {
  const char *p, *end;
  size_t line;       /* 1-based line where the current record started */
  int empty_pending; /* the input ended right after a separator: one empty field is left */
  char separator;
} rc_csv;

RC_INTERNAL void rc_csv_init(rc_csv *c, const char *data, size_t len, char separator);
/* The separator of the first line: whichever of ',', ';' and tab occurs most often outside
 * quotes (a comma on ties and when none occurs). */
RC_INTERNAL char rc_csv_sniff(const char *data, size_t len);
/* Reads the next field into out (room for as many bytes as remain in the input),
 * with quotes removed; *len gets its length. */
RC_INTERNAL rc_csv_status rc_csv_field(rc_csv *c, char *out, size_t *len);

RC_END_DECLS

#endif
