/* SPDX-License-Identifier: ISC */
/*
 * The server: listeners on the loop, accepting and admitting clients,
 * the books on connections (how many, from where, idle for how long),
 * the log's flush, reload and shutdown. What one connection does is in
 * conn.c, one datagram in dgram.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "answer.h"
#include "conn.h"
#include "dgram.h"
#include "ring.h"
#include "rules.h"
#include "log.h"
#include "monotonic.h"
#include "server.h"
#include "serve.h"
#include "tally.h"
#include "transport-tls.h"

#define ACCEPT_BURST		64
#define ACCEPT_PAUSE_USEC	(100 * 1000)
#define CONN_BATCH		256	/* connection events per epoll_wait */
#define CONN_SLICE_NS		(200 * 1000)	/* of them per dispatch */
#define LOG_RETRY_USEC		(100 * 1000)
/* descriptors besides the clients': the loop, timers, the journal, ... */
#define FILES_SPARE		32

struct server;

/* One listening socket on the loop. */
struct lsock {
	struct server		*srv;
	struct listener		*l;
	sd_event_source		*src;		/* stream: accepting */
	struct dgram		*dgram;		/* UDP */
	sd_event_source		*idle_timer;	/* its idle_timeout_ms */
	sd_event_source		*rest_timer;	/* TLS: REST_USEC */
};

struct server {
	uint64_t		 random_seed;	/* when the file sets none */
	struct serve_ctx	 ctx;
	struct listener		*ls;
	size_t			 nls;
	struct lsock		*lsocks;
	sd_event_source		*accept_pause;
	sd_event_source		*shutdown_timer;
	/*
	 * Connections live in an epoll set of their own, one sd-event source
	 * for all: sd-event would poll once per connection it dispatches.
	 * A batch's events are handled for CONN_SLICE_NS at most per
	 * dispatch; cmore comes back for the rest (batch_i on).
	 */
	sd_event_source		*csrc, *cmore;
	struct epoll_event	 batch[CONN_BATCH];
	int			 batch_i, batch_n;
	sd_event_source		*log_timer;
	const struct tls_set	*tls;		/* the configuration's */
	bool			 full;		/* refusing: max_connections */
	size_t			 max_conns;	/* that, or what files allow */
	bool			 stopping;
	bool			 fd_exhausted;
	uint64_t		 accepted;	/* names Unix stream clients */
	uint64_t		 started;	/* CLOCK_MONOTONIC */
	size_t			 control_clients;
	char			 hostname[256];
	char			 rbuf[SERVE_READ_SIZE + 1];
};

/*
 * How long a TLS connection keeps its record buffers once quiet: a busy
 * one keeps them from record to record, a quiet one costs what an idle
 * one does (conn_rest()).
 */
#define REST_USEC	(100 * 1000)

static void	idle_arm(struct lsock *);
static void	rest_arm(struct lsock *);

static int
idle_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct lsock		*ls = arg;
	struct listener		*l = ls->l;
	uint64_t		 now = serve_now(&ls->srv->ctx), limit;
	struct idle_entry	*e;
	struct conn		*c;

	(void)s;
	(void)usec;
	limit = l->svc->idle_timeout_ms * 1000;
	while ((e = l->idle.head) != NULL && limit > 0 &&
	    e->active + limit <= now) {
		c = conn_of_idle(e);
		if (conn_waiting(c)) {
			/* waiting on us, or on its own timer: not idle */
			if (idle_touch(&l->idle, e, now))
				rest_arm(ls);
			continue;
		}
		conn_close(c, "idle timeout");
	}
	tallies_reap(l->tallies, now, l->svc->source_message_rate,
	    l->svc->source_message_burst);
	idle_arm(ls);
	return 0;
}

/*
 * Arms a listener's timer *t for when (or stops it, when is 0), making it
 * the first time: one that is armed re-arms itself when it fires, and the
 * list it times only moves later, so it is never late.
 */
static void
timer_arm(struct lsock *ls, sd_event_source **t, uint64_t when,
    uint64_t accuracy, sd_event_time_handler_t fn, const char *what)
{
	if (when == 0) {
		if (*t != NULL)
			sd_event_source_set_enabled(*t, SD_EVENT_OFF);
		return;
	}
	if (*t == NULL) {
		if (sd_event_add_time(ls->srv->ctx.event, t, CLOCK_MONOTONIC,
		    when, accuracy, fn, ls) < 0)
			log_warnx("%s: cannot arm the %s timer", ls->l->name,
			    what);
		return;
	}
	if (sd_event_source_get_enabled(*t, NULL) > 0)
		return;
	sd_event_source_set_time(*t, when);
	sd_event_source_set_enabled(*t, SD_EVENT_ONESHOT);
}

/*
 * Arms the listener's idle timer for its least recently active connection:
 * each listener has its own timeout, so its own list and timer.
 */
static void
idle_arm(struct lsock *ls)
{
	const struct listener	*l = ls->l;
	uint64_t		 limit = l->svc->idle_timeout_ms * 1000;

	timer_arm(ls, &ls->idle_timer, l->idle.head == NULL || limit == 0 ?
	    0 : l->idle.head->active + limit, 100 * 1000, idle_expired,
	    "idle");
}

static int
rest_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct lsock		*ls = arg;
	uint64_t		 now = serve_now(&ls->srv->ctx);
	struct idle_entry	*e;

	(void)s;
	(void)usec;
	while (now >= REST_USEC &&
	    (e = idle_rest_next(&ls->l->idle, now - REST_USEC)) != NULL)
		conn_rest(conn_of_idle(e));
	rest_arm(ls);
	return 0;
}

/*
 * Arms the listener's rest timer for its least recently active connection
 * not rested since, or stops it when all are: the touch that ends that
 * calls here again (restless()).
 */
static void
rest_arm(struct lsock *ls)
{
	const struct idle_entry	*e = idle_unrested(&ls->l->idle);

	timer_arm(ls, &ls->rest_timer, ls->l->nresting == 0 || e == NULL ? 0 :
	    e->active + REST_USEC, REST_USEC / 2, rest_expired, "TLS rest");
}

static void
restless(struct listener *l, void *arg)
{
	struct server	*srv = arg;

	rest_arm(&srv->lsocks[l->index]);
}

/* The server's books on a connection that is closing. */
static void
conn_closed(struct conn *c, void *arg)
{
	struct server		*srv = arg;
	int			 i;

	/* forget it in the batch being handled */
	for (i = srv->batch_i; i < srv->batch_n; i++)
		if (srv->batch[i].data.ptr == c)
			srv->batch[i].data.ptr = NULL;
	if (c->tally != NULL) {
		c->tally->conns--;
		tallies_put(c->l->tallies, c->tally, serve_now(&srv->ctx),
		    c->l->svc->source_message_rate,
		    c->l->svc->source_message_burst);
	}
	srv->ctx.nconns--;
	c->l->nconns--;
	if (srv->full && srv->ctx.nconns < srv->max_conns) {
		srv->full = false;
		log_info("accepting new connections again");
	}
	if (c->l->full && c->l->nconns < c->l->svc->max_connections) {
		c->l->full = false;
		log_info("%s: accepting new connections again", c->l->name);
	}
	if (srv->stopping && srv->ctx.nconns == 0)
		sd_event_exit(srv->ctx.event, 0);
}

/* Sends the refusal (once, without waiting) and closes. */
static void
refuse(struct server *srv, const struct listener *l, int fd,
    const char *addr, uint16_t port)
{
	struct answer_env	 env;
	struct serve_facts	 facts = { .fd = fd };
	struct buf		 out = { 0 };

	memset(&env, 0, sizeof(env));
	env.conf = srv->ctx.conf;
	env.svc = l->svc;
	env.client_address = addr;
	env.client_port = port;
	env.listener = l->name;
	env.hostname = srv->hostname;
	env.connections = srv->ctx.nconns;
	env.fill = serve_fill;
	env.fill_arg = &facts;
	if (answer_notice(&env, ANSWER_REFUSED, &out) == 0 && out.len > 0)
		(void)send(fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	buf_free(&out);
	shutdown(fd, SHUT_WR);
	close(fd);
	srv->ctx.refused++;
}

/*
 * The books of a client address on l when a per-source limit or rate
 * applies: its tally (NULL when none applies, or there is no memory for
 * it; the client is let in). With *over set the address already has its
 * max_connections_per_source open, *conns of them, and the tally was given
 * back. The one place both admissions decide it.
 */
static struct tally *
source_tally(struct server *srv, struct listener *l,
    const struct sockaddr *sa, bool *over, unsigned int *conns)
{
	const struct conf_service *svc = l->svc;
	struct tally		*t;

	*over = false;
	if (svc->max_connections_per_source == 0 &&
	    svc->source_message_rate == 0)
		return NULL;
	if ((t = tallies_get(l->tallies, sa, serve_now(&srv->ctx),
	    svc->source_message_rate, svc->source_message_burst)) == NULL)
		return NULL;
	if (svc->max_connections_per_source > 0 &&
	    t->conns >= svc->max_connections_per_source) {
		*over = true;
		*conns = t->conns;
		tallies_put(l->tallies, t, serve_now(&srv->ctx),
		    svc->source_message_rate, svc->source_message_burst);
		return NULL;
	}
	return t;
}

/*
 * The client a PROXY header named, admitted as admit() does on accept:
 * the access list, then the per-source limit of the listener.
 */
static int
admit_proxied(struct conn *c, void *arg)
{
	struct server		*srv = arg;
	struct listener		*l = c->l;
	const struct conf_service *svc = l->svc;
	struct tally		*t;
	unsigned int		 conns;
	bool			 over;

	if (!addr_acl_permits(&svc->acl, &c->sa.sa)) {
		log_info("%s (via %s) refused by the access list", c->peer,
		    c->proxy_addr);
		srv->ctx.refused++;
		conn_close(c, "refused by the access list");
		return CONN_GONE;
	}
	t = source_tally(srv, l, &c->sa.sa, &over, &conns);
	if (over) {
		log_info("%s (via %s) refused: %u connections from it "
		    "(max_connections_per_source)", c->peer, c->proxy_addr,
		    conns);
		conn_refuse(c, "refused: max_connections_per_source");
		return 1;
	}
	if (t != NULL) {
		t->conns++;
		c->tally = t;
	}
	return 0;
}

/*
 * Access lists and connection limits, before anything is read. Returns
 * false when the connection was refused (and closed). Behind a PROXY
 * listener the peer is the balancer: it must be in proxy_networks, and
 * the client's own checks wait for the header (admit_proxied()).
 */
static bool
admit(struct server *srv, struct listener *l, int fd,
    const union addr_any *ss, struct tally **tp)
{
	const struct conf_service *svc = l->svc;
	char			 addr[ADDR_TEXT_MAX];
	uint16_t		 port;
	unsigned int		 conns;
	bool			 over;

	*tp = NULL;
	if (svc->proxy_versions != 0 &&
	    !addr_acl_permits(&svc->proxy_acl, &ss->sa)) {
		addr_format(&ss->sa, addr, sizeof(addr), &port);
		log_warnx("%s port %u refused: not in proxy_networks of %s",
		    addr, port, l->name);
		close(fd);
		srv->ctx.refused++;
		return false;
	}
	if (svc->proxy_versions == 0 && !addr_acl_permits(&svc->acl, &ss->sa)) {
		addr_format(&ss->sa, addr, sizeof(addr), &port);
		log_info("%s port %u refused by the access list", addr, port);
		close(fd);
		srv->ctx.refused++;
		return false;
	}
	if (srv->ctx.nconns >= srv->max_conns) {
		addr_format(&ss->sa, addr, sizeof(addr), &port);
		if (!srv->full)
			log_warnx("refusing new connections: %zu open "
			    "(max_connections)", srv->ctx.nconns);
		srv->full = true;
		log_debug("%s port %u refused: max_connections", addr, port);
		refuse(srv, l, fd, addr, port);
		return false;
	}
	if (l->nconns >= svc->max_connections) {
		addr_format(&ss->sa, addr, sizeof(addr), &port);
		if (!l->full)
			log_warnx("%s: refusing new connections: %zu open "
			    "(its max_connections)", l->name, l->nconns);
		l->full = true;
		log_debug("%s port %u refused: max_connections of %s", addr,
		    port, l->name);
		refuse(srv, l, fd, addr, port);
		return false;
	}
	if (svc->proxy_versions != 0)
		return true;	/* the rest once the client is known */
	*tp = source_tally(srv, l, &ss->sa, &over, &conns);
	if (over) {
		addr_format(&ss->sa, addr, sizeof(addr), &port);
		log_info("%s port %u refused: %u connections from it "
		    "(max_connections_per_source)", addr, port, conns);
		refuse(srv, l, fd, addr, port);
		return false;
	}
	return true;
}

static void
accepted(struct lsock *ls, int fd, const union addr_any *ss)
{
	struct server	*srv = ls->srv;
	struct listener	*l = ls->l;
	struct tally	*t;
	struct conn	*c;

	if (!admit(srv, l, fd, ss, &t))
		return;
	srv->accepted++;
	if ((c = conn_new(&srv->ctx, l, fd, ss, t, srv->accepted)) == NULL) {
		tallies_put(l->tallies, t, serve_now(&srv->ctx),
		    l->svc->source_message_rate, l->svc->source_message_burst);
		return;
	}
	srv->ctx.nconns++;
	l->nconns++;
	if (t != NULL)
		t->conns++;
	idle_arm(ls);
	rest_arm(ls);
	(void)conn_start(c);
}

static void
listeners_enable(struct server *srv, bool on)
{
	size_t	 i;

	for (i = 0; i < srv->nls; i++)
		if (srv->lsocks[i].src != NULL)
			sd_event_source_set_enabled(srv->lsocks[i].src,
			    on ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int
accept_resume(sd_event_source *s, uint64_t usec, void *arg)
{
	struct server	*srv = arg;

	(void)s;
	(void)usec;
	srv->accept_pause = sd_event_source_disable_unref(srv->accept_pause);
	if (!srv->stopping)
		listeners_enable(srv, true);
	return 0;
}

static void
accept_pause(struct server *srv, const struct listener *l)
{
	if (!srv->fd_exhausted)
		log_warn("%s: accept; pausing new connections", l->name);
	srv->fd_exhausted = true;
	listeners_enable(srv, false);
	if (srv->accept_pause == NULL &&
	    sd_event_add_time_relative(srv->ctx.event, &srv->accept_pause,
	    CLOCK_MONOTONIC, ACCEPT_PAUSE_USEC, 0, accept_resume, srv) < 0)
		listeners_enable(srv, true);
}

static int
on_accept(sd_event_source *s, int lfd, uint32_t revents, void *arg)
{
	struct lsock		*ls = arg;
	struct server		*srv = ls->srv;
	union addr_any		 ss;
	socklen_t		 sslen;
	int			 i, fd;

	(void)s;
	(void)revents;
	for (i = 0; i < ACCEPT_BURST; i++) {
		sslen = sizeof(ss);
		fd = accept4(lfd, &ss.sa, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
				return 0;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				accept_pause(srv, ls->l);
				return 0;
			default:
				log_warn("%s: accept", ls->l->name);
				return 0;
			}
		}
		if (srv->fd_exhausted) {
			log_info("accepting new connections again");
			srv->fd_exhausted = false;
		}
		accepted(ls, fd, &ss);
	}
	return 0;
}

static int
log_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	(void)s;
	(void)usec;
	(void)arg;
	log_flush();	/* server_dispatched() re-arms this if need be */
	return 0;
}

/*
 * After every dispatch of the loop (main.c runs it one sd_event_run() at a
 * time): what the handlers logged goes out in one write. An sd-event post
 * source would do the same at the price of one more loop iteration (an
 * epoll_wait and a gettid) per wake-up. The clocks the dispatch read are
 * forgotten: the next one reads its own.
 */
void
server_dispatched(struct server *srv)
{
	serve_forget_time(&srv->ctx);
	log_flush();
	/* the sink would block: try again soon, even if all is quiet */
	if (log_pending() && (srv->log_timer == NULL ||
	    sd_event_source_get_enabled(srv->log_timer, NULL) == 0)) {
		if (srv->log_timer == NULL)
			sd_event_add_time_relative(srv->ctx.event,
			    &srv->log_timer, CLOCK_MONOTONIC, LOG_RETRY_USEC,
			    0, log_retry, srv);
		else {
			sd_event_source_set_time_relative(srv->log_timer,
			    LOG_RETRY_USEC);
			sd_event_source_set_enabled(srv->log_timer,
			    SD_EVENT_ONESHOT);
		}
	}
}

/*
 * The connections' events, for CONN_SLICE_NS at most: then the loop
 * turns (a control command, an accept, a timer waits no longer than
 * that behind a busy batch) and cmore comes back for the rest. The
 * events were taken from an edge-triggered set: they are kept, not
 * asked for again. batch_i is the first not yet handled.
 */
static int
conns_ready(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct server		*srv = arg;
	struct epoll_event	 ev;
	uint64_t		 start;
	int			 n;

	(void)s;
	(void)fd;
	(void)revents;
	if (srv->batch_i == srv->batch_n) {
		n = epoll_wait(srv->ctx.epoll_fd, srv->batch, CONN_BATCH, 0);
		if (n == -1) {
			if (errno != EINTR)
				log_warn("epoll_wait");
			return 0;
		}
		srv->batch_i = 0;
		srv->batch_n = n;
	}
	start = mono_ns();
	while (srv->batch_i < srv->batch_n) {
		ev = srv->batch[srv->batch_i++];
		/* NULL: closed by an earlier event of this batch */
		if (ev.data.ptr != NULL)
			(void)conn_event(ev.data.ptr, ev.events, srv->rbuf);
		if (srv->batch_i < srv->batch_n &&
		    mono_ns() - start >= CONN_SLICE_NS) {
			(void)sd_event_source_set_enabled(srv->cmore,
			    SD_EVENT_ONESHOT);
			return 0;
		}
	}
	srv->batch_i = srv->batch_n = 0;
	return 0;
}

static int
conns_more(sd_event_source *s, void *arg)
{
	struct server	*srv = arg;

	return conns_ready(s, srv->ctx.epoll_fd, EPOLLIN, srv);
}

/*
 * Messages by rule start again with each rule set (a counter reset to
 * whoever scrapes them): rule 3 of the new file need not be the old one.
 */
static void
set_rule_counts(struct server *srv, const struct conf *conf)
{
	size_t	 n = rules_count(conf->rules) + 1;
	uint64_t *p;

	if ((p = calloc(n, sizeof(*p))) == NULL) {
		log_warnx("out of memory for the counts by rule");
		n = 0;
	}
	free(srv->ctx.rule_messages);
	srv->ctx.rule_messages = p;
	srv->ctx.nrule_messages = n;
}

/* Each listener serves with its own settings from conf. */
static void
set_services(struct server *srv, const struct conf *conf)
{
	size_t	 i;

	for (i = 0; i < srv->nls; i++) {
		srv->ls[i].svc = config_service(conf, srv->ls[i].name);
		srv->ls[i].tls = srv->ls[i].type == SOCK_STREAM ?
		    tls_set_find(srv->tls, srv->ls[i].svc) : NULL;
		if (srv->ls[i].tallies != NULL)
			tallies_set_max(srv->ls[i].tallies,
			    srv->ls[i].svc->max_sources);
	}
}

/*
 * max_connections, or fewer when the open file limit could not hold them:
 * past it clients get refuse_reply, not a wait in the backlog while accept
 * fails. Warns once per configuration.
 */
static void
set_limit(struct server *srv, const struct conf *conf)
{
	struct rlimit	 rl;
	size_t		 spare = FILES_SPARE + srv->nls, room;

	srv->max_conns = conf->max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return;
	room = rl.rlim_cur > spare ? (size_t)rl.rlim_cur - spare : 1;
	if (room >= srv->max_conns)
		return;
	log_warnx("max_connections is %zu but the open file limit (%llu) "
	    "leaves room for %zu: the connections past them are refused",
	    conf->max_connections, (unsigned long long)rl.rlim_cur, room);
	srv->max_conns = room;
}

/*
 * The seed of every draw: the file's, or the one chosen at start, said
 * whenever it comes into use (old: the configuration before; NULL).
 */
static void
set_seed(struct server *srv, const struct conf *conf, const struct conf *old)
{
	srv->ctx.seed = conf->seeded ? conf->seed : srv->random_seed;
	if (!conf->seeded && (old == NULL || old->seeded))
		log_info("random seed %llu (set 'seed' to repeat the draws)",
		    (unsigned long long)srv->random_seed);
}

int
server_new(sd_event *e, const struct conf *conf, const struct tls_set *tls,
    struct listener *ls, size_t nls, struct server **out)
{
	struct server	*srv;
	size_t		 i;
	int		 r;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return -ENOMEM;
	srv->ctx.event = sd_event_ref(e);
	srv->ctx.conf = conf;
	srv->ctx.epoll_fd = -1;
	srv->ctx.rbuf = srv->rbuf;
	srv->ctx.hostname = srv->hostname;
	srv->ctx.closed = conn_closed;
	srv->ctx.admit = admit_proxied;
	srv->ctx.restless = restless;
	srv->ctx.arg = srv;
	if (gethostname(srv->hostname, sizeof(srv->hostname) - 1) == -1)
		strlcpy(srv->hostname, "localhost", sizeof(srv->hostname));
	srv->ls = ls;
	srv->nls = nls;
	srv->tls = tls;
	srv->started = serve_now(&srv->ctx);
	if (conf->recorded_messages > 0 && (srv->ctx.ring =
	    ring_new(conf->recorded_messages, conf->recorded_bytes)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	set_rule_counts(srv, conf);
	set_services(srv, conf);
	set_limit(srv, conf);
	/* small enough to be pasted as it is logged: libconfig wants an
	 * L after a larger integer */
	srv->random_seed = arc4random() & INT32_MAX;
	set_seed(srv, conf, NULL);
	if ((srv->lsocks = calloc(nls, sizeof(*srv->lsocks))) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < nls; i++) {
		srv->lsocks[i].srv = srv;
		srv->lsocks[i].l = &ls[i];
		ls[i].index = (unsigned int)i;
		if ((ls[i].tallies = tallies_new(ls[i].svc->max_sources)) ==
		    NULL) {
			r = -ENOMEM;
			goto fail;
		}
		if (ls[i].type == SOCK_DGRAM)
			r = dgram_new(&srv->ctx, &ls[i], &srv->lsocks[i].dgram);
		else
			r = sd_event_add_io(e, &srv->lsocks[i].src, ls[i].fd,
			    EPOLLIN, on_accept, &srv->lsocks[i]);
		if (r < 0)
			goto fail;
	}
	if ((srv->ctx.epoll_fd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = sd_event_add_io(e, &srv->csrc, srv->ctx.epoll_fd, EPOLLIN,
	    conns_ready, srv)) < 0 ||
	    (r = sd_event_add_defer(e, &srv->cmore, conns_more, srv)) < 0 ||
	    (r = sd_event_source_set_enabled(srv->cmore, SD_EVENT_OFF)) < 0)
		goto fail;
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return r;
}

/*
 * Per-source limits and rates a reload turned on count the connections
 * already open as well, and apply to them from their next message. One
 * still waiting for its PROXY header is counted when the header comes;
 * one already closing is not counted.
 */
static void
tally_open(struct server *srv)
{
	const struct conf_service *svc;
	struct idle_entry	*e;
	struct listener		*l;
	struct conn		*c;
	struct tally		*t;
	size_t			 i;

	for (i = 0; i < srv->nls; i++) {
		l = &srv->ls[i];
		svc = l->svc;
		if (svc->max_connections_per_source == 0 &&
		    svc->source_message_rate == 0)
			continue;
		for (e = l->idle.head; e != NULL; e = e->next) {
			c = conn_of_idle(e);
			if (c->tally != NULL || c->proxy_wait || c->closing ||
			    (t = tallies_get(l->tallies, &c->sa.sa,
			    serve_now(&srv->ctx), svc->source_message_rate,
			    svc->source_message_burst)) == NULL)
				continue;
			t->conns++;
			c->tally = t;
		}
	}
}

const struct conf *
server_set_conf(struct server *srv, const struct conf *conf,
    const struct tls_set *tls)
{
	const struct conf	*old = srv->ctx.conf;
	size_t			 i;

	srv->ctx.conf = conf;
	set_seed(srv, conf, old);
	set_rule_counts(srv, conf);
	srv->tls = tls;
	set_services(srv, conf);
	set_limit(srv, conf);
	tally_open(srv);
	/* the idle limits may have changed */
	for (i = 0; i < srv->nls; i++) {
		if (srv->lsocks[i].idle_timer != NULL)
			sd_event_source_set_enabled(srv->lsocks[i].idle_timer,
			    SD_EVENT_OFF);
		idle_arm(&srv->lsocks[i]);
		rest_arm(&srv->lsocks[i]);
	}
	return old;
}

static int
shutdown_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;
	size_t		 i;

	(void)s;
	(void)usec;
	for (i = 0; i < srv->nls; i++)
		while (srv->ls[i].idle.head != NULL) {
			c = conn_of_idle(srv->ls[i].idle.head);
			/* queued, and held back by a delay */
			if (conn_unsent(c) > 0)
				log_warnx("%s %zu reply bytes not sent: "
				    "shutdown timeout", c->peer,
				    conn_unsent(c));
			conn_close(c, "shutdown timeout");
		}
	sd_event_exit(srv->ctx.event, 0);
	return 0;
}

void
server_shutdown(struct server *srv)
{
	struct idle_entry	*e, *next;
	size_t			 i;

	if (srv->stopping)
		return;
	srv->stopping = true;
	/* connections still name their listener: close only the sockets */
	for (i = 0; i < srv->nls; i++) {
		/* UDP replies owed go out now, while their sockets are open */
		if (srv->lsocks[i].dgram != NULL)
			dgram_stop(srv->lsocks[i].dgram);
		srv->lsocks[i].src =
		    sd_event_source_disable_unref(srv->lsocks[i].src);
		if (srv->ls[i].fd >= 0)
			close(srv->ls[i].fd);
		srv->ls[i].fd = -1;
	}
	srv->accept_pause = sd_event_source_disable_unref(srv->accept_pause);

	for (i = 0; i < srv->nls; i++)
		for (e = srv->ls[i].idle.head; e != NULL; e = next) {
			/* draining may close this one, or touch it to the end */
			next = e->next;
			(void)conn_drain(conn_of_idle(e), srv->rbuf);
		}
	if (srv->ctx.nconns == 0) {
		sd_event_exit(srv->ctx.event, 0);
		return;
	}
	if (sd_event_add_time_relative(srv->ctx.event, &srv->shutdown_timer,
	    CLOCK_MONOTONIC, srv->ctx.conf->shutdown_timeout_ms * 1000, 0,
	    shutdown_expired, srv) < 0)
		shutdown_expired(NULL, 0, srv);
}

void
server_status(const struct server *srv, char *buf, size_t len)
{
	snprintf(buf, len, "%zu clients, %llu messages, %llu refused, "
	    "%llu errors", srv->ctx.nconns,
	    (unsigned long long)srv->ctx.messages,
	    (unsigned long long)srv->ctx.refused,
	    (unsigned long long)srv->ctx.errors);
}

void
server_free(struct server *srv)
{
	size_t	 i;

	if (srv == NULL)
		return;
	for (i = 0; i < srv->nls; i++)
		while (srv->ls[i].idle.head != NULL)
			conn_close(conn_of_idle(srv->ls[i].idle.head),
			    "server exiting");
	if (srv->lsocks != NULL)
		for (i = 0; i < srv->nls; i++) {
			sd_event_source_disable_unref(srv->lsocks[i].src);
			sd_event_source_disable_unref(
			    srv->lsocks[i].idle_timer);
			sd_event_source_disable_unref(
			    srv->lsocks[i].rest_timer);
			dgram_free(srv->lsocks[i].dgram);
		}
	for (i = 0; i < srv->nls; i++) {
		tallies_free(srv->ls[i].tallies);
		srv->ls[i].tallies = NULL;
	}
	free(srv->lsocks);
	listen_close(srv->ls, srv->nls);
	sd_event_source_disable_unref(srv->csrc);
	sd_event_source_disable_unref(srv->cmore);
	if (srv->ctx.epoll_fd != -1)
		close(srv->ctx.epoll_fd);
	sd_event_source_disable_unref(srv->accept_pause);
	sd_event_source_disable_unref(srv->shutdown_timer);
	sd_event_source_disable_unref(srv->log_timer);
	buf_pool_free(&srv->ctx.out_pool);
	ring_free(srv->ctx.ring);
	free(srv->ctx.rule_messages);
	sd_event_unref(srv->ctx.event);
	free(srv);
}

void
server_stats(struct server *srv, struct server_stats *st)
{
	struct idle_entry	*e;
	const struct conn	*c;
	size_t			 i;

	memset(st, 0, sizeof(*st));
	st->open = srv->ctx.nconns;
	st->accepted = srv->accepted;
	st->refused = srv->ctx.refused;
	st->messages = srv->ctx.messages;
	st->errors = srv->ctx.errors;
	st->bytes_in = srv->ctx.bytes_in;
	st->bytes_out = srv->ctx.bytes_out;
	/* and what the open connections have moved so far */
	for (i = 0; i < srv->nls; i++)
		for (e = srv->ls[i].idle.head; e != NULL; e = e->next) {
			c = conn_of_idle(e);
			st->bytes_in += c->bytes_in;
			st->bytes_out += c->bytes_out;
		}
	st->sources = 0;
	st->sources_evicted = 0;
	for (i = 0; i < srv->nls; i++) {
		st->sources += tallies_count(srv->ls[i].tallies);
		st->sources_evicted += tallies_evicted(srv->ls[i].tallies);
	}
	st->log_lost = log_lost();
	st->control_clients = srv->control_clients;
	st->uptime_usec = serve_now(&srv->ctx) - srv->started;
}

const struct conf *
server_conf(const struct server *srv)
{
	return srv->ctx.conf;
}

const uint64_t *
server_rule_messages(const struct server *srv, size_t *n)
{
	*n = srv->ctx.nrule_messages;
	return srv->ctx.rule_messages;
}

struct listener *
server_listener(struct server *srv, size_t i)
{
	return i < srv->nls ? &srv->ls[i] : NULL;
}

struct conn *
server_conn(struct server *srv, uint64_t id)
{
	struct idle_entry	*e;
	struct conn		*c;
	size_t			 i;

	for (i = 0; i < srv->nls; i++)
		for (e = srv->ls[i].idle.head; e != NULL; e = e->next)
			if ((c = conn_of_idle(e))->id == id)
				return c;
	return NULL;
}

struct ring *
server_ring(const struct server *srv)
{
	return srv->ctx.ring;
}

void
server_drop_ring(struct server *srv)
{
	ring_free(srv->ctx.ring);
	srv->ctx.ring = NULL;
}

sd_event *
server_event(const struct server *srv)
{
	return srv->ctx.event;
}

void
server_watch(struct server *srv,
    void (*fn)(void *, const struct ring_entry *), void *arg)
{
	srv->ctx.recorded = fn;
	srv->ctx.recorded_arg = arg;
}

void
server_operator(struct server *srv,
    uint64_t (*ask)(void *, struct conn *, const void *, size_t),
    void (*over)(void *, uint64_t, const char *), void *arg)
{
	srv->ctx.ask = ask;
	srv->ctx.ask_over = over;
	srv->ctx.ask_arg = arg;
}

void
server_control_clients(struct server *srv, size_t n)
{
	srv->control_clients = n;
}
