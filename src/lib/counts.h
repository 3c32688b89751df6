/* SPDX-License-Identifier: ISC */
/*
 * A connection's counts by rule: how many times each rule that counts
 * matched on it. Only rules it has matched take room, so a connection
 * costs nothing more for a configuration with many rules.
 */
#ifndef ECHOREPLYD_COUNTS_H
#define ECHOREPLYD_COUNTS_H

#include <stddef.h>
#include <stdint.h>

struct counts_slot {
	uint32_t	 key;	/* the rule's index + 1; 0: free */
	uint32_t	 n;
};

/* The zero value is an empty map. */
struct counts {
	struct counts_slot *v;
	uint32_t	 cap;	/* a power of two, or 0 */
	uint32_t	 used;
};

/* The count of rule index i; 0 when it has none. */
uint32_t	 counts_get(const struct counts *, size_t i);
/* Adds one to rule i's count: the new count, or 0 when out of memory. */
uint32_t	 counts_bump(struct counts *, size_t i);
/* Every count back to 0 (keeps the room). */
void		 counts_clear(struct counts *);
void		 counts_free(struct counts *);

#endif
