/* SPDX-License-Identifier: ISC */
/* The messages sent or queued that await their replies, oldest first. */
#ifndef ECHOREPLYD_CTL_PENDING_H
#define ECHOREPLYD_CTL_PENDING_H

#include <stddef.h>
#include <stdint.h>

struct pending {
	size_t		 len;		/* datagrams: bytes of the message */
	uint64_t	 t;		/* when it was sent, in ns */
};

/* A ring of them. The zero value is an empty ring. */
struct pending_ring {
	struct pending	*v;
	size_t		 cap, head;
	size_t		 n;		/* how many await their replies */
};

/* Adds the newest. Returns 0 or -ENOMEM. */
int	pending_push(struct pending_ring *, size_t len, uint64_t t);
/* The i-th oldest, for i < n. */
struct pending *pending_at(struct pending_ring *, size_t i);
/* Takes the oldest off; n must not be 0. */
struct pending pending_pop(struct pending_ring *);
void	pending_free(struct pending_ring *);

#endif
