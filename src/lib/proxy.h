/* SPDX-License-Identifier: ISC */
/*
 * The PROXY protocol header (versions 1 and 2, as HAProxy's
 * proxy-protocol.txt defines them) that a load balancer puts before a
 * client's bytes to say who the client is. Pure: it only reads the bytes
 * it is given, and never past the header it reports.
 */
#ifndef ECHOREPLYD_PROXY_H
#define ECHOREPLYD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "addr.h"

#define PROXY_V1		1u	/* bits of the versions accepted */
#define PROXY_V2		2u
#define PROXY_V1_MAX		107	/* a v1 line, CR LF included */
#define PROXY_V2_FIXED		16	/* signature, command, family, length */
#define PROXY_HEADER_MAX	4096	/* a v2 header, TLVs included, at most */

struct proxy_header {
	unsigned int	 version;	/* 1 or 2 */
	/*
	 * No client address: a v2 LOCAL command (a health check of the
	 * balancer's own), an UNSPEC or Unix family, or v1 UNKNOWN. The
	 * connection's own addresses stand.
	 */
	bool		 local;
	union addr_any	 src, dst;	/* when not local: IPv4 or IPv6 */
	size_t		 len;		/* bytes of the header, TLVs included */
};

/*
 * Parses the header at the start of buf[0..n), of one of the versions
 * (PROXY_V1 | PROXY_V2). Returns the header's length (> 0) with *h
 * filled, 0 while more bytes are needed and may still make a header,
 * -EPROTO for what is not a header (or not of a version accepted), or
 * -EMSGSIZE for a v2 header longer than PROXY_HEADER_MAX.
 */
ssize_t	proxy_parse(const char *buf, size_t n, unsigned int versions,
	    struct proxy_header *h);

/*
 * Writes a header of version 1 or 2 to out (at least PROXY_BUILD_MAX
 * bytes) naming src as the client of dst (IPv4 or IPv6; an IPv4 one is
 * written IPv4-mapped when the other is IPv6); with src NULL, one that
 * keeps the connection's own addresses (v1 UNKNOWN, v2 LOCAL). Returns
 * its length, or -EAFNOSUPPORT.
 */
#define PROXY_BUILD_MAX		(PROXY_V2_FIXED + 36)
ssize_t	proxy_build(unsigned int version, const union addr_any *src,
	    const union addr_any *dst, char *out);

/* The name of versions for the config: "v1", "v2" or "any". */
const char *proxy_versions_name(unsigned int versions);

#endif
