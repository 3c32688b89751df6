/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "template.h"

enum seg_kind {
	SEG_TEXT,
	SEG_MESSAGE,
	SEG_MESSAGE_HEX,
	SEG_MESSAGE_LENGTH,
	SEG_CLIENT_ADDRESS,
	SEG_CLIENT_PORT,
	SEG_SERVER_ADDRESS,
	SEG_SERVER_PORT,
	SEG_PROXY_ADDRESS,
	SEG_PROXY_PORT,
	SEG_LISTENER,
	SEG_HOSTNAME,
	SEG_RULE,
	SEG_STATE,
	SEG_NEXT_STATE,
	SEG_RULE_COUNT,
	SEG_TIME,
	SEG_TIME_UTC,
	SEG_UNIX_TIME,
	SEG_MESSAGE_NUMBER,
	SEG_CONNECTIONS,
	SEG_MAX_MESSAGE_BYTES,
	SEG_CAPTURE,
	SEG_TLS_VERSION,
	SEG_TLS_CIPHER,
	SEG_TLS_SNI,
	SEG_TLS_ALPN,
	SEG_TLS_CLIENT_SUBJECT,
	SEG_TLS_CLIENT_FINGERPRINT,
};

static const struct {
	const char	*name;
	enum seg_kind	 kind;
	unsigned int	 needs;
} variables[] = {
	{ "message",		SEG_MESSAGE,		0 },
	{ "message_hex",	SEG_MESSAGE_HEX,	0 },
	{ "message_length",	SEG_MESSAGE_LENGTH,	0 },
	{ "client_address",	SEG_CLIENT_ADDRESS,	0 },
	{ "client_port",	SEG_CLIENT_PORT,	0 },
	{ "server_address",	SEG_SERVER_ADDRESS,	TEMPLATE_NEED_SERVER },
	{ "server_port",	SEG_SERVER_PORT,	TEMPLATE_NEED_SERVER },
	{ "proxy_address",	SEG_PROXY_ADDRESS,	0 },
	{ "proxy_port",		SEG_PROXY_PORT,		0 },
	{ "listener",		SEG_LISTENER,		0 },
	{ "hostname",		SEG_HOSTNAME,		0 },
	{ "rule",		SEG_RULE,		0 },
	{ "state",		SEG_STATE,		0 },
	{ "next_state",		SEG_NEXT_STATE,		0 },
	{ "rule_count",		SEG_RULE_COUNT,		TEMPLATE_NEED_COUNT },
	{ "time",		SEG_TIME,		TEMPLATE_NEED_TIME },
	{ "time_utc",		SEG_TIME_UTC,		TEMPLATE_NEED_TIME },
	{ "unix_time",		SEG_UNIX_TIME,		TEMPLATE_NEED_TIME },
	{ "message_number",	SEG_MESSAGE_NUMBER,	0 },
	{ "connections",	SEG_CONNECTIONS,	0 },
	{ "max_message_bytes",	SEG_MAX_MESSAGE_BYTES,	0 },
	{ "tls_version",	SEG_TLS_VERSION,	0 },
	{ "tls_cipher",		SEG_TLS_CIPHER,		0 },
	{ "tls_sni",		SEG_TLS_SNI,		0 },
	{ "tls_alpn",		SEG_TLS_ALPN,		0 },
	{ "tls_client_subject",	SEG_TLS_CLIENT_SUBJECT,	0 },
	{ "tls_client_fingerprint", SEG_TLS_CLIENT_FINGERPRINT, 0 },
};
#define NVARIABLES	(sizeof(variables) / sizeof(variables[0]))

struct seg {
	enum seg_kind	 kind;
	size_t		 off;	/* SEG_TEXT: slice of text; SEG_CAPTURE: number */
	size_t		 len;
};

struct template {
	char		*source;	/* a literal's: its bytes in hex digits */
	bool		 literal;	/* bytes, no variables */
	char		*text;
	struct seg	*segs;
	size_t		 nsegs;
	unsigned int	 needs;
	int		 max_capture;
};

static int
add_seg(struct template *t, enum seg_kind kind, size_t off, size_t len)
{
	struct seg	*s;

	if (kind == SEG_TEXT && len == 0)
		return 0;
	if (kind == SEG_TEXT && t->nsegs > 0 &&
	    t->segs[t->nsegs - 1].kind == SEG_TEXT &&
	    t->segs[t->nsegs - 1].off + t->segs[t->nsegs - 1].len == off) {
		t->segs[t->nsegs - 1].len += len;
		return 0;
	}
	s = reallocarray(t->segs, t->nsegs + 1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	t->segs = s;
	t->segs[t->nsegs++] = (struct seg){ kind, off, len };
	return 0;
}

static int
add_variable(struct template *t, const char *name, size_t namelen,
    char *err, size_t errlen)
{
	size_t	 i;

	if (namelen == 1 && name[0] >= '0' && name[0] <= '9') {
		if (name[0] - '0' > t->max_capture)
			t->max_capture = name[0] - '0';
		return add_seg(t, SEG_CAPTURE, (size_t)(name[0] - '0'), 0);
	}
	for (i = 0; i < NVARIABLES; i++)
		if (strlen(variables[i].name) == namelen &&
		    memcmp(variables[i].name, name, namelen) == 0) {
			t->needs |= variables[i].needs;
			return add_seg(t, variables[i].kind, 0, 0);
		}
	snprintf(err, errlen, "unknown variable '%%{%.*s}'",
	    (int)(namelen > 40 ? 40 : namelen), name);
	return -EINVAL;
}

int
template_compile(const char *src, struct template **out, char *err,
    size_t errlen)
{
	struct template	*t;
	const char	*p, *end;
	size_t		 tlen = 0, start;
	int		 r = -ENOMEM;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->source = strdup(src)) == NULL ||
	    (t->text = malloc(strlen(src) + 1)) == NULL)
		goto fail;
	t->max_capture = -1;

	for (p = src; *p != '\0'; ) {
		if (*p != '%') {
			start = tlen;
			while (*p != '\0' && *p != '%')
				t->text[tlen++] = *p++;
			if ((r = add_seg(t, SEG_TEXT, start, tlen - start)) < 0)
				goto fail;
			continue;
		}
		if (p[1] == '%') {
			t->text[tlen++] = '%';
			if ((r = add_seg(t, SEG_TEXT, tlen - 1, 1)) < 0)
				goto fail;
			p += 2;
			continue;
		}
		if (p[1] != '{') {
			snprintf(err, errlen, "'%%' must be followed by "
			    "'{name}' or '%%' (write %%%% for a percent sign)");
			r = -EINVAL;
			goto fail;
		}
		if ((end = strchr(p + 2, '}')) == NULL) {
			snprintf(err, errlen, "unterminated variable '%.20s'", p);
			r = -EINVAL;
			goto fail;
		}
		if ((r = add_variable(t, p + 2, (size_t)(end - (p + 2)), err,
		    errlen)) < 0)
			goto fail;
		p = end + 1;
	}
	*out = t;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	template_free(t);
	return r;
}

static int
append_str(struct buf *out, const char *s)
{
	return s == NULL ? 0 : buf_append(out, s, strlen(s));
}

static int
append_u64(struct buf *out, uint64_t v)
{
	char	 num[24];
	int	 n;

	n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return buf_append(out, num, (size_t)n);
}

/* RFC 3339, to the second: 2026-11-24T21:30:05+01:00 or ...Z in UTC. */
static int
append_time(struct buf *out, uint64_t usec, int utc)
{
	time_t		 t = (time_t)(usec / 1000000);
	struct tm	 tm;
	char		 s[40];
	size_t		 n;
	long		 off;

	if ((utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL)
		return 0;
	n = strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	off = utc ? 0 : tm.tm_gmtoff;
	if (utc)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "Z");
	else
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%c%02ld:%02ld",
		    off < 0 ? '-' : '+', labs(off) / 3600, labs(off) % 3600 / 60);
	return buf_append(out, s, n);
}

/* What a TLS connection agreed on; nothing on a plain one. */
static int
append_tls(struct buf *out, const struct template_tls *tls,
    enum seg_kind kind)
{
	if (tls == NULL)
		return 0;
	switch (kind) {
	case SEG_TLS_VERSION:
		return append_str(out, tls->version);
	case SEG_TLS_CIPHER:
		return append_str(out, tls->cipher);
	case SEG_TLS_SNI:
		return append_str(out, tls->sni);
	case SEG_TLS_ALPN:
		return append_str(out, tls->alpn);
	case SEG_TLS_CLIENT_SUBJECT:
		return append_str(out, tls->client_subject);
	default:
		return append_str(out, tls->client_fingerprint);
	}
}

int
template_render(const struct template *t, const struct template_ctx *ctx,
    struct buf *out)
{
	const struct seg	*s;
	const regmatch_t	*m;
	size_t			 i;
	int			 r = 0;

	for (i = 0; i < t->nsegs && r == 0; i++) {
		s = &t->segs[i];
		switch (s->kind) {
		case SEG_TEXT:
			r = buf_append(out, t->text + s->off, s->len);
			break;
		case SEG_MESSAGE:
			r = buf_append(out, ctx->message, ctx->message_len);
			break;
		case SEG_MESSAGE_HEX:
			if ((r = buf_reserve(out, 2 * ctx->message_len)) < 0)
				break;
			hex_encode(ctx->message, ctx->message_len,
			    out->data + out->len);
			out->len += 2 * ctx->message_len;
			break;
		case SEG_MESSAGE_LENGTH:
			r = append_u64(out, ctx->message_len);
			break;
		case SEG_CLIENT_ADDRESS:
			r = append_str(out, ctx->client_address);
			break;
		case SEG_CLIENT_PORT:
			r = append_u64(out, ctx->client_port);
			break;
		case SEG_SERVER_ADDRESS:
			r = append_str(out, ctx->server_address);
			break;
		case SEG_SERVER_PORT:
			r = append_u64(out, ctx->server_port);
			break;
		case SEG_PROXY_ADDRESS:
			r = append_str(out, ctx->proxy_address);
			break;
		case SEG_PROXY_PORT:
			r = append_u64(out, ctx->proxy_port);
			break;
		case SEG_LISTENER:
			r = append_str(out, ctx->listener);
			break;
		case SEG_HOSTNAME:
			r = append_str(out, ctx->hostname);
			break;
		case SEG_RULE:
			r = append_str(out, ctx->rule);
			break;
		case SEG_STATE:
			r = append_str(out, ctx->state);
			break;
		case SEG_NEXT_STATE:
			r = append_str(out, ctx->next_state);
			break;
		case SEG_RULE_COUNT:
			r = append_u64(out, ctx->rule_count);
			break;
		case SEG_TIME:
			r = append_time(out, ctx->now_usec, 0);
			break;
		case SEG_TIME_UTC:
			r = append_time(out, ctx->now_usec, 1);
			break;
		case SEG_UNIX_TIME:
			r = append_u64(out, ctx->now_usec / 1000000);
			break;
		case SEG_MESSAGE_NUMBER:
			r = append_u64(out, ctx->message_number);
			break;
		case SEG_CONNECTIONS:
			r = append_u64(out, ctx->connections);
			break;
		case SEG_MAX_MESSAGE_BYTES:
			r = append_u64(out, ctx->max_message_bytes);
			break;
		case SEG_CAPTURE:
			/* a group that did not take part renders as nothing */
			if (ctx->caps == NULL || s->off >= ctx->ncaps)
				break;
			m = &ctx->caps[s->off];
			if (m->rm_so >= 0 && m->rm_eo >= m->rm_so)
				r = buf_append(out, ctx->message + m->rm_so,
				    (size_t)(m->rm_eo - m->rm_so));
			break;
		case SEG_TLS_VERSION:
		case SEG_TLS_CIPHER:
		case SEG_TLS_SNI:
		case SEG_TLS_ALPN:
		case SEG_TLS_CLIENT_SUBJECT:
		case SEG_TLS_CLIENT_FINGERPRINT:
			r = append_tls(out, ctx->tls, s->kind);
			break;
		}
	}
	return r;
}

unsigned int
template_needs(const struct template *t)
{
	return t->needs;
}

bool
template_is_message(const struct template *t)
{
	return t->nsegs == 1 && t->segs[0].kind == SEG_MESSAGE;
}

bool
template_is_text(const struct template *t, const char **text, size_t *len)
{
	if (t->nsegs == 0) {
		*text = "";
		*len = 0;
		return true;
	}
	if (t->nsegs > 1 || t->segs[0].kind != SEG_TEXT)
		return false;
	*text = t->text + t->segs[0].off;
	*len = t->segs[0].len;
	return true;
}

int
template_max_capture(const struct template *t)
{
	return t->max_capture;
}

const char *
template_source(const struct template *t)
{
	return t->source;
}

bool
template_is_literal(const struct template *t)
{
	return t->literal;
}

int
template_literal(const void *bytes, size_t len, struct template **out)
{
	struct template	*t;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->source = malloc(2 * len + 1)) == NULL ||
	    (t->text = malloc(len + 1)) == NULL) {
		template_free(t);
		return -ENOMEM;
	}
	t->literal = true;
	hex_encode(bytes, len, t->source);
	t->source[2 * len] = '\0';
	if (len > 0)
		memcpy(t->text, bytes, len);
	t->max_capture = -1;
	if (add_seg(t, SEG_TEXT, 0, len) < 0) {
		template_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

int
template_copy(const struct template *src, struct template **out)
{
	char	 err[128];

	if (!src->literal)
		/* it compiled once: only memory can fail now */
		return template_compile(src->source, out, err, sizeof(err));
	return template_literal(src->text, strlen(src->source) / 2, out);
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	free(t->source);
	free(t->text);
	free(t->segs);
	free(t);
}
