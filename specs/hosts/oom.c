/* Out-of-memory injection: a lua_Alloc that fails the k-th allocation, for every k over a
 * whole training step (layers, losses, optimizer, checkpoint encoding). Each failure must be
 * a Lua error ("not enough memory"), never a crash; afterwards, with the allocator healthy
 * again, the same lua_State must still train. Built and run by `make oom-check`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "recur.h"

typedef struct budget {
  long countdown; /* allocations left before failing; < 0: never fail */
  long failures;
} budget;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  budget *b = (budget *)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (b->countdown >= 0 && nsize > osize) {
    if (b->countdown == 0) {
      b->failures++;
      return NULL;
    }
    b->countdown--;
  }
  return realloc(ptr, nsize);
}

static const char *const SETUP =
    "recur = require 'recur'\n"
    "recur.manual_seed(1)\n"
    "model = recur.Sequential{{'rnn', recur.LSTM{input_size = 3, hidden_size = 8, num_layers = 2}},\n"
    "                         {'head', recur.Linear{in_features = 8, out_features = 2}}}\n"
    "opt = recur.optim.Adam{model, lr = 0.01}\n"
    "mse = recur.MSELoss()\n"
    "x, y = recur.randn{12, 4, 3}, recur.randn{12, 4, 2}\n";

static const char *const STEP =
    "opt:zero_grad()\n"
    "local loss = mse:forward(model:forward(x), y)\n"
    "model:backward(mse:backward())\n"
    "recur.clip_grad_norm(model, 1)\n"
    "opt:step()\n"
    "local bytes = require('recur.core').F.st_encode({'w'}, {model:parameters()[1]}, {'k'}, {'v'})\n"
    "assert(#bytes > 0)\n"
    "return loss\n";

static int run(lua_State *L, const char *code, const char **error) {
  if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    *error = lua_tostring(L, -1);
    return 0;
  }
  return 1;
}

int main(void) {
  budget b = {-1, 0};
  lua_State *L = lua_newstate(limited_alloc, &b);
  const char *error = NULL;
  luaL_openlibs(L);
  recur_preload(L);
  if (!run(L, SETUP, &error)) {
    fprintf(stderr, "setup failed: %s\n", error);
    return 1;
  }
  lua_settop(L, 0);
  long k, errors = 0, passed = 0;
  for (k = 0; k < 100000; k++) {
    b.countdown = k;
    long before = b.failures;
    int ok = run(L, STEP, &error);
    b.countdown = -1;
    if (ok && b.failures == before) break; /* the step fits in k allocations: all points tried */
    if (!ok) {
      if (!error || !strstr(error, "not enough memory")) {
        fprintf(stderr, "allocation %ld failed, but the error is: %s\n", k, error ? error : "(none)");
        return 1;
      }
      errors++;
    } else {
      passed++; /* the failure was absorbed (e.g. inside a pcall or an optional cache) */
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
  }
  if (!run(L, STEP, &error)) { /* healthy again: the same state must still train */
    fprintf(stderr, "recur unusable after the failures: %s\n", error);
    return 1;
  }
  printf(
      "failed each of the %ld allocations of a training step in turn: %ld Lua errors "
      "\"not enough memory\", %ld absorbed, no crash; the state trains afterwards (loss %.4f)\n",
      k, errors, passed, lua_tonumber(L, -1));
  lua_close(L);
  return 0;
}
