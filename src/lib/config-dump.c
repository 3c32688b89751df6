/* SPDX-License-Identifier: ISC */
/* echoreplyd -n -v: the configuration in its own syntax, defaults filled. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "config.h"
#include "proxy.h"
#include "rules.h"
#include "template.h"

static void
dump_string(FILE *fp, const char *s)
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
dump_nets(FILE *fp, const struct addr_net *nets, size_t n, const char *end)
{
	char	 net[ADDR_NET_MAX];
	size_t	 i;

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		addr_net_format(&nets[i], net, sizeof(net));
		fprintf(fp, "%s\"%s\"", i ? ", " : " ", net);
	}
	fputs(n ? " ]" : "]", fp);
	fputs(end, fp);
}

static void
dump_hex(FILE *fp, const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		fprintf(fp, "%02x", b[i]);
}

static void
dump_list(FILE *fp, const char *key, char *const *v, size_t n)
{
	size_t	 i;

	fprintf(fp, " %s = [ ", key);
	for (i = 0; i < n; i++) {
		dump_string(fp, v[i]);
		fputs(i + 1 < n ? ", " : " ];", fp);
	}
}

/* A probability, as a float: "0.25", "0.0" (libconfig wants the point). */
static void
dump_fraction(FILE *fp, double v)
{
	char	 b[32];

	snprintf(b, sizeof(b), "%.15g", v);
	fprintf(fp, "%s%s", b, strpbrk(b, ".e") == NULL ? ".0" : "");
}

/* A rule's part in a scenario, where it has one. */
static void
dump_scenario(FILE *fp, const struct rules *rs, const struct rules_rule *r)
{
	size_t	 j;

	if (r->nstates > 0) {
		fputs(" state = [ ", fp);
		for (j = 0; j < r->nstates; j++) {
			dump_string(fp, rules_state_name(rs, r->states[j]));
			fputs(j + 1 < r->nstates ? ", " : " ];", fp);
		}
	}
	if (r->next_state != RULES_STATE_NONE) {
		fputs(" next_state = ", fp);
		dump_string(fp, rules_state_name(rs, r->next_state));
		fputc(';', fp);
	}
	if (r->times > 0)
		fprintf(fp, " times = %u;", r->times);
	if (r->reset_counts)
		fputs(" reset_counts = true;", fp);
	if (r->probability < 1) {
		fputs(" probability = ", fp);
		dump_fraction(fp, r->probability);
		fputc(';', fp);
	}
}

/* What a rule does to its reply, where it does anything. */
static void
dump_fault(FILE *fp, const struct rules_fault *f)
{
	if (f->reset)
		fputs(" reset = true;", fp);
	if (f->half_close)
		fputs(" half_close = true;", fp);
	if (f->hang)
		fputs(" hang = true;", fp);
	if (f->hang_writes)
		fputs(" hang_writes = true;", fp);
	if (f->garbage > 0)
		fprintf(fp, " garbage = %zu;", f->garbage);
	if (f->truncates)
		fprintf(fp, " truncate = %zu;", f->truncate);
	if (f->keep_open)
		fputs(" keep_open = true;", fp);
	if (f->duplicate > 0)
		fprintf(fp, " duplicate = %u;", f->duplicate);
	if (f->chunk_bytes > 0)
		fprintf(fp, " chunk_bytes = %u; chunk_interval_ms = %llu;",
		    f->chunk_bytes, (unsigned long long)f->chunk_interval_ms);
	if (f->bandwidth > 0)
		fprintf(fp, " bandwidth_bytes_per_second = %llu;",
		    (unsigned long long)f->bandwidth);
}

static void
dump_rules(const struct conf *c, FILE *fp)
{
	const struct rules_rule	*r;
	char			 net[ADDR_NET_MAX];
	size_t			 i, j, n = rules_count(c->rules);

	if (n == 0) {
		fputs("rules = ( );\n", fp);
		return;
	}
	fputs("rules = (\n", fp);
	for (i = 0; i < n; i++) {
		r = rules_get(c->rules, i);
		fputs("  {", fp);
		if (r->name != NULL) {
			fputs(" name = ", fp);
			dump_string(fp, r->name);
			fputc(';', fp);
		}
		if (r->kind != RULES_ANY &&
		    memchr(r->pattern, '\0', r->pattern_len) != NULL) {
			/* a string cannot hold a NUL: in hex */
			fprintf(fp, " %s_hex = \"", rules_kind_name(r->kind));
			dump_hex(fp, r->pattern, r->pattern_len);
			fprintf(fp, "\"; ignore_case = %s;",
			    r->ignore_case ? "true" : "false");
		} else if (r->kind != RULES_ANY) {
			fprintf(fp, " %s = ", rules_kind_name(r->kind));
			dump_string(fp, r->pattern);
			fprintf(fp, "; ignore_case = %s;",
			    r->ignore_case ? "true" : "false");
		}
		if (r->nlisteners > 0)
			dump_list(fp, "listener", r->listeners,
			    r->nlisteners);
		if (r->nsnis > 0)
			dump_list(fp, "sni", r->snis, r->nsnis);
		if (r->nnets > 0) {
			fputs(" networks = [ ", fp);
			for (j = 0; j < r->nnets; j++) {
				addr_net_format(&r->nets[j], net, sizeof(net));
				fprintf(fp, "\"%s\"%s", net,
				    j + 1 < r->nnets ? ", " : " ];");
			}
		}
		if (r->nreplies == 0)
			fputs(" no_reply = true;", fp);
		else if (r->nreplies == 1 &&
		    template_is_literal(r->replies[0]))
			fprintf(fp, " reply_hex = \"%s\";",
			    template_source(r->replies[0]));
		else if (r->nreplies == 1) {
			fputs(" reply = ", fp);
			dump_string(fp, template_source(r->replies[0]));
			fputc(';', fp);
		} else {
			fputs(" replies = [ ", fp);
			for (j = 0; j < r->nreplies; j++) {
				dump_string(fp,
				    template_source(r->replies[j]));
				fputs(j + 1 < r->nreplies ? ", " : " ];", fp);
			}
		}
		fprintf(fp, " close = %s;", r->close ? "true" : "false");
		if (r->operator)
			fputs(" operator = true;", fp);
		if (r->delay_max_ms > r->delay_ms)
			fprintf(fp, " delay_ms = [ %llu, %llu ];",
			    (unsigned long long)r->delay_ms,
			    (unsigned long long)r->delay_max_ms);
		else
			fprintf(fp, " delay_ms = %llu;",
			    (unsigned long long)r->delay_ms);
		dump_scenario(fp, c->rules, r);
		dump_fault(fp, &r->fault);
		fprintf(fp, " }%s\n", i + 1 < n ? "," : "");
	}
	fputs(");\n", fp);
}

/* How the keys of a service are laid out: at the top level or in a group. */
struct layout {
	const char	*pre;	/* before each key */
	const char	*post;	/* after each value */
};

static void
key(FILE *fp, const struct layout *lay, const char *name)
{
	fprintf(fp, "%s%s = ", lay->pre, name);
}

static void
key_template(FILE *fp, const struct layout *lay, const char *name,
    const struct template *t)
{
	key(fp, lay, name);
	dump_string(fp, t != NULL ? template_source(t) : "");
	fputs(lay->post, fp);
}

/* libconfig 1.5 reads an integer past 32 bits without its L wrapped */
static const char *
int64_suffix(unsigned long long v)
{
	return v > INT32_MAX ? "L" : "";
}

static void
key_size(FILE *fp, const struct layout *lay, const char *name,
    unsigned long long v)
{
	key(fp, lay, name);
	fprintf(fp, "%llu%s%s", v, int64_suffix(v), lay->post);
}

static void
key_bool(FILE *fp, const struct layout *lay, const char *name, bool v)
{
	key(fp, lay, name);
	fprintf(fp, "%s%s", v ? "true" : "false", lay->post);
}

/* framing, and the keys of that framing only. */
static void
dump_framing(FILE *fp, const struct frame_spec *f, const struct layout *lay)
{
	key(fp, lay, "framing");
	fprintf(fp, "\"%s\"%s", frame_mode_name(f->mode), lay->post);
	switch (f->mode) {
	case FRAME_DELIMITER:
		/* in hex: a delimiter may hold any byte, a NUL too */
		key(fp, lay, "delimiter_hex");
		fputc('"', fp);
		dump_hex(fp, f->delim, f->delim_len);
		fprintf(fp, "\"%s", lay->post);
		break;
	case FRAME_LENGTH:
		key_size(fp, lay, "length_bytes", f->prefix_bytes);
		key(fp, lay, "length_endian");
		fprintf(fp, "\"%s\"%s", f->big_endian ? "big" : "little",
		    lay->post);
		key_bool(fp, lay, "length_counts_prefix", f->prefix_counted);
		break;
	case FRAME_FIXED:
		key_size(fp, lay, "fixed_bytes", f->fixed);
		break;
	default:
		break;
	}
}

/* The keys of a service; a UDP listener's only those it takes. */
static void
key_string(FILE *fp, const struct layout *lay, const char *name,
    const char *v)
{
	if (v == NULL)
		return;
	key(fp, lay, name);
	dump_string(fp, v);
	fputs(lay->post, fp);
}

/* tls, and the rest only where it is on. */
static void
dump_tls(FILE *fp, const struct conf_tls *t, const struct layout *lay)
{
	static const char *const verifies[] = { "none", "optional", "require" };
	size_t	 i;

	key_bool(fp, lay, "tls", t->on);
	if (!t->on)
		return;
	if (t->self_signed)
		key_bool(fp, lay, "tls_self_signed", true);
	key_string(fp, lay, "tls_certificate", t->certificate);
	key_string(fp, lay, "tls_key", t->key);
	key_string(fp, lay, "tls_client_ca", t->client_ca);
	key(fp, lay, "tls_verify_client");
	fprintf(fp, "\"%s\"%s", verifies[t->verify_client], lay->post);
	key(fp, lay, "tls_min_version");
	fprintf(fp, "\"1.%u\"%s", t->min_version - 10, lay->post);
	key_string(fp, lay, "tls_ciphers", t->ciphers);
	key_string(fp, lay, "tls_ciphersuites", t->ciphersuites);
	if (t->nalpn > 0) {
		key(fp, lay, "tls_alpn");
		fputs("[ ", fp);
		for (i = 0; i < t->nalpn; i++) {
			dump_string(fp, t->alpn[i]);
			fputs(i + 1 < t->nalpn ? ", " : " ]", fp);
		}
		fputs(lay->post, fp);
	}
	key_bool(fp, lay, "tls_session_tickets", t->session_tickets);
	key_size(fp, lay, "tls_handshake_timeout_ms", t->handshake_timeout_ms);
}

/* A listener's connection faults (a float with its point, as it reads). */
static void
dump_conn_faults(FILE *fp, const struct conf_service *svc,
    const struct layout *lay)
{
	if (svc->open_delay_max_ms > svc->open_delay_ms) {
		key(fp, lay, "open_delay_ms");
		fprintf(fp, "[ %llu, %llu ]%s",
		    (unsigned long long)svc->open_delay_ms,
		    (unsigned long long)svc->open_delay_max_ms, lay->post);
	} else
		key_size(fp, lay, "open_delay_ms", svc->open_delay_ms);
	key(fp, lay, "accept_close_probability");
	dump_fraction(fp, svc->accept_close_probability);
	fputs(lay->post, fp);
	key(fp, lay, "accept_reset_probability");
	dump_fraction(fp, svc->accept_reset_probability);
	fputs(lay->post, fp);
	key_size(fp, lay, "close_after_messages", svc->close_after_messages);
	key_size(fp, lay, "bandwidth_bytes_per_second", svc->bandwidth);
}

static void
dump_service(FILE *fp, const struct conf_service *svc, bool stream,
    const struct layout *lay)
{
	if (stream) {
		dump_framing(fp, &svc->framing, lay);
		key_size(fp, lay, "line_flush_ms", svc->line_flush_ms);
		key(fp, lay, "line_flush_end");
		dump_string(fp, svc->line_flush_end);
		fputs(lay->post, fp);
		key_bool(fp, lay, "close_after_reply", svc->close_after_reply);
		key_bool(fp, lay, "operator", svc->operator);
		key_size(fp, lay, "operator_timeout_ms",
		    svc->operator_timeout_ms);
		key_template(fp, lay, "greeting", svc->greeting);
	}
	key_template(fp, lay, "default_reply", svc->default_reply);
	key_template(fp, lay, "too_long_reply", svc->too_long_reply);
	key_size(fp, lay, "max_message_bytes", svc->max_message_bytes);
	if (stream) {
		key_size(fp, lay, "max_queued_bytes", svc->max_queued_bytes);
		key_size(fp, lay, "max_connections", svc->max_connections);
		key_size(fp, lay, "max_connections_per_source",
		    svc->max_connections_per_source);
		key_template(fp, lay, "refuse_reply", svc->refuse_reply);
		key_size(fp, lay, "idle_timeout_ms", svc->idle_timeout_ms);
		key_size(fp, lay, "message_timeout_ms",
		    svc->message_timeout_ms);
	}
	key_size(fp, lay, "source_message_rate",
	    (unsigned long long)svc->source_message_rate);
	key_size(fp, lay, "source_message_burst",
	    (unsigned long long)svc->source_message_burst);
	key_size(fp, lay, "max_sources", svc->max_sources);
	key(fp, lay, "allow");
	dump_nets(fp, svc->acl.allow, svc->acl.nallow, lay->post);
	key(fp, lay, "deny");
	dump_nets(fp, svc->acl.deny, svc->acl.ndeny, lay->post);
	if (stream) {
		key(fp, lay, "proxy_protocol");
		fprintf(fp, "\"%s\"%s", proxy_versions_name(svc->proxy_versions),
		    lay->post);
		key(fp, lay, "proxy_networks");
		dump_nets(fp, svc->proxy_acl.allow, svc->proxy_acl.nallow,
		    lay->post);
		key_size(fp, lay, "proxy_timeout_ms", svc->proxy_timeout_ms);
		dump_tls(fp, &svc->tls, lay);
		dump_conn_faults(fp, svc, lay);
	}
	key_bool(fp, lay, "log_messages", svc->log_messages);
	key_size(fp, lay, "log_message_bytes", svc->log_message_bytes);
}

void
config_dump(const struct conf *c, FILE *fp)
{
	static const struct layout top = { "", ";\n" }, inner = { "\n    ", ";" };
	size_t	 i;

	fputs("listen = (\n", fp);
	for (i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];

		fputs("  { name = ", fp);
		dump_string(fp, l->name);
		if (l->sa.ss_family == AF_UNIX) {
			fputs("; protocol = \"unix\"; path = ", fp);
			dump_string(fp, l->path);
		} else {
			fprintf(fp, "; protocol = \"%s\"; address = ",
			    l->type == SOCK_DGRAM ? "udp" : "tcp");
			dump_string(fp, l->address);
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
		/* what it serves, resolved: its own keys and the top level's */
		fputc(';', fp);
		dump_service(fp, l->service, l->type == SOCK_STREAM, &inner);
		fprintf(fp, " }%s\n", i + 1 < c->nlisteners ? "," : "");
	}
	fputs(");\n", fp);
	dump_rules(c, fp);
	dump_service(fp, &c->service, true, &top);
	fprintf(fp, "shutdown_timeout_ms = %llu;\n",
	    (unsigned long long)c->shutdown_timeout_ms);
	if (c->seeded)
		fprintf(fp, "seed = %llu%s;\n", (unsigned long long)c->seed,
		    int64_suffix(c->seed));
	fprintf(fp, "log_target = \"%s\";\n",
	    c->log_target == CONF_LOG_JOURNAL ? "journal" :
	    c->log_target == CONF_LOG_STDERR ? "stderr" : "auto");
	if (c->user != NULL) {
		fputs("user = ", fp);
		dump_string(fp, c->user);
		fputs(";\n", fp);
	}
	if (c->control_socket != NULL) {
		fputs("control_socket = ", fp);
		dump_string(fp, c->control_socket);
		fputs(";\n", fp);
	}
	if (c->control_group != NULL) {
		fputs("control_group = ", fp);
		dump_string(fp, c->control_group);
		fputs(";\n", fp);
	}
	fprintf(fp, "recorded_messages = %zu;\nrecorded_bytes = %zu;\n",
	    c->recorded_messages, c->recorded_bytes);
	if (c->metrics_listen != NULL) {
		fputs("metrics_listen = ", fp);
		dump_string(fp, c->metrics_listen);
		fputs(";\n", fp);
	}
}
