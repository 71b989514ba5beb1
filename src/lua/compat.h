/* Lua headers and the few compatibility shims recur needs (Lua 5.4 is primary). */
#ifndef RECUR_LUA_COMPAT_H
#define RECUR_LUA_COMPAT_H

#ifdef __cplusplus
#define RECUR_EXTERN_C extern "C"
#else
#define RECUR_EXTERN_C
#endif

#include "lauxlib.h"
#include "lua.h"

#if defined(__GNUC__) || defined(__clang__)
#define RECUR_API RECUR_EXTERN_C __attribute__((visibility("default")))
#else
#define RECUR_API RECUR_EXTERN_C
#endif

#endif
