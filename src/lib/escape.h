/* SPDX-License-Identifier: ISC */
/* Client bytes made safe for a log line or a terminal. */
#ifndef ECHOREPLYD_ESCAPE_H
#define ECHOREPLYD_ESCAPE_H

#include <stddef.h>

/* The room escape() needs for max source bytes. */
#define ESCAPE_SIZE(max)	(4 * (size_t)(max) + 4)

/*
 * Escapes src[0..len) in C style, as strunvis(3) reads it back: \t, \n,
 * \r, \" and \\, and a backslash and three octal digits for any other
 * byte that is not printable ASCII. At most `max` source bytes are
 * escaped, and "..." is appended when the input was cut. dst must hold
 * ESCAPE_SIZE(max) bytes. Returns dst, a NUL-terminated string.
 */
char	*escape(char *dst, const void *src, size_t len, size_t max);
/* The same, returning the length of what it wrote (the NUL not counted). */
size_t	escape_n(char *dst, const void *src, size_t len, size_t max);
/*
 * Reads back what an operator wrote escaped, as strunvis(3) does (dst
 * must hold strlen(src) + 1 bytes, and is NUL-terminated after the
 * bytes), except that an escape the text ends inside ("bad\", "\M") is
 * an error, where strunvis() drops it without a word. Returns the number
 * of bytes, or -1 for a malformed or unfinished escape.
 */
int	unescape(char *dst, const char *src);

#endif
