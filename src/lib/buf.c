/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
buf_reserve(struct buf *b, size_t more)
{
	size_t	 need, cap;
	char	*p;

	if (more > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append_grow(struct buf *b, const void *p, size_t n)
{
	int	 r;

	if (n == 0)
		return 0;
	if ((r = buf_reserve(b, n)) < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* room for vsnprintf()'s NUL too, which is not counted */
	if ((r = buf_reserve(b, (size_t)n + 1)) < 0)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_pool_take(struct buf_pool *pool, struct buf *b)
{
	if (b->cap > 0 || pool->n == 0)
		return;
	*b = pool->v[--pool->n];
	b->len = 0;
}

void
buf_pool_give(struct buf_pool *pool, struct buf *b)
{
	if (b->cap > 0 && b->cap <= BUF_POOL_KEEP && pool->n < BUF_POOL_MAX) {
		pool->v[pool->n] = *b;
		pool->v[pool->n++].len = 0;
		b->data = NULL;
		b->len = b->cap = 0;
		return;
	}
	buf_free(b);
}

void
buf_pool_free(struct buf_pool *pool)
{
	while (pool->n > 0)
		buf_free(&pool->v[--pool->n]);
}
