/* SPDX-License-Identifier: ISC */
/* The plain transport: bytes straight to and from the socket. */
#include <errno.h>
#include <sys/socket.h>

#include "transport.h"

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

static void
plain_free(struct transport *t)
{
	(void)t;	/* embedded in its connection */
}

static const struct transport_ops plain_ops = {
	.name = "plain",
	.read = plain_read,
	.write = plain_write,
	.shutdown = plain_shutdown,
	.wants = plain_wants,
	.free = plain_free,
};

void
transport_plain_init(struct transport *t, int fd)
{
	t->ops = &plain_ops;
	t->fd = fd;
}
