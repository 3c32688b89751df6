#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

static int
open_one(const struct conf_listener *cl, struct listener *l)
{
	int	 fd, on = 1, r;

	if (cl->sa.ss_family == AF_INET6)
		snprintf(l->desc, sizeof(l->desc), "[%s]:%u", cl->address,
		    cl->port);
	else
		snprintf(l->desc, sizeof(l->desc), "%s:%u", cl->address,
		    cl->port);
	strlcpy(l->name, cl->name, sizeof(l->name));

	fd = socket(cl->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		r = -errno;
		log_warn("listener %s: socket", l->desc);
		return r;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		log_warn("listener %s: SO_REUSEADDR", l->desc);
	/* like nginx: "::" is IPv6 only, so "0.0.0.0" can share the port */
	if (cl->sa.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		log_warn("listener %s: IPV6_V6ONLY", l->desc);
	if (bind(fd, (const struct sockaddr *)&cl->sa, cl->salen) == -1) {
		r = -errno;
		log_warn("cannot listen on %s: bind", l->desc);
		close(fd);
		return r;
	}
	if (listen(fd, cl->backlog) == -1) {
		r = -errno;
		log_warn("cannot listen on %s: listen", l->desc);
		close(fd);
		return r;
	}
	l->fd = fd;
	return 0;
}

int
listen_open(const struct conf *c, struct listener **out, size_t *nout)
{
	struct listener	*ls;
	size_t		 i;
	int		 r;

	if ((ls = calloc(c->nlisteners, sizeof(*ls))) == NULL)
		return -ENOMEM;
	for (i = 0; i < c->nlisteners; i++) {
		if ((r = open_one(&c->listeners[i], &ls[i])) < 0) {
			listen_close(ls, i);
			return r;
		}
	}
	*out = ls;
	*nout = c->nlisteners;
	return 0;
}

void
listen_close(struct listener *ls, size_t n)
{
	size_t	 i;

	if (ls == NULL)
		return;
	for (i = 0; i < n; i++)
		if (ls[i].fd >= 0)
			close(ls[i].fd);
	free(ls);
}
