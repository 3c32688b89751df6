/* SPDX-License-Identifier: ISC */
/* The byte buffer and its pool (src/lib/buf.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

static void
test_buf(void)
{
	struct buf	 b = { 0 };

	ok(buf_append(&b, "", 0) == 0 && b.data == NULL && b.cap == 0,
	    "appending nothing allocates nothing");
	ok(buf_append(&b, "abc", 3) == 0 && b.len == 3 &&
	    memcmp(b.data, "abc", 3) == 0, "append");
	ok(buf_reserve(&b, 1000) == 0 && b.cap >= 1003 && b.len == 3,
	    "reserve keeps the bytes and makes room");
	ok(buf_reserve(&b, SIZE_MAX) < 0, "reserve past SIZE_MAX fails");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "free empties it");
}

static void
test_pool(void)
{
	struct buf_pool	 pool = { .n = 0 };
	struct buf	 b = { 0 }, c = { 0 };
	char		*storage;
	size_t		 i;

	buf_pool_take(&pool, &b);
	ok(b.cap == 0 && b.data == NULL, "an empty pool gives nothing");
	buf_append(&b, "hello", 5);
	storage = b.data;
	buf_pool_give(&pool, &b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0 && pool.n == 1,
	    "giving empties the buffer into the pool");
	buf_pool_take(&pool, &c);
	ok(c.data == storage && c.len == 0 && c.cap > 0 && pool.n == 0,
	    "taking gets the same storage back, empty");
	buf_pool_take(&pool, &c);
	ok(c.data == storage, "taking into a buffer that has room: no-op");
	buf_pool_give(&pool, &c);

	buf_reserve(&b, BUF_POOL_KEEP + 1);
	buf_pool_give(&pool, &b);
	ok(pool.n == 1 && b.cap == 0, "a buffer over BUF_POOL_KEEP is freed");
	buf_pool_give(&pool, &b);
	ok(pool.n == 1, "an empty buffer adds nothing to the pool");

	for (i = 0; i < BUF_POOL_MAX + 5; i++) {
		struct buf t = { 0 };

		buf_append(&t, "x", 1);
		buf_pool_give(&pool, &t);
		if (t.cap != 0)
			break;
	}
	ok(pool.n == BUF_POOL_MAX, "the pool keeps at most BUF_POOL_MAX "
	    "(%zu)", pool.n);
	buf_pool_free(&pool);
	ok(pool.n == 0, "freeing the pool empties it");
}

static void
test_printf(void)
{
	struct buf	 b = { 0 };
	char		 big[5000];

	ok(buf_printf(&b, "%s=%d", "a", 42) == 0 && b.len == 4 &&
	    memcmp(b.data, "a=42", 4) == 0, "buf_printf formats");
	ok(buf_printf(&b, " %llu", 7ULL) == 0 && b.len == 6 &&
	    memcmp(b.data, "a=42 7", 6) == 0, "buf_printf appends, no NUL "
	    "counted");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(buf_printf(&b, "%s", big) == 0 && b.len == 6 + sizeof(big) - 1 &&
	    b.data[b.len - 1] == 'x', "buf_printf grows for a long text");
	b.len = 0;
	ok(buf_printf(&b, "%s", "") == 0 && b.len == 0,
	    "buf_printf of nothing adds nothing");
	buf_free(&b);
}

int
main(void)
{
	test_buf();
	test_pool();
	test_printf();
	return tap_done();
}
