/* SPDX-License-Identifier: ISC */
#include <errno.h>

#include "hex.h"

static int
digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t
hex_decode(const char *text, char *out, size_t max)
{
	size_t	 n = 0;
	int	 hi, lo;

	while (*text != '\0') {
		if (*text == ' ' || *text == ':') {
			text++;
			continue;
		}
		if ((hi = digit(text[0])) < 0 || (lo = digit(text[1])) < 0)
			return -EINVAL;
		if (n == max)
			return -EMSGSIZE;
		out[n++] = (char)(hi << 4 | lo);
		text += 2;
	}
	return (ssize_t)n;
}

void
hex_encode(const void *src, size_t len, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	const unsigned char	*p = src;
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
}
