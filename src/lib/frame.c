/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <string.h>

#include "frame.h"

static void
set_term(struct frame_msg *msg, const char *term)
{
	msg->term = term;
	msg->term_len = strlen(term);
}

ssize_t
frame_next(enum frame_mode mode, const char *buf, size_t len, size_t max,
    bool eof, struct frame_msg *msg)
{
	const char	*nl;
	size_t		 scan, mlen;

	if (len == 0)
		return 0;

	if (mode == FRAME_RAW) {
		msg->data = buf;
		msg->len = len < max ? len : max;
		set_term(msg, "");
		return (ssize_t)msg->len;
	}

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
frame_pending_max(enum frame_mode mode, size_t max)
{
	return mode == FRAME_RAW ? max : max + 2;
}
