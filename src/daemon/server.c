#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "log.h"
#include "reply.h"
#include "sources.h"
#include "template.h"
#include "server.h"
#include "server-internal.h"

uint64_t
server_now(const struct server *srv)
{
	uint64_t	 t = 0;

	sd_event_now(srv->event, CLOCK_MONOTONIC, &t);
	return t;
}

void
server_format_peer(const struct sockaddr_storage *ss, char *addr, size_t len,
    uint16_t *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t)len);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
			    (socklen_t)len);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
			    (socklen_t)len);
		*port = ntohs(sin6->sin6_port);
	} else {
		strlcpy(addr, "local", len);
		*port = 0;
	}
}

static int
idle_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct server		*srv = arg;
	const struct conf	*conf = srv->conf;
	uint64_t		 now = server_now(srv), limit;
	struct conn		*c;

	(void)s;
	(void)usec;
	limit = conf->idle_timeout_ms * 1000;
	while ((c = srv->conns) != NULL && limit > 0 &&
	    c->active + limit <= now) {
		if (c->paused || c->lingering) {
			/* waiting on us, or on its own timer: not idle */
			conn_touch(c);
			continue;
		}
		conn_free(c, "idle timeout");
	}
	sources_sweep(srv->sources, now, conf->source_message_rate,
	    conf->source_message_burst);
	server_idle_arm(srv);
	return 0;
}

/* Arms the idle timer for the least recently active connection. */
void
server_idle_arm(struct server *srv)
{
	uint64_t	 limit = srv->conf->idle_timeout_ms * 1000, when;

	if (srv->conns == NULL || limit == 0) {
		if (srv->idle_timer != NULL)
			sd_event_source_set_enabled(srv->idle_timer,
			    SD_EVENT_OFF);
		return;
	}
	when = srv->conns->active + limit;
	if (srv->idle_timer == NULL) {
		if (sd_event_add_time(srv->event, &srv->idle_timer,
		    CLOCK_MONOTONIC, when, 100 * 1000, idle_expired, srv) < 0)
			log_warnx("cannot arm the idle timer");
		return;
	}
	if (sd_event_source_get_enabled(srv->idle_timer, NULL) > 0)
		return;		/* armed: it re-arms itself when it fires */
	sd_event_source_set_time(srv->idle_timer, when);
	sd_event_source_set_enabled(srv->idle_timer, SD_EVENT_ONESHOT);
}

/* Sends the refusal (once, without waiting) and closes. */
static void
refuse(struct server *srv, const struct listener *l, int fd,
    const char *addr, uint16_t port)
{
	const struct conf	*conf = srv->conf;
	struct template_ctx	 ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.client_address = addr;
	ctx.client_port = port;
	ctx.listener = l->name;
	ctx.hostname = srv->hostname;
	ctx.connections = srv->nconns;
	ctx.max_message_bytes = conf->max_message_bytes;
	srv->wbuf.len = 0;
	if (template_needs(conf->refuse_reply) & TEMPLATE_NEED_TIME)
		sd_event_now(srv->event, CLOCK_REALTIME, &ctx.now_usec);
	if (template_render(conf->refuse_reply, &ctx, &srv->wbuf) == 0 &&
	    srv->wbuf.len > 0 && (conf->framing != FRAME_LINE ||
	    buf_append(&srv->wbuf, "\n", 1) == 0))
		(void)send(fd, srv->wbuf.data, srv->wbuf.len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	srv->wbuf.len = 0;
	shutdown(fd, SHUT_WR);
	close(fd);
	srv->errors++;
}

/*
 * Access lists and connection limits, before anything is read. Returns
 * false when the connection was refused (and closed).
 */
static bool
admit(struct server *srv, const struct listener *l, int fd,
    const struct sockaddr_storage *ss, struct source **srcp)
{
	const struct conf	*conf = srv->conf;
	const struct sockaddr	*sa = (const struct sockaddr *)ss;
	char			 addr[INET6_ADDRSTRLEN];
	uint16_t		 port;
	struct source		*src = NULL;

	*srcp = NULL;
	if ((conf->nallow > 0 || conf->ndeny > 0) &&
	    (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) &&
	    ((conf->nallow > 0 && !rules_nets_match(conf->allow, conf->nallow,
	    sa)) || rules_nets_match(conf->deny, conf->ndeny, sa))) {
		server_format_peer(ss, addr, sizeof(addr), &port);
		log_info("%s port %u refused by the access list", addr, port);
		close(fd);
		srv->errors++;
		return false;
	}
	if (srv->nconns >= conf->max_connections) {
		server_format_peer(ss, addr, sizeof(addr), &port);
		if (!srv->full)
			log_warnx("refusing new connections: %zu open "
			    "(max_connections)", srv->nconns);
		srv->full = true;
		log_debug("%s port %u refused: max_connections", addr, port);
		refuse(srv, l, fd, addr, port);
		return false;
	}
	if (conf->max_connections_per_source > 0 ||
	    conf->source_message_rate > 0) {
		if (sources_count(srv->sources) > srv->nconns * 2 + 1024)
			sources_sweep(srv->sources, server_now(srv),
			    conf->source_message_rate,
			    conf->source_message_burst);
		src = sources_get(srv->sources, sa);
	}
	if (src != NULL && conf->max_connections_per_source > 0 &&
	    src->conns >= conf->max_connections_per_source) {
		server_format_peer(ss, addr, sizeof(addr), &port);
		log_info("%s port %u refused: %u connections from it "
		    "(max_connections_per_source)", addr, port, src->conns);
		refuse(srv, l, fd, addr, port);
		sources_put(srv->sources, src, server_now(srv),
		    conf->source_message_rate, conf->source_message_burst);
		return false;
	}
	*srcp = src;
	return true;
}

static void
conn_new(struct server *srv, const struct listener *l, int fd,
    const struct sockaddr_storage *ss)
{
	struct source	*src;

	struct conn	*c;
	struct log_fields f;
	int		 on = 1;

	if (!admit(srv, l, fd, ss, &src))
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: out of memory for a new connection", l->name);
		close(fd);
		return;
	}
	c->srv = srv;
	c->l = l;
	c->fd = fd;
	c->src = src;
	c->started = server_now(srv);
	server_format_peer(ss, c->addr, sizeof(c->addr), &c->port);
	if (ss->ss_family == AF_INET)
		memcpy(&c->sa.in, ss, sizeof(c->sa.in));
	else if (ss->ss_family == AF_INET6)
		memcpy(&c->sa.in6, ss, sizeof(c->sa.in6));
	else
		c->sa.sa.sa_family = ss->ss_family;
	srv->accepted++;
	if (ss->ss_family == AF_UNIX)	/* no address: name it by count */
		snprintf(c->peer, sizeof(c->peer), "unix:%s#%llu", l->name,
		    (unsigned long long)srv->accepted);
	else
		snprintf(c->peer, sizeof(c->peer), strchr(c->addr, ':') !=
		    NULL ? "[%s]:%u" : "%s:%u", c->addr, c->port);
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (conn_watch(c) < 0) {
		log_warn("%s: cannot watch a new connection", l->name);
		close(fd);
		free(c);
		return;
	}
	c->active = c->started;
	conn_append(c);
	srv->nconns++;
	if (c->src != NULL)
		c->src->conns++;
	server_idle_arm(srv);
	conn_fields(c, &f);
	log_client(LOG_INFO, LOG_MSGID_CONNECT, &f, "%s connected to %s",
	    c->peer, l->name);
	if (srv->conf->greeting != NULL)
		conn_send_greeting(c);
}

static void
listeners_enable(struct server *srv, int on)
{
	size_t	 i;

	for (i = 0; i < srv->nls; i++)
		if (srv->lsrc[i].src != NULL)
			sd_event_source_set_enabled(srv->lsrc[i].src,
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
		listeners_enable(srv, 1);
	return 0;
}

static void
accept_pause(struct server *srv, const struct listener *l)
{
	if (!srv->fd_exhausted)
		log_warn("%s: accept; pausing new connections", l->name);
	srv->fd_exhausted = true;
	listeners_enable(srv, 0);
	if (srv->accept_pause == NULL &&
	    sd_event_add_time_relative(srv->event, &srv->accept_pause,
	    CLOCK_MONOTONIC, ACCEPT_PAUSE_USEC, 0, accept_resume, srv) < 0)
		listeners_enable(srv, 1);
}

static int
on_accept(sd_event_source *s, int lfd, uint32_t revents, void *arg)
{
	struct lsource		*ls = arg;
	struct server		*srv = ls->srv;
	const struct listener	*l = ls->l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 i, fd;

	(void)s;
	(void)revents;
	for (i = 0; i < ACCEPT_BURST; i++) {
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
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
				accept_pause(srv, l);
				return 0;
			default:
				log_warn("%s: accept", l->name);
				return 0;
			}
		}
		if (srv->fd_exhausted) {
			log_info("accepting new connections again");
			srv->fd_exhausted = false;
		}
		conn_new(srv, l, fd, &ss);
	}
	return 0;
}

static int
log_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	(void)s;
	(void)usec;
	(void)arg;
	log_flush();	/* on_post runs after this and re-arms if need be */
	return 0;
}

static int
on_post(sd_event_source *s, void *arg)
{
	struct server	*srv = arg;

	(void)s;
	log_flush();
	/* the sink would block: try again soon, even if all is quiet */
	if (log_pending() && (srv->log_timer == NULL ||
	    sd_event_source_get_enabled(srv->log_timer, NULL) == 0)) {
		if (srv->log_timer == NULL)
			sd_event_add_time_relative(srv->event, &srv->log_timer,
			    CLOCK_MONOTONIC, 100 * 1000, 0, log_retry, srv);
		else {
			sd_event_source_set_time_relative(srv->log_timer,
			    100 * 1000);
			sd_event_source_set_enabled(srv->log_timer,
			    SD_EVENT_ONESHOT);
		}
	}
	return 0;
}

/* Handles up to CONN_BATCH connection events in one dispatch. */
static int
conns_ready(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;
	int		 n;

	(void)s;
	(void)revents;
	n = epoll_wait(fd, srv->batch, CONN_BATCH, 0);
	if (n == -1) {
		if (errno != EINTR)
			log_warn("epoll_wait");
		return 0;
	}
	srv->batch_n = n;
	for (srv->batch_i = 0; srv->batch_i < n; srv->batch_i++)
		/* NULL: freed by an earlier event of this batch */
		if ((c = srv->batch[srv->batch_i].data.ptr) != NULL)
			conn_event(c, srv->batch[srv->batch_i].events);
	srv->batch_n = 0;
	return 0;
}

int
server_new(sd_event *e, const struct conf *conf, struct listener *ls,
    size_t nls, struct server **out)
{
	struct server	*srv;
	size_t		 i;
	int		 r;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return -ENOMEM;
	srv->event = sd_event_ref(e);
	srv->conf = conf;
	srv->cepoll = -1;
	if (gethostname(srv->hostname, sizeof(srv->hostname) - 1) == -1)
		strlcpy(srv->hostname, "localhost", sizeof(srv->hostname));
	srv->ls = ls;
	srv->nls = nls;
	if ((srv->lsrc = calloc(nls, sizeof(*srv->lsrc))) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < nls; i++) {
		srv->lsrc[i].srv = srv;
		srv->lsrc[i].l = &ls[i];
		r = sd_event_add_io(e, &srv->lsrc[i].src, ls[i].fd, EPOLLIN,
		    ls[i].type == SOCK_DGRAM ? dgram_io : on_accept,
		    &srv->lsrc[i]);
		if (r < 0)
			goto fail;
	}
	if ((srv->cepoll = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = sd_event_add_io(e, &srv->csrc, srv->cepoll, EPOLLIN,
	    conns_ready, srv)) < 0)
		goto fail;
	if ((r = sd_event_add_post(e, &srv->post, on_post, srv)) < 0)
		goto fail;
	if ((srv->sources = sources_new()) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return r;
}

const struct conf *
server_set_conf(struct server *srv, const struct conf *conf)
{
	const struct conf	*old = srv->conf;

	srv->conf = conf;
	srv->conf_gen++;
	/* the idle limit may have changed */
	if (srv->idle_timer != NULL)
		sd_event_source_set_enabled(srv->idle_timer, SD_EVENT_OFF);
	server_idle_arm(srv);
	return old;
}

static int
shutdown_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct server	*srv = arg;

	(void)s;
	(void)usec;
	while (srv->conns != NULL) {
		struct conn *c = srv->conns;

		if (conn_queued(c) > 0)
			log_warnx("%s %zu reply bytes not sent: shutdown "
			    "timeout", c->peer, conn_queued(c));
		conn_free(c, "shutdown timeout");
	}
	sd_event_exit(srv->event, 0);
	return 0;
}

void
server_shutdown(struct server *srv)
{
	struct conn	*c, *next;
	size_t		 i;

	if (srv->stopping)
		return;
	srv->stopping = true;
	/* UDP replies owed go out now, while their sockets are open */
	dgram_flush_delayed(srv, true);
	/* connections still name their listener: close only the sockets */
	for (i = 0; i < srv->nls; i++) {
		srv->lsrc[i].src =
		    sd_event_source_disable_unref(srv->lsrc[i].src);
		if (srv->ls[i].fd >= 0)
			close(srv->ls[i].fd);
		srv->ls[i].fd = -1;
	}
	srv->accept_pause = sd_event_source_disable_unref(srv->accept_pause);

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		c->draining = true;
		if (!c->lingering && conn_drain(c) < 0)
			continue;
		conn_update(c);
	}
	if (srv->nconns == 0) {
		sd_event_exit(srv->event, 0);
		return;
	}
	if (sd_event_add_time_relative(srv->event, &srv->shutdown_timer,
	    CLOCK_MONOTONIC, srv->conf->shutdown_timeout_ms * 1000, 0,
	    shutdown_expired, srv) < 0)
		shutdown_expired(NULL, 0, srv);
}

void
server_status(const struct server *srv, char *buf, size_t len)
{
	snprintf(buf, len, "%zu clients, %llu messages, %llu errors",
	    srv->nconns, (unsigned long long)srv->messages,
	    (unsigned long long)srv->errors);
}

void
server_free(struct server *srv)
{
	size_t	 i;

	if (srv == NULL)
		return;
	while (srv->conns != NULL)
		conn_free(srv->conns, "server exiting");
	dgram_flush_delayed(srv, false);
	if (srv->lsrc != NULL)
		for (i = 0; i < srv->nls; i++) {
			sd_event_source_disable_unref(srv->lsrc[i].src);
			free(srv->lsrc[i].cycle);
		}
	free(srv->lsrc);
	listen_close(srv->ls, srv->nls);
	sd_event_source_disable_unref(srv->post);
	sd_event_source_disable_unref(srv->csrc);
	if (srv->cepoll != -1)
		close(srv->cepoll);
	sd_event_source_disable_unref(srv->accept_pause);
	sd_event_source_disable_unref(srv->shutdown_timer);
	sd_event_source_disable_unref(srv->idle_timer);
	sd_event_source_disable_unref(srv->log_timer);
	sources_free(srv->sources);
	buf_free(&srv->wbuf);
	sd_event_unref(srv->event);
	free(srv);
}
