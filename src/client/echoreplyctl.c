/* echoreplyctl: send messages to echoreplyd and print the replies. */
#define LIBBSD_NETBSD_VIS
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "ctl.h"

#define QUEUE_HIGH	(256 * 1024)	/* stop taking messages above this */
#define LINE_MAX_BYTES	(16 * 1024 * 1024)
#define DGRAM_WINDOW	32		/* datagrams awaiting a reply */
#define DGRAM_MAX	65536
#define SHOW_MAX	256		/* bytes of a message shown by -v */
#define PROMPT		"echoreplyctl> "

/* A message sent or queued, that awaits its reply. */
struct pending {
	size_t		 len;		/* datagrams: bytes in out */
	uint64_t	 t;		/* when it was sent, in ns */
};

static struct {
	struct ctl_peer	 peer;
	bool		 dgram, raw;
	bool		 greet_owed;	/* a greeting line is due first */
	bool		 got_reply;	/* anything came back yet */
	bool		 peer_closed;
	uint64_t	 deadline;	/* for the reply owed, in ns */

	struct buf	 out;		/* bytes to send (datagrams: and sent) */
	size_t		 out_off;	/* bytes of out already sent */
	struct pending	*pv;		/* ring of messages awaiting replies */
	size_t		 pcap, phead, pn;
	size_t		 psent;		/* datagrams: how many of pn sent */

	char		**argv;		/* messages from the command line */
	int		 argc, argi;
	bool		 from_stdin, interactive, in_eof, need_input;
	bool		 prompted;
	struct buf	 inb;		/* standard input not yet sent */
	size_t		 inb_off;
	unsigned long long lineno;
	const char	*cur;		/* the message being repeated */
	size_t		 curlen;
	size_t		 curtake;	/* input bytes it takes up */
	long long	 left;		/* times it is still to be sent */

	struct buf	 rin;		/* received, not yet a whole line */
} c;

void
ctl_die(int status, const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	if (!ctl_opt.quiet) {
		if (c.prompted)
			fputc('\n', stderr);
		fputs("echoreplyctl: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	exit(status);
}

void
ctl_verbose(const char *fmt, ...)
{
	va_list	 ap;

	if (!ctl_opt.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Writes bytes for -v in C style, cut at SHOW_MAX. */
static void
show(const char *what, const char *data, size_t len, uint64_t sent)
{
	char	 esc[SHOW_MAX * 4 + 1];
	size_t	 n = len < SHOW_MAX ? len : SHOW_MAX;

	if (strnvisx(esc, sizeof(esc), data, n,
	    VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL) < 0)
		esc[0] = '\0';
	if (sent != 0)
		fprintf(stderr, "%s%s%s (%.2f ms)\n", what, esc,
		    n < len ? "..." : "", (double)(now_ns() - sent) / 1e6);
	else
		fprintf(stderr, "%s%s%s\n", what, esc, n < len ? "..." : "");
}

/* -- the ring of messages that await their replies -- */

static void
pending_push(size_t len)
{
	struct pending	*v;
	size_t		 i, cap;

	if (c.pn == c.pcap) {
		cap = c.pcap ? c.pcap * 2 : 64;
		if ((v = reallocarray(NULL, cap, sizeof(*v))) == NULL)
			ctl_die(EX_OSERR, "out of memory");
		for (i = 0; i < c.pn; i++)
			v[i] = c.pv[(c.phead + i) % c.pcap];
		free(c.pv);
		c.pv = v;
		c.pcap = cap;
		c.phead = 0;
	}
	c.pv[(c.phead + c.pn) % c.pcap].len = len;
	c.pv[(c.phead + c.pn) % c.pcap].t = now_ns();
	c.pn++;
}

static struct pending *
pending_at(size_t i)
{
	return &c.pv[(c.phead + i) % c.pcap];
}

static struct pending
pending_pop(void)
{
	struct pending	 p = c.pv[c.phead];

	c.phead = (c.phead + 1) % c.pcap;
	c.pn--;
	return p;
}

static bool
owed(void)
{
	return c.greet_owed || c.pn > 0;
}

/* -- messages: from the command line or standard input -- */

static bool
stdin_done(void)
{
	return !c.from_stdin || (c.in_eof && c.inb_off == c.inb.len);
}

static bool
sources_done(void)
{
	return c.left == 0 && c.argi == c.argc && stdin_done();
}

/* Finds the next message; false when none is ready yet. */
static bool
next_message(void)
{
	char	*start, *nl;
	size_t	 avail;

	if (c.argi < c.argc) {
		c.cur = c.argv[c.argi];
		c.curlen = c.curtake = strlen(c.cur);
		c.left = ctl_opt.count;
		return true;
	}
	if (!c.from_stdin)
		return false;
	avail = c.inb.len - c.inb_off;
	start = avail > 0 ? c.inb.data + c.inb_off : NULL;
	if (avail > 0 && (nl = memchr(start, '\n', avail)) != NULL) {
		c.curlen = (size_t)(nl - start);
		c.curtake = c.curlen + 1;
	} else if (c.in_eof && avail > 0) {
		c.curlen = c.curtake = avail;
	} else {
		if (avail > LINE_MAX_BYTES)
			ctl_die(EX_DATAERR, "standard input: line %llu is "
			    "longer than %d bytes", c.lineno + 1,
			    LINE_MAX_BYTES);
		c.need_input = !c.in_eof;
		return false;
	}
	c.lineno++;
	if (c.curlen == 0 && c.raw && !c.dgram)
		ctl_die(EX_DATAERR, "standard input: line %llu is empty; raw "
		    "framing cannot send an empty message", c.lineno);
	c.cur = start;
	c.left = ctl_opt.count;
	return true;
}

static void
message_done(void)
{
	if (c.argi < c.argc)
		c.argi++;
	else
		c.inb_off += c.curtake;
}

static void
queue_message(const char *msg, size_t len)
{
	size_t	 before = c.out.len;

	if (c.peer_closed)
		ctl_die(EX_PROTOCOL, "connection closed by the server");
	if (!owed())
		c.deadline = now_ns() + (uint64_t)ctl_opt.timeout_ms * 1000000;
	if (buf_append(&c.out, msg, len) < 0 ||
	    (!c.raw && buf_append(&c.out, "\n", 1) < 0))
		ctl_die(EX_OSERR, "out of memory");
	pending_push(c.out.len - before);
	if (ctl_opt.verbose)
		show("> ", msg, len, 0);
}

static bool
room(void)
{
	if (c.dgram)
		return c.pn < DGRAM_WINDOW;
	if (c.raw)	/* a chunk is a reply: one at a time, greeting first */
		return !owed();
	return c.out.len - c.out_off < QUEUE_HIGH;
}

/* Queues messages while there is room. */
static void
fill(void)
{
	while (room()) {
		if (c.left == 0 && !next_message())
			return;
		queue_message(c.cur, c.curlen);
		if (--c.left == 0)
			message_done();
	}
}

static void
read_stdin(void)
{
	ssize_t	 n;

	if (c.inb_off > 0) {
		memmove(c.inb.data, c.inb.data + c.inb_off,
		    c.inb.len - c.inb_off);
		c.inb.len -= c.inb_off;
		c.inb_off = 0;
	}
	if (buf_reserve(&c.inb, 65536) < 0)
		ctl_die(EX_OSERR, "out of memory");
	n = read(STDIN_FILENO, c.inb.data + c.inb.len, 65536);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		ctl_die(EX_IOERR, "standard input: %s", strerror(errno));
	}
	c.need_input = false;
	if (n == 0) {
		c.in_eof = true;
		if (c.prompted && !ctl_opt.quiet)
			fputc('\n', stderr);	/* after the ^D */
	} else
		c.inb.len += (size_t)n;
	c.prompted = false;
}

/* -- replies -- */

static void
print_reply(const char *data, size_t len)
{
	bool	 nl = true;

	if (ctl_opt.quiet)
		return;
	if (!c.raw) {
		if (len > 0 && data[len - 1] == '\n')
			len--;
		if (len > 0 && data[len - 1] == '\r')
			len--;
	} else if (len > 0 && data[len - 1] == '\n')
		nl = false;
	if (fwrite(data, 1, len, stdout) != len ||
	    (nl && putchar('\n') == EOF))
		ctl_die(EX_IOERR, "standard output: %s", strerror(errno));
}

/* One reply, or the greeting, has arrived. */
static void
on_reply(const char *data, size_t len)
{
	struct pending	 p;

	c.got_reply = true;
	c.deadline = now_ns() + (uint64_t)ctl_opt.timeout_ms * 1000000;
	if (c.greet_owed) {
		c.greet_owed = false;
		if (ctl_opt.verbose)
			show("greeting: ", data, len, 0);
		return;
	}
	if (c.pn == 0 || (c.dgram && c.psent == 0)) {
		/* more than was asked for: show it anyway */
		if (ctl_opt.verbose)
			show("< ", data, len, 0);
		print_reply(data, len);
		return;
	}
	p = pending_pop();
	if (c.dgram) {
		memmove(c.out.data, c.out.data + p.len, c.out.len - p.len);
		c.out.len -= p.len;
		c.out_off -= p.len;
		c.psent--;
	}
	if (ctl_opt.verbose)
		show("< ", data, len, p.t);
	print_reply(data, len);
}

static void
lost_connection(int err)
{
	if (owed())
		ctl_die(EX_PROTOCOL, "connection closed before the %s%s%s",
		    c.greet_owed ? "greeting" : "reply", err ? ": " : "",
		    err ? strerror(err) : "");
	ctl_die(EX_PROTOCOL, "connection closed by the server%s%s",
	    err ? ": " : "", err ? strerror(err) : "");
}

/* A datagram came back refused: try the next address, or give up. */
static void
refused(void)
{
	if (!c.got_reply && ctl_next_address(&c.peer)) {
		c.out_off = 0;
		c.psent = 0;
		return;
	}
	ctl_die(EX_UNAVAILABLE, "send to %s: %s", c.peer.name,
	    strerror(ECONNREFUSED));
}

static void
send_out(void)
{
	struct pending	*p;
	ssize_t		 n;

	if (!c.dgram) {
		n = send(c.peer.fd, c.out.data + c.out_off,
		    c.out.len - c.out_off, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			lost_connection(errno);
		}
		c.out_off += (size_t)n;
		if (c.out_off == c.out.len)
			c.out_off = c.out.len = 0;
		return;
	}
	while (c.psent < c.pn) {
		p = pending_at(c.psent);
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
				ctl_die(EX_DATAERR, "a message of %zu bytes "
				    "is too long for a datagram", p->len);
			ctl_die(EX_UNAVAILABLE, "send to %s: %s",
			    c.peer.name, strerror(errno));
		}
		p->t = now_ns();
		c.out_off += p->len;
		c.psent++;
	}
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
			ctl_die(EX_UNAVAILABLE, "receive from %s: %s",
			    c.peer.name, strerror(errno));
		}
		on_reply(dgram, (size_t)n);
		return;
	}
	if (buf_reserve(&c.rin, 65536) < 0)
		ctl_die(EX_OSERR, "out of memory");
	n = recv(c.peer.fd, c.rin.data + c.rin.len, 65536, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		lost_connection(errno);
	}
	if (n == 0) {
		c.peer_closed = true;
		if (owed())
			lost_connection(0);
		if (sources_done())
			return;
		if (!c.from_stdin || c.interactive || c.argi < c.argc ||
		    c.left > 0)
			lost_connection(0);
		/* wait, within the timeout, to see whether stdin had more */
		c.deadline = now_ns() + (uint64_t)ctl_opt.timeout_ms * 1000000;
		return;
	}
	if (c.raw) {
		on_reply(c.rin.data, (size_t)n);
		return;
	}
	c.rin.len += (size_t)n;
	while ((nl = memchr(c.rin.data + off, '\n', c.rin.len - off)) !=
	    NULL) {
		on_reply(c.rin.data + off, (size_t)(nl - (c.rin.data + off)));
		off = (size_t)(nl - c.rin.data) + 1;
	}
	memmove(c.rin.data, c.rin.data + off, c.rin.len - off);
	c.rin.len -= off;
	if (c.rin.len > LINE_MAX_BYTES)
		ctl_die(EX_PROTOCOL, "reply longer than %d bytes",
		    LINE_MAX_BYTES);
}

static bool
finished(void)
{
	if (!sources_done() || owed())
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
		if (c.interactive && !c.prompted && !owed() && c.need_input &&
		    !c.in_eof && !ctl_opt.quiet) {
			fflush(stdout);
			fputs(PROMPT, stderr);
			c.prompted = true;
		}
		pfd[0].fd = c.peer_closed ? -1 : c.peer.fd;
		pfd[0].events = POLLIN;
		if (c.dgram ? c.psent < c.pn : c.out_off < c.out.len)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = c.need_input && !c.in_eof ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;

		wait = -1;	/* the clock runs only while a reply is owed */
		if (owed() || c.peer_closed) {
			uint64_t now = now_ns();

			if (now >= c.deadline) {
				if (c.peer_closed)
					lost_connection(0);
				ctl_die(EX_TEMPFAIL, "timed out waiting for "
				    "the %s from %s", c.greet_owed ?
				    "greeting" : "reply", c.peer.name);
			}
			wait = (int)((c.deadline - now + 999999) / 1000000);
		}
		if (fflush(stdout) == EOF)
			ctl_die(EX_IOERR, "standard output: %s",
			    strerror(errno));
		r = poll(pfd, 2, wait);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			ctl_die(EX_OSERR, "poll: %s", strerror(errno));
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			read_stdin();
		if (pfd[0].revents & POLLOUT)
			send_out();
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			receive();
	}
}

int
main(int argc, char *argv[])
{
	struct conf		*conf = NULL;
	struct ctl_target	 t;

	ctl_parse_options(argc, argv);
	c.argv = argv + optind;
	c.argc = argc - optind;

	/* the command line may name the server completely */
	if (ctl_opt.conf_path != NULL || (ctl_opt.unix_path == NULL &&
	    (ctl_opt.host == NULL || ctl_opt.port == 0)))
		conf = ctl_read_config();
	ctl_choose_target(conf, &t);
	c.dgram = t.type == SOCK_DGRAM;
	c.raw = ctl_opt.raw || (conf != NULL && conf->framing == FRAME_RAW);
	c.greet_owed = !c.dgram && (ctl_opt.greeting ||
	    (conf != NULL && conf->greeting != NULL));
	/* the checks on arguments again, now that the framing is known */
	if (c.raw && !c.dgram)
		for (c.argi = 0; c.argi < c.argc; c.argi++)
			if (c.argv[c.argi][0] == '\0')
				ctl_usage_error("message %d is empty; raw framing "
				    "cannot send an empty message", c.argi + 1);
	c.argi = 0;
	c.from_stdin = c.argc == 0;
	c.interactive = c.from_stdin && isatty(STDIN_FILENO);
	if (ctl_opt.verbose)
		setvbuf(stderr, NULL, _IOLBF, 0);

	ctl_connect(&t, ctl_opt.timeout_ms, &c.peer);
	c.deadline = now_ns() + (uint64_t)ctl_opt.timeout_ms * 1000000;
	run();

	if (fflush(stdout) == EOF)
		ctl_die(EX_IOERR, "standard output: %s", strerror(errno));
	ctl_close(&c.peer);
	buf_free(&c.out);
	buf_free(&c.inb);
	buf_free(&c.rin);
	free(c.pv);
	config_free(conf);
	return 0;
}
