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
#include "rules.h"
#include "server.h"

#define READ_SIZE		(64 * 1024)
#define ACCEPT_BURST		64
#define ACCEPT_PAUSE_USEC	(100 * 1000)
#define LINGER_USEC		(5 * 1000 * 1000)
#define DRAIN_BURST		16

struct conn {
	struct conn		*prev, *next;
	struct server		*srv;
	const struct listener	*l;
	int			 fd;
	sd_event_source		*io;
	sd_event_source		*linger;
	uint32_t		 events;
	/* a partial message, only while one is pending */
	char			*in;
	size_t			 inlen, incap;
	/* unsent output, only while some is pending */
	char			*out;
	size_t			 outoff, outlen, outcap;
	uint64_t		 msgs, bytes_in, bytes_out;
	uint64_t		 started;
	const char		*reason;
	bool			 eof;		/* client sent FIN */
	bool			 closing;	/* no more input; close once flushed */
	bool			 lingering;	/* write side shut, discarding input */
	bool			 draining;	/* shutdown: answer what is buffered */
	uint16_t		 port;
	char			 addr[INET6_ADDRSTRLEN];
	char			 peer[CONF_NAME_MAX + 32];	/* for logs */
};

struct lsource {
	struct server		*srv;
	const struct listener	*l;
	sd_event_source		*src;
};

struct server {
	sd_event		*event;
	const struct conf	*conf;
	struct listener		*ls;
	size_t			 nls;
	struct lsource		*lsrc;
	sd_event_source		*post;
	sd_event_source		*accept_pause;
	sd_event_source		*shutdown_timer;
	struct conn		*conns;
	size_t			 nconns;
	uint64_t		 messages, errors;
	uint64_t		 accepted;	/* names Unix stream clients */
	bool			 stopping;
	bool			 fd_exhausted;
	char			 rbuf[READ_SIZE];
	char			 esc[LOG_ESCAPE_SIZE(65536)];
	struct buf		 wbuf;
};

static int	conn_update(struct conn *);

static uint64_t
now_usec(const struct server *srv)
{
	uint64_t	 t = 0;

	sd_event_now(srv->event, CLOCK_MONOTONIC, &t);
	return t;
}

/* What the journal is told about this client. */
static void
conn_fields(const struct conn *c, struct log_fields *f)
{
	memset(f, 0, sizeof(*f));
	f->client_address = c->addr;
	f->client_port = c->port;
	f->listener = c->l->name;
}

static size_t
conn_queued(const struct conn *c)
{
	return c->outlen - c->outoff;
}

static void
conn_free(struct conn *c, const char *reason)
{
	struct server	*srv = c->srv;
	uint64_t	 dur = now_usec(srv) - c->started;
	struct log_fields f;

	if (reason == NULL)
		reason = c->reason ? c->reason : "closed";
	conn_fields(c, &f);
	log_client(LOG_INFO, LOG_MSGID_DISCONNECT, &f,
	    "%s disconnected after %llu.%03llus: %llu messages, "
	    "%llu bytes in, %llu bytes out (%s)", c->peer,
	    (unsigned long long)(dur / 1000000),
	    (unsigned long long)(dur / 1000 % 1000),
	    (unsigned long long)c->msgs, (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out, reason);

	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->linger);
	close(c->fd);
	free(c->in);
	free(c->out);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	srv->nconns--;
	if (srv->stopping && srv->nconns == 0)
		sd_event_exit(srv->event, 0);
}

static void
conn_error(struct conn *c, const char *what, int err)
{
	char	 reason[128];

	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(err));
	conn_free(c, reason);
}

/* Queues unsent bytes; returns 0 or -ENOMEM. */
static int
conn_queue(struct conn *c, const char *p, size_t n)
{
	size_t	 q = conn_queued(c), cap;
	char	*np;

	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, q);
		c->outoff = 0;
		c->outlen = q;
	}
	if (c->outcap - c->outlen < n) {
		cap = c->outlen + n;
		if (cap < 4096)
			cap = 4096;
		if ((np = realloc(c->out, cap)) == NULL)
			return -ENOMEM;
		c->out = np;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return 0;
}

static void
conn_drop_output(struct conn *c)
{
	free(c->out);
	c->out = NULL;
	c->outoff = c->outlen = c->outcap = 0;
}

/*
 * Sends what the server rendered into wbuf for this connection, once,
 * and queues the rest. Returns -1 when the connection was freed.
 */
static int
conn_send(struct conn *c)
{
	struct buf	*w = &c->srv->wbuf;
	ssize_t		 n = 0;

	if (w->len == 0)
		return 0;
	if (conn_queued(c) == 0) {
		n = send(c->fd, w->data, w->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				w->len = 0;
				conn_error(c, "send", errno);
				return -1;
			}
			n = 0;
		}
		c->bytes_out += (uint64_t)n;
	}
	if ((size_t)n < w->len &&
	    conn_queue(c, w->data + n, w->len - (size_t)n) < 0) {
		w->len = 0;
		conn_free(c, "out of memory");
		return -1;
	}
	w->len = 0;
	return 0;
}

static int
conn_flush(struct conn *c)
{
	ssize_t	 n;

	if (conn_queued(c) == 0)
		return 0;
	n = send(c->fd, c->out + c->outoff, conn_queued(c),
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_error(c, "send", errno);
		return -1;
	}
	c->bytes_out += (uint64_t)n;
	c->outoff += (size_t)n;
	if (conn_queued(c) == 0)
		conn_drop_output(c);
	return 0;
}

static void
handle_message(struct conn *c, const struct frame_msg *m)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	struct rules_ctx	 ctx;

	c->msgs++;
	srv->messages++;
	if (conf->log_messages && log_enabled(LOG_INFO)) {
		struct log_fields f;

		conn_fields(c, &f);
		f.message = log_escape(srv->esc, m->data, m->len,
		    conf->log_message_bytes);
		log_client(LOG_INFO, LOG_MSGID_MESSAGE, &f,
		    "%s message %llu: \"%s\"", c->peer,
		    (unsigned long long)c->msgs, f.message);
	}
	ctx.message = m->data;
	ctx.message_len = m->len;
	ctx.client_address = c->addr;
	ctx.client_port = c->port;
	ctx.listener = c->l->name;
	if (rules_template_render(conf->default_reply, &ctx, &srv->wbuf) < 0 ||
	    buf_append(&srv->wbuf, m->term, m->term_len) < 0) {
		c->closing = true;
		c->reason = "out of memory";
		return;
	}
	if (conf->close_after_reply) {
		c->closing = true;
		c->reason = "closed after reply";
	}
}

static void
too_long(struct conn *c)
{
	struct server	*srv = c->srv;
	struct log_fields f;
	char		 msg[128];
	int		 n;

	srv->errors++;
	conn_fields(c, &f);
	log_client(LOG_WARNING, LOG_MSGID_TOO_LONG, &f,
	    "%s message longer than %zu bytes; closing", c->peer,
	    srv->conf->max_message_bytes);
	n = snprintf(msg, sizeof(msg), "error: message longer than %zu bytes\n",
	    srv->conf->max_message_bytes);
	buf_append(&srv->wbuf, msg, (size_t)n);
	c->closing = true;
	c->reason = "message too long";
}

/* Answers every complete message in data; returns the bytes used. */
static size_t
process(struct conn *c, const char *data, size_t len)
{
	const struct conf	*conf = c->srv->conf;
	struct frame_msg	 m;
	size_t			 off = 0;
	ssize_t			 r;

	while (off < len && !c->closing) {
		r = frame_next(conf->framing, data + off, len - off,
		    conf->max_message_bytes, c->eof, &m);
		if (r == 0)
			break;
		if (r < 0) {
			too_long(c);
			return len;
		}
		handle_message(c, &m);
		off += (size_t)r;
	}
	return off;
}

static void
conn_drop_input(struct conn *c)
{
	free(c->in);
	c->in = NULL;
	c->inlen = c->incap = 0;
}

/* Keeps a partial message in the connection's own buffer. */
static int
conn_keep(struct conn *c, const char *p, size_t n)
{
	const struct conf	*conf = c->srv->conf;
	size_t			 cap;
	char			*np;

	if (n == 0) {
		conn_drop_input(c);
		return 0;
	}
	if (c->in != NULL && p != c->in) {
		memmove(c->in, p, n);
		c->inlen = n;
		return 0;
	}
	if (c->in != NULL) {
		c->inlen = n;
		return 0;
	}
	cap = frame_pending_max(conf->framing, conf->max_message_bytes);
	if (cap < n)
		cap = n;
	if ((np = malloc(cap)) == NULL)
		return -ENOMEM;
	memcpy(np, p, n);
	c->in = np;
	c->inlen = n;
	c->incap = cap;
	return 0;
}

/* Returns 1 when it read something, 0 when there was nothing to read, -1
 * when the connection was freed. */
static int
conn_read(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	char			*dst;
	size_t			 room, len, used, want;
	ssize_t			 n;

	if (c->lingering) {
		n = recv(c->fd, srv->rbuf, sizeof(srv->rbuf), 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c, NULL);
			return -1;
		}
		return 0;
	}

	want = frame_pending_max(conf->framing, conf->max_message_bytes);
	if (c->in != NULL && c->incap < want) {
		char *np = realloc(c->in, want);

		if (np == NULL) {
			conn_free(c, "out of memory");
			return -1;
		}
		c->in = np;
		c->incap = want;
	}
	if (c->in != NULL) {
		dst = c->in + c->inlen;
		room = c->incap - c->inlen;
	} else {
		dst = srv->rbuf;
		room = sizeof(srv->rbuf);
		if (conf->framing == FRAME_RAW && room > conf->max_message_bytes)
			room = conf->max_message_bytes;
	}
	if (room == 0) {
		/* the pending partial outgrew a smaller limit after reload */
		too_long(c);
		conn_drop_input(c);
		return conn_send(c) < 0 ? -1 : 1;
	}

	n = recv(c->fd, dst, room, 0);
	if (n == -1) {
		if (errno == EAGAIN)
			return 0;
		if (errno == EINTR)
			return 1;
		conn_error(c, "recv", errno);
		return -1;
	}
	if (n == 0)
		c->eof = true;
	c->bytes_in += (uint64_t)n;

	if (c->in != NULL) {
		c->inlen += (size_t)n;
		dst = c->in;
		len = c->inlen;
	} else {
		dst = srv->rbuf;
		len = (size_t)n;
	}
	used = process(c, dst, len);
	if (c->closing || c->eof)
		conn_drop_input(c);
	else if (conn_keep(c, dst + used, len - used) < 0) {
		srv->wbuf.len = 0;
		conn_free(c, "out of memory");
		return -1;
	}
	return conn_send(c) < 0 ? -1 : 1;
}

static bool
conn_can_read(const struct conn *c)
{
	return !c->eof && !c->closing &&
	    conn_queued(c) < c->srv->conf->max_queued_bytes;
}

/*
 * At shutdown: reads and answers until the socket has nothing more
 * buffered, then closes. Backpressure still holds; the next writable
 * event resumes it. Returns -1 when the connection was freed.
 */
static int
conn_drain(struct conn *c)
{
	int	 r, i;

	/* bounded, so a client that never stops sending cannot hold the loop */
	for (i = 0; i < DRAIN_BURST && conn_can_read(c); i++) {
		if ((r = conn_read(c)) < 0)
			return -1;
		if (r == 0) {
			c->closing = true;
			c->reason = "server shutting down";
		}
	}
	return 0;
}

static void
conn_set_events(struct conn *c, uint32_t events)
{
	if (events == c->events)
		return;
	if (sd_event_source_set_io_events(c->io, events) < 0)
		log_warnx("%s cannot change event mask", c->peer);
	c->events = events;
}

static int
linger_done(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	conn_free(c, NULL);
	return 0;
}

/* Recomputes what to wait for; closes when done. -1 when freed. */
static int
conn_update(struct conn *c)
{
	size_t			 q = conn_queued(c);
	uint32_t		 ev = 0;

	if (q == 0 && c->eof) {
		conn_free(c, c->closing ? NULL : "client closed");
		return -1;
	}
	if (q == 0 && c->closing && !c->lingering) {
		/*
		 * Shut the write side and read until the client closes, so
		 * that unread input does not turn our close into a reset that
		 * destroys the replies still in flight.
		 */
		c->lingering = true;
		conn_drop_input(c);
		if (shutdown(c->fd, SHUT_WR) == -1 ||
		    sd_event_add_time_relative(c->srv->event, &c->linger,
		    CLOCK_MONOTONIC, LINGER_USEC, 0, linger_done, c) < 0) {
			conn_free(c, NULL);
			return -1;
		}
	}
	if (c->lingering || conn_can_read(c))
		ev |= EPOLLIN;
	else if (!c->closing && !c->eof && (c->events & EPOLLIN))
		log_debug("%s not read while %zu reply bytes wait", c->peer, q);
	/* a draining connection must come back to see EAGAIN even when no
	 * more input arrives: writability brings it back */
	if (q > 0 || (c->draining && !c->closing && !c->eof))
		ev |= EPOLLOUT;
	conn_set_events(c, ev);
	return 0;
}

static int
conn_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)fd;
	if ((revents & EPOLLOUT) && conn_flush(c) < 0)
		return 0;
	if (c->draining && !c->lingering) {
		if (conn_drain(c) < 0)
			return 0;
	} else if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (!(c->events & EPOLLIN) && conn_queued(c) > 0) {
			/* not reading now: let the write report the error */
			if (conn_flush(c) < 0)
				return 0;
		} else if (conn_read(c) < 0)
			return 0;
	}
	conn_update(c);
	return 0;
}

static void
send_greeting(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	struct rules_ctx	 ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.message = "";
	ctx.client_address = c->addr;
	ctx.client_port = c->port;
	ctx.listener = c->l->name;
	if (rules_template_render(conf->greeting, &ctx, &srv->wbuf) < 0 ||
	    (conf->framing == FRAME_LINE && buf_append(&srv->wbuf, "\n", 1) < 0)) {
		srv->wbuf.len = 0;
		conn_free(c, "out of memory");
		return;
	}
	if (conn_send(c) == 0)
		conn_update(c);
}

static void
format_peer(const struct sockaddr_storage *ss, char *addr, size_t len,
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

static void
conn_new(struct server *srv, const struct listener *l, int fd,
    const struct sockaddr_storage *ss)
{
	struct conn	*c;
	struct log_fields f;
	int		 on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: out of memory for a new connection", l->name);
		close(fd);
		return;
	}
	c->srv = srv;
	c->l = l;
	c->fd = fd;
	c->started = now_usec(srv);
	format_peer(ss, c->addr, sizeof(c->addr), &c->port);
	srv->accepted++;
	if (ss->ss_family == AF_UNIX)	/* no address: name it by count */
		snprintf(c->peer, sizeof(c->peer), "unix:%s#%llu", l->name,
		    (unsigned long long)srv->accepted);
	else
		snprintf(c->peer, sizeof(c->peer), strchr(c->addr, ':') !=
		    NULL ? "[%s]:%u" : "%s:%u", c->addr, c->port);
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (sd_event_add_io(srv->event, &c->io, fd, EPOLLIN, conn_io, c) < 0) {
		log_warnx("%s: cannot watch a new connection", l->name);
		close(fd);
		free(c);
		return;
	}
	c->events = EPOLLIN;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	conn_fields(c, &f);
	log_client(LOG_INFO, LOG_MSGID_CONNECT, &f, "%s connected to %s",
	    c->peer, l->name);
	if (srv->conf->greeting != NULL)
		send_greeting(c);
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
on_post(sd_event_source *s, void *arg)
{
	(void)s;
	(void)arg;
	log_flush();
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
		    on_accept, &srv->lsrc[i]);
		if (r < 0)
			goto fail;
	}
	if ((r = sd_event_add_post(e, &srv->post, on_post, srv)) < 0)
		goto fail;
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
	if (srv->lsrc != NULL)
		for (i = 0; i < srv->nls; i++)
			sd_event_source_disable_unref(srv->lsrc[i].src);
	free(srv->lsrc);
	listen_close(srv->ls, srv->nls);
	sd_event_source_disable_unref(srv->post);
	sd_event_source_disable_unref(srv->accept_pause);
	sd_event_source_disable_unref(srv->shutdown_timer);
	buf_free(&srv->wbuf);
	sd_event_unref(srv->event);
	free(srv);
}
