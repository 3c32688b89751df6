/* SPDX-License-Identifier: ISC */
/*
 * The reference for make bench: the least a line echo server on one core
 * can do. Non-blocking sockets, one level-triggered epoll loop, one read
 * per readable event and the bytes written straight back (an echo of the
 * bytes is an echo of every line in them). Output that does not fit is
 * kept and the socket is not read until it is gone: the same backpressure
 * echoreplyd has, and nothing more.
 *
 * usage: refecho address port
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ	(64 * 1024)

struct pend {
	char	*p;
	size_t	 off, len;
};

static struct pend	*pend;	/* by fd, only while output waits */
static size_t		 npend;

static void
drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if ((size_t)fd < npend) {
		free(pend[fd].p);
		memset(&pend[fd], 0, sizeof(pend[fd]));
	}
}

static void
watch(int ep, int op, int fd, uint32_t events)
{
	struct epoll_event	 ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(ep, op, fd, &ev) == -1)
		err(1, "epoll_ctl");
}

/* Writes what waits; returns -1 when the connection is gone. */
static int
flush(int ep, int fd)
{
	struct pend	*q = &pend[fd];
	ssize_t		 n;

	n = send(fd, q->p + q->off, q->len - q->off, MSG_NOSIGNAL);
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	q->off += (size_t)n;
	if (q->off == q->len) {
		free(q->p);
		memset(q, 0, sizeof(*q));
		watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
	}
	return 0;
}

static int
echo(int ep, int fd, char *buf)
{
	ssize_t	 n, w;

	if ((n = recv(fd, buf, BUFSZ, 0)) <= 0)
		return n == -1 && errno == EAGAIN ? 0 : -1;
	if ((w = send(fd, buf, (size_t)n, MSG_NOSIGNAL)) == -1) {
		if (errno != EAGAIN)
			return -1;
		w = 0;
	}
	if (w == n)
		return 0;
	if ((size_t)fd >= npend)
		return -1;	/* cannot happen: npend covers every fd */
	if ((pend[fd].p = malloc((size_t)(n - w))) == NULL)
		return -1;
	memcpy(pend[fd].p, buf + w, (size_t)(n - w));
	pend[fd].len = (size_t)(n - w);
	watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
	return 0;
}

int
main(int argc, char *argv[])
{
	static char		 buf[BUFSZ];
	struct epoll_event	 evs[256];
	struct sockaddr_in	 sin;
	struct rlimit		 rl;
	int			 lfd, ep, fd, i, n, on = 1;

	if (argc != 3)
		errx(2, "usage: refecho address port");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)strtol(argv[2], NULL, 10));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		errx(2, "%s: not an IPv4 address", argv[1]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit");
	npend = rl.rlim_cur;
	if ((pend = calloc(npend, sizeof(*pend))) == NULL)
		err(1, NULL);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1)
		err(1, "%s port %s", argv[1], argv[2]);
	if ((ep = epoll_create1(0)) == -1)
		err(1, "epoll_create1");
	watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN);

	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &on, sizeof(on));
					watch(ep, EPOLL_CTL_ADD, fd, EPOLLIN);
				}
				continue;
			}
			if ((pend[fd].p != NULL ? flush(ep, fd) :
			    echo(ep, fd, buf)) < 0)
				drop(ep, fd);
		}
	}
}
