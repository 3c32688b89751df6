#ifndef ECHOREPLYD_BUF_H
#define ECHOREPLYD_BUF_H

#include <stddef.h>

/* A growable byte buffer. The zero value is an empty buffer. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* Make room for at least `more` bytes after len. Returns 0 or -ENOMEM. */
int	buf_reserve(struct buf *, size_t more);
int	buf_append(struct buf *, const void *, size_t);
void	buf_free(struct buf *);

#endif
