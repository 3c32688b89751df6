/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "tap.h"

static ssize_t
next(enum frame_mode mode, const char *s, size_t len, size_t max, bool eof,
    struct frame_msg *m)
{
	struct frame_spec	 f = { .mode = mode };

	memset(m, 0, sizeof(*m));
	return frame_next(&f, s, len, max, eof, m);
}

static ssize_t
next_spec(const struct frame_spec *f, const char *s, size_t len, size_t max,
    bool eof, struct frame_msg *m)
{
	memset(m, 0, sizeof(*m));
	return frame_next(f, s, len, max, eof, m);
}

static void
test_line(void)
{
	struct frame_msg	 m;
	ssize_t			 r;
	const char		*s;

	r = next(FRAME_LINE, "hello\n", 6, 100, false, &m);
	ok(r == 6, "LF line uses 6 bytes (%zd)", r);
	ok_bytes(m.data, m.len, "hello", "LF line message");
	ok_bytes(m.term, m.term_len, "\n", "LF line replies with LF");

	r = next(FRAME_LINE, "hello\r\n", 7, 100, false, &m);
	ok(r == 7, "CRLF line uses 7 bytes");
	ok_bytes(m.data, m.len, "hello", "CR is not part of the message");
	ok_bytes(m.term, m.term_len, "\r\n", "CRLF line replies with CRLF");

	r = next(FRAME_LINE, "\n", 1, 100, false, &m);
	ok(r == 1 && m.len == 0, "empty line is an empty message");

	r = next(FRAME_LINE, "\r\n", 2, 100, false, &m);
	ok(r == 2 && m.len == 0 && m.term_len == 2, "empty CRLF line");

	s = "a\nbb\r\nccc";
	r = next(FRAME_LINE, s, strlen(s), 100, false, &m);
	ok(r == 2, "first of pipelined messages");
	r = next(FRAME_LINE, s + 2, strlen(s) - 2, 100, false, &m);
	ok(r == 4, "second of pipelined messages");
	ok_bytes(m.data, m.len, "bb", "second message");
	r = next(FRAME_LINE, s + 6, strlen(s) - 6, 100, false, &m);
	ok(r == 0, "partial line waits for more");
	r = next(FRAME_LINE, s + 6, strlen(s) - 6, 100, true, &m);
	ok(r == 3, "partial line at EOF is a message");
	ok_bytes(m.data, m.len, "ccc", "partial line message");
	ok_bytes(m.term, m.term_len, "\n", "partial line replies with LF");

	r = next(FRAME_LINE, "cr\r", 3, 100, true, &m);
	ok(r == 3 && m.len == 2, "trailing CR at EOF dropped");

	r = next(FRAME_LINE, "", 0, 100, true, &m);
	ok(r == 0, "nothing at EOF is no message");

	r = next(FRAME_LINE, "a\r\rb\n", 5, 100, false, &m);
	ok_bytes(m.data, m.len, "a\r\rb", "inner CRs are message bytes");

	r = next(FRAME_LINE, "a\0b\n", 4, 100, false, &m);
	ok(r == 4 && m.len == 3 && memcmp(m.data, "a\0b", 3) == 0,
	    "NUL byte inside a line is kept");
}

static void
test_limits(void)
{
	struct frame_msg	 m;
	ssize_t			 r;

	r = next(FRAME_LINE, "12345\n", 6, 5, false, &m);
	ok(r == 6 && m.len == 5, "message of exactly max bytes");
	r = next(FRAME_LINE, "12345\r\n", 7, 5, false, &m);
	ok(r == 7 && m.len == 5, "max bytes plus CRLF");
	r = next(FRAME_LINE, "123456\n", 7, 5, false, &m);
	ok(r == -EMSGSIZE, "max+1 bytes then LF is too long");
	r = next(FRAME_LINE, "12345", 5, 5, false, &m);
	ok(r == 0, "max bytes without end waits");
	r = next(FRAME_LINE, "12345\r", 6, 5, false, &m);
	ok(r == 0, "max bytes and CR waits for LF");
	r = next(FRAME_LINE, "123456", 6, 5, false, &m);
	ok(r == -EMSGSIZE, "max+1 bytes without end is too long early");
	r = next(FRAME_LINE, "1234567890", 10, 5, false, &m);
	ok(r == -EMSGSIZE, "long partial line is too long");
	r = next(FRAME_LINE, "123456", 6, 5, true, &m);
	ok(r == -EMSGSIZE, "too long partial line at EOF");
	r = next(FRAME_LINE, "12345\r", 6, 5, true, &m);
	ok(r == 6 && m.len == 5, "max bytes and CR at EOF");
	ok(frame_pending_max(&(struct frame_spec){ .mode = FRAME_LINE }, 5) ==
	    7, "line pending max is max+2");
	ok(frame_pending_max(&(struct frame_spec){ .mode = FRAME_RAW }, 5) ==
	    5, "raw pending max is max");
}

static void
test_raw(void)
{
	struct frame_msg	 m;
	ssize_t			 r;

	r = next(FRAME_RAW, "no newline", 10, 100, false, &m);
	ok(r == 10, "raw chunk is one message");
	ok_bytes(m.data, m.len, "no newline", "raw message");
	ok(m.term_len == 0, "raw reply has no terminator");
	r = next(FRAME_RAW, "a\nb\n", 4, 100, false, &m);
	ok(r == 4 && m.len == 4, "raw keeps newlines in the message");
	r = next(FRAME_RAW, "abcdefgh", 8, 3, false, &m);
	ok(r == 3 && m.len == 3, "raw chunk is cut at max");
	r = next(FRAME_RAW, "", 0, 3, true, &m);
	ok(r == 0, "raw: nothing is no message");
}

static void
test_delimiter(void)
{
	struct frame_spec	 f = { .mode = FRAME_DELIMITER,
				    .delim = "\r\n\r\n", .delim_len = 4 };
	struct frame_spec	 nul = { .mode = FRAME_DELIMITER, .delim_len = 1 };
	struct frame_msg	 m;
	ssize_t			 r;

	r = next_spec(&f, LIT("GET / HTTP/1.0\r\nA: b\r\n\r\nnext"), 100,
	    false, &m);
	ok(r == 24, "delimited message and its delimiter taken (%zd)", r);
	ok_bytes(m.data, m.len, "GET / HTTP/1.0\r\nA: b", "the message");
	ok_bytes(m.term, m.term_len, "\r\n\r\n", "the reply ends with it");
	r = next_spec(&f, LIT("part\r\n\r"), 100, false, &m);
	ok(r == 0, "a delimiter not whole yet: wait");
	r = next_spec(&f, LIT("tail"), 100, true, &m);
	ok(r == 4 && m.len == 4, "what is left at EOF is a message");
	r = next_spec(&f, LIT("12345\r\n\r\n"), 5, false, &m);
	ok(r == 9 && m.len == 5, "max bytes, then the delimiter");
	r = next_spec(&f, LIT("123456\r\n\r\n"), 5, false, &m);
	ok(r == -EMSGSIZE, "one over max: too long");
	r = next_spec(&f, LIT("123456789"), 5, false, &m);
	ok(r == -EMSGSIZE, "no delimiter within max + its length: too long");
	r = next_spec(&f, LIT("12345\r\n\r"), 5, false, &m);
	ok(r == 0, "max bytes and most of the delimiter: wait");
	r = next_spec(&nul, "a\0b\0", 4, 100, false, &m);
	ok(r == 2 && m.len == 1 && m.term_len == 1 && m.term[0] == '\0',
	    "a NUL delimiter");
	ok(frame_pending_max(&f, 5) == 9, "pending max is max + delimiter");
}

static void
test_length(void)
{
	struct frame_spec	 be2 = { .mode = FRAME_LENGTH, .prefix_bytes = 2,
				    .big_endian = true };
	struct frame_spec	 le4 = { .mode = FRAME_LENGTH, .prefix_bytes = 4 };
	struct frame_spec	 cnt1 = { .mode = FRAME_LENGTH, .prefix_bytes = 1,
				    .prefix_counted = true };
	struct frame_spec	 be8 = { .mode = FRAME_LENGTH, .prefix_bytes = 8,
				    .big_endian = true };
	struct frame_msg	 m;
	char			 p[8];
	ssize_t			 r;

	r = next_spec(&be2, "\0\3abcXY", 7, 100, false, &m);
	ok(r == 5, "2-byte big-endian length: prefix and payload (%zd)", r);
	ok_bytes(m.data, m.len, "abc", "the payload");
	ok(m.term_len == 0, "no terminator: the reply gets a prefix instead");
	r = next_spec(&be2, "\0\3ab", 4, 100, true, &m);
	ok(r == 0, "payload not whole, even at EOF: no message");
	r = next_spec(&be2, "\0", 1, 100, false, &m);
	ok(r == 0, "prefix not whole: wait");
	r = next_spec(&le4, "\2\0\0\0hi", 6, 100, false, &m);
	ok(r == 6 && m.len == 2, "4-byte little-endian length");
	r = next_spec(&be2, "\0\0", 2, 100, false, &m);
	ok(r == 2 && m.len == 0, "an empty message");
	r = next_spec(&be2, "\xff\xff", 2, 100, false, &m);
	ok(r == -EMSGSIZE, "65535 over max 100: too long, nothing waited for");
	r = next_spec(&be8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 100,
	    false, &m);
	ok(r == -EMSGSIZE, "a length of 2^64 - 1: too long");
	r = next_spec(&cnt1, "\4ab", 3, 100, false, &m);
	ok(r == 0, "counted prefix: 4 = 1 + 3 payload bytes, 2 here: wait");
	r = next_spec(&cnt1, "\3ab", 3, 100, false, &m);
	ok(r == 3 && m.len == 2, "counted prefix: 3 = 1 + 2");
	r = next_spec(&cnt1, "\0", 1, 100, false, &m);
	ok(r == -EBADMSG, "counted prefix smaller than itself: bad");
	ok(frame_prefix(&be2, 258, p) == 0 && p[0] == 1 && p[1] == 2,
	    "prefix of 258, big-endian");
	ok(frame_prefix(&le4, 258, p) == 0 && p[0] == 2 && p[1] == 1 &&
	    p[2] == 0 && p[3] == 0, "prefix of 258, little-endian");
	ok(frame_prefix(&cnt1, 254, p) == 0 && (unsigned char)p[0] == 255,
	    "counted: 254 + 1");
	ok(frame_prefix(&cnt1, 255, p) == -EMSGSIZE,
	    "counted: 255 + 1 does not fit a byte");
	ok(frame_prefix(&be2, 65536, p) == -EMSGSIZE, "65536 in 2 bytes");
	ok(frame_pending_max(&le4, 5) == 9, "pending max is max + prefix");
}

static void
test_fixed(void)
{
	struct frame_spec	 f = { .mode = FRAME_FIXED, .fixed = 3 };
	struct frame_msg	 m;
	ssize_t			 r;
	enum frame_mode		 mode;

	r = next_spec(&f, LIT("abcdefg"), 100, false, &m);
	ok(r == 3 && m.len == 3 && m.term_len == 0, "three bytes a message");
	r = next_spec(&f, LIT("ab"), 100, false, &m);
	ok(r == 0, "fewer: wait");
	r = next_spec(&f, LIT("ab"), 100, true, &m);
	ok(r == 2 && m.len == 2, "fewer at EOF: what is left is a message");
	ok(frame_pending_max(&f, 100) == 3, "pending max is the size");
	ok(frame_mode_parse("length", &mode) == 0 && mode == FRAME_LENGTH &&
	    strcmp(frame_mode_name(FRAME_FIXED), "fixed") == 0 &&
	    frame_mode_parse("lines", &mode) == -EINVAL, "names");
}

/* A message and its terminator are its frame's bytes, or they are not. */
static void
test_verbatim(void)
{
	struct frame_spec	 d = { .mode = FRAME_DELIMITER,
				    .delim = "||", .delim_len = 2 };
	struct frame_spec	 l = { .mode = FRAME_LENGTH, .prefix_bytes = 1 };
	struct frame_msg	 m;
	ssize_t			 r;

	r = next(FRAME_LINE, "hi\n", 3, 100, false, &m);
	ok(r == 3 && frame_verbatim(&m, "hi\n", 3), "a LF line is verbatim");
	r = next(FRAME_LINE, "hi\r\nx", 5, 100, false, &m);
	ok(r == 4 && frame_verbatim(&m, "hi\r\nx", 4),
	    "a CRLF line is verbatim");
	r = next(FRAME_LINE, "hi", 2, 100, true, &m);
	ok(r == 2 && !frame_verbatim(&m, "hi", 2),
	    "a last line without its LF is not: its reply gains one");
	r = next(FRAME_LINE, "hi\r", 3, 100, true, &m);
	ok(r == 3 && !frame_verbatim(&m, "hi\r", 3),
	    "nor is one ending in CR: its reply ends in LF");
	r = next_spec(&d, "ab||", 4, 100, false, &m);
	ok(r == 4 && frame_verbatim(&m, "ab||", 4),
	    "a delimited message is verbatim");
	r = next(FRAME_RAW, "abc", 3, 100, false, &m);
	ok(r == 3 && frame_verbatim(&m, "abc", 3), "a raw chunk is verbatim");
	r = next_spec(&l, "\002ab", 3, 100, false, &m);
	ok(r == 3 && !frame_verbatim(&m, "\002ab", 3),
	    "a length-prefixed message is not: its prefix is before it");
	r = next(FRAME_LINE, "hi\n", 3, 100, false, &m);
	ok(!frame_verbatim(&m, "hi\n", 2), "nor a frame of the wrong length");
}

int
main(void)
{
	test_line();
	test_limits();
	test_raw();
	test_delimiter();
	test_length();
	test_fixed();
	test_verbatim();
	return tap_done();
}
