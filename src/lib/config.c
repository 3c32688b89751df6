/* SPDX-License-Identifier: ISC */
/* Loading a configuration: the file, its top level, defaults, freeing. */
#include <errno.h>
#include <libconfig.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cfg.h"
#include "config.h"
#include "config-listen.h"
#include "config-rules.h"
#include "config-service.h"
#include "config-source.h"

static struct conf *
conf_new(const char *path)
{
	struct conf	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->shutdown_timeout_ms = 5000;
	c->recorded_messages = 1000;
	c->recorded_bytes = 1024 * 1024;
	if (cfg_service_init(&c->service) < 0 ||
	    (c->path = strdup(path)) == NULL ||
	    (c->rules = rules_new()) == NULL) {
		config_free(c);
		return NULL;
	}
	c->max_connections = c->service.max_connections;
	return c;
}

/* The control socket and the messages it can show. */
static void
parse_control(struct parser *p, struct conf *c, const config_setting_t *root)
{
	const config_setting_t	*where = NULL;
	const char		*str;
	long long		 v;

	if ((str = cfg_get_string(p, root, "control_socket", &where)) != NULL) {
		if (strlen(str) >= CONF_PATH_MAX)
			cfg_error(p, where, "'control_socket': longer than %d "
			    "bytes", CONF_PATH_MAX - 1);
		else if ((c->control_socket = strdup(str)) == NULL)
			cfg_error(p, where, "out of memory");
	}
	if ((str = cfg_get_string(p, root, "control_group", &where)) != NULL) {
		/* cppcheck-suppress getgrnamCalled ; one thread */
		if (getgrnam(str) == NULL)
			cfg_error(p, where, "'control_group': no group "
			    "\"%.100s\" on this system", str);
		else if ((c->control_group = strdup(str)) == NULL)
			cfg_error(p, where, "out of memory");
	}
	v = (long long)c->recorded_messages;
	cfg_get_int(p, root, "recorded_messages", 0, 1000000, &v);
	c->recorded_messages = (size_t)v;
	v = (long long)c->recorded_bytes;
	cfg_get_int(p, root, "recorded_bytes", 4096, 1024 * 1024 * 1024, &v);
	c->recorded_bytes = (size_t)v;
	if ((str = cfg_get_string(p, root, "metrics_listen", &where)) != NULL) {
		if (addr_parse_hostport(str, &c->metrics_sa) < 0 ||
		    (c->metrics_sa.sa.sa_family == AF_INET ?
		    c->metrics_sa.in.sin_port : c->metrics_sa.in6.sin6_port) ==
		    0)
			cfg_error(p, where, "'metrics_listen' must be an "
			    "address and a port, such as \"127.0.0.1:9105\" "
			    "or \"[::1]:9105\", not \"%.100s\"", str);
		else if ((c->metrics_listen = strdup(str)) == NULL)
			cfg_error(p, where, "out of memory");
	}
}

static void
parse_root(struct parser *p, struct conf *c, const config_setting_t *root)
{
	static const char *const own[] = {
		"listen", "rules", "shutdown_timeout_ms", "user",
		"log_target", "seed", "control_socket", "control_group",
		"recorded_messages", "recorded_bytes", "metrics_listen", NULL
	};
	static const char *const targets[] = {
		"auto", "journal", "stderr", NULL
	};
	const char		*known[96];
	const config_setting_t	*s, *where = NULL;
	const char		*str;
	long long		 v;
	int			 choice;

	cfg_service_keys_with(own, known, sizeof(known) / sizeof(known[0]));
	cfg_check_keys(p, root, known, "");

	if ((s = config_setting_get_member(root, "listen")) != NULL)
		cfg_parse_listeners(p, c, s);
	if ((s = config_setting_get_member(root, "rules")) != NULL)
		cfg_parse_rules(p, c, s);
	cfg_parse_service(p, root, SOCK_STREAM, &c->service);
	/* the top level's max_connections is also the limit in all */
	c->max_connections = c->service.max_connections;

	v = (long long)c->shutdown_timeout_ms;
	cfg_get_int(p, root, "shutdown_timeout_ms", 0, 3600 * 1000, &v);
	c->shutdown_timeout_ms = (uint64_t)v;
	v = -1;
	cfg_get_int(p, root, "seed", 0, INT64_MAX, &v);
	c->seeded = v >= 0;
	c->seed = c->seeded ? (uint64_t)v : 0;
	if ((str = cfg_get_string(p, root, "user", &where)) != NULL) {
		/* cppcheck-suppress getpwnamCalled ; one thread */
		if (getpwnam(str) == NULL)
			cfg_error(p, where, "'user': no user \"%.100s\" on "
			    "this system", str);
		else if ((c->user = strdup(str)) == NULL)
			cfg_error(p, where, "out of memory");
	}
	if (cfg_get_choice(p, root, "log_target", targets, &choice))
		c->log_target = choice == 0 ? CONF_LOG_AUTO : choice == 1 ?
		    CONF_LOG_JOURNAL : CONF_LOG_STDERR;
	parse_control(p, c, root);
}

/* The group of listener i in the "listen" setting (a group or a list). */
static const config_setting_t *
listener_group(const config_setting_t *listen, size_t i)
{
	if (listen == NULL)
		return NULL;
	if (config_setting_type(listen) == CONFIG_TYPE_GROUP)
		return i == 0 ? listen : NULL;
	return config_setting_get_elem(listen, (unsigned)i);
}

/*
 * Each listener's service: the top level's, with the keys of its own group
 * over it (none for the default listener). Returns -ENOMEM.
 */
static int
link_services(struct parser *p, struct conf *c, const config_setting_t *listen)
{
	const config_setting_t	*g;
	size_t			 i;

	if ((c->services = calloc(c->nlisteners, sizeof(*c->services))) ==
	    NULL)
		return -ENOMEM;
	for (i = 0; i < c->nlisteners; i++) {
		if (cfg_service_copy(&c->services[i], &c->service) < 0) {
			while (i-- > 0)
				cfg_service_free(&c->services[i]);
			free(c->services);
			c->services = NULL;
			return -ENOMEM;
		}
		if (p != NULL && (g = listener_group(listen, i)) != NULL)
			cfg_parse_service(p, g, c->listeners[i].type,
			    &c->services[i]);
		c->listeners[i].service = &c->services[i];
	}
	return 0;
}

struct conf *
config_load(const char *path, config_report_fn report, void *arg,
    int *errnum)
{
	struct parser	 p = { path, report, arg, 0, NULL, 0, NULL };
	struct cfg_source src;
	struct conf	*c = NULL;
	config_t	 cf;
	struct stat	 st;
	FILE		*fp;
	const char	*file;
	unsigned int	 line;

	if (errnum != NULL)
		*errnum = 0;
	if ((fp = fopen(path, "r")) == NULL) {
		if (errnum != NULL)
			*errnum = errno;
		cfg_error(&p, NULL, "%s", strerror(errno));
		cfg_flush_errors(&p);
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_error(&p, NULL, "not a regular file");
		cfg_flush_errors(&p);
		fclose(fp);
		return NULL;
	}
	if (cfg_source_read(&src, &p, path, fp) < 0) {
		fclose(fp);
		cfg_source_free(&src);
		cfg_flush_errors(&p);
		return NULL;
	}
	fclose(fp);
	p.src = &src;

	config_init(&cf);
	config_set_options(&cf, 0);	/* no silent int/float conversion */
	/* no include directory: the text holds no @include */
	if (config_read_string(&cf, src.text) != CONFIG_TRUE) {
		if (!cfg_source_where(&src, config_error_line(&cf), &file,
		    &line)) {
			file = path;
			line = 0;
		}
		cfg_error_at(&p, file, line, config_error_line(&cf), "%s",
		    config_error_text(&cf));
		goto out;
	}
	if ((c = conf_new(path)) == NULL) {
		cfg_error(&p, NULL, "out of memory");
		goto out;
	}
	parse_root(&p, c, config_root_setting(&cf));
	if (p.errors == 0 && c->nlisteners == 0 && cfg_default_listener(c) < 0)
		cfg_error(&p, NULL, "out of memory");
	/* even after errors: those in the listeners' own keys are reported */
	if (c->nlisteners > 0 && link_services(&p, c,
	    config_setting_get_member(config_root_setting(&cf), "listen")) < 0)
		cfg_error(&p, NULL, "out of memory");
out:
	cfg_flush_errors(&p);
	config_destroy(&cf);
	if (c != NULL) {	/* where its settings were read, for later */
		c->files = src.files;
		c->nfiles = src.nfiles;
		src.files = NULL;
		src.nfiles = 0;
	}
	cfg_source_free(&src);
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
	if (cfg_default_listener(c) < 0 || link_services(NULL, c, NULL) < 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

const struct conf_service *
config_service(const struct conf *c, const char *listener)
{
	size_t	 i;

	for (i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, listener) == 0)
			return c->listeners[i].service;
	return &c->service;
}

void
config_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	free(c->path);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	if (c->services != NULL)
		for (i = 0; i < c->nlisteners; i++)
			cfg_service_free(&c->services[i]);
	free(c->services);
	free(c->listeners);
	rules_free(c->rules);
	cfg_service_free(&c->service);
	free(c->user);
	free(c->control_socket);
	free(c->control_group);
	free(c->metrics_listen);
	free(c);
}
