/* SPDX-License-Identifier: ISC */
/*
 * Addresses of clients and listeners: text for logs and templates, keys
 * for tables, networks (CIDR) and access lists. An IPv4-mapped IPv6
 * address (::ffff:192.0.2.1) is the IPv4 address it carries, everywhere.
 */
#ifndef ECHOREPLYD_ADDR_H
#define ECHOREPLYD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX	INET6_ADDRSTRLEN	/* an address, with its NUL */
#define ADDR_PEER_MAX	(ADDR_TEXT_MAX + 8)	/* "[address]:port" */
#define ADDR_NET_MAX	(ADDR_TEXT_MAX + 4)	/* "address/prefix" */

/* Any socket address this daemon deals with. */
union addr_any {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
	struct sockaddr_storage	ss;
};

/*
 * The address of sa as text into text[len] and its port into *port; for
 * anything but IPv4 and IPv6, "local" and port 0.
 */
void	addr_format(const struct sockaddr *sa, char *text, size_t len,
	    uint16_t *port);
/* "192.0.2.1:4000" or "[2001:db8::1]:4000", from an address's text. */
void	addr_format_peer(const char *text, uint16_t port, char *out,
	    size_t len);

/*
 * The key of an IP address for tables: its family (AF_INET for a mapped
 * address) with the address in key[0..16), zero-padded. 0 for others.
 */
int	addr_key(const struct sockaddr *sa, uint8_t key[16]);

/*
 * A numeric IPv4 or IPv6 address and a port into ss. Returns the
 * address's length, or -EINVAL when text is not an address.
 */
int	addr_parse_ip(const char *text, uint16_t port, union addr_any *ss);
/*
 * "192.0.2.1", "192.0.2.1:4000", "::1" or "[::1]:4000" into ss (port 0
 * when none is given). Returns 0 or -EINVAL.
 */
int	addr_parse_hostport(const char *s, union addr_any *ss);

/* A network: every address whose first `prefix` bits are addr's. */
struct addr_net {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	unsigned int	 prefix;
};

/*
 * Parses "192.0.2.0/24", "2001:db8::/32" or a lone address. 0 or -EINVAL.
 * An IPv4-mapped network of /96 or longer becomes the IPv4 network.
 */
int	addr_net_parse(const char *, struct addr_net *);
/* "192.0.2.0/24", into out[ADDR_NET_MAX]. */
void	addr_net_format(const struct addr_net *, char *out, size_t len);
/* Whether the address of sa is in one of the networks (never for Unix). */
bool	addr_nets_match(const struct addr_net *, size_t n,
	    const struct sockaddr *sa);

/* Who may talk to a listener. Both lists empty: everyone. */
struct addr_acl {
	struct addr_net	*allow;		/* empty: every address */
	size_t		 nallow;
	struct addr_net	*deny;
	size_t		 ndeny;
};

/*
 * Whether the access list lets the client in: a Unix client always; an
 * IP client when it is in allow (or allow is empty) and not in deny.
 */
bool	addr_acl_permits(const struct addr_acl *, const struct sockaddr *);
void	addr_acl_free(struct addr_acl *);

#endif
