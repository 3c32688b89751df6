/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "serve.h"

uint64_t
serve_now(const struct serve_ctx *ctx)
{
	uint64_t	 t = 0;

	sd_event_now(ctx->event, CLOCK_MONOTONIC, &t);
	return t;
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
