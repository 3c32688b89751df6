/* SPDX-License-Identifier: ISC */
/* The "listen" setting: the sockets to open when none are passed. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "cfg.h"
#include "config-listen.h"
#include "config-service.h"

/* text must be an IPv4 or IPv6 address; it is kept normalised. */
static void
set_address(struct conf_listener *l, const char *text, int port)
{
	union addr_any	 a;
	int		 n;

	l->port = (uint16_t)port;
	n = addr_parse_ip(text, l->port, &a);
	memset(&l->sa, 0, sizeof(l->sa));
	if (n < 0)
		return;
	memcpy(&l->sa, &a, (size_t)n);
	l->salen = (socklen_t)n;
	addr_format(&a.sa, l->address, sizeof(l->address), &l->port);
}

static void
set_path(struct conf_listener *l, const char *path)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&l->sa;

	memset(&l->sa, 0, sizeof(l->sa));
	strlcpy(l->path, path, sizeof(l->path));
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, path, sizeof(sun->sun_path));
	l->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path) + 1);
}

/*
 * A path is a fine name when it is short and plain; otherwise its end, with
 * anything a name may not hold turned into '_', so that the name stays
 * valid input for 'echoreplyd -n -v' (found by fuzz-config).
 */
static void
name_from_path(char *name, size_t len, const char *path)
{
	size_t	 n = strlen(path), i;

	if (n >= len)
		path += n - (len - 1);
	for (i = 0; i < len - 1 && path[i] != '\0'; i++) {
		name[i] = path[i];
		if (strchr(CFG_NAME_CHARS, name[i]) == NULL)
			name[i] = '_';
	}
	name[i] = '\0';
}

/* "127.0.0.1:13008", "[::1]:13008/udp", or the path of a Unix socket. */
static void
default_name(struct conf_listener *l)
{
	const char	*udp = l->type == SOCK_DGRAM ? "/udp" : "";

	if (l->sa.ss_family == AF_UNIX)
		name_from_path(l->name, sizeof(l->name), l->path);
	else if (l->sa.ss_family == AF_INET6)
		snprintf(l->name, sizeof(l->name), "[%s]:%u%s", l->address,
		    l->port, udp);
	else
		snprintf(l->name, sizeof(l->name), "%s:%u%s", l->address,
		    l->port, udp);
}

static void
parse_listener(struct parser *p, const config_setting_t *s,
    struct conf_listener *l)
{
	static const char *const own[] = {
		"name", "protocol", "address", "port", "path", "backlog",
		"ipv6_only", "reuse_port", NULL
	};
	static const char *const protocols[] = { "tcp", "udp", "unix", NULL };
	const char		*known[96];
	const config_setting_t	*where = NULL;
	int			 choice;
	const char		*address, *name, *path;
	union addr_any		 probe;
	long long		 port = CONF_DEFAULT_PORT, backlog = 128;
	bool			 unix_stream = false;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		cfg_error(p, s, "each listener must be a group "
		    "{ address = ...; port = ...; }, not %s",
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	/* its service keys are read later, over the top level's */
	cfg_service_keys_with(own, known, sizeof(known) / sizeof(known[0]));
	cfg_check_keys(p, s, known, " in listener");

	l->type = SOCK_STREAM;
	if (cfg_get_choice(p, s, "protocol", protocols, &choice)) {
		l->type = choice == 1 ? SOCK_DGRAM : SOCK_STREAM;
		unix_stream = choice == 2;
	}

	if (unix_stream) {
		cfg_not_for(p, s, "address", "unix listeners");
		cfg_not_for(p, s, "port", "unix listeners");
		cfg_not_for(p, s, "ipv6_only", "unix listeners");
		cfg_not_for(p, s, "reuse_port", "unix listeners");
		where = NULL;
		path = cfg_get_string(p, s, "path", &where);
		if (path == NULL) {
			if (where == NULL)
				cfg_error(p, s, "a unix listener needs a "
				    "'path'");
		} else if (path[0] != '/' || strlen(path) >= CONF_PATH_MAX) {
			cfg_error(p, where, "'path' must be an absolute path "
			    "shorter than %d bytes, not \"%.100s\"",
			    CONF_PATH_MAX, path);
		} else
			set_path(l, path);
	} else {
		cfg_not_for(p, s, "path", "tcp or udp listeners");
		cfg_get_int(p, s, "port", 1, 65535, &port);
		address = cfg_get_string(p, s, "address", &where);
		if (address == NULL)
			address = CONF_DEFAULT_ADDRESS;
		else if (addr_parse_ip(address, 0, &probe) < 0) {
			cfg_error(p, where, "'address' must be an IPv4 or IPv6 "
			    "address, not \"%.100s\"", address);
			address = CONF_DEFAULT_ADDRESS;
		}
		set_address(l, address, (int)port);
		l->ipv6_only = true;
		if (l->sa.ss_family == AF_INET6)
			cfg_get_bool(p, s, "ipv6_only", &l->ipv6_only);
		else
			cfg_not_for(p, s, "ipv6_only", "IPv4 addresses");
		cfg_get_bool(p, s, "reuse_port", &l->reuse_port);
	}

	cfg_get_int(p, s, "backlog", 1, 65535, &backlog);
	l->backlog = l->type == SOCK_STREAM ? (int)backlog : 0;
	if (l->type == SOCK_DGRAM)
		cfg_not_for(p, s, "backlog", "udp listeners");

	where = NULL;
	if ((name = cfg_get_string(p, s, "name", &where)) != NULL) {
		if (!cfg_valid_name(name))
			cfg_error(p, where, "'name' must be 1 to %d letters, "
			    "digits or '_.-:[]/', not \"%.100s\"",
			    CONF_NAME_MAX - 1, name);
		else
			strlcpy(l->name, name, sizeof(l->name));
	} else if (where == NULL && (!unix_stream || l->salen > 0)) {
		/* without a valid path there is no default name either */
		if (unix_stream && strlen(l->path) >= CONF_NAME_MAX)
			cfg_error(p, s, "a unix listener whose path is longer "
			    "than %d bytes needs a 'name'", CONF_NAME_MAX - 1);
		else
			default_name(l);
	}
}

static int
same_socket(const struct conf_listener *a, const struct conf_listener *b)
{
	return a->salen > 0 && a->type == b->type && a->salen == b->salen &&
	    memcmp(&a->sa, &b->sa, a->salen) == 0;
}

static void
report_twice(struct parser *p, const config_setting_t *s,
    const struct conf_listener *l)
{
	if (l->sa.ss_family == AF_UNIX)
		cfg_error(p, s, "path %s is listed twice", l->path);
	else
		cfg_error(p, s, "%s address %s port %u is listed twice",
		    l->type == SOCK_DGRAM ? "udp" : "tcp", l->address,
		    l->port);
}

void
cfg_parse_listeners(struct parser *p, struct conf *c, const config_setting_t *s)
{
	const config_setting_t	*e;
	unsigned int		 i, j, n;

	if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
		n = 1;
		e = s;
	} else if (config_setting_type(s) == CONFIG_TYPE_LIST) {
		n = (unsigned)config_setting_length(s);
		e = NULL;
	} else {
		cfg_error(p, s, "'listen' must be a group or a list of "
		    "groups, not %s", cfg_type_name(config_setting_type(s)));
		return;
	}
	if (n == 0) {
		cfg_error(p, s, "'listen' must name at least one listener");
		return;
	}
	free(c->listeners);
	c->nlisteners = 0;
	if ((c->listeners = calloc(n, sizeof(*c->listeners))) == NULL) {
		cfg_error(p, s, "out of memory");
		return;
	}
	c->nlisteners = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *ls = e != NULL ? e :
		    config_setting_get_elem(s, i);

		parse_listener(p, ls, &c->listeners[i]);
		for (j = 0; j < i; j++) {
			if (c->listeners[i].name[0] != '\0' &&
			    strcmp(c->listeners[i].name,
			    c->listeners[j].name) == 0)
				cfg_error(p, ls, "listener name \"%s\" is "
				    "used twice", c->listeners[i].name);
			else if (same_socket(&c->listeners[i],
			    &c->listeners[j]))
				report_twice(p, ls, &c->listeners[i]);
		}
	}
}

int
cfg_default_listener(struct conf *c)
{
	if ((c->listeners = calloc(1, sizeof(*c->listeners))) == NULL)
		return -ENOMEM;
	c->nlisteners = 1;
	c->listeners[0].type = SOCK_STREAM;
	c->listeners[0].backlog = 128;
	c->listeners[0].ipv6_only = true;
	set_address(&c->listeners[0], CONF_DEFAULT_ADDRESS, CONF_DEFAULT_PORT);
	default_name(&c->listeners[0]);
	return 0;
}
