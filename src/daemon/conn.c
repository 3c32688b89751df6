/* One stream connection: read, frame, answer, write, close. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "frame.h"
#include "reply.h"
#include "server-internal.h"

static int	delay_done(sd_event_source *, uint64_t, void *);

/* What the journal is told about this client. */
void
conn_fields(const struct conn *c, struct log_fields *f)
{
	memset(f, 0, sizeof(*f));
	f->client_address = c->addr;
	f->client_port = c->port;
	f->listener = c->l->name;
}

size_t
conn_queued(const struct conn *c)
{
	return c->outlen - c->outoff;
}

void
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

void
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
void
conn_touch(struct conn *c)
{
	c->active = server_now(c->srv);
	if (c->srv->conns_tail != c) {
		conn_unlink(c);
		conn_append(c);
	}
}

void
conn_free(struct conn *c, const char *reason)
{
	struct server	*srv = c->srv;
	uint64_t	 dur = server_now(srv) - c->started;
	struct log_fields f;
	int		 i;

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

	/* forget it in the batch being handled, and in the epoll set */
	for (i = srv->batch_i + 1; i < srv->batch_n; i++)
		if (srv->batch[i].data.ptr == c)
			srv->batch[i].data.ptr = NULL;
	epoll_ctl(srv->cepoll, EPOLL_CTL_DEL, c->fd, NULL);
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
		sources_put(srv->sources, c->src, server_now(srv),
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

	/* edge-triggered: write until the kernel says it is full */
	while (conn_queued(c) > 0) {
		n = send(c->fd, c->out + c->outoff, conn_queued(c),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			conn_error(c, "send", errno);
			return -1;
		}
		c->bytes_out += (uint64_t)n;
		c->outoff += (size_t)n;
		conn_touch(c);
	}
	conn_drop_output(c);
	return 0;
}

void
conn_fill_costly(struct template_ctx *ctx, unsigned int needs, void *arg)
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
			server_format_peer(&ss, addr, sizeof(addr), &port);
		ctx->server_address = addr;
		ctx->server_port = port;
	}
}

void
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
	    conn_fill_costly, c, rules_cycle_slots(conf->rules) ? conn_cycle(c) :
	    NULL, &srv->wbuf, &res) < 0) {
		srv->wbuf.len = mark;
		c->closing = true;
		c->reason = "out of memory";
		return false;
	}
	if (conf->log_messages && log_enabled(LOG_INFO)) {
		struct log_fields f;

		conn_fields(c, &f);
		f.rule = res.rule ? reply_rule_label(res.rule, label,
		    sizeof(label)) : NULL;
		log_message(&f, c->peer, "message", c->msgs, NULL, m->data,
		    m->len, conf->log_message_bytes);
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
		    CLOCK_MONOTONIC, res.delay_ms * 1000, TIMER_ACCURACY_USEC,
		    delay_done, c) < 0) {
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
		conn_fill_costly(&ctx, template_needs(conf->too_long_reply), c);
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

	wait = source_take(c->src, server_now(srv), conf->source_message_rate,
	    conf->source_message_burst);
	if (wait == 0)
		return false;
	if (sd_event_add_time_relative(srv->event, &c->delay,
	    CLOCK_MONOTONIC, wait, TIMER_ACCURACY_USEC, delay_done, c) < 0)
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
	if (c->in != NULL) {
		if (p != c->in)
			memmove(c->in, p, n);
		c->inlen = n;
		c->in[n] = '\0';
		return 0;
	}
	cap = frame_pending_max(conf->framing, conf->max_message_bytes);
	if (cap < n)
		cap = n;
	if ((np = malloc(cap + 1)) == NULL)
		return -ENOMEM;
	memcpy(np, p, n);
	np[n] = '\0';
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
		n = recv(c->fd, srv->rbuf, READ_SIZE, 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c, NULL);
			return -1;
		}
		if (n == READ_SIZE)
			c->rearm = true;	/* there may be more */
		else if (c->rdhup) {
			conn_free(c, NULL);
			return -1;
		}
		return 0;
	}

	want = frame_pending_max(conf->framing, conf->max_message_bytes);
	if (c->in != NULL && c->incap < want) {
		char *np = realloc(c->in, want + 1);

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
		room = READ_SIZE;
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
	else if ((size_t)n == room)
		c->rearm = true;	/* edge-triggered: there may be more */
	else if (c->rdhup)
		c->eof = true;		/* all that was sent before the FIN */
	c->bytes_in += (uint64_t)n;
	conn_touch(c);

	if (c->in != NULL) {
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		dst = c->in;
		len = c->inlen;
	} else {
		dst = srv->rbuf;
		len = (size_t)n;
		srv->rbuf[len] = '\0';
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
int
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
	if (i == DRAIN_BURST && conn_can_read(c))
		c->rearm = true;	/* come back for the rest */
	return 0;
}

/*
 * Connections are edge-triggered, so that sd-event does not poll every
 * ready socket again for each one it dispatches. Setting the mask again
 * (rearm) makes epoll report a socket that is still ready.
 */
static void
conn_set_events(struct conn *c, uint32_t events)
{
	struct epoll_event	 ev;

	if (events == c->events && !c->rearm)
		return;
	c->rearm = false;
	ev.events = events | EPOLLET | (events & EPOLLIN ? EPOLLRDHUP : 0);
	ev.data.ptr = c;
	if (epoll_ctl(c->srv->cepoll, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		log_warn("%s cannot change event mask", c->peer);
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
int
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

int
conn_watch(struct conn *c)
{
	struct epoll_event	 ev;

	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	c->events = EPOLLIN;
	return epoll_ctl(c->srv->cepoll, EPOLL_CTL_ADD, c->fd, &ev) == -1 ?
	    -errno : 0;
}

void
conn_event(struct conn *c, uint32_t revents)
{
	/* with edges, the FIN may come with the last data: no later event */
	if (revents & EPOLLRDHUP)
		c->rdhup = true;
	if ((revents & EPOLLOUT) && conn_flush(c) < 0)
		return;
	if (c->draining && !c->lingering) {
		if (conn_drain(c) < 0)
			return;
	} else if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		if (!(c->events & EPOLLIN) && conn_queued(c) > 0) {
			/* not reading now: let the write report the error */
			if (conn_flush(c) < 0)
				return;
		} else if (conn_read(c) < 0)
			return;
	}
	conn_update(c);
	return;
}

void
conn_send_greeting(struct conn *c)
{
	struct server		*srv = c->srv;
	const struct conf	*conf = srv->conf;
	struct template_ctx	 ctx;

	conn_ctx(c, &ctx);
	ctx.message = "";
	ctx.max_message_bytes = conf->max_message_bytes;
	if (template_needs(conf->greeting))
		conn_fill_costly(&ctx, template_needs(conf->greeting), c);
	if (template_render(conf->greeting, &ctx, &srv->wbuf) < 0 ||
	    (conf->framing == FRAME_LINE && buf_append(&srv->wbuf, "\n", 1) < 0)) {
		srv->wbuf.len = 0;
		conn_free(c, "out of memory");
		return;
	}
	if (conn_send(c) == 0)
		conn_update(c);
}
