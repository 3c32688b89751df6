/* SPDX-License-Identifier: ISC */
/*
 * The messages kept for the control socket: a ring bounded both in count
 * and in bytes, the oldest dropped first. One block of memory, taken at
 * the first add; an entry's bytes are copied in.
 */
#ifndef ECHOREPLYD_RING_H
#define ECHOREPLYD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ring;

/* One recorded message, as added, or as read back (pointers into the ring). */
struct ring_entry {
	uint64_t	 seq;		/* from 1, set by ring_add() */
	uint64_t	 time_usec;	/* CLOCK_REALTIME */
	uint64_t	 conn;		/* connection id; 0: a datagram */
	uint32_t	 listener;	/* the listener's index */
	uint64_t	 full_len;	/* the message's length as received */
	const char	*client;	/* "ADDR:PORT", not NUL-terminated */
	size_t		 client_len;
	const char	*rule;		/* the rule's label; NULL: default */
	size_t		 rule_len;
	const void	*msg;		/* what is kept of the message */
	size_t		 msg_len;
};

/*
 * A ring for at most max_count entries and max_bytes bytes (entries and
 * their bookkeeping; less than 4096 counts as 4096). NULL when out of
 * memory, or max_count is 0.
 */
struct ring	*ring_new(size_t max_count, size_t max_bytes);
void		 ring_free(struct ring *);
/*
 * Copies e in (its message cut so that the entry takes at most a quarter
 * of max_bytes, and at most 65536 bytes of it kept), dropping the oldest
 * entries as need be, and returns its seq; e->seq is not read. client
 * and rule are cut at 255 bytes, full_len kept as given. 0 when out of
 * memory for the block (taken at the first add, else at the next): then
 * nothing is kept. kept, unless NULL, gets the entry as ring_get() would
 * read it back (so it is not read again).
 */
uint64_t	 ring_add(struct ring *, const struct ring_entry *e,
		    struct ring_entry *kept);
/* The oldest seq kept (0: none) and the next seq ring_add() will give. */
uint64_t	 ring_first(const struct ring *);
uint64_t	 ring_next(const struct ring *);
size_t		 ring_count(const struct ring *);
/*
 * Entry seq, pointing into the ring until the next ring_add(). False when
 * it is not kept (dropped, or not yet added).
 */
bool		 ring_get(const struct ring *, uint64_t seq, struct ring_entry *);
/*
 * fn, unless NULL, is called when ring_add() is about to drop entries
 * first to end - 1 (the oldest): they can still be read then. It must not
 * add.
 */
void		 ring_on_drop(struct ring *,
		    void (*fn)(void *arg, uint64_t first, uint64_t end),
		    void *arg);

#endif
