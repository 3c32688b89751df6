/* SPDX-License-Identifier: ISC */
/*
 * A connection's counts by rule (src/lib/counts.c): the zero value is
 * empty, counts go up one at a time, the map grows without losing any,
 * clearing starts them all again, and freeing leaves the zero value.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "counts.h"
#include "tap.h"

static void
test_basic(void)
{
	struct counts	 c = { 0 };

	ok(counts_get(&c, 0) == 0 && counts_get(&c, 7) == 0,
	    "the zero value: every count 0");
	ok(counts_get(NULL, 3) == 0, "no map: 0");
	ok(counts_bump(&c, 3) == 1, "bump: 1");
	ok(counts_bump(&c, 3) == 2, "bump: 2");
	ok(counts_bump(&c, 3) == 3, "bump: 3");
	ok(counts_get(&c, 3) == 3, "get: 3");
	ok(counts_get(&c, 4) == 0 && counts_get(&c, 2) == 0,
	    "its neighbours: 0");
	ok(counts_bump(&c, 0) == 1 && counts_get(&c, 0) == 1,
	    "rule 0 has a count too");
	ok(counts_bump(&c, (size_t)UINT32_MAX - 1) == 1 &&
	    counts_get(&c, (size_t)UINT32_MAX - 1) == 1,
	    "the highest index there is");
	ok(counts_get(&c, 3) == 3, "the others kept");
	ok(c.used == 3, "three counted (%u)", c.used);
	counts_free(&c);
}

static void
test_many(void)
{
	struct counts	 c = { 0 };
	size_t		 i, n = 10000, right = 0, zero = 0;
	uint32_t	 k;

	/* index i bumped i % 5 + 1 times, in rounds, so that it grows */
	for (k = 0; k < 5; k++)
		for (i = 0; i < n; i++)
			if (i % 5 >= k && counts_bump(&c, i * 3) == 0)
				printf("# bump %zu: out of memory\n", i);
	for (i = 0; i < n; i++) {
		right += counts_get(&c, i * 3) == i % 5 + 1;
		zero += counts_get(&c, i * 3 + 1) == 0;
	}
	ok(right == n, "%zu keys through growth: all kept (%zu right)", n,
	    right);
	ok(zero == n, "keys never bumped: 0 (%zu)", zero);
	ok(c.used == n && c.cap >= 2 * n && (c.cap & (c.cap - 1)) == 0,
	    "%u used, room %u: a power of two, at most half full", c.used,
	    c.cap);

	counts_clear(&c);
	for (i = 0, zero = 0; i < n; i++)
		zero += counts_get(&c, i * 3) == 0;
	ok(zero == n && c.used == 0, "clear: all 0 (%zu)", zero);
	ok(c.cap > 0, "clear keeps the room");
	ok(counts_bump(&c, 6) == 1, "counted again from 1");
	counts_free(&c);
	ok(c.v == NULL && c.cap == 0 && c.used == 0,
	    "free leaves the zero value");
	ok(counts_get(&c, 6) == 0, "which has every count 0");
	ok(counts_bump(&c, 6) == 1, "and counts again");
	counts_free(&c);
	counts_free(&c);
	ok(1, "free twice is harmless");
}

int
main(void)
{
	test_basic();
	test_many();
	return tap_done();
}
