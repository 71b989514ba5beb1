/* A game-like host that embeds Lua and recur statically: every frame it writes the
 * player's last move into memory it owns (seen by the script as a tensor, no copy), and the
 * script predicts the next move with a GRU stepper loaded from a safetensors checkpoint.
 *
 *   make embed            (builds build/embed/host and runs it)
 *   build/embed/host predictor.safetensors 12   (from examples/embed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "recur.h"

static const char *const MOVES = "RDLU.";
static const char *const ROUTE = "RRDDLLUU"; /* the patrol the simulated player walks */

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    exit(1);
  }
  return status;
}

int main(int argc, char **argv) {
  const char *model = argc > 1 ? argv[1] : "predictor.safetensors";
  int frames = argc > 2 ? atoi(argv[2]) : 12;
  float observation[5] = {0}; /* one-hot of the last move, owned by the host */
  int64_t shape[1] = {5};

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  recur_preload(L);
  recur_push_tensor_view(L, observation, 1, shape);
  lua_setglobal(L, "observation");
  report(L, luaL_dofile(L, "frame.lua"));
  lua_getglobal(L, "setup");
  lua_pushstring(L, model);
  report(L, lua_pcall(L, 1, 0, 0));

  int hits = 0;
  for (int f = 0; f < frames; f++) {
    int move = (int)(strchr(MOVES, ROUTE[f % 8]) - MOVES);
    int next = (int)(strchr(MOVES, ROUTE[(f + 1) % 8]) - MOVES);
    for (int k = 0; k < 5; k++) observation[k] = k == move ? 1.0f : 0.0f;
    lua_getglobal(L, "frame");
    report(L, lua_pcall(L, 0, 2, 0));
    int predicted = (int)lua_tointeger(L, -2) - 1;
    double micros = lua_tonumber(L, -1);
    lua_pop(L, 2);
    hits += predicted == next;
    printf("frame %2d: player moved %c, predicted next %c (actual %c) in %.1f us\n", f + 1, MOVES[move],
           MOVES[predicted], MOVES[next], micros);
  }
  printf("%d of %d predictions right\n", hits, frames);
  lua_close(L);
  return 0;
}
