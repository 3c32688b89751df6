/* SPDX-License-Identifier: ISC */
/* Listening sockets: passed by the service manager, or opened here. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "addr.h"
#include "listen.h"
#include "log.h"

/* What a bound socket is, as "127.0.0.1:13008", "[::1]:7/udp", "/run/x". */
static void
describe(int fd, int type, char *desc, size_t len)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	socklen_t		 sslen = sizeof(ss);
	const char		*udp = type == SOCK_DGRAM ? "/udp" : "";
	char			 a[ADDR_TEXT_MAX], peer[ADDR_PEER_MAX];
	uint16_t		 port;
	size_t			 n;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(desc, len, "socket %d", fd);
		return;
	}
	switch (ss.ss_family) {
	case AF_INET:
	case AF_INET6:
		addr_format((struct sockaddr *)&ss, a, sizeof(a), &port);
		addr_format_peer(a, port, peer, sizeof(peer));
		snprintf(desc, len, "%s%s", peer, udp);
		break;
	case AF_UNIX:
		n = sslen > offsetof(struct sockaddr_un, sun_path) ?
		    sslen - offsetof(struct sockaddr_un, sun_path) : 0;
		if (n == 0)
			snprintf(desc, len, "unnamed Unix socket %d", fd);
		else if (sun->sun_path[0] == '\0')	/* abstract */
			snprintf(desc, len, "@%.*s", (int)(n - 1),
			    sun->sun_path + 1);
		else
			snprintf(desc, len, "%.*s", (int)strnlen(sun->sun_path,
			    n), sun->sun_path);
		break;
	default:
		snprintf(desc, len, "socket %d", fd);
	}
}

static int
sockopt_int(int fd, int opt)
{
	int		 v = -1;
	socklen_t	 len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) == -1)
		return -1;
	return v;
}

/*
 * Sorts a passed descriptor into a kind we serve, or says in why what it
 * is instead and returns -EPROTONOSUPPORT.
 */
static int
classify(int fd, struct listener *l, char *why, size_t len)
{
	int	 domain, type, proto;

	if (sd_is_socket(fd, AF_UNSPEC, 0, -1) <= 0) {
		snprintf(why, len, "not a socket");
		return -EPROTONOSUPPORT;
	}
	domain = sockopt_int(fd, SO_DOMAIN);
	type = sockopt_int(fd, SO_TYPE);
	proto = sockopt_int(fd, SO_PROTOCOL);
	if ((sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0 &&
	    proto == IPPROTO_TCP) ||
	    sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
		l->type = SOCK_STREAM;
	} else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_DGRAM, -1, 0) > 0 &&
	    proto == IPPROTO_UDP) {
		l->type = SOCK_DGRAM;
	} else {
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0) > 0)
			snprintf(why, len, "a stream socket that is not "
			    "listening (Accept=yes is not supported)");
		else if (domain == AF_UNIX && type == SOCK_DGRAM)
			snprintf(why, len, "a Unix datagram socket");
		else if (type == SOCK_SEQPACKET)
			snprintf(why, len, "a sequential packet socket");
		else if ((domain == AF_INET || domain == AF_INET6) &&
		    (type == SOCK_STREAM || type == SOCK_DGRAM))
			snprintf(why, len, "an IP socket of protocol %d, "
			    "neither TCP nor UDP", proto);
		else
			snprintf(why, len, "a socket of family %d and type %d",
			    domain, type);
		return -EPROTONOSUPPORT;
	}
	l->family = domain;
	return 0;
}

static void
free_names(char **names)
{
	size_t	 i;

	if (names == NULL)
		return;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Checks one passed socket and makes it non-blocking and close-on-exec. */
static int
take_passed(struct listener *l, char *err, size_t errlen)
{
	char	 why[128];
	int	 fl, r;

	if ((r = classify(l->fd, l, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "socket %d (%s) passed by the service "
		    "manager is %s, which echoreplyd cannot serve", l->fd,
		    l->name, why);
		return r;
	}
	describe(l->fd, l->type, l->desc, sizeof(l->desc));
	/* passed sockets come blocking and inheritable */
	if ((fl = fcntl(l->fd, F_GETFL)) == -1 ||
	    fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(l->fd, F_SETFD, FD_CLOEXEC) == -1) {
		r = -errno;
		snprintf(err, errlen, "socket %d (%s): fcntl: %s", l->fd,
		    l->name, strerror(errno));
		return r;
	}
	return 0;
}

int
listen_passed(struct listener **out, size_t *nout, int *control,
    int *metrics, char *err, size_t errlen)
{
	struct listener	*ls;
	char		**names = NULL;
	int		 n, i, j, r, fd, *special;

	*out = NULL;
	*nout = 0;
	*control = *metrics = -1;
	err[0] = '\0';
	if ((n = sd_listen_fds_with_names(1, &names)) <= 0) {
		if (n < 0)
			snprintf(err, errlen, "cannot take the sockets passed "
			    "by the service manager: %s", strerror(-n));
		free_names(names);
		return n;
	}
	if ((ls = calloc((size_t)n, sizeof(*ls))) == NULL) {
		snprintf(err, errlen, "out of memory");
		for (i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		free_names(names);
		return -ENOMEM;
	}
	for (i = j = 0; i < n; i++) {
		special = names == NULL || names[i] == NULL ? NULL :
		    strcmp(names[i], LISTEN_CONTROL_NAME) == 0 ? control :
		    strcmp(names[i], LISTEN_METRICS_NAME) == 0 ? metrics : NULL;
		if (special != NULL) {
			fd = SD_LISTEN_FDS_START + i;
			/* the control socket speaks only to local users */
			if (sd_is_socket(fd, special == control ? AF_UNIX :
			    AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
				snprintf(err, errlen, "socket %d (%s) passed "
				    "by the service manager is not a "
				    "listening %s socket", fd, names[i],
				    special == control ? "Unix stream" :
				    "stream");
				for (; i < n; i++)
					close(SD_LISTEN_FDS_START + i);
				for (i = 0; i < j; i++)
					close(ls[i].fd);
				if (*control != -1)
					close(*control);
				if (*metrics != -1)
					close(*metrics);
				*control = *metrics = -1;
				free(ls);
				free_names(names);
				return -EPROTONOSUPPORT;
			}
			/* not a listener; a second one is not used */
			if (*special == -1)
				*special = fd;
			else
				close(fd);
			continue;
		}
		ls[j].fd = SD_LISTEN_FDS_START + i;
		ls[j].passed = true;
		strlcpy(ls[j].name, names != NULL && names[i] != NULL ?
		    names[i] : "unknown", sizeof(ls[j].name));
		j++;
	}
	free_names(names);
	n = j;
	if (n == 0) {
		free(ls);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if ((r = take_passed(&ls[i], err, errlen)) < 0) {
			listen_close(ls, (size_t)n);
			return r;
		}
	}
	*out = ls;
	*nout = (size_t)n;
	return n;
}

void
listen_remove_stale(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd;

	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return;
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1 &&
	    errno == ECONNREFUSED && unlink(path) == 0)
		log_info("removed stale socket %s", path);
	close(fd);
}

static int
open_one(const struct conf_listener *cl, struct listener *l)
{
	int	 fd, on = 1, v6only = cl->ipv6_only, r;

	strlcpy(l->name, cl->name, sizeof(l->name));
	l->type = cl->type;
	l->family = cl->sa.ss_family;
	if (l->family == AF_UNIX)
		strlcpy(l->desc, cl->path, sizeof(l->desc));
	else
		snprintf(l->desc, sizeof(l->desc), l->family == AF_INET6 ?
		    "[%s]:%u%s" : "%s:%u%s", cl->address, cl->port,
		    cl->type == SOCK_DGRAM ? "/udp" : "");

	fd = socket(l->family, cl->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		r = -errno;
		log_warn("listener %s: socket", l->desc);
		return r;
	}
	if (l->family != AF_UNIX && cl->type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		log_warn("listener %s: SO_REUSEADDR", l->desc);
	if (cl->reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		log_warn("listener %s: SO_REUSEPORT", l->desc);
	/* set either way: the system default may be the other one */
	if (l->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		log_warn("listener %s: IPV6_V6ONLY", l->desc);
	if (l->family == AF_UNIX)
		listen_remove_stale(cl->path);
	if (bind(fd, (const struct sockaddr *)&cl->sa, cl->salen) == -1) {
		r = -errno;
		log_warn("cannot listen on %s: bind", l->desc);
		close(fd);
		return r;
	}
	if (l->family == AF_UNIX)
		strlcpy(l->unlink_path, cl->path, sizeof(l->unlink_path));
	if (cl->type == SOCK_STREAM && listen(fd, cl->backlog) == -1) {
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
	for (i = 0; i < c->nlisteners; i++)
		ls[i].fd = -1;
	for (i = 0; i < c->nlisteners; i++) {
		if ((r = open_one(&c->listeners[i], &ls[i])) < 0) {
			listen_close(ls, i + 1);
			return r;
		}
	}
	*out = ls;
	*nout = c->nlisteners;
	return 0;
}

const char *
listen_kind(const struct listener *l)
{
	if (l->family == AF_UNIX)
		return l->type == SOCK_STREAM ? "Unix stream" : "Unix datagram";
	return l->type == SOCK_STREAM ? "TCP" : "UDP";
}

void
listen_close(struct listener *ls, size_t n)
{
	size_t	 i;

	if (ls == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (ls[i].fd >= 0)
			close(ls[i].fd);
		/* after privileges are dropped the directory may not be ours */
		if (ls[i].unlink_path[0] != '\0' &&
		    unlink(ls[i].unlink_path) == -1 && errno != ENOENT)
			log_info("cannot remove %s (%s): the next start removes "
			    "it", ls[i].unlink_path, strerror(errno));
	}
	free(ls);
}
