#ifndef RECUR_CORE_UTF8_H
#define RECUR_CORE_UTF8_H

#include "common.h"

RC_BEGIN_DECLS

/* Decodes the UTF-8 sequence at s (at most n bytes): returns its length and sets *cp,
 * or returns 0 when it is invalid (overlong, surrogate, above U+10FFFF, truncated). */
RC_INTERNAL size_t rc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* The length of the sequence that starts with byte `lead` (1 to 4), or 0 when no sequence
 * starts with it (a continuation byte, or a byte never used in UTF-8). */
RC_INTERNAL size_t rc_utf8_length(unsigned char lead);

/* Writes the UTF-8 form of a code point (at most 4 bytes) to out; returns its length. */
RC_INTERNAL size_t rc_utf8_encode(uint32_t cp, char *out);

RC_END_DECLS

#endif
