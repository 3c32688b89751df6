/* SPDX-License-Identifier: ISC */
#include <endian.h>
#include <string.h>

#include "journal.h"

int
journal_encode(const struct iovec *in, int n, struct iovec *out,
    uint64_t *lens)
{
	static char	 nl[] = "\n";
	const char	*s, *eq;
	size_t		 len, name;
	int		 i, k = 0;

	for (i = 0; i < n; i++) {
		s = in[i].iov_base;
		len = in[i].iov_len;
		if (memchr(s, '\n', len) == NULL ||
		    (eq = memchr(s, '=', len)) == NULL) {
			out[k++] = in[i];
			out[k++] = (struct iovec){ nl, 1 };
			continue;
		}
		name = (size_t)(eq - s);
		lens[i] = htole64((uint64_t)(len - name - 1));
		out[k++] = (struct iovec){ (void *)s, name };
		out[k++] = (struct iovec){ nl, 1 };
		out[k++] = (struct iovec){ &lens[i], sizeof(lens[i]) };
		out[k++] = (struct iovec){ (void *)(eq + 1), len - name - 1 };
		out[k++] = (struct iovec){ nl, 1 };
	}
	return k;
}
