/* SPDX-License-Identifier: ISC */
/*
 * The PROXY protocol header (src/lib/proxy.c), against HAProxy's
 * proxy-protocol.txt: v1 lines (TCP4, TCP6, UNKNOWN) with their addresses
 * and ports, partial and malformed lines, the 107-byte limit; v2 headers
 * (PROXY over IPv4 and IPv6 with and without TLVs, LOCAL, UNSPEC, Unix,
 * UDP), bad versions and commands, short address blocks, the
 * PROXY_HEADER_MAX limit and every prefix of a header; the versions mask
 * and its name.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"
#include "tap.h"

#define ANY	(PROXY_V1 | PROXY_V2)

static const char	 sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* The address of a as text, "?" for neither IPv4 nor IPv6. */
static const char *
ntop(const union addr_any *a, char *out, size_t len)
{
	const void	*p;

	if (a->sa.sa_family == AF_INET)
		p = &a->in.sin_addr;
	else if (a->sa.sa_family == AF_INET6)
		p = &a->in6.sin6_addr;
	else
		return "?";
	return inet_ntop(a->sa.sa_family, p, out, (socklen_t)len) ? out : "?";
}

static unsigned int
port(const union addr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return ntohs(a->in.sin_port);
	if (a->sa.sa_family == AF_INET6)
		return ntohs(a->in6.sin6_port);
	return 0;
}

/* Whether h holds src:sport -> dst:dport. */
static bool
addrs_are(const struct proxy_header *h, const char *src, unsigned int sport,
    const char *dst, unsigned int dport)
{
	char	 a[ADDR_TEXT_MAX], b[ADDR_TEXT_MAX];
	bool	 same;

	same = strcmp(ntop(&h->src, a, sizeof(a)), src) == 0 &&
	    strcmp(ntop(&h->dst, b, sizeof(b)), dst) == 0 &&
	    port(&h->src) == sport && port(&h->dst) == dport;
	if (!same)
		printf("#   got %s:%u -> %s:%u\n", a, port(&h->src), b,
		    port(&h->dst));
	return same;
}

/* A v2 header into out: signature, ver_cmd, fam, length, then body. */
static size_t
v2(unsigned char *out, unsigned int ver_cmd, unsigned int fam,
    size_t len, const void *body, size_t bodylen)
{
	memcpy(out, sig, sizeof(sig));
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	if (bodylen > 0)
		memcpy(out + PROXY_V2_FIXED, body, bodylen);
	return PROXY_V2_FIXED + bodylen;
}

/* 192.0.2.1:56324 -> 198.51.100.2:443 */
static const unsigned char	 body4[12] = {
	192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb,
};
/* [2001:db8::1]:56324 -> [2001:db8::2]:443 */
static const unsigned char	 body6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0xdc, 0x04, 0x01, 0xbb,
};
/* PP2_TYPE_AUTHORITY "example.com" */
static const unsigned char	 tlv[14] = {
	0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
};

static void
test_v1(void)
{
	struct proxy_header	 h;
	const char		*s;
	char			 line[200];
	ssize_t			 r;

	s = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == (ssize_t)strlen(s) && h.len == strlen(s),
	    "v1 TCP4 is the whole line (%zd)", r);
	ok(h.version == 1 && !h.local, "v1 TCP4 is version 1, not local");
	ok(h.src.sa.sa_family == AF_INET && h.dst.sa.sa_family == AF_INET &&
	    addrs_are(&h, "192.168.0.1", 56324, "192.168.0.11", 443),
	    "v1 TCP4 addresses and ports");

	s = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
	r = proxy_parse(s, strlen(s), PROXY_V1, &h);
	ok(r == (ssize_t)strlen(s) && !h.local &&
	    addrs_are(&h, "255.255.255.255", 65535, "255.255.255.255", 65535),
	    "v1 TCP4 worst case of the spec");

	s = "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == (ssize_t)strlen(s) && h.version == 1 && !h.local &&
	    h.src.sa.sa_family == AF_INET6 && h.dst.sa.sa_family == AF_INET6 &&
	    addrs_are(&h, "2001:db8::1", 56324, "2001:db8::2", 443),
	    "v1 TCP6 addresses and ports");

	s = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == 104 && r == (ssize_t)strlen(s) && !h.local &&
	    addrs_are(&h, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
	    "v1 TCP6 worst case of the spec (104 bytes)");

	s = "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 0\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == (ssize_t)strlen(s) && h.src.sa.sa_family == AF_INET6 &&
	    addrs_are(&h, "::ffff:192.0.2.1", 1, "::1", 0),
	    "v1 TCP6 with an IPv4-mapped address, port 0");

	s = "PROXY UNKNOWN\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == 15 && h.len == 15 && h.version == 1 && h.local,
	    "v1 UNKNOWN alone is local");

	s = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == PROXY_V1_MAX && r == (ssize_t)strlen(s) && h.local,
	    "v1 UNKNOWN worst case of the spec (107 bytes), fields ignored");

	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nGET / HTTP/1.0\r\n\r\n";
	r = proxy_parse(s, strlen(s), ANY, &h);
	ok(r == 40 && h.len == 40 && memcmp(s + r, "GET ", 4) == 0,
	    "v1 header followed by payload stops at its CRLF (%zd)", r);

	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, 25, ANY, &h) == 0, "v1 partial line needs more");
	ok(proxy_parse(s, strlen(s) - 1, ANY, &h) == 0,
	    "v1 line without its LF yet needs more");
	ok(proxy_parse("PROX", 4, ANY, &h) == 0, "v1 partial \"PROX\"");

	/* malformed */
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO, "v1 missing CR");
	s = "PROXY TCP4  192.0.2.1 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO, "v1 double space");
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80 \r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 trailing space");
	s = "PROXY TCP4 192.0.2.256 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO, "v1 bad address");
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 65536 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO, "v1 port 65536");
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 080\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 leading-zero port 080");
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 +123 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO, "v1 signed port");
	s = "PROXY TCP4 2001:db8::1 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 TCP4 with an IPv6 address");
	s = "PROXY TCP6 2001:db8::1 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 TCP6 with an IPv4 address");
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80 99\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 too many fields");
	s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 too few fields");
	s = "PROXY UDP4 192.0.2.1 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO,
	    "v1 unknown protocol");
	s = "proxy TCP4 192.0.2.1 192.0.2.2 1234 80\r\n";
	ok(proxy_parse(s, strlen(s), ANY, &h) == -EPROTO, "v1 lowercase proxy");

	memset(line, 0, sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'x', PROXY_V1_MAX - 14);
	ok(proxy_parse(line, PROXY_V1_MAX, ANY, &h) == -EPROTO,
	    "v1 107 bytes without LF");
	ok(proxy_parse(line, PROXY_V1_MAX - 1, ANY, &h) == 0,
	    "v1 106 bytes without LF needs more");
	memcpy(line + PROXY_V1_MAX - 1, "\r\n", 2);
	ok(proxy_parse(line, PROXY_V1_MAX + 1, ANY, &h) == -EPROTO,
	    "v1 line of 108 bytes");

	/*
	 * an address is the text up to its space: "192.0.2.1\0x" is none,
	 * and inet_pton() would stop at the NUL (spec 2.1: what does not
	 * match exactly is discarded)
	 */
	memcpy(line, LIT("PROXY TCP4 192.0.2.1\0x 192.0.2.2 1234 80\r\n"));
	r = proxy_parse(line, 42, ANY, &h);
	ok(r == -EPROTO, "v1 NUL inside an address refused (%zd)", r);
}

static void
test_v2(void)
{
	static unsigned char	 buf[PROXY_HEADER_MAX + 64];
	unsigned char		 body[64];
	struct proxy_header	 h;
	size_t			 n, i;
	ssize_t			 r;
	bool			 all;

	n = v2(buf, 0x21, 0x11, 12, body4, sizeof(body4));
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 28 && h.len == 28 && h.version == 2 && !h.local,
	    "v2 PROXY TCP4 is 28 bytes, not local (%zd)", r);
	ok(h.src.sa.sa_family == AF_INET && h.dst.sa.sa_family == AF_INET &&
	    addrs_are(&h, "192.0.2.1", 56324, "198.51.100.2", 443),
	    "v2 TCP4 addresses and ports");

	all = true;
	for (i = 0; i < n; i++)
		if (proxy_parse((const char *)buf, i, ANY, &h) != 0)
			all = false;
	ok(all, "every prefix of a v2 header needs more");

	memcpy(body, body4, sizeof(body4));
	memcpy(body + sizeof(body4), tlv, sizeof(tlv));
	n = v2(buf, 0x21, 0x11, 12 + sizeof(tlv), body, 12 + sizeof(tlv));
	memcpy(buf + n, "payload", 7);
	r = proxy_parse((const char *)buf, n + 7, ANY, &h);
	ok(r == 42 && h.len == 42 && !h.local &&
	    addrs_are(&h, "192.0.2.1", 56324, "198.51.100.2", 443),
	    "v2 TCP4 with a TLV: the length covers it, not the payload (%zd)",
	    r);

	n = v2(buf, 0x21, 0x21, 36, body6, sizeof(body6));
	r = proxy_parse((const char *)buf, n, PROXY_V2, &h);
	ok(r == 52 && h.version == 2 && !h.local &&
	    h.src.sa.sa_family == AF_INET6 && h.dst.sa.sa_family == AF_INET6 &&
	    addrs_are(&h, "2001:db8::1", 56324, "2001:db8::2", 443),
	    "v2 PROXY TCP6 (%zd)", r);

	memcpy(body, body6, sizeof(body6));
	memcpy(body + sizeof(body6), tlv, sizeof(tlv));
	n = v2(buf, 0x21, 0x21, 36 + sizeof(tlv), body, 36 + sizeof(tlv));
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 66 && h.len == 66 && !h.local &&
	    addrs_are(&h, "2001:db8::1", 56324, "2001:db8::2", 443),
	    "v2 TCP6 with a TLV (%zd)", r);
	ok(proxy_parse((const char *)buf, n - 1, ANY, &h) == 0,
	    "v2 TCP6 with its TLV cut short needs more");

	/* LOCAL: whatever the block holds, the connection's own addresses */
	n = v2(buf, 0x20, 0x11, 12, body4, sizeof(body4));
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 16 + 12 && h.version == 2 && h.local,
	    "v2 LOCAL is local, 16 + len bytes (%zd)", r);
	n = v2(buf, 0x20, 0x00, 0, NULL, 0);
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 16 && h.local, "v2 LOCAL UNSPEC without a block (%zd)", r);

	n = v2(buf, 0x21, 0x00, 0, NULL, 0);
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 16 && h.local, "v2 PROXY UNSPEC is local (%zd)", r);

	memset(body, 0, sizeof(body));
	memcpy(body, "/run/a.sock", 11);
	n = v2(buf, 0x21, 0x31, 64, body, 64);
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 80 && h.local, "v2 PROXY over Unix stream is local (%zd)", r);

	n = v2(buf, 0x21, 0x12, 12, body4, sizeof(body4));
	r = proxy_parse((const char *)buf, n, ANY, &h);
	ok(r == 28 && h.local, "v2 PROXY UDP4 is local (%zd)", r);

	/* malformed */
	n = v2(buf, 0x11, 0x11, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 version nibble 1");
	n = v2(buf, 0x31, 0x11, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 version nibble 3");
	n = v2(buf, 0x22, 0x11, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 command 0x22");
	n = v2(buf, 0x21, 0x41, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 family 4");
	n = v2(buf, 0x21, 0x13, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 transport 3");
	n = v2(buf, 0x21, 0x11, 11, body4, 11);
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 TCP4 with an 11-byte block");
	n = v2(buf, 0x21, 0x21, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 TCP6 with a 12-byte block");
	n = v2(buf, 0x21, 0x11, 12, body4, sizeof(body4));
	buf[11] = 'X';
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EPROTO,
	    "v2 bad signature");

	/* the size limit, known from the 16 fixed bytes */
	n = v2(buf, 0x21, 0x11, PROXY_HEADER_MAX - 16 + 1, NULL, 0);
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EMSGSIZE,
	    "v2 header of PROXY_HEADER_MAX + 1 refused from 16 bytes");
	n = v2(buf, 0x21, 0x11, 0xffff, NULL, 0);
	ok(proxy_parse((const char *)buf, n, ANY, &h) == -EMSGSIZE,
	    "v2 header of 65551 bytes refused");
	n = v2(buf, 0x20, 0x00, PROXY_HEADER_MAX - 16, NULL, 0);
	memset(buf + n, 0, PROXY_HEADER_MAX - 16);
	ok(proxy_parse((const char *)buf, n, ANY, &h) == 0,
	    "v2 header of PROXY_HEADER_MAX needs more from 16 bytes");
	r = proxy_parse((const char *)buf, PROXY_HEADER_MAX, ANY, &h);
	ok(r == PROXY_HEADER_MAX && h.local,
	    "v2 header of exactly PROXY_HEADER_MAX (%zd)", r);
}

static void
test_versions(void)
{
	unsigned char		 buf[64];
	struct proxy_header	 h;
	const char		*s = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n";
	size_t			 n;

	ok(proxy_parse(s, strlen(s), PROXY_V2, &h) == -EPROTO,
	    "v1 header with only v2 accepted");
	ok(proxy_parse(s, 3, PROXY_V2, &h) == -EPROTO,
	    "v1 prefix with only v2 accepted");
	n = v2(buf, 0x21, 0x11, 12, body4, sizeof(body4));
	ok(proxy_parse((const char *)buf, n, PROXY_V1, &h) == -EPROTO,
	    "v2 header with only v1 accepted");
	ok(proxy_parse((const char *)buf, 5, PROXY_V1, &h) == -EPROTO,
	    "v2 prefix with only v1 accepted");
	ok(proxy_parse((const char *)buf, n, PROXY_V2, &h) == 28,
	    "v2 header with only v2 accepted");
	ok(proxy_parse(LIT("GET / HTTP/1.0\r\n"), ANY, &h) == -EPROTO,
	    "HTTP request is no header");
	ok(proxy_parse(LIT("\r\n\r\nGET"), ANY, &h) == -EPROTO,
	    "blank lines are no v2 signature");
	ok(proxy_parse("", 0, ANY, &h) == 0, "empty buffer needs more");

	is(proxy_versions_name(PROXY_V1), "v1", "name of v1");
	is(proxy_versions_name(PROXY_V2), "v2", "name of v2");
	is(proxy_versions_name(PROXY_V1 | PROXY_V2), "any", "name of both");
	is(proxy_versions_name(0), "off", "name of none");
}

/* What proxy_build() writes, proxy_parse() reads back as it was meant. */
static void
test_build(void)
{
	union addr_any		 s4, d4, s6, got;
	struct proxy_header	 h;
	char			 out[PROXY_BUILD_MAX + 1];
	unsigned int		 v;
	ssize_t			 n, r;

	addr_parse_ip("192.0.2.1", 5000, &s4);
	addr_parse_ip("10.0.0.1", 80, &d4);
	addr_parse_ip("2001:db8::7", 443, &s6);
	for (v = 1; v <= 2; v++) {
		n = proxy_build(v, &s4, &d4, out);
		r = proxy_parse(out, (size_t)n, ANY, &h);
		ok(n > 0 && r == n && h.version == v && !h.local &&
		    memcmp(&h.src.in, &s4.in, sizeof(s4.in)) == 0 &&
		    memcmp(&h.dst.in, &d4.in, sizeof(d4.in)) == 0,
		    "v%u IPv4 built and parsed back (%zd, %zd)", v, n, r);
		n = proxy_build(v, &s6, &d4, out);
		r = proxy_parse(out, (size_t)n, ANY, &h);
		got = h.dst;
		ok(n > 0 && r == n && !h.local &&
		    h.src.sa.sa_family == AF_INET6 &&
		    memcmp(&h.src.in6.sin6_addr, &s6.in6.sin6_addr, 16) == 0 &&
		    got.sa.sa_family == AF_INET6 &&
		    got.in6.sin6_addr.s6_addr[11] == 0xff &&
		    ntohs(got.in6.sin6_port) == 80,
		    "v%u IPv6 client of an IPv4 server: the server mapped", v);
		n = proxy_build(v, NULL, &d4, out);
		r = proxy_parse(out, (size_t)n, ANY, &h);
		ok(n > 0 && r == n && h.local, "v%u without a client: local", v);
	}
	out[0] = 'x';
	got.sa.sa_family = AF_UNIX;
	ok(proxy_build(1, &got, &d4, out) == -EAFNOSUPPORT,
	    "a Unix client cannot be named");
}

int
main(void)
{
	test_v1();
	test_v2();
	test_versions();
	test_build();
	return tap_done();
}
