/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

static const char	 v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* What may start a header: are the n bytes a prefix of one or the other? */
static bool
maybe(const char *buf, size_t n, const char *sig, size_t siglen)
{
	return memcmp(buf, sig, n < siglen ? n : siglen) == 0;
}

/* A decimal port: digits only, no sign, no leading zero, 0..65535. */
static int
port_of(const char *s, size_t len, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "PROXY TCP4 src dst sport dport\r\n", or "PROXY UNKNOWN...\r\n". */
static ssize_t
parse_v1(const char *buf, size_t n, struct proxy_header *h)
{
	const char	*end, *f[6];
	size_t		 flen[6], nf = 0, i, len;
	char		 addr[ADDR_TEXT_MAX];
	uint16_t	 sport, dport;
	int		 fam;

	end = memchr(buf, '\n', n < PROXY_V1_MAX ? n : PROXY_V1_MAX);
	if (end == NULL)
		return n >= PROXY_V1_MAX ? -EPROTO : 0;
	len = (size_t)(end - buf) + 1;
	/* a NUL would end an address early where inet_pton() reads it */
	if (len < 2 || end[-1] != '\r' || memchr(buf, '\0', len) != NULL)
		return -EPROTO;
	h->version = 1;
	h->len = len;
	/* fields split by single spaces, up to the CR */
	for (i = 0; i < len - 2 && nf < 6; ) {
		f[nf] = buf + i;
		while (i < len - 2 && buf[i] != ' ')
			i++;
		flen[nf] = (size_t)(buf + i - f[nf]);
		nf++;
		if (i < len - 2)
			i++;	/* the space */
	}
	if (nf < 2 || flen[0] != 5 || memcmp(f[0], "PROXY", 5) != 0)
		return -EPROTO;
	if (flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
		/* whatever follows is to be ignored */
		h->local = true;
		return (ssize_t)len;
	}
	if (flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
		fam = AF_INET;
	else if (flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
		fam = AF_INET6;
	else
		return -EPROTO;
	/* exactly six fields, the last one ending at the CR */
	if (nf != 6 || f[5] + flen[5] != end - 1 || flen[2] == 0 ||
	    flen[3] == 0 || flen[2] >= sizeof(addr) || flen[3] >= sizeof(addr) ||
	    port_of(f[4], flen[4], &sport) < 0 ||
	    port_of(f[5], flen[5], &dport) < 0)
		return -EPROTO;
	memcpy(addr, f[2], flen[2]);
	addr[flen[2]] = '\0';
	if (addr_parse_ip(addr, sport, &h->src) < 0 ||
	    h->src.sa.sa_family != fam)
		return -EPROTO;
	memcpy(addr, f[3], flen[3]);
	addr[flen[3]] = '\0';
	if (addr_parse_ip(addr, dport, &h->dst) < 0 ||
	    h->dst.sa.sa_family != fam)
		return -EPROTO;
	h->local = false;
	return (ssize_t)len;
}

static ssize_t
parse_v2(const unsigned char *p, size_t n, struct proxy_header *h)
{
	size_t		 len;
	unsigned int	 cmd, fam, proto;

	if (n < PROXY_V2_FIXED)
		return 0;
	if ((p[12] >> 4) != 2)
		return -EPROTO;
	cmd = p[12] & 15;
	fam = p[13] >> 4;
	proto = p[13] & 15;
	if (cmd > 1 || fam > 3 || proto > 2)
		return -EPROTO;
	len = PROXY_V2_FIXED + ((size_t)p[14] << 8 | p[15]);
	if (len > PROXY_HEADER_MAX)
		return -EMSGSIZE;
	if (n < len)
		return 0;
	h->version = 2;
	h->len = len;
	h->local = true;
	/* LOCAL, UNSPEC, Unix, or not a stream: the connection's own */
	if (cmd == 0 || proto != 1 || (fam != 1 && fam != 2))
		return (ssize_t)len;
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	if (fam == 1) {
		if (len < PROXY_V2_FIXED + 12)
			return -EPROTO;
		h->src.in.sin_family = h->dst.in.sin_family = AF_INET;
		memcpy(&h->src.in.sin_addr, p + 16, 4);
		memcpy(&h->dst.in.sin_addr, p + 20, 4);
		memcpy(&h->src.in.sin_port, p + 24, 2);
		memcpy(&h->dst.in.sin_port, p + 26, 2);
	} else {
		if (len < PROXY_V2_FIXED + 36)
			return -EPROTO;
		h->src.in6.sin6_family = h->dst.in6.sin6_family = AF_INET6;
		memcpy(&h->src.in6.sin6_addr, p + 16, 16);
		memcpy(&h->dst.in6.sin6_addr, p + 32, 16);
		memcpy(&h->src.in6.sin6_port, p + 48, 2);
		memcpy(&h->dst.in6.sin6_port, p + 50, 2);
	}
	/* TLVs after the addresses are skipped: len covers them */
	h->local = false;
	return (ssize_t)len;
}

ssize_t
proxy_parse(const char *buf, size_t n, unsigned int versions,
    struct proxy_header *h)
{
	memset(h, 0, sizeof(*h));
	if (n == 0)
		return 0;
	if ((versions & PROXY_V2) && maybe(buf, n, v2_sig, sizeof(v2_sig))) {
		if (n < sizeof(v2_sig))
			return 0;
		return parse_v2((const unsigned char *)buf, n, h);
	}
	if ((versions & PROXY_V1) && maybe(buf, n, "PROXY ", 6))
		return n < 6 ? 0 : parse_v1(buf, n, h);
	return -EPROTO;
}

/* a as IPv6 (IPv4-mapped when it is IPv4): 0, or -1 for neither */
static int
as_v6(const union addr_any *a, struct sockaddr_in6 *out)
{
	if (a->sa.sa_family == AF_INET6) {
		*out = a->in6;
		return 0;
	}
	if (a->sa.sa_family != AF_INET)
		return -1;
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = a->in.sin_port;
	out->sin6_addr.s6_addr[10] = 0xff;
	out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &a->in.sin_addr, 4);
	return 0;
}

ssize_t
proxy_build(unsigned int version, const union addr_any *src,
    const union addr_any *dst, char *out)
{
	struct sockaddr_in6	 s6, d6;
	char			 sa[ADDR_TEXT_MAX], da[ADDR_TEXT_MAX];
	unsigned char		*p = (unsigned char *)out;
	bool			 four;
	int			 n;

	if (src != NULL && (as_v6(src, &s6) < 0 || as_v6(dst, &d6) < 0))
		return -EAFNOSUPPORT;
	four = src != NULL && src->sa.sa_family == AF_INET &&
	    dst->sa.sa_family == AF_INET;
	if (version == 1) {
		if (src == NULL) {
			return snprintf(out, PROXY_V1_MAX + 1,
			    "PROXY UNKNOWN\r\n");
		}
		if (four) {
			inet_ntop(AF_INET, &src->in.sin_addr, sa, sizeof(sa));
			inet_ntop(AF_INET, &dst->in.sin_addr, da, sizeof(da));
		} else {
			inet_ntop(AF_INET6, &s6.sin6_addr, sa, sizeof(sa));
			inet_ntop(AF_INET6, &d6.sin6_addr, da, sizeof(da));
		}
		n = snprintf(out, PROXY_V1_MAX + 1, "PROXY %s %s %s %u %u\r\n",
		    four ? "TCP4" : "TCP6", sa, da, ntohs(s6.sin6_port),
		    ntohs(d6.sin6_port));
		return n;
	}
	memcpy(p, v2_sig, sizeof(v2_sig));
	if (src == NULL) {
		p[12] = 0x20;	/* v2 LOCAL */
		p[13] = 0x00;	/* UNSPEC */
		p[14] = p[15] = 0;
		return PROXY_V2_FIXED;
	}
	p[12] = 0x21;		/* v2 PROXY */
	p[13] = four ? 0x11 : 0x21;
	p[14] = 0;
	if (four) {
		p[15] = 12;
		memcpy(p + 16, &src->in.sin_addr, 4);
		memcpy(p + 20, &dst->in.sin_addr, 4);
		memcpy(p + 24, &src->in.sin_port, 2);
		memcpy(p + 26, &dst->in.sin_port, 2);
		return PROXY_V2_FIXED + 12;
	}
	p[15] = 36;
	memcpy(p + 16, &s6.sin6_addr, 16);
	memcpy(p + 32, &d6.sin6_addr, 16);
	memcpy(p + 48, &s6.sin6_port, 2);
	memcpy(p + 50, &d6.sin6_port, 2);
	return PROXY_V2_FIXED + 36;
}

const char *
proxy_versions_name(unsigned int versions)
{
	switch (versions) {
	case PROXY_V1:
		return "v1";
	case PROXY_V2:
		return "v2";
	case PROXY_V1 | PROXY_V2:
		return "any";
	default:
		return "off";
	}
}
