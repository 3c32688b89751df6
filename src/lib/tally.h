/* SPDX-License-Identifier: ISC */
/*
 * A tally per client address: how many connections it has open and the
 * token bucket of its message rate. An entry exists while its address has
 * a connection open, a caller holds it, or its bucket is refilling; of the
 * last kind ("spare" entries) a table keeps at most a bound, the least
 * recently used given up first, so that sources never seen again (spoofed
 * UDP senders) cannot grow it without end.
 */
#ifndef ECHOREPLYD_TALLY_H
#define ECHOREPLYD_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "bucket.h"

struct tally {
	struct tally	*next;		/* its hash chain */
	TAILQ_ENTRY(tally) spare_link;	/* the spare list, when spare */
	bool		 spare;
	int		 family;
	uint8_t		 addr[16];
	uint32_t	 conns;
	struct bucket	 bucket;
};

/* The table of tallies, by address. */
struct tallies;

/* A table that keeps at most max_spare spare entries (at least 1). */
struct tallies	*tallies_new(size_t max_spare);
void		 tallies_free(struct tallies *);
/*
 * The tally of the address in sa (keyed as addr_key() does), created
 * when missing, held by the caller until tallies_put() or while its conns
 * are above 0. NULL for other families or without memory. Gives up spare
 * entries whose buckets are full again at now, from the least recently
 * used: amortised O(1).
 */
struct tally	*tallies_get(struct tallies *, const struct sockaddr *,
		    uint64_t now, double rate, double burst);
/*
 * Gives back a tally held by the caller: dropped if nothing needs it any
 * more, else spare when no connection of it is open.
 */
void		 tallies_put(struct tallies *, struct tally *, uint64_t now,
		    double rate, double burst);
/* A new bound on spare entries, kept from the next tallies_put(). */
void		 tallies_set_max(struct tallies *, size_t max_spare);
/* Drops the least recently used spare entries that nothing needs now. */
void		 tallies_reap(struct tallies *, uint64_t now, double rate,
		    double burst);
size_t		 tallies_count(const struct tallies *);
/* Spare entries given up to keep the bound while still refilling. */
uint64_t	 tallies_evicted(const struct tallies *);

#endif
