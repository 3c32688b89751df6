/* SPDX-License-Identifier: ISC */
#include <stddef.h>

#include "idle.h"

void
idle_append(struct idle_list *l, struct idle_entry *e, uint64_t now)
{
	e->active = now;
	e->prev = l->tail;
	e->next = NULL;
	if (l->tail != NULL)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

void
idle_unlink(struct idle_list *l, struct idle_entry *e)
{
	if (l->rested == e)
		l->rested = e->prev;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

bool
idle_touch(struct idle_list *l, struct idle_entry *e, uint64_t now)
{
	bool	 all = l->rested != NULL && l->rested == l->tail;

	e->active = now;
	if (l->rested == e)
		l->rested = e->prev;	/* active again: to be rested again */
	if (l->tail != e) {
		idle_unlink(l, e);
		idle_append(l, e, now);
	}
	return all;
}

const struct idle_entry *
idle_unrested(const struct idle_list *l)
{
	return l->rested != NULL ? l->rested->next : l->head;
}

struct idle_entry *
idle_rest_next(struct idle_list *l, uint64_t before)
{
	struct idle_entry	*e;

	e = l->rested != NULL ? l->rested->next : l->head;
	if (e == NULL || e->active > before)
		return NULL;
	l->rested = e;
	return e;
}
