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
	sd_event_source		*delay;		/* a delayed reply is due */
	char			*delayed;	/* its bytes */
	size_t			 delayed_len;
	bool			 delayed_close;
	uint32_t		*cycle;		/* per cycling rule */
	uint64_t		 cycle_gen;
	uint32_t		 events;
	/* a partial message, only while one is pending */
	char			*in;
	size_t			 inlen, incap;
	/* unsent output, only while some is pending */
	char			*out;
	size_t			 outoff, outlen, outcap;
	uint64_t		 msgs, bytes_in, bytes_out;
	uint64_t		 started;
	uint64_t		 active;	/* last read or write, for idle */
	struct source		*src;		/* NULL for Unix clients */
	const char		*reason;
	bool			 eof;		/* client sent FIN */
	bool			 closing;	/* no more input; close once flushed */
	bool			 lingering;	/* write side shut, discarding input */
	bool			 draining;	/* shutdown: answer what is buffered */
	bool			 paused;	/* waiting for a delayed reply */
	uint16_t		 port;
	union {
		struct sockaddr		sa;
		struct sockaddr_in	in;
		struct sockaddr_in6	in6;
	}			 sa;		/* the client, for networks */
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
	struct conn		*conns;		/* least recently active first */
	struct conn		*conns_tail;
	size_t			 nconns;
	sd_event_source		*idle_timer;
	sd_event_source		*log_timer;
	struct sources		*sources;
	bool			 full;		/* refusing: max_connections */
	uint64_t		 messages, errors;
	uint64_t		 conf_gen;
	char			 hostname[256];
	uint64_t		 accepted;	/* names Unix stream clients */
	bool			 stopping;
	bool			 fd_exhausted;
	char			 rbuf[READ_SIZE];
	char			 esc[LOG_ESCAPE_SIZE(65536)];
	struct buf		 wbuf;
};

static int	conn_update(struct conn *);
static void	idle_arm(struct server *);
static void	format_peer(const struct sockaddr_storage *, char *, size_t,
		    uint16_t *);

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
conn_unlink(struct conn *c)
{
	struct server	*srv = c->srv;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void
conn_append(struct conn *c)
{
	struct server	*srv = c->srv;

	c->prev = srv->conns_tail;
	c->next = NULL;
	if (srv->conns_tail != NULL)
		srv->conns_tail->next = c;
	else
		srv->conns = c;
	srv->conns_tail = c;
}

/* Marks activity: the connection moves to the end of the idle order. */
static void
conn_touch(struct conn *c)
{
	c->active = now_usec(c->srv);
	if (c->srv->conns_tail != c) {
		conn_unlink(c);
		conn_append(c);
	}
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
	sd_event_source_disable_unref(c->delay);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c->delayed);
	free(c->cycle);
	conn_unlink(c);
	if (c->src != NULL) {
		c->src->conns--;
		sources_put(srv->sources, c->src, now_usec(srv),
		    srv->conf->source_message_rate,
		    srv->conf->source_message_burst);
	}
	free(c);
	srv->nconns--;
	if (srv->full && srv->nconns < srv->conf->max_connections) {
		srv->full = false;
		log_info("accepting new connections again");
	}
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
	if (n > 0)
		conn_touch(c);
	if (conn_queued(c) == 0)
		conn_drop_output(c);
	return 0;
}

static void
fill_costly(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	struct conn		*c = arg;
	static char		 addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	uint16_t		 port = 0;

	if (needs & TEMPLATE_NEED_TIME)
		sd_event_now(c->srv->event, CLOCK_REALTIME, &ctx->now_usec);
	if (needs & TEMPLATE_NEED_SERVER) {
		addr[0] = '\0';
		if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
			format_peer(&ss, addr, sizeof(addr), &port);
		ctx->server_address = addr;
		ctx->server_port = port;
	}
}

static void
conn_ctx(const struct conn *c, struct template_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->client_address = c->addr;
	ctx->client_port = c->port;
	ctx->listener = c->l->name;
	ctx->hostname = c->srv->hostname;
	ctx->message_number = c->msgs;
	ctx->connections = c->srv->nconns;
}

/* The per-connection counters of cycling rules, reset by a reload. */
static uint32_t *
conn_cycle(struct conn *c)
{
	struct server	*srv = c->srv;
	size_t		 n = rules_cycle_slots(srv->conf->rules);

	if (c->cycle != NULL && c->cycle_gen == srv->conf_gen)
		return c->cycle;
	free(c->cycle);
	c->cycle = n > 0 ? calloc(n, sizeof(*c->cycle)) : NULL;
	c->cycle_gen = srv->conf_gen;
	return c->cycle;
}

static int	delay_done(sd_event_source *, uint64_t, void *);

/*
 * Answers one message into wbuf. Returns false when processing must stop
 * here: the reply is delayed, or the connection is closing.
 */
static bool
handle_message(struct conn *c, const struct frame_msg *m)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	struct template_ctx	 ctx;
	struct reply		 res;
	size_t			 mark = srv->wbuf.len;
	char			 label[32];

	c->msgs++;
	srv->messages++;
	conn_ctx(c, &ctx);
	if (reply_build(conf, m, &c->sa.sa, &ctx,
	    fill_costly, c, rules_cycle_slots(conf->rules) ? conn_cycle(c) :
	    NULL, &srv->wbuf, &res) < 0) {
		srv->wbuf.len = mark;
		c->closing = true;
		c->reason = "out of memory";
		return false;
	}
	if (conf->log_messages && log_enabled(LOG_INFO)) {
		struct log_fields f;

		conn_fields(c, &f);
		f.message = log_escape(srv->esc, m->data, m->len,
		    conf->log_message_bytes);
		f.rule = res.rule ? reply_rule_label(res.rule, label,
		    sizeof(label)) : NULL;
		log_client(LOG_INFO, LOG_MSGID_MESSAGE, &f,
		    "%s message %llu: \"%s\"%s%s%s", c->peer,
		    (unsigned long long)c->msgs, f.message,
		    f.rule ? " (rule " : "", f.rule ? f.rule : "",
		    f.rule ? ")" : "");
	}
	if (res.delay_ms > 0) {
		/* hold this reply back; later messages wait behind it */
		size_t n = srv->wbuf.len - mark;

		if (n > 0 && (c->delayed = malloc(n)) == NULL) {
			srv->wbuf.len = mark;
			c->closing = true;
			c->reason = "out of memory";
			return false;
		}
		if (n > 0)
			memcpy(c->delayed, srv->wbuf.data + mark, n);
		c->delayed_len = n;
		c->delayed_close = res.close;
		srv->wbuf.len = mark;
		if (sd_event_add_time_relative(srv->event, &c->delay,
		    CLOCK_MONOTONIC, res.delay_ms * 1000, 0, delay_done,
		    c) < 0) {
			c->closing = true;
			c->reason = "cannot arm a timer";
			return false;
		}
		c->paused = true;
		return false;
	}
	if (res.close) {
		c->closing = true;
		c->reason = "closed after reply";
		return false;
	}
	return true;
}

static void
too_long(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	struct template_ctx	 ctx;
	struct log_fields	 f;

	srv->errors++;
	conn_fields(c, &f);
	log_client(LOG_WARNING, LOG_MSGID_TOO_LONG, &f,
	    "%s message longer than %zu bytes; closing", c->peer,
	    conf->max_message_bytes);
	conn_ctx(c, &ctx);
	ctx.max_message_bytes = conf->max_message_bytes;
	if (template_needs(conf->too_long_reply))
		fill_costly(&ctx, template_needs(conf->too_long_reply), c);
	if (template_render(conf->too_long_reply, &ctx, &srv->wbuf) == 0 &&
	    conf->framing == FRAME_LINE)
		buf_append(&srv->wbuf, "\n", 1);
	c->closing = true;
	c->reason = "message too long";
}

/*
 * The source's message rate is used up: pause until its next token.
 * Returns true when paused.
 */
static bool
throttle(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	uint64_t		 wait;

	wait = source_take(c->src, now_usec(srv), conf->source_message_rate,
	    conf->source_message_burst);
	if (wait == 0)
		return false;
	if (sd_event_add_time_relative(srv->event, &c->delay,
	    CLOCK_MONOTONIC, wait, 0, delay_done, c) < 0)
		return false;	/* cannot wait: let it through */
	log_debug("%s throttled for %llu us (source_message_rate)", c->peer,
	    (unsigned long long)wait);
	c->paused = true;
	return true;
}

/* Answers every complete message in data; returns the bytes used. */
static size_t
process(struct conn *c, const char *data, size_t len)
{
	const struct conf	*conf = c->srv->conf;
	struct frame_msg	 m;
	size_t			 off = 0;
	ssize_t			 r;

	while (off < len && !c->closing && !c->paused) {
		r = frame_next(conf->framing, data + off, len - off,
		    conf->max_message_bytes, c->eof, &m);
		if (r == 0)
			break;
		if (r < 0) {
			too_long(c);
			return len;
		}
		if (c->src != NULL && conf->source_message_rate > 0 &&
		    throttle(c))
			break;	/* this message waits for its token */
		off += (size_t)r;
		if (!handle_message(c, &m))
			break;
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

/*
 * Answers the messages in data (the shared read buffer or the
 * connection's own), keeps what is left for later and sends the replies.
 * Returns -1 when the connection was freed.
 */
static int
conn_consume(struct conn *c, char *data, size_t len)
{
	size_t	 used;

	used = process(c, data, len);
	/* after a delay, the rest waits (even past EOF) for its turn */
	if (c->closing || (c->eof && !c->paused))
		conn_drop_input(c);
	else if (conn_keep(c, data + used, len - used) < 0) {
		c->srv->wbuf.len = 0;
		conn_free(c, "out of memory");
		return -1;
	}
	return conn_send(c);
}

/* Returns 1 when it read something, 0 when there was nothing to read, -1
 * when the connection was freed. */
static int
conn_read(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	char			*dst;
	size_t			 room, len, want;
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
	conn_touch(c);

	if (c->in != NULL) {
		c->inlen += (size_t)n;
		dst = c->in;
		len = c->inlen;
	} else {
		dst = srv->rbuf;
		len = (size_t)n;
	}
	return conn_consume(c, dst, len) < 0 ? -1 : 1;
}

static bool
conn_can_read(const struct conn *c)
{
	return !c->eof && !c->closing && !c->paused &&
	    conn_queued(c) < c->srv->conf->max_queued_bytes;
}

static int
delay_done(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;
	struct buf	*w = &c->srv->wbuf;

	(void)s;
	(void)usec;
	c->delay = sd_event_source_disable_unref(c->delay);
	c->paused = false;
	if (buf_append(w, c->delayed, c->delayed_len) < 0) {
		conn_free(c, "out of memory");
		return 0;
	}
	free(c->delayed);
	c->delayed = NULL;
	c->delayed_len = 0;
	if (c->delayed_close) {
		c->closing = true;
		c->reason = "closed after reply";
		c->delayed_close = false;
	}
	/* then what arrived behind the delayed message */
	if (c->in != NULL && !c->closing) {
		if (conn_consume(c, c->in, c->inlen) < 0)
			return 0;
	} else {
		if (c->closing || c->eof)
			conn_drop_input(c);
		if (conn_send(c) < 0)
			return 0;
	}
	conn_update(c);
	return 0;
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

	if (q == 0 && c->eof && !c->paused) {
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
	if (q > 0 || (c->draining && !c->closing && !c->eof && !c->paused))
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
	struct template_ctx	 ctx;

	conn_ctx(c, &ctx);
	ctx.message = "";
	ctx.max_message_bytes = conf->max_message_bytes;
	if (template_needs(conf->greeting))
		fill_costly(&ctx, template_needs(conf->greeting), c);
	if (template_render(conf->greeting, &ctx, &srv->wbuf) < 0 ||
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

static int
idle_expired(sd_event_source *s, uint64_t usec, void *arg)
{
	struct server		*srv = arg;
	const struct conf	*conf = srv->conf;
	uint64_t		 now = now_usec(srv), limit;
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
	idle_arm(srv);
	return 0;
}

/* Arms the idle timer for the least recently active connection. */
static void
idle_arm(struct server *srv)
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
		format_peer(ss, addr, sizeof(addr), &port);
		log_info("%s port %u refused by the access list", addr, port);
		close(fd);
		srv->errors++;
		return false;
	}
	if (srv->nconns >= conf->max_connections) {
		format_peer(ss, addr, sizeof(addr), &port);
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
			sources_sweep(srv->sources, now_usec(srv),
			    conf->source_message_rate,
			    conf->source_message_burst);
		src = sources_get(srv->sources, sa);
	}
	if (src != NULL && conf->max_connections_per_source > 0 &&
	    src->conns >= conf->max_connections_per_source) {
		format_peer(ss, addr, sizeof(addr), &port);
		log_info("%s port %u refused: %u connections from it "
		    "(max_connections_per_source)", addr, port, src->conns);
		refuse(srv, l, fd, addr, port);
		sources_put(srv->sources, src, now_usec(srv),
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
	c->started = now_usec(srv);
	format_peer(ss, c->addr, sizeof(c->addr), &c->port);
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
	if (sd_event_add_io(srv->event, &c->io, fd, EPOLLIN, conn_io, c) < 0) {
		log_warnx("%s: cannot watch a new connection", l->name);
		close(fd);
		free(c);
		return;
	}
	c->events = EPOLLIN;
	c->active = c->started;
	conn_append(c);
	srv->nconns++;
	if (c->src != NULL)
		c->src->conns++;
	idle_arm(srv);
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
		    on_accept, &srv->lsrc[i]);
		if (r < 0)
			goto fail;
	}
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
	idle_arm(srv);
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
	sd_event_source_disable_unref(srv->idle_timer);
	sd_event_source_disable_unref(srv->log_timer);
	sources_free(srv->sources);
	buf_free(&srv->wbuf);
	sd_event_unref(srv->event);
	free(srv);
}
