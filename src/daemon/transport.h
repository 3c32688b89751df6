/* SPDX-License-Identifier: ISC */
/*
 * What a stream connection reads from and writes to. The plain transport
 * is the socket itself (transport-plain.c); another (TLS) is one more
 * file with its own operations, and the connection code stays as it is.
 */
#ifndef ECHOREPLYD_TRANSPORT_H
#define ECHOREPLYD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "template.h"

struct transport;

struct transport_ops {
	const char	*name;
	/*
	 * Before any read or write: 1 once the transport is ready for
	 * them, 0 while it waits (wants() says for what), or a negative
	 * errno with a sentence for the log in why.
	 */
	int		(*handshake)(struct transport *, char *why, size_t len);
	/*
	 * Bytes read (> 0), 0 at the end of the stream, -EAGAIN when there
	 * is nothing now, or another negative errno.
	 */
	ssize_t		(*read)(struct transport *, void *, size_t);
	/* Bytes written (> 0), -EAGAIN when full, or a negative errno. */
	ssize_t		(*write)(struct transport *, const void *, size_t);
	/*
	 * Ends our direction of the stream. 0, -EAGAIN when it must wait
	 * until the socket can be written (wants() says EPOLLOUT), or a
	 * negative errno.
	 */
	int		(*shutdown)(struct transport *);
	/*
	 * EPOLLIN and EPOLLOUT the transport needs for itself (a handshake
	 * under way), besides what the connection wants.
	 */
	uint32_t	(*wants)(const struct transport *);
	/*
	 * Whether input the transport already took from the socket waits
	 * to be read: epoll will not say so, so the reader comes back.
	 */
	bool		(*pending)(const struct transport *);
	/*
	 * The connection has been quiet a while: gives back the buffers
	 * that only traffic needs (TLS: its record buffers), when nothing
	 * waits in them; reads and writes take new ones. True when it gave
	 * some back. Until a read or write of the connection's own bytes,
	 * the transport stays rested: stirred says when to call this again.
	 * NULL: the transport holds none.
	 */
	bool		(*rest)(struct transport *);
	/* What TLS agreed on, once the handshake is done; NULL: no TLS. */
	const struct template_tls *(*info)(const struct transport *);
	/*
	 * Frees the transport; the connection closes the socket. With
	 * quiet, nothing more is sent first (no TLS close_notify): the
	 * connection is being reset.
	 */
	void		(*free)(struct transport *, bool quiet);
};

/* Every transport starts with this. */
struct transport {
	const struct transport_ops *ops;
	int			 fd;
	/*
	 * Set when a rested transport took buffers again for what was not
	 * the connection's (TLS: a record with no data, such as a KeyUpdate,
	 * or its answer): the connection rests it again at once, and clears
	 * this. Not activity: a client sending only such records still idles
	 * out.
	 */
	bool			 stirred;
};

/*
 * The socket as it is, in t (a connection embeds one, so that plain
 * connections cost no allocation); its free does nothing.
 */
void	transport_plain_init(struct transport *t, int fd);

#endif
