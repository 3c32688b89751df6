/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_SERVER_H
#define ECHOREPLYD_SERVER_H

#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "listen.h"

struct conn;
struct ring;
struct ring_entry;
struct server;
struct tls_set;

/* The counters since start, for the control socket. */
struct server_stats {
	size_t		 open;		/* connections */
	uint64_t	 accepted;
	uint64_t	 refused;	/* connections and datagrams */
	uint64_t	 messages;
	uint64_t	 errors;
	uint64_t	 bytes_in, bytes_out;
	uint64_t	 log_lost;	/* records */
	size_t		 sources;	/* client addresses tracked */
	uint64_t	 sources_evicted; /* forgotten, refilling, at the bound */
	uint64_t	 uptime_usec;
	size_t		 control_clients;
};

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
void	server_stats(struct server *, struct server_stats *);
const struct conf *server_conf(const struct server *);
/*
 * Messages answered by each rule of the configuration in force (by rule
 * index + 1; [0]: the default reply), since it was loaded; *n of them.
 */
const uint64_t *server_rule_messages(const struct server *, size_t *n);
/* Listener i, in the order of the configuration; NULL past the last. */
struct listener *server_listener(struct server *, size_t i);
/* The open connection with that id, or NULL. */
struct conn *server_conn(struct server *, uint64_t id);
/* The messages recorded; NULL when recorded_messages is 0, or after
   server_drop_ring(). */
struct ring *server_ring(const struct server *);
/* No control socket will ever read the messages back: keep none. */
void	server_drop_ring(struct server *);
sd_event *server_event(const struct server *);
/* The control socket's clients, for the counters. */
void	server_control_clients(struct server *, size_t);
/* fn is called after each message is recorded, with the entry as the
   ring keeps it; NULL: none. */
void	server_watch(struct server *,
	    void (*fn)(void *, const struct ring_entry *), void *arg);
/* Who rules that ask the operator ask (serve_ctx.ask). */
void	server_operator(struct server *,
	    uint64_t (*ask)(void *, struct conn *, const void *, size_t),
	    void (*over)(void *, uint64_t, const char *), void *arg);
/* After each sd_event_run(): the buffered log goes out (or is retried). */
void	server_dispatched(struct server *);

#endif
