/* UDP: each datagram is one message, answered with one datagram. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "frame.h"
#include "reply.h"
#include "rules.h"
#include "server-internal.h"

#define DGRAM_BURST		64	/* datagrams per wake-up */
#define DGRAM_DELAYED_MAX	4096	/* delayed replies held at once */

struct dgram_fill {
	int	 fd;
	char	 addr[INET6_ADDRSTRLEN];
};

static void
fill_costly(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	struct dgram_fill	*f = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	uint16_t		 port = 0;

	if (needs & TEMPLATE_NEED_TIME) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ctx->now_usec = (uint64_t)ts.tv_sec * 1000000 +
		    (uint64_t)ts.tv_nsec / 1000;
	}
	if (needs & TEMPLATE_NEED_SERVER) {
		f->addr[0] = '\0';
		if (getsockname(f->fd, (struct sockaddr *)&ss, &len) == 0)
			server_format_peer(&ss, f->addr, sizeof(f->addr),
			    &port);
		ctx->server_address = f->addr;
		ctx->server_port = port;
	}
}

static uint32_t *
cycle_for(struct lsource *ls)
{
	struct server	*srv = ls->srv;
	size_t		 n = rules_cycle_slots(srv->conf->rules);

	if (n == 0)
		return NULL;
	if (ls->cycle == NULL || ls->cycle_gen != srv->conf_gen) {
		free(ls->cycle);
		ls->cycle = calloc(n, sizeof(*ls->cycle));
		ls->cycle_gen = srv->conf_gen;
	}
	return ls->cycle;
}

static void
send_reply(int fd, const char *p, size_t n, const struct sockaddr_storage *ss,
    socklen_t sslen, const char *peer)
{
	if (sendto(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (const struct sockaddr *)ss, sslen) == -1)
		/* UDP may drop, and so may we: say so only when asked */
		log_debug("%s reply of %zu bytes not sent: %s", peer, n,
		    strerror(errno));
}

static int
delayed_due(sd_event_source *s, uint64_t usec, void *arg)
{
	struct dgram_delayed	 *d = arg, **pp;
	struct server		 *srv = d->srv;

	(void)s;
	(void)usec;
	send_reply(d->fd, d->data, d->len, &d->peer, d->peerlen, "delayed");
	for (pp = &srv->delayed; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	srv->ndelayed--;
	sd_event_source_disable_unref(d->timer);
	free(d);
	return 0;
}

static void
hold(struct server *srv, int fd, const struct sockaddr_storage *ss,
    socklen_t sslen, const char *p, size_t n, uint64_t delay_ms,
    const char *peer)
{
	struct dgram_delayed	*d;

	if (srv->ndelayed >= DGRAM_DELAYED_MAX ||
	    (d = calloc(1, sizeof(*d) + n)) == NULL) {
		log_warnx("%s delayed reply dropped: %zu already waiting",
		    peer, srv->ndelayed);
		srv->errors++;
		return;
	}
	d->srv = srv;
	d->fd = fd;
	d->peer = *ss;
	d->peerlen = sslen;
	d->len = n;
	memcpy(d->data, p, n);
	if (sd_event_add_time_relative(srv->event, &d->timer, CLOCK_MONOTONIC,
	    delay_ms * 1000, TIMER_ACCURACY_USEC, delayed_due, d) < 0) {
		free(d);
		srv->errors++;
		return;
	}
	d->next = srv->delayed;
	srv->delayed = d;
	srv->ndelayed++;
}

void
dgram_flush_delayed(struct server *srv, bool send_them)
{
	struct dgram_delayed	*d;

	while ((d = srv->delayed) != NULL) {
		srv->delayed = d->next;
		if (send_them)
			send_reply(d->fd, d->data, d->len, &d->peer,
			    d->peerlen, "delayed");
		sd_event_source_disable_unref(d->timer);
		free(d);
	}
	srv->ndelayed = 0;
}

/* Access list and rate: whether this datagram is answered at all. */
static bool
admitted(struct server *srv, const struct sockaddr_storage *ss,
    const char *peer)
{
	const struct conf	*conf = srv->conf;
	const struct sockaddr	*sa = (const struct sockaddr *)ss;
	struct source		*src;
	uint64_t		 now;
	bool			 ok;

	if ((conf->nallow > 0 && !rules_nets_match(conf->allow, conf->nallow,
	    sa)) || rules_nets_match(conf->deny, conf->ndeny, sa)) {
		log_debug("%s datagram refused by the access list", peer);
		srv->errors++;
		return false;
	}
	if (conf->source_message_rate <= 0 ||
	    (src = sources_get(srv->sources, sa)) == NULL)
		return true;
	/* no way to slow a UDP sender down: drop what is over the rate */
	now = server_now(srv);
	ok = source_take(src, now, conf->source_message_rate,
	    conf->source_message_burst) == 0;
	sources_put(srv->sources, src, now, conf->source_message_rate,
	    conf->source_message_burst);
	if (!ok) {
		log_debug("%s datagram dropped: source_message_rate", peer);
		srv->errors++;
	}
	return ok;
}

static void
answer(struct lsource *ls, int fd, char *data, size_t n, bool truncated,
    const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct server		*srv = ls->srv;
	const struct conf	*conf = srv->conf;
	struct template_ctx	 ctx;
	struct dgram_fill	 fill;
	struct frame_msg	 m;
	struct log_fields	 f;
	struct reply		 res;
	char			 addr[INET6_ADDRSTRLEN], peer[INET6_ADDRSTRLEN + 8];
	char			 label[32];
	uint16_t		 port;

	server_format_peer(ss, addr, sizeof(addr), &port);
	snprintf(peer, sizeof(peer), strchr(addr, ':') ? "[%s]:%u" : "%s:%u",
	    addr, port);
	if (!admitted(srv, ss, peer))
		return;
	ls->datagrams++;
	srv->messages++;

	memset(&ctx, 0, sizeof(ctx));
	ctx.client_address = addr;
	ctx.client_port = port;
	ctx.listener = ls->l->name;
	ctx.hostname = srv->hostname;
	ctx.message_number = 1;
	ctx.connections = srv->nconns;
	ctx.max_message_bytes = conf->max_message_bytes;
	memset(&f, 0, sizeof(f));
	f.client_address = addr;
	f.client_port = port;
	f.listener = ls->l->name;
	fill.fd = fd;
	srv->wbuf.len = 0;

	if (truncated) {
		srv->errors++;
		log_client(LOG_WARNING, LOG_MSGID_TOO_LONG, &f, "%s datagram "
		    "longer than %zu bytes", peer, conf->max_message_bytes);
		if (template_needs(conf->too_long_reply))
			fill_costly(&ctx, template_needs(conf->too_long_reply),
			    &fill);
		if (template_render(conf->too_long_reply, &ctx,
		    &srv->wbuf) == 0)
			send_reply(fd, srv->wbuf.data, srv->wbuf.len, ss, sslen,
			    peer);
		srv->wbuf.len = 0;
		return;
	}

	/* a trailing line end is not part of the message; it comes back */
	m.data = data;
	m.len = n;
	m.term = "";
	if (n > 0 && data[n - 1] == '\n') {
		m.len--;
		m.term = "\n";
		if (m.len > 0 && data[m.len - 1] == '\r') {
			m.len--;
			m.term = "\r\n";
		}
	}
	m.term_len = strlen(m.term);

	if (reply_build(conf, &m, (const struct sockaddr *)ss, &ctx,
	    fill_costly, &fill, cycle_for(ls), &srv->wbuf, &res) < 0) {
		srv->wbuf.len = 0;
		srv->errors++;
		return;
	}
	if (conf->log_messages && log_enabled(LOG_INFO)) {
		f.rule = res.rule ? reply_rule_label(res.rule, label,
		    sizeof(label)) : NULL;
		log_message(&f, peer, "datagram", 0, ls->l->name, m.data,
		    m.len, conf->log_message_bytes);
	}
	if (res.silent || srv->wbuf.len == 0)
		;
	else if (res.delay_ms > 0)
		hold(srv, fd, ss, sslen, srv->wbuf.data, srv->wbuf.len,
		    res.delay_ms, peer);
	else
		send_reply(fd, srv->wbuf.data, srv->wbuf.len, ss, sslen, peer);
	srv->wbuf.len = 0;
}

/* Whether a datagram of n bytes (room of them read) is over the limit. */
static bool
too_long(const char *p, size_t n, size_t room, size_t max)
{
	size_t	 body = n;

	if (n > room)
		return true;
	if (body > 0 && p[body - 1] == '\n')
		body--;
	if (body > 0 && p[n - 1] == '\n' && p[body - 1] == '\r')
		body--;
	return body > max;
}

int
dgram_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct lsource		*ls = arg;
	struct server		*srv = ls->srv;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	size_t			 room;
	ssize_t			 n;
	int			 i;

	(void)s;
	(void)revents;
	/* room for the largest message and its line end */
	room = srv->conf->max_message_bytes + 2;
	if (room > READ_SIZE)
		room = READ_SIZE;
	for (i = 0; i < DGRAM_BURST; i++) {
		sslen = sizeof(ss);
		n = recvfrom(fd, srv->rbuf, room, MSG_TRUNC,
		    (struct sockaddr *)&ss, &sslen);
		if (n == -1) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			/* ICMP errors from earlier replies land here */
			log_debug("%s: recvfrom: %s", ls->l->name,
			    strerror(errno));
			continue;
		}
		srv->rbuf[(size_t)n < room ? (size_t)n : room] = '\0';
		answer(ls, fd, srv->rbuf, (size_t)n < room ? (size_t)n : room,
		    too_long(srv->rbuf, (size_t)n, room,
		    srv->conf->max_message_bytes), &ss, sslen);
	}
	return 0;
}
