/* SPDX-License-Identifier: ISC */
/* strnvisx() is the same in both vis flavours; take the NetBSD one. */
#define LIBBSD_NETBSD_VIS
#include <string.h>
#include <vis.h>

#include "escape.h"

char *
escape(char *dst, const void *src, size_t len, size_t max)
{
	const unsigned char	*p = src;
	size_t			 n = len < max ? len : max, i;
	int			 r;

	/* most messages are printable ASCII, which vis(3) leaves alone;
	 * its wide-character path is the costliest part of logging */
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '\\' || p[i] == '"')
			break;
	if (i == n) {
		memcpy(dst, src, n);
		r = (int)n;
		dst[n] = '\0';
	} else
		r = strnvisx(dst, ESCAPE_SIZE(max), src, n,
		    VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL | VIS_DQ);
	if (r < 0) {
		dst[0] = '\0';
		r = 0;
	}
	if (n < len)
		memcpy(dst + r, "...", 4);
	return dst;
}
