/* SPDX-License-Identifier: ISC */
#define LIBBSD_NETBSD_VIS	/* unvis() is the same in both flavours */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <vis.h>

#include "escape.h"

/* The bytes left as they are: printable ASCII but \\ and ". */
static const unsigned char plain[256] = {
	[' ' ... '!'] = 1,	/* '"' is escaped */
	['#' ... '['] = 1,	/* '\\' is escaped */
	[']' ... '~'] = 1,
};

/* The bytes with a C escape of their own; the rest are written in octal. */
static const char named[256] = {
	['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r', ['"'] = '"', ['\\'] = '\\',
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
	size_t			 n = len < max ? len : max, i = 0, o;
	unsigned char		 c;

	/*
	 * Most messages are printable ASCII, left as they are: copy them
	 * sixteen bytes at a time up to the first one that is not.
	 */
	for (; i + 16 <= n && plain16(p + i); i += 16)
		memcpy(dst + i, p + i, 16);
	for (o = i; i < n; i++) {
		c = p[i];
		if (plain[c]) {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		if (named[c] != '\0')
			dst[o++] = named[c];
		else {
			dst[o++] = (char)('0' + (c >> 6));
			dst[o++] = (char)('0' + (c >> 3 & 7));
			dst[o++] = (char)('0' + (c & 7));
		}
	}
	dst[o] = '\0';
	if (n < len) {
		memcpy(dst + o, "...", 4);
		o += 3;
	}
	return o;
}

char *
escape(char *dst, const void *src, size_t len, size_t max)
{
	escape_n(dst, src, len, max);
	return dst;
}

int
unescape(char *dst, const char *src)
{
	char	*d = dst;
	int	 state = 0;

	for (;;) {
		/* the NUL at the end is told as UNVIS_END */
		switch (unvis(d, (unsigned char)*src, &state,
		    *src == '\0' ? UNVIS_END : 0)) {
		case UNVIS_VALID:
			d++;
			break;
		case UNVIS_VALIDPUSH:
			d++;
			continue;	/* this character starts the next */
		case 0:
		case UNVIS_NOCHAR:
			break;
		default:	/* UNVIS_SYNBAD: unfinished at the end too */
			return -1;
		}
		if (*src++ == '\0')
			break;
	}
	*d = '\0';
	return (int)(d - dst);
}
