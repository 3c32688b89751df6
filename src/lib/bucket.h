/* SPDX-License-Identifier: ISC */
/* A token bucket: a message rate with bursts. Pure arithmetic on times. */
#ifndef ECHOREPLYD_BUCKET_H
#define ECHOREPLYD_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* The zero value is not ready: bucket_init() fills it. */
struct bucket {
	double		 tokens;	/* < 0: full, not yet used */
	uint64_t	 refilled;	/* usec, CLOCK_MONOTONIC */
};

/* A full bucket, filled on first use. */
void		 bucket_init(struct bucket *);
/*
 * Takes one token at time now (usec) from a bucket that refills at rate
 * per second up to burst. Returns 0 when there was one (always, when rate
 * is not above 0), else the usec to wait for the next.
 */
uint64_t	 bucket_take(struct bucket *, uint64_t now, double rate,
		    double burst);
/* Whether the bucket is full again at now: forgetting it changes nothing. */
bool		 bucket_full(const struct bucket *, uint64_t now, double rate,
		    double burst);

#endif
