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
	unsigned int index;	/* in the server's list */
	char	 name[CONF_NAME_MAX];
	char	 desc[CONF_PATH_MAX + 16];	/* address and port, for logs */
	char	 unlink_path[CONF_PATH_MAX];	/* a socket we created */
	/* what it serves: set by the server, again on every reload */
	const struct conf_service *svc;
	struct tls_ctx		*tls;		/* its TLS context; NULL: none */
	/* the server's books on it */
	struct idle_list	 idle;		/* its connections, by activity */
	size_t			 nconns;
	size_t			 nresting;	/* of them, made with TLS */
	bool			 full;		/* refusing: its max_connections */
	struct tallies		*tallies;	/* per client address */
};

/* The FileDescriptorName= of a passed control socket, metrics listener. */
#define LISTEN_CONTROL_NAME	"control"
#define LISTEN_METRICS_NAME	"metrics"

/*
 * Takes the sockets the service manager passed (LISTEN_FDS), named by
 * FileDescriptorName=; the one named LISTEN_CONTROL_NAME goes to
 * *control (-1: none), LISTEN_METRICS_NAME to *metrics: not listeners. Returns how many listeners
 * (0: none were passed), or a negative errno with a sentence saying why
 * in err (-EPROTONOSUPPORT: a socket of a kind that cannot be served).
 * Never logs.
 */
int	listen_passed(struct listener **, size_t *, int *control,
	    int *metrics, char *err, size_t errlen);
/*
 * A socket file left by an earlier run that nobody listens on is removed;
 * one in use is not (bind then fails with EADDRINUSE).
 */
void	listen_remove_stale(const char *path);
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
