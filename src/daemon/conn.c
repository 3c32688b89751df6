/* SPDX-License-Identifier: ISC */
/* One stream connection: read, frame, answer, write, close. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "answer.h"
#include "bucket.h"
#include "conn.h"
#include "escape.h"
#include "frame.h"
#include "log.h"
#include "proxy.h"
#include "transport-tls.h"

#define LINGER_USEC	(5 * 1000 * 1000)
#define DRAIN_BURST	16	/* reads per connection and wake-up at shutdown */
#define OUT_INITIAL	4096	/* output room taken at once */
#define PACE_USEC	10000	/* a paced reply's pieces: every 10 ms */
#define RESET_POLL_USEC	10000	/* a reset waits for acks this often, */
#define RESET_TRIES	500	/* that many times at most (5 s) */

static int	delay_done(sd_event_source *, uint64_t, void *);
static int	held_next(struct conn *);
static int	held_append(struct conn *, const void *, size_t);
static void	ask_done(struct conn *, const char *);
static int	flush_due(sd_event_source *, uint64_t, void *);
static int	conn_consume(struct conn *, char *, size_t, size_t);
static int	conn_greet(struct conn *);
static void	conn_closing(struct conn *, const char *);
static void	conn_name(struct conn *, uint64_t);
static int	conn_update(struct conn *);
static void	conn_again(struct conn *);
static void	tls_time(struct conn *);
static void	conn_end(struct conn *, enum conn_end);
static int	conn_end_early(struct conn *, const char *);

/* What the journal is told about this client. */
static void
conn_fields(const struct conn *c, struct log_fields *f)
{
	memset(f, 0, sizeof(*f));
	f->client_address = c->addr;
	f->client_port = c->port;
	f->listener = c->l->name;
	f->peer = c->peer;
	f->peer_len = strlen(c->peer);
	if (c->proxy_addr[0] != '\0') {
		f->proxy_address = c->proxy_addr;
		f->proxy_port = c->proxy_port;
	}
	f->tls = c->tr->ops->info(c->tr);
}

static void
conn_env(struct conn *c, struct answer_env *env, struct serve_facts *facts)
{
	facts->fd = c->fd;
	env->conf = c->ctx->conf;
	env->svc = c->l->svc;
	env->client = &c->sa.sa;
	env->client_address = c->addr;
	env->client_port = c->port;
	env->proxy_address = c->proxy_addr;
	env->proxy_port = c->proxy_port;
	env->listener = c->l->name;
	env->hostname = c->ctx->hostname;
	env->message_number = c->msgs;
	env->connections = c->ctx->nconns;
	env->tls = c->tr->ops->info(c->tr);
	env->datagram = false;
	env->fill = serve_fill;
	env->fill_arg = facts;
}

size_t
conn_queued(const struct conn *c)
{
	return c->out.len - c->outoff;
}

size_t
conn_unsent(const struct conn *c)
{
	return conn_queued(c) + (c->delayed_len - c->delayed_off);
}

bool
conn_waiting(const struct conn *c)
{
	return c->paused || c->lingering || c->opening || c->resetting;
}

void
conn_rest(struct conn *c)
{
	if (c->tr->ops->rest != NULL && c->tr->ops->rest(c->tr))
		log_debug("%s quiet: %s buffers freed", c->peer,
		    c->tr->ops->name);
}

/*
 * A rested transport that took buffers again for nothing of ours (TLS: a
 * KeyUpdate) rests again at once: that is no activity, and the rest timer
 * will not come back to a connection it has rested.
 */
static void
conn_settle(struct conn *c)
{
	if (c->tr->stirred)
		conn_rest(c);
}

static void
conn_touch(struct conn *c)
{
	if (idle_touch(&c->l->idle, &c->idle, serve_now(c->ctx)) &&
	    c->ctx->restless != NULL)
		c->ctx->restless(c->l, c->ctx->arg);
}

/* The teardown: everything it holds, nothing else. */
static void
conn_free(struct conn *c)
{
	epoll_ctl(c->ctx->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	idle_unlink(&c->l->idle, &c->idle);
	if (c->resting)
		c->l->nresting--;
	sd_event_source_disable_unref(c->linger);
	sd_event_source_disable_unref(c->delay);
	sd_event_source_disable_unref(c->flush);
	sd_event_source_disable_unref(c->again);
	c->tr->ops->free(c->tr, c->aborted);
	close(c->fd);
	free(c->in);
	buf_pool_give(&c->ctx->out_pool, &c->out);
	free(c->delayed);
	answer_state_free(&c->story);
	free(c);
}

void
conn_close(struct conn *c, const char *reason)
{
	uint64_t	 dur = serve_now(c->ctx) - c->started;
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
	c->ctx->bytes_in += c->bytes_in;
	c->ctx->bytes_out += c->bytes_out;
	if (c->asking != 0)
		ask_done(c, "closed");
	c->ctx->closed(c, c->ctx->arg);
	conn_free(c);
}

void
conn_refuse(struct conn *c, const char *reason)
{
	struct serve_facts	 facts;
	struct answer_env	 env;

	c->ctx->refused++;
	conn_env(c, &env, &facts);
	/* sent, then closed as after any last reply (what it sent is read
	 * and dropped meanwhile, so that the refusal is not reset away) */
	(void)answer_notice(&env, ANSWER_REFUSED, &c->out);
	conn_closing(c, reason);
}

static int
conn_error(struct conn *c, const char *what, int err)
{
	char	 reason[128];

	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(err));
	conn_close(c, reason);
	return CONN_GONE;
}

static void
conn_drop_output(struct conn *c)
{
	buf_pool_give(&c->ctx->out_pool, &c->out);
	c->outoff = 0;
}

/*
 * Before replies are added: moves what is still queued to the front, so
 * that the buffer holds no more than the queue. Returns the bytes queued.
 */
static size_t
conn_out_begin(struct conn *c)
{
	size_t	 q = conn_queued(c);

	if (c->outoff > 0) {
		memmove(c->out.data, c->out.data + c->outoff, q);
		c->out.len = q;
		c->outoff = 0;
	}
	return q;
}

/*
 * Writes what is queued until it is all sent or the socket is full
 * (edge-triggered: the next EPOLLOUT resumes it). CONN_GONE on error.
 */
static int
conn_flush(struct conn *c)
{
	ssize_t	 n;

	if (c->mute || c->wr_shut) {	/* what a hang or a FIN leaves unsaid */
		conn_drop_output(c);
		return 0;
	}
	while (conn_queued(c) > 0) {
		n = c->tr->ops->write(c->tr, c->out.data + c->outoff,
		    conn_queued(c));
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return conn_error(c, "send", (int)-n);
		c->bytes_out += (uint64_t)n;
		c->outoff += (size_t)n;
		conn_touch(c);
	}
	conn_drop_output(c);
	return 0;
}

/*
 * Sends replies just queued behind nothing else; behind earlier ones
 * they wait for the socket to take those. CONN_GONE on error.
 */
static int
conn_send(struct conn *c, size_t queued_before)
{
	if (queued_before > 0)
		return 0;
	if (conn_queued(c) == 0) {
		/* a silent or delayed answer: hold no buffer for nothing */
		conn_drop_output(c);
		return 0;
	}
	return conn_flush(c);
}

static void
conn_closing(struct conn *c, const char *reason)
{
	c->closing = true;
	c->reason = reason;
}

/* How the rule (or the listener) ends the connection after this reply. */
static enum conn_end
end_of(const struct conn *c, const struct answer *res)
{
	const struct rules_fault *f = res->fault;
	uint64_t		 max = c->l->svc->close_after_messages;

	if (f != NULL && f->reset)
		return CONN_END_RESET;
	if (f != NULL && f->half_close)
		return CONN_END_HALF_CLOSE;
	if (f != NULL && f->hang)
		return f->hang_writes ? CONN_END_HANG_ALL : CONN_END_HANG;
	if (res->close || (max > 0 && c->msgs >= max))
		return CONN_END_CLOSE;
	return CONN_END_NONE;
}

/*
 * How a reply goes out: all at once (0), or so many bytes at a time
 * every *usec, by the rule's chunks or bandwidth, else the listener's.
 */
static size_t
pace_of(const struct conn *c, const struct answer *res, uint64_t *usec)
{
	const struct rules_fault *f = res->fault;
	uint64_t		 bw = c->l->svc->bandwidth, piece;

	if (f != NULL && f->chunk_bytes > 0) {
		*usec = f->chunk_interval_ms * 1000;
		return f->chunk_bytes;
	}
	if (f != NULL && f->bandwidth > 0)
		bw = f->bandwidth;
	if (bw == 0)
		return 0;
	/* about every PACE_USEC, the interval fitted to the piece: the rate
	 * is bw, not bw rounded down to a multiple of 100 */
	if ((piece = bw * PACE_USEC / 1000000) == 0)
		piece = 1;
	*usec = piece * 1000000 / bw;
	return (size_t)piece;
}

/*
 * Holds the reply at out[mark..] back: for `delay` us, then sent `piece`
 * bytes at a time (0: at once), then `end`. Later messages wait behind
 * it. False when it cannot (the connection is closing then).
 */
static bool
conn_hold(struct conn *c, size_t mark, uint64_t delay, size_t piece,
    uint64_t piece_usec, enum conn_end end)
{
	size_t	 n = c->out.len - mark;

	if (n > 0 && (c->delayed = malloc(n)) == NULL) {
		c->out.len = mark;
		conn_closing(c, "out of memory");
		return false;
	}
	if (n > 0)
		memcpy(c->delayed, c->out.data + mark, n);
	c->delayed_len = n;
	c->delayed_off = 0;
	c->piece = piece;
	c->piece_usec = piece_usec;
	c->delayed_end = end;
	c->out.len = mark;
	/* the pieces keep to their deadlines, however late a wake-up was */
	c->piece_due = serve_now(c->ctx) + delay;
	if (sd_event_add_time(c->ctx->event, &c->delay, CLOCK_MONOTONIC,
	    c->piece_due, SERVE_TIMER_ACCURACY_USEC, delay_done, c) < 0) {
		conn_closing(c, "cannot arm a timer");
		return false;
	}
	c->paused = true;
	return true;
}

/* Its ask is over; the operators are told why (while there are any). */
static void
ask_done(struct conn *c, const char *why)
{
	if (c->ctx->ask_over != NULL)
		c->ctx->ask_over(c->ctx->ask_arg, c->asking, why);
	c->asking = 0;
}

/*
 * The rule asks the operator: with a console attached, the reply at
 * out[mark..] is held as the fallback until one answers, or for
 * operator_timeout_ms. True when it is held (or the connection closes).
 */
static bool
ask(struct conn *c, const struct frame_msg *m, size_t mark,
    enum conn_end end)
{
	uint64_t	 id;

	/* at shutdown the fallback goes at once, as for the one asked */
	if (c->draining || c->ctx->ask == NULL ||
	    (id = c->ctx->ask(c->ctx->ask_arg, c, m->data, m->len)) == 0)
		return false;	/* nobody to ask */
	c->asking = id;
	if (!conn_hold(c, mark, c->l->svc->operator_timeout_ms * 1000, 0, 0,
	    end)) {
		ask_done(c, "failed");
		return true;
	}
	c->held_own = c->delayed_len;
	return true;
}

/* Room for n more bytes of output (0: for a reply), from the pool first. */
static int
out_room(struct conn *c, size_t n)
{
	if (c->out.cap == 0)
		buf_pool_take(&c->ctx->out_pool, &c->out);
	if (c->out.cap == 0 && n < OUT_INITIAL)
		n = OUT_INITIAL;
	if (n > c->out.cap - c->out.len)
		return buf_reserve(&c->out, n);
	return 0;
}

/* Message m (the c->msgs'th) is answered by res: logged and recorded. */
static void
noted(struct conn *c, struct log_fields *f, const struct frame_msg *m,
    const struct answer *res)
{
	const struct conf_service *svc = c->l->svc;

	if (svc->log_messages && log_enabled(LOG_INFO)) {
		f->rule = res->rule_label;
		f->rule_len = res->rule_label_len;
		log_message(f, LOG_KIND_MESSAGE, c->msgs, NULL, m->data,
		    m->len, svc->log_message_bytes);
	}
	serve_answered(c->ctx, res, c->id, c->l, c->peer, f->peer_len,
	    m->data, m->len);
}

/*
 * Whether the messages read next get answer_fixed()'s answers: not while
 * the reply to a partial line ends otherwise, while messages are
 * rationed, or once our side is shutting.
 */
static bool
fixes(const struct conn *c)
{
	const struct conf_service *svc = c->l->svc;

	return !c->flushing && !c->wr_shut && !c->half_closing &&
	    (c->tally == NULL || svc->source_message_rate == 0) &&
	    answer_fixes(c->ctx->conf, svc);
}

/*
 * Answers one message of a connection that fixes(), where its answer is
 * fixed: what handle_message() does, where nothing but that reply
 * follows. Returns 1 when answered, 0 when the message needs
 * handle_message(), -1 when processing must stop.
 */
static int
handle_fixed(struct conn *c, struct log_fields *f, const struct frame_msg *m)
{
	struct answer	 res;
	int		 r = 0;

	/* no room: handle_message() tries again, and closes if it fails */
	if (out_room(c, 0) < 0 || (r = answer_fixed(c->ctx->conf, c->l->svc,
	    &c->story, m, &c->out, &res)) == 0)
		return 0;
	c->msgs++;
	c->ctx->messages++;
	if (r < 0) {
		conn_closing(c, "out of memory");
		return -1;
	}
	noted(c, f, m, &res);
	return 1;
}

/*
 * The replies to a run of messages answered by their own bytes: those
 * n bytes as they came, with one copy. A run that cannot be queued
 * closes the connection, its messages logged but unanswered.
 */
static void
echo_run(struct conn *c, const char *run, size_t n)
{
	if (n > 0 && (out_room(c, n) < 0 || buf_append(&c->out, run, n) < 0))
		conn_closing(c, "out of memory");
}

/*
 * Answers one message onto the output. Returns false when processing
 * must stop here: the reply is held back, the connection is closing, or
 * it is no longer read.
 */
static bool
handle_message(struct conn *c, struct answer_env *env, struct log_fields *f,
    const struct frame_msg *m)
{
	const struct conf_service *svc = c->l->svc;
	struct answer		 res;
	enum conn_end		 end;
	uint64_t		 piece_usec = 0;
	size_t			 mark = c->out.len, piece;
	int			 r;

	c->msgs++;
	c->ctx->messages++;
	env->message_number = c->msgs;
	if (out_room(c, 0) < 0) {
		conn_closing(c, "out of memory");
		return false;
	}
	if ((r = answer_message(env, m, &c->story, &c->out, &res)) < 0) {
		c->out.len = mark;
		if (r == -EMSGSIZE) {
			c->ctx->errors++;
			log_warnx("%s reply longer than its %u-byte length "
			    "prefix can say; closing", c->peer,
			    svc->framing.prefix_bytes);
			conn_closing(c, "reply too long for its prefix");
		} else
			conn_closing(c, "out of memory");
		return false;
	}
	noted(c, f, m, &res);
	if (c->wr_shut || c->half_closing) {
		/* half closed: read and logged, never answered */
		c->out.len = mark;
		return true;
	}
	end = end_of(c, &res);
	if (res.operator && ask(c, m, mark, end))
		return false;
	if (end == CONN_END_HANG_ALL)
		c->out.len = mark;
	piece = pace_of(c, &res, &piece_usec);
	if (res.delay_ms > 0 || (piece > 0 && c->out.len > mark)) {
		(void)conn_hold(c, mark, res.delay_ms * 1000, piece,
		    piece_usec, end);
		return false;
	}
	if (end != CONN_END_NONE)
		conn_end(c, end);
	return end == CONN_END_NONE || end == CONN_END_HALF_CLOSE;
}

/* A message over the limit (-EMSGSIZE) or a malformed frame (-EBADMSG). */
static void
too_long(struct conn *c, ssize_t why)
{
	const struct conf_service *svc = c->l->svc;
	struct serve_facts	 facts;
	struct answer_env	 env;
	struct log_fields	 f;

	c->ctx->errors++;
	conn_fields(c, &f);
	if (why == -EBADMSG) {
		/* not a message at all: nothing to answer */
		log_client(LOG_WARNING, LOG_MSGID_TOO_LONG, &f, "%s length "
		    "prefix smaller than the prefix itself; closing", c->peer);
		conn_closing(c, "bad length prefix");
		return;
	}
	log_client(LOG_WARNING, LOG_MSGID_TOO_LONG, &f,
	    "%s message longer than %zu bytes; closing", c->peer,
	    svc->max_message_bytes);
	conn_env(c, &env, &facts);
	(void)answer_notice(&env, ANSWER_TOO_LONG, &c->out);
	conn_closing(c, "message too long");
}

/*
 * The client address's message rate is used up: pause until its next
 * token. Returns true when paused.
 */
static bool
throttle(struct conn *c)
{
	const struct conf_service *svc = c->l->svc;
	uint64_t		 wait;

	wait = bucket_take(&c->tally->bucket, serve_now(c->ctx),
	    svc->source_message_rate, svc->source_message_burst);
	if (wait == 0)
		return false;
	if (sd_event_add_time_relative(c->ctx->event, &c->delay,
	    CLOCK_MONOTONIC, wait, SERVE_TIMER_ACCURACY_USEC, delay_done,
	    c) < 0)
		return false;	/* cannot wait: let it through */
	log_debug("%s throttled for %llu us (source_message_rate)", c->peer,
	    (unsigned long long)wait);
	c->paused = true;
	return true;
}

/*
 * Answers every complete message in data; returns the bytes used. Where
 * every answer is fixed (fixes()), handle_fixed() answers; where the
 * replies are the messages' own bytes (answer_mirrors()), each message
 * is still counted, logged and recorded, and the run's replies are
 * copied at once: data[from..off).
 */
static size_t
process(struct conn *c, const char *data, size_t len)
{
	static const struct answer echoed;	/* the default reply, as is */
	const struct conf_service *svc = c->l->svc;
	struct serve_facts	 facts;
	struct answer_env	 env;
	struct log_fields	 f;
	struct frame_msg	 m;
	size_t			 off = 0, from = 0;
	ssize_t			 r;
	int			 a;
	bool			 fixed = fixes(c), mirror;

	mirror = fixed && answer_mirrors(c->ctx->conf, svc);
	conn_env(c, &env, &facts);
	conn_fields(c, &f);
	while (off < len && !c->closing && !c->paused && !c->hung) {
		r = frame_next(&svc->framing, data + off, len - off,
		    svc->max_message_bytes, c->eof || c->flushing, &m);
		if (r == 0)
			break;
		if (mirror && r > 0 && frame_verbatim(&m, data + off,
		    (size_t)r)) {
			off += (size_t)r;
			c->msgs++;
			c->ctx->messages++;
			noted(c, &f, &m, &echoed);
			continue;
		}
		echo_run(c, data + from, off - from);
		from = off;
		if (c->closing)
			break;
		if (r < 0) {
			too_long(c, r);
			return len;
		}
		if (c->flushing && (size_t)r == len - off) {
			/* the partial line that waited: its reply's end */
			m.term = svc->line_flush_end;
			m.term_len = strlen(svc->line_flush_end);
		}
		if (c->tally != NULL && svc->source_message_rate > 0 &&
		    throttle(c))
			break;	/* this message waits for its token */
		off += (size_t)r;
		from = off;
		if (fixed && (a = handle_fixed(c, &f, &m)) != 0) {
			if (a < 0)
				break;
			continue;
		}
		if (!handle_message(c, &env, &f, &m))
			break;
		/* what that message's rule did may end the fixed answers */
		if (fixed && !(fixed = fixes(c)))
			mirror = false;
	}
	echo_run(c, data + from, off - from);
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
	const struct conf_service *svc = c->l->svc;
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
	cap = frame_pending_max(&svc->framing, svc->max_message_bytes);
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
 * While a partial message waits, one timer: a partial line is answered
 * once nothing more has come for line_flush_ms (set again by every read
 * that leaves one), and any partial message not whole message_timeout_ms
 * after its first byte closes the connection (the slow client that sends
 * a byte now and then, which idle_timeout_ms never sees idle). Off while
 * there is none, or a delay holds the connection.
 */
static void
flush_arm(struct conn *c)
{
	const struct conf_service *svc = c->l->svc;
	uint64_t		 when = UINT64_MAX, t;

	if (c->inlen > 0 && !c->paused && !c->closing && !c->hung) {
		if (svc->framing.mode == FRAME_LINE && svc->line_flush_ms > 0)
			when = serve_now(c->ctx) + svc->line_flush_ms * 1000;
		t = c->partial_since + svc->message_timeout_ms * 1000;
		if (svc->message_timeout_ms > 0 && t < when)
			when = t;
	}
	if (when == UINT64_MAX) {
		if (c->flush != NULL)
			sd_event_source_set_enabled(c->flush, SD_EVENT_OFF);
		return;
	}
	if (c->flush == NULL) {
		if (sd_event_add_time(c->ctx->event, &c->flush, CLOCK_MONOTONIC,
		    when, SERVE_TIMER_ACCURACY_USEC, flush_due, c) < 0)
			log_debug("%s cannot time its partial message", c->peer);
		return;
	}
	sd_event_source_set_time(c->flush, when);
	sd_event_source_set_enabled(c->flush, SD_EVENT_ONESHOT);
}

static int
flush_due(sd_event_source *s, uint64_t usec, void *arg)
{
	const struct conf_service *svc;
	struct conn	*c = arg;
	size_t		 before;
	int		 r;

	(void)s;
	(void)usec;
	if (c->in == NULL || c->inlen == 0 || c->paused || c->closing)
		return 0;
	svc = c->l->svc;
	if (svc->message_timeout_ms > 0 && serve_now(c->ctx) >=
	    c->partial_since + svc->message_timeout_ms * 1000) {
		c->ctx->errors++;
		log_warnx("%s message not whole after %llu ms; closing",
		    c->peer, (unsigned long long)svc->message_timeout_ms);
		conn_close(c, "message timeout");
		return 0;
	}
	before = conn_out_begin(c);
	c->flushing = true;
	r = conn_consume(c, c->in, c->inlen, before);
	if (r == CONN_GONE)
		return 0;
	c->flushing = false;
	conn_update(c);
	return 0;
}

/*
 * Answers the messages in data (the read buffer or the connection's
 * own), keeps what is left for later and sends the replies, unless
 * `before` bytes were queued already. CONN_GONE when the connection
 * closed.
 */
static int
conn_consume(struct conn *c, char *data, size_t len, size_t before)
{
	size_t	 used;

	used = process(c, data, len);
	/* what is left starts a message, unless it goes on the one kept */
	if (used > 0 || c->in == NULL)
		c->partial_since = serve_now(c->ctx);
	/* after a delay, the rest waits (even past EOF) for its turn */
	if (c->closing || (c->eof && !c->paused))
		conn_drop_input(c);
	else if (conn_keep(c, data + used, len - used) < 0) {
		conn_close(c, "out of memory");
		return CONN_GONE;
	}
	flush_arm(c);
	return conn_send(c, before);
}

/* Lingering: reads and forgets until the client closes. */
static int
conn_discard(struct conn *c, char *rbuf)
{
	ssize_t	 n;

	n = c->tr->ops->read(c->tr, rbuf, SERVE_READ_SIZE);
	if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
		conn_close(c, NULL);
		return CONN_GONE;
	}
	if (n > 0)
		c->bytes_in += (uint64_t)n;	/* read, though not used */
	else if (n == -EAGAIN)
		conn_settle(c);
	if (n == SERVE_READ_SIZE)
		c->rearm = true;	/* there may be more */
	else if (c->rdhup) {
		conn_close(c, NULL);
		return CONN_GONE;
	}
	return 0;
}

/*
 * Returns 1 when it read something, 0 when there was nothing to read,
 * CONN_GONE when the connection closed.
 */
static int
conn_read(struct conn *c, char *rbuf)
{
	const struct conf_service *svc = c->l->svc;
	char			*dst;
	size_t			 room, len, want;
	ssize_t			 n;

	if (c->lingering)
		return conn_discard(c, rbuf);
	if (c->hung)
		return 0;	/* not even what the transport holds */

	want = frame_pending_max(&svc->framing, svc->max_message_bytes);
	if (c->in != NULL && c->incap < want) {
		char *np = realloc(c->in, want + 1);

		if (np == NULL) {
			conn_close(c, "out of memory");
			return CONN_GONE;
		}
		c->in = np;
		c->incap = want;
	}
	if (c->in != NULL) {
		dst = c->in + c->inlen;
		room = c->incap - c->inlen;
	} else {
		dst = rbuf;
		room = SERVE_READ_SIZE;
		if (svc->framing.mode == FRAME_RAW &&
		    room > svc->max_message_bytes)
			room = svc->max_message_bytes;
	}
	if (room == 0) {
		/* the pending partial outgrew a smaller limit after reload */
		size_t before = conn_out_begin(c);

		too_long(c, -EMSGSIZE);
		conn_drop_input(c);
		return conn_send(c, before) == CONN_GONE ? CONN_GONE : 1;
	}

	n = c->tr->ops->read(c->tr, dst, room);
	if (n == -EAGAIN) {
		conn_settle(c);
		return 0;
	}
	if (n == -EINTR)
		return 1;
	if (n < 0)
		return conn_error(c, "recv", (int)-n);
	/* room > 0 here, so n == room is a full read, never the FIN */
	if ((size_t)n == room)
		c->rearm = true;	/* edge-triggered: there may be more */
	else if (n == 0 || c->rdhup)
		c->eof = true;		/* the FIN, or all that came before it */
	c->bytes_in += (uint64_t)n;
	conn_touch(c);

	if (c->in != NULL) {
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		dst = c->in;
		len = c->inlen;
	} else {
		/* a NUL after the bytes: sanitizers' regexec() ignores
		 * REG_STARTEND and reads up to one */
		dst = rbuf;
		len = (size_t)n;
		rbuf[len] = '\0';
	}
	return conn_consume(c, dst, len, conn_out_begin(c)) == CONN_GONE ?
	    CONN_GONE : 1;
}

static bool
conn_can_read(const struct conn *c)
{
	return !c->eof && !c->closing && !c->paused && !c->hung &&
	    !c->opening && conn_queued(c) < c->l->svc->max_queued_bytes;
}

static void
conn_end(struct conn *c, enum conn_end end)
{
	switch (end) {
	case CONN_END_CLOSE:
		conn_closing(c, c->kicked ? "closed from the control socket" :
		    "closed after reply");
		break;
	case CONN_END_RESET:
		c->resetting = true;
		conn_closing(c, "reset after reply");
		break;
	case CONN_END_HALF_CLOSE:
		c->half_closing = true;
		break;
	case CONN_END_HANG_ALL:
		c->mute = true;
		conn_drop_output(c);
		c->hung = true;
		log_debug("%s hangs: no longer read nor written", c->peer);
		break;
	case CONN_END_HANG:
		c->hung = true;
		log_debug("%s hangs: no longer read", c->peer);
		break;
	default:
		break;
	}
}

/*
 * A held reply's next piece is due (or all of it, or nothing: a
 * throttled message's token has come). After the last piece of a paced
 * reply one more interval passes, so that replies in a row keep the pace.
 */
static int
delay_done(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	if (c->asking != 0)	/* nobody answered in time: the fallback */
		ask_done(c, "timeout");
	(void)held_next(c);
	return 0;
}

/* The next piece of the held reply goes. CONN_GONE if it closed. */
static int
held_next(struct conn *c)
{
	size_t		 before = conn_out_begin(c), n;
	enum conn_end	 end;

	c->delay = sd_event_source_disable_unref(c->delay);
	n = c->delayed_len - c->delayed_off;
	if (c->piece > 0 && n > c->piece)
		n = c->piece;
	if (n > 0 && buf_append(&c->out, c->delayed + c->delayed_off, n) < 0) {
		conn_close(c, "out of memory");
		return CONN_GONE;
	}
	c->delayed_off += n;
	/* the last piece's interval too, unless the connection ends then */
	if (c->delayed_off < c->delayed_len ||
	    (c->piece > 0 && c->delayed_end == CONN_END_NONE)) {
		if (c->delayed_off == c->delayed_len)
			c->piece = 0;	/* the last interval */
		c->piece_due += c->piece_usec;
		if (sd_event_add_time(c->ctx->event, &c->delay,
		    CLOCK_MONOTONIC, c->piece_due, SERVE_TIMER_ACCURACY_USEC,
		    delay_done, c) < 0) {
			conn_close(c, "cannot arm a timer");
			return CONN_GONE;
		}
		if (conn_send(c, before) == CONN_GONE)
			return CONN_GONE;
		return conn_update(c);
	}
	c->paused = false;
	c->piece = 0;
	free(c->delayed);
	c->delayed = NULL;
	c->delayed_len = c->delayed_off = 0;
	end = c->delayed_end;
	c->delayed_end = CONN_END_NONE;
	conn_end(c, end);
	/* then what arrived behind the held message */
	if (c->in != NULL && !c->closing && !c->hung) {
		if (conn_consume(c, c->in, c->inlen, before) == CONN_GONE)
			return CONN_GONE;
	} else {
		if (c->closing || c->eof)
			conn_drop_input(c);
		if (conn_send(c, before) == CONN_GONE)
			return CONN_GONE;
	}
	return conn_update(c);
}

int
conn_drain(struct conn *c, char *rbuf)
{
	int	 r, i;

	c->draining = true;
	if (c->lingering)
		return conn_update(c);
	if (c->asking != 0 && conn_answer(c, c->asking, NULL, 0) == CONN_GONE)
		return CONN_GONE;	/* its fallback went, at shutdown */
	if (c->opening) {
		c->delay = sd_event_source_disable_unref(c->delay);
		c->opening = false;
		return conn_end_early(c, "server shutting down");
	}
	if (c->hung) {
		/* nothing it sends will be read: it ends now */
		conn_closing(c, "server shutting down");
		return conn_update(c);
	}
	/* bounded, so a client that never stops sending cannot hold the loop */
	for (i = 0; i < DRAIN_BURST && conn_can_read(c); i++) {
		if ((r = conn_read(c, rbuf)) == CONN_GONE)
			return CONN_GONE;
		if (r == 0)
			conn_closing(c, "server shutting down");
	}
	if (i == DRAIN_BURST && conn_can_read(c))
		c->rearm = true;	/* come back for the rest */
	return conn_update(c);
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
	if (epoll_ctl(c->ctx->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		log_warn("%s cannot change event mask", c->peer);
	c->events = events;
}

static int
linger_done(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	conn_close(c, NULL);
	return 0;
}

static int
again_due(sd_event_source *s, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)conn_event(c, EPOLLIN, c->ctx->rbuf);
	return 0;
}

/*
 * The transport took more from the socket than there was room for: no
 * edge will come for it, so the connection reads again soon, after what
 * else is ready.
 */
static void
conn_again(struct conn *c)
{
	if (c->again == NULL) {
		if (sd_event_add_defer(c->ctx->event, &c->again, again_due,
		    c) < 0)
			log_warnx("%s cannot come back for its input", c->peer);
		else
			sd_event_source_set_enabled(c->again, SD_EVENT_ONESHOT);
		return;
	}
	sd_event_source_set_enabled(c->again, SD_EVENT_ONESHOT);
}

/* An RST: whatever is unsent is thrown away, the client told so. */
static int
conn_abort(struct conn *c, const char *reason)
{
	struct linger	 lg = { 1, 0 };

	if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
		log_debug("%s cannot reset: %s", c->peer, strerror(errno));
	c->aborted = true;	/* not even a TLS close_notify first */
	conn_close(c, reason);
	return CONN_GONE;
}

static int
reset_due(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	c->delay = sd_event_source_disable_unref(c->delay);
	(void)conn_update(c);
	return 0;
}

/*
 * The reply before a reset must reach the client first: an RST throws
 * away what its TCP has not acknowledged. So the reset waits for the
 * acks, a bounded time. CONN_GONE once it is done.
 */
static int
conn_reset(struct conn *c)
{
	int	 unacked = 0;

	if (c->sa.sa.sa_family != AF_UNIX && c->reset_tries < RESET_TRIES &&
	    ioctl(c->fd, SIOCOUTQ, &unacked) == 0 && unacked > 0) {
		c->reset_tries++;
		if (sd_event_add_time_relative(c->ctx->event, &c->delay,
		    CLOCK_MONOTONIC, RESET_POLL_USEC, SERVE_TIMER_ACCURACY_USEC,
		    reset_due, c) == 0) {
			conn_set_events(c, 0);
			return 0;
		}
	}
	return conn_abort(c, c->reason);
}

/* Recomputes what to wait for; closes when done. CONN_GONE then. */
static int
conn_update(struct conn *c)
{
	size_t			 q = conn_queued(c);
	uint32_t		 ev = 0;
	int			 r;

	if (c->opening)
		return 0;	/* nothing read or written yet */
	/* a reset is due even when the client has sent its FIN */
	if (q == 0 && c->resetting)
		return c->delay != NULL ? 0 : conn_reset(c);
	if (q == 0 && c->eof && !c->paused) {
		conn_close(c, c->closing ? NULL : "client closed");
		return CONN_GONE;
	}
	if (q == 0 && c->half_closing && !c->wr_shut && !c->paused) {
		/* the reply is out: our side ends, the client's reads on */
		if ((r = c->tr->ops->shutdown(c->tr)) == 0) {
			conn_settle(c);
			c->wr_shut = true;
			log_debug("%s half closed: reading on", c->peer);
		} else if (r != -EAGAIN)
			return conn_error(c, "shutdown", -r);
	}
	if (q == 0 && c->closing && !c->lingering) {
		/*
		 * Shut the write side and read until the client closes, so
		 * that unread input does not turn our close into a reset that
		 * destroys the replies still in flight. The clock starts
		 * first: a TLS close_notify may have to wait for room.
		 */
		conn_drop_input(c);
		if (c->linger == NULL && sd_event_add_time_relative(
		    c->ctx->event, &c->linger, CLOCK_MONOTONIC, LINGER_USEC, 0,
		    linger_done, c) < 0) {
			conn_close(c, NULL);
			return CONN_GONE;
		}
		if ((r = c->tr->ops->shutdown(c->tr)) == -EAGAIN) {
			conn_set_events(c, EPOLLIN | c->tr->ops->wants(c->tr));
			return 0;
		}
		if (r < 0) {
			conn_close(c, NULL);
			return CONN_GONE;
		}
		conn_settle(c);
		c->lingering = true;
	}
	if (c->lingering || conn_can_read(c))
		ev |= EPOLLIN;
	else if (!c->closing && !c->eof && !c->hung && (c->events & EPOLLIN))
		log_debug("%s not read while %zu reply bytes wait", c->peer, q);
	/* a draining connection must come back to see EAGAIN even when no
	 * more input arrives: writability brings it back */
	if (q > 0 || (c->draining && !c->closing && !c->eof && !c->paused))
		ev |= EPOLLOUT;
	if (c->hung)
		ev |= EPOLLRDHUP;	/* to see the client go */
	conn_set_events(c, ev | c->tr->ops->wants(c->tr));
	if (conn_can_read(c) && c->tr->ops->pending(c->tr))
		conn_again(c);
	return 0;
}

/*
 * What has to come first (the PROXY header, the TLS handshake) did not
 * come in time: one warning, then closed.
 */
static void
conn_late(struct conn *c, const char *what, uint64_t ms, const char *reason)
{
	c->delay = sd_event_source_disable_unref(c->delay);
	c->ctx->errors++;
	log_warnx("%s no %s within %llu ms; closing", c->peer, what,
	    (unsigned long long)ms);
	conn_close(c, reason);
}

static int
proxy_late(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	conn_late(c, "PROXY header", c->l->svc->proxy_timeout_ms,
	    "no PROXY header in time");
	return 0;
}

static void
proxy_refuse(struct conn *c, const char *what)
{
	c->ctx->errors++;
	log_warnx("%s %s; closing", c->peer, what);
	conn_close(c, what);
}

/*
 * Before anything else on a PROXY listener: the header, peeked at so that
 * not one byte past it is taken from the socket, then read exactly. The
 * client it names becomes the connection's client, and is admitted as a
 * directly connected one would have been. CONN_GONE when it closed; else
 * 0, with proxy_wait still set while the header is not whole.
 */
static int
proxy_read(struct conn *c, char *rbuf)
{
	const struct conf_service *svc = c->l->svc;
	struct proxy_header	 h;
	struct log_fields	 f;
	char			 balancer[sizeof(c->peer)];
	ssize_t			 n, r;

	n = recv(c->fd, rbuf, PROXY_HEADER_MAX, MSG_PEEK);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return conn_error(c, "recv", errno);
	}
	if (n == 0) {
		proxy_refuse(c, "closed before its PROXY header");
		return CONN_GONE;
	}
	r = proxy_parse(rbuf, (size_t)n, svc->proxy_versions, &h);
	if (r == 0 && !c->rdhup)
		return 0;	/* the rest is on its way */
	if (r <= 0) {
		proxy_refuse(c, r == -EMSGSIZE ? "PROXY header too long" :
		    r == 0 ? "closed before its PROXY header was whole" :
		    "sent no valid PROXY header");
		return CONN_GONE;
	}
	if (recv(c->fd, rbuf, (size_t)r, 0) != r)
		return conn_error(c, "recv", errno ? errno : EIO);
	c->bytes_in += (uint64_t)r;
	c->proxy_wait = false;
	c->delay = sd_event_source_disable_unref(c->delay);
	strlcpy(balancer, c->peer, sizeof(balancer));
	strlcpy(c->proxy_addr, c->addr, sizeof(c->proxy_addr));
	c->proxy_port = c->port;
	if (!h.local) {
		if (h.src.sa.sa_family == AF_INET)
			c->sa.in = h.src.in;
		else
			c->sa.in6 = h.src.in6;
		addr_format(&c->sa.sa, c->addr, sizeof(c->addr), &c->port);
		conn_name(c, 0);
	}
	switch (c->ctx->admit(c, c->ctx->arg)) {
	case CONN_GONE:
		return CONN_GONE;
	case 1:		/* refused: the refusal goes out, then it closes */
		return conn_send(c, 0) == CONN_GONE ? CONN_GONE :
		    conn_update(c);
	default:
		break;
	}
	conn_fields(c, &f);
	log_client(LOG_INFO, LOG_MSGID_CONNECT, &f, "%s connected to %s "
	    "via %s (PROXY v%u%s)", c->peer, c->l->name, balancer, h.version,
	    h.local ? ", its own address" : "");
	if (c->tls_wait) {	/* the handshake follows the header */
		tls_time(c);
		return 0;
	}
	return conn_greet(c) == CONN_GONE ? CONN_GONE : 0;
}

static int
tls_late(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	conn_late(c, "TLS handshake", c->l->svc->tls.handshake_timeout_ms,
	    "TLS handshake timeout");
	return 0;
}

/* The handshake's clock starts. */
static void
tls_time(struct conn *c)
{
	if (sd_event_add_time_relative(c->ctx->event, &c->delay,
	    CLOCK_MONOTONIC, c->l->svc->tls.handshake_timeout_ms * 1000,
	    SERVE_TIMER_ACCURACY_USEC, tls_late, c) < 0)
		log_warnx("%s cannot time its TLS handshake", c->peer);
}

/*
 * The TLS handshake, a step each time the socket is ready for it. Once
 * done, what was agreed is logged and the greeting goes out; a failure
 * is one warning, then the connection closes (a lingering close, so
 * that the client sees an end rather than a reset). CONN_GONE when it
 * closed.
 */
static int
tls_step(struct conn *c)
{
	const struct template_tls *t;
	struct log_fields	 f;
	char			 why[192], sni[ESCAPE_SIZE(255)];
	char			 alpn[ESCAPE_SIZE(255)];
	char			 subject[ESCAPE_SIZE(255)];
	int			 r;

	if ((r = c->tr->ops->handshake(c->tr, why, sizeof(why))) == 0)
		return 0;
	c->delay = sd_event_source_disable_unref(c->delay);
	c->tls_wait = false;
	if (r < 0) {
		c->ctx->errors++;
		log_warnx("%s %s; closing", c->peer, why);
		conn_closing(c, "TLS handshake failed");
		return 0;
	}
	conn_fields(c, &f);
	t = f.tls;
	/* what the client chose is escaped, as its messages are */
	escape(sni, t->sni, strlen(t->sni), 255);
	escape(alpn, t->alpn, strlen(t->alpn), 255);
	escape(subject, t->client_subject, strlen(t->client_subject), 255);
	log_client(LOG_INFO, LOG_MSGID_TLS, &f, "%s TLS: %s, %s%s%s%s%s%s%s%s%s"
	    "%s%s", c->peer, t->version, t->cipher,
	    sni[0] ? ", SNI \"" : "", sni, sni[0] ? "\"" : "",
	    alpn[0] ? ", ALPN \"" : "", alpn, alpn[0] ? "\"" : "",
	    subject[0] ? ", client \"" : "", subject,
	    subject[0] ? "\" SHA-256 " : "", t->client_fingerprint);
	return conn_greet(c);
}

int
conn_event(struct conn *c, uint32_t revents, char *rbuf)
{
	/* with edges, the FIN may come with the last data: no later event */
	if (revents & EPOLLRDHUP)
		c->rdhup = true;
	if (c->opening)
		return 0;	/* read once open_delay_ms is over */
	if (c->hung && (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		/* what is still due goes out first (a write error ends it) */
		c->eof = true;
		if ((revents & EPOLLOUT) && conn_flush(c) == CONN_GONE)
			return CONN_GONE;
		return conn_update(c);
	}
	if (c->proxy_wait) {
		if (proxy_read(c, rbuf) == CONN_GONE)
			return CONN_GONE;
		if (c->proxy_wait)
			return conn_update(c);
		/* what came after the header is read below, as ever */
		revents |= EPOLLIN;
	}
	if (c->tls_wait) {
		if (tls_step(c) == CONN_GONE)
			return CONN_GONE;
		if (c->tls_wait || c->closing)
			return conn_update(c);
		/* what came right after the handshake is read below */
		revents |= EPOLLIN;
	} else if (c->tr->ops->wants(c->tr) != 0)
		/* a read needs a write, or a write a read: retry both */
		revents |= EPOLLIN | EPOLLOUT;
	if ((revents & EPOLLOUT) && conn_flush(c) == CONN_GONE)
		return CONN_GONE;
	if (c->draining && !c->lingering)
		return conn_drain(c, rbuf);
	if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		if (!(c->events & EPOLLIN) && conn_queued(c) > 0) {
			/* not reading now: let the write report the error */
			if (conn_flush(c) == CONN_GONE)
				return CONN_GONE;
		} else if (conn_read(c, rbuf) == CONN_GONE)
			return CONN_GONE;
	}
	return conn_update(c);
}

static void
conn_name(struct conn *c, uint64_t serial)
{
	if (c->sa.sa.sa_family == AF_UNIX)	/* no address: name it by count */
		snprintf(c->peer, sizeof(c->peer), "unix:%s#%llu", c->l->name,
		    (unsigned long long)serial);
	else
		addr_format_peer(c->addr, c->port, c->peer, sizeof(c->peer));
}

static int
conn_greet(struct conn *c)
{
	struct serve_facts	 facts;
	struct answer_env	 env;

	if (c->l->svc->greeting == NULL)
		return 0;
	conn_env(c, &env, &facts);
	if (answer_notice(&env, ANSWER_GREETING, &c->out) < 0) {
		conn_close(c, "out of memory");
		return CONN_GONE;
	}
	if (conn_send(c, 0) == CONN_GONE)
		return CONN_GONE;
	return conn_update(c);
}

struct conn *
conn_new(struct serve_ctx *ctx, struct listener *l, int fd,
    const union addr_any *client, struct tally *tally, uint64_t serial)
{
	struct epoll_event	 ev;
	struct log_fields	 f;
	struct conn		*c;
	int			 on = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: out of memory for a new connection", l->name);
		close(fd);
		return NULL;
	}
	c->ctx = ctx;
	c->l = l;
	c->fd = fd;
	c->tally = tally;
	c->id = serial;
	c->started = serve_now(ctx);
	answer_state_init(&c->story, ctx->seed, serial);
	if (client->sa.sa_family == AF_INET)
		c->sa.in = client->in;
	else if (client->sa.sa_family == AF_INET6)
		c->sa.in6 = client->in6;
	else
		c->sa.sa.sa_family = client->sa.sa_family;
	addr_format(&c->sa.sa, c->addr, sizeof(c->addr), &c->port);
	conn_name(c, serial);
	if (client->sa.sa_family == AF_INET || client->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	transport_plain_init(&c->plain, fd);
	c->tr = &c->plain;
	if (l->tls != NULL) {
		if ((c->tr = transport_tls_new(l->tls, fd)) == NULL) {
			log_warnx("%s: out of memory for a TLS connection",
			    l->name);
			close(fd);
			free(c);
			return NULL;
		}
		c->tls_wait = true;
	}
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	c->events = EPOLLIN;
	if (epoll_ctl(ctx->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("%s: cannot watch a new connection", l->name);
		c->tr->ops->free(c->tr, false);
		close(fd);
		free(c);
		return NULL;
	}
	idle_append(&l->idle, &c->idle, c->started);
	/* its TLS is the listener's even once a reload turns that off */
	if ((c->resting = c->tr->ops->rest != NULL))
		l->nresting++;
	if (l->svc->proxy_versions != 0) {
		/* who the client is comes first; it is logged then */
		c->proxy_wait = true;
		return c;
	}
	conn_fields(c, &f);
	log_client(LOG_INFO, LOG_MSGID_CONNECT, &f, "%s connected to %s",
	    c->peer, l->name);
	return c;
}

/*
 * Closed before anything was said: a plain FIN, with no PROXY header
 * read nor TLS handshake first. CONN_GONE if it closed at once.
 */
static int
conn_end_early(struct conn *c, const char *reason)
{
	c->proxy_wait = c->tls_wait = false;
	if (c->tr != &c->plain) {
		c->tr->ops->free(c->tr, false);
		c->tr = &c->plain;
	}
	conn_closing(c, reason);
	return conn_update(c);
}

/*
 * The clocks of what must come first start; or, with nothing to wait
 * for, the greeting goes out. CONN_GONE if it closed.
 */
static int
conn_begin(struct conn *c)
{
	/* behind a balancer, the greeting waits for the PROXY header; on
	 * TLS, for the handshake */
	if (c->proxy_wait) {
		if (sd_event_add_time_relative(c->ctx->event, &c->delay,
		    CLOCK_MONOTONIC, c->l->svc->proxy_timeout_ms * 1000,
		    SERVE_TIMER_ACCURACY_USEC, proxy_late, c) < 0)
			log_warnx("%s cannot time its PROXY header", c->peer);
		return 0;
	}
	if (c->tls_wait) {
		tls_time(c);
		return 0;
	}
	return conn_greet(c);
}

static int
open_done(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c = arg;

	(void)s;
	(void)usec;
	c->delay = sd_event_source_disable_unref(c->delay);
	c->opening = false;
	if (conn_begin(c) == CONN_GONE)
		return 0;
	/* what came meanwhile: no edge will tell */
	(void)conn_event(c, EPOLLIN, c->ctx->rbuf);
	return 0;
}

/*
 * After the server has counted it: the listener's connection faults
 * (a close or a reset at accept, a slow open), then conn_begin().
 */
int
conn_start(struct conn *c)
{
	uint64_t		 delay;

	switch (answer_accept(&c->story, c->l->svc, &delay)) {
	case ANSWER_ACCEPT_RESET:
		return conn_abort(c, "reset at accept "
		    "(accept_reset_probability)");
	case ANSWER_ACCEPT_CLOSE:
		return conn_end_early(c, "closed at accept "
		    "(accept_close_probability)");
	default:
		break;
	}
	if (delay > 0) {
		if (sd_event_add_time_relative(c->ctx->event, &c->delay,
		    CLOCK_MONOTONIC, delay * 1000, SERVE_TIMER_ACCURACY_USEC,
		    open_done, c) == 0) {
			c->opening = true;
			return 0;
		}
		log_warnx("%s cannot time its slow open", c->peer);
	}
	return conn_begin(c);
}

const char *
conn_state(const struct conn *c)
{
	if (c->opening)
		return "opening";
	if (c->proxy_wait)
		return "proxy";
	if (c->tls_wait)
		return "handshake";
	if (c->lingering)
		return "lingering";
	if (c->closing || c->resetting)
		return "closing";
	if (c->hung)
		return "hung";
	if (c->paused)
		return "delayed";
	return "open";
}

int
conn_push(struct conn *c, const void *data, size_t len)
{
	size_t	 before;
	int	 r;

	if (c->closing || c->wr_shut || c->half_closing || c->mute ||
	    c->opening || c->proxy_wait || c->tls_wait)
		return -EPIPE;
	/* the client's backpressure holds for pushes too */
	if (conn_queued(c) + c->delayed_len - c->delayed_off + len >
	    c->l->svc->max_queued_bytes)
		return -ENOBUFS;
	if (c->delayed != NULL)
		return held_append(c, data, len);	/* after the held reply */
	before = conn_out_begin(c);
	if ((r = answer_push(c->l->svc, data, len, &c->out)) < 0)
		return r;
	if (conn_send(c, before) == CONN_GONE)
		return CONN_GONE;
	return conn_update(c);
}

/* Pushed bytes go after the reply held back, and its pieces. */
static int
held_append(struct conn *c, const void *data, size_t len)
{
	struct buf	 b = { 0 };
	char		*np;
	int		 r;

	if ((r = answer_push(c->l->svc, data, len, &b)) < 0 ||
	    (np = realloc(c->delayed, c->delayed_len + b.len)) == NULL) {
		buf_free(&b);
		return r < 0 ? r : -ENOMEM;
	}
	memcpy(np + c->delayed_len, b.data, b.len);
	c->delayed = np;
	c->delayed_len += b.len;
	buf_free(&b);
	return 0;
}

int
conn_kick(struct conn *c)
{
	log_info("%s closed from the control socket", c->peer);
	if (c->opening || c->proxy_wait || c->tls_wait || c->hung ||
	    c->lingering) {
		conn_close(c, "closed from the control socket");
		return CONN_GONE;
	}
	c->kicked = true;
	if (c->paused && (c->delayed != NULL || c->asking != 0)) {
		/* the reply held back goes first, then the close */
		c->delayed_end = CONN_END_CLOSE;
		return 0;
	}
	conn_closing(c, "closed from the control socket");
	return conn_update(c);
}

int
conn_answer(struct conn *c, uint64_t id, const void *data, size_t len)
{
	struct buf	 b = { 0 };
	int		 r;

	if (c->asking != id)
		return -ENOENT;
	if (data != NULL) {
		/* the typed line instead of the fallback (what was pushed
		 * meanwhile stays after it) */
		if ((r = answer_push(c->l->svc, data, len, &b)) < 0 ||
		    (c->delayed_len > c->held_own &&
		    buf_append(&b, c->delayed + c->held_own,
		    c->delayed_len - c->held_own) < 0)) {
			buf_free(&b);
			return r < 0 ? r : -ENOMEM;
		}
		free(c->delayed);
		c->delayed = b.data;
		c->delayed_len = b.len;
		c->delayed_off = 0;
	}
	ask_done(c, data != NULL ? "answered" : "fallback");
	return held_next(c);
}
