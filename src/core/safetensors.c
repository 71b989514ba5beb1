#include "safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* ---- errors and the cursor ----------------------------------------------------------- */

typedef struct parser {
  const char *p, *end, *start;
  rc_st_header *h;
  char *err;
  size_t errlen;
} parser;

static int fail(parser *ps, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ps->err, ps->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int fail_at(parser *ps, const char *what) {
  return fail(ps, "invalid header JSON at byte %lu: %s", (unsigned long)(ps->p - ps->start), what);
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int expect(parser *ps, char ch) {
  skip_ws(ps);
  if (ps->p == ps->end || *ps->p != ch) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", ch);
    return fail_at(ps, what);
  }
  ps->p++;
  return 0;
}

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* ---- JSON values ---------------------------------------------------------------------------- */

static int hex4(parser *ps, uint32_t *out) {
  uint32_t v = 0;
  if (ps->end - ps->p < 4) return fail_at(ps, "truncated \\u escape");
  for (int i = 0; i < 4; i++) {
    char c = *ps->p++;
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (uint32_t)(c - 'A' + 10);
    else
      return fail_at(ps, "bad \\u escape");
  }
  *out = v;
  return 0;
}

/* a \uXXXX escape (with its surrogate pair) as a code point */
static int unicode_escape(parser *ps, uint32_t *cp) {
  if (hex4(ps, cp)) return -1;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail_at(ps, "lone low surrogate");
  if (*cp < 0xD800 || *cp > 0xDBFF) return 0;
  uint32_t low;
  if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') return fail_at(ps, "lone high surrogate");
  ps->p += 2;
  if (hex4(ps, &low)) return -1;
  if (low < 0xDC00 || low > 0xDFFF) return fail_at(ps, "bad surrogate pair");
  *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
  return 0;
}

/* a string, decoded into the header's string area */
static int parse_string(parser *ps, const char **out, size_t *len) {
  if (expect(ps, '"')) return -1;
  char *dst = ps->h->strings + ps->h->strings_used;
  size_t n = 0;
  char buf[4];
  for (;;) {
    if (ps->p == ps->end) return fail_at(ps, "unterminated string");
    unsigned char c = (unsigned char)*ps->p;
    size_t k = 1;
    const char *src = ps->p;
    if (c == '"') break;
    if (c < 0x20) return fail_at(ps, "control character in a string");
    if (c == '\\') {
      ps->p++;
      if (ps->p == ps->end) return fail_at(ps, "unterminated escape");
      char e = *ps->p++;
      const char *simple = strchr("\"\\/bfnrt", e);
      if (e == 'u') {
        uint32_t cp;
        if (unicode_escape(ps, &cp)) return -1;
        k = rc_utf8_encode(cp, buf);
      } else if (simple && e) {
        buf[0] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      } else {
        return fail_at(ps, "unknown escape");
      }
      src = buf;
    } else {
      uint32_t cp;
      k = rc_utf8_decode((const unsigned char *)ps->p, (size_t)(ps->end - ps->p), &cp);
      if (!k) return fail_at(ps, "invalid UTF-8");
      ps->p += k;
    }
    memcpy(dst + n, src, k);
    n += k;
  }
  ps->p++;
  ps->h->strings_used += n;
  *out = dst;
  *len = n;
  return 0;
}

/* a non-negative integer below 2^62 */
static int parse_uint(parser *ps, uint64_t *out) {
  skip_ws(ps);
  const char *s = ps->p;
  uint64_t v = 0;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
    if (v > ((uint64_t)1 << 62) / 10) return fail_at(ps, "integer too large");
    v = v * 10 + (uint64_t)(*ps->p++ - '0');
  }
  if (ps->p == s) return fail_at(ps, "expected a non-negative integer");
  if (ps->p - s > 1 && *s == '0') return fail_at(ps, "leading zero");
  *out = v;
  return 0;
}

/* [n, n, ...] into out (at most max values); returns the count or -1 */
static int parse_uint_array(parser *ps, uint64_t *out, int max, const char *what) {
  if (expect(ps, '[')) return -1;
  skip_ws(ps);
  int n = 0;
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return 0;
  }
  for (;;) {
    uint64_t v = 0;
    if (parse_uint(ps, &v)) return -1;
    if (n == max) return fail(ps, "%s has more than %d entries", what, max);
    out[n++] = v;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (expect(ps, ']')) return -1;
    return n;
  }
}

/* iterates the members of an object: calls member(ps, key, key_len, ud) positioned at each value */
typedef int (*member_fn)(parser *ps, const char *key, size_t key_len, void *ud);

static int parse_object(parser *ps, member_fn member, void *ud) {
  if (expect(ps, '{')) return -1;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return 0;
  }
  for (;;) {
    const char *key;
    size_t key_len;
    if (parse_string(ps, &key, &key_len)) return -1;
    if (expect(ps, ':')) return -1;
    if (member(ps, key, key_len, ud)) return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    return expect(ps, '}');
  }
}

/* ---- the header's entries ------------------------------------------------------------------------ */

static int key_is(const char *key, size_t len, const char *lit) {
  return key && len == strlen(lit) && memcmp(key, lit, len) == 0;
}

typedef struct tensor_fields {
  rc_st_tensor t;
  int seen_dtype, seen_shape, seen_offsets;
} tensor_fields;

static int tensor_member(parser *ps, const char *key, size_t len, void *ud) {
  tensor_fields *f = (tensor_fields *)ud;
  if (key_is(key, len, "dtype")) {
    const char *s;
    size_t n;
    if (parse_string(ps, &s, &n)) return -1;
    if (n >= sizeof f->t.dtype_name) return fail(ps, "unknown dtype");
    memcpy(f->t.dtype_name, s, n);
    f->t.dtype_name[n] = '\0';
    f->seen_dtype = 1;
    return 0;
  }
  if (key_is(key, len, "shape")) {
    int n = parse_uint_array(ps, f->t.shape, RC_ST_MAX_DIMS, "shape");
    if (n < 0) return -1;
    f->t.ndim = n;
    f->seen_shape = 1;
    return 0;
  }
  if (key_is(key, len, "data_offsets")) {
    uint64_t off[2];
    int n = parse_uint_array(ps, off, 2, "data_offsets");
    if (n < 0) return -1;
    if (n != 2) return fail(ps, "data_offsets must have 2 entries");
    f->t.begin = off[0];
    f->t.end = off[1];
    f->seen_offsets = 1;
    return 0;
  }
  return fail(ps, "unknown field '%.*s' in a tensor entry", (int)(len > 40 ? 40 : len), key);
}

static int meta_member(parser *ps, const char *key, size_t len, void *ud) {
  (void)ud;
  skip_ws(ps);
  if (ps->p == ps->end || *ps->p != '"')
    return fail(ps, "__metadata__ value of '%.*s' is not a string", (int)(len > 40 ? 40 : len), key);
  rc_st_meta m;
  m.key = key;
  m.key_len = len;
  if (parse_string(ps, &m.value, &m.value_len)) return -1;
  if (ps->h->meta) ps->h->meta[ps->h->n_meta] = m;
  ps->h->n_meta++;
  return 0;
}

static int top_member(parser *ps, const char *key, size_t len, void *ud) {
  int *seen_meta = (int *)ud;
  if (key_is(key, len, "__metadata__")) {
    if (*seen_meta) return fail(ps, "duplicate __metadata__");
    *seen_meta = 1;
    return parse_object(ps, meta_member, NULL);
  }
  tensor_fields f;
  memset(&f, 0, sizeof f);
  if (parse_object(ps, tensor_member, &f)) return -1;
  if (!f.seen_dtype || !f.seen_shape || !f.seen_offsets)
    return fail(ps, "tensor '%.*s' lacks dtype, shape or data_offsets", (int)(len > 60 ? 60 : len), key);
  int size = rc_st_dtype_size(f.t.dtype_name);
  if (!size)
    return fail(ps, "tensor '%.*s' has an unknown dtype '%s'", (int)(len > 60 ? 60 : len), key,
                f.t.dtype_name);
  f.t.dtype = strcmp(f.t.dtype_name, "F32") == 0    ? RC_ST_F32
              : strcmp(f.t.dtype_name, "F16") == 0  ? RC_ST_F16
              : strcmp(f.t.dtype_name, "BF16") == 0 ? RC_ST_BF16
                                                    : RC_ST_UNSUPPORTED;
  f.t.name = key;
  f.t.name_len = len;
  if (ps->h->tensors) ps->h->tensors[ps->h->n_tensors] = f.t;
  ps->h->n_tensors++;
  return 0;
}

int rc_st_parse(const char *json, size_t len, rc_st_header *h, char *err, size_t errlen) {
  parser ps;
  int seen_meta = 0;
  ps.p = ps.start = json;
  ps.end = json + len;
  ps.h = h;
  ps.err = err;
  ps.errlen = errlen;
  h->n_tensors = h->n_meta = 0;
  h->strings_used = 0;
  if (len == 0 || json[0] != '{') return fail(&ps, "the header does not start with '{'");
  if (parse_object(&ps, top_member, &seen_meta)) return -1;
  skip_ws(&ps); /* writers pad the header with spaces */
  if (ps.p != ps.end) return fail_at(&ps, "text after the header object");
  return 0;
}

/* ---- validation ------------------------------------------------------------------------------------ */

int rc_st_dtype_size(const char *name) {
  static const struct {
    const char *name;
    int size;
  } known[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
               {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},  {"BOOL", 1}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(known[i].name, name) == 0) return known[i].size;
  return 0;
}

static int by_name(const void *a, const void *b) {
  const rc_st_tensor *x = (const rc_st_tensor *)a, *y = (const rc_st_tensor *)b;
  size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int c = memcmp(x->name, y->name, n);
  return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int by_offset(const void *a, const void *b) {
  const rc_st_tensor *x = (const rc_st_tensor *)a, *y = (const rc_st_tensor *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return (x->end > y->end) - (x->end < y->end);
}

static int vfail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

int rc_st_validate(rc_st_header *h, uint64_t data_len, char *err, size_t errlen) {
  if (h->n_tensors > 1) qsort(h->tensors, h->n_tensors, sizeof *h->tensors, by_name);
  for (size_t i = 0; i + 1 < h->n_tensors; i++)
    if (by_name(&h->tensors[i], &h->tensors[i + 1]) == 0)
      return vfail(err, errlen, "duplicate tensor name '%.*s'",
                   (int)(h->tensors[i].name_len > 60 ? 60 : h->tensors[i].name_len), h->tensors[i].name);
  for (size_t i = 0; i < h->n_meta; i++)
    for (size_t j = i + 1; j < h->n_meta; j++)
      if (h->meta[i].key_len == h->meta[j].key_len &&
          memcmp(h->meta[i].key, h->meta[j].key, h->meta[i].key_len) == 0)
        return vfail(err, errlen, "duplicate __metadata__ key '%.*s'",
                     (int)(h->meta[i].key_len > 60 ? 60 : h->meta[i].key_len), h->meta[i].key);
  if (h->n_tensors > 1) qsort(h->tensors, h->n_tensors, sizeof *h->tensors, by_offset);
  uint64_t at = 0;
  for (size_t i = 0; i < h->n_tensors; i++) {
    const rc_st_tensor *t = &h->tensors[i];
    int name_len = (int)(t->name_len > 60 ? 60 : t->name_len);
    uint64_t n = (uint64_t)rc_st_dtype_size(t->dtype_name);
    for (int d = 0; d < t->ndim; d++) {
      if (t->shape[d] && n > UINT64_MAX / 4 / t->shape[d])
        return vfail(err, errlen, "tensor '%.*s': its shape overflows", name_len, t->name);
      n *= t->shape[d];
    }
    if (t->end < t->begin)
      return vfail(err, errlen, "tensor '%.*s': data_offsets end before they begin", name_len, t->name);
    if (t->end - t->begin != n)
      return vfail(err, errlen, "tensor '%.*s': shape x dtype size is %llu bytes but data_offsets span %llu",
                   name_len, t->name, (unsigned long long)n, (unsigned long long)(t->end - t->begin));
    if (t->begin != at)
      return vfail(err, errlen,
                   "tensor '%.*s': data_offsets start at %llu, expected %llu (ranges must tile the data "
                   "with no gap or overlap)",
                   name_len, t->name, (unsigned long long)t->begin, (unsigned long long)at);
    at = t->end;
  }
  if (at != data_len)
    return vfail(err, errlen, "the tensors cover %llu bytes of data but the file has %llu",
                 (unsigned long long)at, (unsigned long long)data_len);
  return 0;
}

/* ---- element conversion ------------------------------------------------------------------------------ */

static float bits_to_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* IEEE 754 half precision to single */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0x1F) return bits_to_float(sign | 0x7F800000u | (mant << 13)); /* inf, NaN */
  if (exp == 0) {                                                           /* zero, subnormal */
    float v = ldexpf((float)mant, -24);
    return sign ? -v : v;
  }
  return bits_to_float(sign | ((exp + 112) << 23) | (mant << 13));
}

float rc_st_load(rc_st_dtype dtype, const unsigned char *data, size_t i) {
  switch (dtype) {
    case RC_ST_F32: {
      const unsigned char *b = data + i * 4;
      return bits_to_float((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                           (uint32_t)b[3] << 24);
    }
    case RC_ST_F16: return half_to_float((uint16_t)(data[i * 2] | data[i * 2 + 1] << 8));
    case RC_ST_BF16: return bits_to_float((uint32_t)(data[i * 2] | data[i * 2 + 1] << 8) << 16);
    default: return NAN;
  }
}

void rc_st_store_f32(float v, unsigned char *out) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  for (int k = 0; k < 4; k++) out[k] = (unsigned char)(bits >> (8 * k));
}

size_t rc_json_escape(const char *s, size_t n, char *out) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    size_t k;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      k = 2;
    } else if (c < 0x20) {
      k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
    } else {
      esc[0] = (char)c;
      k = 1;
    }
    if (out) memcpy(out + len, esc, k);
    len += k;
  }
  return len;
}
