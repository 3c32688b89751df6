#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sources.h"

#define NBUCKETS_MIN	64

struct sources {
	struct source	**buckets;
	size_t		  nbuckets;	/* a power of two */
	size_t		  n;
};

struct sources *
sources_new(void)
{
	struct sources	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->buckets = calloc(NBUCKETS_MIN, sizeof(*s->buckets))) == NULL) {
		free(s);
		return NULL;
	}
	s->nbuckets = NBUCKETS_MIN;
	return s;
}

void
sources_free(struct sources *s)
{
	struct source	*e, *next;
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

static int
key(const struct sockaddr *sa, uint8_t a[16])
{
	const struct sockaddr_in6	*sin6;

	memset(a, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(a, &sin6->sin6_addr.s6_addr[12], 4);
		return AF_INET;
	}
	memcpy(a, &sin6->sin6_addr, 16);
	return AF_INET6;
}

static void
grow(struct sources *s)
{
	struct source	**nb, *e, *next;
	size_t		  n = s->nbuckets * 2, i, h;

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

struct source *
sources_get(struct sources *s, const struct sockaddr *sa)
{
	struct source	*e;
	uint8_t		 a[16];
	size_t		 h;
	int		 family;

	if ((family = key(sa, a)) == 0)
		return NULL;
	h = hash(family, a) & (s->nbuckets - 1);
	for (e = s->buckets[h]; e != NULL; e = e->next)
		if (e->family == family && memcmp(e->addr, a, 16) == 0)
			return e;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->family = family;
	memcpy(e->addr, a, 16);
	e->tokens = -1;		/* a full bucket, filled on first use */
	e->next = s->buckets[h];
	s->buckets[h] = e;
	if (++s->n > s->nbuckets)
		grow(s);
	return e;
}

/* An entry is needed while it has connections or its bucket is refilling. */
static bool
idle(struct source *e, uint64_t now, double rate, double burst)
{
	if (e->conns > 0)
		return false;
	if (rate <= 0 || e->tokens < 0)
		return true;
	return e->tokens + (double)(now - e->refilled) * rate / 1e6 >= burst;
}

void
sources_put(struct sources *s, struct source *e, uint64_t now, double rate,
    double burst)
{
	struct source	**pp;
	size_t		  h;

	if (e == NULL || !idle(e, now, rate, burst))
		return;
	h = hash(e->family, e->addr) & (s->nbuckets - 1);
	for (pp = &s->buckets[h]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			free(e);
			s->n--;
			return;
		}
}

void
sources_sweep(struct sources *s, uint64_t now, double rate, double burst)
{
	struct source	**pp, *e;
	size_t		  i;

	for (i = 0; i < s->nbuckets; i++)
		for (pp = &s->buckets[i]; (e = *pp) != NULL; ) {
			if (idle(e, now, rate, burst)) {
				*pp = e->next;
				free(e);
				s->n--;
			} else
				pp = &e->next;
		}
}

size_t
sources_count(const struct sources *s)
{
	return s->n;
}

uint64_t
source_take(struct source *e, uint64_t now, double rate, double burst)
{
	if (e->tokens < 0) {
		e->tokens = burst;
		e->refilled = now;
	}
	if (now > e->refilled) {
		e->tokens += (double)(now - e->refilled) * rate / 1e6;
		if (e->tokens > burst)
			e->tokens = burst;
		e->refilled = now;
	}
	if (e->tokens >= 1) {
		e->tokens -= 1;
		return 0;
	}
	return (uint64_t)((1 - e->tokens) * 1e6 / rate) + 1;
}
