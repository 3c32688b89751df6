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

void
idle_touch(struct idle_list *l, struct idle_entry *e, uint64_t now)
{
	e->active = now;
	if (l->tail != e) {
		idle_unlink(l, e);
		idle_append(l, e, now);
	}
}
