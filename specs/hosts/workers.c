/* recur's worker threads under ThreadSanitizer: two lua_States, each with its own workers
 * (recur.set_num_threads(3)), run bidirectional, packed and dropout layers and a stack
 * small enough for the wavefront forward and backward, first one after the other and then in two OS threads
 * at once. In each state the results at 3 threads must match those at 1 thread within float tolerance, and
 * the two runs of a state must give the same bits; lua_close must join every worker (the process's thread
 * count is back to its start after each lua_close). Built and run by `make tsan`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "recur.h"

static const char *const SCRIPT =
    "local recur = require 'recur'\n"
    "local seed, threads = ...\n"
    "local cases = {\n"
    "  {make = function() return recur.LSTM{input_size = 3, hidden_size = 6, num_layers = 2,\n"
    "     bidirectional = true, dropout = 0.25} end, T = 7, B = 5},\n"
    "  {make = function() return recur.GRU{input_size = 3, hidden_size = 5, layer_norm = true,\n"
    "     input_dropout = 0.2, recurrent_dropout = 0.3} end, T = 7, B = 12,\n"
    "     lengths = {7, 3, 5, 1, 6, 7, 2, 2, 4, 7, 1, 5}},\n"
    "  {make = function() return recur.LSTM{input_size = 3, hidden_size = 6, proj_size = 4,\n"
    "     peephole = true} end, T = 6, B = 8},\n"
    "  {make = function() return recur.GRU{input_size = 3, hidden_size = 5, num_layers = 3,\n"
    "     dropout = 0.3} end, T = 40, B = 2},\n"
    "}\n"
    "local function run(case, n)\n"
    "  recur.set_num_threads(n)\n"
    "  recur.manual_seed(seed)\n"
    "  local layer = case.make()\n"
    "  local cfg = layer:config()\n"
    "  local width = (cfg.bidirectional and 2 or 1) * (cfg.proj_size and cfg.proj_size > 0 and cfg.proj_size "
    "or cfg.hidden_size)\n"
    "  local x, gy = recur.randn{case.T, case.B, 3}, recur.randn{case.T, case.B, width}\n"
    "  local out = {}\n"
    "  for _ = 1, 2 do\n"
    "    layer:zero_grad()\n"
    "    local y, hn = layer:forward(x, nil, case.lengths and {lengths = case.lengths} or nil)\n"
    "    local dx, dh0 = layer:backward(gy)\n"
    "    out = {y, hn, dx, dh0, layer:flat_gradients():clone()}\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local fingerprint = {}\n"
    "for i, case in ipairs(cases) do\n"
    "  local one, many = run(case, 1), run(case, threads)\n"
    "  for k = 1, #one do\n"
    "    local d = one[k]:sub(many[k])\n"
    "    local err = math.max((d:max()), (d:mul(-1):max()))\n"
    "    if err > 1e-5 then error(string.format('case %d, result %d: %g from 1 thread', i, k, err)) end\n"
    "    fingerprint[#fingerprint + 1] = string.format('%.9g', many[k]:sum())\n"
    "  end\n"
    "end\n"
    "return table.concat(fingerprint, ' ')\n";

typedef struct job {
  int seed;
  char fingerprint[4096];
  char error[512];
} job;

static void *run(void *arg) {
  job *j = (job *)arg;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  recur_preload(L);
  if (luaL_loadstring(L, SCRIPT) != LUA_OK) {
    snprintf(j->error, sizeof j->error, "%s", lua_tostring(L, -1));
  } else {
    lua_pushinteger(L, j->seed);
    lua_pushinteger(L, 3);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK)
      snprintf(j->error, sizeof j->error, "%s", lua_tostring(L, -1));
    else
      snprintf(j->fingerprint, sizeof j->fingerprint, "%s", lua_tostring(L, -1));
  }
  lua_close(L); /* joins the state's workers */
  return NULL;
}

/* the process's thread count (field 20 of /proc/self/stat), -1 if unknown */
static long thread_count(void) {
  char stat[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
  if (f) fclose(f);
  stat[n] = '\0';
  char *p = strrchr(stat, ')'); /* after the command name, which may hold spaces */
  long value = -1;
  for (int field = 2; p && field <= 20; field++) {
    p = strchr(p + 1, ' ');
    if (p && field == 19) value = strtol(p + 1, NULL, 10);
  }
  return value;
}

static void *idle(void *arg) { return arg; }

int main(void) {
  job serial[2] = {{1, "", ""}, {2, "", ""}}, parallel[2] = {{1, "", ""}, {2, "", ""}};
  pthread_t threads[2];
  pthread_create(&threads[0], NULL, idle, NULL); /* the sanitizer's own threads start with the first */
  pthread_join(threads[0], NULL);
  long base = thread_count();
  for (int i = 0; i < 2; i++) run(&serial[i]);
  long after_serial = thread_count();
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, run, &parallel[i]);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  long after_parallel = thread_count();
  int ok = 1;
  if (after_serial != base || after_parallel != base) {
    fprintf(stderr, "threads: %ld at the start, %ld and %ld after lua_close\n", base, after_serial,
            after_parallel);
    ok = 0;
  }
  for (int i = 0; i < 2; i++) {
    if (serial[i].error[0] || parallel[i].error[0]) {
      fprintf(stderr, "error: %s%s\n", serial[i].error, parallel[i].error);
      ok = 0;
    } else if (strcmp(serial[i].fingerprint, parallel[i].fingerprint) != 0) {
      fprintf(stderr, "seed %d: different results alone (%s) and beside another state (%s)\n", serial[i].seed,
              serial[i].fingerprint, parallel[i].fingerprint);
      ok = 0;
    }
  }
  printf(
      ok ? "two lua_States with 3 threads each: results equal 1 thread's, the same alone and side by side\n"
         : "FAILED\n");
  return ok ? 0 : 1;
}
