/* SPDX-License-Identifier: ISC */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tally.h"

#define NBUCKETS_MIN	64

struct tallies {
	struct tally	**buckets;
	size_t		  nbuckets;	/* a power of two */
	size_t		  n;
	TAILQ_HEAD(, tally) spare;	/* oldest first */
	size_t		  nspare, max_spare;
	uint64_t	  evicted;
};

struct tallies *
tallies_new(size_t max_spare)
{
	struct tallies	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): array of pointers */
	if ((s->buckets = calloc(NBUCKETS_MIN, sizeof(*s->buckets))) == NULL) {
		free(s);
		return NULL;
	}
	s->nbuckets = NBUCKETS_MIN;
	TAILQ_INIT(&s->spare);
	s->max_spare = max_spare > 0 ? max_spare : 1;
	return s;
}

void
tallies_set_max(struct tallies *s, size_t max_spare)
{
	s->max_spare = max_spare > 0 ? max_spare : 1;
}

void
tallies_free(struct tallies *s)
{
	struct tally	*e, *next;
	size_t		 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++)
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(s->buckets);
	free(s);
}

static size_t
hash(int family, const uint8_t *a)
{
	uint64_t	 h = 0xcbf29ce484222325ULL ^ (uint64_t)family;
	int		 i;

	for (i = 0; i < 16; i++) {
		h ^= a[i];
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

static void
grow(struct tallies *s)
{
	struct tally	**nb, *e, *next;
	size_t		  n = s->nbuckets * 2, i, h;

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): array of pointers */
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < s->nbuckets; i++)
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->next;
			h = hash(e->family, e->addr) & (n - 1);
			e->next = nb[h];
			nb[h] = e;
		}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

static void
unspare(struct tallies *s, struct tally *e)
{
	if (!e->spare)
		return;
	TAILQ_REMOVE(&s->spare, e, spare_link);
	e->spare = false;
	s->nspare--;
}

/* Unlinks a spare entry from the table and frees it. */
static void
drop(struct tallies *s, struct tally *e)
{
	struct tally	**pp;
	size_t		  h = hash(e->family, e->addr) & (s->nbuckets - 1);

	unspare(s, e);
	for (pp = &s->buckets[h]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	free(e);
	s->n--;
}

/* An entry is needed while it has connections or its bucket is refilling. */
static bool
idle(const struct tally *e, uint64_t now, double rate, double burst)
{
	return e->conns == 0 && bucket_full(&e->bucket, now, rate, burst);
}

void
tallies_reap(struct tallies *s, uint64_t now, double rate, double burst)
{
	struct tally	*e;

	while ((e = TAILQ_FIRST(&s->spare)) != NULL &&
	    idle(e, now, rate, burst))
		drop(s, e);
}

struct tally *
tallies_get(struct tallies *s, const struct sockaddr *sa, uint64_t now,
    double rate, double burst)
{
	struct tally	*e;
	uint8_t		 a[16];
	size_t		 h;
	int		 family;

	if ((family = addr_key(sa, a)) == 0)
		return NULL;
	tallies_reap(s, now, rate, burst);
	h = hash(family, a) & (s->nbuckets - 1);
	for (e = s->buckets[h]; e != NULL; e = e->next)
		if (e->family == family && memcmp(e->addr, a, 16) == 0) {
			unspare(s, e);
			return e;
		}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->family = family;
	memcpy(e->addr, a, 16);
	bucket_init(&e->bucket);
	e->next = s->buckets[h];
	s->buckets[h] = e;
	if (++s->n > s->nbuckets)
		grow(s);
	return e;
}

void
tallies_put(struct tallies *s, struct tally *e, uint64_t now, double rate,
    double burst)
{
	struct tally	*old;

	if (e == NULL || e->conns > 0)
		return;
	if (idle(e, now, rate, burst)) {
		drop(s, e);
		return;
	}
	if (e->spare)
		return;
	/* the oldest's bucket forgotten: that source starts full again */
	while (s->nspare >= s->max_spare &&
	    (old = TAILQ_FIRST(&s->spare)) != NULL) {
		/* drop() takes it off the list: the next is a live one */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		drop(s, old);
		s->evicted++;
	}
	e->spare = true;
	TAILQ_INSERT_TAIL(&s->spare, e, spare_link);
	s->nspare++;
}

size_t
tallies_count(const struct tallies *s)
{
	return s->n;
}

uint64_t
tallies_evicted(const struct tallies *s)
{
	return s->evicted;
}
