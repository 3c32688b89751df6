/* SPDX-License-Identifier: ISC */
/* UDP: each datagram is one message, answered with one datagram. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>

#include "addr.h"
#include "answer.h"
#include "bucket.h"
#include "dgram.h"
#include "frame.h"
#include "log.h"

#define DGRAM_BURST		64	/* datagrams per wake-up */
#define DGRAM_DELAYED_MAX	4096	/* delayed replies held at once */

/* A reply held back by a rule's delay_ms. */
struct delayed {
	struct delayed		*next;
	struct dgram		*d;
	sd_event_source		*timer;
	union addr_any		 peer;
	socklen_t		 peerlen;
	size_t			 len;
	char			 data[];
};

struct dgram {
	struct serve_ctx	*ctx;
	const struct listener	*l;
	sd_event_source		*src;
	struct answer_state	 story;		/* per listener */
	struct delayed		*delayed;
	size_t			 ndelayed;
	struct buf		 out;
	/* room for the largest datagram read, and a NUL */
	char			 rbuf[SERVE_READ_SIZE + 1];
};

static void
send_reply(struct serve_ctx *ctx, int fd, const char *p, size_t n,
    const union addr_any *to, socklen_t tolen, const char *peer)
{
	if (sendto(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL, &to->sa,
	    tolen) == -1)
		/* UDP may drop, and so may we: say so only when asked */
		log_debug("%s reply of %zu bytes not sent: %s", peer, n,
		    strerror(errno));
	else
		ctx->bytes_out += n;
}

static void
delayed_free(struct dgram *d, struct delayed *h)
{
	struct delayed	**pp;

	for (pp = &d->delayed; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	d->ndelayed--;
	sd_event_source_disable_unref(h->timer);
	free(h);
}

static int
delayed_due(sd_event_source *s, uint64_t usec, void *arg)
{
	struct delayed	*h = arg;

	(void)s;
	(void)usec;
	send_reply(h->d->ctx, h->d->l->fd, h->data, h->len, &h->peer, h->peerlen,
	    "delayed");
	delayed_free(h->d, h);
	return 0;
}

static void
hold(struct dgram *d, const union addr_any *peer, socklen_t peerlen,
    uint64_t delay_ms, const char *name)
{
	struct delayed	*h;

	if (d->ndelayed >= DGRAM_DELAYED_MAX ||
	    (h = calloc(1, sizeof(*h) + d->out.len)) == NULL) {
		log_warnx("%s delayed reply dropped: %zu already waiting",
		    name, d->ndelayed);
		d->ctx->errors++;
		return;
	}
	h->d = d;
	h->peer = *peer;
	h->peerlen = peerlen;
	h->len = d->out.len;
	if (h->len > 0)		/* an empty reply may have no buffer yet */
		memcpy(h->data, d->out.data, h->len);
	if (sd_event_add_time_relative(d->ctx->event, &h->timer,
	    CLOCK_MONOTONIC, delay_ms * 1000, SERVE_TIMER_ACCURACY_USEC,
	    delayed_due, h) < 0) {
		free(h);
		d->ctx->errors++;
		return;
	}
	h->next = d->delayed;
	d->delayed = h;
	d->ndelayed++;
}

/* The access list and the rate: whether this datagram is answered. */
static bool
admitted(struct dgram *d, const struct sockaddr *sa, const char *name)
{
	const struct conf_service *svc = d->l->svc;
	struct tally		*t;
	uint64_t		 now;
	bool			 ok;

	if (!addr_acl_permits(&svc->acl, sa)) {
		log_debug("%s datagram refused by the access list", name);
		d->ctx->refused++;
		return false;
	}
	if (svc->source_message_rate <= 0)
		return true;
	now = serve_now(d->ctx);
	if ((t = tallies_get(d->l->tallies, sa, now, svc->source_message_rate,
	    svc->source_message_burst)) == NULL)
		return true;
	/* no way to slow a UDP sender down: drop what is over the rate */
	ok = bucket_take(&t->bucket, now, svc->source_message_rate,
	    svc->source_message_burst) == 0;
	tallies_put(d->l->tallies, t, now, svc->source_message_rate,
	    svc->source_message_burst);
	if (!ok) {
		log_debug("%s datagram dropped: source_message_rate", name);
		d->ctx->refused++;
	}
	return ok;
}

static void
answer_datagram(struct dgram *d, size_t n, bool truncated,
    const union addr_any *peer, socklen_t peerlen)
{
	const struct conf_service *svc = d->l->svc;
	struct serve_facts	 facts;
	struct answer_env	 env;
	struct frame_msg	 m;
	struct log_fields	 f;
	struct answer		 res;
	char			 addr[ADDR_TEXT_MAX], name[ADDR_PEER_MAX];
	uint32_t		 copies;
	uint16_t		 port;

	addr_format(&peer->sa, addr, sizeof(addr), &port);
	addr_format_peer(addr, port, name, sizeof(name));
	if (!admitted(d, &peer->sa, name))
		return;
	d->ctx->messages++;
	d->ctx->bytes_in += n;

	facts.fd = d->l->fd;
	memset(&env, 0, sizeof(env));
	env.conf = d->ctx->conf;
	env.svc = svc;
	env.client = &peer->sa;
	env.client_address = addr;
	env.client_port = port;
	env.listener = d->l->name;
	env.hostname = d->ctx->hostname;
	env.message_number = 1;
	env.connections = d->ctx->nconns;
	env.datagram = true;
	env.fill = serve_fill;
	env.fill_arg = &facts;
	memset(&f, 0, sizeof(f));
	f.client_address = addr;
	f.client_port = port;
	f.listener = d->l->name;
	f.peer = name;
	f.peer_len = strlen(name);
	d->out.len = 0;

	if (frame_datagram(d->rbuf, n, truncated, svc->max_message_bytes,
	    &m) < 0) {
		d->ctx->errors++;
		log_client(LOG_WARNING, LOG_MSGID_TOO_LONG, &f, "%s datagram "
		    "longer than %zu bytes", name, svc->max_message_bytes);
		if (answer_notice(&env, ANSWER_TOO_LONG, &d->out) == 0)
			send_reply(d->ctx, d->l->fd, d->out.data, d->out.len, peer,
			    peerlen, name);
		return;
	}
	if (answer_message(&env, &m, &d->story, &d->out, &res) < 0) {
		d->ctx->errors++;
		return;
	}
	if (svc->log_messages && log_enabled(LOG_INFO)) {
		f.rule = res.rule_label;
		f.rule_len = res.rule_label_len;
		log_message(&f, LOG_KIND_DATAGRAM, 0, d->l->name, m.data,
		    m.len, svc->log_message_bytes);
	}
	serve_answered(d->ctx, &res, 0, d->l, name, f.peer_len, m.data,
	    m.len);
	/* an empty reply is still a datagram: the one answer to one message */
	if (res.silent)
		return;
	/* a duplicate is one more datagram, held back as long */
	copies = 1 + (res.fault != NULL ? res.fault->duplicate : 0);
	while (copies-- > 0) {
		if (res.delay_ms > 0)
			hold(d, peer, peerlen, res.delay_ms, name);
		else
			send_reply(d->ctx, d->l->fd, d->out.data, d->out.len, peer,
			    peerlen, name);
	}
}

static int
dgram_readable(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct dgram		*d = arg;
	union addr_any		 peer;
	socklen_t		 peerlen;
	size_t			 room, len;
	ssize_t			 n;
	int			 i;

	(void)s;
	(void)revents;
	/* room for the largest message and its line end */
	room = d->l->svc->max_message_bytes + 2;
	if (room > SERVE_READ_SIZE)
		room = SERVE_READ_SIZE;
	for (i = 0; i < DGRAM_BURST; i++) {
		peerlen = sizeof(peer);
		n = recvfrom(fd, d->rbuf, room, MSG_TRUNC, &peer.sa, &peerlen);
		if (n == -1) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			/* ICMP errors from earlier replies land here */
			log_debug("%s: recvfrom: %s", d->l->name,
			    strerror(errno));
			continue;
		}
		len = (size_t)n < room ? (size_t)n : room;
		d->rbuf[len] = '\0';
		answer_datagram(d, len, (size_t)n > room, &peer, peerlen);
	}
	return 0;
}

int
dgram_new(struct serve_ctx *ctx, const struct listener *l, struct dgram **out)
{
	struct dgram	*d;
	const char	*p;
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	int		 r;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	d->ctx = ctx;
	d->l = l;
	/* its draws by its name, apart from every connection's */
	for (p = l->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	answer_state_init(&d->story, ctx->seed, h | 1ULL << 63);
	if ((r = sd_event_add_io(ctx->event, &d->src, l->fd, EPOLLIN,
	    dgram_readable, d)) < 0) {
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

static void
release_delayed(struct dgram *d, bool send_them)
{
	struct delayed	*h;

	while ((h = d->delayed) != NULL) {
		if (send_them)
			send_reply(d->ctx, d->l->fd, h->data, h->len, &h->peer,
			    h->peerlen, "delayed");
		delayed_free(d, h);
	}
}

void
dgram_stop(struct dgram *d)
{
	d->src = sd_event_source_disable_unref(d->src);
	release_delayed(d, true);
}

void
dgram_free(struct dgram *d)
{
	if (d == NULL)
		return;
	sd_event_source_disable_unref(d->src);
	release_delayed(d, false);
	answer_state_free(&d->story);
	buf_free(&d->out);
	free(d);
}
