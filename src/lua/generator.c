/* recur.Generator: a seeded PCG32 stream with uniform, normal and integer draws,
 * and a state that can be saved and restored exactly. */
#include "generator.h"

#include "args.h"

#include <stdio.h>
#include <string.h>

/* registry key of this lua_State's default generator (the address is the key) */
static const char default_key = 'g';

#define DEFAULT_SEED 0

static rc_rng *check_gen(lua_State *L, int arg) {
  return (rc_rng *)rcl_check_udata(L, arg, RC_GENERATOR, "self");
}

static lua_Integer check_seed(lua_State *L, int arg) {
  return rcl_check_integer_in(L, arg, "seed", LUA_MININTEGER, LUA_MAXINTEGER);
}

static rc_rng *push_new_generator(lua_State *L, lua_Integer seed) {
  rc_rng *g = (rc_rng *)lua_newuserdatauv(L, sizeof(rc_rng), 0);
  rc_rng_seed(g, (uint64_t)seed);
  luaL_setmetatable(L, RC_GENERATOR);
  return g;
}

rc_rng *rcl_default_generator(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &default_key);
  rc_rng *g = (rc_rng *)lua_touserdata(L, -1);
  lua_pop(L, 1); /* the registry keeps it alive */
  return g;
}

rc_rng *rcl_opt_generator(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return rcl_default_generator(L);
  rc_rng *g = (rc_rng *)luaL_testudata(L, arg, RC_GENERATOR);
  if (!g)
    rcl_argerror(L, arg,
                 lua_pushfstring(L, "generator: expected a recur.Generator, got %s", rcl_typename(L, arg)));
  return g;
}

static int l_generator(lua_State *L) {
  push_new_generator(L, lua_isnoneornil(L, 1) ? DEFAULT_SEED : check_seed(L, 1));
  return 1;
}

static int l_manual_seed(lua_State *L) {
  rc_rng_seed(rcl_default_generator(L), (uint64_t)check_seed(L, 1));
  return 0;
}

static int l_default_generator(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &default_key);
  return 1;
}

static int g_manual_seed(lua_State *L) {
  rc_rng_seed(check_gen(L, 1), (uint64_t)check_seed(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int g_initial_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_gen(L, 1)->seed);
  return 1;
}

/* g:uniform([a, b]) in [a, b), default [0, 1) */
static int g_uniform(lua_State *L) {
  rc_rng *g = check_gen(L, 1);
  double a = rcl_opt_number(L, 2, "a", 0.0), b = rcl_opt_number(L, 3, "b", 1.0);
  lua_pushnumber(L, a + (b - a) * rc_rng_uniform_d(g));
  return 1;
}

static int g_normal(lua_State *L) {
  rc_rng *g = check_gen(L, 1);
  double mean = rcl_opt_number(L, 2, "mean", 0.0), std = rcl_opt_number(L, 3, "std", 1.0);
  lua_pushnumber(L, mean + std * rc_rng_normal(g));
  return 1;
}

/* g:random(n): an integer in 1..n; g:random(m, n): in m..n (any m <= n, the whole
 * integer range included: the span hi - lo is taken in unsigned 64-bit arithmetic) */
static int g_random(lua_State *L) {
  rc_rng *g = check_gen(L, 1);
  lua_Integer lo = 1, hi;
  if (lua_isnoneornil(L, 3)) {
    hi = rcl_check_integer_in(L, 2, "n", 1, LUA_MAXINTEGER);
  } else {
    lo = rcl_check_integer_in(L, 2, "m", LUA_MININTEGER, LUA_MAXINTEGER);
    hi = rcl_check_integer_in(L, 3, "n", lo, LUA_MAXINTEGER);
  }
  uint64_t span = (uint64_t)hi - (uint64_t)lo; /* the count of values minus one */
  uint64_t offset = span == UINT64_MAX ? rc_rng_u64(g) : rc_rng_below(g, span + 1);
  /* lo + offset in two's complement, without signed overflow */
  lua_pushinteger(L, (lua_Integer)((uint64_t)lo + offset));
  return 1;
}

/* state as a printable string: "pcg32:<state>:<inc>:<seed>:<has_spare>:<spare>" */
static int g_get_state(lua_State *L) {
  rc_rng *g = check_gen(L, 1);
  char buf[160];
  snprintf(buf, sizeof buf, "pcg32:%016llx:%016llx:%016llx:%d:%a", (unsigned long long)g->state,
           (unsigned long long)g->inc, (unsigned long long)g->seed, g->has_spare, g->spare);
  lua_pushstring(L, buf);
  return 1;
}

static int g_set_state(lua_State *L) {
  rc_rng *g = check_gen(L, 1);
  if (lua_type(L, 2) != LUA_TSTRING)
    rcl_argerror(L, 2, lua_pushfstring(L, "state: expected a string, got %s", rcl_typename(L, 2)));
  const char *s = lua_tostring(L, 2);
  unsigned long long state, inc, seed;
  int has_spare, used = 0;
  double spare;
  if (sscanf(s, "pcg32:%16llx:%16llx:%16llx:%d:%la%n", &state, &inc, &seed, &has_spare, &spare, &used) != 5 ||
      s[used] != '\0' || (inc & 1u) == 0 || (has_spare != 0 && has_spare != 1))
    return rcl_argerror(L, 2, "state: not a string from Generator:get_state()");
  g->state = state;
  g->inc = inc;
  g->seed = seed;
  g->has_spare = has_spare;
  g->spare = spare;
  lua_settop(L, 1);
  return 1;
}

static int g_tostring(lua_State *L) {
  lua_pushfstring(L, "recur.Generator(seed=%s)",
                  rcl_istr(L, (long long)((lua_Integer)check_gen(L, 1)->seed)));
  return 1;
}

static const luaL_Reg generator_methods[] = {{"manual_seed", g_manual_seed}, {"initial_seed", g_initial_seed},
                                             {"uniform", g_uniform},         {"normal", g_normal},
                                             {"random", g_random},           {"get_state", g_get_state},
                                             {"set_state", g_set_state},     {NULL, NULL}};

static const luaL_Reg generator_functions[] = {{"Generator", l_generator},
                                               {"manual_seed", l_manual_seed},
                                               {"default_generator", l_default_generator},
                                               {NULL, NULL}};

void rcl_open_generator(lua_State *L) {
  luaL_newmetatable(L, RC_GENERATOR);
  luaL_newlib(L, generator_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, g_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &default_key) == LUA_TNIL) {
    push_new_generator(L, DEFAULT_SEED);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &default_key);
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, generator_functions, 0);
}
