/* Shared definitions of recur's numeric core. The core knows nothing of Lua:
 * it works on plain float arrays with shapes given by the caller. */
#ifndef RECUR_CORE_COMMON_H
#define RECUR_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Internal symbols stay inside the shared object; only luaopen_* is exported. (A Windows
 * DLL exports only what is marked dllexport: see RECUR_API.) */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#define RC_INTERNAL __attribute__((visibility("hidden")))
#else
#define RC_INTERNAL
#endif

/* no-alias pointers (C99 restrict; the GNU spelling also works in C++) */
#if defined(__GNUC__) || defined(__clang__)
#define RC_RESTRICT __restrict__
#else
#define RC_RESTRICT
#endif

/* Overflow-checked size arithmetic: 1 and *out = the result, or 0 when it overflows. */
static inline int rc_size_mul(size_t a, size_t b, size_t *out) {
  if (b != 0 && a > SIZE_MAX / b) return 0;
  *out = a * b;
  return 1;
}
static inline int rc_size_add(size_t a, size_t b, size_t *out) {
  if (a > SIZE_MAX - b) return 0;
  *out = a + b;
  return 1;
}

#ifdef __cplusplus
#define RC_BEGIN_DECLS extern "C" {
#define RC_END_DECLS }
#else
#define RC_BEGIN_DECLS
#define RC_END_DECLS
#endif

#endif
