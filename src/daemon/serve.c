/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "answer.h"
#include "listen.h"
#include "ring.h"
#include "rules.h"
#include "serve.h"

/* sd_event_now() is dozens of instructions: read once per dispatch */
static uint64_t
woke(const struct serve_ctx *ctx, clockid_t clock, uint64_t *v, bool *known)
{
	if (!*known) {
		*v = 0;
		sd_event_now(ctx->event, clock, v);
		*known = true;
	}
	return *v;
}

uint64_t
serve_now(struct serve_ctx *ctx)
{
	return woke(ctx, CLOCK_MONOTONIC, &ctx->woke_mono,
	    &ctx->woke_mono_known);
}

void
serve_forget_time(struct serve_ctx *ctx)
{
	ctx->woke_mono_known = ctx->woke_known = false;
}

void
serve_answered(struct serve_ctx *ctx, const struct answer *res,
    uint64_t conn, const struct listener *l, const char *client,
    size_t client_len, const void *msg, size_t len)
{
	struct ring_entry	 e, kept;
	uint64_t		 seq;
	size_t			 i = res->rule != NULL ? res->rule->index + 1 : 0;

	if (i < ctx->nrule_messages)
		ctx->rule_messages[i]++;
	if (ctx->ring == NULL)
		return;
	/* when the loop woke up for it */
	e.time_usec = woke(ctx, CLOCK_REALTIME, &ctx->woke_usec,
	    &ctx->woke_known);
	e.conn = conn;
	e.listener = l->index;
	e.full_len = len;
	e.client = client;
	e.client_len = client_len;
	e.rule = res->rule_label;
	e.rule_len = res->rule_label_len;
	e.msg = msg;
	e.msg_len = len;
	seq = ring_add(ctx->ring, &e, ctx->recorded != NULL ? &kept : NULL);
	/* read again: a wait the add's drops ended may have been the last */
	if (seq != 0 && ctx->recorded != NULL)
		ctx->recorded(ctx->recorded_arg, &kept);
}

void
serve_fill(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	struct serve_facts	*f = arg;
	union addr_any		 ss;
	socklen_t		 len = sizeof(ss);
	struct timespec		 ts;
	uint16_t		 port = 0;

	if (needs & TEMPLATE_NEED_TIME) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ctx->now_usec = (uint64_t)ts.tv_sec * 1000000 +
		    (uint64_t)ts.tv_nsec / 1000;
	}
	if (needs & TEMPLATE_NEED_SERVER) {
		f->address[0] = '\0';
		if (getsockname(f->fd, &ss.sa, &len) == 0)
			addr_format(&ss.sa, f->address, sizeof(f->address),
			    &port);
		ctx->server_address = f->address;
		ctx->server_port = port;
	}
}
