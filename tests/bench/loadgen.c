/* SPDX-License-Identifier: ISC */
/*
 * Load generator for make bench: one thread, one epoll loop, loopback only.
 *
 *   pipe     C connections, each keeping P messages in flight for a fixed
 *            time; replies per second and p50/p99 latency
 *   connect  C connections at a time, each sending one message, reading
 *            the reply and closing; connections per second
 *   idle     opens C connections (a message and its reply on each), holds
 *            them, then checks every one still answers
 *   probe    retries until the server gives the expected reply (readiness)
 *
 * Every reply is checked, byte for byte, against the expected reply and
 * the terminator sent; a wrong, short or missing reply, a refused or reset
 * connection are errors. The result is one line of key=value pairs.
 * Every loop is bounded in time; the program never runs longer than its
 * warm-up, duration and drain time (or, for idle, its open time limit,
 * hold time and check time) added up.
 *
 * With -T each connection is a TLS client (OpenSSL) that does a full
 * handshake: a fresh session every time, no ticket, no session cache, as
 * the bench measures handshakes; no certificate check, as the bench's are
 * self-signed; server name localhost. A failed handshake is an error. In
 * connect mode the handshake counts in the connection's time, which ends
 * with a close_notify and close(2), not waiting for the server's.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define NSEC		1000000000ULL
#define RBUF_SIZE	(64 * 1024)
#define MAX_DEPTH	1024
#define MAX_SOURCES	253		/* 127.0.0.2 .. 127.0.0.254 */
#define DRAIN_NSEC	(2 * NSEC)	/* replies still due after the window */
#define OPEN_NSEC	(120 * NSEC)	/* idle: time allowed to open them all */
#define CHECK_NSEC	(30 * NSEC)	/* idle: time allowed for the last check */
#define IDLE_OPENING	64		/* idle: connections being opened at once */

/* Latency histogram: 64 linear steps per power of two of nanoseconds. */
#define SUB_BITS	7
#define HALF		(1U << (SUB_BITS - 1))
#define NBUCKETS	(64 * HALF)

enum mode { M_PIPE, M_CONNECT, M_IDLE, M_PROBE };
/* C_CONNECTING: the TCP connect, then with -T the TLS handshake */
enum cstate { C_FREE, C_CONNECTING, C_OPEN, C_IDLE, C_DEAD };

struct conn {
	int		 fd;
	enum cstate	 state;
	uint32_t	 events;
	unsigned int	 inflight;	/* sent (or queued), not answered */
	unsigned int	 head;		/* ring of send times */
	uint64_t	*sent_at;
	size_t		 wpend_off;	/* unsent bytes of msgbuf */
	size_t		 wpend_len;
	size_t		 plen;		/* partial reply kept between reads */
	char		*part;
	bool		 skip;		/* discarding a bad reply up to its LF */
	uint64_t	 started;	/* connect and idle: when it began */
#ifdef HAVE_TLS
	SSL		*ssl;
	bool		 rd_out;	/* SSL_read waits for writability */
#endif
};

static struct {
	enum mode	 mode;
	struct sockaddr_in srv;
	unsigned int	 nconns, depth, nsources, next_source;
	uint64_t	 warmup, dur, probe_timeout;
	const char	*msg, *reply;
	const char	*term;
	bool		 length;	/* -L: a 4-byte length before each */
	bool		 proxy;		/* -X: a PROXY v1 header first */
	bool		 tls;		/* -T */
#ifdef HAVE_TLS
	SSL_CTX		*ctx;
#endif
	char		*msgbuf;	/* depth + 1 copies of message + term */
	size_t		 mlen;		/* one message with its terminator */
	char		*exp;		/* the expected reply with the terminator */
	size_t		 explen;
	long		 srv_pid;
	int		 ep;
	struct conn	*conns;
	char		 rbuf[RBUF_SIZE];
	bool		 measuring, sending, checking;
	long		 busy;		/* connecting, or waiting for replies */
	uint64_t	 replies, errors, started, lat_count, verified;
	uint64_t	 hist[NBUCKETS];
} g;

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static bool
is_busy(const struct conn *c)
{
	return c->state == C_CONNECTING ||
	    (c->state == C_OPEN && c->inflight > 0);
}

/* Keeps g.busy right across a change to c made since was = is_busy(c). */
static void
track(const struct conn *c, bool was)
{
	g.busy += (long)is_busy(c) - (long)was;
}

static unsigned int
bucket(uint64_t v)
{
	unsigned int	 shift;

	if (v < 2 * HALF)
		return (unsigned int)v;
	shift = (unsigned int)(63 - __builtin_clzll(v)) - (SUB_BITS - 1);
	return shift * HALF + (unsigned int)(v >> shift);
}

static uint64_t
bucket_value(unsigned int i)
{
	unsigned int	 shift;

	if (i < 2 * HALF)
		return i;
	shift = i / HALF - 1;
	return ((uint64_t)(i - shift * HALF) << shift) + ((1ULL << shift) >> 1);
}

static double
percentile_us(double q)
{
	uint64_t	 want, seen = 0;
	unsigned int	 i;

	if (g.lat_count == 0)
		return 0;
	want = (uint64_t)(q * (double)g.lat_count);
	if (want == 0)
		want = 1;
	for (i = 0; i < NBUCKETS; i++) {
		seen += g.hist[i];
		if (seen >= want)
			return (double)bucket_value(i) / 1000.0;
	}
	return 0;
}

static void
record(uint64_t lat)
{
	if (!g.measuring)
		return;
	g.hist[bucket(lat)]++;
	g.lat_count++;
}

/* CPU seconds used so far by this process, or by srv_pid. */
static double
cpu_self(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double
cpu_server(void)
{
	char		 path[64], line[1024], *p;
	unsigned long	 ut, st;
	FILE		*fp;
	int		 ok;

	if (g.srv_pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", g.srv_pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	ok = fgets(line, sizeof(line), fp) != NULL;
	fclose(fp);
	/* the command name may hold spaces: count fields after its ')' */
	if (!ok || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
set_events(struct conn *c, uint32_t events)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return;
	if (epoll_ctl(g.ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
	    c->fd, &ev) == -1)
		err(1, "epoll_ctl");
	c->events = events;
}

static void
conn_close(struct conn *c, enum cstate next)
{
	bool	 was = is_busy(c);

#ifdef HAVE_TLS
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		c->rd_out = false;
	}
#endif
	if (c->fd >= 0)
		close(c->fd);	/* also leaves the epoll set */
	c->fd = -1;
	c->events = 0;
	c->inflight = 0;
	c->head = 0;
	c->wpend_off = c->wpend_len = 0;
	c->plen = 0;
	c->skip = false;
	c->state = next;
	track(c, was);
}

static void
conn_fail(struct conn *c)
{
	g.errors++;
	conn_close(c, g.mode == M_CONNECT ? C_FREE : C_DEAD);
}

/* Closes a connection that worked: with -T, a close_notify first. */
static void
conn_done(struct conn *c, enum cstate next)
{
#ifdef HAVE_TLS
	/* one try, not waiting for the server's: as a client that leaves */
	if (c->ssl != NULL && (c->state == C_OPEN || c->state == C_IDLE) &&
	    SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
#endif
	conn_close(c, next);
}

/* Starts a non-blocking connect; false (and one error) when it fails. */
static bool
conn_start(struct conn *c, uint64_t now)
{
	struct sockaddr_in	 src;
	unsigned int		 i;
	int			 on = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		warn("socket");
		g.errors++;
		c->state = g.mode == M_CONNECT ? C_FREE : C_DEAD;
		return false;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (g.nsources > 0) {
		/* a port per (source, destination): more than 28,000 */
		i = g.next_source++ % g.nsources;
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002U + i);
		if (setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
		    sizeof(on)) == -1 ||
		    bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			warn("bind 127.0.0.%u", i + 2);
			conn_fail(c);
			return false;
		}
	}
	c->started = now;
	if (connect(c->fd, (struct sockaddr *)&g.srv, sizeof(g.srv)) == -1 &&
	    errno != EINPROGRESS) {
		if (errno != ECONNREFUSED)
			warn("connect");
		conn_fail(c);
		return false;
	}
	c->state = C_CONNECTING;
	g.busy++;
	set_events(c, EPOLLOUT);
	return true;
}

/*
 * -X: the PROXY v1 header a balancer would send, naming this connection's
 * own ends, on a socket that has just connected (it takes the few bytes).
 */
static bool
send_proxy(struct conn *c)
{
	struct sockaddr_in	 me, peer;
	socklen_t		 ml = sizeof(me), pl = sizeof(peer);
	char			 h[108], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	int			 n;

	if (getsockname(c->fd, (struct sockaddr *)&me, &ml) == -1 ||
	    getpeername(c->fd, (struct sockaddr *)&peer, &pl) == -1) {
		conn_fail(c);
		return false;
	}
	inet_ntop(AF_INET, &me.sin_addr, a, sizeof(a));
	inet_ntop(AF_INET, &peer.sin_addr, b, sizeof(b));
	n = snprintf(h, sizeof(h), "PROXY TCP4 %s %s %u %u\r\n", a, b,
	    ntohs(me.sin_port), ntohs(peer.sin_port));
	if (send(c->fd, h, (size_t)n, MSG_NOSIGNAL) != n) {
		conn_fail(c);
		return false;
	}
	return true;
}

#ifdef HAVE_TLS
/*
 * -T: writes what is pending. After a WANT_WRITE the next SSL_write has
 * the same start and as many bytes or more, as OpenSSL requires.
 */
static bool
tls_flush(struct conn *c)
{
	int	 w, e;

	while (c->wpend_len > 0) {
		w = SSL_write(c->ssl, g.msgbuf + c->wpend_off,
		    (int)c->wpend_len);
		if (w <= 0) {
			/* WANT_READ: none without renegotiation; harmless */
			e = SSL_get_error(c->ssl, w);
			if (e == SSL_ERROR_WANT_WRITE ||
			    e == SSL_ERROR_WANT_READ)
				break;
			ERR_clear_error();
			conn_fail(c);
			return false;
		}
		c->wpend_len -= (size_t)w;
		c->wpend_off = c->wpend_len == 0 ? 0 :
		    (c->wpend_off + (size_t)w) % g.mlen;
	}
	set_events(c, c->wpend_len > 0 || c->rd_out ? EPOLLIN | EPOLLOUT :
	    EPOLLIN);
	return true;
}
#endif

/* Sends n more messages (or what is still pending when n is 0). */
static bool
conn_send(struct conn *c, unsigned int n, uint64_t now)
{
	ssize_t		 w;
	bool		 was = is_busy(c);

	for (; n > 0; n--) {
		c->sent_at[(c->head + c->inflight) % g.depth] = now;
		c->inflight++;
		c->wpend_len += g.mlen;
	}
	track(c, was);
	if (c->wpend_len == 0)
		return true;
#ifdef HAVE_TLS
	if (g.tls)
		return tls_flush(c);
#endif
	w = send(c->fd, g.msgbuf + c->wpend_off, c->wpend_len, MSG_NOSIGNAL);
	if (w == -1) {
		if (errno != EAGAIN) {
			conn_fail(c);
			return false;
		}
		w = 0;
	}
	c->wpend_len -= (size_t)w;
	c->wpend_off = c->wpend_len == 0 ? 0 :
	    (c->wpend_off + (size_t)w) % g.mlen;
	set_events(c, c->wpend_len > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return true;
}

/*
 * One reply arrived, good or bad. Returns whether it freed an in-flight
 * slot (a reply nobody asked for does not).
 */
static bool
answered(struct conn *c, bool good, uint64_t now)
{
	bool	 was = is_busy(c);

	if (c->inflight == 0) {
		g.errors++;
		return false;
	}
	if (good) {
		if (g.measuring)
			g.replies++;
		if (g.mode != M_CONNECT)	/* that counts from connect() */
			record(now - c->sent_at[c->head]);
	} else
		g.errors++;
	c->head = (c->head + 1) % g.depth;
	c->inflight--;
	track(c, was);
	return true;
}

/* Checks the replies in buf; returns how many arrived. */
static inline unsigned int
parse(struct conn *c, const char *buf, size_t len, uint64_t now)
{
	const char	*nl;
	size_t		 off = 0, avail;
	unsigned int	 n = 0;

	while (off < len) {
		avail = len - off;
		if (c->skip) {
			if ((nl = memchr(buf + off, '\n', avail)) == NULL)
				return n;
			off = (size_t)(nl - buf) + 1;
			c->skip = false;
			continue;
		}
		if (avail >= g.explen) {
			if (memcmp(buf + off, g.exp, g.explen) == 0) {
				n += answered(c, true, now);
				off += g.explen;
				continue;
			}
			n += answered(c, false, now);
			/* a line too short, or the start of one too long */
			if ((nl = memchr(buf + off, '\n', g.explen)) != NULL)
				off = (size_t)(nl - buf) + 1;
			else {
				off += g.explen;
				c->skip = true;
			}
			continue;
		}
		if ((nl = memchr(buf + off, '\n', avail)) != NULL) {
			n += answered(c, false, now);	/* a short line */
			off = (size_t)(nl - buf) + 1;
			continue;
		}
		memcpy(c->part, buf + off, avail);	/* avail < explen */
		c->plen = avail;
		return n;
	}
	c->plen = 0;
	return n;
}

/* The server closed or reset c: errors if replies were still due. */
static void
conn_gone(struct conn *c)
{
	if (c->inflight > 0 || (g.mode != M_CONNECT && g.sending))
		g.errors += c->inflight > 0 ? c->inflight : 1;
	conn_close(c, g.mode == M_CONNECT ? C_FREE : C_DEAD);
}

/* Reads and checks what arrived; false when the connection is gone. */
static bool
conn_read(struct conn *c, uint64_t now, unsigned int *got)
{
	ssize_t	 r;

	memcpy(g.rbuf, c->part, c->plen);
	r = recv(c->fd, g.rbuf + c->plen, sizeof(g.rbuf) - c->plen, 0);
	if (r == -1 && errno == EAGAIN) {
		*got = 0;
		return true;
	}
	if (r <= 0) {
		conn_gone(c);
		return false;
	}
	*got = parse(c, g.rbuf, c->plen + (size_t)r, now);
	return true;
}

/* What got more replies on c mean in this mode. */
static inline void
on_replies(struct conn *c, unsigned int got, uint64_t now)
{
	if (got == 0)
		return;
	switch (g.mode) {
	case M_PIPE:
		if (g.sending)
			conn_send(c, got, now);
		break;
	case M_CONNECT:
		if (c->inflight == 0) {
			record(now - c->started);
			conn_done(c, C_FREE);
		}
		break;
	case M_IDLE:
		if (c->inflight == 0) {
			c->state = C_IDLE;
			g.verified += g.checking;
		}
		break;
	case M_PROBE:
		break;
	}
}

#ifdef HAVE_TLS
static void __attribute__((noreturn))
tls_errx(const char *what)
{
	char	 buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	errx(1, "%s: %s", what, buf);
}

/*
 * -T: reads and checks what arrived. OpenSSL reads ahead and may hold
 * records that epoll cannot report: read on while it does and a reply is
 * still due, but not much past what the replies due can fill, lest a
 * server that streams junk keep the loop from its deadline.
 */
static bool
tls_read(struct conn *c, uint64_t now, unsigned int *got)
{
	size_t	 left = (size_t)c->inflight * g.explen + sizeof(g.rbuf);
	int	 r;

	*got = 0;
	if (c->rd_out) {
		c->rd_out = false;
		set_events(c, c->wpend_len > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
	}
	do {
		memcpy(g.rbuf, c->part, c->plen);
		r = SSL_read(c->ssl, g.rbuf + c->plen,
		    (int)(sizeof(g.rbuf) - c->plen));
		if (r <= 0) {
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ:
				return true;
			case SSL_ERROR_WANT_WRITE:
				/* an answer to a KeyUpdate, say */
				c->rd_out = true;
				set_events(c, EPOLLIN | EPOLLOUT);
				return true;
			default:
				ERR_clear_error();
				conn_gone(c);
				return false;
			}
		}
		*got += parse(c, g.rbuf, c->plen + (size_t)r, now);
		left -= (size_t)r < left ? (size_t)r : left;
	} while (c->inflight > 0 && left > 0 && SSL_has_pending(c->ssl));
	return true;
}

static void
tls_handshake(struct conn *c, uint64_t now)
{
	unsigned int	 got;
	bool		 was = is_busy(c);
	int		 r;

	if ((r = SSL_do_handshake(c->ssl)) != 1) {
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			set_events(c, EPOLLIN);
			break;
		case SSL_ERROR_WANT_WRITE:
			set_events(c, EPOLLOUT);
			break;
		default:
			ERR_clear_error();
			conn_fail(c);
			break;
		}
		return;
	}
	c->state = C_OPEN;
	track(c, was);
	/* pipe: the whole depth; connect and idle: one message */
	if (!conn_send(c, g.mode == M_PIPE ? g.depth : 1, now))
		return;
	/* what came with the end of the handshake: epoll will not say */
	if (SSL_has_pending(c->ssl) && tls_read(c, now, &got))
		on_replies(c, got, now);
}

/* -T: a fresh SSL on a socket that has just connected: a full handshake */
static void
tls_start(struct conn *c, uint64_t now)
{
	if ((c->ssl = SSL_new(g.ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, "localhost") != 1)
		tls_errx("SSL_new");
	SSL_set_connect_state(c->ssl);
	tls_handshake(c, now);
}

static void
tls_event(struct conn *c, uint32_t ev, uint64_t now)
{
	unsigned int	 got;

	if ((ev & EPOLLOUT) && c->wpend_len > 0 && !conn_send(c, 0, now))
		return;
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    !(c->rd_out && (ev & EPOLLOUT)))
		return;
	if (tls_read(c, now, &got))
		on_replies(c, got, now);
}
#endif

static void
on_event(struct conn *c, uint32_t ev, uint64_t now)
{
	unsigned int	 got;
	int		 soerr = 0;
	socklen_t	 slen = sizeof(soerr);

	if (c->fd < 0)		/* closed earlier in this batch of events */
		return;
	if (c->state == C_CONNECTING) {
#ifdef HAVE_TLS
		if (c->ssl != NULL) {
			tls_handshake(c, now);
			return;
		}
#endif
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == -1
		    || soerr != 0) {
			conn_fail(c);
			return;
		}
#ifdef HAVE_TLS
		/* -X: the header in clear before TLS, as a balancer sends it */
		if (g.tls) {
			if (!g.proxy || send_proxy(c))
				tls_start(c, now);
			return;
		}
#endif
		c->state = C_OPEN;
		g.busy--;	/* until the send below */
		if (g.proxy && !send_proxy(c))
			return;
		/* pipe: the whole depth; connect and idle: one message */
		conn_send(c, g.mode == M_PIPE ? g.depth : 1, now);
		return;
	}
#ifdef HAVE_TLS
	if (g.tls) {
		tls_event(c, ev, now);
		return;
	}
#endif
	if ((ev & EPOLLOUT) && c->wpend_len > 0 && !conn_send(c, 0, now))
		return;
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (conn_read(c, now, &got))
		on_replies(c, got, now);
}

/*
 * Handles events until the deadline, or until done() says there is nothing
 * left to wait for; refill() may start connections before each wait.
 */
static void
run_until(uint64_t deadline, bool (*done)(void), void (*refill)(uint64_t))
{
	struct epoll_event	 evs[512];
	uint64_t		 now;
	int			 i, n, ms;

	while ((now = now_ns()) < deadline) {
		if (refill != NULL)
			refill(now);
		if (done != NULL && done())
			return;
		ms = (int)((deadline - now + 999999) / 1000000);
		n = epoll_wait(g.ep, evs, 512, ms);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		now = now_ns();
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events, now);
	}
}

static bool
none_in_flight(void)
{
	return g.busy == 0;
}

static bool
all_dead(void)
{
	unsigned int	 i;

	for (i = 0; i < g.nconns; i++)
		if (g.conns[i].state != C_DEAD)
			return false;
	return true;
}

static void
connect_refill(uint64_t now)
{
	unsigned int	 i;

	if (!g.sending)
		return;
	for (i = 0; i < g.nconns; i++)
		if (g.conns[i].state == C_FREE)
			conn_start(&g.conns[i], now);
}

/* idle: at most IDLE_OPENING connections being opened at once */
static unsigned int	idle_next;

static void
idle_refill(uint64_t now)
{
	while (idle_next < g.nconns && g.busy < IDLE_OPENING)
		conn_start(&g.conns[idle_next++], now);
}

static bool
idle_opened(void)
{
	return idle_next == g.nconns && g.busy == 0;
}

/* then the same for the check that each held connection still answers */
static unsigned int	check_next;

static void
check_refill(uint64_t now)
{
	struct conn	*c;

	while (check_next < g.nconns && g.busy < IDLE_OPENING) {
		c = &g.conns[check_next++];
		if (c->state != C_IDLE)
			continue;
		c->state = C_OPEN;	/* not busy until the send: inflight 0 */
		conn_send(c, 1, now);
	}
}

static bool
checked(void)
{
	return check_next == g.nconns && g.busy == 0;
}

static unsigned int
count_state(enum cstate s)
{
	unsigned int	 i, n = 0;

	for (i = 0; i < g.nconns; i++)
		n += g.conns[i].state == s;
	return n;
}

static void
run_timed(void)
{
	uint64_t	 t0, t1, end;
	double		 c0, c1, s0, s1, secs;
	unsigned int	 i;

	g.sending = true;
	g.started = now_ns();
	for (i = 0; i < g.nconns; i++)
		conn_start(&g.conns[i], g.started);
	run_until(g.started + g.warmup, g.mode == M_PIPE ? all_dead : NULL,
	    g.mode == M_CONNECT ? connect_refill : NULL);

	t0 = now_ns();
	c0 = cpu_self();
	s0 = cpu_server();
	g.measuring = true;
	run_until(t0 + g.dur, g.mode == M_PIPE ? all_dead : NULL,
	    g.mode == M_CONNECT ? connect_refill : NULL);
	g.measuring = false;
	t1 = now_ns();
	c1 = cpu_self();
	s1 = cpu_server();

	/* what is still in flight must come back, but is not counted */
	g.sending = false;
	end = t1 + DRAIN_NSEC;
	run_until(end, none_in_flight, NULL);
	for (i = 0; i < g.nconns; i++) {
		struct conn *c = &g.conns[i];

		if (c->state == C_CONNECTING)
			g.errors++;
		else if (c->state == C_OPEN)
			g.errors += c->inflight;
		if (c->fd >= 0)
			conn_done(c, C_DEAD);
	}

	secs = (double)(t1 - t0) / 1e9;
	printf("mode=%s conns=%u depth=%u secs=%.3f replies=%llu rate=%.0f "
	    "p50_us=%.1f p99_us=%.1f errors=%llu gen_cpu=%.0f srv_cpu=",
	    g.mode == M_PIPE ? "pipe" : "connect", g.nconns, g.depth, secs,
	    (unsigned long long)g.replies, (double)g.replies / secs,
	    percentile_us(0.50), percentile_us(0.99),
	    (unsigned long long)g.errors, 100 * (c1 - c0) / secs);
	if (s0 >= 0 && s1 >= 0)
		printf("%.0f\n", 100 * (s1 - s0) / secs);
	else
		printf("-\n");
}

static void
run_idle(void)
{
	uint64_t	 t0, t1, t2;
	unsigned int	 i, held;

	g.sending = true;
	t0 = now_ns();
	run_until(t0 + OPEN_NSEC, idle_opened, idle_refill);
	t1 = now_ns();
	held = count_state(C_IDLE);
	g.errors += g.nconns - held - count_state(C_DEAD);
	printf("held=%u errors=%llu open_secs=%.2f\n", held,
	    (unsigned long long)g.errors, (double)(t1 - t0) / 1e9);
	fflush(stdout);

	/* hold; a connection the server closes now is an error */
	run_until(now_ns() + g.dur, NULL, NULL);

	/*
	 * then every held connection must still answer, a few at a time as
	 * when opening: this checks that they are held, not how a server
	 * copes with thousands of them waking at once
	 */
	g.checking = true;
	t1 = now_ns();
	run_until(t1 + CHECK_NSEC, checked, check_refill);
	t2 = now_ns();
	g.errors += (uint64_t)g.busy;	/* not answered in time */
	for (i = check_next; i < g.nconns; i++)	/* not even asked */
		g.errors += g.conns[i].state == C_IDLE;
	g.sending = false;
	printf("mode=idle conns=%u held=%u verified=%llu errors=%llu "
	    "check_secs=%.2f\n", g.nconns, held,
	    (unsigned long long)g.verified, (unsigned long long)g.errors,
	    (double)(t2 - t1) / 1e9);
	for (i = 0; i < g.nconns; i++)
		if (g.conns[i].fd >= 0)
			conn_done(&g.conns[i], C_DEAD);
}

/* Connects, sends and checks the reply until it works or time runs out. */
static int
run_probe(void)
{
	struct timespec	 pause = { 0, 20 * 1000 * 1000 };
	uint64_t	 end = now_ns() + g.probe_timeout;
	struct conn	*c = &g.conns[0];

	do {
		g.errors = 0;
		if (conn_start(c, now_ns())) {
			run_until(now_ns() + NSEC, none_in_flight, NULL);
			if (c->state == C_OPEN && c->inflight == 0 &&
			    g.errors == 0) {
				conn_done(c, C_FREE);
				return 0;
			}
			if (c->fd >= 0)
				conn_close(c, C_FREE);
		}
		nanosleep(&pause, NULL);
	} while (now_ns() < end);
	warnx("no expected reply from %s port %u", inet_ntoa(g.srv.sin_addr),
	    ntohs(g.srv.sin_port));
	return 1;
}

static uint64_t
parse_secs(const char *s, const char *what)
{
	char	*end;
	double	 d;

	d = strtod(s, &end);
	if (end == s || *end != '\0' || !(d >= 0 && d <= 3600))
		errx(2, "%s: %s: not a number of seconds in 0..3600", what, s);
	return (uint64_t)(d * 1e9);
}

static unsigned int
parse_uint(const char *s, unsigned int lo, unsigned int hi, const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		errx(2, "%s: %s: not a number in %u..%u", what, s, lo, hi);
	return (unsigned int)v;
}

/*
 * What goes on the wire for s: its bytes and the terminator, or with -L a
 * 4-byte big-endian length and its bytes. Returns a buffer and its size.
 */
static char *
framed(const char *s, size_t *len)
{
	size_t	 n = strlen(s), t = strlen(g.term), pre = g.length ? 4 : 0;
	char	*p;

	*len = pre + n + (g.length ? 0 : t);
	if ((p = malloc(*len)) == NULL)
		err(1, NULL);
	if (g.length) {
		p[0] = (char)(n >> 24);
		p[1] = (char)(n >> 16);
		p[2] = (char)(n >> 8);
		p[3] = (char)n;
	}
	memcpy(p + pre, s, n);
	if (!g.length)
		memcpy(p + pre + n, g.term, t);
	return p;
}

#ifdef HAVE_TLS
/* version: 12 or 13 for -V, 0 for the highest both ends have */
static void
tls_init(unsigned int version)
{
	int	 v = version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;

	if ((g.ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		tls_errx("SSL_CTX_new");
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(g.ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_OFF);
	/* idle holds thousands: no buffers kept while they wait */
	SSL_CTX_set_mode(g.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    (g.mode == M_IDLE ? SSL_MODE_RELEASE_BUFFERS : 0));
	/* a read(2) per burst of records, not two per record */
	SSL_CTX_set_read_ahead(g.ctx, 1);
	if (version != 0 && (SSL_CTX_set_min_proto_version(g.ctx, v) != 1 ||
	    SSL_CTX_set_max_proto_version(g.ctx, v) != 1))
		tls_errx("-V");
	/* OpenSSL writes with write(2), not send(2) with MSG_NOSIGNAL */
	signal(SIGPIPE, SIG_IGN);
}
#endif

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
"usage: loadgen [-LrTX] [-a address] [-c conns] [-d secs] [-e reply]\n"
"               [-m pipe|connect|idle|probe] [-P depth] [-s message]\n"
"               [-S sources] [-t secs] [-V 1.2|1.3] [-W pid] [-w secs]\n"
"               port\n"
"  -a  server address, loopback only (127.0.0.1)\n"
"  -c  connections: at once (pipe), concurrent (connect), held (idle)\n"
"  -d  measured time (pipe, connect) or hold time (idle) in s (3)\n"
"  -e  expected reply without terminator (default: the message)\n"
"  -L  length framing: a 4-byte big-endian length before each message\n"
"      and each reply, no line end\n"
"  -m  mode (pipe)\n"
"  -P  messages in flight per connection (1)\n"
"  -r  end messages with CRLF instead of LF (replies too)\n"
"  -s  message (echoreplyd-bench)\n"
"  -S  spread connections over this many source addresses from 127.0.0.2\n"
"  -T  TLS: a full handshake on every connection, no certificate check\n"
"  -t  probe: give up after this long in s (10)\n"
"  -V  with -T, only this TLS version (default: the highest both have)\n"
"  -W  report the CPU use of this process (the server) too\n"
"  -w  warm-up before measuring in s (0.2)\n"
"  -X  start each connection with a PROXY v1 header (before TLS)\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rlimit	 rl;
	const char	*addr = "127.0.0.1";
	char		*one;
	unsigned int	 i, version = 0;
	int		 ch;

	g.mode = M_PIPE;
	g.nconns = 1;
	g.depth = 1;
	g.dur = 3 * NSEC;
	g.warmup = NSEC / 5;
	g.probe_timeout = 10 * NSEC;
	g.msg = "echoreplyd-bench";
	g.term = "\n";
	while ((ch = getopt(argc, argv,
	    "a:c:d:e:Lm:P:rs:S:Tt:V:W:w:X")) != -1) {
		switch (ch) {
		case 'L':
			g.length = true;
			break;
		case 'T':
#ifdef HAVE_TLS
			g.tls = true;
			break;
#else
			errx(2, "-T: this loadgen was built without TLS");
#endif
		case 'X':
			g.proxy = true;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'c':
			g.nconns = parse_uint(optarg, 1, 1000000, "-c");
			break;
		case 'd':
			g.dur = parse_secs(optarg, "-d");
			break;
		case 'e':
			g.reply = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "pipe") == 0)
				g.mode = M_PIPE;
			else if (strcmp(optarg, "connect") == 0)
				g.mode = M_CONNECT;
			else if (strcmp(optarg, "idle") == 0)
				g.mode = M_IDLE;
			else if (strcmp(optarg, "probe") == 0)
				g.mode = M_PROBE;
			else
				usage();
			break;
		case 'P':
			g.depth = parse_uint(optarg, 1, MAX_DEPTH, "-P");
			break;
		case 'r':
			g.term = "\r\n";
			break;
		case 's':
			g.msg = optarg;
			break;
		case 'S':
			g.nsources = parse_uint(optarg, 0, MAX_SOURCES, "-S");
			break;
		case 't':
			g.probe_timeout = parse_secs(optarg, "-t");
			break;
		case 'V':
			if (strcmp(optarg, "1.2") == 0)
				version = 12;
			else if (strcmp(optarg, "1.3") == 0)
				version = 13;
			else
				errx(2, "-V %s: not 1.2 or 1.3", optarg);
			break;
		case 'W':
			g.srv_pid = (long)parse_uint(optarg, 1, INT_MAX, "-W");
			break;
		case 'w':
			g.warmup = parse_secs(optarg, "-w");
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	memset(&g.srv, 0, sizeof(g.srv));
	g.srv.sin_family = AF_INET;
	g.srv.sin_port = htons((uint16_t)parse_uint(argv[optind], 1, 65535,
	    "port"));
	if (inet_pton(AF_INET, addr, &g.srv.sin_addr) != 1 ||
	    (ntohl(g.srv.sin_addr.s_addr) >> 24) != 127)
		errx(2, "%s: not a loopback IPv4 address (127.0.0.0/8)", addr);
	if (strchr(g.msg, '\n') != NULL || (g.reply != NULL &&
	    strchr(g.reply, '\n') != NULL))
		errx(2, "the message and the reply are single lines");
	if (g.mode != M_PIPE)
		g.depth = 1;
	if (g.mode == M_PROBE)
		g.nconns = 1;
	if (version != 0 && !g.tls)
		errx(2, "-V: only with -T");
#ifdef HAVE_TLS
	if (g.tls)
		tls_init(version);
#endif

	/* as many descriptors as allowed: idle needs one per connection */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (g.mode == M_IDLE && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && g.nconns + 16 > rl.rlim_cur)
		errx(2, "-c %u: more than the descriptor limit (%llu) allows",
		    g.nconns, (unsigned long long)rl.rlim_cur);

	if (g.reply == NULL)
		g.reply = g.msg;
	one = framed(g.msg, &g.mlen);
	if ((g.msgbuf = malloc(g.mlen * (g.depth + 1))) == NULL)
		err(1, NULL);
	for (i = 0; i <= g.depth; i++)
		memcpy(g.msgbuf + i * g.mlen, one, g.mlen);
	free(one);
	g.exp = framed(g.reply, &g.explen);

	if ((g.conns = calloc(g.nconns, sizeof(*g.conns))) == NULL)
		err(1, NULL);
	for (i = 0; i < g.nconns; i++) {
		g.conns[i].fd = -1;
		if ((g.conns[i].sent_at = calloc(g.depth,
		    sizeof(uint64_t))) == NULL ||
		    (g.conns[i].part = malloc(g.explen)) == NULL)
			err(1, NULL);
	}
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");

	switch (g.mode) {
	case M_PROBE:
		return run_probe();
	case M_IDLE:
		run_idle();
		break;
	default:
		run_timed();
		break;
	}
	return 0;
}
