/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl-conn.h"
#include "ctl-report.h"

/* Waits for a non-blocking connect; returns 0 or an errno. */
static int
wait_connect(int fd, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLOUT, 0 };
	socklen_t	 len = sizeof(int);
	int		 r, err = 0;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		return ETIMEDOUT;
	if (r == -1)
		return errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/* Returns 0 or an errno; on success *fdp is the connected socket. */
static int
try_connect(int family, int type, const struct sockaddr *sa, socklen_t salen,
    int timeout_ms, int *fdp)
{
	int	 fd, err;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return errno;
	/* a Unix datagram socket needs an address for the replies */
	if (family == AF_UNIX && type == SOCK_DGRAM) {
		sa_family_t af = AF_UNIX;

		if (bind(fd, (struct sockaddr *)&af, sizeof(af)) == -1) {
			err = errno;
			close(fd);
			return err;
		}
	}
	if (connect(fd, sa, salen) == 0)
		err = 0;
	else if (errno == EINPROGRESS)
		err = wait_connect(fd, timeout_ms);
	else
		err = errno;
	if (err != 0) {
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

static void
connect_unix(const struct conn_target *t, int timeout_ms, struct conn_peer *p)
{
	struct sockaddr_un	 sun;
	int			 err;

	snprintf(p->name, sizeof(p->name), "%s", t->path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, t->path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		report_die(EX_USAGE, "socket path %s is longer than %zu bytes",
		    t->path, sizeof(sun.sun_path) - 1);
	err = try_connect(AF_UNIX, t->type, (struct sockaddr *)&sun,
	    sizeof(sun), timeout_ms, &p->fd);
	if (err == ETIMEDOUT)
		report_die(EX_TEMPFAIL, "connect to %s: timed out", p->name);
	if (err != 0)
		report_die(EX_UNAVAILABLE, "connect to %s: %s", p->name,
		    strerror(err));
	report_verbose("connected to %s", p->name);
}

/* Not addr_format(): this keeps a zone (fe80::1%lo) and ::ffff:a.b.c.d. */
static const char *
numeric(const struct addrinfo *ai, char *buf, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len,
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

void
conn_open(const struct conn_target *t, int timeout_ms, struct conn_peer *p)
{
	struct addrinfo	 hints;
	char		 addr[NI_MAXHOST];
	const char	*proto = t->type == SOCK_DGRAM ? "udp" : "tcp";
	int		 r, err = 0;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (t->family == AF_UNIX) {
		connect_unix(t, timeout_ms, p);
		return;
	}
	snprintf(p->name, sizeof(p->name), "%s port %s", t->host, t->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = t->family;
	hints.ai_socktype = t->type;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(t->host, t->port, &hints, &p->res)) != 0) {
		if (r == EAI_SYSTEM)
			report_die(EX_NOHOST, "%s: %s", t->host,
			    strerror(errno));
		report_die(EX_NOHOST, "%s: %s", t->host, gai_strerror(r));
	}
	for (p->cur = p->res; p->cur != NULL; p->cur = p->cur->ai_next) {
		err = try_connect(p->cur->ai_family, t->type,
		    p->cur->ai_addr, p->cur->ai_addrlen, timeout_ms, &p->fd);
		numeric(p->cur, addr, sizeof(addr));
		if (err == 0) {
			report_verbose("connected to %s port %s (%s)", addr,
			    t->port, proto);
			return;
		}
		report_verbose("connect to %s port %s: %s", addr, t->port,
		    strerror(err));
	}
	if (err == ETIMEDOUT)
		report_die(EX_TEMPFAIL, "connect to %s: timed out", p->name);
	report_die(EX_UNAVAILABLE, "connect to %s: %s", p->name, strerror(err));
}

bool
conn_next_address(struct conn_peer *p)
{
	char	 addr[NI_MAXHOST];
	int	 err;

	if (p->cur == NULL)
		return false;
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	while ((p->cur = p->cur->ai_next) != NULL) {
		/* a datagram connect only sets the address: no waiting */
		err = try_connect(p->cur->ai_family, SOCK_DGRAM,
		    p->cur->ai_addr, p->cur->ai_addrlen, 0, &p->fd);
		if (err == 0) {
			report_verbose("trying %s instead",
			    numeric(p->cur, addr, sizeof(addr)));
			return true;
		}
	}
	return false;
}

void
conn_close(struct conn_peer *p)
{
	if (p->fd != -1)
		close(p->fd);
	if (p->res != NULL)
		freeaddrinfo(p->res);
	p->fd = -1;
	p->res = p->cur = NULL;
}
