/* SPDX-License-Identifier: ISC */
/*
 * The control socket: a Unix stream socket on the server's loop where
 * root, the daemon's own user and control_group ask what the server is
 * doing (connections, listeners, recorded messages, counters), wait for a
 * message, push bytes to clients, close one, and reload. The protocol is
 * in echoreplyd(8), CONTROL SOCKET.
 */
#ifndef ECHOREPLYD_CONTROL_H
#define ECHOREPLYD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct control;
struct server;

/* Reports one line (a `file:line: problem`) of a reload. */
typedef void (*control_report_fn)(const char *, void *);

/* What the control socket asks of the daemon around the server. */
struct control_hooks {
	/* Reloads as SIGHUP does; true when the new configuration is in force. */
	bool	(*reload)(void *arg, control_report_fn, void *report_arg);
	void	*arg;
};

/*
 * Opens the control socket the configuration names (or its default), or
 * takes the one passed (passed >= 0), before privileges are dropped;
 * interactive: the operator's console on standard input and output too.
 * Returns 0 with *out NULL when there is neither, a negative errno when
 * a socket asked for explicitly cannot be opened (logged).
 */
int	control_open(const struct conf *, int passed, bool interactive,
	    struct control **out);
/* Serves it on the server's loop from now on. */
int	control_start(struct control *, struct server *,
	    const struct control_hooks *);
/* Closes it and its clients, and removes the socket file it made. */
void	control_free(struct control *);
/* The path it listens on, for logs; "" when passed. */
const char *control_path(const struct control *);

#endif
