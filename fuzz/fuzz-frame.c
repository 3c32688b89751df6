/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the framing: the first bytes pick the mode, the
 * limit and the mode's parameters, the rest is a stream. Checks that every
 * message lies inside the input and respects the limit, that a stream is
 * only waited on while a message may still fit in frame_pending_max(), that
 * a delimited message holds no delimiter, that a length prefix round-trips
 * through frame_prefix(), and that line, raw, delimited and fixed streams
 * are consumed whole at EOF. The same bytes as one datagram: the message
 * is the datagram less its line end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
datagram(const char *buf, size_t len, size_t max, bool truncated)
{
	struct frame_msg	 m;
	int			 r;

	r = frame_datagram(buf, len, truncated, max, &m);
	if (m.data != buf || m.len > len || len - m.len != m.term_len ||
	    m.term_len != strlen(m.term) ||
	    memcmp(buf + m.len, m.term, m.term_len) != 0 ||
	    (m.term_len == 0 && len > 0 && buf[len - 1] == '\n') ||
	    (r == 0) != (!truncated && m.len <= max) ||
	    (r != 0 && r != -EMSGSIZE))
		abort();
}

/* The spec from data[0..4): mode, and what the mode needs. */
static void
spec_of(const uint8_t *data, struct frame_spec *f)
{
	static const unsigned int prefixes[] = { 1, 2, 4, 8 };

	memset(f, 0, sizeof(*f));
	f->mode = (enum frame_mode)(data[0] % 5);
	f->delim_len = (size_t)(data[2] & 3) + 1;	/* 1 .. 4 */
	memset(f->delim, data[3], f->delim_len);
	f->delim[f->delim_len - 1] = (char)(data[3] ^ 0x5a);
	f->prefix_bytes = prefixes[data[2] >> 2 & 3];
	f->big_endian = data[2] & 0x10;
	f->prefix_counted = data[2] & 0x20;
	f->fixed = (size_t)(data[3] & 0x1f) + 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_spec	 f;
	struct frame_msg	 m;
	const char		*buf;
	char			 pre[8];
	size_t			 max, off = 0, len;
	ssize_t			 r;
	bool			 eof;

	if (size < 4)
		return 0;
	spec_of(data, &f);
	max = (size_t)(data[1] >> 1) + 1;	/* 1 .. 128 */
	eof = data[1] & 1;
	if (f.mode == FRAME_FIXED && f.fixed > max)
		f.fixed = max;		/* as the config insists */
	buf = (const char *)data + 4;
	len = size - 4;
	datagram(buf, len, max, eof);

	while (off < len) {
		memset(&m, 0, sizeof(m));
		r = frame_next(&f, buf + off, len - off, max, eof, &m);
		if (r == 0) {
			/* waiting only while a message may still fit */
			if (len - off > frame_pending_max(&f, max) ||
			    f.mode == FRAME_RAW ||
			    (eof && f.mode != FRAME_LENGTH))
				abort();
			break;
		}
		if (r == -EMSGSIZE || r == -EBADMSG) {
			if (f.mode == FRAME_RAW || f.mode == FRAME_FIXED ||
			    (r == -EBADMSG && (f.mode != FRAME_LENGTH ||
			    !f.prefix_counted)))
				abort();
			break;
		}
		if (r < 0 || (size_t)r > len - off || m.len > (size_t)r ||
		    m.data < buf + off || m.data + m.len > buf + off + r ||
		    m.len > max)
			abort();
		switch (f.mode) {
		case FRAME_LINE:
			if (memchr(m.data, '\n', m.len) != NULL ||
			    m.term_len != strlen(m.term))
				abort();
			break;
		case FRAME_DELIMITER:
			if (memmem(m.data, m.len, f.delim, f.delim_len) !=
			    NULL || m.term_len != f.delim_len)
				abort();
			break;
		case FRAME_LENGTH:
			/* the prefix again, from the length found */
			if (frame_prefix(&f, m.len, pre) < 0 ||
			    memcmp(pre, buf + off, f.prefix_bytes) != 0 ||
			    m.data != buf + off + f.prefix_bytes)
				abort();
			break;
		default:
			break;
		}
		off += (size_t)r;
	}
	return 0;
}
