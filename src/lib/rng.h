/* SPDX-License-Identifier: ISC */
/*
 * Repeatable random draws for faults and probabilities: one small
 * generator (SplitMix64) per connection, seeded from the configuration's
 * seed and the connection's number, so that a seed gives every
 * connection the same draws whatever the others do. Not for secrets.
 */
#ifndef ECHOREPLYD_RNG_H
#define ECHOREPLYD_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t	 s;
};

/* The generator of stream number `stream` under seed. */
void		 rng_seed(struct rng *, uint64_t seed, uint64_t stream);
uint64_t	 rng_next(struct rng *);
/* Uniform in [0, 1). */
double		 rng_unit(struct rng *);
/* Whether a draw falls under p: always for p >= 1, never for p <= 0. */
int		 rng_chance(struct rng *, double p);
/* Uniform in [min, max], both included (min <= max). */
uint64_t	 rng_range(struct rng *, uint64_t min, uint64_t max);
void		 rng_fill(struct rng *, void *, size_t);

#endif
