/* SPDX-License-Identifier: ISC */
/*
 * The per-address tallies (src/lib/tally.c): an entry lives while it has
 * connections, is held, or its bucket refills; spare entries are bounded,
 * the least recently used given up first; refilled ones are reaped.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "tally.h"
#include "tap.h"

#define RATE	10.0		/* a token every 100 ms */
#define BURST	1.0
#define SEC	1000000ULL

static struct sockaddr_in
ip(unsigned int n)
{
	struct sockaddr_in	 sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000000U | n);
	return sin;
}

/* One message from 127.0.0.n at now: get, take a token, put. */
static struct tally *
message(struct tallies *s, unsigned int n, uint64_t now)
{
	struct sockaddr_in	 sin = ip(n);
	struct tally		*t;

	t = tallies_get(s, (struct sockaddr *)&sin, now, RATE, BURST);
	if (t != NULL) {
		(void)bucket_take(&t->bucket, now, RATE, BURST);
		tallies_put(s, t, now, RATE, BURST);
	}
	return t;
}

/*
 * Whether 127.0.0.n's bucket is empty at now, that is, whether the table
 * remembered its message; a get and a put, so its use is now.
 */
static bool
remembers(struct tallies *s, unsigned int n, uint64_t now)
{
	struct sockaddr_in	 sin = ip(n);
	struct tally		*t;
	bool			 empty;

	t = tallies_get(s, (struct sockaddr *)&sin, now, RATE, BURST);
	if (t == NULL)
		return false;
	empty = bucket_take(&t->bucket, now, RATE, BURST) > 0;
	tallies_put(s, t, now, RATE, BURST);
	return empty;
}

static void
test_lifetime(void)
{
	struct tallies		*s = tallies_new(16);
	struct sockaddr_in	 sin = ip(1);
	struct tally		*t;

	t = tallies_get(s, (struct sockaddr *)&sin, 0, RATE, BURST);
	ok(t != NULL && tallies_count(s) == 1, "an entry while held");
	tallies_put(s, t, 0, RATE, BURST);
	ok(tallies_count(s) == 0, "dropped when given back untouched");

	message(s, 1, 0);
	ok(tallies_count(s) == 1, "kept while its bucket refills");
	tallies_reap(s, SEC / 20, RATE, BURST);
	ok(tallies_count(s) == 1, "not reaped before it refilled");
	tallies_reap(s, SEC, RATE, BURST);
	ok(tallies_count(s) == 0, "reaped once refilled");

	message(s, 2, 0);
	message(s, 3, SEC);
	ok(tallies_count(s) == 1, "a get reaps the refilled spare entries");
	tallies_free(s);
}

static void
test_bound(void)
{
	struct tallies		*s = tallies_new(3);
	struct sockaddr_in	 sin;
	struct tally		*t, *held;
	unsigned int		 i;

	for (i = 1; i <= 5; i++)
		message(s, i, 0);
	ok(tallies_count(s) == 3 && tallies_evicted(s) == 2,
	    "five refilling, three kept, two evicted (%zu, %llu)",
	    tallies_count(s), (unsigned long long)tallies_evicted(s));
	/* kept: 3, 4, 5, in that order of use */
	ok(remembers(s, 3, 0), "a kept one still remembers its rate");
	/* now 4, 5, 3: 1 comes back full and 4 goes */
	ok(!remembers(s, 1, 0), "an evicted address starts full again");
	ok(tallies_evicted(s) == 3, "and made room by evicting one more");
	/* 5, 3, 1: a new one evicts 5, not 3 which was used after it */
	message(s, 6, 0);
	ok(remembers(s, 3, 0), "least recently used first: a recent one "
	    "stays");
	ok(!remembers(s, 5, 0), "and the least recent went");

	/* an entry with a connection open is never evicted */
	sin = ip(100);
	held = tallies_get(s, (struct sockaddr *)&sin, 0, RATE, BURST);
	held->conns++;
	(void)bucket_take(&held->bucket, 0, RATE, BURST);
	for (i = 200; i < 220; i++)
		message(s, i, 0);
	sin = ip(100);
	t = tallies_get(s, (struct sockaddr *)&sin, 0, RATE, BURST);
	ok(t == held && t->conns == 1, "a connected entry stays past the "
	    "bound");
	ok(tallies_count(s) == 4, "three spare and the connected one (%zu)",
	    tallies_count(s));
	held->conns--;
	tallies_put(s, held, 0, RATE, BURST);
	ok(tallies_count(s) == 3, "closed, it is spare, and the bound holds");
	tallies_free(s);
}

static void
test_families(void)
{
	struct tallies		*s = tallies_new(4);
	struct sockaddr_in6	 six;
	struct sockaddr		 un = { AF_UNIX, { 0 } };

	memset(&six, 0, sizeof(six));
	six.sin6_family = AF_INET6;
	six.sin6_addr.s6_addr[15] = 1;
	ok(tallies_get(s, (struct sockaddr *)&six, 0, RATE, BURST) != NULL,
	    "IPv6 has tallies");
	ok(tallies_get(s, &un, 0, RATE, BURST) == NULL, "Unix has none");
	tallies_free(s);
}

int
main(void)
{
	test_lifetime();
	test_bound();
	test_families();
	return tap_done();
}
