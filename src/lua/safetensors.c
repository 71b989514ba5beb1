/* safetensors encoding and decoding between Lua strings and tensors (files are written by
 * files.c's write_file_atomic). */
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/safetensors.h"
#include "tensor.h"

/* ---- header parsing (shared by decode and encode's self-check) -------------------------- */

/* Parses and validates a header of hlen bytes for data_len bytes of data, into h, with
 * its arrays in userdata pushed on the stack (3 values). Returns 0, or -1 with err. */
static int parse_header(lua_State *L, const char *json, size_t hlen, uint64_t data_len, rc_st_header *h,
                        char *err, size_t errlen) {
  memset(h, 0, sizeof *h);
  h->strings = (char *)lua_newuserdatauv(L, hlen + 1, 0);
  int bad = rc_st_parse(json, hlen, h, err, errlen);
  size_t nt = h->n_tensors, nm = h->n_meta;
  h->tensors = (rc_st_tensor *)lua_newuserdatauv(L, (nt ? nt : 1) * sizeof(rc_st_tensor), 0);
  h->meta = (rc_st_meta *)lua_newuserdatauv(L, (nm ? nm : 1) * sizeof(rc_st_meta), 0);
  if (bad) return -1;
  if (rc_st_parse(json, hlen, h, err, errlen) || h->n_tensors != nt || h->n_meta != nm) return -1;
  return rc_st_validate(h, data_len, err, errlen);
}

/* ---- encode -------------------------------------------------------------------------------- */

static void add_json_string(luaL_Buffer *b, const char *s, size_t n) {
  luaL_addchar(b, '"');
  size_t plain = 0; /* runs that need no escape are added whole */
  for (size_t i = 0; i < n; i++) {
    char esc[8];
    size_t k = rc_json_escape(s + i, 1, esc);
    if (k == 1) continue;
    luaL_addlstring(b, s + plain, i - plain);
    luaL_addlstring(b, esc, k);
    plain = i + 1;
  }
  luaL_addlstring(b, s + plain, n - plain);
  luaL_addchar(b, '"');
}

/* the total length of the strings among the first n raw elements of the array at arg */
static size_t string_bytes(lua_State *L, int arg, size_t n) {
  size_t total = 0;
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, arg, (lua_Integer)i);
    if (lua_type(L, -1) == LUA_TSTRING) total += (size_t)lua_rawlen(L, -1);
    lua_pop(L, 1);
  }
  return total;
}

/* raises the error for a header over the readers' limit */
static int header_too_large(lua_State *L, size_t bytes) {
  return luaL_error(
      L, "the names and metadata make a header of %s bytes, over the %d-byte limit of safetensors readers",
      rcl_istr(L, (long long)bytes), (int)RC_ST_MAX_HEADER);
}

/* appends floats as little-endian F32, in chunks through a local buffer */
static void add_f32(luaL_Buffer *b, const float *data, size_t n) {
  unsigned char chunk[1024];
  while (n > 0) {
    size_t k = n < sizeof chunk / 4 ? n : sizeof chunk / 4;
    for (size_t e = 0; e < k; e++) rc_st_store_f32(data[e], chunk + e * 4);
    luaL_addlstring(b, (const char *)chunk, k * 4);
    data += k;
    n -= k;
  }
}

/* the UTF-8 string at raw index i of the array at arg */
static const char *utf8_at(lua_State *L, int arg, const char *what, size_t i, size_t *len) {
  const char *s = rcl_array_string(L, arg, what, i, len);
  size_t bad = rcl_utf8_error(s, *len);
  if (bad)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s[%s]: not valid UTF-8 (byte %s)", what, rcl_istr(L, (long long)i),
                                  rcl_istr(L, (long long)bad)));
  return s;
}

/* the tensor at raw index i of the array at arg */
static rc_tensor *tensor_at(lua_State *L, int arg, size_t i) {
  lua_rawgeti(L, arg, (lua_Integer)i);
  rc_tensor *t = rcl_test_tensor(L, -1);
  if (!t)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "tensors[%s]: expected a recur.Tensor, got %s",
                                  rcl_istr(L, (long long)i), rcl_typename(L, -1)));
  lua_pop(L, 1); /* the array keeps it alive */
  return t;
}

/* st_encode(names, tensors, meta_keys, meta_values) -> bytes: tensors (an array, each
 * with its name in names) as F32, in this order; metadata string pairs. Every string
 * must be UTF-8; the header is checked as st_decode checks it, so that what is encoded
 * always decodes. */
static int l_st_encode(lua_State *L) {
  size_t n = rcl_check_array(L, 1, "names", RCL_MAX_ARRAY),
         nmeta = rcl_check_array(L, 3, "keys", RCL_MAX_ARRAY);
  if (rcl_check_array(L, 2, "tensors", RCL_MAX_ARRAY) != n)
    return luaL_argerror(L, 2, "tensors: expected as many as names");
  if (rcl_check_array(L, 4, "values", RCL_MAX_ARRAY) != nmeta)
    return luaL_argerror(L, 4, "values: expected as many as keys");
  lua_settop(L, 4);
  /* the header is longer than its strings: refuse early what must be refused */
  size_t raw = string_bytes(L, 1, n) + string_bytes(L, 3, nmeta) + string_bytes(L, 4, nmeta);
  if (raw > RC_ST_MAX_HEADER) return header_too_large(L, raw);
  luaL_Buffer hb;
  luaL_buffinit(L, &hb); /* the header, built on the stack above the arguments */
  luaL_addchar(&hb, '{');
  if (nmeta > 0) {
    luaL_addstring(&hb, "\"__metadata__\":{");
    for (size_t i = 1; i <= nmeta; i++) {
      size_t kl, vl;
      const char *k = utf8_at(L, 3, "keys", i, &kl), *v = utf8_at(L, 4, "values", i, &vl);
      if (i > 1) luaL_addchar(&hb, ',');
      add_json_string(&hb, k, kl);
      luaL_addchar(&hb, ':');
      add_json_string(&hb, v, vl);
    }
    luaL_addchar(&hb, '}');
  }
  uint64_t at = 0;
  for (size_t i = 1; i <= n; i++) {
    size_t nl;
    const char *name = utf8_at(L, 1, "names", i, &nl);
    rc_tensor *t = tensor_at(L, 2, i);
    if (nmeta > 0 || i > 1) luaL_addchar(&hb, ',');
    add_json_string(&hb, name, nl);
    luaL_addstring(&hb, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
      if (d) luaL_addchar(&hb, ',');
      char num[32];
      snprintf(num, sizeof num, "%lld", (long long)t->shape[d]);
      luaL_addstring(&hb, num);
    }
    /* at most 2^31 tensors of at most 2^42 bytes each: no overflow in 64 bits */
    char offsets[80];
    snprintf(offsets, sizeof offsets, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
             (unsigned long long)(at + t->numel * 4));
    luaL_addstring(&hb, offsets);
    at += t->numel * 4;
  }
  luaL_addchar(&hb, '}');
  luaL_pushresult(&hb); /* 5: header */
  size_t hlen;
  const char *header = lua_tolstring(L, 5, &hlen);
  size_t padded = (hlen + 8 + 7) / 8 * 8 - 8; /* data starts 8-byte aligned, as the reference writes */
  if (padded > RC_ST_MAX_HEADER) return header_too_large(L, padded);
  rc_st_header h;
  char err[256];
  if (parse_header(L, header, hlen, at, &h, err, sizeof err))
    return luaL_error(L, "the file would not load back: %s", err);
  lua_settop(L, 5);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  unsigned char len8[8];
  for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)padded >> (8 * k));
  luaL_addlstring(&b, (const char *)len8, 8);
  lua_pushvalue(L, 5);
  luaL_addvalue(&b);
  for (size_t k = hlen; k < padded; k++) luaL_addchar(&b, ' ');
  for (size_t i = 1; i <= n; i++) {
    rc_tensor *t = tensor_at(L, 2, i);
    add_f32(&b, t->data, t->numel);
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- decode ---------------------------------------------------------------------------------- */

static int decode_error(lua_State *L, const char *what) {
  return luaL_error(L, "not a valid safetensors file: %s", what);
}

/* st_decode(bytes) -> names (array, file order), tensors (name -> tensor), metadata (table) */
static int l_st_decode(lua_State *L) {
  size_t len;
  const unsigned char *bytes = (const unsigned char *)luaL_checklstring(L, 1, &len);
  if (len < 8) return decode_error(L, "shorter than its 8-byte header length");
  uint64_t hlen = 0;
  for (int k = 0; k < 8; k++) hlen |= (uint64_t)bytes[k] << (8 * k);
  if (hlen > RC_ST_MAX_HEADER)
    return decode_error(
        L, lua_pushfstring(
               L, "header length %s is over the %d-byte limit",
               rcl_istr(L, (long long)((lua_Integer)(hlen > (uint64_t)LUA_MAXINTEGER ? LUA_MAXINTEGER
                                                                                     : (lua_Integer)hlen))),
               (int)RC_ST_MAX_HEADER));
  if (hlen > len - 8)
    return decode_error(L, lua_pushfstring(L, "header length %s runs past the end of the file (%s bytes)",
                                           rcl_istr(L, (long long)((lua_Integer)hlen)),
                                           rcl_istr(L, (long long)((lua_Integer)len))));
  rc_st_header h;
  char err[256];
  if (parse_header(L, (const char *)bytes + 8, (size_t)hlen, len - 8 - hlen, &h, err, sizeof err))
    return decode_error(L, err);
  const unsigned char *data = bytes + 8 + hlen;
  size_t nt = h.n_tensors, nm = h.n_meta;
  lua_createtable(L, (int)nt, 0); /* names */
  lua_createtable(L, 0, (int)nt); /* tensors */
  lua_createtable(L, 0, (int)nm); /* metadata */
  int names = lua_gettop(L) - 2, tensors = names + 1, meta = names + 2;
  for (size_t i = 0; i < nt; i++) {
    const rc_st_tensor *e = &h.tensors[i];
    if (e->dtype == RC_ST_UNSUPPORTED) {
      lua_pushlstring(L, e->name, e->name_len);
      return luaL_error(L, "tensor '%s' has dtype %s: recur reads F32, F16 and BF16", lua_tostring(L, -1),
                        e->dtype_name);
    }
    lua_Integer shape[RC_ST_MAX_DIMS];
    int ndim = e->ndim;
    for (int d = 0; d < ndim; d++) shape[d] = (lua_Integer)e->shape[d];
    if (ndim == 0) shape[ndim++] = 1; /* a scalar becomes a 1-element tensor */
    size_t numel;
    if (!rcl_shape_numel(shape, ndim, &numel)) {
      lua_pushlstring(L, e->name, e->name_len);
      return luaL_error(L, "tensor '%s' is too large for recur (at most %s elements)", lua_tostring(L, -1),
                        rcl_istr(L, (long long)RCL_MAX_NUMEL));
    }
    rc_tensor *t = rcl_new_tensor(L, ndim, shape);
    for (size_t k = 0; k < t->numel; k++) t->data[k] = rc_st_load(e->dtype, data + e->begin, k);
    lua_pushlstring(L, e->name, e->name_len);
    lua_pushvalue(L, -1);
    lua_rawseti(L, names, (lua_Integer)i + 1);
    lua_insert(L, -2);
    lua_rawset(L, tensors);
  }
  for (size_t i = 0; i < nm; i++) {
    lua_pushlstring(L, h.meta[i].key, h.meta[i].key_len);
    lua_pushlstring(L, h.meta[i].value, h.meta[i].value_len);
    lua_rawset(L, meta);
  }
  return 3;
}

static const luaL_Reg st_functions[] = {{"st_encode", l_st_encode}, {"st_decode", l_st_decode}, {NULL, NULL}};

void rcl_open_safetensors(lua_State *L) { luaL_setfuncs(L, st_functions, 0); }
