/* SPDX-License-Identifier: ISC */
/*
 * The entries lie one after the other in one block, each a header then
 * the client, the rule and the message, at offsets aligned to 8. The
 * newest ends at tail; the next goes at tail, or at 0 when it would pass
 * the end of the block. Before it is written, the oldest entries in its
 * way are dropped: those at or after tail, as far as it reaches, and on a
 * wrap first all those from tail to the end. Entries at or after tail are
 * always the oldest, in the order of their offsets.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define RING_MIN_BYTES	4096
#define RING_MAX_MSG	65536
#define RING_MAX_NAME	255
#define RING_ALIGN(n)	(((n) + 7) & ~(size_t)7)

struct ring_hdr {
	uint64_t	 seq;
	uint64_t	 time_usec;
	uint64_t	 conn;
	uint64_t	 full_len;
	uint32_t	 listener;
	uint32_t	 msg_len;
	uint8_t		 client_len;
	uint8_t		 rule_len;
	uint8_t		 has_rule;
};

#define RING_HDR	RING_ALIGN(sizeof(struct ring_hdr))

struct ring {
	size_t		 max_count;	/* no more than max_bytes can hold */
	size_t		 max_bytes;
	unsigned char	*block;		/* max_bytes; NULL: not yet taken */
	size_t		*off;		/* entry seq at off[seq % max_count] */
	size_t		 tail;		/* where the newest ends */
	size_t		 count;
	uint64_t	 next;
	size_t		 slot;		/* next % max_count, kept so: a
					   division per message is costly */
	size_t		 room;		/* what an entry may take past its
					   header: a quarter of the block */
	void		(*on_drop)(void *, uint64_t, uint64_t);
	void		*on_drop_arg;
};

struct ring *
ring_new(size_t max_count, size_t max_bytes)
{
	struct ring	*r;

	if (max_count == 0)
		return NULL;
	if (max_bytes < RING_MIN_BYTES)
		max_bytes = RING_MIN_BYTES;
	/* every entry takes a header at least */
	if (max_count > max_bytes / RING_HDR)
		max_count = max_bytes / RING_HDR;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->max_count = max_count;
	r->max_bytes = max_bytes;
	r->next = 1;
	r->slot = 1 % max_count;
	/* at least 1024 - RING_HDR: a client and a rule cut at 255 fit */
	r->room = ((max_bytes / 4) & ~(size_t)7) - RING_HDR;
	return r;
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	free(r->block);
	free(r->off);
	free(r);
}

/* Where the oldest lies when count are kept. */
static size_t
oldest_off(const struct ring *r, size_t count)
{
	/* count <= max_count: slot - count, modulo max_count */
	return r->off[r->slot >= count ? r->slot - count :
	    r->slot + r->max_count - count];
}

/*
 * memcpy, not inlined: for lengths the compiler knows are under 256 it
 * would inline a `rep movsq`, whose start-up costs more than the call.
 */
static unsigned char * __attribute__((noinline))
copy_in(unsigned char *p, const void *src, size_t n)
{
	if (n > 0)
		memcpy(p, src, n);
	return p + n;
}

uint64_t
ring_add(struct ring *r, const struct ring_entry *e, struct ring_entry *kept)
{
	struct ring_hdr	*h;
	unsigned char	*p;
	size_t		 room, sz, pos, o, n, clen, rlen, mlen;

	if (r->block == NULL) {
		r->block = malloc(r->max_bytes);
		r->off = calloc(r->max_count, sizeof(*r->off));
		if (r->block == NULL || r->off == NULL) {
			free(r->block);
			free(r->off);
			r->block = NULL;
			r->off = NULL;
			return 0;
		}
	}

	clen = e->client_len < RING_MAX_NAME ? e->client_len : RING_MAX_NAME;
	rlen = 0;
	if (e->rule != NULL)
		rlen = e->rule_len < RING_MAX_NAME ? e->rule_len :
		    RING_MAX_NAME;
	/* the whole entry within a quarter of the block (r->room) */
	room = r->room - clen - rlen;
	if (room > RING_MAX_MSG)
		room = RING_MAX_MSG;
	mlen = e->msg_len < room ? e->msg_len : room;
	sz = RING_ALIGN(RING_HDR + clen + rlen + mlen);

	/* what it drops, counted first: the hook may still read them */
	n = r->count;
	if (n == r->max_count)
		n--;
	pos = r->tail;
	if (pos + sz > r->max_bytes) {
		while (n > 0 && oldest_off(r, n) >= pos)
			n--;
		pos = 0;
	}
	while (n > 0 && (o = oldest_off(r, n)) >= pos && o < pos + sz)
		n--;
	if (n != r->count && r->on_drop != NULL)
		r->on_drop(r->on_drop_arg, r->next - r->count, r->next - n);
	r->count = n;

	/* written in place: pos is a multiple of 8 in a malloc'd block */
	h = (struct ring_hdr *)(void *)(r->block + pos);
	h->seq = r->next;
	h->time_usec = e->time_usec;
	h->conn = e->conn;
	h->full_len = e->full_len;
	h->listener = e->listener;
	h->msg_len = (uint32_t)mlen;
	h->client_len = (uint8_t)clen;
	h->rule_len = (uint8_t)rlen;
	h->has_rule = e->rule != NULL;
	p = r->block + pos + RING_HDR;
	if (kept != NULL) {
		/* as ring_get() would read it back */
		*kept = *e;
		kept->seq = r->next;
		kept->client = (const char *)p;
		kept->client_len = clen;
		kept->rule = e->rule != NULL ? (const char *)p + clen : NULL;
		kept->rule_len = rlen;
		kept->msg = p + clen + rlen;
		kept->msg_len = mlen;
	}
	p = copy_in(p, e->client, clen);
	p = copy_in(p, e->rule, rlen);
	(void)copy_in(p, e->msg, mlen);

	r->off[r->slot] = pos;
	if (++r->slot == r->max_count)
		r->slot = 0;
	r->tail = pos + sz;
	r->count++;
	return r->next++;
}

void
ring_on_drop(struct ring *r, void (*fn)(void *, uint64_t, uint64_t),
    void *arg)
{
	r->on_drop = fn;
	r->on_drop_arg = arg;
}

uint64_t
ring_first(const struct ring *r)
{
	return r->count > 0 ? r->next - r->count : 0;
}

uint64_t
ring_next(const struct ring *r)
{
	return r->next;
}

size_t
ring_count(const struct ring *r)
{
	return r->count;
}

bool
ring_get(const struct ring *r, uint64_t seq, struct ring_entry *e)
{
	struct ring_hdr		 h;
	const unsigned char	*p;
	size_t			 d;

	if (r->count == 0 || seq < r->next - r->count || seq >= r->next)
		return false;
	/* seq's slot is next - seq (at most count) before r->slot: no
	 * division, which a follower would pay for every message */
	d = (size_t)(r->next - seq);
	p = r->block + r->off[r->slot >= d ? r->slot - d :
	    r->slot + r->max_count - d];
	memcpy(&h, p, sizeof(h));
	p += RING_HDR;
	e->seq = h.seq;
	e->time_usec = h.time_usec;
	e->conn = h.conn;
	e->listener = h.listener;
	e->full_len = h.full_len;
	e->client = (const char *)p;
	e->client_len = h.client_len;
	p += h.client_len;
	e->rule = h.has_rule ? (const char *)p : NULL;
	e->rule_len = h.rule_len;
	p += h.rule_len;
	e->msg = p;
	e->msg_len = h.msg_len;
	return true;
}
