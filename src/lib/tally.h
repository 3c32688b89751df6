/* SPDX-License-Identifier: ISC */
/*
 * A tally per client address: how many connections it has open and the
 * token bucket of its message rate. An entry exists only while its
 * address has a connection open or its bucket is refilling.
 */
#ifndef ECHOREPLYD_TALLY_H
#define ECHOREPLYD_TALLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bucket.h"

struct tally {
	struct tally	*next;
	int		 family;
	uint8_t		 addr[16];
	uint32_t	 conns;
	struct bucket	 bucket;
};

/* The table of tallies, by address. */
struct tallies;

struct tallies	*tallies_new(void);
void		 tallies_free(struct tallies *);
/*
 * The tally of the address in sa (keyed as addr_key() does), created
 * when missing. NULL for other families or without memory.
 */
struct tally	*tallies_get(struct tallies *, const struct sockaddr *);
/* Drops the entry if nothing needs it any more. */
void		 tallies_put(struct tallies *, struct tally *, uint64_t now,
		    double rate, double burst);
/* Drops every entry that nothing needs any more. */
void		 tallies_sweep(struct tallies *, uint64_t now, double rate,
		    double burst);
size_t		 tallies_count(const struct tallies *);

#endif
