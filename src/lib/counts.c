/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "counts.h"

static uint32_t
slot_of(const struct counts *c, uint32_t key)
{
	uint32_t	 i = (key * 0x9e3779b1U) & (c->cap - 1);

	while (c->v[i].key != 0 && c->v[i].key != key)
		i = (i + 1) & (c->cap - 1);
	return i;
}

uint32_t
counts_get(const struct counts *c, size_t i)
{
	uint32_t	 s;

	if (c == NULL || c->cap == 0)
		return 0;
	s = slot_of(c, (uint32_t)i + 1);
	return c->v[s].key != 0 ? c->v[s].n : 0;
}

/* Twice the room, every count moved over. 0 or -1. */
static int
grow(struct counts *c)
{
	struct counts	 n;
	uint32_t	 i, s;

	n.cap = c->cap ? c->cap * 2 : 4;
	n.used = c->used;
	if ((n.v = calloc(n.cap, sizeof(*n.v))) == NULL)
		return -1;
	for (i = 0; i < c->cap; i++) {
		if (c->v[i].key == 0)
			continue;
		s = slot_of(&n, c->v[i].key);
		n.v[s] = c->v[i];
	}
	free(c->v);
	*c = n;
	return 0;
}

uint32_t
counts_bump(struct counts *c, size_t i)
{
	uint32_t	 key = (uint32_t)i + 1, s;

	if (c->cap == 0 && grow(c) < 0)
		return 0;
	s = slot_of(c, key);
	if (c->v[s].key == 0) {
		/* at most half full */
		if ((c->used + 1) * 2 > c->cap) {
			if (grow(c) < 0)
				return 0;
			s = slot_of(c, key);
		}
		c->v[s].key = key;
		c->v[s].n = 0;
		c->used++;
	}
	if (c->v[s].n < UINT32_MAX)
		c->v[s].n++;
	return c->v[s].n;
}

void
counts_clear(struct counts *c)
{
	if (c->cap > 0)
		memset(c->v, 0, c->cap * sizeof(*c->v));
	c->used = 0;
}

void
counts_free(struct counts *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}
