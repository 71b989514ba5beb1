/* safetensors encoding and decoding between Lua strings and tensors (files are written by
 * files.c's write_file_atomic). */
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/safetensors.h"
#include "tensor.h"

/* ---- encode -------------------------------------------------------------------------------- */

static void add_json_string(luaL_Buffer *b, const char *s, size_t n) {
  luaL_addchar(b, '"');
  for (size_t i = 0; i < n; i++) { /* a character at a time: 5.1 has no luaL_prepbuffsize */
    char esc[8];
    luaL_addlstring(b, esc, rc_json_escape(s + i, 1, esc));
  }
  luaL_addchar(b, '"');
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

/* st_encode(names, tensors, meta_keys, meta_values) -> bytes: tensors (an array, each
 * with its name in names) as F32, in this order; metadata string pairs. */
static int l_st_encode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1), nmeta = luaL_len(L, 3);
  if (luaL_len(L, 2) != n || luaL_len(L, 4) != nmeta) return luaL_error(L, "st_encode: mismatched arrays");
  luaL_Buffer hb;
  luaL_buffinit(L, &hb); /* the header, built on the stack above the arguments */
  luaL_addchar(&hb, '{');
  if (nmeta > 0) {
    luaL_addstring(&hb, "\"__metadata__\":{");
    for (lua_Integer i = 1; i <= nmeta; i++) {
      size_t kl, vl;
      lua_rawgeti(L, 3, i);
      lua_rawgeti(L, 4, i);
      const char *k = lua_tolstring(L, -2, &kl), *v = lua_tolstring(L, -1, &vl);
      if (!k || !v) return luaL_error(L, "st_encode: metadata keys and values must be strings");
      lua_pop(L, 2);
      if (i > 1) luaL_addchar(&hb, ',');
      add_json_string(&hb, k, kl);
      luaL_addchar(&hb, ':');
      add_json_string(&hb, v, vl);
    }
    luaL_addchar(&hb, '}');
  }
  uint64_t at = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    size_t nl;
    lua_rawgeti(L, 1, i);
    const char *name = lua_tolstring(L, -1, &nl);
    lua_pop(L, 1);
    lua_rawgeti(L, 2, i);
    rc_tensor *t = rcl_test_tensor(L, -1);
    lua_pop(L, 1);
    if (!name || !t)
      return luaL_error(L, "st_encode: entry %s needs a string name and a tensor",
                        rcl_istr(L, (long long)(i)));
    if (nmeta > 0 || i > 1) luaL_addchar(&hb, ',');
    add_json_string(&hb, name, nl);
    luaL_addstring(&hb, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
      if (d) luaL_addchar(&hb, ',');
      char num[32];
      snprintf(num, sizeof num, "%lld", (long long)t->shape[d]);
      luaL_addstring(&hb, num);
    }
    char offsets[80];
    snprintf(offsets, sizeof offsets, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
             (unsigned long long)(at + t->numel * 4));
    luaL_addstring(&hb, offsets);
    at += t->numel * 4;
  }
  luaL_addchar(&hb, '}');
  luaL_pushresult(&hb); /* 5: header */
  size_t hlen;
  lua_tolstring(L, 5, &hlen);
  size_t padded = (hlen + 8 + 7) / 8 * 8 - 8; /* data starts 8-byte aligned, as the reference writes */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  unsigned char len8[8];
  for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)padded >> (8 * k));
  luaL_addlstring(&b, (const char *)len8, 8);
  lua_pushvalue(L, 5);
  luaL_addvalue(&b);
  for (size_t k = hlen; k < padded; k++) luaL_addchar(&b, ' ');
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    rc_tensor *t = rcl_test_tensor(L, -1);
    lua_pop(L, 1); /* the argument table keeps it alive */
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
  const char *json = (const char *)bytes + 8;
  rc_st_header h;
  char err[256];
  memset(&h, 0, sizeof h);
  h.strings = (char *)lua_newuserdatauv(L, (size_t)hlen + 1, 0);
  if (rc_st_parse(json, (size_t)hlen, &h, err, sizeof err)) return decode_error(L, err);
  size_t nt = h.n_tensors, nm = h.n_meta;
  h.tensors = (rc_st_tensor *)lua_newuserdatauv(L, (nt ? nt : 1) * sizeof(rc_st_tensor), 0);
  h.meta = (rc_st_meta *)lua_newuserdatauv(L, (nm ? nm : 1) * sizeof(rc_st_meta), 0);
  if (rc_st_parse(json, (size_t)hlen, &h, err, sizeof err) || h.n_tensors != nt || h.n_meta != nm)
    return decode_error(L, err);
  const unsigned char *data = bytes + 8 + hlen;
  if (rc_st_validate(&h, len - 8 - hlen, err, sizeof err)) return decode_error(L, err);
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
