/* SPDX-License-Identifier: ISC */
/* Framing: where messages begin and end in the bytes received. Pure. */
#ifndef ECHOREPLYD_FRAME_H
#define ECHOREPLYD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum frame_mode {
	FRAME_LINE,	/* a message ends at "\n"; a "\r" before it is dropped */
	FRAME_RAW,	/* every chunk received is one message */
};

struct frame_msg {
	const char	*data;
	size_t		 len;
	const char	*term;		/* terminator for the reply: "\n", "\r\n" or "" */
	size_t		 term_len;
};

/*
 * Finds the next message at the start of buf[0..len). Returns the number
 * of bytes it takes up (> 0) with *msg filled in, 0 when more bytes are
 * needed, or -EMSGSIZE when the message is or will be longer than max
 * bytes (terminator not counted). With eof set, a partial line is a
 * message too, and its reply ends in "\n".
 */
ssize_t	frame_next(enum frame_mode, const char *buf, size_t len, size_t max,
	    bool eof, struct frame_msg *msg);

/*
 * One datagram of len bytes is one message: a trailing "\n" or "\r\n"
 * is kept out of it and becomes the reply's terminator. Returns 0, or
 * -EMSGSIZE when it is longer than max bytes (line end not counted) or
 * was truncated on receipt.
 */
int	frame_datagram(const char *buf, size_t len, bool truncated, size_t max,
	    struct frame_msg *msg);

/* The most bytes a partial message may occupy while it waits for its end. */
size_t	frame_pending_max(enum frame_mode, size_t max);

#endif
