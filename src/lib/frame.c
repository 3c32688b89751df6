/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "frame.h"

static void
set_term(struct frame_msg *msg, const char *term)
{
	msg->term = term;
	msg->term_len = strlen(term);
}

static const char *const mode_names[] = {
	[FRAME_LINE] = "line",
	[FRAME_RAW] = "raw",
	[FRAME_DELIMITER] = "delimiter",
	[FRAME_LENGTH] = "length",
	[FRAME_FIXED] = "fixed",
};

int
frame_mode_parse(const char *name, enum frame_mode *mode)
{
	size_t	 i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(name, mode_names[i]) == 0) {
			*mode = (enum frame_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *
frame_mode_name(enum frame_mode mode)
{
	return mode_names[mode];
}

static ssize_t
next_line(const char *buf, size_t len, size_t max, bool eof,
    struct frame_msg *msg)
{
	const char	*nl;
	size_t		 scan, mlen;

	/* max bytes of message, then at most "\r\n" */
	scan = len < max + 2 ? len : max + 2;
	if ((nl = memchr(buf, '\n', scan)) != NULL) {
		mlen = (size_t)(nl - buf);
		if (mlen > 0 && buf[mlen - 1] == '\r') {
			mlen--;
			set_term(msg, "\r\n");
		} else
			set_term(msg, "\n");
		if (mlen > max)
			return -EMSGSIZE;
		msg->data = buf;
		msg->len = mlen;
		return (ssize_t)(nl - buf) + 1;
	}
	/* only "\r" may still follow a message of max bytes */
	if (len > max + 1 || (len == max + 1 && buf[max] != '\r'))
		return -EMSGSIZE;
	if (!eof)
		return 0;
	mlen = len;
	if (buf[mlen - 1] == '\r')
		mlen--;
	if (mlen > max)
		return -EMSGSIZE;
	msg->data = buf;
	msg->len = mlen;
	set_term(msg, "\n");
	return (ssize_t)len;
}

static ssize_t
next_delimited(const struct frame_spec *spec, const char *buf, size_t len,
    size_t max, bool eof, struct frame_msg *msg)
{
	const char	*d;
	size_t		 scan;

	/* the delimiter must start within the first max + 1 bytes */
	scan = len < max + spec->delim_len ? len : max + spec->delim_len;
	msg->data = buf;
	msg->term = spec->delim;
	msg->term_len = spec->delim_len;
	if ((d = memmem(buf, scan, spec->delim, spec->delim_len)) != NULL) {
		msg->len = (size_t)(d - buf);
		return (ssize_t)(msg->len + spec->delim_len);
	}
	if (len >= max + spec->delim_len)
		return -EMSGSIZE;
	if (!eof)
		return 0;
	if (len > max)
		return -EMSGSIZE;
	msg->len = len;
	return (ssize_t)len;
}

static ssize_t
next_length(const struct frame_spec *spec, const char *buf, size_t len,
    size_t max, struct frame_msg *msg)
{
	const unsigned char	*p = (const unsigned char *)buf;
	unsigned int		 n = spec->prefix_bytes, i;
	uint64_t		 v = 0;

	if (len < n)
		return 0;
	for (i = 0; i < n; i++)
		v |= (uint64_t)p[spec->big_endian ? i : n - 1 - i] <<
		    (8 * (n - 1 - i));
	if (spec->prefix_counted) {
		if (v < n)
			return -EBADMSG;
		v -= n;
	}
	/* checked before anything waits for it: never a large buffer */
	if (v > max)
		return -EMSGSIZE;
	if (len - n < v)
		return 0;
	msg->data = buf + n;
	msg->len = (size_t)v;
	set_term(msg, "");
	return (ssize_t)(n + v);
}

ssize_t
frame_next(const struct frame_spec *spec, const char *buf, size_t len,
    size_t max, bool eof, struct frame_msg *msg)
{
	if (len == 0)
		return 0;
	switch (spec->mode) {
	case FRAME_RAW:
		msg->data = buf;
		msg->len = len < max ? len : max;
		set_term(msg, "");
		return (ssize_t)msg->len;
	case FRAME_DELIMITER:
		return next_delimited(spec, buf, len, max, eof, msg);
	case FRAME_LENGTH:
		return next_length(spec, buf, len, max, msg);
	case FRAME_FIXED:
		if (len < spec->fixed && !eof)
			return 0;
		msg->data = buf;
		msg->len = len < spec->fixed ? len : spec->fixed;
		set_term(msg, "");
		return (ssize_t)msg->len;
	default:
		return next_line(buf, len, max, eof, msg);
	}
}

bool
frame_verbatim(const struct frame_msg *m, const char *buf, size_t n)
{
	size_t	 i;

	if (m->data != buf || m->len > n || n - m->len != m->term_len)
		return false;
	for (i = 0; i < m->term_len; i++)
		if (buf[m->len + i] != m->term[i])
			return false;
	return true;
}

int
frame_prefix(const struct frame_spec *spec, size_t len, char *out)
{
	unsigned int	 n = spec->prefix_bytes, i;
	uint64_t	 v = (uint64_t)len + (spec->prefix_counted ? n : 0);

	if (n < 8 && v >> (8 * n) != 0)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		out[spec->big_endian ? n - 1 - i : i] =
		    (char)(unsigned char)(v >> (8 * i));
	return 0;
}

int
frame_datagram(const char *buf, size_t len, bool truncated, size_t max,
    struct frame_msg *msg)
{
	msg->data = buf;
	msg->len = len;
	set_term(msg, "");
	if (len > 0 && buf[len - 1] == '\n') {
		msg->len--;
		set_term(msg, "\n");
		if (msg->len > 0 && buf[msg->len - 1] == '\r') {
			msg->len--;
			set_term(msg, "\r\n");
		}
	}
	return truncated || msg->len > max ? -EMSGSIZE : 0;
}

size_t
frame_pending_max(const struct frame_spec *spec, size_t max)
{
	switch (spec->mode) {
	case FRAME_RAW:
		return max;
	case FRAME_DELIMITER:
		return max + spec->delim_len;
	case FRAME_LENGTH:
		return max + spec->prefix_bytes;
	case FRAME_FIXED:
		return spec->fixed;
	default:
		return max + 2;
	}
}
