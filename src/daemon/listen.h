/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_LISTEN_H
#define ECHOREPLYD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "idle.h"
#include "tally.h"

struct tls_ctx;

struct listener {
	int	 fd;
	int	 type;		/* SOCK_STREAM or SOCK_DGRAM */
	int	 family;	/* AF_INET, AF_INET6 or AF_UNIX */
	bool	 passed;	/* by the service manager */
	char	 name[CONF_NAME_MAX];
	char	 desc[CONF_PATH_MAX + 16];	/* address and port, for logs */
	char	 unlink_path[CONF_PATH_MAX];	/* a socket we created */
	/* what it serves: set by the server, again on every reload */
	const struct conf_service *svc;
	struct tls_ctx		*tls;		/* its TLS context; NULL: none */
	/* the server's books on it */
	struct idle_list	 idle;		/* its connections, by activity */
	size_t			 nconns;
	bool			 full;		/* refusing: its max_connections */
	struct tallies		*tallies;	/* per client address */
};

/*
 * Takes the sockets the service manager passed (LISTEN_FDS), named by
 * FileDescriptorName=. Returns how many (0: none were passed), or a
 * negative errno with a sentence saying why in err (-EPROTONOSUPPORT: a
 * socket of a kind that cannot be served). Never logs.
 */
int	listen_passed(struct listener **, size_t *, char *err, size_t errlen);
/*
 * Opens the listening sockets the configuration names. On failure logs
 * why, closes what it opened and returns a negative errno.
 */
int	listen_open(const struct conf *, struct listener **, size_t *);
/* "TCP", "UDP" or "Unix stream". */
const char *listen_kind(const struct listener *);
/* Closes the sockets and removes the Unix socket files it created. */
void	listen_close(struct listener *, size_t);

#endif
