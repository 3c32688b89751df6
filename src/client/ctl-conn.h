/* SPDX-License-Identifier: ISC */
/*
 * echoreplyctl's connection: resolving and connecting, TCP, UDP and Unix
 * sockets, each address within a timeout, the next one when it fails.
 */
#ifndef ECHOREPLYD_CTL_CONN_H
#define ECHOREPLYD_CTL_CONN_H

#include <stdbool.h>
#include <netdb.h>

/* Where to connect to. */
struct conn_target {
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	int			 family;	/* AF_UNIX, or for IP a hint:
						   AF_UNSPEC, AF_INET, AF_INET6 */
	const char		*host;		/* IP */
	char			 port[8];	/* IP */
	const char		*path;		/* AF_UNIX */
};

/* An open connection and how to reach the next address after it. */
struct conn_peer {
	int			 fd;
	struct addrinfo		*res;		/* IP: every address found */
	struct addrinfo		*cur;		/* IP: the one in use */
	char			 name[300];	/* for messages */
};

/*
 * Connects to the target, trying every address in turn, each within
 * timeout_ms. Exits with a sysexits(3) status when none answers.
 */
void	conn_open(const struct conn_target *, int timeout_ms,
	    struct conn_peer *);
/*
 * Datagrams only: moves to the next address, for when the current one
 * refused. Returns false when there is none.
 */
bool	conn_next_address(struct conn_peer *);
void	conn_close(struct conn_peer *);

#endif
