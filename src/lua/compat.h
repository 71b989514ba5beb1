/* Lua headers and the few compatibility shims recur needs. Lua 5.4 is primary; 5.3,
 * 5.1 and LuaJIT 2.1 (which reports 5.1) are supported through the macros below, each
 * of which maps a newer API call onto an rcl_ function written with the older API.
 * Every userdata of recur has at most one user value (in 5.1 and 5.2 kept in a table). */
#ifndef RECUR_LUA_COMPAT_H
#define RECUR_LUA_COMPAT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define RECUR_EXTERN_C extern "C"
#else
#define RECUR_EXTERN_C
#endif

#include "lauxlib.h"
#include "lua.h"

#if defined(__has_include)
#if __has_include("luajit.h")
#include "luajit.h" /* LUAJIT_VERSION is defined only here */
#endif
#endif

#if defined(_WIN32) /* a DLL that marks some symbols dllexport exports only those */
#define RECUR_API RECUR_EXTERN_C __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define RECUR_API RECUR_EXTERN_C __attribute__((visibility("default")))
#else
#define RECUR_API RECUR_EXTERN_C
#endif
#if defined(__GNUC__) || defined(__clang__)
#define RCL_UNUSED __attribute__((unused))
#else
#define RCL_UNUSED
#endif

#ifndef LUA_VERSION_NUM
#define LUA_VERSION_NUM 501
#endif

/* ---- 5.4: user values -------------------------------------------------------------------- */
#if LUA_VERSION_NUM < 504

#define lua_newuserdatauv(L, size, nuv) lua_newuserdata(L, size)
#define lua_getiuservalue(L, idx, n) rcl_getuservalue(L, idx)
#define lua_setiuservalue(L, idx, n) rcl_setuservalue(L, idx)
#define luaL_typeerror(L, arg, tname) rcl_typeerror(L, arg, tname)

static RCL_UNUSED int rcl_absindex(lua_State *L, int idx) {
  return idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : lua_gettop(L) + idx + 1;
}

/* pushes the user value of the userdata at idx; returns its type */
static RCL_UNUSED int rcl_getuservalue(lua_State *L, int idx) {
#if LUA_VERSION_NUM == 503
  return lua_getuservalue(L, idx);
#else /* 5.1 and 5.2 take only tables: the value is the table's [1] */
#if LUA_VERSION_NUM == 501
  lua_getfenv(L, idx);
#else
  lua_getuservalue(L, idx);
#endif
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return LUA_TNIL;
  }
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
  return lua_type(L, -1);
#endif
}

/* pops a value and makes it the user value of the userdata at idx */
static RCL_UNUSED int rcl_setuservalue(lua_State *L, int idx) {
  idx = rcl_absindex(L, idx);
#if LUA_VERSION_NUM == 503
  lua_setuservalue(L, idx);
#else
  lua_createtable(L, 1, 0);
  lua_insert(L, -2);
  lua_rawseti(L, -2, 1);
#if LUA_VERSION_NUM == 501
  lua_setfenv(L, idx);
#else
  lua_setuservalue(L, idx);
#endif
#endif
  return 1;
}

static RCL_UNUSED int rcl_typeerror(lua_State *L, int arg, const char *tname) {
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, luaL_typename(L, arg)));
}
#endif

/* ---- 5.3: integers, typed getters -------------------------------------------------------- */
#if LUA_VERSION_NUM < 503

/* 5.3 sets __name in new metatables; recur's Lua side and error messages use it */
static RCL_UNUSED int rcl_newmetatable(lua_State *L, const char *name) {
  if (!luaL_newmetatable(L, name)) return 0;
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  return 1;
}
#define luaL_newmetatable(L, name) rcl_newmetatable(L, name)

#define LUA_MAXINTEGER PTRDIFF_MAX
#define LUA_MININTEGER PTRDIFF_MIN
#define lua_getfield(L, idx, k) (lua_getfield(L, idx, k), lua_type(L, -1))
#define lua_geti(L, idx, n) rcl_geti(L, idx, n)
#define lua_rawgetp(L, idx, p) rcl_rawgetp(L, idx, p)
#define lua_rawsetp(L, idx, p) rcl_rawsetp(L, idx, p)
#define lua_tointegerx(L, idx, isnum) rcl_tointegerx(L, idx, isnum)
#define luaL_checkinteger(L, arg) rcl_checkinteger(L, arg)
#define luaL_optinteger(L, arg, def) (lua_isnoneornil(L, arg) ? (lua_Integer)(def) : rcl_checkinteger(L, arg))

static RCL_UNUSED int rcl_geti(lua_State *L, int idx, lua_Integer n) {
  idx = rcl_absindex(L, idx);
  lua_pushinteger(L, n);
  lua_gettable(L, idx);
  return lua_type(L, -1);
}

static RCL_UNUSED int rcl_rawgetp(lua_State *L, int idx, const void *p) {
  idx = rcl_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)p);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}

static RCL_UNUSED void rcl_rawsetp(lua_State *L, int idx, const void *p) {
  idx = rcl_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)p);
  lua_insert(L, -2);
  lua_rawset(L, idx);
}

/* integers are whole numbers in the lua_Integer range, as in 5.3 (5.1 would truncate) */
static RCL_UNUSED lua_Integer rcl_tointegerx(lua_State *L, int idx, int *isnum) {
  lua_Number v = lua_tonumber(L, idx);
  int ok = lua_isnumber(L, idx) && v == floor(v) && v >= -9.2233720368547758e18 && v < 9.2233720368547758e18;
  if (isnum) *isnum = ok;
  return ok ? (lua_Integer)v : 0;
}

static RCL_UNUSED lua_Integer rcl_checkinteger(lua_State *L, int arg) {
  int ok;
  lua_Integer v = rcl_tointegerx(L, arg, &ok);
  if (!ok) {
    luaL_argerror(L, arg,
                  lua_isnumber(L, arg)
                      ? "number has no integer representation"
                      : lua_pushfstring(L, "number expected, got %s", luaL_typename(L, arg)));
  }
  return v;
}
#endif

/* ---- 5.2: the auxiliary library -------------------------------------------------------- */
#if LUA_VERSION_NUM < 502
/* LuaJIT 2.1 has some of these, as macros or functions: ours replace them */
#undef lua_absindex
#undef luaL_len
#undef luaL_setfuncs
#undef luaL_newlib
#undef luaL_setmetatable
#undef luaL_testudata
#undef luaL_tolstring
#undef lua_rawlen

#define lua_absindex(L, idx) rcl_absindex(L, idx)
#define luaL_len(L, idx) ((lua_Integer)lua_objlen(L, idx))
#define lua_rawlen(L, idx) lua_objlen(L, idx)
#define luaL_setfuncs(L, l, nup) luaL_register(L, NULL, l)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, l))
#define luaL_setmetatable(L, name) (luaL_getmetatable(L, name), lua_setmetatable(L, -2))
#define luaL_testudata(L, idx, name) rcl_testudata(L, idx, name)
#define luaL_tolstring(L, idx, len) rcl_tolstring(L, idx, len)

static RCL_UNUSED void *rcl_testudata(lua_State *L, int idx, const char *name) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  luaL_getmetatable(L, name);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}

/* a printable form of any value, pushed */
static RCL_UNUSED const char *rcl_tolstring(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
    lua_pushvalue(L, idx);
  else if (lua_isboolean(L, idx))
    lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
  else if (lua_isnil(L, idx))
    lua_pushliteral(L, "nil");
  else
    lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
  return lua_tolstring(L, -1, len);
}
#endif

/* pushes the decimal form of an integer and returns it, for %s in messages (lua_pushfstring's
 * %I exists only from 5.3 on) */
#include <stdio.h>
static RCL_UNUSED const char *rcl_istr(lua_State *L, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  lua_pushstring(L, buf);
  return lua_tostring(L, -1);
}

/* the Lua version string for recur.config() */
#if defined(LUAJIT_VERSION)
#define RCL_LUA_RELEASE LUAJIT_VERSION
#else
#define RCL_LUA_RELEASE LUA_RELEASE
#endif

#endif
