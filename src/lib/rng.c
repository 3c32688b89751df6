/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "rng.h"

void
rng_seed(struct rng *g, uint64_t seed, uint64_t stream)
{
	/* streams far apart in SplitMix64's sequence, then mixed once */
	g->s = seed ^ (stream * 0xd1342543de82ef95ULL);
	(void)rng_next(g);
}

uint64_t
rng_next(struct rng *g)
{
	uint64_t	 z;

	z = (g->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double
rng_unit(struct rng *g)
{
	/* the top 53 bits: every double in [0, 1) a multiple of 2^-53 */
	return (double)(rng_next(g) >> 11) * 0x1.0p-53;
}

int
rng_chance(struct rng *g, double p)
{
	if (p >= 1)
		return 1;
	if (p <= 0)
		return 0;
	return rng_unit(g) < p;
}

uint64_t
rng_range(struct rng *g, uint64_t min, uint64_t max)
{
	uint64_t	 span = max - min, x, limit;

	if (span == UINT64_MAX)
		return rng_next(g);
	span++;
	/* rejection: no value more likely than another */
	limit = UINT64_MAX - UINT64_MAX % span;
	do
		x = rng_next(g);
	while (x >= limit);
	return min + x % span;
}

void
rng_fill(struct rng *g, void *p, size_t n)
{
	unsigned char	*b = p;
	uint64_t	 x;
	size_t		 k;

	while (n > 0) {
		x = rng_next(g);
		k = n < sizeof(x) ? n : sizeof(x);
		memcpy(b, &x, k);
		b += k;
		n -= k;
	}
}
