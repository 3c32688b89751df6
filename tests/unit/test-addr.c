/* SPDX-License-Identifier: ISC */
/*
 * Addresses (src/lib/addr.c): networks parsed, printed and matched, an
 * IPv4-mapped client taken for the IPv4 address it carries, addresses as
 * text and as table keys, "host:port" parsing, and the access lists.
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

#include "addr.h"
#include "fixture.h"
#include "tap.h"

static void
test_net_parse(void)
{
	static const char *const bad[] = {
		"", "/24", "192.0.2.0/", "192.0.2.0/33", "::/129", "2001:db8::/",
		"192.0.2.0/24x", "192.0.2.0/x", "192.0.2.0/24/1", "192.0.2",
		"192.0.2.256", "host.example", "192.0.2.0 /24", " 192.0.2.0",
		"192.0.2.0/2 4", "fe80::1%eth0", "2001:db8::/32 ", ":::/64",
		"192.0.2.0/100000000000000000000",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/64",
	};
	struct addr_net	 n;
	size_t		 i;
	uint8_t		 v6[16];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(addr_net_parse(bad[i], &n) == -EINVAL,
		    "network \"%s\" refused", bad[i]);

	ok(addr_net_parse("192.0.2.0/24", &n) == 0 && n.family == AF_INET &&
	    n.prefix == 24 && memcmp(n.addr, "\xc0\x00\x02\x00", 4) == 0,
	    "192.0.2.0/24");
	ok(addr_net_parse("192.0.2.7", &n) == 0 && n.family == AF_INET &&
	    n.prefix == 32, "a lone IPv4 address is a /32");
	ok(addr_net_parse("0.0.0.0/0", &n) == 0 && n.prefix == 0, "/0");
	/* the prefix is digits only */
	ok(addr_net_parse("10.0.0.0/ 8", &n) < 0, "blank in prefix");
	ok(addr_net_parse("10.0.0.0/+8", &n) < 0, "sign in prefix");
	ok(addr_net_parse("192.0.2.1/-0", &n) < 0, "negative prefix");
	ok(addr_net_parse("10.0.0.0/", &n) < 0, "empty prefix");
	ok(addr_net_parse("10.0.0.0/0008", &n) < 0, "four digits");
	ok(addr_net_parse("10.0.0.0/8", &n) == 0 && n.prefix == 8, "/8");
	ok(addr_net_parse("127.0.0.1/8", &n) == 0 && n.prefix == 8,
	    "host bits may be set");
	ok(addr_net_parse("2001:db8::/32", &n) == 0 &&
	    n.family == AF_INET6 && n.prefix == 32, "2001:db8::/32");
	inet_pton(AF_INET6, "2001:db8::", v6);
	ok(memcmp(n.addr, v6, 16) == 0, "IPv6 network bytes");
	ok(addr_net_parse("::1", &n) == 0 && n.family == AF_INET6 &&
	    n.prefix == 128, "a lone IPv6 address is a /128");
	ok(addr_net_parse("::/0", &n) == 0 && n.prefix == 0, "::/0");
	ok(addr_net_parse("::ffff:192.0.2.1/128", &n) == 0 &&
	    n.family == AF_INET && n.prefix == 32 &&
	    memcmp(n.addr, "\xc0\x00\x02\x01", 4) == 0 &&
	    memcmp(n.addr + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12) == 0,
	    "a mapped address is the IPv4 address");
	ok(addr_net_parse("::ffff:192.0.2.0/120", &n) == 0 &&
	    n.family == AF_INET && n.prefix == 24, "a mapped /120 is a /24");
	ok(addr_net_parse("::ffff:0.0.0.0/96", &n) == 0 &&
	    n.family == AF_INET && n.prefix == 0, "a mapped /96 is 0.0.0.0/0");
	ok(addr_net_parse("::ffff:0.0.0.0/95", &n) == 0 &&
	    n.family == AF_INET6 && n.prefix == 95,
	    "shorter than /96: stays an IPv6 network");
	ok(addr_net_parse("192.0.2.0/32", &n) == 0 && n.prefix == 32,
	    "/32 at the limit");
	ok(addr_net_parse("::/128", &n) == 0 && n.prefix == 128,
	    "/128 at the limit");
}

static void
test_net_format(void)
{
	static const struct {
		const char	*in, *out;
	} f[] = {
		{ "192.0.2.0/24", "192.0.2.0/24" },
		{ "192.0.2.7", "192.0.2.7/32" },
		{ "127.0.0.1/8", "127.0.0.1/8" },	/* host bits kept */
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:0db8:0000::0001", "2001:db8::1/128" },
		{ "::/0", "::/0" },
	};
	struct addr_net	 n;
	char		 out[ADDR_NET_MAX];
	size_t		 i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (addr_net_parse(f[i].in, &n) < 0) {
			printf("Bail out! network %s\n", f[i].in);
			exit(99);
		}
		addr_net_format(&n, out, sizeof(out));
		is(out, f[i].out, "network \"%s\" printed", f[i].in);
	}
	addr_net_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", &n);
	addr_net_format(&n, out, sizeof(out));
	is(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
	    "the longest network fits ADDR_NET_MAX");
	addr_net_parse("192.0.2.0/24", &n);
	memset(out, 'x', sizeof(out));
	addr_net_format(&n, out, 8);
	ok(strcmp(out, "192.0.2") == 0 && out[8] == 'x',
	    "cut to its buffer, still a string");
}

static void
test_nets_match(void)
{
	struct addr_net		 nets[2], one;
	struct sockaddr_storage	 ss;

#define IN(net, peer)	(addr_net_parse((net), &one) == 0 &&		\
			    addr_nets_match(&one, 1, (peer)))

	/* the same test on its own, as the access lists use it */
	addr_net_parse("192.0.2.0/23", &nets[0]);
	addr_net_parse("2001:db8::/32", &nets[1]);
	ok(addr_nets_match(nets, 2, peer4(&ss, "192.0.3.1")),
	    "addr_nets_match: IPv4 in the list");
	ok(addr_nets_match(nets, 2, peer6(&ss, "::ffff:192.0.2.1")),
	    "addr_nets_match: mapped IPv4 in the list");
	ok(addr_nets_match(nets, 2, peer6(&ss, "2001:db8:1::")),
	    "addr_nets_match: IPv6 in the list");
	ok(!addr_nets_match(nets, 2, peer4(&ss, "192.0.4.1")),
	    "addr_nets_match: IPv4 outside");
	ok(!addr_nets_match(nets, 1, peer6(&ss, "2001:db8:1::")),
	    "addr_nets_match: only the first n networks");
	ok(!addr_nets_match(nets, 0, peer4(&ss, "192.0.3.1")),
	    "addr_nets_match: an empty list holds nobody");
	ok(!addr_nets_match(nets, 2, peer_unix(&ss)),
	    "addr_nets_match: never a Unix peer");
	ok(!addr_nets_match(nets, 2, NULL), "addr_nets_match: NULL");

	/* the edges of a prefix that does not end on a byte */
	ok(IN("192.0.2.0/23", peer4(&ss, "192.0.2.0")), "/23: first address");
	ok(IN("192.0.2.0/23", peer4(&ss, "192.0.3.255")), "/23: last address");
	ok(!IN("192.0.2.0/23", peer4(&ss, "192.0.4.0")), "/23: one past");
	ok(!IN("192.0.2.0/23", peer4(&ss, "192.0.1.255")), "/23: one before");
	ok(IN("2001:db8:0:80::/57", peer6(&ss, "2001:db8:0:ff:ffff::1")),
	    "/57: high bits");
	ok(!IN("2001:db8:0:80::/57", peer6(&ss, "2001:db8:0:7f::1")),
	    "/57: bit 57 clear");
	ok(IN("198.51.100.7/32", peer4(&ss, "198.51.100.7")), "/32: itself");
	ok(!IN("198.51.100.7/32", peer4(&ss, "198.51.100.6")),
	    "/32: its neighbour");
	ok(!IN("2001:db8::1/128", peer6(&ss, "2001:db8::2")),
	    "/128: its neighbour");
	ok(IN("127.0.0.1/8", peer4(&ss, "127.9.9.9")),
	    "host bits of the network do not count");
	/* a mapped client is IPv4, everywhere */
	ok(IN("198.51.100.7/32", peer6(&ss, "::ffff:198.51.100.7")),
	    "mapped client in an IPv4 /32");
	ok(!IN("192.0.2.0/23", peer6(&ss, "::ffff:203.0.113.1")),
	    "mapped client outside");
	ok(IN("0.0.0.0/0", peer6(&ss, "::ffff:1.2.3.4")),
	    "0.0.0.0/0 takes a mapped client");
	ok(!IN("::/0", peer6(&ss, "::ffff:1.2.3.4")),
	    "::/0 does not take a mapped client");
	/* and a network written in the mapped form is the IPv4 one */
	ok(IN("::ffff:10.0.0.0/104", peer4(&ss, "10.1.2.3")),
	    "mapped-form network takes an IPv4 client");
	ok(IN("::ffff:10.0.0.0/104", peer6(&ss, "::ffff:10.1.2.3")),
	    "mapped-form network takes a mapped client");
	ok(!IN("::ffff:10.0.0.0/104", peer4(&ss, "11.1.2.3")),
	    "mapped-form network: an IPv4 client outside");
	ok(!IN("192.0.2.0/23", peer6(&ss, "::c000:201")),
	    "IPv4-compatible (not mapped) address is IPv6");
	ok(!IN("0.0.0.0/0", peer6(&ss, "::1")), "0.0.0.0/0: not IPv6");
	ok(!IN("::/0", peer4(&ss, "192.0.2.1")), "::/0: not IPv4");
	ok(!IN("0.0.0.0/0", peer_unix(&ss)) && !IN("::/0", peer_unix(&ss)),
	    "/0 does not take a Unix peer");
	ok(!IN("0.0.0.0/0", NULL) && !IN("::/0", NULL),
	    "/0 does not take a NULL peer");
#undef IN
}

static void
test_format(void)
{
	struct sockaddr_storage	 ss;
	char			 text[ADDR_TEXT_MAX];
	uint16_t		 port;

#define FMT(sa)	(port = 9, addr_format((sa), text, sizeof(text), &port), text)

	is(FMT(peer4(&ss, "192.0.2.1")), "192.0.2.1", "IPv4 as text");
	ok(port == 40000, "its port (%u)", port);
	is(FMT(peer6(&ss, "2001:0db8:0::1")), "2001:db8::1",
	    "IPv6 as text, shortest form");
	ok(port == 40000, "its port (%u)", port);
	is(FMT(peer6(&ss, "::ffff:192.0.2.1")), "192.0.2.1",
	    "a mapped address is shown as IPv4");
	ok(port == 40000, "its port (%u)", port);
	is(FMT(peer6(&ss, "::c000:201")), "::192.0.2.1",
	    "an IPv4-compatible address stays IPv6");
	is(FMT(peer6(&ss, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "the longest address fits ADDR_TEXT_MAX");
	is(FMT(peer_unix(&ss)), "local", "a Unix peer is \"local\"");
	ok(port == 0, "with port 0 (%u)", port);
	is(FMT(NULL), "local", "no peer is \"local\"");
	ok(port == 0, "with port 0 (%u)", port);
#undef FMT
}

static void
test_format_peer(void)
{
	union addr_any	 a;
	char		 out[ADDR_PEER_MAX], text[ADDR_TEXT_MAX];
	uint16_t	 port;

	addr_format_peer("192.0.2.1", 4000, out, sizeof(out));
	is(out, "192.0.2.1:4000", "IPv4 peer");
	addr_format_peer("2001:db8::1", 4000, out, sizeof(out));
	is(out, "[2001:db8::1]:4000", "IPv6 peer in brackets");
	addr_format_peer("::1", 0, out, sizeof(out));
	is(out, "[::1]:0", "port 0");
	addr_format_peer("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, out,
	    sizeof(out));
	is(out, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	    "the longest peer fits ADDR_PEER_MAX");
	memset(out, 'x', sizeof(out));
	addr_format_peer("192.0.2.1", 4000, out, 8);
	ok(strcmp(out, "192.0.2") == 0 && out[8] == 'x',
	    "cut to its buffer, still a string");

	/* what it writes, addr_parse_hostport reads back */
	addr_format_peer("2001:db8::7", 65535, out, sizeof(out));
	ok(addr_parse_hostport(out, &a) == 0, "\"%s\" parses", out);
	addr_format(&a.sa, text, sizeof(text), &port);
	ok(strcmp(text, "2001:db8::7") == 0 && port == 65535,
	    "and is the same peer (%s %u)", text, port);
}

static void
test_key(void)
{
	struct sockaddr_storage	 ss;
	uint8_t			 key[16], key4[16], want[16];

	memset(key4, 0xa5, sizeof(key4));
	ok(addr_key(peer4(&ss, "192.0.2.1"), key4) == AF_INET, "IPv4 key");
	memset(want, 0, sizeof(want));
	memcpy(want, "\xc0\x00\x02\x01", 4);
	ok(memcmp(key4, want, 16) == 0, "IPv4 key bytes, zero-padded");
	((struct sockaddr_in *)&ss)->sin_port = htons(1);
	memset(key, 0xa5, sizeof(key));
	ok(addr_key((struct sockaddr *)&ss, key) == AF_INET &&
	    memcmp(key, key4, 16) == 0, "the port is not part of the key");
	memset(key, 0xa5, sizeof(key));
	ok(addr_key(peer6(&ss, "::ffff:192.0.2.1"), key) == AF_INET,
	    "a mapped address keys as IPv4");
	ok(memcmp(key, key4, 16) == 0, "with the IPv4 address's key");
	memset(key, 0xa5, sizeof(key));
	ok(addr_key(peer6(&ss, "2001:db8::1"), key) == AF_INET6, "IPv6 key");
	inet_pton(AF_INET6, "2001:db8::1", want);
	ok(memcmp(key, want, 16) == 0, "IPv6 key bytes");
	memset(key, 0xa5, sizeof(key));
	memset(want, 0, sizeof(want));
	ok(addr_key(peer_unix(&ss), key) == 0 && memcmp(key, want, 16) == 0,
	    "no key for a Unix peer, zeroed");
	memset(key, 0xa5, sizeof(key));
	ok(addr_key(NULL, key) == 0 && memcmp(key, want, 16) == 0,
	    "no key for NULL, zeroed");
}

static void
test_parse_ip(void)
{
	union addr_any	 a;

	ok(addr_parse_ip("192.0.2.1", 80, &a) == (int)sizeof(a.in) &&
	    a.in.sin_family == AF_INET && ntohs(a.in.sin_port) == 80 &&
	    memcmp(&a.in.sin_addr, "\xc0\x00\x02\x01", 4) == 0,
	    "IPv4 with its port and length");
	ok(addr_parse_ip("2001:db8::1", 443, &a) == (int)sizeof(a.in6) &&
	    a.in6.sin6_family == AF_INET6 && ntohs(a.in6.sin6_port) == 443,
	    "IPv6 with its port and length");
	ok(addr_parse_ip("localhost", 80, &a) == -EINVAL, "no names");
	ok(addr_parse_ip("192.0.2.1:80", 0, &a) == -EINVAL, "no port syntax");
	ok(addr_parse_ip("[::1]", 0, &a) == -EINVAL, "no brackets");
}

static void
test_parse_hostport(void)
{
	static const struct {
		const char	*s;
		int		 family;
		const char	*addr;
		uint16_t	 port;
	} good[] = {
		{ "192.0.2.1", AF_INET, "192.0.2.1", 0 },
		{ "192.0.2.1:4000", AF_INET, "192.0.2.1", 4000 },
		{ "::1", AF_INET6, "::1", 0 },
		{ "[::1]:4000", AF_INET6, "::1", 4000 },
		{ "[::1]", AF_INET6, "::1", 0 },
		{ "[2001:db8::1]:65535", AF_INET6, "2001:db8::1", 65535 },
		{ "192.0.2.1:0", AF_INET, "192.0.2.1", 0 },
		{ "::ffff:192.0.2.1", AF_INET6, "192.0.2.1", 0 },
		/* more than one ':' without brackets: an address, no port */
		{ "2001:db8::1:4000", AF_INET6, "2001:db8::1:4000", 0 },
	};
	static const char *const bad[] = {
		"[::1", "1.2.3.4:70000", "1.2.3.4:65536", "host", "host:80",
		"", "[::1]x", "[::1]:", "[::1]:x", "1.2.3.4:", "1.2.3.4:80x",
		"1.2.3.4:-1", "[]:1", "[host]:80", "fe80::1%lo", "[::1]]:80",
		"192.0.2.1:4000:1", "1.2.3.4: 80", "1.2.3.4:+80",
		"1.2.3.4:-0", "[::1]: 80", "1.2.3.4:80 ",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc",
	};
	union addr_any	 a;
	char		 text[ADDR_TEXT_MAX];
	uint16_t	 port;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = addr_parse_hostport(good[i].s, &a);
		ok(r == 0 && a.sa.sa_family == good[i].family,
		    "\"%s\" parses (%d)", good[i].s, r);
		if (r < 0)
			continue;
		addr_format(&a.sa, text, sizeof(text), &port);
		ok(strcmp(text, good[i].addr) == 0 && port == good[i].port,
		    "\"%s\" is %s port %u (%s %u)", good[i].s, good[i].addr,
		    good[i].port, text, port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(addr_parse_hostport(bad[i], &a) == -EINVAL,
		    "\"%s\" refused", bad[i]);
}

static void
test_acl(void)
{
	struct addr_net		 allow[2], deny[2], all[2];
	struct addr_acl		 acl;
	struct sockaddr_storage	 ss;

	addr_net_parse("192.0.2.0/24", &allow[0]);
	addr_net_parse("2001:db8::/32", &allow[1]);
	addr_net_parse("192.0.2.128/25", &deny[0]);
	addr_net_parse("2001:db8:bad::/48", &deny[1]);
	addr_net_parse("0.0.0.0/0", &all[0]);
	addr_net_parse("::/0", &all[1]);

	memset(&acl, 0, sizeof(acl));
	ok(addr_acl_permits(&acl, peer4(&ss, "203.0.113.1")),
	    "empty lists: any IPv4 client");
	ok(addr_acl_permits(&acl, peer6(&ss, "fe80::1")),
	    "empty lists: any IPv6 client");
	ok(addr_acl_permits(&acl, peer_unix(&ss)),
	    "empty lists: a Unix client");

	acl.allow = allow;
	acl.nallow = 2;
	ok(addr_acl_permits(&acl, peer4(&ss, "192.0.2.200")),
	    "allow only: IPv4 inside");
	ok(!addr_acl_permits(&acl, peer4(&ss, "192.0.3.1")),
	    "allow only: IPv4 outside");
	ok(addr_acl_permits(&acl, peer6(&ss, "::ffff:192.0.2.9")),
	    "allow only: mapped IPv4 inside");
	ok(!addr_acl_permits(&acl, peer6(&ss, "::ffff:192.0.3.9")),
	    "allow only: mapped IPv4 outside");
	ok(addr_acl_permits(&acl, peer6(&ss, "2001:db8::5")),
	    "allow only: IPv6 inside");
	ok(!addr_acl_permits(&acl, peer6(&ss, "2001:db9::5")),
	    "allow only: IPv6 outside");
	ok(addr_acl_permits(&acl, peer_unix(&ss)), "allow only: Unix client");

	acl.allow = NULL;
	acl.nallow = 0;
	acl.deny = deny;
	acl.ndeny = 2;
	ok(!addr_acl_permits(&acl, peer4(&ss, "192.0.2.200")),
	    "deny only: IPv4 inside");
	ok(addr_acl_permits(&acl, peer4(&ss, "192.0.2.100")),
	    "deny only: IPv4 outside");
	ok(!addr_acl_permits(&acl, peer6(&ss, "::ffff:192.0.2.129")),
	    "deny only: mapped IPv4 inside");
	ok(!addr_acl_permits(&acl, peer6(&ss, "2001:db8:bad::1")),
	    "deny only: IPv6 inside");
	ok(addr_acl_permits(&acl, peer6(&ss, "2001:db8:600d::1")),
	    "deny only: IPv6 outside");
	ok(addr_acl_permits(&acl, peer_unix(&ss)), "deny only: Unix client");

	acl.allow = allow;
	acl.nallow = 2;
	ok(addr_acl_permits(&acl, peer4(&ss, "192.0.2.1")),
	    "both: allowed, not denied");
	ok(!addr_acl_permits(&acl, peer4(&ss, "192.0.2.129")),
	    "both: allowed and denied: deny wins");
	ok(!addr_acl_permits(&acl, peer4(&ss, "198.51.100.1")),
	    "both: neither: not allowed");
	ok(addr_acl_permits(&acl, peer6(&ss, "2001:db8:1::1")),
	    "both: IPv6 allowed, not denied");
	ok(!addr_acl_permits(&acl, peer6(&ss, "2001:db8:bad:1::1")),
	    "both: IPv6 allowed and denied");
	ok(addr_acl_permits(&acl, peer_unix(&ss)), "both: Unix client");

	/* not even a deny of everything keeps a Unix client out */
	acl.allow = NULL;
	acl.nallow = 0;
	acl.deny = all;
	acl.ndeny = 2;
	ok(!addr_acl_permits(&acl, peer4(&ss, "192.0.2.1")) &&
	    !addr_acl_permits(&acl, peer6(&ss, "::1")),
	    "deny everything: no IP client");
	ok(addr_acl_permits(&acl, peer_unix(&ss)),
	    "deny everything: still a Unix client");

	/* addr_acl_free empties the lists: everyone again */
	acl.allow = calloc(1, sizeof(*acl.allow));
	acl.deny = calloc(1, sizeof(*acl.deny));
	if (acl.allow == NULL || acl.deny == NULL) {
		printf("Bail out! out of memory\n");
		exit(99);
	}
	acl.allow[0] = allow[0];
	acl.deny[0] = all[0];
	acl.nallow = acl.ndeny = 1;
	ok(!addr_acl_permits(&acl, peer4(&ss, "192.0.2.1")),
	    "allocated lists in force");
	addr_acl_free(&acl);
	ok(acl.allow == NULL && acl.deny == NULL && acl.nallow == 0 &&
	    acl.ndeny == 0, "addr_acl_free empties the lists");
	ok(addr_acl_permits(&acl, peer4(&ss, "192.0.2.1")),
	    "and then permits everyone");
}

int
main(void)
{
	test_net_parse();
	test_net_format();
	test_nets_match();
	test_format();
	test_format_peer();
	test_key();
	test_parse_ip();
	test_parse_hostport();
	test_acl();
	return tap_done();
}
