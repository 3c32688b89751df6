/* SPDX-License-Identifier: ISC */
/* The plain transport: bytes straight to and from the socket. */
#include <errno.h>
#include <sys/socket.h>

#include "transport.h"

static int
plain_handshake(struct transport *t, char *why, size_t len)
{
	(void)t;
	if (len > 0)
		why[0] = '\0';		/* nothing to say: it never fails */
	return 1;
}

static ssize_t
plain_read(struct transport *t, void *buf, size_t len)
{
	ssize_t	 n = recv(t->fd, buf, len, 0);

	return n == -1 ? -errno : n;
}

static ssize_t
plain_write(struct transport *t, const void *buf, size_t len)
{
	ssize_t	 n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n == -1 ? -errno : n;
}

static int
plain_shutdown(struct transport *t)
{
	return shutdown(t->fd, SHUT_WR) == -1 ? -errno : 0;
}

static uint32_t
plain_wants(const struct transport *t)
{
	(void)t;
	return 0;
}

static bool
plain_pending(const struct transport *t)
{
	(void)t;
	return false;
}

static const struct template_tls *
plain_info(const struct transport *t)
{
	(void)t;
	return NULL;
}

static void
plain_free(struct transport *t, bool quiet)
{
	(void)t;	/* embedded in its connection */
	(void)quiet;
}

static const struct transport_ops plain_ops = {
	.name = "plain",
	.handshake = plain_handshake,
	.read = plain_read,
	.write = plain_write,
	.shutdown = plain_shutdown,
	.wants = plain_wants,
	.pending = plain_pending,
	.info = plain_info,
	.free = plain_free,
};

void
transport_plain_init(struct transport *t, int fd)
{
	t->ops = &plain_ops;
	t->fd = fd;
	t->stirred = false;
}
