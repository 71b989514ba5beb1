/* Lua bindings of the platform layer (src/core/platform.c): recur.core.monotonic and
 * F.write_file_atomic. */
#include "files.h"

#include <string.h>

#include "../core/platform.h"

/* monotonic(): seconds on a monotonic clock (wall time, unlike os.clock's CPU time) */
static int l_monotonic(lua_State *L) {
  lua_pushnumber(L, (lua_Number)rc_monotonic_seconds());
  return 1;
}

/* write_file_atomic(path, bytes): the file at path is either the old one or the new one,
 * whole, whatever happens during the write. The platform layer holds nothing of Lua's, so
 * that its failures are reported here, once it has cleaned up. */
static int l_write_file_atomic(lua_State *L) {
  size_t plen, len;
  const char *path = luaL_checklstring(L, 1, &plen);
  const char *data = luaL_checklstring(L, 2, &len);
  char *workspace = (char *)lua_newuserdatauv(L, rc_atomic_workspace_size(plen), 0);
  rc_file_error err;
  if (rc_write_file_atomic(path, data, len, workspace, &err) == 0) return 0;
  if (strcmp(err.step, "create") == 0) return luaL_error(L, "cannot write %s: %s", path, err.message);
  return luaL_error(L, "cannot write %s (%s failed: %s); the previous file, if any, is unchanged", path,
                    err.step, err.message);
}

void rcl_open_files(lua_State *L) {
  lua_pushcfunction(L, l_monotonic);
  lua_setfield(L, -2, "monotonic");
  lua_getfield(L, -1, "F");
  lua_pushcfunction(L, l_write_file_atomic);
  lua_setfield(L, -2, "write_file_atomic");
  lua_pop(L, 1);
}
