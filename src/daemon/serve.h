/* SPDX-License-Identifier: ISC */
/*
 * What the server lends its stream connections and datagram listeners:
 * the loop, the configuration in force, the counters they add to, and
 * the facts a reply template may ask for (serve_fill).
 */
#ifndef ECHOREPLYD_SERVE_H
#define ECHOREPLYD_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "buf.h"
#include "config.h"
#include "idle.h"
#include "tally.h"
#include "template.h"

/* delays and rate limits are promised in ms: sd-event defaults to 250 ms */
#define SERVE_TIMER_ACCURACY_USEC	1000
#define SERVE_READ_SIZE			(64 * 1024)

struct answer;
struct conn;
struct listener;
struct ring;
struct ring_entry;

struct serve_ctx {
	sd_event		*event;
	const struct conf	*conf;
	const char		*hostname;
	int			 epoll_fd;	/* the connections' own set */
	struct buf_pool		 out_pool;	/* spare output buffers */
	char			*rbuf;		/* SERVE_READ_SIZE + 1 bytes */
	size_t			 nconns;
	uint64_t		 messages, errors;
	uint64_t		 refused;	/* connections and datagrams */
	/* of connections closed, and of datagrams */
	uint64_t		 bytes_in, bytes_out;
	/* messages answered by rule index + 1 ([0]: the default reply) */
	uint64_t		*rule_messages;
	size_t			 nrule_messages;
	struct ring		*ring;		/* NULL: none recorded */
	/* CLOCK_REALTIME and CLOCK_MONOTONIC of this dispatch, once read;
	   serve_forget_time() between dispatches */
	uint64_t		 woke_usec, woke_mono;
	bool			 woke_known, woke_mono_known;
	/* told of each message recorded (as the ring keeps it), while
	   someone watches */
	void			(*recorded)(void *arg,
				    const struct ring_entry *e);
	void			*recorded_arg;
	/*
	 * The operator: asked about a message of c (its id, or 0 when no
	 * console is attached), then told the ask is over, and why.
	 */
	uint64_t		(*ask)(void *arg, struct conn *c,
				    const void *msg, size_t len);
	void			(*ask_over)(void *arg, uint64_t id,
				    const char *why);
	void			*ask_arg;
	uint64_t		 seed;		/* of every draw */
	/* the server's bookkeeping for a connection that is closing */
	void			(*closed)(struct conn *, void *arg);
	/*
	 * After a PROXY header, the client it names is admitted (access
	 * list, per-source limit) as others are on accept: 0, or 1 when it
	 * was refused with a reply (the connection is closing), or CONN_GONE
	 * (-1) when it was closed at once.
	 */
	int			(*admit)(struct conn *, void *arg);
	/* a connection of l is active again, when all of l's were rested */
	void			(*restless)(struct listener *l, void *arg);
	void			*arg;
};

/* The loop's time of this dispatch (CLOCK_MONOTONIC, µs). */
uint64_t	serve_now(struct serve_ctx *);
/* A dispatch is over: the next one reads the clocks again. */
void		serve_forget_time(struct serve_ctx *);
/*
 * One message answered: counted by rule, and recorded for the control
 * socket (conn: the connection's id, 0 for a datagram; client as logged,
 * client_len its length), with the time the loop woke up for it.
 */
void		serve_answered(struct serve_ctx *, const struct answer *,
		    uint64_t conn, const struct listener *, const char *client,
		    size_t client_len, const void *msg, size_t len);

/* Our side of a socket, for templates that name the server's address. */
struct serve_facts {
	int	 fd;
	char	 address[ADDR_TEXT_MAX];
};

/* An answer_fill_fn; arg is a struct serve_facts. */
void	serve_fill(struct template_ctx *, unsigned int needs, void *arg);

#endif
