/* SPDX-License-Identifier: ISC */
/* strnvisx() is the same in both vis flavours; take the NetBSD one. */
#define LIBBSD_NETBSD_VIS
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <vis.h>

#include "escape.h"

/* The bytes vis(3) would leave as they are: printable ASCII but \\ and ". */
static const unsigned char plain[256] = {
	[' ' ... '!'] = 1,	/* '"' is escaped */
	['#' ... '['] = 1,	/* '\\' is escaped */
	[']' ... '~'] = 1,
};

/*
 * Sixteen bytes at a time, as vectors of the compiler's (GCC and clang
 * both have them; each target lowers them to what it has, SSE2 here):
 * whether p[0..16) holds only plain bytes.
 */
typedef unsigned char	u8x16 __attribute__((vector_size(16)));
typedef uint64_t	u64x2 __attribute__((vector_size(16)));

static inline bool
plain16(const unsigned char *p)
{
	u8x16	 v, bad;
	u64x2	 m;

	memcpy(&v, p, sizeof(v));
	bad = (u8x16)((v < ' ') | (v > '~') | (v == '"') | (v == '\\'));
	memcpy(&m, &bad, sizeof(m));
	return (m[0] | m[1]) == 0;
}

size_t
escape_n(char *dst, const void *src, size_t len, size_t max)
{
	const unsigned char	*p = src;
	size_t			 n = len < max ? len : max, i = 0;
	int			 r;

	/*
	 * Most messages are printable ASCII, which vis(3) leaves alone; its
	 * wide-character path is the costliest part of logging. Copy while
	 * the bytes are plain, sixteen at a time, and hand vis(3) the rest
	 * from the first one that is not (how it escapes a byte depends only
	 * on the next one).
	 */
	for (; i + 16 <= n && plain16(p + i); i += 16)
		memcpy(dst + i, p + i, 16);
	for (; i < n; i++) {
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
