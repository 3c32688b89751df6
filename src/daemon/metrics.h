/* SPDX-License-Identifier: ISC */
/*
 * The server's counters, written as the control socket's `stat` lines or
 * in the Prometheus text exposition format, and the metrics listener: a
 * TCP socket answering GET /metrics with that text over HTTP/1.x.
 */
#ifndef ECHOREPLYD_METRICS_H
#define ECHOREPLYD_METRICS_H

#include "buf.h"
#include "config.h"

struct metrics;
struct server;

/* "stat NAME VALUE" lines onto out. */
void	metrics_stats(struct server *, struct buf *out);
/* The Prometheus text (version 0.0.4) onto out. */
void	metrics_text(struct server *, struct buf *out);

/*
 * Opens the listener metrics_listen names, or takes the socket passed
 * (passed >= 0), before privileges are dropped. 0 with *out NULL when
 * there is none; a negative errno when it cannot be opened (logged).
 */
int	metrics_open(const struct conf *, int passed, struct metrics **out);
/* Serves it on the server's loop from now on. */
int	metrics_start(struct metrics *, struct server *);
void	metrics_free(struct metrics *);

#endif
