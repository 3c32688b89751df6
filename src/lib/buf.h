/* SPDX-License-Identifier: ISC */
#ifndef ECHOREPLYD_BUF_H
#define ECHOREPLYD_BUF_H

#include <stddef.h>
#include <string.h>

/* A growable byte buffer. The zero value is an empty buffer. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* Make room for at least `more` bytes after len. Returns 0 or -ENOMEM. */
int	buf_reserve(struct buf *, size_t more);
/* buf_append() when the room is short. */
int	buf_append_grow(struct buf *, const void *, size_t);

/* Appends n bytes. Returns 0 or -ENOMEM. Inline: it runs per reply. */
static inline int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		return buf_append_grow(b, p, n);
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	}
	return 0;
}
void	buf_free(struct buf *);
/* Appends the formatted text, without its NUL. 0 or -ENOMEM. */
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * A few empty buffers kept for reuse, so that connections hold output
 * room only while they have output, without a malloc and a free for
 * every read. A buffer is in the pool or with one user, never both.
 */
#define BUF_POOL_MAX	32		/* buffers kept */
#define BUF_POOL_KEEP	(64 * 1024)	/* larger ones are freed */
struct buf_pool {
	struct buf	 v[BUF_POOL_MAX];
	size_t		 n;
};

/* An empty b gets a kept buffer, if there is one; b's len is 0. */
void	buf_pool_take(struct buf_pool *, struct buf *);
/* b's storage goes back to the pool (or is freed); b is empty after. */
void	buf_pool_give(struct buf_pool *, struct buf *);
void	buf_pool_free(struct buf_pool *);

#endif
