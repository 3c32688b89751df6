/* SPDX-License-Identifier: ISC */
/*
 * Escaping for logs (src/lib/escape.c): C style for tab, line feed,
 * carriage return, quote and backslash, three octal digits for every
 * other byte that is not printable ASCII, what strunvis(3) reads back;
 * the input cut at max with "..." after it, and never more than
 * ESCAPE_SIZE(max) bytes written.
 * Runs in the C locale, as the daemon does.
 */
#define LIBBSD_NETBSD_VIS	/* strunvis() is the same in both flavours */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <vis.h>

#include "escape.h"
#include "tap.h"

#define ROOM	(ESCAPE_SIZE(300) + 64)

static char	 out[ROOM];

/* Escapes src[0..len) at most max bytes, into a buffer full of 'Z'. */
static const char *
esc(const void *src, size_t len, size_t max)
{
	memset(out, 'Z', sizeof(out));
	return escape(out, src, len, max);
}

static void
test_plain(void)
{
	char	 all[128], want[128];
	size_t	 i, n = 0;

	is(esc(LIT("hello, world"), 64), "hello, world", "text untouched");
	is(esc(LIT(""), 64), "", "nothing");
	/* every printable byte but the two that are escaped */
	for (i = 0x20; i < 0x7f; i++)
		if (i != '"' && i != '\\')
			all[n++] = (char)i;
	memcpy(want, all, n);
	want[n] = '\0';
	is(esc(all, n, 128), want, "printable ASCII untouched (%zu bytes)",
	    n);
	ok(esc(LIT("abc"), 64) == out, "returns dst");
}

static void
test_escapes(void)
{
	is(esc(LIT("say \"hi\""), 64), "say \\\"hi\\\"", "double quotes");
	is(esc(LIT("a\\b"), 64), "a\\\\b", "backslash");
	is(esc(LIT("'"), 64), "'", "single quote untouched");
	is(esc(LIT("a\nb"), 64), "a\\nb", "newline");
	is(esc(LIT("a\tb"), 64), "a\\tb", "tab");
	is(esc(LIT("a\r\n"), 64), "a\\r\\n", "CRLF");
	is(esc(LIT("\a\b\f\v"), 64), "\\007\\010\\014\\013",
	    "the other C escapes in octal");
	is(esc(LIT("a b\n"), 64), "a b\\n", "a space stays a space");
	/* three digits always, so that a digit after one is not read in */
	is(esc(LIT("a\0b"), 64), "a\\000b", "NUL");
	is(esc(LIT("a\0"), 64), "a\\000", "NUL at the end");
	is(esc(LIT("\0" "7"), 64), "\\0007", "NUL before an octal digit");
	is(esc(LIT("\x01" "7"), 64), "\\0017", "a control before a digit");
	is(esc(LIT("\x01\x1b\x7f"), 64), "\\001\\033\\177",
	    "other controls in octal");
	is(esc(LIT("\x80\xff"), 64), "\\200\\377", "bytes over 0x7f in octal");
	is(esc(LIT("caf\xc3\xa9"), 64), "caf\\303\\251",
	    "UTF-8 too: byte by byte");
}

/* Every byte value comes back from strunvis(3). */
static void
test_invertible(void)
{
	unsigned char	 all[256];
	char		 back[256 + 1];
	size_t		 i;
	int		 n;

	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	esc(all, 256, 256);
	n = strunvis(back, out);
	ok(n == 256 && memcmp(back, all, 256) == 0,
	    "all 256 bytes escaped and unescaped again (%d)", n);
}

static void
test_cut(void)
{
	static const char	 abc[3] = { 'a', 'b', 'c' };	/* no NUL */

	is(esc(LIT("abcdef"), 3), "abc...", "cut at max, \"...\" after");
	is(esc(LIT("abcdef"), 6), "abcdef", "max is the length: not cut");
	is(esc(LIT("abcdef"), 7), "abcdef", "max over the length: not cut");
	is(esc(LIT("abcdef"), 0), "...", "max 0: just \"...\"");
	is(esc(LIT(""), 0), "", "max 0, nothing: nothing");
	is(esc(abc, 3, 3), "abc", "reads len bytes, no NUL needed");
	is(esc(LIT("abc\n"), 3), "abc...", "what is cut off is not escaped");
	is(esc(LIT("ab\0cd"), 2), "ab...", "cut before a NUL");
	is(esc(LIT("a\nbc"), 2), "a\\n...", "cut after an escape");
	is(esc(LIT("\xff\xff\xff\xff\xff"), 4), "\\377\\377\\377\\377...",
	    "max counts source bytes, not escaped ones");
	is(esc(LIT("\"\"\""), 2), "\\\"\\\"...", "quotes cut");
}

/* Whether out[from..] is as esc() left it. */
static bool
untouched_from(size_t from)
{
	size_t	 i;

	for (i = from; i < sizeof(out); i++)
		if (out[i] != 'Z')
			return false;
	return true;
}

/* Whatever the input, the output fits ESCAPE_SIZE(max) with its NUL. */
static void
test_room(void)
{
	static const size_t	 maxes[] = { 0, 1, 2, 7, 64, 300 };
	unsigned char		 worst[301], text[301];
	size_t			 i, j, room, len;

	memset(worst, 0xff, sizeof(worst));
	memset(text, 'x', sizeof(text));
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		room = ESCAPE_SIZE(maxes[i]);
		for (j = 0; j < 2; j++) {
			esc(j == 0 ? worst : text, maxes[i] + 1, maxes[i]);
			len = strnlen(out, sizeof(out));
			ok(len < room && untouched_from(room), "%s, max %zu: "
			    "%zu bytes and a NUL in %zu, none past them",
			    j == 0 ? "worst case" : "text", maxes[i], len,
			    room);
		}
		/* so the case above is the worst: 4 bytes each, "..." */
		ok(strlen(esc(worst, maxes[i] + 1, maxes[i])) ==
		    4 * maxes[i] + 3, "worst case, max %zu: %zu bytes",
		    maxes[i], 4 * maxes[i] + 3);
	}
}

/* What each byte is written as, by itself: the rule, byte by byte. */
static void
reference(char *dst, const unsigned char *src, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		switch (src[i]) {
		case '\t':
			dst += sprintf(dst, "\\t");
			break;
		case '\n':
			dst += sprintf(dst, "\\n");
			break;
		case '\r':
			dst += sprintf(dst, "\\r");
			break;
		case '"':
		case '\\':
			dst += sprintf(dst, "\\%c", src[i]);
			break;
		default:
			if (src[i] >= ' ' && src[i] <= '~')
				*dst++ = (char)src[i];
			else
				dst += sprintf(dst, "\\%03o", src[i]);
		}
	}
	*dst = '\0';
}

/*
 * The word-at-a-time scan against the rule written byte by byte: every
 * byte value at every position of a run longer than two words, each
 * next to a digit. One assertion, so that a miss names the byte and
 * where it was.
 */
static void
test_each_byte_everywhere(void)
{
	unsigned char	 src[40];
	char		 want[ESCAPE_SIZE(sizeof(src))];
	size_t		 pos, miss_pos = 0, wlen;
	unsigned	 b, miss_b = 0, misses = 0;

	for (b = 0; b < 256; b++) {
		for (pos = 0; pos < sizeof(src); pos++) {
			memset(src, 'a', sizeof(src));
			src[pos] = (unsigned char)b;
			if (pos + 1 < sizeof(src))
				src[pos + 1] = '7';
			reference(want, src, sizeof(src));
			wlen = strlen(want);
			if (escape_n(out, src, sizeof(src), sizeof(src)) !=
			    wlen || strcmp(out, want) != 0) {
				if (misses++ == 0)
					miss_b = b, miss_pos = pos;
			}
		}
	}
	ok(misses == 0, "each byte at each of %zu places escaped by the rule "
	    "(%u misses; first: byte 0x%02x at %zu)", sizeof(src), misses,
	    miss_b, miss_pos);
}

/* unescape(): strunvis(3)'s reading, but an unfinished escape is an error. */
static void
test_unescape(void)
{
	static const struct {
		const char	*in;
		int		 len;
		const char	*out;
	} cases[] = {
		{ "", 0, "" },
		{ "plain text", 10, "plain text" },
		{ "a\\000b", 3, "a\0b" },
		{ "\\x41\\s\\n", 3, "A \n" },
		{ "\\101\\0", 2, "A\0" },		/* octal, one digit at the end */
		{ "\\q", 1, "q" },			/* as strunvis() has it */
		{ "\\\\", 1, "\\" },
		{ "bad\\", -1, NULL },		/* strunvis(): "bad" */
		{ "\\M", -1, NULL },
		{ "\\M-", -1, NULL },
		{ "\\^", -1, NULL },
		{ "\\x", -1, NULL },
		{ "\\xzz", -1, NULL },
		{ "\\Mx", -1, NULL },
	};
	char	 got[64], ref[64];
	size_t	 i;
	int	 n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = unescape(got, cases[i].in);
		if (cases[i].len < 0) {
			ok(n == -1, "unescape(\"%s\") is an error (%d)",
			    cases[i].in, n);
			continue;
		}
		ok(n == cases[i].len && memcmp(got, cases[i].out,
		    (size_t)n) == 0 && got[n] == '\0', "unescape(\"%s\"): "
		    "%d bytes", cases[i].in, n);
		/* where strunvis() reads it whole, the two agree */
		ok(strunvis(ref, cases[i].in) == n && memcmp(ref, got,
		    (size_t)n) == 0, "unescape(\"%s\") reads as strunvis() "
		    "does", cases[i].in);
	}
	/* what escape() writes comes back, every byte value */
	{
		unsigned char	src[256];
		char		back[256 + 1];

		for (i = 0; i < sizeof(src); i++)
			src[i] = (unsigned char)i;
		(void)escape(out, src, sizeof(src), sizeof(src));
		n = unescape(back, out);
		ok(n == (int)sizeof(src) && memcmp(back, src, sizeof(src)) == 0,
		    "escape() then unescape(): every byte value (%d)", n);
	}
}

int
main(void)
{
	test_plain();
	test_escapes();
	test_invertible();
	test_cut();
	test_room();
	test_each_byte_everywhere();
	test_unescape();
	return tap_done();
}
