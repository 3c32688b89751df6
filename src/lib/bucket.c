/* SPDX-License-Identifier: ISC */
#include "bucket.h"

void
bucket_init(struct bucket *b)
{
	b->tokens = -1;
	b->refilled = 0;
}

uint64_t
bucket_take(struct bucket *b, uint64_t now, double rate, double burst)
{
	if (rate <= 0)
		return 0;	/* no rate: no limit */
	if (b->tokens < 0) {
		b->tokens = burst;
		b->refilled = now;
	}
	if (now > b->refilled) {
		b->tokens += (double)(now - b->refilled) * rate / 1e6;
		if (b->tokens > burst)
			b->tokens = burst;
		b->refilled = now;
	}
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 0;
	}
	return (uint64_t)((1 - b->tokens) * 1e6 / rate) + 1;
}

bool
bucket_full(const struct bucket *b, uint64_t now, double rate, double burst)
{
	if (rate <= 0 || b->tokens < 0)
		return true;
	if (now <= b->refilled)		/* time did not move: no refill */
		return b->tokens >= burst;
	return b->tokens + (double)(now - b->refilled) * rate / 1e6 >= burst;
}
