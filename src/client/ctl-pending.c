/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>

#include "ctl-pending.h"

int
pending_push(struct pending_ring *pr, size_t len, uint64_t t)
{
	struct pending	*v;
	size_t		 i, cap;

	if (pr->n == pr->cap) {
		cap = pr->cap ? pr->cap * 2 : 64;
		if ((v = reallocarray(NULL, cap, sizeof(*v))) == NULL)
			return -ENOMEM;
		for (i = 0; i < pr->n; i++)
			v[i] = pr->v[(pr->head + i) % pr->cap];
		free(pr->v);
		pr->v = v;
		pr->cap = cap;
		pr->head = 0;
	}
	pr->v[(pr->head + pr->n) % pr->cap].len = len;
	pr->v[(pr->head + pr->n) % pr->cap].t = t;
	pr->n++;
	return 0;
}

struct pending *
pending_at(struct pending_ring *pr, size_t i)
{
	return &pr->v[(pr->head + i) % pr->cap];
}

struct pending
pending_pop(struct pending_ring *pr)
{
	struct pending	 p = pr->v[pr->head];

	pr->head = (pr->head + 1) % pr->cap;
	pr->n--;
	return p;
}

void
pending_free(struct pending_ring *pr)
{
	free(pr->v);
	pr->v = NULL;
	pr->cap = pr->head = pr->n = 0;
}
