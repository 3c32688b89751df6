#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <pwd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "config-internal.h"

#define MIB			(1024 * 1024)
#define NAME_CHARS		"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:[]/"

static void
add_error(struct parser *p, int order, const char *text)
{
	struct error	*e;

	p->errors++;
	if ((e = reallocarray(p->errv, p->errc + 1, sizeof(*e))) != NULL) {
		p->errv = e;
		e[p->errc].order = order;
		if ((e[p->errc].text = strdup(text)) != NULL) {
			p->errc++;
			return;
		}
	}
	p->report(text, p->arg);	/* no memory to sort it: say it now */
}

/* Reports the errors collected, in file order, and forgets them. */
static void
flush_errors(struct parser *p)
{
	struct error	 t;
	size_t		 i, j;

	for (i = 1; i < p->errc; i++)	/* stable insertion sort */
		for (j = i; j > 0 && p->errv[j - 1].order > p->errv[j].order;
		    j--) {
			t = p->errv[j];
			p->errv[j] = p->errv[j - 1];
			p->errv[j - 1] = t;
		}
	for (i = 0; i < p->errc; i++) {
		p->report(p->errv[i].text, p->arg);
		free(p->errv[i].text);
	}
	free(p->errv);
	p->errv = NULL;
	p->errc = 0;
}

void
cfg_error(struct parser *p, const config_setting_t *s, const char *fmt, ...)
{
	char		 msg[512], line[1024];
	const char	*file = NULL;
	unsigned int	 lineno = 0;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL)
		file = config_setting_source_file(s);
	if (file == NULL)
		file = p->path;
	if (s != NULL)
		lineno = config_setting_source_line(s);
	if (lineno > 0)
		snprintf(line, sizeof(line), "%s:%u: %s", file, lineno, msg);
	else
		snprintf(line, sizeof(line), "%s: %s", file, msg);
	add_error(p, (strcmp(file, p->path) == 0 ? 0 : 1 << 20) +
	    (int)lineno, line);
}

const char *
cfg_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:		return "an integer";
	case CONFIG_TYPE_FLOAT:		return "a number with a fraction";
	case CONFIG_TYPE_STRING:	return "a string";
	case CONFIG_TYPE_BOOL:		return "a boolean";
	case CONFIG_TYPE_ARRAY:		return "an array";
	case CONFIG_TYPE_LIST:		return "a list";
	default:			return "a value";
	}
}

void
cfg_check_keys(struct parser *p, const config_setting_t *group,
    const char *const *known, const char *where)
{
	const config_setting_t	*s;
	const char		*name;
	size_t			 k;
	int			 i;

	for (i = 0; (s = config_setting_get_elem(group, (unsigned)i)) != NULL;
	    i++) {
		if ((name = config_setting_name(s)) == NULL)
			continue;
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(name, known[k]) == 0)
				break;
		if (known[k] == NULL)
			cfg_error(p, s, "unknown key '%s'%s", name, where);
	}
}

/* Each getter leaves *out alone when the key is absent. */
void
cfg_get_int(struct parser *p, const config_setting_t *group, const char *key,
    long long min, long long max, long long *out)
{
	const config_setting_t	*s;
	long long		 v;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		cfg_error(p, s, "'%s' must be an integer, not %s", key,
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	if (v < min || v > max) {
		cfg_error(p, s, "'%s' must be between %lld and %lld, not %lld",
		    key, min, max, v);
		return;
	}
	*out = v;
}

void
cfg_get_bool(struct parser *p, const config_setting_t *group, const char *key,
    bool *out)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_error(p, s, "'%s' must be true or false, not %s", key,
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	*out = config_setting_get_bool(s);
}

const char *
cfg_get_string(struct parser *p, const config_setting_t *group, const char *key,
    const config_setting_t **where)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return NULL;
	if (where != NULL)
		*where = s;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(p, s, "'%s' must be a string, not %s", key,
		    cfg_type_name(config_setting_type(s)));
		return NULL;
	}
	return config_setting_get_string(s);
}

int
cfg_valid_name(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n >= CONF_NAME_MAX)
		return 0;
	return strspn(s, NAME_CHARS) == n;
}

static void
set_address(struct conf_listener *l, const char *text, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&l->sa;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&l->sa;

	memset(&l->sa, 0, sizeof(l->sa));
	l->port = (uint16_t)port;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		l->salen = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, l->address,
		    sizeof(l->address));
	} else {
		inet_pton(AF_INET6, text, &sin6->sin6_addr);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		l->salen = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, l->address,
		    sizeof(l->address));
	}
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
	for (i = 0; path[i] != '\0' && i < len - 1; i++)
		name[i] = strchr(NAME_CHARS, path[i]) != NULL ? path[i] : '_';
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

/* Complains about a key that has no meaning for this kind of listener. */
static void
not_for(struct parser *p, const config_setting_t *s, const char *key,
    const char *what)
{
	const config_setting_t	*k;

	if ((k = config_setting_get_member(s, key)) != NULL)
		cfg_error(p, k, "'%s' is not for %s", key, what);
}

static void
parse_listener(struct parser *p, const config_setting_t *s,
    struct conf_listener *l)
{
	static const char *const known[] = {
		"name", "protocol", "address", "port", "path", "backlog",
		"ipv6_only", "reuse_port", NULL
	};
	const config_setting_t	*where = NULL;
	const char		*address, *name, *proto, *path;
	struct in6_addr		 a6;
	struct in_addr		 a4;
	long long		 port = CONF_DEFAULT_PORT, backlog = 128;
	bool			 unix_stream = false;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		cfg_error(p, s, "each listener must be a group "
		    "{ address = ...; port = ...; }, not %s",
		    cfg_type_name(config_setting_type(s)));
		return;
	}
	cfg_check_keys(p, s, known, " in listener");

	l->type = SOCK_STREAM;
	if ((proto = cfg_get_string(p, s, "protocol", &where)) != NULL) {
		if (strcmp(proto, "udp") == 0)
			l->type = SOCK_DGRAM;
		else if (strcmp(proto, "unix") == 0)
			unix_stream = true;
		else if (strcmp(proto, "tcp") != 0)
			cfg_error(p, where, "'protocol' must be \"tcp\", "
			    "\"udp\" or \"unix\", not \"%.100s\"", proto);
	}

	if (unix_stream) {
		not_for(p, s, "address", "unix listeners");
		not_for(p, s, "port", "unix listeners");
		not_for(p, s, "ipv6_only", "unix listeners");
		not_for(p, s, "reuse_port", "unix listeners");
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
		not_for(p, s, "path", "tcp or udp listeners");
		cfg_get_int(p, s, "port", 1, 65535, &port);
		address = cfg_get_string(p, s, "address", &where);
		if (address == NULL)
			address = CONF_DEFAULT_ADDRESS;
		else if (inet_pton(AF_INET, address, &a4) != 1 &&
		    inet_pton(AF_INET6, address, &a6) != 1) {
			cfg_error(p, where, "'address' must be an IPv4 or IPv6 "
			    "address, not \"%.100s\"", address);
			address = CONF_DEFAULT_ADDRESS;
		}
		set_address(l, address, (int)port);
		l->ipv6_only = true;
		if (l->sa.ss_family == AF_INET6)
			cfg_get_bool(p, s, "ipv6_only", &l->ipv6_only);
		else
			not_for(p, s, "ipv6_only", "IPv4 addresses");
		cfg_get_bool(p, s, "reuse_port", &l->reuse_port);
	}

	cfg_get_int(p, s, "backlog", 1, 65535, &backlog);
	l->backlog = l->type == SOCK_STREAM ? (int)backlog : 0;
	if (l->type == SOCK_DGRAM)
		not_for(p, s, "backlog", "udp listeners");

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

static void
parse_listeners(struct parser *p, struct conf *c, const config_setting_t *s)
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

static int
set_default_listener(struct conf *c)
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

static struct conf *
conf_new(const char *path)
{
	struct conf	*c;
	char		 err[128];

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->framing = FRAME_LINE;
	c->max_message_bytes = 8192;
	c->max_queued_bytes = 1 * MIB;
	c->shutdown_timeout_ms = 5000;
	c->max_connections = 10000;
	c->idle_timeout_ms = 300000;
	c->log_messages = true;
	c->log_message_bytes = 256;
	if ((c->path = strdup(path)) == NULL ||
	    (c->rules = rules_new()) == NULL ||
	    template_compile("%{message}", &c->default_reply, err,
	    sizeof(err)) < 0 ||
	    template_compile("error: message longer than "
	    "%{max_message_bytes} bytes", &c->too_long_reply, err,
	    sizeof(err)) < 0 ||
	    template_compile("error: too many connections", &c->refuse_reply,
	    err, sizeof(err)) < 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* Replaces *t with the template in key, if it is there and compiles. */
static void
set_template(struct parser *p, const config_setting_t *group, const char *key,
    struct template **t)
{
	const config_setting_t	*where = NULL;
	struct template		*nt;
	const char		*str;
	char			 err[256];

	if ((str = cfg_get_string(p, group, key, &where)) == NULL)
		return;
	if (template_compile(str, &nt, err, sizeof(err)) < 0)
		cfg_error(p, where, "'%s': %s", key, err);
	else if (template_max_capture(nt) >= 0) {
		cfg_error(p, where, "'%s': '%%{%d}' needs a regex rule", key,
		    template_max_capture(nt));
		template_free(nt);
	} else {
		template_free(*t);
		*t = nt;
	}
}

static void
parse_limits(struct parser *p, struct conf *c, const config_setting_t *root)
{
	const config_setting_t	*s, *where = NULL;
	struct rules_net	 nets[CFG_NETS_MAX];
	const char		*str;
	long long		 v;
	size_t			 n;

	v = (long long)c->max_connections;
	cfg_get_int(p, root, "max_connections", 1, 1000000, &v);
	c->max_connections = (size_t)v;
	v = (long long)c->max_connections_per_source;
	cfg_get_int(p, root, "max_connections_per_source", 0, 1000000, &v);
	c->max_connections_per_source = (size_t)v;
	set_template(p, root, "refuse_reply", &c->refuse_reply);
	v = (long long)c->idle_timeout_ms;
	cfg_get_int(p, root, "idle_timeout_ms", 0, 86400 * 1000, &v);
	c->idle_timeout_ms = (uint64_t)v;
	v = 0;
	cfg_get_int(p, root, "source_message_rate", 0, 10000000, &v);
	c->source_message_rate = (double)v;
	v = v > 0 ? v : 1;
	cfg_get_int(p, root, "source_message_burst", 1, 10000000, &v);
	c->source_message_burst = (double)v;

	if ((s = config_setting_get_member(root, "allow")) != NULL &&
	    (n = cfg_get_nets(p, s, "allow", nets, CFG_NETS_MAX)) > 0) {
		if ((c->allow = calloc(n, sizeof(*c->allow))) == NULL)
			cfg_error(p, s, "out of memory");
		else {
			memcpy(c->allow, nets, n * sizeof(*nets));
			c->nallow = n;
		}
	}
	if ((s = config_setting_get_member(root, "deny")) != NULL &&
	    (n = cfg_get_nets(p, s, "deny", nets, CFG_NETS_MAX)) > 0) {
		if ((c->deny = calloc(n, sizeof(*c->deny))) == NULL)
			cfg_error(p, s, "out of memory");
		else {
			memcpy(c->deny, nets, n * sizeof(*nets));
			c->ndeny = n;
		}
	}
	if ((str = cfg_get_string(p, root, "user", &where)) != NULL) {
		if (getpwnam(str) == NULL)
			cfg_error(p, where, "'user': no user \"%.100s\" on "
			    "this system", str);
		else if ((c->user = strdup(str)) == NULL)
			cfg_error(p, where, "out of memory");
	}
}

static void
parse_root(struct parser *p, struct conf *c, const config_setting_t *root)
{
	static const char *const known[] = {
		"listen", "framing", "close_after_reply", "greeting", "rules",
		"default_reply", "too_long_reply",
		"max_message_bytes", "max_queued_bytes", "shutdown_timeout_ms",
		"log_messages", "log_message_bytes", "max_connections",
		"max_connections_per_source", "refuse_reply", "idle_timeout_ms",
		"source_message_rate", "source_message_burst", "allow", "deny",
		"user", "log_target", NULL
	};
	const config_setting_t	*s, *where = NULL;
	const char		*str;
	long long		 v;

	cfg_check_keys(p, root, known, "");

	if ((s = config_setting_get_member(root, "listen")) != NULL)
		parse_listeners(p, c, s);

	if ((str = cfg_get_string(p, root, "framing", &where)) != NULL) {
		if (strcmp(str, "line") == 0)
			c->framing = FRAME_LINE;
		else if (strcmp(str, "raw") == 0)
			c->framing = FRAME_RAW;
		else
			cfg_error(p, where, "'framing' must be \"line\" or "
			    "\"raw\", not \"%.100s\"", str);
	}
	cfg_get_bool(p, root, "close_after_reply", &c->close_after_reply);

	set_template(p, root, "greeting", &c->greeting);
	if (c->greeting != NULL && template_source(c->greeting)[0] == '\0') {
		template_free(c->greeting);
		c->greeting = NULL;
	}

	if ((s = config_setting_get_member(root, "rules")) != NULL)
		cfg_parse_rules(p, c, s);
	set_template(p, root, "default_reply", &c->default_reply);
	set_template(p, root, "too_long_reply", &c->too_long_reply);

	v = (long long)c->max_message_bytes;
	cfg_get_int(p, root, "max_message_bytes", 1, 16 * MIB, &v);
	c->max_message_bytes = (size_t)v;
	v = (long long)c->max_queued_bytes;
	cfg_get_int(p, root, "max_queued_bytes", 4096, 1024 * MIB, &v);
	c->max_queued_bytes = (size_t)v;
	v = (long long)c->shutdown_timeout_ms;
	cfg_get_int(p, root, "shutdown_timeout_ms", 0, 3600 * 1000, &v);
	c->shutdown_timeout_ms = (uint64_t)v;
	cfg_get_bool(p, root, "log_messages", &c->log_messages);
	v = (long long)c->log_message_bytes;
	cfg_get_int(p, root, "log_message_bytes", 0, 65536, &v);
	c->log_message_bytes = (size_t)v;
	parse_limits(p, c, root);

	if ((str = cfg_get_string(p, root, "log_target", &where)) != NULL) {
		if (strcmp(str, "auto") == 0)
			c->log_target = CONF_LOG_AUTO;
		else if (strcmp(str, "journal") == 0)
			c->log_target = CONF_LOG_JOURNAL;
		else if (strcmp(str, "stderr") == 0)
			c->log_target = CONF_LOG_STDERR;
		else
			cfg_error(p, where, "'log_target' must be \"auto\", "
			    "\"journal\" or \"stderr\", not \"%.100s\"", str);
	}
}

struct conf *
config_load(const char *path, config_report_fn report, void *arg,
    int *errnum)
{
	struct parser	 p = { path, report, arg, 0, NULL, 0 };
	struct conf	*c = NULL;
	config_t	 cf;
	struct stat	 st;
	FILE		*fp;
	char		*dir, *copy;

	if (errnum != NULL)
		*errnum = 0;
	if ((fp = fopen(path, "r")) == NULL) {
		if (errnum != NULL)
			*errnum = errno;
		cfg_error(&p, NULL, "%s", strerror(errno));
		flush_errors(&p);
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_error(&p, NULL, "not a regular file");
		flush_errors(&p);
		fclose(fp);
		return NULL;
	}

	config_init(&cf);
	config_set_options(&cf, 0);	/* no silent int/float conversion */
	if ((copy = strdup(path)) != NULL) {
		dir = dirname(copy);
		config_set_include_dir(&cf, dir);
	}
	if (config_read(&cf, fp) != CONFIG_TRUE) {
		char line[1024];

		snprintf(line, sizeof(line), "%s:%d: %s",
		    config_error_file(&cf) ? config_error_file(&cf) : path,
		    config_error_line(&cf), config_error_text(&cf));
		p.errors++;
		report(line, arg);
		goto out;
	}
	if ((c = conf_new(path)) == NULL) {
		cfg_error(&p, NULL, "out of memory");
		goto out;
	}
	parse_root(&p, c, config_root_setting(&cf));
	if (p.errors == 0 && c->nlisteners == 0 && set_default_listener(c) < 0)
		cfg_error(&p, NULL, "out of memory");
out:
	flush_errors(&p);
	config_destroy(&cf);
	free(copy);
	fclose(fp);
	if (p.errors > 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct conf *
config_default(void)
{
	struct conf	*c;

	if ((c = conf_new("(built-in defaults)")) == NULL)
		return NULL;
	if (set_default_listener(c) < 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

void
cfg_dump_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '"':	fputs("\\\"", fp); break;
		case '\\':	fputs("\\\\", fp); break;
		case '\n':	fputs("\\n", fp); break;
		case '\r':	fputs("\\r", fp); break;
		case '\t':	fputs("\\t", fp); break;
		case '\f':	fputs("\\f", fp); break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				fprintf(fp, "\\x%02x", ch);
			else
				fputc(ch, fp);
		}
	}
	fputc('"', fp);
}

static void
dump_nets(FILE *fp, const char *key, const struct rules_net *nets, size_t n)
{
	char	 addr[INET6_ADDRSTRLEN];
	size_t	 i;

	fprintf(fp, "%s = [", key);
	for (i = 0; i < n; i++) {
		inet_ntop(nets[i].family, nets[i].addr, addr, sizeof(addr));
		fprintf(fp, "%s\"%s/%u\"", i ? ", " : " ", addr,
		    nets[i].prefix);
	}
	fputs(n ? " ];\n" : "];\n", fp);
}

void
config_dump(const struct conf *c, FILE *fp)
{
	size_t	 i;

	fputs("listen = (\n", fp);
	for (i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];

		fputs("  { name = ", fp);
		cfg_dump_string(fp, l->name);
		if (l->sa.ss_family == AF_UNIX) {
			fputs("; protocol = \"unix\"; path = ", fp);
			cfg_dump_string(fp, l->path);
		} else {
			fprintf(fp, "; protocol = \"%s\"; address = ",
			    l->type == SOCK_DGRAM ? "udp" : "tcp");
			cfg_dump_string(fp, l->address);
			fprintf(fp, "; port = %u", l->port);
		}
		if (l->type == SOCK_STREAM)
			fprintf(fp, "; backlog = %d", l->backlog);
		if (l->sa.ss_family == AF_INET6)
			fprintf(fp, "; ipv6_only = %s",
			    l->ipv6_only ? "true" : "false");
		if (l->sa.ss_family != AF_UNIX)
			fprintf(fp, "; reuse_port = %s",
			    l->reuse_port ? "true" : "false");
		fprintf(fp, "; }%s\n", i + 1 < c->nlisteners ? "," : "");
	}
	fputs(");\n", fp);
	fprintf(fp, "framing = \"%s\";\n",
	    c->framing == FRAME_RAW ? "raw" : "line");
	fprintf(fp, "close_after_reply = %s;\n",
	    c->close_after_reply ? "true" : "false");
	fputs("greeting = ", fp);
	cfg_dump_string(fp, c->greeting ? template_source(c->greeting) : "");
	fputs(";\n", fp);
	cfg_dump_rules(c, fp);
	fputs("default_reply = ", fp);
	cfg_dump_string(fp, template_source(c->default_reply));
	fputs(";\ntoo_long_reply = ", fp);
	cfg_dump_string(fp, template_source(c->too_long_reply));
	fputs(";\n", fp);
	fprintf(fp, "max_message_bytes = %zu;\n", c->max_message_bytes);
	fprintf(fp, "max_queued_bytes = %zu;\n", c->max_queued_bytes);
	fprintf(fp, "shutdown_timeout_ms = %llu;\n",
	    (unsigned long long)c->shutdown_timeout_ms);
	fprintf(fp, "log_messages = %s;\n", c->log_messages ? "true" : "false");
	fprintf(fp, "log_message_bytes = %zu;\n", c->log_message_bytes);
	fprintf(fp, "log_target = \"%s\";\n",
	    c->log_target == CONF_LOG_JOURNAL ? "journal" :
	    c->log_target == CONF_LOG_STDERR ? "stderr" : "auto");
	fprintf(fp, "max_connections = %zu;\n", c->max_connections);
	fprintf(fp, "max_connections_per_source = %zu;\n",
	    c->max_connections_per_source);
	fputs("refuse_reply = ", fp);
	cfg_dump_string(fp, template_source(c->refuse_reply));
	fprintf(fp, ";\nidle_timeout_ms = %llu;\n",
	    (unsigned long long)c->idle_timeout_ms);
	fprintf(fp, "source_message_rate = %.0f;\n", c->source_message_rate);
	fprintf(fp, "source_message_burst = %.0f;\n",
	    c->source_message_burst);
	dump_nets(fp, "allow", c->allow, c->nallow);
	dump_nets(fp, "deny", c->deny, c->ndeny);
	if (c->user != NULL) {
		fputs("user = ", fp);
		cfg_dump_string(fp, c->user);
		fputs(";\n", fp);
	}
}

void
config_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->listeners);
	rules_free(c->rules);
	template_free(c->default_reply);
	template_free(c->too_long_reply);
	template_free(c->refuse_reply);
	free(c->allow);
	free(c->deny);
	free(c->user);
	template_free(c->greeting);
	free(c);
}
