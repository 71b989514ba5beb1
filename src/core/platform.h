/* The operating-system calls that differ between POSIX and Windows, behind one interface:
 * atomic replacement of a file and a monotonic clock. No Lua, no allocation: the caller
 * gives the workspace. */
#ifndef RECUR_CORE_PLATFORM_H
#define RECUR_CORE_PLATFORM_H

#include "common.h"

RC_BEGIN_DECLS

/* what failed in an atomic write: the step ("create", "write", "fsync", "rename", ...) and
 * the system's message for it */
typedef struct rc_file_error {
  const char *step;
  char message[160];
} rc_file_error;

/* bytes of workspace rc_write_file_atomic needs for a path of path_len bytes */
RC_INTERNAL size_t rc_atomic_workspace_size(size_t path_len);

/* Replaces the file at path by data[0..len), atomically: the file at path is either the
 * old one or the new one, whole, whatever happens during the write. The data goes to a
 * temporary file in the same directory (path.tmp-XXXXXX), is flushed to disk, and the
 * temporary file is renamed over path. Temporary files of earlier saves of the same path
 * that were killed (older than this save's, and no longer open) are removed on the way.
 * Returns 0, or -1 with *err filled; on failure nothing of this save is left behind. */
RC_INTERNAL int rc_write_file_atomic(const char *path, const char *data, size_t len, char *workspace,
                                     rc_file_error *err);

/* seconds on a monotonic clock (wall time, unaffected by changes of the system clock) */
RC_INTERNAL double rc_monotonic_seconds(void);

RC_END_DECLS

#endif
