/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

/* What every template of this client can refer to. */
static void
ctx_init(struct template_ctx *ctx, const struct answer_env *env)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->message = "";
	ctx->client_address = env->client_address;
	ctx->client_port = env->client_port;
	ctx->proxy_address = env->proxy_address ? env->proxy_address : "";
	ctx->proxy_port = env->proxy_port;
	ctx->listener = env->listener;
	ctx->hostname = env->hostname;
	ctx->message_number = env->message_number;
	ctx->connections = env->connections;
	ctx->max_message_bytes = env->svc->max_message_bytes;
	ctx->tls = env->tls;
}

static inline int
render(const struct answer_env *env, const struct template *t,
    struct template_ctx *ctx, const char *term, size_t term_len,
    struct buf *out)
{
	unsigned int	 needs;

	if ((needs = template_needs(t)) != 0 && env->fill != NULL)
		env->fill(ctx, needs, env->fill_arg);
	if (template_render(t, ctx, out) < 0 ||
	    buf_append(out, term, term_len) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * Length framing: room for the reply's prefix before it is rendered, so
 * that nothing moves afterwards. The prefix bytes it takes (0: none).
 */
static int
prefix_room(const struct answer_env *env, struct buf *out, size_t *room)
{
	static const char	 zeros[8];
	const struct frame_spec	*f = &env->svc->framing;

	*room = 0;
	if (env->datagram || f->mode != FRAME_LENGTH)
		return 0;
	*room = f->prefix_bytes;
	return buf_append(out, zeros, *room);
}

/* Writes the prefix of the reply at out[mark..]; -EMSGSIZE drops it. */
static int
prefix_fill(const struct answer_env *env, struct buf *out, size_t mark,
    size_t room)
{
	if (room == 0)
		return 0;
	if (frame_prefix(&env->svc->framing, out->len - mark - room,
	    out->data + mark) < 0) {
		out->len = mark;
		return -EMSGSIZE;
	}
	return 0;
}

/* The counters for this rule set, new ones after a reload. */
static uint32_t *
cycle_counters(struct answer_cycle *cycle, const struct rules *rules)
{
	size_t	 n = rules_cycle_slots(rules);

	if (cycle == NULL || n == 0)
		return NULL;
	if (cycle->v == NULL || cycle->generation != rules_generation(rules)) {
		free(cycle->v);
		cycle->v = calloc(n, sizeof(*cycle->v));
		cycle->generation = rules_generation(rules);
	}
	return cycle->v;
}

int
answer_message(const struct answer_env *env, const struct frame_msg *m,
    struct answer_cycle *cycle, struct buf *out, struct answer *res)
{
	const struct conf_service *svc = env->svc;
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	const struct template	*t;
	struct template_ctx	 ctx;
	uint32_t		*counters;
	size_t			 mark = out->len, room;

	res->silent = false;
	res->choice = 0;
	res->delay_ms = 0;
	res->rule_label = NULL;
	r = rules_match(env->conf->rules, m->data, m->len, env->listener,
	    env->client, env->tls != NULL ? env->tls->sni : NULL, caps);
	res->rule = r;
	if (r == NULL) {
		t = svc->default_reply;
		res->close = svc->close_after_reply;
	} else {
		res->rule_label = answer_rule_label(r);
		res->close = r->close || svc->close_after_reply;
		res->delay_ms = r->delay_ms;
		if (r->nreplies == 0) {
			res->silent = true;
			return 0;
		}
		if (r->nreplies > 1 &&
		    (counters = cycle_counters(cycle, env->conf->rules)) != NULL)
			res->choice = counters[r->cycle_slot]++ % r->nreplies;
		t = r->replies[res->choice];
	}
	if (prefix_room(env, out, &room) < 0)
		return -ENOMEM;
	/* the echo, the default reply: no template context to build */
	if (template_is_message(t)) {
		if (buf_append(out, m->data, m->len) < 0 ||
		    buf_append(out, m->term, m->term_len) < 0)
			return -ENOMEM;
		return prefix_fill(env, out, mark, room);
	}
	ctx_init(&ctx, env);
	ctx.message = m->data;
	ctx.message_len = m->len;
	ctx.rule = r == NULL ? "default" : res->rule_label;
	if (r != NULL && r->kind == RULES_REGEX) {
		ctx.caps = caps;
		ctx.ncaps = TEMPLATE_CAPTURES;
	}
	if (render(env, t, &ctx, m->term, m->term_len, out) < 0)
		return -ENOMEM;
	return prefix_fill(env, out, mark, room);
}

int
answer_notice(const struct answer_env *env, enum answer_notice which,
    struct buf *out)
{
	const struct conf_service *svc = env->svc;
	const struct frame_spec	*f = &svc->framing;
	const struct template	*t;
	struct template_ctx	 ctx;
	size_t			 mark = out->len, room;

	switch (which) {
	case ANSWER_GREETING:
		t = svc->greeting;
		break;
	case ANSWER_TOO_LONG:
		t = svc->too_long_reply;
		break;
	default:
		t = svc->refuse_reply;
		break;
	}
	if (t == NULL)
		return 0;
	ctx_init(&ctx, env);
	if (prefix_room(env, out, &room) < 0 ||
	    render(env, t, &ctx, "", 0, out) < 0)
		return -ENOMEM;
	/* an empty refusal is a silent one: not even a line end */
	if (which == ANSWER_REFUSED && out->len == mark + room) {
		out->len = mark;
		return 0;
	}
	if (env->datagram)
		return 0;
	/* framed as the listener frames replies */
	if (f->mode == FRAME_LINE)
		return buf_append(out, "\n", 1);
	if (f->mode == FRAME_DELIMITER)
		return buf_append(out, f->delim, f->delim_len);
	return prefix_fill(env, out, mark, room);
}

const char *
answer_rule_label(const struct rules_rule *r)
{
	if (r == NULL)
		return "default";
	return r->name != NULL ? r->name : r->number;
}

void
answer_cycle_free(struct answer_cycle *cycle)
{
	free(cycle->v);
	cycle->v = NULL;
	cycle->generation = 0;
}
