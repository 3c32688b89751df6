#ifndef ECHOREPLYD_SOURCES_H
#define ECHOREPLYD_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Per client address: how many connections it has open and a token
 * bucket for its message rate. Entries exist only while a source has a
 * connection open or its bucket is refilling.
 */
struct source {
	struct source	*next;
	int		 family;
	uint8_t		 addr[16];
	uint32_t	 conns;
	double		 tokens;
	uint64_t	 refilled;	/* usec, CLOCK_MONOTONIC */
};

struct sources;

struct sources	*sources_new(void);
void		 sources_free(struct sources *);
/*
 * The entry for the address in sa (IPv4-mapped IPv6 counts as IPv4),
 * created when missing. NULL for other families or without memory.
 */
struct source	*sources_get(struct sources *, const struct sockaddr *);
/* Drops the entry if nothing needs it any more. */
void		 sources_put(struct sources *, struct source *, uint64_t now,
		    double rate, double burst);
/* Drops every entry that nothing needs any more. */
void		 sources_sweep(struct sources *, uint64_t now, double rate,
		    double burst);
size_t		 sources_count(const struct sources *);

/*
 * Takes one message token at time now (usec) from a bucket that refills
 * at rate per second up to burst. Returns 0 when there was one, else the
 * usec to wait for the next.
 */
uint64_t	 source_take(struct source *, uint64_t now, double rate,
		    double burst);

#endif
