/* SPDX-License-Identifier: ISC */
/*
 * The generator of draws (src/lib/rng.c): SplitMix64, so that a seed
 * repeats a run's draws on any build; streams apart; ranges with both
 * ends; chances; the unit interval; bytes. Every seed here is fixed, so
 * the statistical checks give the same answer on every run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"
#include "tap.h"

static void
test_repeat(void)
{
	struct rng	 a, b, c;
	size_t		 i, same = 0, differ = 0;

	/* SplitMix64 from 0, its second output on: the published values */
	rng_seed(&a, 0, 0);
	ok(rng_next(&a) == 0x6e789e6aa1b965f4ULL &&
	    rng_next(&a) == 0x06c45d188009454fULL &&
	    rng_next(&a) == 0xf88bb8a8724c81ecULL,
	    "seed 0, stream 0: SplitMix64's own sequence");
	rng_seed(&a, 1234567, 7);
	ok(rng_next(&a) == 0x9635e96f6806c9edULL &&
	    rng_next(&a) == 0x745ebd79e9ce1fabULL,
	    "seed 1234567, stream 7: the values of this version");

	rng_seed(&a, 42, 3);
	rng_seed(&b, 42, 3);
	rng_seed(&c, 42, 4);
	for (i = 0; i < 1000; i++) {
		uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);

		same += x == y;
		differ += x != z;
	}
	ok(same == 1000, "the same seed and stream: the same 1000 draws");
	ok(differ == 1000, "another stream: 1000 other draws (%zu)", differ);
	rng_seed(&a, 42, 3);
	rng_seed(&b, 43, 3);
	ok(rng_next(&a) != rng_next(&b), "another seed: another draw");
	rng_seed(&a, 0, 1);
	rng_seed(&b, 0, 2);
	ok(rng_next(&a) != rng_next(&b), "seed 0: streams 1 and 2 differ");
}

static void
test_range(void)
{
	struct rng	 g;
	bool		 seen[5] = { false };
	uint64_t	 x;
	size_t		 i, outside = 0, hit = 0, ends = 0;

	rng_seed(&g, 9, 1);
	for (i = 0; i < 1000; i++) {
		x = rng_range(&g, 5, 9);
		if (x < 5 || x > 9)
			outside++;
		else
			seen[x - 5] = true;
	}
	for (i = 0; i < 5; i++)
		hit += seen[i];
	ok(outside == 0, "[5, 9]: never outside (%zu)", outside);
	ok(hit == 5, "[5, 9]: every value, both ends included (%zu)", hit);
	for (i = 0, outside = 0; i < 100; i++)
		outside += rng_range(&g, 7, 7) != 7;
	ok(outside == 0, "[7, 7]: always 7");
	for (i = 0, outside = 0; i < 1000; i++) {
		x = rng_range(&g, UINT64_MAX - 1, UINT64_MAX);
		outside += x < UINT64_MAX - 1;
		ends += x == UINT64_MAX;
	}
	ok(outside == 0 && ends > 0 && ends < 1000,
	    "[2^64 - 2, 2^64 - 1]: both, nothing else (%zu high)", ends);
	for (i = 0, outside = 0, ends = 0; i < 1000; i++) {
		x = rng_range(&g, 0, 1);
		outside += x > 1;
		ends += x == 0;
	}
	ok(outside == 0 && ends > 0 && ends < 1000, "[0, 1]: 0 or 1, both "
	    "(%zu zeros)", ends);
	for (i = 0, ends = 0; i < 64; i++)
		ends += rng_range(&g, 0, UINT64_MAX) >> 63;
	ok(ends > 0 && ends < 64, "[0, 2^64 - 1]: the whole span, the top "
	    "bit too (%zu of 64)", ends);
}

static void
test_chance(void)
{
	struct rng	 g;
	size_t		 i, zero = 0, one = 0, below = 0, under = 0;
	double		 u, sum = 0;

	rng_seed(&g, 5, 1);
	for (i = 0; i < 10000; i++) {
		zero += rng_chance(&g, 0) != 0;
		zero += rng_chance(&g, -0.5) != 0;
		one += rng_chance(&g, 1) == 1;
		one += rng_chance(&g, 1.5) == 1;
	}
	ok(zero == 0, "rng_chance(0) and below: never (%zu)", zero);
	ok(one == 20000, "rng_chance(1) and above: always (%zu)", one);

	for (i = 0; i < 100000; i++) {
		u = rng_unit(&g);
		below += u >= 0 && u < 1;
		sum += u;
	}
	ok(below == 100000, "rng_unit in [0, 1) (%zu of 100000)", below);
	/* the mean of 100000: sigma 0.00091 */
	ok(sum / 100000 > 0.496 && sum / 100000 < 0.504,
	    "rng_unit's mean is 1/2 (%.4f)", sum / 100000);

	/* 10000 draws of 1/4: 2500, sigma 43.3, 4 sigma either side */
	rng_seed(&g, 2024, 1);
	for (i = 0; i < 10000; i++)
		under += rng_chance(&g, 0.25) == 1;
	ok(under >= 2327 && under <= 2673, "rng_chance(0.25): %zu of 10000",
	    under);
}

static void
test_fill(void)
{
	unsigned char	 buf[32], all[32];
	struct rng	 g, h;
	size_t		 n, i, kept = 0, prefix = 0, random = 0;

	rng_seed(&g, 77, 1);
	rng_fill(&g, all, 17);
	for (n = 0; n <= 17; n++) {
		memset(buf, 0xaa, sizeof(buf));
		rng_seed(&g, 77, 1);
		rng_fill(&g, buf, n);
		for (i = n; i < sizeof(buf); i++)
			if (buf[i] != 0xaa)
				break;
		kept += i == sizeof(buf);
		prefix += memcmp(buf, all, n) == 0;
		for (i = 0; i < n; i++)
			if (buf[i] != 0xaa)
				break;
		random += n == 0 || i < n;
	}
	ok(kept == 18, "rng_fill of 0 .. 17 bytes writes no more (%zu)", kept);
	ok(prefix == 18, "the first n bytes of the same draws (%zu)", prefix);
	ok(random == 18, "not left as they were (%zu)", random);
	rng_seed(&g, 77, 1);
	rng_seed(&h, 77, 1);
	rng_fill(&g, buf, 0);
	ok(rng_next(&g) == rng_next(&h), "0 bytes: no draw taken");
	rng_seed(&g, 77, 1);
	rng_seed(&h, 77, 1);
	rng_fill(&g, buf, 9);
	(void)rng_next(&h);
	(void)rng_next(&h);
	ok(rng_next(&g) == rng_next(&h), "9 bytes: two draws taken");
}

int
main(void)
{
	test_repeat();
	test_range();
	test_chance();
	test_fill();
	return tap_done();
}
