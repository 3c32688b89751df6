/* SPDX-License-Identifier: ISC */
/* ASCII case folding for byte strings, whatever the locale. */
#ifndef ECHOREPLYD_ASCII_H
#define ECHOREPLYD_ASCII_H

static inline unsigned char
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static inline unsigned char
ascii_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

#endif
