/* SPDX-License-Identifier: ISC */
/* Bytes written as hex digits: binary values in a text config. Pure. */
#ifndef ECHOREPLYD_HEX_H
#define ECHOREPLYD_HEX_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Decodes pairs of hex digits ("0d0a", "0D 0A", "de:ad:be:ef": spaces
 * and colons between bytes are skipped) into out, at most max bytes.
 * Returns the bytes written, -EINVAL for a character that is not a hex
 * digit or an odd digit, -EMSGSIZE past max.
 */
ssize_t	hex_decode(const char *text, char *out, size_t max);
/* Writes len bytes as 2 * len lowercase hex digits to out (no NUL). */
void	hex_encode(const void *src, size_t len, char *out);

#endif
