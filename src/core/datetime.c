#include "datetime.h"

#include <string.h>

int64_t rc_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                  /* [0, 399] */
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* what has been read so far; positions are kept to report range errors where they occur */
typedef struct fields {
  int64_t year;
  int month, day, yday, hour, minute, pm; /* yday 0: unset; pm -1: no AM/PM */
  double second;
  int64_t offset; /* seconds east of UTC */
  size_t day_at, hour_at, yday_at;
} fields;

typedef struct cursor {
  const char *s, *p, *end;
  rc_datetime_error *err;
} cursor;

static int fail(cursor *c, const char *expected) {
  c->err->at = (size_t)(c->p - c->s);
  c->err->expected = expected;
  return 0;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f'; }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch; }

static void skip_spaces(cursor *c) {
  while (c->p < c->end && is_space(*c->p)) c->p++;
}

/* an unsigned number of min_width..max_width digits (greedy) within [lo, hi] */
static int number(cursor *c, int min_width, int max_width, int64_t lo, int64_t hi, const char *expected,
                  int64_t *v) {
  const char *start = c->p;
  int64_t x = 0;
  while (c->p < c->end && c->p - start < max_width && is_digit(*c->p)) x = x * 10 + (*c->p++ - '0');
  if (c->p - start < min_width || x < lo || x > hi) {
    c->p = start;
    return fail(c, expected);
  }
  *v = x;
  return 1;
}

/* the index of the name (full, or its first three letters) at the cursor, case-insensitively */
static int name(cursor *c, const char *const *names, int count, const char *expected, int *index) {
  for (int i = 0; i < count; i++) {
    size_t full = strlen(names[i]);
    for (size_t len = full;; len = 3) {
      size_t k = 0;
      while (k < len && c->p + k < c->end && lower(c->p[k]) == lower(names[i][k])) k++;
      if (k == len) {
        c->p += len;
        *index = i;
        return 1;
      }
      if (len == 3) break;
    }
  }
  return fail(c, expected);
}

static const char *const MONTHS[12] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};
static const char *const WEEKDAYS[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

/* ".25" or ",25" after seconds */
static void fraction(cursor *c, double *second) {
  if (c->p + 1 < c->end && (*c->p == '.' || *c->p == ',') && is_digit(c->p[1])) {
    double scale = 0.1;
    c->p++;
    while (c->p < c->end && is_digit(*c->p)) {
      *second += (*c->p++ - '0') * scale;
      scale /= 10;
    }
  }
}

static int has_text(cursor *c, const char *text) {
  size_t n = strlen(text);
  if ((size_t)(c->end - c->p) < n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(c->p[i]) != lower(text[i])) return 0;
  c->p += n;
  return 1;
}

/* "Z", "UTC", "GMT", or an offset "+01", "+0100", "+01:00", "-05:30" */
static int zone(cursor *c, fields *f) {
  if (has_text(c, "Z") || has_text(c, "UTC") || has_text(c, "GMT")) {
    f->offset = 0;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) return zone(c, f); /* "UTC+02:00" */
    return 1;
  }
  if (c->p == c->end || (*c->p != '+' && *c->p != '-')) return fail(c, "a time zone (Z, +hh:mm or -hhmm)");
  int sign = *c->p++ == '-' ? -1 : 1;
  int64_t h, m = 0;
  if (!number(c, 2, 2, 0, 23, "an offset hour 00..23", &h)) return 0;
  if (c->p < c->end && *c->p == ':') c->p++;
  if (c->p < c->end && is_digit(*c->p) && !number(c, 2, 2, 0, 59, "offset minutes 00..59", &m)) return 0;
  f->offset = sign * (h * 3600 + m * 60);
  return 1;
}

static int am_pm(cursor *c, fields *f) {
  if (has_text(c, "AM") || has_text(c, "A.M.")) return f->pm = 0, 1;
  if (has_text(c, "PM") || has_text(c, "P.M.")) return f->pm = 1, 1;
  return fail(c, "AM or PM");
}

static int parse_format(cursor *c, const char *format, fields *f, int auto_year);

static int directive(cursor *c, char d, const char *rest, fields *f, int auto_year) {
  int64_t v;
  int index;
  if (d != 'p' && d != 'b' && d != 'B' && d != 'h' && d != 'a' && d != 'A' && d != 'z' && d != 'Z') {
    if (d != '%' && d != 'n' && d != 't') skip_spaces(c); /* numeric fields may be space-padded */
  }
  switch (d) {
    case 'Y':
      if (!number(c, auto_year ? 4 : 1, 4, 0, 9999, "a year of 4 digits", &v)) return 0;
      f->year = v;
      return 1;
    case 'y':
      if (!number(c, 2, 2, 0, 99, "a year of 2 digits", &v)) return 0;
      f->year = v < 69 ? 2000 + v : 1900 + v; /* POSIX: 69..99 are 1969..1999 */
      return 1;
    case 'm':
      if (!number(c, 1, 2, 1, 12, "a month 1..12", &v)) return 0;
      f->month = (int)v;
      return 1;
    case 'd':
    case 'e':
      f->day_at = (size_t)(c->p - c->s);
      if (!number(c, 1, 2, 1, 31, "a day 1..31", &v)) return 0;
      f->day = (int)v;
      return 1;
    case 'j':
      f->yday_at = (size_t)(c->p - c->s);
      if (!number(c, 1, 3, 1, 366, "a day of the year 1..366", &v)) return 0;
      f->yday = (int)v;
      return 1;
    case 'H':
    case 'I':
      f->hour_at = (size_t)(c->p - c->s);
      if (!number(c, 1, 2, d == 'H' ? 0 : 1, d == 'H' ? 23 : 12, d == 'H' ? "an hour 0..23" : "an hour 1..12",
                  &v))
        return 0;
      f->hour = (int)v;
      return 1;
    case 'M':
      if (!number(c, 1, 2, 0, 59, "minutes 0..59", &v)) return 0;
      f->minute = (int)v;
      return 1;
    case 'S':
      if (!number(c, 1, 2, 0, 60, "seconds 0..60", &v)) return 0;
      f->second = (double)v;
      if (*rest != '.' && *rest != ',') fraction(c, &f->second);
      return 1;
    case 'f': {
      const char *start = c->p;
      double scale = 0.1;
      while (c->p < c->end && is_digit(*c->p)) {
        f->second += (*c->p++ - '0') * scale;
        scale /= 10;
      }
      return c->p > start ? 1 : fail(c, "digits of a fraction of a second");
    }
    case 'p': return am_pm(c, f);
    case 'b':
    case 'B':
    case 'h':
      if (!name(c, MONTHS, 12, "a month name (Jan or January)", &index)) return 0;
      f->month = index + 1;
      return 1;
    case 'a':
    case 'A': return name(c, WEEKDAYS, 7, "a weekday name (Mon or Monday)", &index);
    case 'z':
    case 'Z': return zone(c, f);
    case 'T': return parse_format(c, "%H:%M:%S", f, auto_year);
    case 'R': return parse_format(c, "%H:%M", f, auto_year);
    case 'F': return parse_format(c, "%Y-%m-%d", f, auto_year);
    case 'n':
    case 't': skip_spaces(c); return 1;
    case '%':
      if (c->p < c->end && *c->p == '%') return c->p++, 1;
      return fail(c, "'%'");
    default: return fail(c, "a format directive among %Y %y %m %d %e %j %H %I %M %S %f %p %b %B %a %z %T %F");
  }
}

/* how a literal of a format is named in messages */
static const char *literal_name(char ch) {
  switch (ch) {
    case '-': return "'-'";
    case '/': return "'/'";
    case ':': return "':'";
    case '.': return "'.'";
    case ',': return "','";
    case 'T': return "'T'";
    default: return "a character of the format";
  }
}

static int parse_format(cursor *c, const char *format, fields *f, int auto_year) {
  for (const char *q = format; *q; q++) {
    if (*q == '%') {
      if (!q[1]) return fail(c, "a directive after '%' at the end of the format");
      if (!directive(c, q[1], q + 2, f, auto_year)) return 0;
      q++;
    } else if (is_space(*q)) {
      skip_spaces(c);
    } else if (c->p < c->end && *c->p == *q) {
      c->p++;
    } else {
      return fail(c, literal_name(*q));
    }
  }
  return 1;
}

/* checks the fields together and turns them into seconds since the epoch */
static int finish(cursor *c, fields *f, double *seconds) {
  if (f->yday) {
    if (f->yday > 365 + is_leap(f->year)) {
      c->p = c->s + f->yday_at;
      return fail(c, "a day of the year within the year");
    }
  } else if (f->day > days_in_month(f->year, f->month)) {
    c->p = c->s + f->day_at;
    return fail(c, "a day within the month");
  }
  int hour = f->hour;
  if (f->pm >= 0) {
    if (hour < 1 || hour > 12) {
      c->p = c->s + f->hour_at;
      return fail(c, "an hour 1..12 with AM/PM");
    }
    hour = hour % 12 + (f->pm ? 12 : 0);
  }
  int64_t days = f->yday ? rc_days_from_civil(f->year, 1, 1) + f->yday - 1
                         : rc_days_from_civil(f->year, f->month, f->day);
  *seconds = (double)(days * 86400 + hour * 3600 + f->minute * 60 - f->offset) + f->second;
  return 1;
}

static void init_fields(fields *f) {
  memset(f, 0, sizeof *f);
  f->year = 1970;
  f->month = f->day = 1;
  f->pm = -1;
}

int rc_datetime_parse(const char *s, size_t n, const char *format, double *seconds, rc_datetime_error *err) {
  cursor c = {s, s, s + n, err};
  fields f;
  init_fields(&f);
  if (!parse_format(&c, format, &f, 0)) return 0;
  skip_spaces(&c);
  if (c.p != c.end) return fail(&c, "the end of the text");
  return finish(&c, &f, seconds);
}

/* after a date: nothing, or [T or spaces] h:mm[:ss[.fff]] [AM|PM] [zone] */
static int time_tail(cursor *c, fields *f) {
  if (c->p == c->end) return 1;
  if (*c->p == 'T' || *c->p == 't') {
    c->p++;
  } else if (is_space(*c->p)) {
    skip_spaces(c);
    if (c->p == c->end) return 1; /* trailing spaces */
  } else {
    return fail(c, "a time after the date (T13:00 or a space)");
  }
  if (!parse_format(c, "%H:%M", f, 1)) return 0;
  if (c->p < c->end && *c->p == ':' && !parse_format(c, ":%S", f, 1)) return 0;
  skip_spaces(c);
  if (c->p < c->end && (lower(*c->p) == 'a' || lower(*c->p) == 'p') && !am_pm(c, f)) return 0;
  skip_spaces(c);
  if (c->p < c->end && !zone(c, f)) return 0;
  return 1;
}

static const char *const AUTO_DATES[] = {"%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d",     "%b %d, %Y",  "%b %d %Y",
                                         "%d %b %Y", "%d-%b-%Y", "%a, %d %b %Y", "%a %b %d %Y"};

const char *rc_datetime_auto_forms(void) {
  return "2010-01-31 (ISO 8601: T13:00[:05[.25]], Z or +01:00), 2010/01/31 13:00[:05], 2010.01.31, "
         "Jan 31 2010, January 31, 2010, 31 Jan 2010, 31-Jan-2010, Sun, 31 Jan 2010 13:00:05 +0000";
}

int rc_datetime_parse_auto(const char *s, size_t n, double *seconds, rc_datetime_error *err) {
  rc_datetime_error best = {0, "a date"};
  for (size_t i = 0; i < sizeof AUTO_DATES / sizeof AUTO_DATES[0]; i++) {
    rc_datetime_error e;
    cursor c = {s, s, s + n, &e};
    fields f;
    init_fields(&f);
    skip_spaces(&c);
    if (parse_format(&c, AUTO_DATES[i], &f, 1) && time_tail(&c, &f)) {
      skip_spaces(&c);
      if (c.p == c.end) {
        if (finish(&c, &f, seconds)) return 1;
      } else {
        fail(&c, "the end of the text");
      }
    }
    if (e.at > best.at) best = e;
  }
  *err = best;
  return 0;
}
