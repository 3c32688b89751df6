/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_SERVER_H
#define ECHOREPLYD_SERVER_H

#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "listen.h"

struct server;
struct tls_set;

/*
 * Serves the given listeners on the event loop with the configuration and
 * its TLS contexts, which the caller keeps alive until they are replaced.
 * Takes ownership of the listeners.
 */
int	server_new(sd_event *, const struct conf *, const struct tls_set *,
	    struct listener *, size_t, struct server **);
/*
 * Answers every later message with the new configuration, new clients
 * with its TLS contexts; returns the old configuration.
 */
const struct conf *server_set_conf(struct server *, const struct conf *,
	    const struct tls_set *);
/*
 * Stops accepting, answers what was received, flushes, closes every
 * connection and then exits the loop with 0, or when the configured
 * shutdown timeout runs out.
 */
void	server_shutdown(struct server *);
/* One line for the service manager: clients, messages, errors. */
void	server_status(const struct server *, char *, size_t);
void	server_free(struct server *);
/* After each sd_event_run(): the buffered log goes out (or is retried). */
void	server_dispatched(struct server *);

#endif
