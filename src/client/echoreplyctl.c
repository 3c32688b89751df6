/* SPDX-License-Identifier: ISC */
/*
 * echoreplyctl: send messages to echoreplyd and print the replies; with -C,
 * a command to its control socket (ctl-control.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "ctl-conn.h"
#include "ctl-control.h"
#include "ctl-input.h"
#include "ctl-opts.h"
#include "ctl-pending.h"
#include "ctl-report.h"
#include "ctl-tls.h"
#include "frame.h"
#include "monotonic.h"
#include "proxy.h"
#include "stdfds.h"

#define QUEUE_HIGH	(256 * 1024)	/* stop taking messages above this */
#define REPLY_MAX_BYTES	(16 * 1024 * 1024)
#define DGRAM_WINDOW	32		/* datagrams awaiting a reply */
#define DGRAM_MAX	65536

static struct {
	struct conn_peer peer;
	struct tls_client *tls;		/* NULL: the plain socket */
	struct frame_spec f;		/* how messages and replies are framed */
	bool		 dgram, raw, quiet;	/* raw: a reply per read */
	uint64_t	 timeout_ns;	/* for connecting, and each reply */
	bool		 greet_owed;	/* a greeting line is due first */
	bool		 got_reply;	/* anything came back yet */
	bool		 peer_closed;
	uint64_t	 deadline;	/* for the reply owed, in ns */

	struct buf	 out;		/* to send (datagrams: and sent) */
	size_t		 out_off;	/* bytes of out already sent */
	struct pending_ring pr;		/* messages awaiting their replies */
	size_t		 psent;		/* datagrams: how many of pr.n sent */

	struct input	 in;
	struct buf	 rin;		/* received, not yet a whole line */
} c;

static bool
owed(void)
{
	return c.greet_owed || c.pr.n > 0;
}

/* The message onto the output, framed as the listener frames them. */
static int
frame_message(const char *msg, size_t len)
{
	char	 prefix[8];

	if (c.dgram)
		return buf_append(&c.out, msg, len) < 0 || (!c.raw &&
		    buf_append(&c.out, "\n", 1) < 0) ? -1 : 0;
	switch (c.f.mode) {
	case FRAME_LINE:
		return buf_append(&c.out, msg, len) < 0 ||
		    buf_append(&c.out, "\n", 1) < 0 ? -1 : 0;
	case FRAME_DELIMITER:
		return buf_append(&c.out, msg, len) < 0 ||
		    buf_append(&c.out, c.f.delim, c.f.delim_len) < 0 ? -1 : 0;
	case FRAME_LENGTH:
		if (len > REPLY_MAX_BYTES ||
		    frame_prefix(&c.f, len, prefix) < 0)
			report_die(EX_DATAERR, "a message of %zu bytes does "
			    "not fit a %u-byte length prefix", len,
			    c.f.prefix_bytes);
		return buf_append(&c.out, prefix, c.f.prefix_bytes) < 0 ||
		    buf_append(&c.out, msg, len) < 0 ? -1 : 0;
	case FRAME_FIXED:
		if (len != c.f.fixed)
			report_die(EX_DATAERR, "a message of %zu bytes: fixed "
			    "framing takes %zu", len, c.f.fixed);
		return buf_append(&c.out, msg, len);
	default:
		return buf_append(&c.out, msg, len);
	}
}

static void
queue_message(const char *msg, size_t len)
{
	size_t	 before = c.out.len;

	if (c.peer_closed)
		report_die(EX_PROTOCOL, "connection closed by the server");
	if (!owed())
		c.deadline = mono_ns() + c.timeout_ns;
	if (frame_message(msg, len) < 0 ||
	    pending_push(&c.pr, c.out.len - before, mono_ns()) < 0)
		report_die(EX_OSERR, "out of memory");
	report_bytes("> ", msg, len, -1);
}

static bool
room(void)
{
	if (c.dgram)
		return c.pr.n < DGRAM_WINDOW;
	if (c.raw)	/* a chunk is a reply: one at a time, greeting first */
		return !owed();
	return c.out.len - c.out_off < QUEUE_HIGH;
}

/* Queues messages while there is room. */
static void
fill(void)
{
	const char	*msg;
	size_t		 len;

	while (room()) {
		if (!input_next(&c.in, &msg, &len))
			return;
		queue_message(msg, len);
	}
}

/* -- replies -- */

static void
print_reply(const char *data, size_t len)
{
	bool	 nl = true;

	if (c.quiet)
		return;
	if (c.dgram ? !c.raw : c.f.mode == FRAME_LINE) {
		if (len > 0 && data[len - 1] == '\n')
			len--;
		if (len > 0 && data[len - 1] == '\r')
			len--;
	} else if (len > 0 && data[len - 1] == '\n')
		nl = false;
	if (fwrite(data, 1, len, stdout) != len ||
	    (nl && putchar('\n') == EOF))
		report_die(EX_IOERR, "standard output: %s", strerror(errno));
}

/* One reply, or the greeting, has arrived. */
static void
on_reply(const char *data, size_t len)
{
	struct pending	 p;

	c.got_reply = true;
	c.deadline = mono_ns() + c.timeout_ns;
	if (c.greet_owed) {
		c.greet_owed = false;
		report_bytes("greeting: ", data, len, -1);
		return;
	}
	if (c.pr.n == 0 || (c.dgram && c.psent == 0)) {
		/* more than was asked for: show it anyway */
		report_bytes("< ", data, len, -1);
		print_reply(data, len);
		return;
	}
	p = pending_pop(&c.pr);
	if (c.dgram) {
		/* an empty message may have left no buffer at all */
		if (c.out.data != NULL)
			memmove(c.out.data, c.out.data + p.len,
			    c.out.len - p.len);
		c.out.len -= p.len;
		c.out_off -= p.len;
		c.psent--;
	}
	report_bytes("< ", data, len, (double)(mono_ns() - p.t) / 1e6);
	print_reply(data, len);
}

static void
lost_connection(int err)
{
	if (owed())
		report_die(EX_PROTOCOL, "connection closed before the %s%s%s",
		    c.greet_owed ? "greeting" : "reply", err ? ": " : "",
		    err ? strerror(err) : "");
	report_die(EX_PROTOCOL, "connection closed by the server%s%s",
	    err ? ": " : "", err ? strerror(err) : "");
}

/* A datagram came back refused: try the next address, or give up. */
static void
refused(void)
{
	if (!c.got_reply && conn_next_address(&c.peer)) {
		c.out_off = 0;
		c.psent = 0;
		return;
	}
	report_die(EX_UNAVAILABLE, "send to %s: %s", c.peer.name,
	    strerror(ECONNREFUSED));
}

/* A stream's bytes out and in, through TLS or not; negative errnos. */
static ssize_t
stream_send(const void *data, size_t len)
{
	ssize_t	 n;

	if (c.tls != NULL)
		return tls_write(c.tls, data, len);
	n = send(c.peer.fd, data, len, MSG_NOSIGNAL);
	return n == -1 ? -errno : n;
}

static ssize_t
stream_recv(void *data, size_t len)
{
	ssize_t	 n;

	if (c.tls != NULL)
		return tls_read(c.tls, data, len);
	n = recv(c.peer.fd, data, len, 0);
	return n == -1 ? -errno : n;
}

static void
send_out(void)
{
	struct pending	*p;
	ssize_t		 n;

	if (!c.dgram) {
		n = stream_send(c.out.data + c.out_off, c.out.len - c.out_off);
		if (n < 0) {
			if (n == -EAGAIN || n == -EINTR)
				return;
			lost_connection((int)-n);
		}
		c.out_off += (size_t)n;
		if (c.out_off == c.out.len)
			c.out_off = c.out.len = 0;
		return;
	}
	while (c.psent < c.pr.n) {
		p = pending_at(&c.pr, c.psent);
		n = send(c.peer.fd, c.out.data + c.out_off, p->len, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR || errno ==
			    ENOBUFS)
				return;
			if (errno == ECONNREFUSED) {
				refused();
				continue;
			}
			if (errno == EMSGSIZE)
				report_die(EX_DATAERR, "a message of %zu bytes "
				    "is too long for a datagram", p->len);
			report_die(EX_UNAVAILABLE, "send to %s: %s",
			    c.peer.name, strerror(errno));
		}
		p->t = mono_ns();
		c.out_off += p->len;
		c.psent++;
	}
}

/* Delimited or length-prefixed replies in rin: each one; bytes used. */
static size_t
framed_replies(void)
{
	struct frame_msg	 m;
	size_t			 off = 0;
	ssize_t			 r;

	while (off < c.rin.len) {
		r = frame_next(&c.f, c.rin.data + off, c.rin.len - off,
		    REPLY_MAX_BYTES, false, &m);
		if (r == 0)
			break;
		if (r < 0)
			report_die(EX_PROTOCOL, r == -EBADMSG ? "a reply's "
			    "length prefix is smaller than itself" :
			    "reply longer than %d bytes", REPLY_MAX_BYTES);
		on_reply(m.data, m.len);
		off += (size_t)r;
	}
	return off;
}

static void
receive(void)
{
	static char	 dgram[DGRAM_MAX];
	char		*nl;
	size_t		 off = 0;
	ssize_t		 n;

	if (c.dgram) {
		n = recv(c.peer.fd, dgram, sizeof(dgram), 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNREFUSED) {
				refused();
				return;
			}
			report_die(EX_UNAVAILABLE, "receive from %s: %s",
			    c.peer.name, strerror(errno));
		}
		on_reply(dgram, (size_t)n);
		return;
	}
	if (buf_reserve(&c.rin, 65536) < 0)
		report_die(EX_OSERR, "out of memory");
	n = stream_recv(c.rin.data + c.rin.len, 65536);
	if (n < 0) {
		if (n == -EAGAIN || n == -EINTR)
			return;
		lost_connection((int)-n);
	}
	if (n == 0) {
		c.peer_closed = true;
		if (owed())
			lost_connection(0);
		if (input_done(&c.in))
			return;
		if (!input_may_be_done(&c.in))
			lost_connection(0);
		/* wait, within the timeout, to see whether stdin had more */
		c.deadline = mono_ns() + c.timeout_ns;
		return;
	}
	if (c.raw) {
		on_reply(c.rin.data, (size_t)n);
		return;
	}
	c.rin.len += (size_t)n;
	if (c.f.mode == FRAME_LINE)
		while ((nl = memchr(c.rin.data + off, '\n', c.rin.len - off)) !=
		    NULL) {
			on_reply(c.rin.data + off,
			    (size_t)(nl - (c.rin.data + off)));
			off = (size_t)(nl - c.rin.data) + 1;
		}
	else
		off = framed_replies();
	memmove(c.rin.data, c.rin.data + off, c.rin.len - off);
	c.rin.len -= off;
	if (c.rin.len > REPLY_MAX_BYTES)
		report_die(EX_PROTOCOL, "reply longer than %d bytes",
		    REPLY_MAX_BYTES);
}

/*
 * The PROXY header, first on the stream: src presented as the client of
 * the address connected to, or (NULL) one that keeps ours.
 */
static void
queue_proxy(unsigned int version, const union addr_any *src)
{
	union addr_any	 dst;
	socklen_t	 len = sizeof(dst);
	char		 h[PROXY_BUILD_MAX + 8];
	ssize_t		 n;

	memset(&dst, 0, sizeof(dst));
	if (src != NULL && getpeername(c.peer.fd, &dst.sa, &len) == -1)
		report_die(EX_OSERR, "getpeername: %s", strerror(errno));
	if ((n = proxy_build(version, src, &dst, h)) < 0)
		report_die(EX_USAGE, "a PROXY header names IP addresses: not "
		    "over a Unix socket");
	if (buf_append(&c.out, h, (size_t)n) < 0)
		report_die(EX_OSERR, "out of memory");
	report_bytes("proxy: ", h, (size_t)n, -1);
}

/*
 * Before TLS, what is queued (the PROXY header) goes in the clear, within
 * the timeout for connecting.
 */
static void
send_clear(int timeout_ms)
{
	struct pollfd	 pfd = { c.peer.fd, POLLOUT, 0 };
	ssize_t		 n;
	int		 r;

	while (c.out_off < c.out.len) {
		n = send(c.peer.fd, c.out.data + c.out_off,
		    c.out.len - c.out_off, MSG_NOSIGNAL);
		if (n >= 0) {
			c.out_off += (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			lost_connection(errno);
		if ((r = poll(&pfd, 1, timeout_ms)) == 0)
			report_die(EX_TEMPFAIL, "send to %s: timed out",
			    c.peer.name);
		if (r == -1 && errno != EINTR)
			report_die(EX_OSERR, "poll: %s", strerror(errno));
	}
	c.out_off = c.out.len = 0;
}

static bool
finished(void)
{
	if (!input_done(&c.in) || owed())
		return false;
	return c.dgram || c.out_off == c.out.len;
}

static void
run(void)
{
	struct pollfd	 pfd[2];
	int		 wait, r;

	for (;;) {
		fill();
		if (finished())
			return;
		/* what OpenSSL holds already, poll() would not report */
		if (c.tls != NULL && !c.peer_closed && tls_pending(c.tls)) {
			receive();
			continue;
		}
		if (!owed())
			input_prompt(&c.in);
		pfd[0].fd = c.peer_closed ? -1 : c.peer.fd;
		pfd[0].events = POLLIN;
		if (c.dgram ? c.psent < c.pr.n : c.out_off < c.out.len)
			pfd[0].events |= POLLOUT;
		if (c.tls != NULL && tls_wants_write(c.tls))
			pfd[0].events |= POLLOUT;
		pfd[1].fd = input_wants_stdin(&c.in) ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;

		wait = -1;	/* the clock runs only while a reply is owed */
		if (owed() || c.peer_closed) {
			uint64_t now = mono_ns();

			if (now >= c.deadline) {
				if (c.peer_closed)
					lost_connection(0);
				report_die(EX_TEMPFAIL, "timed out waiting for "
				    "the %s from %s", c.greet_owed ?
				    "greeting" : "reply", c.peer.name);
			}
			wait = (int)((c.deadline - now + 999999) / 1000000);
		}
		report_flush();
		r = poll(pfd, 2, wait);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			report_die(EX_OSERR, "poll: %s", strerror(errno));
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			input_read(&c.in);
		if (c.tls != NULL && pfd[0].revents != 0) {
			/* a TLS write may wait to read, and a read to write */
			if (c.out_off < c.out.len)
				send_out();
			receive();
		} else {
			if (pfd[0].revents & POLLOUT)
				send_out();
			if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
				receive();
		}
	}
}

int
main(int argc, char *argv[])
{
	struct opts		 opt;
	struct conf		*conf;
	struct conn_target	 t;
	struct tls_config	 tls;
	union addr_any		 proxy_src;
	unsigned int		 proxy_version;
	bool			 proxy_named;
	int			 r;

	/*
	 * Before anything is opened, or the connection could take 1 and the
	 * replies go back to the server; a closed 1 or 2 stays unwritable.
	 */
	if ((r = stdfds_open(O_RDONLY)) < 0)
		report_die(EX_OSERR, "/dev/null: %s", strerror(-r));
	opts_parse(argc, argv, &opt);
	report_init(opt.quiet, opt.verbose);
	conf = opts_config(&opt);
	if (opt.control) {
		control_run(&opt, conf);
		config_free(conf);
		return 0;
	}
	opts_target(&opt, conf, &t);
	c.dgram = t.type == SOCK_DGRAM;
	/* the TLS files are read before connecting */
	if (opts_tls(&opt, conf, &t, &tls))
		c.tls = tls_new(&tls);
	opts_framing(&opt, conf, &c.f);
	/* replies that say not where they end: one read, one reply */
	c.raw = c.f.mode == FRAME_RAW || (!c.dgram && c.f.mode == FRAME_FIXED);
	proxy_version = c.dgram ? 0 : opts_proxy(&opt, conf, &proxy_src,
	    &proxy_named);
	c.greet_owed = !c.dgram && opts_greeting(&opt, conf);
	c.quiet = opt.quiet;
	c.timeout_ns = (uint64_t)opt.timeout_ms * 1000000;
	input_init(&c.in, opt.messages, opt.nmessages, opt.count,
	    c.raw && !c.dgram);
	if (opt.verbose)
		setvbuf(stderr, NULL, _IOLBF, 0);

	conn_open(&t, opt.timeout_ms, &c.peer);
	if (proxy_version != 0)
		queue_proxy(proxy_version, proxy_named ? &proxy_src : NULL);
	if (c.tls != NULL) {
		send_clear(opt.timeout_ms);
		tls_handshake(c.tls, c.peer.fd, c.peer.name, opt.timeout_ms);
	}
	c.deadline = mono_ns() + c.timeout_ns;
	run();

	report_flush();
	if (c.tls != NULL)
		tls_close(c.tls);
	conn_close(&c.peer);
	buf_free(&c.out);
	buf_free(&c.rin);
	pending_free(&c.pr);
	input_free(&c.in);
	config_free(conf);
	return 0;
}
