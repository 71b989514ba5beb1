/* recur.IdBuffer (see ids.h): construction, element access, views and batches. */
#include "ids.h"

#include <string.h>

#include "args.h"
#include "tensor.h"

#define IDS_STORAGE "recur.IdStorage"
#define MAX_IDS RCL_MAX_NUMEL /* the ids of a tensor-sized stream */

int rcl_ids_width(uint32_t max_id) { return max_id <= 0xFF ? 1 : max_id <= 0xFFFF ? 2 : 4; }

static const char *dtype_name(int width) { return width == 1 ? "uint8" : width == 2 ? "uint16" : "uint32"; }

/* pushes a buffer over data that keeps the storage at `owner` alive */
static rc_ids *new_view(lua_State *L, int owner, unsigned char *data, size_t n, int width) {
  owner = lua_absindex(L, owner);
  rc_ids *b = (rc_ids *)lua_newuserdatauv(L, sizeof(rc_ids), 1);
  b->data = data;
  b->n = n;
  b->width = width;
  luaL_setmetatable(L, RC_IDS);
  if (luaL_testudata(L, owner, RC_IDS))
    lua_getiuservalue(L, owner, 1);
  else
    lua_pushvalue(L, owner);
  lua_setiuservalue(L, -2, 1);
  return b;
}

rc_ids *rcl_new_ids(lua_State *L, size_t n, int width) {
  size_t bytes = 0;
  if (n > MAX_IDS || !rc_size_mul(n, (size_t)width, &bytes))
    luaL_error(L, "IdBuffer: %s ids are too many", rcl_istr(L, (long long)n));
  unsigned char *data = (unsigned char *)lua_newuserdatauv(L, bytes ? bytes : 1, 0);
  luaL_setmetatable(L, IDS_STORAGE);
  memset(data, 0, bytes);
  rc_ids *b = new_view(L, -1, data, n, width);
  lua_remove(L, -2);
  return b;
}

rc_ids *rcl_check_ids(lua_State *L, int arg, const char *what) {
  rc_ids *b = (rc_ids *)luaL_testudata(L, arg, RC_IDS);
  if (!b)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%s: expected a recur.IdBuffer, got %s", what, rcl_typename(L, arg)));
  return b;
}

static rc_ids *self(lua_State *L) { return rcl_check_ids(L, 1, "self"); }

/* ids_new(n, max_id) -> a zeroed buffer of n ids wide enough for ids up to max_id */
static int l_ids_new(lua_State *L) {
  lua_Integer n = rcl_check_integer_in(L, 1, "n", 0, (lua_Integer)MAX_IDS);
  lua_Integer max_id = rcl_check_integer_in(L, 2, "max_id", 1, RC_IDS_MAX_ID);
  rcl_new_ids(L, (size_t)n, rcl_ids_width((uint32_t)max_id));
  return 1;
}

/* ids_from(list) -> a buffer of the ids in a tensor or an array (integers 1..2^24) */
static int l_ids_from(lua_State *L) {
  rcl_int_list list = rcl_check_int_list(L, 1, "ids");
  uint32_t max_id = 1;
  for (size_t i = 0; i < list.n; i++) {
    lua_Integer v = rcl_int_list_check(&list, i, 1, RC_IDS_MAX_ID);
    if ((uint32_t)v > max_id) max_id = (uint32_t)v;
  }
  rc_ids *b = rcl_new_ids(L, list.n, rcl_ids_width(max_id));
  for (size_t i = 0; i < list.n; i++) {
    lua_Integer v;
    rcl_int_list_at(&list, i, &v);
    rc_ids_set(b, i, (uint32_t)v);
  }
  return 1;
}

/* ids_batch(ids, row0, rows, stream, start, T, time_major) -> x, y: the buffer is read as
 * streams of `stream` ids back to back; x holds ids [start, start + T) of streams row0 ..
 * row0 + rows - 1 (0-based) and y the ids one further, as (rows, T) or, time major, (T, rows). */
static int l_ids_batch(lua_State *L) {
  rc_ids *b = rcl_check_ids(L, 1, "ids");
  lua_Integer limit = (lua_Integer)b->n;
  lua_Integer row0 = rcl_check_integer_in(L, 2, "row0", 0, limit);
  lua_Integer rows = rcl_check_integer_in(L, 3, "rows", 1, limit);
  lua_Integer stream = rcl_check_integer_in(L, 4, "stream", 1, limit);
  lua_Integer start = rcl_check_integer_in(L, 5, "start", 0, stream - 1);
  lua_Integer T = rcl_check_integer_in(L, 6, "T", 1, stream - start);
  int time_major = lua_toboolean(L, 7);
  size_t last; /* the offset of the last target: (row0 + rows - 1) * stream + start + T */
  if (!rc_size_mul((size_t)(row0 + rows - 1), (size_t)stream, &last) ||
      !rc_size_add(last, (size_t)(start + T), &last) || last >= b->n)
    return luaL_error(L, "ids_batch: streams %s..%s of %s ids run past the %s ids of the buffer",
                      rcl_istr(L, row0 + 1), rcl_istr(L, row0 + rows), rcl_istr(L, stream),
                      rcl_istr(L, (long long)b->n));
  lua_Integer xs[2] = {time_major ? T : rows, time_major ? rows : T};
  rc_tensor *x = rcl_new_tensor(L, 2, xs);
  rc_tensor *y = rcl_new_tensor(L, 2, xs);
  for (lua_Integer r = 0; r < rows; r++) {
    size_t base = (size_t)((row0 + r) * stream + start);
    for (lua_Integer t = 0; t < T; t++) {
      size_t at = (size_t)(time_major ? t * rows + r : r * T + t);
      x->data[at] = (float)rc_ids_get(b, base + (size_t)t);
      y->data[at] = (float)rc_ids_get(b, base + (size_t)t + 1);
    }
  }
  return 2;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)self(L)->n);
  return 1;
}

static int m_dim(lua_State *L) {
  self(L);
  lua_pushinteger(L, 1);
  return 1;
}

/* size() -> {n}; size(1) -> n, as a 1-D tensor's */
static int m_size(lua_State *L) {
  rc_ids *b = self(L);
  if (lua_isnoneornil(L, 2)) {
    lua_createtable(L, 1, 0);
    lua_pushinteger(L, (lua_Integer)b->n);
    lua_rawseti(L, -2, 1);
    return 1;
  }
  rcl_check_integer_in(L, 2, "dim", 1, 1);
  lua_pushinteger(L, (lua_Integer)b->n);
  return 1;
}

static int m_dtype(lua_State *L) {
  lua_pushstring(L, dtype_name(self(L)->width));
  return 1;
}

/* the largest id (0 for an empty buffer) */
static int m_max(lua_State *L) {
  rc_ids *b = self(L);
  uint32_t best = 0;
  for (size_t i = 0; i < b->n; i++) {
    uint32_t v = rc_ids_get(b, i);
    if (v > best) best = v;
  }
  lua_pushinteger(L, (lua_Integer)best);
  return 1;
}

/* narrow(1, start, length): a view of ids start .. start + length - 1 */
static int m_narrow(lua_State *L) {
  rc_ids *b = self(L);
  rcl_check_integer_in(L, 2, "dim", 1, 1);
  lua_Integer start = rcl_check_integer_in(L, 3, "start", 1, (lua_Integer)b->n);
  lua_Integer length = rcl_check_integer_in(L, 4, "length", 0, (lua_Integer)b->n - start + 1);
  new_view(L, 1, b->data + (size_t)(start - 1) * (size_t)b->width, (size_t)length, b->width);
  return 1;
}

/* totensor() -> a 1-D float tensor of the ids */
static int m_totensor(lua_State *L) {
  rc_ids *b = self(L);
  lua_Integer n = (lua_Integer)b->n;
  rc_tensor *t = rcl_new_tensor(L, 1, &n);
  for (size_t i = 0; i < b->n; i++) t->data[i] = (float)rc_ids_get(b, i);
  return 1;
}

static int m_totable(lua_State *L) {
  rc_ids *b = self(L);
  if (b->n > RCL_MAX_ARRAY)
    return luaL_error(L, "totable: %s ids are too many for a table", rcl_istr(L, (long long)b->n));
  lua_createtable(L, (int)b->n, 0);
  for (size_t i = 0; i < b->n; i++) {
    lua_pushinteger(L, (lua_Integer)rc_ids_get(b, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int m_len(lua_State *L) { return m_numel(L); }

static int mt_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    rc_ids *b = self(L);
    lua_Integer i = rcl_check_integer_in(L, 2, "index", 1, (lua_Integer)b->n);
    lua_pushinteger(L, (lua_Integer)rc_ids_get(b, (size_t)i - 1));
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* ids[i] = id, with id in 0 .. the largest the buffer's type holds */
static int mt_newindex(lua_State *L) {
  rc_ids *b = self(L);
  lua_Integer i = rcl_check_integer_in(L, 2, "index", 1, (lua_Integer)b->n);
  lua_Integer top = b->width == 1 ? 0xFF : b->width == 2 ? 0xFFFF : (lua_Integer)RC_IDS_MAX_ID;
  rc_ids_set(b, (size_t)i - 1, (uint32_t)rcl_check_integer_in(L, 3, "id", 0, top));
  return 0;
}

static int mt_tostring(lua_State *L) {
  rc_ids *b = self(L);
  lua_pushfstring(L, "recur.IdBuffer(%s ids, %s)", rcl_istr(L, (long long)b->n), dtype_name(b->width));
  return 1;
}

static const luaL_Reg ids_methods[] = {{"numel", m_numel},       {"dim", m_dim},         {"size", m_size},
                                       {"dtype", m_dtype},       {"max", m_max},         {"narrow", m_narrow},
                                       {"totensor", m_totensor}, {"totable", m_totable}, {NULL, NULL}};

static const luaL_Reg ids_functions[] = {
    {"ids_new", l_ids_new}, {"ids_from", l_ids_from}, {"ids_batch", l_ids_batch}, {NULL, NULL}};

void rcl_open_ids(lua_State *L) {
  luaL_newmetatable(L, IDS_STORAGE);
  lua_pop(L, 1);
  luaL_newmetatable(L, RC_IDS);
  luaL_newlib(L, ids_methods);
  lua_pushcclosure(L, mt_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, mt_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, mt_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, m_len);
  lua_setfield(L, -2, "__len");
  lua_pop(L, 1);
  luaL_setfuncs(L, ids_functions, 0);
}
