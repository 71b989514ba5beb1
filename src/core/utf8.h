#ifndef RECUR_CORE_UTF8_H
#define RECUR_CORE_UTF8_H

#include "common.h"

RC_BEGIN_DECLS

/* Decodes the UTF-8 sequence at s (at most n bytes): returns its length and sets *cp,
 * or returns 0 when it is invalid (overlong, surrogate, above U+10FFFF, truncated). */
RC_INTERNAL size_t rc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Writes the UTF-8 form of a code point (at most 4 bytes) to out; returns its length. */
RC_INTERNAL size_t rc_utf8_encode(uint32_t cp, char *out);

RC_END_DECLS

#endif
