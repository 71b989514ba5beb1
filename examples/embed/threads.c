/* Two threads, each with its own lua_State, train different models with recur at the same
 * time; their losses must equal those of the same runs done one after the other (recur
 * has no shared mutable state). Run under ThreadSanitizer by `make tsan`.
 *   build/embed/threads */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "recur.h"

static const char *const SCRIPT =
    "local recur = require 'recur'\n"
    "local seed = ...\n"
    "recur.manual_seed(seed)\n"
    "local model = {rnn = recur.LSTM{input_size = 4, hidden_size = 12, num_layers = 2},\n"
    "               head = recur.Linear{in_features = 12, out_features = 1}}\n"
    "local opt = recur.optim.Adam{model, lr = 0.01}\n"
    "local mse = recur.MSELoss()\n"
    "local x, y = recur.randn{20, 8, 4}, recur.randn{20, 8, 1}\n"
    "local loss\n"
    "for _ = 1, 60 do\n"
    "  opt:zero_grad()\n"
    "  loss = mse:forward(model.head:forward(model.rnn:forward(x)), y)\n"
    "  model.rnn:backward(model.head:backward(mse:backward()))\n"
    "  opt:step()\n"
    "end\n"
    "return loss\n";

typedef struct job {
  int seed;
  double loss;
  char error[256];
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
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
      snprintf(j->error, sizeof j->error, "%s", lua_tostring(L, -1));
    else
      j->loss = lua_tonumber(L, -1);
  }
  lua_close(L);
  return NULL;
}

int main(void) {
  job serial[2] = {{1, 0, ""}, {2, 0, ""}}, parallel[2] = {{1, 0, ""}, {2, 0, ""}};
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) run(&serial[i]);
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, run, &parallel[i]);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  int ok = 1;
  for (int i = 0; i < 2; i++) {
    if (serial[i].error[0] || parallel[i].error[0]) {
      fprintf(stderr, "error: %s%s\n", serial[i].error, parallel[i].error);
      ok = 0;
      continue;
    }
    printf("seed %d: loss %.9g one after the other, %.9g in two threads at once\n", serial[i].seed,
           serial[i].loss, parallel[i].loss);
    ok = ok && serial[i].loss == parallel[i].loss;
  }
  printf(ok ? "two lua_States in two threads: same results\n"
            : "MISMATCH between threaded and serial runs\n");
  return ok ? 0 : 1;
}
