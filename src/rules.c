#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

enum seg_kind {
	SEG_TEXT,
	SEG_MESSAGE,
	SEG_CLIENT_ADDRESS,
	SEG_CLIENT_PORT,
	SEG_LISTENER,
};

static const struct {
	const char	*name;
	enum seg_kind	 kind;
} variables[] = {
	{ "message",		SEG_MESSAGE },
	{ "client_address",	SEG_CLIENT_ADDRESS },
	{ "client_port",	SEG_CLIENT_PORT },
	{ "listener",		SEG_LISTENER },
};

struct seg {
	enum seg_kind	 kind;
	size_t		 off;	/* SEG_TEXT: slice of text */
	size_t		 len;
};

struct rules_template {
	char		*source;
	char		*text;
	struct seg	*segs;
	size_t		 nsegs;
};

static int
add_seg(struct rules_template *t, enum seg_kind kind, size_t off, size_t len)
{
	struct seg	*s;

	if (kind == SEG_TEXT && len == 0)
		return 0;
	/* merge adjacent text */
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

int
rules_template_compile(const char *src, struct rules_template **out,
    char *err, size_t errlen)
{
	struct rules_template	*t;
	const char		*p, *end;
	size_t			 i, tlen = 0, start, namelen;
	int			 r = -ENOMEM;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->source = strdup(src)) == NULL ||
	    (t->text = malloc(strlen(src) + 1)) == NULL)
		goto fail;

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
		namelen = (size_t)(end - (p + 2));
		for (i = 0; i < sizeof(variables) / sizeof(variables[0]); i++)
			if (strlen(variables[i].name) == namelen &&
			    strncmp(variables[i].name, p + 2, namelen) == 0)
				break;
		if (i == sizeof(variables) / sizeof(variables[0])) {
			snprintf(err, errlen, "unknown variable '%%{%.*s}'",
			    (int)(namelen > 40 ? 40 : namelen), p + 2);
			r = -EINVAL;
			goto fail;
		}
		if ((r = add_seg(t, variables[i].kind, 0, 0)) < 0)
			goto fail;
		p = end + 1;
	}
	*out = t;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	rules_template_free(t);
	return r;
}

int
rules_template_render(const struct rules_template *t,
    const struct rules_ctx *ctx, struct buf *out)
{
	const struct seg	*s;
	char			 num[16];
	size_t			 i;
	int			 r = 0, n;

	for (i = 0; i < t->nsegs && r == 0; i++) {
		s = &t->segs[i];
		switch (s->kind) {
		case SEG_TEXT:
			r = buf_append(out, t->text + s->off, s->len);
			break;
		case SEG_MESSAGE:
			r = buf_append(out, ctx->message, ctx->message_len);
			break;
		case SEG_CLIENT_ADDRESS:
			r = buf_append(out, ctx->client_address,
			    strlen(ctx->client_address));
			break;
		case SEG_CLIENT_PORT:
			n = snprintf(num, sizeof(num), "%u", ctx->client_port);
			r = buf_append(out, num, (size_t)n);
			break;
		case SEG_LISTENER:
			r = buf_append(out, ctx->listener, strlen(ctx->listener));
			break;
		}
	}
	return r;
}

const char *
rules_template_source(const struct rules_template *t)
{
	return t->source;
}

void
rules_template_free(struct rules_template *t)
{
	if (t == NULL)
		return;
	free(t->source);
	free(t->text);
	free(t->segs);
	free(t);
}
