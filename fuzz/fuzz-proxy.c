/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the PROXY protocol header: the first byte picks the
 * versions accepted (1 .. 3), the rest is what a balancer sent. Checks that
 * a header found lies inside the input and is the length reported, that a
 * v1 header is a line ending in CR LF of at most 107 bytes and a v2 header
 * starts with the signature and is 16 .. PROXY_HEADER_MAX bytes, that a
 * client's addresses are both IPv4 or both IPv6, that the parser needs no
 * byte past the header (the header alone parses the same), that waiting
 * for more is only for a prefix (one byte less waits too), and that only
 * a v2 header may be too long.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	 sig[12] = "\r\n\r\n\0\r\nQUIT\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header	 h, again;
	const char		*buf;
	unsigned int		 versions;
	size_t			 n, len;
	ssize_t			 r, r2;

	if (size < 1)
		return 0;
	/* the mask itself: 1 v1, 2 v2, 3 (or 0) both */
	versions = data[0] & (PROXY_V1 | PROXY_V2);
	if (versions == 0)
		versions = PROXY_V1 | PROXY_V2;
	buf = (const char *)data + 1;
	n = size - 1;

	r = proxy_parse(buf, n, versions, &h);
	if (r > 0) {
		len = (size_t)r;
		if (len > n || len != h.len)
			abort();
		switch (h.version) {
		case 1:
			if (!(versions & PROXY_V1) || len < 2 ||
			    len > PROXY_V1_MAX || buf[len - 2] != '\r' ||
			    buf[len - 1] != '\n' ||
			    memchr(buf, '\n', len - 1) != NULL ||
			    memcmp(buf, "PROXY ", 6) != 0)
				abort();
			break;
		case 2:
			if (!(versions & PROXY_V2) || len < PROXY_V2_FIXED ||
			    len > PROXY_HEADER_MAX ||
			    memcmp(buf, sig, sizeof(sig)) != 0 ||
			    len != PROXY_V2_FIXED +
			    ((size_t)data[1 + 14] << 8 | data[1 + 15]))
				abort();
			break;
		default:
			abort();
		}
		if (!h.local &&
		    (h.src.sa.sa_family != h.dst.sa.sa_family ||
		    (h.src.sa.sa_family != AF_INET &&
		    h.src.sa.sa_family != AF_INET6)))
			abort();
		/* no byte past the header is needed */
		r2 = proxy_parse(buf, len, versions, &again);
		if (r2 != r || again.version != h.version ||
		    again.local != h.local ||
		    memcmp(&again.src, &h.src, sizeof(h.src)) != 0 ||
		    memcmp(&again.dst, &h.dst, sizeof(h.dst)) != 0)
			abort();
		/* and every byte of it is */
		if (proxy_parse(buf, len - 1, versions, &again) != 0)
			abort();
	} else if (r == 0) {
		/* a proper prefix: one byte less is one too */
		if (n > 0 && proxy_parse(buf, n - 1, versions, &again) != 0)
			abort();
		if (n >= (versions & PROXY_V2 ? PROXY_HEADER_MAX : PROXY_V1_MAX))
			abort();
	} else if (r == -EMSGSIZE) {
		if (!(versions & PROXY_V2) || n < PROXY_V2_FIXED ||
		    memcmp(buf, sig, sizeof(sig)) != 0)
			abort();
	} else if (r != -EPROTO)
		abort();
	return 0;
}
