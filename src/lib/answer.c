#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reply.h"

int
reply_build(const struct conf *conf, const struct frame_msg *m,
    const struct sockaddr *peer, struct template_ctx *ctx,
    reply_fill_fn fill, void *arg, uint32_t *cycle, struct buf *out,
    struct reply *res)
{
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	const struct template	*t;
	char			 label[32];
	unsigned int		 needs;

	memset(res, 0, sizeof(*res));
	r = rules_match(conf->rules, m->data, m->len, ctx->listener, peer,
	    caps);
	res->rule = r;
	ctx->message = m->data;
	ctx->message_len = m->len;
	ctx->max_message_bytes = conf->max_message_bytes;
	ctx->caps = NULL;
	ctx->ncaps = 0;
	if (r == NULL) {
		t = conf->default_reply;
		ctx->rule = "default";
		res->close = conf->close_after_reply;
	} else {
		res->close = r->close || conf->close_after_reply;
		res->delay_ms = r->delay_ms;
		if (r->nreplies == 0) {
			res->silent = true;
			return 0;
		}
		if (r->nreplies > 1 && cycle != NULL)
			res->choice = cycle[r->cycle_slot]++ % r->nreplies;
		t = r->replies[res->choice];
		ctx->rule = r->name != NULL ? r->name :
		    reply_rule_label(r, label, sizeof(label));
		if (r->kind == RULES_REGEX) {
			ctx->caps = caps;
			ctx->ncaps = TEMPLATE_CAPTURES;
		}
	}
	if ((needs = template_needs(t)) != 0 && fill != NULL)
		fill(ctx, needs, arg);
	if (template_render(t, ctx, out) < 0 ||
	    buf_append(out, m->term, m->term_len) < 0)
		return -ENOMEM;
	ctx->rule = NULL;	/* pointed at locals */
	ctx->caps = NULL;
	return 0;
}

const char *
reply_rule_label(const struct rules_rule *r, char *buf, size_t len)
{
	if (r == NULL)
		return "default";
	if (r->name != NULL)
		return r->name;
	snprintf(buf, len, "#%zu", r->index + 1);
	return buf;
}
