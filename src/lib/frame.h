/* SPDX-License-Identifier: ISC */
/* Framing: where messages begin and end in the bytes received. Pure. */
#ifndef ECHOREPLYD_FRAME_H
#define ECHOREPLYD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FRAME_DELIM_MAX		64	/* bytes of a delimiter, at most */
#define FRAME_FIXED_MAX		(16 * 1024 * 1024)

enum frame_mode {
	FRAME_LINE,	/* a message ends at "\n"; a "\r" before it is dropped */
	FRAME_RAW,	/* every chunk received is one message */
	FRAME_DELIMITER,	/* a message ends at a byte string */
	FRAME_LENGTH,	/* a length prefix, then that many bytes */
	FRAME_FIXED,	/* every N bytes are a message */
};

/* How a stream is cut into messages, and so how replies are framed. */
struct frame_spec {
	enum frame_mode	 mode;
	char		 delim[FRAME_DELIM_MAX];	/* FRAME_DELIMITER */
	size_t		 delim_len;			/* 1.. */
	unsigned int	 prefix_bytes;	/* FRAME_LENGTH: 1, 2, 4 or 8 */
	bool		 big_endian;
	bool		 prefix_counted;	/* the length counts the prefix */
	size_t		 fixed;		/* FRAME_FIXED: 1..FRAME_FIXED_MAX */
};

struct frame_msg {
	const char	*data;
	size_t		 len;
	/* what ends the reply: "\n", "\r\n", the delimiter or "" */
	const char	*term;
	size_t		 term_len;
};

/* The framing of the name given, with its defaults ("line", ...). */
int	frame_mode_parse(const char *, enum frame_mode *);
const char *frame_mode_name(enum frame_mode);

/*
 * Finds the next message at the start of buf[0..len). Returns the number
 * of bytes it takes up (> 0) with *msg filled in, 0 when more bytes are
 * needed, -EMSGSIZE when the message is or will be longer than max bytes
 * (terminator or prefix not counted), or -EBADMSG for a length prefix
 * smaller than itself. With eof set, what is left of a line, a delimited
 * or a fixed-size message is a message too (a line's reply ends in
 * "\n"); an unfinished length-prefixed one is not.
 */
ssize_t	frame_next(const struct frame_spec *, const char *buf, size_t len,
	    size_t max, bool eof, struct frame_msg *msg);

/*
 * True when buf[0..n), the n bytes frame_next() said m takes up, are m's
 * own bytes and then its terminator's, in place: m answered with itself
 * and its terminator is buf[0..n) as it came. False for a length prefix,
 * and for a last line that had no line end of its own.
 */
bool	frame_verbatim(const struct frame_msg *m, const char *buf, size_t n);

/*
 * For FRAME_LENGTH: the prefix of a reply of len bytes, written to
 * out[0..prefix_bytes). -EMSGSIZE when the prefix cannot express it.
 */
int	frame_prefix(const struct frame_spec *, size_t len, char *out);

/*
 * One datagram of len bytes is one message: a trailing "\n" or "\r\n"
 * is kept out of it and becomes the reply's terminator. Returns 0, or
 * -EMSGSIZE when it is longer than max bytes (line end not counted) or
 * was truncated on receipt.
 */
int	frame_datagram(const char *buf, size_t len, bool truncated, size_t max,
	    struct frame_msg *msg);

/* The most bytes a partial message may occupy while it waits for its end. */
size_t	frame_pending_max(const struct frame_spec *, size_t max);

#endif
