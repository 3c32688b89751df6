/* SPDX-License-Identifier: ISC */
/* Loading a configuration: the file, its top level, defaults, freeing. */
#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "config.h"
#include "config-listen.h"
#include "config-rules.h"

#define MIB			(1024 * 1024)

static struct conf *
conf_new(const char *path)
{
	struct conf_service	*svc;
	struct conf		*c;
	char			 err[128];

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	svc = &c->service;
	svc->framing = FRAME_LINE;
	svc->max_message_bytes = 8192;
	svc->max_queued_bytes = 1 * MIB;
	c->shutdown_timeout_ms = 5000;
	c->max_connections = 10000;
	c->idle_timeout_ms = 300000;
	svc->log_messages = true;
	svc->log_message_bytes = 256;
	if ((c->path = strdup(path)) == NULL ||
	    (c->rules = rules_new()) == NULL ||
	    template_compile("%{message}", &svc->default_reply, err,
	    sizeof(err)) < 0 ||
	    template_compile("error: message longer than "
	    "%{max_message_bytes} bytes", &svc->too_long_reply, err,
	    sizeof(err)) < 0 ||
	    template_compile("error: too many connections", &svc->refuse_reply,
	    err, sizeof(err)) < 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

static void
parse_limits(struct parser *p, struct conf *c, const config_setting_t *root)
{
	struct conf_service	*svc = &c->service;
	const config_setting_t	*s, *where = NULL;
	struct addr_net		 nets[CFG_NETS_MAX];
	const char		*str;
	long long		 v;
	size_t			 n;

	v = (long long)c->max_connections;
	cfg_get_int(p, root, "max_connections", 1, 1000000, &v);
	c->max_connections = (size_t)v;
	v = (long long)svc->max_connections_per_source;
	cfg_get_int(p, root, "max_connections_per_source", 0, 1000000, &v);
	svc->max_connections_per_source = (size_t)v;
	cfg_get_template(p, root, "refuse_reply", &svc->refuse_reply);
	v = (long long)c->idle_timeout_ms;
	cfg_get_int(p, root, "idle_timeout_ms", 0, 86400 * 1000, &v);
	c->idle_timeout_ms = (uint64_t)v;
	v = 0;
	cfg_get_int(p, root, "source_message_rate", 0, 10000000, &v);
	svc->source_message_rate = (double)v;
	v = v > 0 ? v : 1;
	cfg_get_int(p, root, "source_message_burst", 1, 10000000, &v);
	svc->source_message_burst = (double)v;

	if ((s = config_setting_get_member(root, "allow")) != NULL &&
	    (n = cfg_get_nets(p, s, "allow", nets, CFG_NETS_MAX)) > 0) {
		if ((svc->acl.allow = calloc(n, sizeof(*svc->acl.allow))) == NULL)
			cfg_error(p, s, "out of memory");
		else {
			memcpy(svc->acl.allow, nets, n * sizeof(*nets));
			svc->acl.nallow = n;
		}
	}
	if ((s = config_setting_get_member(root, "deny")) != NULL &&
	    (n = cfg_get_nets(p, s, "deny", nets, CFG_NETS_MAX)) > 0) {
		if ((svc->acl.deny = calloc(n, sizeof(*svc->acl.deny))) == NULL)
			cfg_error(p, s, "out of memory");
		else {
			memcpy(svc->acl.deny, nets, n * sizeof(*nets));
			svc->acl.ndeny = n;
		}
	}
	if ((str = cfg_get_string(p, root, "user", &where)) != NULL) {
		/* cppcheck-suppress getpwnamCalled ; one thread */
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
	struct conf_service	*svc = &c->service;
	const config_setting_t	*s, *where = NULL;
	const char		*str;
	long long		 v;

	cfg_check_keys(p, root, known, "");

	if ((s = config_setting_get_member(root, "listen")) != NULL)
		cfg_parse_listeners(p, c, s);

	if ((str = cfg_get_string(p, root, "framing", &where)) != NULL) {
		if (strcmp(str, "line") == 0)
			svc->framing = FRAME_LINE;
		else if (strcmp(str, "raw") == 0)
			svc->framing = FRAME_RAW;
		else
			cfg_error(p, where, "'framing' must be \"line\" or "
			    "\"raw\", not \"%.100s\"", str);
	}
	cfg_get_bool(p, root, "close_after_reply", &svc->close_after_reply);

	cfg_get_template(p, root, "greeting", &svc->greeting);
	if (svc->greeting != NULL && template_source(svc->greeting)[0] == '\0') {
		template_free(svc->greeting);
		svc->greeting = NULL;
	}

	if ((s = config_setting_get_member(root, "rules")) != NULL)
		cfg_parse_rules(p, c, s);
	cfg_get_template(p, root, "default_reply", &svc->default_reply);
	cfg_get_template(p, root, "too_long_reply", &svc->too_long_reply);

	v = (long long)svc->max_message_bytes;
	cfg_get_int(p, root, "max_message_bytes", 1, 16 * MIB, &v);
	svc->max_message_bytes = (size_t)v;
	v = (long long)svc->max_queued_bytes;
	cfg_get_int(p, root, "max_queued_bytes", 4096, 1024 * MIB, &v);
	svc->max_queued_bytes = (size_t)v;
	v = (long long)c->shutdown_timeout_ms;
	cfg_get_int(p, root, "shutdown_timeout_ms", 0, 3600 * 1000, &v);
	c->shutdown_timeout_ms = (uint64_t)v;
	cfg_get_bool(p, root, "log_messages", &svc->log_messages);
	v = (long long)svc->log_message_bytes;
	cfg_get_int(p, root, "log_message_bytes", 0, 65536, &v);
	svc->log_message_bytes = (size_t)v;
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

/* Every listener serves with the top level's settings, for now. */
static void
link_services(struct conf *c)
{
	size_t	 i;

	for (i = 0; i < c->nlisteners; i++)
		c->listeners[i].service = &c->service;
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
		cfg_flush_errors(&p);
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_error(&p, NULL, "not a regular file");
		cfg_flush_errors(&p);
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
	if (p.errors == 0 && c->nlisteners == 0 && cfg_default_listener(c) < 0)
		cfg_error(&p, NULL, "out of memory");
	if (p.errors == 0)
		link_services(c);
out:
	cfg_flush_errors(&p);
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
	if (cfg_default_listener(c) < 0) {
		config_free(c);
		return NULL;
	}
	link_services(c);
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

static void
service_free(struct conf_service *svc)
{
	template_free(svc->greeting);
	template_free(svc->default_reply);
	template_free(svc->too_long_reply);
	template_free(svc->refuse_reply);
	addr_acl_free(&svc->acl);
}

void
config_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->listeners);
	rules_free(c->rules);
	service_free(&c->service);
	free(c->user);
	free(c);
}
