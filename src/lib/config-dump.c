/* SPDX-License-Identifier: ISC */
/* echoreplyd -n -v: the configuration in its own syntax, defaults filled. */
#include <stdio.h>
#include <sys/socket.h>

#include "addr.h"
#include "config.h"
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
dump_nets(FILE *fp, const char *key, const struct addr_net *nets, size_t n)
{
	char	 net[ADDR_NET_MAX];
	size_t	 i;

	fprintf(fp, "%s = [", key);
	for (i = 0; i < n; i++) {
		addr_net_format(&nets[i], net, sizeof(net));
		fprintf(fp, "%s\"%s\"", i ? ", " : " ", net);
	}
	fputs(n ? " ];\n" : "];\n", fp);
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
		if (r->kind != RULES_ANY) {
			fprintf(fp, " %s = ", rules_kind_name(r->kind));
			dump_string(fp, r->pattern);
			fprintf(fp, "; ignore_case = %s;",
			    r->ignore_case ? "true" : "false");
		}
		if (r->nlisteners > 0)
			dump_list(fp, "listener", r->listeners,
			    r->nlisteners);
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
		fprintf(fp, " close = %s; delay_ms = %llu; }%s\n",
		    r->close ? "true" : "false",
		    (unsigned long long)r->delay_ms, i + 1 < n ? "," : "");
	}
	fputs(");\n", fp);
}

void
config_dump(const struct conf *c, FILE *fp)
{
	const struct conf_service	*svc = &c->service;
	size_t				 i;

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
		fprintf(fp, "; }%s\n", i + 1 < c->nlisteners ? "," : "");
	}
	fputs(");\n", fp);
	fprintf(fp, "framing = \"%s\";\n",
	    svc->framing == FRAME_RAW ? "raw" : "line");
	fprintf(fp, "close_after_reply = %s;\n",
	    svc->close_after_reply ? "true" : "false");
	fputs("greeting = ", fp);
	dump_string(fp, svc->greeting ? template_source(svc->greeting) : "");
	fputs(";\n", fp);
	dump_rules(c, fp);
	fputs("default_reply = ", fp);
	dump_string(fp, template_source(svc->default_reply));
	fputs(";\ntoo_long_reply = ", fp);
	dump_string(fp, template_source(svc->too_long_reply));
	fputs(";\n", fp);
	fprintf(fp, "max_message_bytes = %zu;\n", svc->max_message_bytes);
	fprintf(fp, "max_queued_bytes = %zu;\n", svc->max_queued_bytes);
	fprintf(fp, "shutdown_timeout_ms = %llu;\n",
	    (unsigned long long)c->shutdown_timeout_ms);
	fprintf(fp, "log_messages = %s;\n", svc->log_messages ? "true" : "false");
	fprintf(fp, "log_message_bytes = %zu;\n", svc->log_message_bytes);
	fprintf(fp, "log_target = \"%s\";\n",
	    c->log_target == CONF_LOG_JOURNAL ? "journal" :
	    c->log_target == CONF_LOG_STDERR ? "stderr" : "auto");
	fprintf(fp, "max_connections = %zu;\n", c->max_connections);
	fprintf(fp, "max_connections_per_source = %zu;\n",
	    svc->max_connections_per_source);
	fputs("refuse_reply = ", fp);
	dump_string(fp, template_source(svc->refuse_reply));
	fprintf(fp, ";\nidle_timeout_ms = %llu;\n",
	    (unsigned long long)c->idle_timeout_ms);
	fprintf(fp, "source_message_rate = %.0f;\n", svc->source_message_rate);
	fprintf(fp, "source_message_burst = %.0f;\n",
	    svc->source_message_burst);
	dump_nets(fp, "allow", svc->acl.allow, svc->acl.nallow);
	dump_nets(fp, "deny", svc->acl.deny, svc->acl.ndeny);
	if (c->user != NULL) {
		fputs("user = ", fp);
		dump_string(fp, c->user);
		fputs(";\n", fp);
	}
}
