/* The safetensors format (Hugging Face): an 8-byte little-endian header length N,
 * N bytes of JSON  {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
 * ..., "__metadata__": {"key": "value", ...}}, then the raw little-endian data.
 *
 * The header parser is written here rather than taken from a JSON library: it reads
 * only this bounded subset (one object of objects, strings, arrays of integers), needs
 * no allocation (the caller sizes its arrays in a counting pass), and is small enough
 * to fuzz exhaustively. It validates as the reference implementation does. */
#ifndef RECUR_CORE_SAFETENSORS_H
#define RECUR_CORE_SAFETENSORS_H

#include "common.h"

RC_BEGIN_DECLS

#define RC_ST_MAX_HEADER 100000000u /* bytes, as the reference implementation */
#define RC_ST_MAX_DIMS 8

typedef enum rc_st_dtype { RC_ST_F32, RC_ST_F16, RC_ST_BF16, RC_ST_UNSUPPORTED } rc_st_dtype;

typedef struct rc_st_tensor {
  const char *name; /* UTF-8, decoded from JSON, in the header's string area */
  size_t name_len;
  rc_st_dtype dtype;
  char dtype_name[8];
  int ndim;
  uint64_t shape[RC_ST_MAX_DIMS];
  uint64_t begin, end; /* byte range in the data buffer */
} rc_st_tensor;

typedef struct rc_st_meta {
  const char *key, *value;
  size_t key_len, value_len;
} rc_st_meta;

typedef struct rc_st_header {
  rc_st_tensor *tensors; /* NULL in the counting pass */
  rc_st_meta *meta;
  size_t n_tensors, n_meta;
  char *strings; /* room for the decoded strings, in both passes: the header's length */
  size_t strings_used;
} rc_st_header;

/* Parses the JSON header (pass 1 with h->tensors == NULL counts the entries; pass 2
 * fills arrays of those sizes), then, with data_len known, validates and sorts the
 * tensors by offset. Returns 0, or -1 with a message in err. */
RC_INTERNAL int rc_st_parse(const char *json, size_t len, rc_st_header *h, char *err, size_t errlen);
RC_INTERNAL int rc_st_validate(rc_st_header *h, uint64_t data_len, char *err, size_t errlen);

/* bytes per element of a dtype name ("F32" -> 4), 0 when unknown */
RC_INTERNAL int rc_st_dtype_size(const char *name);

/* little-endian element i of a buffer of the given dtype, as a float */
RC_INTERNAL float rc_st_load(rc_st_dtype dtype, const unsigned char *data, size_t i);
RC_INTERNAL void rc_st_store_f32(float v, unsigned char *out);

/* JSON string escaping: writes the escaped form of s (without quotes) to out when not
 * NULL; returns its length */
RC_INTERNAL size_t rc_json_escape(const char *s, size_t n, char *out);

RC_END_DECLS

#endif
