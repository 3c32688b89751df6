/* SPDX-License-Identifier: ISC */
/*
 * The messages kept for the control socket (src/lib/ring.c): numbered
 * from 1, bounded in count and in bytes, the oldest dropped first, long
 * messages, clients and rules cut, no rule read back as none; and many
 * adds of random sizes around the block, every kept entry read back
 * after each against a copy the test keeps (and as ring_add() said it
 * kept it), and ring_on_drop()'s hook told of exactly those dropped, while
 * they could still be read.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "tap.h"

/*
 * What the test assumes of an entry's bookkeeping: at least its time,
 * connection and length (24 bytes), at most 96 bytes.
 */
#define HDR_MIN		24
#define HDR_MAX		96
#define NAME_MAX_LEN	255
#define MSG_MAX		65536
#define POOL_LEN	(1 << 17)

/* A shadow entry: what was given to ring_add(), the message's start. */
struct shadow {
	uint64_t	 seq;
	uint64_t	 time_usec;
	uint64_t	 conn;
	uint64_t	 full_len;
	uint32_t	 listener;
	char		 client[300];
	size_t		 client_len;
	char		 rule[300];
	size_t		 rule_len;
	bool		 has_rule;
	unsigned char	*msg;		/* its first min(msg_len, msg_room) */
	size_t		 msg_len;	/* as given */
};

static unsigned char	 pool[POOL_LEN];

/* Asks ASan for NULL from a malloc too large, as libc gives. */
const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* SplitMix64, so that every run adds the same entries. */
static uint64_t
draw(uint64_t *s)
{
	uint64_t	 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
draw_upto(uint64_t *s, size_t max)
{
	return (size_t)(draw(s) % ((uint64_t)max + 1));
}

static void
pool_fill(void)
{
	uint64_t	 s = 7, x;
	size_t		 i;

	for (i = 0; i < POOL_LEN; i += 8) {
		x = draw(&s);
		memcpy(pool + i, &x, 8);
	}
}

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* An entry with the given parts, the other fields from seq. */
static void
entry_make(struct ring_entry *e, uint64_t n, const char *client,
    size_t client_len, const char *rule, size_t rule_len, const void *msg,
    size_t msg_len)
{
	memset(e, 0, sizeof(*e));
	e->seq = 999999;	/* not read */
	e->time_usec = 1700000000000000ULL + n;
	e->conn = n * 3;
	e->listener = (uint32_t)(n % 5);
	e->full_len = msg_len + n;
	e->client = client;
	e->client_len = client_len;
	e->rule = rule;
	e->rule_len = rule_len;
	e->msg = msg;
	e->msg_len = msg_len;
}

static void
shadow_take(struct shadow *sh, uint64_t seq, const struct ring_entry *e,
    size_t msg_room)
{
	sh->seq = seq;
	sh->time_usec = e->time_usec;
	sh->conn = e->conn;
	sh->full_len = e->full_len;
	sh->listener = e->listener;
	sh->client_len = e->client_len;
	memcpy(sh->client, e->client, min_size(e->client_len,
	    sizeof(sh->client)));
	sh->has_rule = e->rule != NULL;
	sh->rule_len = e->rule != NULL ? e->rule_len : 0;
	if (e->rule != NULL)
		memcpy(sh->rule, e->rule, min_size(e->rule_len,
		    sizeof(sh->rule)));
	sh->msg_len = e->msg_len;
	memcpy(sh->msg, e->msg, min_size(e->msg_len, msg_room));
}

/*
 * Whether got is want read back from a ring of max_bytes: the fields
 * kept, client and rule cut at 255, the message whole when it fits in a
 * quarter of the block with the largest bookkeeping, else cut no more
 * than to fit with it. Says why not in why.
 */
static bool
entry_same(const struct ring_entry *got, const struct shadow *want,
    size_t max_bytes, const char **why)
{
	size_t	 quarter = max_bytes / 4, clen, rlen, payload;

	clen = min_size(want->client_len, NAME_MAX_LEN);
	rlen = min_size(want->rule_len, NAME_MAX_LEN);
	payload = got->client_len + got->rule_len + got->msg_len;
	*why = NULL;
	if (got->seq != want->seq)
		*why = "seq";
	else if (got->time_usec != want->time_usec || got->conn != want->conn ||
	    got->listener != want->listener || got->full_len != want->full_len)
		*why = "time, conn, listener or full_len";
	else if (got->client_len != clen ||
	    (clen > 0 && memcmp(got->client, want->client, clen) != 0))
		*why = "client";
	else if ((got->rule != NULL) != want->has_rule)
		*why = "rule NULL or not";
	else if (got->rule_len != rlen ||
	    (rlen > 0 && memcmp(got->rule, want->rule, rlen) != 0))
		*why = "rule";
	else if (got->msg_len > want->msg_len || got->msg_len > MSG_MAX ||
	    (got->msg_len > 0 &&
	    memcmp(got->msg, want->msg, got->msg_len) != 0))
		*why = "message bytes";
	else if (got->msg_len < want->msg_len && got->msg_len < MSG_MAX &&
	    payload + HDR_MAX + 8 <= quarter)
		*why = "message cut though it fits";
	else if (clen + rlen + want->msg_len + HDR_MAX + 7 <= quarter &&
	    want->msg_len <= MSG_MAX && got->msg_len != want->msg_len)
		*why = "message cut though it fits";
	else if (payload + HDR_MIN > quarter)
		*why = "entry over a quarter of the block";
	return *why == NULL;
}

static void
test_empty(void)
{
	struct ring		*r;
	struct ring_entry	 e;

	ok(ring_new(0, 4096) == NULL && ring_new(0, 0) == NULL,
	    "max_count 0: no ring");
	ring_free(NULL);
	ok(1, "ring_free(NULL) is harmless");
	if ((r = ring_new(10, 4096)) == NULL) {
		ok(0, "ring_new(10, 4096): out of memory");
		return;
	}
	ok(ring_first(r) == 0 && ring_next(r) == 1 && ring_count(r) == 0,
	    "empty: first 0, next 1, count 0 (%llu %llu %zu)",
	    (unsigned long long)ring_first(r),
	    (unsigned long long)ring_next(r), ring_count(r));
	ok(!ring_get(r, 0, &e) && !ring_get(r, 1, &e) && !ring_get(r, 2, &e),
	    "empty: nothing to get");
	ring_free(r);
	ok(1, "an empty ring, never added to, freed");
}

static void
test_seq(void)
{
	struct ring		*r;
	struct ring_entry	 e, g;
	uint64_t		 s1, s2, s3;

	if ((r = ring_new(10, 4096)) == NULL) {
		ok(0, "ring_new(10, 4096): out of memory");
		return;
	}
	entry_make(&e, 1, LIT("192.0.2.1:5000"), LIT("greet"), LIT("hello\n"));
	s1 = ring_add(r, &e, NULL);
	entry_make(&e, 2, LIT("[2001:db8::1]:53"), NULL, 0, LIT("a\0b\0c"));
	s2 = ring_add(r, &e, NULL);
	entry_make(&e, 3, LIT("-"), LIT(""), NULL, 0);
	s3 = ring_add(r, &e, NULL);
	ok(s1 == 1 && s2 == 2 && s3 == 3, "seqs 1, 2, 3 (%llu %llu %llu)",
	    (unsigned long long)s1, (unsigned long long)s2,
	    (unsigned long long)s3);
	ok(ring_first(r) == 1 && ring_next(r) == 4 && ring_count(r) == 3,
	    "first 1, next 4, count 3");

	memset(&g, 0, sizeof(g));
	ok(ring_get(r, 1, &g) && g.seq == 1, "get 1");
	ok(g.time_usec == 1700000000000001ULL && g.conn == 3 &&
	    g.listener == 1 && g.full_len == 7,
	    "1: time, conn, listener, full_len");
	ok_bytes(g.client, g.client_len, "192.0.2.1:5000", "1: client");
	ok(g.rule != NULL, "1: a rule");
	if (g.rule != NULL)
		ok_bytes(g.rule, g.rule_len, "greet", "1: rule");
	ok_bytes(g.msg, g.msg_len, "hello\n", "1: message");

	ok(ring_get(r, 2, &g) && g.seq == 2, "get 2");
	ok(g.rule == NULL && g.rule_len == 0, "2: rule NULL stays NULL");
	ok(g.msg_len == 5 && memcmp(g.msg, "a\0b\0c", 5) == 0,
	    "2: message with NUL bytes, all 5");
	ok_bytes(g.client, g.client_len, "[2001:db8::1]:53", "2: client");

	ok(ring_get(r, 3, &g) && g.seq == 3, "get 3");
	ok(g.rule != NULL && g.rule_len == 0,
	    "3: an empty rule is not NULL");
	ok(g.msg_len == 0 && g.full_len == 3, "3: an empty message");

	ok(!ring_get(r, 0, &g) && !ring_get(r, 4, &g) &&
	    !ring_get(r, UINT64_MAX, &g), "0, 4 and the highest: not kept");
	ring_free(r);
}

static void
test_count(void)
{
	struct ring		*r;
	struct ring_entry	 e, g;
	char			 m[16];
	size_t			 i, right = 0, bad = 0;
	int			 n;

	if ((r = ring_new(5, 1 << 20)) == NULL) {
		ok(0, "ring_new(5, 1 MiB): out of memory");
		return;
	}
	for (i = 1; i <= 12; i++) {
		n = snprintf(m, sizeof(m), "m%zu", i);
		entry_make(&e, i, LIT("c"), LIT("r"), m, (size_t)n);
		bad += ring_add(r, &e, NULL) != i;
	}
	ok(bad == 0, "seqs 1 to 12 (%zu wrong)", bad);
	ok(ring_count(r) == 5 && ring_first(r) == 8 && ring_next(r) == 13,
	    "12 added, 5 at most: 8 to 12 kept (count %zu, first %llu)",
	    ring_count(r), (unsigned long long)ring_first(r));
	ok(!ring_get(r, 7, &g) && !ring_get(r, 1, &g), "7 and 1 dropped");
	for (i = 8; i <= 12; i++) {
		n = snprintf(m, sizeof(m), "m%zu", i);
		right += ring_get(r, i, &g) && g.seq == i &&
		    g.msg_len == (size_t)n && memcmp(g.msg, m, (size_t)n) == 0;
	}
	ok(right == 5, "8 to 12 read back (%zu right)", right);
	ring_free(r);

	if ((r = ring_new(1, 4096)) == NULL) {
		ok(0, "ring_new(1, 4096): out of memory");
		return;
	}
	for (i = 1; i <= 3; i++) {
		entry_make(&e, i, LIT("c"), NULL, 0, "x", 1);
		(void)ring_add(r, &e, NULL);
	}
	ok(ring_count(r) == 1 && ring_first(r) == 3 && ring_get(r, 3, &g) &&
	    !ring_get(r, 2, &g), "max_count 1: the last only");
	ring_free(r);
}

static void
test_bytes(void)
{
	struct ring		*r;
	struct ring_entry	 e, g;
	size_t			 i, n, max = 16384, payload, bad = 0, lo, hi;
	uint64_t		 s, q;

	if ((r = ring_new(100000, max)) == NULL) {
		ok(0, "ring_new(100000, 16384): out of memory");
		return;
	}
	/* the same size: the count levels off where the bytes say */
	for (i = 1; i <= 1000; i++) {
		entry_make(&e, i, LIT("192.0.2.1:9"), LIT("r"), pool, 100);
		(void)ring_add(r, &e, NULL);
	}
	lo = max / (100 + 10 + HDR_MAX + 7);
	hi = max / (100 + 10 + HDR_MIN);
	ok(ring_count(r) >= lo && ring_count(r) <= hi,
	    "110-byte entries in 16384 bytes: %zu kept, from %zu to %zu",
	    ring_count(r), lo, hi);
	ok(ring_first(r) + ring_count(r) == 1001, "the newest of them");
	ring_free(r);

	/* varied sizes: never more than the bytes, never less than half */
	if ((r = ring_new(100000, max)) == NULL) {
		ok(0, "ring_new(100000, 16384): out of memory");
		return;
	}
	for (i = 1, s = 3; i <= 5000; i++) {
		n = draw_upto(&s, 3000);
		entry_make(&e, i, LIT("192.0.2.1:9"), LIT("r"),
		    pool + draw_upto(&s, 1000), n);
		(void)ring_add(r, &e, NULL);
		payload = 0;
		for (q = ring_first(r); q < ring_next(r); q++)
			if (ring_get(r, q, &g))
				payload += g.client_len + g.rule_len +
				    g.msg_len;
		if (payload + ring_count(r) * HDR_MIN > max ||
		    (ring_first(r) > 1 &&
		    payload + ring_count(r) * (HDR_MAX + 7) < max / 2)) {
			if (bad++ == 0)
				printf("# add %zu: %zu kept, %zu bytes\n", i,
				    ring_count(r), payload);
		}
	}
	ok(bad == 0, "5000 adds up to 3000 bytes in 16384: within the "
	    "bytes, at least half of them kept (%zu wrong)", bad);
	ring_free(r);
}

static void
test_cut(void)
{
	struct ring		*r;
	struct ring_entry	 e, g;
	char			 name[400];
	size_t			 quarter = 1024, payload;

	memset(name, 'n', sizeof(name));
	if ((r = ring_new(10, 4096)) == NULL) {
		ok(0, "ring_new(10, 4096): out of memory");
		return;
	}
	entry_make(&e, 1, LIT("c:1"), LIT("r"), pool, 3000);
	ok(ring_add(r, &e, NULL) == 1 && ring_get(r, 1, &g), "3000 bytes in 4096");
	payload = g.client_len + g.rule_len + g.msg_len;
	ok(g.msg_len < 3000 && payload + HDR_MIN <= quarter &&
	    payload + HDR_MAX + 8 > quarter,
	    "cut to fit in a quarter, no more (%zu kept)", g.msg_len);
	ok(memcmp(g.msg, pool, g.msg_len) == 0, "its first bytes kept");
	ok(g.full_len == 3001, "full_len as given (%llu)",
	    (unsigned long long)g.full_len);

	entry_make(&e, 2, name, 300, name, 400, "m", 1);
	ok(ring_add(r, &e, NULL) == 2 && ring_get(r, 2, &g), "long client, rule");
	ok(g.client_len == 255 && g.rule_len == 255 && g.rule != NULL &&
	    memcmp(g.client, name, 255) == 0 && memcmp(g.rule, name, 255) == 0,
	    "client and rule cut at 255 (%zu %zu)", g.client_len, g.rule_len);
	ok(g.msg_len == 1 && memcmp(g.msg, "m", 1) == 0, "the message whole");

	entry_make(&e, 3, name, 255, name, 255, pool, 5000);
	ok(ring_add(r, &e, NULL) == 3 && ring_get(r, 3, &g),
	    "255-byte client and rule, a long message");
	payload = g.client_len + g.rule_len + g.msg_len;
	ok(g.client_len == 255 && g.rule_len == 255 && g.msg_len > 0 &&
	    payload + HDR_MIN <= quarter && payload + HDR_MAX + 8 > quarter,
	    "255 kept, the message cut to fit (%zu)", g.msg_len);

	entry_make(&e, 4, LIT("c"), NULL, 7, LIT("x"));
	ok(ring_add(r, &e, NULL) == 4 && ring_get(r, 4, &g) && g.rule == NULL &&
	    g.rule_len == 0, "rule NULL with a length: NULL, length 0");
	ok(ring_get(r, 1, &g) && g.msg_len > 0 &&
	    memcmp(g.msg, pool, g.msg_len) == 0, "1 still kept");
	ring_free(r);

	if ((r = ring_new(10, 1 << 20)) == NULL) {
		ok(0, "ring_new(10, 1 MiB): out of memory");
		return;
	}
	entry_make(&e, 5, LIT("c"), LIT("r"), pool, 100000);
	ok(ring_add(r, &e, NULL) == 1 && ring_get(r, 1, &g), "100000 bytes in 1 MiB");
	ok(g.msg_len == MSG_MAX && memcmp(g.msg, pool, MSG_MAX) == 0 &&
	    g.full_len == 100005, "65536 kept (%zu), full_len as given",
	    g.msg_len);
	entry_make(&e, 6, LIT("c"), LIT("r"), pool, MSG_MAX);
	ok(ring_add(r, &e, NULL) == 2 && ring_get(r, 2, &g) && g.msg_len == MSG_MAX,
	    "65536 bytes: all kept");
	ring_free(r);

	/* less than 4096 bytes counts as 4096 */
	if ((r = ring_new(10, 100)) == NULL) {
		ok(0, "ring_new(10, 100): out of memory");
		return;
	}
	entry_make(&e, 7, LIT("c"), LIT("r"), pool, 3000);
	ok(ring_add(r, &e, NULL) == 1 && ring_get(r, 1, &g), "3000 bytes in 100");
	payload = g.client_len + g.rule_len + g.msg_len;
	ok(payload + HDR_MIN <= quarter && payload + HDR_MAX + 8 > quarter,
	    "kept as in 4096 (%zu)", g.msg_len);
	ring_free(r);
}

static void
test_nomem(void)
{
	struct ring		*r;
	struct ring_entry	 e, g;

	if ((r = ring_new(1, SIZE_MAX / 2)) == NULL) {
		ok(1, "ring_new(1, SIZE_MAX / 2): no ring");
		return;
	}
	entry_make(&e, 1, LIT("c"), LIT("r"), "m", 1);
	ok(ring_add(r, &e, NULL) == 0, "no memory for the block: 0");
	ok(ring_count(r) == 0 && ring_first(r) == 0 && ring_next(r) == 1 &&
	    !ring_get(r, 1, &g), "and nothing kept");
	ring_free(r);
}

/*
 * adds entries of random sizes to a ring of max_count and max_bytes,
 * reading back all it keeps after each add.
 */
/* What ring_on_drop()'s hook was told in an add, and checked then. */
struct drops {
	struct ring		*r;
	const struct shadow	*sh;
	size_t			 max_count, max_bytes;
	size_t			 calls;		/* in this add */
	uint64_t		 first, end;
	size_t			 told;		/* in all */
	size_t			 wrong;
};

static void
dropping(void *arg, uint64_t first, uint64_t end)
{
	struct drops		*dr = arg;
	struct ring_entry	 g;
	const char		*why = "not kept";
	uint64_t		 q;

	dr->calls++;
	dr->first = first;
	dr->end = end;
	if (first >= end || first != ring_first(dr->r)) {
		printf("# told of %llu..%llu, first %llu\n",
		    (unsigned long long)first, (unsigned long long)end,
		    (unsigned long long)ring_first(dr->r));
		dr->wrong++;
	}
	for (q = first; q < end; q++, dr->told++)
		if (!ring_get(dr->r, q, &g) || !entry_same(&g,
		    &dr->sh[q % dr->max_count], dr->max_bytes, &why)) {
			printf("# told of %llu: %s\n", (unsigned long long)q,
			    why);
			dr->wrong++;
		}
}

/* Every field the same, pointers too. */
static bool
same_entry(const struct ring_entry *a, const struct ring_entry *b)
{
	return a->seq == b->seq && a->time_usec == b->time_usec &&
	    a->conn == b->conn && a->listener == b->listener &&
	    a->full_len == b->full_len && a->client == b->client &&
	    a->client_len == b->client_len && a->rule == b->rule &&
	    a->rule_len == b->rule_len && a->msg == b->msg &&
	    a->msg_len == b->msg_len;
}

static void
test_wrap(size_t max_count, size_t max_bytes, size_t adds, uint64_t seed)
{
	struct ring		*r;
	struct shadow		*sh;
	struct ring_entry	 e, g, k;
	const char		*why, *rule;
	size_t			 i, j, n, msg_room = max_bytes / 4, clen, rlen;
	size_t			 payload, bad = 0, most = 0, wrong = 0;
	struct drops		 dr;
	uint64_t		 s = seed, seq, q, first = 0, x;

	if ((r = ring_new(max_count, max_bytes)) == NULL ||
	    (sh = calloc(max_count, sizeof(*sh))) == NULL) {
		ok(0, "ring_new(%zu, %zu): out of memory", max_count,
		    max_bytes);
		ring_free(r);
		return;
	}
	for (j = 0; j < max_count; j++)
		if ((sh[j].msg = malloc(msg_room)) == NULL) {
			ok(0, "out of memory");
			goto done;
		}
	memset(&dr, 0, sizeof(dr));
	dr.r = r;
	dr.sh = sh;
	dr.max_count = max_count;
	dr.max_bytes = max_bytes;
	ring_on_drop(r, dropping, &dr);

	for (i = 1; i <= adds; i++) {
		x = draw(&s);
		switch (x % 100) {
		case 0: case 1:
			n = draw_upto(&s, 70000);
			break;
		default:
			if (x % 100 < 60)
				n = draw_upto(&s, 63);
			else if (x % 100 < 90)
				n = draw_upto(&s, 700);
			else
				n = draw_upto(&s, 3000);
			break;
		}
		clen = (x >> 8) % 8 == 0 ? draw_upto(&s, 300) :
		    draw_upto(&s, 47);
		rlen = (x >> 16) % 8 == 0 ? draw_upto(&s, 300) :
		    draw_upto(&s, 15);
		rule = (x >> 24) % 4 == 0 ? NULL : (const char *)pool +
		    draw_upto(&s, 1000);
		entry_make(&e, i, (const char *)pool + draw_upto(&s, 1000),
		    clen, rule, rlen, pool + draw_upto(&s, POOL_LEN - 70000),
		    n);
		e.time_usec = draw(&s);

		dr.calls = 0;
		seq = ring_add(r, &e, &k);
		if (seq == i && (!ring_get(r, seq, &g) || !same_entry(&k, &g))) {
			printf("# add %zu: kept is not what ring_get() reads\n",
			    i);
			bad++;
			break;
		}
		/* told of all it dropped, and only of those */
		if (first != 0 && (dr.calls > 1 || (dr.calls == 1 &&
		    (dr.first != first || dr.end != ring_first(r))) ||
		    (dr.calls == 0 && ring_first(r) != first))) {
			printf("# add %zu: first %llu -> %llu, told %zu times "
			    "of %llu..%llu\n", i, (unsigned long long)first,
			    (unsigned long long)ring_first(r), dr.calls,
			    (unsigned long long)dr.first,
			    (unsigned long long)dr.end);
			dr.wrong++;
		}
		if (seq != i) {
			printf("# add %zu: seq %llu\n", i,
			    (unsigned long long)seq);
			bad++;
			break;
		}
		shadow_take(&sh[seq % max_count], seq, &e, msg_room);

		if (ring_next(r) != i + 1 || ring_count(r) == 0 ||
		    ring_count(r) > max_count ||
		    ring_first(r) != ring_next(r) - ring_count(r) ||
		    ring_first(r) < first) {
			printf("# add %zu: first %llu, next %llu, count %zu\n",
			    i, (unsigned long long)ring_first(r),
			    (unsigned long long)ring_next(r), ring_count(r));
			bad++;
			break;
		}
		first = ring_first(r);
		if (ring_count(r) > most)
			most = ring_count(r);
		if (ring_get(r, first - 1, &g) || ring_get(r, i + 1, &g)) {
			printf("# add %zu: got one not kept\n", i);
			bad++;
			break;
		}
		payload = 0;
		for (q = first; q <= i; q++) {
			if (!ring_get(r, q, &g)) {
				why = "not kept";
				bad++;
			} else if (!entry_same(&g, &sh[q % max_count],
			    max_bytes, &why))
				bad++;
			else
				payload += g.client_len + g.rule_len +
				    g.msg_len;
			if (bad > 0) {
				printf("# add %zu, seq %llu: %s\n", i,
				    (unsigned long long)q, why);
				break;
			}
		}
		if (bad > 0)
			break;
		/* over the bytes, or under half once the bytes dropped one */
		if (payload + ring_count(r) * HDR_MIN > max_bytes ||
		    (first > 1 && ring_count(r) < max_count &&
		    payload + ring_count(r) * (HDR_MAX + 7) < max_bytes / 2)) {
			printf("# add %zu: %zu kept in %zu bytes\n", i,
			    ring_count(r), payload);
			wrong++;
		}
	}
	ok(bad == 0 && i == adds + 1,
	    "%zu adds, at most %zu in %zu bytes: every one kept read back "
	    "(at most %zu kept, last first %llu)", adds, max_count, max_bytes,
	    most, (unsigned long long)first);
	ok(wrong == 0, "within the bytes, at least half of them kept "
	    "(%zu wrong)", wrong);
	ok(dr.wrong == 0 && dr.told > 0, "ring_on_drop(): told of every entry "
	    "dropped (%zu), before, with each still read back as added (%zu "
	    "wrong)", dr.told, dr.wrong);
done:
	for (j = 0; j < max_count; j++)
		free(sh[j].msg);
	free(sh);
	ring_free(r);
}

int
main(void)
{
	pool_fill();
	test_empty();
	test_seq();
	test_count();
	test_bytes();
	test_cut();
	test_nomem();
	test_wrap(64, 4096, 1000000, 1);
	test_wrap(7, 65536, 100000, 2);
	test_wrap(1, 4096, 10000, 3);
	test_wrap(1000, 5003, 200000, 4);
	return tap_done();
}
