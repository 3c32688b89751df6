/* SPDX-License-Identifier: ISC */
/*
 * Connections in the order of their last activity, least recent first:
 * one timer for the oldest stands for a timer per connection.
 */
#ifndef ECHOREPLYD_IDLE_H
#define ECHOREPLYD_IDLE_H

#include <stdint.h>

struct idle_entry {
	struct idle_entry	*prev, *next;
	uint64_t		 active;	/* usec, CLOCK_MONOTONIC */
};

struct idle_list {
	struct idle_entry	*head;		/* least recently active */
	struct idle_entry	*tail;
};

void	idle_append(struct idle_list *, struct idle_entry *, uint64_t now);
void	idle_unlink(struct idle_list *, struct idle_entry *);
/* Marks activity at now: the entry moves to the end. */
void	idle_touch(struct idle_list *, struct idle_entry *, uint64_t now);

#endif
