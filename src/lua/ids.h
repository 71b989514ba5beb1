/* recur.IdBuffer: a 1-D array of token ids (1-based) stored in the smallest unsigned integer
 * type that holds the vocabulary (uint8, uint16 or uint32), so that a large corpus takes one
 * to four bytes per token instead of a float's four. Views (narrow) share the storage, which
 * is a userdata of Lua's allocator. Batches are cut from it as float tensors. */
#ifndef RECUR_LUA_IDS_H
#define RECUR_LUA_IDS_H

#include "../core/common.h"
#include "compat.h"

#define RC_IDS "recur.IdBuffer"
/* ids must stay exact in float32 batches */
#define RC_IDS_MAX_ID ((uint32_t)1 << 24)

typedef struct rc_ids {
  unsigned char *data;
  size_t n;
  int width; /* bytes per id: 1, 2 or 4 */
} rc_ids;

static inline uint32_t rc_ids_get(const rc_ids *b, size_t i) {
  switch (b->width) {
    case 1: return b->data[i];
    case 2: return ((const uint16_t *)(const void *)b->data)[i];
    default: return ((const uint32_t *)(const void *)b->data)[i];
  }
}

static inline void rc_ids_set(rc_ids *b, size_t i, uint32_t v) {
  switch (b->width) {
    case 1: b->data[i] = (unsigned char)v; break;
    case 2: ((uint16_t *)(void *)b->data)[i] = (uint16_t)v; break;
    default: ((uint32_t *)(void *)b->data)[i] = v; break;
  }
}

/* bytes per id for ids up to max_id */
RC_INTERNAL int rcl_ids_width(uint32_t max_id);
/* pushes a new zeroed buffer of n ids of the given width */
RC_INTERNAL rc_ids *rcl_new_ids(lua_State *L, size_t n, int width);
RC_INTERNAL rc_ids *rcl_check_ids(lua_State *L, int arg, const char *what);
/* registers the IdBuffer metatable and the ids_* functions into the F table on top */
RC_INTERNAL void rcl_open_ids(lua_State *L);

#endif
