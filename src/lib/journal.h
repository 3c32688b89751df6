/* SPDX-License-Identifier: ISC */
/*
 * The journal's native protocol (systemd's "Native Journal Protocol"),
 * the encoding of one record; sending it is the daemon's (log.c).
 */
#ifndef ECHOREPLYD_JOURNAL_H
#define ECHOREPLYD_JOURNAL_H

#include <stdint.h>
#include <sys/uio.h>

/* out[] entries journal_encode() may use for one field */
#define JOURNAL_IOV_PER_FIELD	5

/*
 * Encodes n fields, each "NAME=value", into out[] without copying them:
 * "NAME=value\n", or, when the value holds a newline, "NAME\n", the
 * value's length in 64 bits little-endian (kept in lens[i]), the value
 * and "\n". A field without '=' goes as it is, as a plain field would.
 * out[] has room for n * JOURNAL_IOV_PER_FIELD; lens[] for n. Returns the
 * number of out[] used.
 */
int	journal_encode(const struct iovec *in, int n, struct iovec *out,
	    uint64_t *lens);

#endif
