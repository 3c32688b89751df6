/* SPDX-License-Identifier: ISC */
/*
 * The token bucket (src/lib/bucket.c): a burst at once, then one token
 * every 1/rate seconds, never more than burst saved up. Times are usec;
 * rates and times are picked so that token counts come out exact.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bucket.h"
#include "tap.h"

#define SEC	1000000ULL

/* Takes n tokens at now; how many of them there were. */
static int
take_n(struct bucket *b, uint64_t now, double rate, double burst, int n)
{
	int	 got = 0;

	while (n-- > 0)
		got += bucket_take(b, now, rate, burst) == 0;
	return got;
}

static void
test_burst(void)
{
	struct bucket	 b;
	uint64_t	 t = 5 * SEC, wait;

	bucket_init(&b);
	ok(take_n(&b, t, 10, 3, 3) == 3, "a fresh bucket gives its burst");
	wait = bucket_take(&b, t, 10, 3);
	ok(wait >= SEC / 10 && wait <= SEC / 10 + 1,
	    "then the wait for one token at 10/s (%llu us)",
	    (unsigned long long)wait);
	t += wait;
	ok(bucket_take(&b, t, 10, 3) == 0, "which is there after it");
	/* the microsecond the wait was rounded up by counts for the next */
	wait = bucket_take(&b, t, 10, 3);
	ok(wait >= SEC / 10 - 1 && wait <= SEC / 10,
	    "and the next one as long again (%llu us)",
	    (unsigned long long)wait);

	/* a bucket filled on first use, whenever that is */
	bucket_init(&b);
	ok(take_n(&b, 900 * SEC, 10, 5, 6) == 5,
	    "first use long after init: still just the burst");

	bucket_init(&b);
	ok(take_n(&b, 0, 1000, 1, 1) == 1, "burst 1 at time 0");
	wait = bucket_take(&b, 0, 1000, 1);
	ok(wait >= 1000 && wait <= 1001, "1000/s: 1 ms to wait (%llu us)",
	    (unsigned long long)wait);
}

static void
test_wait(void)
{
	struct bucket	 b;
	uint64_t	 t = 10 * SEC, wait;

	/* half a token saved: half the wait */
	bucket_init(&b);
	take_n(&b, t, 10, 2, 2);
	wait = bucket_take(&b, t + 50000, 10, 2);
	ok(wait >= 50000 && wait <= 50001, "half a token: half the wait "
	    "(%llu us)", (unsigned long long)wait);

	/* a rate that does not divide a second: the wait rounds up */
	bucket_init(&b);
	take_n(&b, t, 3, 1, 1);
	wait = bucket_take(&b, t, 3, 1);
	ok(wait >= 333333 && wait <= 333334, "3/s: a third of a second "
	    "(%llu us)", (unsigned long long)wait);
	ok(bucket_take(&b, t + wait - 2, 3, 1) != 0, "not yet just before it");
	/* 0 would say there was a token: a wait is never shorter than 1 us */
	ok(bucket_take(&b, t + 333333, 3, 1) == 1,
	    "a third of a microsecond short: 1 us more");
	ok(bucket_take(&b, t + wait, 3, 1) == 0, "there once it is over");

	/* a slow rate */
	bucket_init(&b);
	take_n(&b, t, 0.5, 1, 1);
	wait = bucket_take(&b, t, 0.5, 1);
	ok(wait >= 2 * SEC && wait <= 2 * SEC + 1, "0.5/s: two seconds "
	    "(%llu us)", (unsigned long long)wait);
}

static void
test_cap(void)
{
	struct bucket	 b;
	uint64_t	 t = 1 * SEC, wait;

	bucket_init(&b);
	take_n(&b, t, 10, 3, 3);
	/* 1000 s at 10/s would be 10000 tokens */
	t += 1000 * SEC;
	ok(take_n(&b, t, 10, 3, 4) == 3, "a long pause refills up to burst");
	wait = bucket_take(&b, t, 10, 3);
	ok(wait >= SEC / 10 && wait <= SEC / 10 + 1,
	    "and no further (%llu us)", (unsigned long long)wait);
	/* 0.2 s at 10/s: exactly two tokens */
	ok(take_n(&b, t + 200000, 10, 3, 3) == 2, "a short pause: what it "
	    "earned");
}

static void
test_full(void)
{
	struct bucket	 b;
	uint64_t	 t = 7 * SEC;

	bucket_init(&b);
	ok(bucket_full(&b, 0, 10, 3), "full before first use");
	ok(bucket_full(&b, t, 10, 3), "full before first use, any time");
	bucket_take(&b, t, 10, 3);
	ok(!bucket_full(&b, t, 10, 3), "one token taken: not full");
	ok(!bucket_full(&b, t + 99999, 10, 3), "not full just before the "
	    "token is back");
	ok(bucket_full(&b, t + 100000, 10, 3), "full once it is back");
	take_n(&b, t, 10, 3, 2);
	ok(!bucket_full(&b, t, 10, 3), "empty: not full");
	ok(!bucket_full(&b, t + 299999, 10, 3), "not full before 3 tokens' "
	    "time");
	ok(bucket_full(&b, t + 300000, 10, 3), "full after 3 tokens' time");
	ok(bucket_full(&b, t + 3600 * SEC, 10, 3), "full long after");
	/* checking changes nothing */
	ok(take_n(&b, t, 10, 3, 1) == 0, "bucket_full did not refill it");
	ok(bucket_full(&b, t, 0, 3), "no rate: always full");
}

static void
test_time(void)
{
	struct bucket	 b;
	uint64_t	 t = 20 * SEC, wait;

	bucket_init(&b);
	take_n(&b, t, 10, 3, 3);
	ok(take_n(&b, t, 10, 3, 5) == 0, "the same time again: no refill");
	wait = bucket_take(&b, t - 5 * SEC, 10, 3);
	ok(wait >= SEC / 10 && wait <= SEC / 10 + 1,
	    "an earlier time: no refill, the same wait (%llu us)",
	    (unsigned long long)wait);
	/* had it gone back to t - 5 s, t + 0.1 s would find a full bucket */
	ok(take_n(&b, t + 100000, 10, 3, 3) == 1,
	    "an earlier time does not move the refill back");
	ok(take_n(&b, t + 50000, 10, 3, 1) == 0,
	    "nor does one before the last refill");
	ok(!bucket_full(&b, t + 100000, 10, 3),
	    "not full at the time of the last refill");
	/* an earlier time must not wrap around into "full for ages" */
	ok(!bucket_full(&b, t + 50000, 10, 3),
	    "not full at a time before the last refill");
	ok(!bucket_full(&b, 0, 10, 3), "not full at time 0 either");
}

static void
test_no_rate(void)
{
	struct bucket	 b;
	int		 i, waits = 0;

	bucket_init(&b);
	for (i = 0; i < 100; i++)
		if (bucket_take(&b, 5 * SEC, 0, 1) != 0)
			waits++;
	ok(waits == 0, "no rate: never a wait (%d of 100)", waits);
	ok(bucket_take(&b, 5 * SEC, -1, 1) == 0, "a negative rate: no wait");
}

int
main(void)
{
	test_burst();
	test_wait();
	test_cap();
	test_full();
	test_time();
	test_no_rate();
	return tap_done();
}
