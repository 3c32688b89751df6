/* SPDX-License-Identifier: ISC */
/*
 * What the server lends its stream connections and datagram listeners:
 * the loop, the configuration in force, the counters they add to, and
 * the facts a reply template may ask for (serve_fill).
 */
#ifndef ECHOREPLYD_SERVE_H
#define ECHOREPLYD_SERVE_H

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

struct conn;

struct serve_ctx {
	sd_event		*event;
	const struct conf	*conf;
	const char		*hostname;
	int			 epoll_fd;	/* the connections' own set */
	struct buf_pool		 out_pool;	/* spare output buffers */
	char			*rbuf;		/* SERVE_READ_SIZE + 1 bytes */
	size_t			 nconns;
	uint64_t		 messages, errors;
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
	void			*arg;
};

uint64_t	serve_now(const struct serve_ctx *);

/* Our side of a socket, for templates that name the server's address. */
struct serve_facts {
	int	 fd;
	char	 address[ADDR_TEXT_MAX];
};

/* An answer_fill_fn; arg is a struct serve_facts. */
void	serve_fill(struct template_ctx *, unsigned int needs, void *arg);

#endif
