/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/*
 * sa may point into a smaller union than union addr_any (aligned for
 * sockaddr_storage): only ever cast it to the kind its family says.
 */
#define SIN(sa)		((const struct sockaddr_in *)(const void *)(sa))
#define SIN6(sa)	((const struct sockaddr_in6 *)(const void *)(sa))

void
addr_format(const struct sockaddr *sa, char *text, size_t len, uint16_t *port)
{
	uint8_t			 key[16];

	switch (addr_key(sa, key)) {
	case AF_INET:
		inet_ntop(AF_INET, key, text, (socklen_t)len);
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, key, text, (socklen_t)len);
		break;
	default:
		strlcpy(text, "local", len);
		*port = 0;
		return;
	}
	*port = ntohs(sa->sa_family == AF_INET ? SIN(sa)->sin_port :
	    SIN6(sa)->sin6_port);
}

void
addr_format_peer(const char *text, uint16_t port, char *out, size_t len)
{
	snprintf(out, len, strchr(text, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    text, port);
}

int
addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(key, &SIN(sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&SIN6(sa)->sin6_addr)) {
		memcpy(key, &SIN6(sa)->sin6_addr.s6_addr[12], 4);
		return AF_INET;
	}
	memcpy(key, &SIN6(sa)->sin6_addr, 16);
	return AF_INET6;
}

int
addr_parse_ip(const char *text, uint16_t port, union addr_any *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &ss->in.sin_addr) == 1) {
		ss->in.sin_family = AF_INET;
		ss->in.sin_port = htons(port);
		return (int)sizeof(ss->in);
	}
	if (inet_pton(AF_INET6, text, &ss->in6.sin6_addr) == 1) {
		ss->in6.sin6_family = AF_INET6;
		ss->in6.sin6_port = htons(port);
		return (int)sizeof(ss->in6);
	}
	return -EINVAL;
}

int
addr_parse_hostport(const char *s, union addr_any *ss)
{
	const char	*errstr;
	char		 buf[ADDR_PEER_MAX], *colon = NULL, *end;
	long long	 port = 0;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -EINVAL;
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			return -EINVAL;
		*end = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		/* only the address moves: the port stays behind its NUL */
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
	} else if ((colon = strchr(buf, ':')) != NULL &&
	    colon != strrchr(buf, ':'))
		colon = NULL;	/* a bare IPv6 address */
	if (colon != NULL) {
		*colon = '\0';
		/* digits only: no sign, no blanks */
		if (colon[1] == '\0' ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return -EINVAL;
		port = strtonum(colon + 1, 0, 65535, &errstr);
		if (errstr != NULL)
			return -EINVAL;
	}
	return addr_parse_ip(buf, (uint16_t)port, ss) < 0 ? -EINVAL : 0;
}

int
addr_net_parse(const char *s, struct addr_net *net)
{
	char		 addr[ADDR_TEXT_MAX];
	const char	*slash, *errstr;
	size_t		 alen;
	long long	 prefix = -1;

	memset(net, 0, sizeof(*net));
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, net->addr) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, net->addr) == 1)
		net->family = AF_INET6;
	else
		return -EINVAL;
	if (slash != NULL) {
		/* digits only: no sign, no blanks */
		if (slash[1] == '\0' || strlen(slash + 1) > 3 ||
		    strspn(slash + 1, "0123456789") != strlen(slash + 1))
			return -EINVAL;
		prefix = strtonum(slash + 1, 0, net->family == AF_INET ?
		    32 : 128, &errstr);
		if (errstr != NULL)
			return -EINVAL;
	}
	net->prefix = prefix < 0 ? (net->family == AF_INET ? 32 : 128) :
	    (unsigned int)prefix;
	/* clients in the mapped form are keyed as IPv4: so are networks */
	if (net->family == AF_INET6 && net->prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(void *)net->addr)) {
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
		net->family = AF_INET;
		net->prefix -= 96;
	}
	return 0;
}

void
addr_net_format(const struct addr_net *net, char *out, size_t len)
{
	char	 addr[ADDR_TEXT_MAX];

	inet_ntop(net->family, net->addr, addr, sizeof(addr));
	snprintf(out, len, "%s/%u", addr, net->prefix);
}

static bool
net_contains(const struct addr_net *n, int family, const uint8_t *a)
{
	unsigned int	 full = n->prefix / 8, rest = n->prefix % 8;

	if (family != n->family)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((n->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

bool
addr_nets_match(const struct addr_net *nets, size_t n,
    const struct sockaddr *sa)
{
	uint8_t	 key[16];
	size_t	 i;
	int	 family;

	if ((family = addr_key(sa, key)) == 0)
		return false;
	for (i = 0; i < n; i++)
		if (net_contains(&nets[i], family, key))
			return true;
	return false;
}

bool
addr_acl_permits(const struct addr_acl *acl, const struct sockaddr *sa)
{
	uint8_t	 key[16];

	if (acl->nallow == 0 && acl->ndeny == 0)
		return true;
	if (addr_key(sa, key) == 0)
		return true;	/* Unix clients: the file mode decides */
	if (acl->nallow > 0 && !addr_nets_match(acl->allow, acl->nallow, sa))
		return false;
	return !addr_nets_match(acl->deny, acl->ndeny, sa);
}

void
addr_acl_free(struct addr_acl *acl)
{
	free(acl->allow);
	free(acl->deny);
	acl->allow = acl->deny = NULL;
	acl->nallow = acl->ndeny = 0;
}
