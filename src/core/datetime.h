/* Dates and times as seconds since 1970-01-01 00:00 UTC: strptime-style formats and the
 * common unambiguous forms (ISO 8601, YYYY/MM/DD, month names), without locale or time zone
 * database (a time without an offset is taken as UTC). */
#ifndef RECUR_CORE_DATETIME_H
#define RECUR_CORE_DATETIME_H

#include "common.h"

RC_BEGIN_DECLS

/* why a parse failed: the byte offset in the input and what was expected there */
typedef struct rc_datetime_error {
  size_t at;
  const char *expected;
} rc_datetime_error;

/* Parses s[0..n) with a strptime-style format: %Y %y %m %d %e %H %I %M %S %f %p %b %B %h %a %A
 * %z %j %T %F %%, whitespace in the format matching any run of whitespace (or none), any other
 * byte itself; %S takes an optional fraction (".25") unless the format continues with '.'.
 * 1 and *seconds on success; 0 and *err otherwise. */
RC_INTERNAL int rc_datetime_parse(const char *s, size_t n, const char *format, double *seconds,
                                  rc_datetime_error *err);

/* Parses the forms listed by rc_datetime_auto_forms, each optionally followed by a time
 * ("T13:00", " 1:05:30.25 PM") and a zone ("Z", "UTC", "+01:00", "-0530"). 1 and *seconds
 * on success; 0 and *err (the form that got furthest) otherwise. */
RC_INTERNAL int rc_datetime_parse_auto(const char *s, size_t n, double *seconds, rc_datetime_error *err);

/* the forms rc_datetime_parse_auto accepts, for messages */
RC_INTERNAL const char *rc_datetime_auto_forms(void);

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
RC_INTERNAL int64_t rc_days_from_civil(int64_t y, int m, int d);

RC_END_DECLS

#endif
