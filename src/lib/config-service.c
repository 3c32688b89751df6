/* SPDX-License-Identifier: ISC */
/* A service's keys: framing, replies, limits, access and logging. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config-service.h"
#include "hex.h"
#include "proxy.h"

#define MIB			(1024 * 1024)

const char *const cfg_service_keys[] = {
	"framing", "delimiter", "delimiter_hex", "length_bytes",
	"length_endian", "length_counts_prefix", "fixed_bytes",
	"line_flush_ms", "line_flush_end", "message_timeout_ms",
	"close_after_reply", "greeting", "default_reply",
	"too_long_reply", "refuse_reply", "max_message_bytes",
	"max_queued_bytes", "max_connections", "max_connections_per_source",
	"idle_timeout_ms", "source_message_rate", "source_message_burst",
	"max_sources", "allow", "deny", "proxy_protocol", "proxy_networks",
	"proxy_timeout_ms", "log_messages", "log_message_bytes",
	"open_delay_ms", "accept_close_probability",
	"accept_reset_probability", "close_after_messages",
	"bandwidth_bytes_per_second", "operator", "operator_timeout_ms", NULL
};

/* What a datagram listener has no use for: it has no connections. */
static const char *const stream_only[] = {
	"framing", "delimiter", "delimiter_hex", "length_bytes",
	"length_endian", "length_counts_prefix", "fixed_bytes",
	"line_flush_ms", "line_flush_end", "message_timeout_ms",
	"close_after_reply", "greeting", "refuse_reply",
	"max_queued_bytes", "max_connections", "max_connections_per_source",
	"idle_timeout_ms", "proxy_protocol", "proxy_networks",
	"proxy_timeout_ms", "open_delay_ms", "accept_close_probability",
	"accept_reset_probability", "close_after_messages",
	"bandwidth_bytes_per_second", "operator", "operator_timeout_ms", NULL
};

void
cfg_service_keys_with(const char *const *own, const char **out, size_t max)
{
	size_t	 n = 0, i;

	for (i = 0; own[i] != NULL && n + 1 < max; i++)
		out[n++] = own[i];
	for (i = 0; cfg_service_keys[i] != NULL && n + 1 < max; i++)
		out[n++] = cfg_service_keys[i];
	for (i = 0; cfg_tls_keys[i] != NULL && n + 1 < max; i++)
		out[n++] = cfg_tls_keys[i];
	out[n] = NULL;
}

int
cfg_service_init(struct conf_service *svc)
{
	char	 err[128];

	memset(svc, 0, sizeof(*svc));
	svc->framing.mode = FRAME_LINE;
	svc->framing.prefix_bytes = 4;
	svc->framing.big_endian = true;
	if ((svc->line_flush_end = strdup("")) == NULL)
		return -ENOMEM;
	svc->max_message_bytes = 8192;
	svc->max_queued_bytes = 1 * MIB;
	svc->max_connections = 10000;
	svc->idle_timeout_ms = 300000;
	svc->message_timeout_ms = 60000;
	svc->operator_timeout_ms = 60000;
	svc->source_message_burst = 1;
	svc->max_sources = 65536;
	svc->log_messages = true;
	svc->log_message_bytes = 256;
	cfg_tls_init(&svc->tls);
	/* a balancer on this host may tell who its clients are */
	svc->proxy_timeout_ms = 3000;
	if ((svc->proxy_acl.allow = calloc(2, sizeof(struct addr_net))) ==
	    NULL || addr_net_parse("127.0.0.0/8", &svc->proxy_acl.allow[0]) < 0 ||
	    addr_net_parse("::1", &svc->proxy_acl.allow[1]) < 0) {
		cfg_service_free(svc);
		return -ENOMEM;
	}
	svc->proxy_acl.nallow = 2;
	if (template_compile("%{message}", &svc->default_reply, err,
	    sizeof(err)) < 0 ||
	    template_compile("error: message longer than "
	    "%{max_message_bytes} bytes", &svc->too_long_reply, err,
	    sizeof(err)) < 0 ||
	    template_compile("error: too many connections", &svc->refuse_reply,
	    err, sizeof(err)) < 0) {
		cfg_service_free(svc);
		return -ENOMEM;
	}
	return 0;
}

static int
copy_template(struct template **dst, const struct template *src)
{
	*dst = NULL;
	return src == NULL ? 0 : template_copy(src, dst);
}

static int
copy_nets(struct addr_net **dst, const struct addr_net *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(**dst))) == NULL)
		return -ENOMEM;
	memcpy(*dst, src, n * sizeof(**dst));
	return 0;
}

int
cfg_service_copy(struct conf_service *dst, const struct conf_service *src)
{
	*dst = *src;
	/* nothing of src's own, so that a failure frees only copies */
	dst->line_flush_end = NULL;
	dst->greeting = dst->default_reply = NULL;
	dst->too_long_reply = dst->refuse_reply = NULL;
	dst->acl.allow = dst->acl.deny = NULL;
	dst->proxy_acl.allow = dst->proxy_acl.deny = NULL;
	memset(&dst->tls, 0, sizeof(dst->tls));
	if ((dst->line_flush_end = strdup(src->line_flush_end)) == NULL ||
	    copy_template(&dst->greeting, src->greeting) < 0 ||
	    copy_template(&dst->default_reply, src->default_reply) < 0 ||
	    copy_template(&dst->too_long_reply, src->too_long_reply) < 0 ||
	    copy_template(&dst->refuse_reply, src->refuse_reply) < 0 ||
	    copy_nets(&dst->acl.allow, src->acl.allow, src->acl.nallow) < 0 ||
	    copy_nets(&dst->acl.deny, src->acl.deny, src->acl.ndeny) < 0 ||
	    copy_nets(&dst->proxy_acl.allow, src->proxy_acl.allow,
	    src->proxy_acl.nallow) < 0 ||
	    cfg_tls_copy(&dst->tls, &src->tls) < 0) {
		cfg_service_free(dst);
		return -ENOMEM;
	}
	return 0;
}

/* A list of networks in key, replacing what *nets holds when present. */
static void
get_nets(struct parser *p, const config_setting_t *group, const char *key,
    struct addr_net **nets, size_t *count)
{
	struct addr_net		 v[CFG_NETS_MAX];
	const config_setting_t	*s;
	struct addr_net		*nv = NULL;
	size_t			 n;

	if ((s = config_setting_get_member(group, key)) == NULL)
		return;
	n = cfg_get_nets(p, s, key, v, CFG_NETS_MAX);
	if (n > 0 && (nv = calloc(n, sizeof(*nv))) == NULL) {
		cfg_error(p, s, "out of memory");
		return;
	}
	if (n > 0)
		memcpy(nv, v, n * sizeof(*nv));
	free(*nets);
	*nets = nv;
	*count = n;
}

/* framing and the keys that say how its messages end. */
static void
parse_framing(struct parser *p, const config_setting_t *group,
    struct frame_spec *f)
{
	static const char *const modes[] = {
		[FRAME_LINE] = "line", [FRAME_RAW] = "raw",
		[FRAME_DELIMITER] = "delimiter", [FRAME_LENGTH] = "length",
		[FRAME_FIXED] = "fixed", NULL
	};
	static const char *const endians[] = { "big", "little", NULL };
	const config_setting_t	*where = NULL, *hex = NULL;
	const char		*str;
	long long		 v;
	ssize_t			 n;
	int			 choice;

	if (cfg_get_choice(p, group, "framing", modes, &choice))
		f->mode = (enum frame_mode)choice;
	if ((str = cfg_get_string(p, group, "delimiter", &where)) != NULL) {
		if (str[0] == '\0' || strlen(str) > FRAME_DELIM_MAX)
			cfg_error(p, where, "'delimiter' must be 1 to %d bytes",
			    FRAME_DELIM_MAX);
		else {
			f->delim_len = strlen(str);
			memcpy(f->delim, str, f->delim_len);
		}
	}
	if ((str = cfg_get_string(p, group, "delimiter_hex", &hex)) != NULL) {
		if (where != NULL)
			cfg_error(p, hex, "'delimiter_hex' and 'delimiter' "
			    "say the same thing: give one");
		else if ((n = hex_decode(str, f->delim, FRAME_DELIM_MAX)) <= 0)
			cfg_error(p, hex, "'delimiter_hex' must be 1 to %d "
			    "bytes in hex digits (\"00\", \"0d0a\"), not "
			    "\"%.100s\"", FRAME_DELIM_MAX, str);
		else
			f->delim_len = (size_t)n;
	}
	v = f->prefix_bytes;
	if ((where = config_setting_get_member(group, "length_bytes")) !=
	    NULL) {
		cfg_get_int(p, group, "length_bytes", 1, 8, &v);
		if (v != 1 && v != 2 && v != 4 && v != 8)
			cfg_error(p, where, "'length_bytes' must be 1, 2, 4 "
			    "or 8, not %lld", v);
		else
			f->prefix_bytes = (unsigned int)v;
	}
	if (cfg_get_choice(p, group, "length_endian", endians, &choice))
		f->big_endian = choice == 0;
	cfg_get_bool(p, group, "length_counts_prefix", &f->prefix_counted);
	v = (long long)f->fixed;
	cfg_get_int(p, group, "fixed_bytes", 1, FRAME_FIXED_MAX, &v);
	f->fixed = (size_t)v;
}

/* The listener's connection faults. */
static void
parse_faults(struct parser *p, const config_setting_t *group, int type,
    struct conf_service *svc)
{
	const config_setting_t *where;
	long long	 lo = (long long)svc->open_delay_ms;
	long long	 hi = (long long)svc->open_delay_max_ms;
	long long	 v;

	cfg_get_range(p, group, "open_delay_ms", 0, 3600 * 1000, &lo, &hi);
	svc->open_delay_ms = (uint64_t)lo;
	svc->open_delay_max_ms = (uint64_t)hi;
	cfg_get_fraction(p, group, "accept_close_probability",
	    &svc->accept_close_probability);
	cfg_get_fraction(p, group, "accept_reset_probability",
	    &svc->accept_reset_probability);
	v = (long long)svc->close_after_messages;
	cfg_get_int(p, group, "close_after_messages", 0, UINT32_MAX, &v);
	svc->close_after_messages = (uint64_t)v;
	v = (long long)svc->bandwidth;
	cfg_get_int(p, group, "bandwidth_bytes_per_second", 0,
	    1024 * 1024 * 1024, &v);
	svc->bandwidth = (uint64_t)v;
	/* where this group sets one: else both are the top level's */
	if ((where = config_setting_get_member(group,
	    "accept_reset_probability")) == NULL)
		where = config_setting_get_member(group,
		    "accept_close_probability");
	if (where != NULL && type != SOCK_DGRAM &&
	    svc->accept_close_probability + svc->accept_reset_probability >
	    1 + 1e-9)
		cfg_error(p, where, "accept_close_probability (%g) and "
		    "accept_reset_probability (%g) add up to more than 1",
		    svc->accept_close_probability,
		    svc->accept_reset_probability);
}

/*
 * What a service's keys must say together, once all are read (a listener
 * may take its framing from the top level and its limit from its own).
 */
static void
check_service(struct parser *p, const config_setting_t *group,
    const struct conf_service *svc)
{
	const struct frame_spec	*f = &svc->framing;
	const config_setting_t	*where;

	if ((where = config_setting_get_member(group, "framing")) == NULL)
		where = group;
	if (f->mode == FRAME_DELIMITER && f->delim_len == 0 &&
	    config_setting_get_member(group, "delimiter") == NULL &&
	    config_setting_get_member(group, "delimiter_hex") == NULL)
		cfg_error(p, where, "framing \"delimiter\" needs 'delimiter' "
		    "or 'delimiter_hex'");
	if (f->mode == FRAME_FIXED && f->fixed == 0)
		cfg_error(p, where, "framing \"fixed\" needs 'fixed_bytes'");
	else if (f->mode == FRAME_FIXED && f->fixed > svc->max_message_bytes)
		cfg_error(p, where, "'fixed_bytes' (%zu) is more than "
		    "max_message_bytes (%zu)", f->fixed,
		    svc->max_message_bytes);
}

void
cfg_parse_service(struct parser *p, const config_setting_t *group, int type,
    struct conf_service *svc)
{
	static const char *const proxies[] = { "off", "v1", "v2", "any", NULL };
	const config_setting_t	*where = NULL;
	const char		*str;
	long long		 v;
	size_t			 i;
	int			 choice;
	bool			 rate_set;

	if (type == SOCK_DGRAM) {
		for (i = 0; stream_only[i] != NULL; i++)
			cfg_not_for(p, group, stream_only[i], "udp listeners");
		for (i = 0; cfg_tls_keys[i] != NULL; i++)
			cfg_not_for(p, group, cfg_tls_keys[i], "udp listeners");
	}

	parse_framing(p, group, &svc->framing);
	v = (long long)svc->line_flush_ms;
	cfg_get_int(p, group, "line_flush_ms", 0, 3600 * 1000, &v);
	svc->line_flush_ms = (uint64_t)v;
	if ((str = cfg_get_string(p, group, "line_flush_end", &where)) !=
	    NULL) {
		char *s = strdup(str);

		if (s == NULL)
			cfg_error(p, where, "out of memory");
		else {
			free(svc->line_flush_end);
			svc->line_flush_end = s;
		}
	}
	cfg_get_bool(p, group, "close_after_reply", &svc->close_after_reply);
	cfg_get_bool(p, group, "operator", &svc->operator);
	v = (long long)svc->operator_timeout_ms;
	cfg_get_int(p, group, "operator_timeout_ms", 1, 3600 * 1000, &v);
	svc->operator_timeout_ms = (uint64_t)v;
	cfg_get_template(p, group, "greeting", &svc->greeting);
	if (svc->greeting != NULL && template_source(svc->greeting)[0] == '\0') {
		template_free(svc->greeting);
		svc->greeting = NULL;
	}
	cfg_get_template(p, group, "default_reply", &svc->default_reply);
	cfg_get_template(p, group, "too_long_reply", &svc->too_long_reply);
	cfg_get_template(p, group, "refuse_reply", &svc->refuse_reply);

	v = (long long)svc->max_message_bytes;
	cfg_get_int(p, group, "max_message_bytes", 1, 16 * MIB, &v);
	svc->max_message_bytes = (size_t)v;
	v = (long long)svc->max_queued_bytes;
	cfg_get_int(p, group, "max_queued_bytes", 4096, 1024 * MIB, &v);
	svc->max_queued_bytes = (size_t)v;
	v = (long long)svc->max_connections;
	cfg_get_int(p, group, "max_connections", 1, 1000000, &v);
	svc->max_connections = (size_t)v;
	v = (long long)svc->max_connections_per_source;
	cfg_get_int(p, group, "max_connections_per_source", 0, 1000000, &v);
	svc->max_connections_per_source = (size_t)v;
	v = (long long)svc->idle_timeout_ms;
	cfg_get_int(p, group, "idle_timeout_ms", 0, 86400 * 1000, &v);
	svc->idle_timeout_ms = (uint64_t)v;
	v = (long long)svc->message_timeout_ms;
	cfg_get_int(p, group, "message_timeout_ms", 0, 86400 * 1000, &v);
	svc->message_timeout_ms = (uint64_t)v;

	/* a rate alone brings its own burst: one second's worth */
	rate_set = config_setting_get_member(group, "source_message_rate") !=
	    NULL;
	v = (long long)svc->source_message_rate;
	cfg_get_int(p, group, "source_message_rate", 0, 10000000, &v);
	svc->source_message_rate = (double)v;
	if (rate_set)
		svc->source_message_burst = v > 0 ? (double)v : 1;
	v = (long long)svc->source_message_burst;
	cfg_get_int(p, group, "source_message_burst", 1, 10000000, &v);
	svc->source_message_burst = (double)v;
	v = (long long)svc->max_sources;
	cfg_get_int(p, group, "max_sources", 1, 10000000, &v);
	svc->max_sources = (size_t)v;

	get_nets(p, group, "allow", &svc->acl.allow, &svc->acl.nallow);
	get_nets(p, group, "deny", &svc->acl.deny, &svc->acl.ndeny);
	if (cfg_get_choice(p, group, "proxy_protocol", proxies, &choice))
		svc->proxy_versions = choice == 0 ? 0 : choice == 1 ? PROXY_V1 :
		    choice == 2 ? PROXY_V2 : PROXY_V1 | PROXY_V2;
	get_nets(p, group, "proxy_networks", &svc->proxy_acl.allow,
	    &svc->proxy_acl.nallow);
	v = (long long)svc->proxy_timeout_ms;
	cfg_get_int(p, group, "proxy_timeout_ms", 1, 600 * 1000, &v);
	svc->proxy_timeout_ms = (uint64_t)v;

	parse_faults(p, group, type, svc);
	cfg_get_bool(p, group, "log_messages", &svc->log_messages);
	v = (long long)svc->log_message_bytes;
	cfg_get_int(p, group, "log_message_bytes", 0, 65536, &v);
	svc->log_message_bytes = (size_t)v;
	if (type != SOCK_DGRAM)
		cfg_parse_tls(p, group, !config_setting_is_root(group),
		    &svc->tls);
	check_service(p, group, svc);
}

void
cfg_service_free(struct conf_service *svc)
{
	free(svc->line_flush_end);
	template_free(svc->greeting);
	template_free(svc->default_reply);
	template_free(svc->too_long_reply);
	template_free(svc->refuse_reply);
	addr_acl_free(&svc->acl);
	addr_acl_free(&svc->proxy_acl);
	cfg_tls_free(&svc->tls);
	memset(svc, 0, sizeof(*svc));
}
