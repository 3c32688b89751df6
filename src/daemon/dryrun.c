/* SPDX-License-Identifier: ISC */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "answer.h"
#include "dryrun.h"
#include "escape.h"

/* No socket: the server's side is the default address. */
static void
dry_fill(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	struct timespec	 ts;

	(void)arg;
	if (needs & TEMPLATE_NEED_TIME) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ctx->now_usec = (uint64_t)ts.tv_sec * 1000000 +
		    (uint64_t)ts.tv_nsec / 1000;
	}
	if (needs & TEMPLATE_NEED_SERVER) {
		ctx->server_address = CONF_DEFAULT_ADDRESS;
		ctx->server_port = CONF_DEFAULT_PORT;
	}
}

/* What the rule (or the listener) does to the reply on its way. */
static void
print_fault(const struct conf_service *svc, const struct rules_fault *f)
{
	const char	*sep = "";
	uint64_t	 bw = svc->bandwidth;

	fputs("fault:", stdout);
#define ITEM(...)	do { printf("%s ", sep); printf(__VA_ARGS__); \
			    sep = ","; } while (0)
	if (f != NULL) {
		if (f->reset)
			ITEM("reset");
		if (f->half_close)
			ITEM("half_close");
		if (f->hang)
			ITEM("hang");
		if (f->hang_writes)
			ITEM("hang_writes");
		if (f->garbage > 0)
			ITEM("garbage %zu", f->garbage);
		if (f->truncates)
			ITEM("truncate %zu", f->truncate);
		if (f->keep_open)
			ITEM("keep_open");
		if (f->duplicate > 0)
			ITEM("duplicate %u", f->duplicate);
		if (f->chunk_bytes > 0)
			ITEM("chunks %u every %llu ms", f->chunk_bytes,
			    (unsigned long long)f->chunk_interval_ms);
		if (f->bandwidth > 0)
			bw = f->bandwidth;
		if (f->chunk_bytes > 0)
			bw = 0;
	}
	if (bw > 0)
		ITEM("bandwidth %llu B/s", (unsigned long long)bw);
#undef ITEM
	if (*sep == '\0')
		fputs(" none", stdout);
	fputc('\n', stdout);
}

static void
print_answer(const struct conf *conf, const struct answer *res,
    const struct buf *out)
{
	char	*esc;

	if (res->rule == NULL)
		printf("rule: default\n");
	else
		printf("rule: %s (%s:%u)\n", res->rule_label,
		    res->rule->file != NULL ? res->rule->file : conf->path,
		    res->rule->line);
	if (res->silent)
		printf("reply: none\n");
	else {
		if ((esc = malloc(ESCAPE_SIZE(out->len))) == NULL)
			err(1, NULL);
		printf("reply: \"%s\"\n", escape(esc, out->data, out->len,
		    out->len));
		free(esc);
	}
	printf("delay_ms: %llu\nclose: %s\n",
	    (unsigned long long)res->delay_ms, res->close ? "true" : "false");
	printf("state: %s -> %s\n", res->state, res->next_state);
	if (res->operator)
		printf("operator: asked first; the reply above goes when no "
		    "console answers\n");
}

int
dryrun(const struct conf *conf, char *const *msgs, size_t n,
    const char *client, const char *listener, const char *sni,
    uint64_t seed)
{
	struct template_tls	 tls = { "", "", "", "", "", "" };
	struct answer_state	 story;
	uint64_t		 open_delay;
	struct answer_env	 env;
	struct frame_msg	 m;
	struct answer		 res;
	union addr_any		 ss;
	struct buf		 out = { 0 };
	char			 addr[ADDR_TEXT_MAX], host[256];
	uint16_t		 port;
	size_t			 i;

	if (addr_parse_hostport(client, &ss) < 0) {
		fprintf(stderr, "echoreplyd: --client %s: not an address or "
		    "address:port\n", client);
		return EX_USAGE;
	}
	addr_format(&ss.sa, addr, sizeof(addr), &port);
	if (listener == NULL)
		listener = conf->listeners[0].name;
	if (gethostname(host, sizeof(host) - 1) == -1)
		strlcpy(host, "localhost", sizeof(host));
	memset(&env, 0, sizeof(env));
	env.conf = conf;
	env.svc = config_service(conf, listener);
	env.client = &ss.sa;
	env.client_address = addr;
	env.client_port = port;
	env.listener = listener;
	env.hostname = host;
	env.connections = 1;
	env.fill = dry_fill;
	/* no handshake: of what TLS agrees on, only the name asked for */
	if (sni != NULL || env.svc->tls.on) {
		tls.sni = sni != NULL ? sni : "";
		env.tls = &tls;
	}
	/* as the first connection would, its draws at accept first */
	answer_state_init(&story, seed, 1);
	(void)answer_accept(&story, env.svc, &open_delay);
	for (i = 0; i < n; i++) {
		env.message_number = i + 1;
		m.data = msgs[i];
		m.len = strlen(msgs[i]);
		m.term = "";
		m.term_len = 0;
		if (env.svc->framing.mode == FRAME_LINE) {
			m.term = "\n";
			m.term_len = 1;
		} else if (env.svc->framing.mode == FRAME_DELIMITER) {
			m.term = env.svc->framing.delim;
			m.term_len = env.svc->framing.delim_len;
		}
		out.len = 0;
		if (answer_message(&env, &m, &story, &out, &res) < 0)
			err(1, NULL);
		print_answer(conf, &res, &out);
		print_fault(env.svc, res.fault);
	}
	answer_state_free(&story);
	buf_free(&out);
	return 0;
}
