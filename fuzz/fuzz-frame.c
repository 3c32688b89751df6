/*
 * libFuzzer target for the framing: the first byte picks the mode and
 * the limit, the rest is a stream cut at arbitrary points. Checks that
 * every message lies inside the input, respects the limit, and that the
 * line and raw modes consume everything they are given at EOF. The same
 * bytes as one datagram: the message is the datagram less its line end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum frame_mode		 mode;
	struct frame_msg	 m;
	const char		*buf;
	size_t			 max, off = 0, len;
	ssize_t			 r;
	bool			 eof;

	if (size < 2)
		return 0;
	mode = data[0] & 1 ? FRAME_RAW : FRAME_LINE;
	max = (size_t)(data[0] >> 1) + 1;	/* 1 .. 128 */
	eof = data[1] & 1;
	buf = (const char *)data + 2;
	len = size - 2;

	r = frame_datagram(buf, len, eof, max, &m);
	if (m.data != buf || m.len > len || len - m.len != m.term_len ||
	    m.term_len != strlen(m.term) ||
	    memcmp(buf + m.len, m.term, m.term_len) != 0 ||
	    (m.term_len == 0 && len > 0 && buf[len - 1] == '\n') ||
	    (r == 0) != (!eof && m.len <= max) ||
	    (r != 0 && r != -EMSGSIZE))
		abort();

	while (off < len) {
		memset(&m, 0, sizeof(m));
		r = frame_next(mode, buf + off, len - off, max, eof, &m);
		if (r == 0) {
			/* waiting is only allowed for a line that may still fit */
			if (eof || mode == FRAME_RAW ||
			    len - off > frame_pending_max(mode, max))
				abort();
			break;
		}
		if (r == -EMSGSIZE) {
			if (mode == FRAME_RAW)
				abort();
			break;
		}
		if (r < 0 || (size_t)r > len - off)
			abort();
		if (m.data != buf + off || m.len > max || m.len > (size_t)r)
			abort();
		if (mode == FRAME_LINE && memchr(m.data, '\n', m.len) != NULL)
			abort();
		if (m.term_len != strlen(m.term))
			abort();
		off += (size_t)r;
	}
	return 0;
}
