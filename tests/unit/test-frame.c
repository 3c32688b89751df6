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
	memset(m, 0, sizeof(*m));
	return frame_next(mode, s, len, max, eof, m);
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
	ok(frame_pending_max(FRAME_LINE, 5) == 7, "line pending max is max+2");
	ok(frame_pending_max(FRAME_RAW, 5) == 5, "raw pending max is max");
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

int
main(void)
{
	test_line();
	test_limits();
	test_raw();
	return tap_done();
}
