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
	ctx->state = ctx->next_state = "start";
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

/* A reply not answering a message ends as the listener frames replies. */
static int
frame_end(const struct frame_spec *f, const struct answer_env *env,
    struct buf *out, size_t mark, size_t room)
{
	if (f->mode == FRAME_LINE)
		return buf_append(out, "\n", 1);
	if (f->mode == FRAME_DELIMITER)
		return buf_append(out, f->delim, f->delim_len);
	return prefix_fill(env, out, mark, room);
}

/* The count key of the default reply: no rule's index. */
#define DEFAULT_COUNT	((size_t)UINT32_MAX - 1)

/* The story goes on under this rule set, or starts again after a reload. */
static void
state_check(struct answer_state *st, const struct rules *rules)
{
	if (st->generation == rules_generation(rules))
		return;
	st->generation = rules_generation(rules);
	st->state = RULES_STATE_START;
	counts_clear(&st->counts);
}

/*
 * What the rule does to the bytes of its reply at out[mark..]. A datagram
 * is sent again whole instead: the caller does.
 */
static int
mangle(const struct answer_env *env, const struct rules_fault *f,
    struct answer_state *st, struct buf *out, size_t mark)
{
	size_t	 n = out->len - mark, i;

	if (f->duplicate > 0 && n > 0 && !env->datagram) {
		if (n > SIZE_MAX / (f->duplicate + 1) ||
		    buf_reserve(out, n * f->duplicate) < 0)
			return -ENOMEM;
		for (i = 0; i < f->duplicate; i++)
			(void)buf_append(out, out->data + mark, n);
	}
	if (f->truncates && out->len - mark > f->truncate)
		out->len = mark + f->truncate;
	if (f->garbage > 0) {
		if (buf_reserve(out, f->garbage) < 0)
			return -ENOMEM;
		if (st != NULL)
			rng_fill(&st->rng, out->data + out->len, f->garbage);
		else
			memset(out->data + out->len, 0xff, f->garbage);
		out->len += f->garbage;
	}
	return 0;
}

/*
 * A reply of n bytes at p and the message's line end, with one copy
 * call: the line end is a byte or two, stored.
 */
static int
append_reply(struct buf *out, const void *p, size_t n,
    const struct frame_msg *m)
{
	size_t	 i;

	if (n + m->term_len > out->cap - out->len &&
	    buf_reserve(out, n + m->term_len) < 0)
		return -ENOMEM;
	if (n > 0)
		memcpy(out->data + out->len, p, n);
	out->len += n;
	for (i = 0; i < m->term_len; i++)
		out->data[out->len++] = m->term[i];
	return 0;
}

/*
 * A reply that is the message itself or a fixed text: into *text and
 * *len, copied as it is. False for a template to render.
 */
static bool
fixed_reply(const struct template *t, const struct frame_msg *m,
    const char **text, size_t *len)
{
	if (template_is_message(t)) {
		*text = m->data;
		*len = m->len;
		return true;
	}
	return template_is_text(t, text, len);
}

int
answer_message(const struct answer_env *env, const struct frame_msg *m,
    struct answer_state *st, struct buf *out, struct answer *res)
{
	const struct conf_service *svc = env->svc;
	const struct rules	*rules = env->conf->rules;
	regmatch_t		 caps[TEMPLATE_CAPTURES];
	const struct rules_rule	*r;
	const struct template	*t;
	struct template_ctx	 ctx;
	struct rules_who	 who;
	uint32_t		 before = RULES_STATE_START, after;
	const char		*text;
	size_t			 mark = out->len, room, text_len;
	int			 e;

	if (st != NULL) {
		state_check(st, rules);
		before = st->state;
	}
	who.listener = env->listener;
	who.peer = env->client;
	who.sni = env->tls != NULL ? env->tls->sni : NULL;
	who.state = before;
	who.counts = st != NULL ? &st->counts : NULL;
	who.rng = st != NULL ? &st->rng : NULL;
	r = rules_match(rules, m->data, m->len, &who, caps);

	res->rule = r;
	res->silent = false;
	res->choice = 0;
	res->delay_ms = 0;
	res->rule_label = NULL;
	res->rule_label_len = 0;
	res->fault = NULL;
	res->count = 0;
	after = before;
	if (r == NULL) {
		t = svc->default_reply;
		res->close = svc->close_after_reply;
		res->operator = svc->operator;
		if (st != NULL && (template_needs(t) & TEMPLATE_NEED_COUNT))
			res->count = counts_bump(&st->counts, DEFAULT_COUNT);
	} else {
		res->rule_label = r->label;
		res->rule_label_len = r->label_len;
		res->close = r->close || svc->close_after_reply;
		res->operator = r->operator;
		res->delay_ms = r->delay_ms;
		if (r->delay_max_ms > r->delay_ms && st != NULL)
			res->delay_ms = rng_range(&st->rng, r->delay_ms,
			    r->delay_max_ms);
		if (r->counts && st != NULL &&
		    (res->count = counts_bump(&st->counts, r->index)) == 0)
			res->count = 1;	/* no room to count: the first */
		if (r->faulty) {
			res->fault = &r->fault;
			/* the bytes cut short end the connection */
			if ((r->fault.garbage > 0 ||
			    r->fault.truncates) &&
			    !r->fault.keep_open && !r->fault.reset &&
			    !r->fault.half_close && !r->fault.hang)
				res->close = true;
		}
		if (r->next_state != RULES_STATE_NONE)
			after = r->next_state;
		t = NULL;
		if (r->nreplies > 0) {
			if (r->nreplies > 1 && res->count > 0)
				res->choice = (res->count - 1) % r->nreplies;
			t = r->replies[res->choice];
		}
	}
	res->state = rules_state_name(rules, before);
	res->next_state = rules_state_name(rules, after);
	if (st != NULL && after != before) {
		st->state = after;
		if (r->reset_counts)
			counts_clear(&st->counts);
	}
	if (t == NULL) {
		res->silent = res->fault == NULL || res->fault->garbage == 0;
		if (res->fault != NULL && res->fault->garbage > 0)
			return mangle(env, res->fault, st, out, mark);
		return 0;
	}

	if (prefix_room(env, out, &room) < 0)
		return -ENOMEM;
	/* the echo, and a fixed reply: no template context to build */
	if (fixed_reply(t, m, &text, &text_len)) {
		if (append_reply(out, text, text_len, m) < 0)
			return -ENOMEM;
	} else {
		ctx_init(&ctx, env);
		ctx.message = m->data;
		ctx.message_len = m->len;
		ctx.rule = r == NULL ? "default" : res->rule_label;
		ctx.state = res->state;
		ctx.next_state = res->next_state;
		ctx.rule_count = res->count;
		if (r != NULL && r->kind == RULES_REGEX) {
			ctx.caps = caps;
			ctx.ncaps = TEMPLATE_CAPTURES;
		}
		if (render(env, t, &ctx, m->term, m->term_len, out) < 0)
			return -ENOMEM;
	}
	if ((e = prefix_fill(env, out, mark, room)) < 0)
		return e;
	return res->fault != NULL ? mangle(env, res->fault, st, out, mark) :
	    0;
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
	return frame_end(f, env, out, mark, room);
}

int
answer_push(const struct conf_service *svc, const void *data, size_t len,
    struct buf *out)
{
	struct answer_env	 env;
	size_t			 mark = out->len, room;
	int			 r;

	memset(&env, 0, sizeof(env));
	env.svc = svc;
	if (prefix_room(&env, out, &room) < 0 ||
	    buf_append(out, data, len) < 0) {
		out->len = mark;
		return -ENOMEM;
	}
	if ((r = frame_end(&svc->framing, &env, out, mark, room)) < 0)
		out->len = mark;
	return r;
}

bool
answer_fixes(const struct conf *conf, const struct conf_service *svc)
{
	const char	*text;
	size_t		 len;

	if (svc->framing.mode == FRAME_LENGTH)
		return false;	/* the prefix is ours, not the message's */
	return rules_exact_only(conf->rules) &&
	    (template_is_message(svc->default_reply) ||
	    template_is_text(svc->default_reply, &text, &len)) &&
	    !svc->close_after_reply && svc->close_after_messages == 0 &&
	    !svc->operator && svc->bandwidth == 0;
}

bool
answer_mirrors(const struct conf *conf, const struct conf_service *svc)
{
	return rules_count(conf->rules) == 0 &&
	    template_is_message(svc->default_reply) && answer_fixes(conf, svc);
}

int
answer_fixed(const struct conf *conf, const struct conf_service *svc,
    struct answer_state *st, const struct frame_msg *m, struct buf *out,
    struct answer *res)
{
	const struct rules_rule	*r;
	const char		*text, *state;
	size_t			 len;

	if (!rules_match_fixed(conf->rules, m->data, m->len, &r))
		return 0;
	state_check(st, conf->rules);
	state = rules_state_name(conf->rules, st->state);
	*res = (struct answer){ .rule = r, .state = state,
	    .next_state = state };
	if (r != NULL) {
		res->rule_label = r->label;
		res->rule_label_len = r->label_len;
		text = r->fixed_text;
		len = r->fixed_len;
	} else if (!fixed_reply(svc->default_reply, m, &text, &len))
		return 0;	/* answer_fixes() does not hold */
	return append_reply(out, text, len, m) < 0 ? -ENOMEM : 1;
}

const char *
answer_rule_label(const struct rules_rule *r)
{
	if (r == NULL)
		return "default";
	return r->label;
}

enum answer_accept
answer_accept(struct answer_state *st, const struct conf_service *svc,
    uint64_t *delay_ms)
{
	double	 u;

	*delay_ms = 0;
	if (svc->accept_close_probability > 0 ||
	    svc->accept_reset_probability > 0) {
		u = rng_unit(&st->rng);
		if (u < svc->accept_reset_probability)
			return ANSWER_ACCEPT_RESET;
		if (u < svc->accept_reset_probability +
		    svc->accept_close_probability)
			return ANSWER_ACCEPT_CLOSE;
	}
	*delay_ms = svc->open_delay_ms;
	if (svc->open_delay_max_ms > svc->open_delay_ms)
		*delay_ms = rng_range(&st->rng, svc->open_delay_ms,
		    svc->open_delay_max_ms);
	return ANSWER_ACCEPT_OPEN;
}

void
answer_state_init(struct answer_state *st, uint64_t seed, uint64_t stream)
{
	memset(st, 0, sizeof(*st));
	rng_seed(&st->rng, seed, stream);
}

void
answer_state_free(struct answer_state *st)
{
	counts_free(&st->counts);
}
