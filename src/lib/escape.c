/* SPDX-License-Identifier: ISC */
/* strnvisx() is the same in both vis flavours; take the NetBSD one. */
#define LIBBSD_NETBSD_VIS
#include <string.h>
#include <vis.h>

#include "escape.h"

/* The bytes vis(3) would leave as they are: printable ASCII but \\ and ". */
static const unsigned char plain[256] = {
	[' ' ... '!'] = 1,	/* '"' is escaped */
	['#' ... '['] = 1,	/* '\\' is escaped */
	[']' ... '~'] = 1,
};

size_t
escape_n(char *dst, const void *src, size_t len, size_t max)
{
	const unsigned char	*p = src;
	size_t			 n = len < max ? len : max, i;
	int			 r;

	/*
	 * Most messages are printable ASCII, which vis(3) leaves alone; its
	 * wide-character path is the costliest part of logging. Copy while
	 * the bytes are plain, and hand vis(3) the rest from the first one
	 * that is not (how it escapes a byte depends only on the next one).
	 */
	for (i = 0; i < n; i++) {
		if (!plain[p[i]])
			break;
		dst[i] = (char)p[i];
	}
	if (i < n) {
		r = strnvisx(dst + i, ESCAPE_SIZE(max) - i, (const char *)p + i,
		    n - i, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL | VIS_DQ);
		i = r < 0 ? 0 : i + (size_t)r;
	}
	dst[i] = '\0';
	if (n < len) {
		memcpy(dst + i, "...", 4);
		i += 3;
	}
	return i;
}

char *
escape(char *dst, const void *src, size_t len, size_t max)
{
	escape_n(dst, src, len, max);
	return dst;
}
