/* SPDX-License-Identifier: ISC */
/*
 * Connections in the order of their last activity, least recent first:
 * one timer for the oldest stands for a timer per connection.
 */
#ifndef ECHOREPLYD_IDLE_H
#define ECHOREPLYD_IDLE_H

#include <stdbool.h>
#include <stdint.h>

struct idle_entry {
	struct idle_entry	*prev, *next;
	uint64_t		 active;	/* usec, CLOCK_MONOTONIC */
};

struct idle_list {
	struct idle_entry	*head;		/* least recently active */
	struct idle_entry	*tail;
	/*
	 * The newest entry rested since it was last active: it and every
	 * entry before it are (idle_rest_next); NULL: none is.
	 */
	struct idle_entry	*rested;
};

void	idle_append(struct idle_list *, struct idle_entry *, uint64_t now);
void	idle_unlink(struct idle_list *, struct idle_entry *);
/*
 * Marks activity at now: the entry moves to the end. True when every
 * entry was rested before: there is one to rest again.
 */
bool	idle_touch(struct idle_list *, struct idle_entry *, uint64_t now);
/*
 * The least recently active entry not rested since, when it was last
 * active at or before `before`: it counts as rested from now on, until
 * it is touched. NULL when there is none. Each quiet entry comes back
 * once, however often this is asked.
 */
struct idle_entry *idle_rest_next(struct idle_list *, uint64_t before);
/* The least recently active entry not rested since; NULL: none. */
const struct idle_entry *idle_unrested(const struct idle_list *);

#endif
